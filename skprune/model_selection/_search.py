"""Cross-validation along a pruning path, shared by trees and neural networks.

A CV estimator of skprune fits one path per fold, scores every point of a
grid of the pruning knob on the held-out part, and chooses a point from the
mean scores. These helpers split the data, summarise the scores in the
``cv_results_`` layout of :class:`~sklearn.model_selection.GridSearchCV` and
make the choice.
"""

from numbers import Integral

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, indexable

from ..utils._sklearn import scorer_accepts_sample_weight


def check_grid(values, name, *, accepted, valid, valid_text, min_points):
    """Validate a user-given grid of a pruning knob; return it sorted and distinct.

    Parameters
    ----------
    values : array-like
        The grid as given.
    name : str
        Name of the parameter, for error messages.
    accepted : str
        What the parameter accepts, for the error on non-numbers.
    valid : callable
        ``valid(grid)`` is a boolean array, True where a value is allowed.
    valid_text : str
        What ``valid`` allows, for the error message.
    min_points : int
        Least number of distinct values.

    Returns
    -------
    grid : ndarray of shape (n_points,)
        Increasing, distinct values.
    """
    try:
        grid = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be {accepted}; got {values!r}.") from exc
    if grid.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {grid.shape}.")
    if not np.all(valid(grid)):
        raise ValueError(f"{name} must hold {valid_text}, got {grid.tolist()}.")
    grid = np.unique(grid)
    if grid.shape[0] < min_points:
        raise ValueError(
            f"{name} must hold at least {min_points} distinct value(s) to choose "
            f"from, got {grid.shape[0]}."
        )
    return grid


def select_index(mean_scores, sem_scores, *, one_standard_error):
    """Index of the chosen point of a grid ordered from dense to sparse.

    Parameters
    ----------
    mean_scores : ndarray of shape (n_points,)
        Mean cross-validated scores, higher is better.
    sem_scores : ndarray of shape (n_points,)
        Their standard errors.
    one_standard_error : bool
        If True, the last point (the most pruned) whose mean score is within
        one standard error of the best mean score, Breiman's rule; otherwise
        the best mean score (the first of ties, so the least pruned).

    Returns
    -------
    index : int
    """
    best = int(np.argmax(mean_scores))
    if not one_standard_error:
        return best
    threshold = mean_scores[best] - sem_scores[best]
    return int(np.flatnonzero(mean_scores >= threshold).max())


def check_folds_per_class(y, cv, n_splits):
    """Raise a clear error when a class has fewer samples than folds."""
    if y.ndim != 1 or not isinstance(cv, (Integral, type(None))):
        return
    labels, counts = np.unique(y, return_counts=True)
    if counts.min() < n_splits:
        label = labels[np.argmin(counts)].tolist()
        raise ValueError(
            f"The class {label!r} has only {int(counts.min())} sample(s), fewer than the "
            f"{n_splits} folds of cv={cv!r}: every fold must see every class. Use "
            "fewer folds or merge rare classes."
        )


def weights_of(sample_weight, indices):
    """``fit``/scorer keyword arguments holding the weights of ``indices``."""
    if sample_weight is None:
        return {}
    return {"sample_weight": sample_weight[indices]}


def split_for_cv(estimator, X, y, sample_weight, groups):
    """Indexable data, the folds, the scorer and whether scores are weighted.

    ``estimator`` is the CV estimator; its ``cv`` and ``scoring`` are used.

    Returns
    -------
    X, y, sample_weight : indexable arrays
    folds : list of (train, test) index arrays
    scorer : callable
    weighted_scores : bool
        Whether ``sample_weight`` is passed to the scorer, as
        :class:`~sklearn.model_selection.GridSearchCV` does when the scorer
        accepts it.
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            "is None."
        )
    X, y, sample_weight = indexable(
        check_array(X, accept_sparse="csr", dtype=None, ensure_all_finite=False),
        np.asarray(y),
        None if sample_weight is None else np.asarray(sample_weight),
    )
    classifier = is_classifier(estimator)
    if classifier:
        check_classification_targets(y)
    cv = check_cv(estimator.cv, y, classifier=classifier)
    if classifier:
        check_folds_per_class(y, estimator.cv, cv.get_n_splits(X, y, groups))
    scorer = check_scoring(estimator, scoring=estimator.scoring)
    weighted_scores = sample_weight is not None and scorer_accepts_sample_weight(scorer)
    return X, y, sample_weight, list(cv.split(X, y, groups)), scorer, weighted_scores


def score_results(param_name, grid, test_scores, train_scores=None):
    """Per-point scores in the layout of ``GridSearchCV.cv_results_``.

    Parameters
    ----------
    param_name : str
        The knob; the grid is stored under ``"param_" + param_name``.
    grid : ndarray of shape (n_points,)
        Values of the knob.
    test_scores : ndarray of shape (n_splits, n_points)
        Held-out scores of each fold.
    train_scores : ndarray of shape (n_splits, n_points), default=None
        Training scores of each fold, if computed.

    Returns
    -------
    cv_results : dict of ndarray
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score`` (as
        in GridSearchCV), ``sem_test_score`` (sample standard deviation over
        the square root of the number of folds) and the train scores' split,
        mean and std when given.
    """
    n_splits = test_scores.shape[0]
    cv_results = {f"param_{param_name}": np.asarray(grid)}
    for kind, scores in (("test", test_scores), ("train", train_scores)):
        if scores is None:
            continue
        for fold, fold_scores in enumerate(scores):
            cv_results[f"split{fold}_{kind}_score"] = fold_scores
        cv_results[f"mean_{kind}_score"] = scores.mean(axis=0)
        cv_results[f"std_{kind}_score"] = scores.std(axis=0)
    cv_results["sem_test_score"] = (
        test_scores.std(axis=0, ddof=1) / np.sqrt(n_splits)
        if n_splits > 1
        else np.zeros(test_scores.shape[1])
    )
    return cv_results
