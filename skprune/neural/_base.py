"""Activations, their derivatives and the losses of the multilayer perceptron.

Each registry maps a name to a small function. Activations work in place on
the pre-activations; derivatives take the activated values ``Z`` and scale the
back-propagated signal ``delta`` in place. Losses return the weighted mean loss
of a batch, and every (output activation, loss) pair used here is a canonical
link, so the derivative of the loss with respect to the output pre-activation
is always ``y_pred - y_true``.
"""

import numpy as np
from scipy.special import expit, xlogy

from ..utils._docstrings import fill_doc


def _identity(Z):
    return Z


def _logistic(Z):
    return expit(Z, out=Z)


def _tanh(Z):
    return np.tanh(Z, out=Z)


def _relu(Z):
    return np.maximum(Z, 0, out=Z)


def _exp(Z):
    return np.exp(Z, out=Z)


def _softmax(Z):
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    return Z


ACTIVATIONS = {
    "identity": _identity,
    "logistic": _logistic,
    "tanh": _tanh,
    "relu": _relu,
    "exp": _exp,
    "softmax": _softmax,
}


def _identity_derivative(Z, delta):
    return delta


def _logistic_derivative(Z, delta):
    delta *= Z
    delta *= 1 - Z
    return delta


def _tanh_derivative(Z, delta):
    delta *= 1 - Z**2
    return delta


def _relu_derivative(Z, delta):
    delta *= Z > 0
    return delta


DERIVATIVES = {
    "identity": _identity_derivative,
    "logistic": _logistic_derivative,
    "tanh": _tanh_derivative,
    "relu": _relu_derivative,
}


# The end of every loss's docstring: all take the same sample weights.
_WEIGHTS_AND_LOSS_DOC = """
sample_weight : ndarray of shape (n_samples,), default=None
    Sample weights.

Returns
-------
loss : float
"""


@fill_doc(weights_and_loss=_WEIGHTS_AND_LOSS_DOC)
def squared_error(y_true, y_pred, sample_weight=None):
    """Half the mean squared error, averaged over samples and outputs.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples, n_outputs)
        Target values.
    y_pred : ndarray of shape (n_samples, n_outputs)
        Predicted values.
    {weights_and_loss}
    """
    residual = y_true - y_pred
    residual **= 2
    return 0.5 * np.average(residual, weights=sample_weight, axis=0).mean()


@fill_doc(weights_and_loss=_WEIGHTS_AND_LOSS_DOC)
def half_poisson_deviance(y_true, y_pred, sample_weight=None):
    """Half the Poisson deviance, summed over outputs.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples, n_outputs)
        Non-negative target values.
    y_pred : ndarray of shape (n_samples, n_outputs)
        Positive predicted means.
    {weights_and_loss}
    """
    deviance = xlogy(y_true, y_true / y_pred) - y_true + y_pred
    return np.average(deviance, weights=sample_weight, axis=0).sum()


def _clipped_log(prob):
    eps = np.finfo(prob.dtype).eps
    return np.log(np.clip(prob, eps, 1 - eps))


@fill_doc(weights_and_loss=_WEIGHTS_AND_LOSS_DOC)
def categorical_log_loss(y_true, y_prob, sample_weight=None):
    """Cross-entropy of softmax probabilities against one-hot or soft labels.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples, n_classes)
        One-hot (boolean) or soft labels.
    y_prob : ndarray of shape (n_samples, n_classes)
        Predicted probabilities.
    {weights_and_loss}
    """
    if y_true.dtype == bool and np.all(y_true.sum(axis=1) == 1):
        per_sample = _clipped_log(y_prob[y_true])
    else:
        eps = np.finfo(y_prob.dtype).eps
        per_sample = xlogy(y_true, np.clip(y_prob, eps, 1 - eps)).sum(axis=1)
    return -np.average(per_sample, weights=sample_weight)


@fill_doc(weights_and_loss=_WEIGHTS_AND_LOSS_DOC)
def binary_log_loss(y_true, y_prob, sample_weight=None):
    """Binary cross-entropy of each output, summed over outputs.

    Serves binary and multilabel classification, where each output column is
    an independent logistic unit.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples, n_outputs)
        Boolean or soft labels.
    y_prob : ndarray of shape (n_samples, n_outputs)
        Predicted probabilities of the positive class of each output.
    {weights_and_loss}
    """
    if y_true.dtype == bool:
        per_entry = _clipped_log(np.where(y_true, y_prob, 1 - y_prob))
    else:
        eps = np.finfo(y_prob.dtype).eps
        y_prob = np.clip(y_prob, eps, 1 - eps)
        per_entry = xlogy(y_true, y_prob) + xlogy(1 - y_true, 1 - y_prob)
    return -np.average(per_entry, weights=sample_weight, axis=0).sum()


LOSSES = {
    "squared_error": squared_error,
    "poisson": half_poisson_deviance,
    "log_loss": categorical_log_loss,
    "binary_log_loss": binary_log_loss,
}
