"""Scores of many candidate ensembles at once, from their predictions.

A candidate is scored from its predictions on samples its trees were not
grown on (a test fold, or out-of-bag samples), not through an estimator, so
that hundreds of pruned ensembles are scored without building them. Every
function takes the targets of shape (n_samples,), the predictions of shape
(n_candidates, n_samples[, n_classes]) and weights broadcastable to
(n_candidates, n_samples): a sample that a candidate cannot predict (no
out-of-bag tree) has weight zero there.
Larger is better, as with scikit-learn's scorers.
"""

import numpy as np


def _weighted_mean(values, weights):
    total = weights.sum(axis=-1)
    return (values * weights).sum(axis=-1) / np.where(total > 0, total, 1.0)


def most_probable_class(proba):
    """``proba.argmax(axis=-1)``, first maximum on ties.

    A loop over the few classes is much faster than numpy's ``argmax`` along
    a short last axis, for hundreds of candidates at once.
    """
    best = proba[..., 0]
    predicted = np.zeros(best.shape, dtype=np.intp)
    for label in range(1, proba.shape[-1]):
        better = proba[..., label] > best
        predicted[better] = label
        best = np.where(better, proba[..., label], best)
    return predicted


def accuracy(y, proba, weights):
    """Weighted fraction of samples whose most probable class is right."""
    return _weighted_mean(most_probable_class(proba) == y, weights)


def balanced_accuracy(y, proba, weights):
    """Mean over the classes present of the weighted recall."""
    correct = most_probable_class(proba) == y
    recalls = []
    for label in np.unique(y):
        of_class = weights * (y == label)
        recalls.append(_weighted_mean(correct, of_class))
    return np.mean(recalls, axis=0)


def neg_log_loss(y, proba, weights):
    """Minus the weighted mean log-probability of the true class."""
    true_proba = np.take_along_axis(proba, y[None, :, None], axis=-1)[..., 0]
    eps = np.finfo(proba.dtype).eps
    return _weighted_mean(np.log(np.clip(true_proba, eps, 1.0)), weights)


def r2(y, predicted, weights):
    """Coefficient of determination, with weights."""
    weights = np.broadcast_to(weights, predicted.shape)
    mean = _weighted_mean(y, weights)[..., None]
    residual = ((y - predicted) ** 2 * weights).sum(axis=-1)
    total = ((y - mean) ** 2 * weights).sum(axis=-1)
    return 1.0 - residual / np.where(total > 0, total, 1.0)


def neg_mean_squared_error(y, predicted, weights):
    """Minus the weighted mean squared error."""
    return -_weighted_mean((y - predicted) ** 2, weights)


def neg_mean_absolute_error(y, predicted, weights):
    """Minus the weighted mean absolute error."""
    return -_weighted_mean(np.abs(y - predicted), weights)


CLASSIFICATION_SCORES = {
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "neg_log_loss": neg_log_loss,
}
REGRESSION_SCORES = {
    "r2": r2,
    "neg_mean_squared_error": neg_mean_squared_error,
    "neg_mean_absolute_error": neg_mean_absolute_error,
}


def score_function(scoring, classifier):
    """The score named ``scoring``, or the default of the task if None.

    Raises
    ------
    ValueError
        If the score does not apply to the task.
    """
    scores = CLASSIFICATION_SCORES if classifier else REGRESSION_SCORES
    if scoring is None:
        return accuracy if classifier else r2
    if scoring not in scores:
        raise ValueError(
            f"scoring={scoring!r} does not apply to a "
            f"{'classifier' if classifier else 'regressor'}; use one of "
            f"{sorted(scores)}."
        )
    return scores[scoring]
