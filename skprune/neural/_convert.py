"""Conversions between scikit-learn's perceptrons and skprune's.

:func:`from_sklearn` turns a fitted ``MLPClassifier`` or ``MLPRegressor`` into
a fitted :class:`PrunableMLPClassifier` or :class:`PrunableMLPRegressor` with
the same weights and no pruned weight, ready for ``prune``.
:func:`to_sklearn` turns any fitted skprune perceptron, pruned or not, into a
fitted scikit-learn perceptron whose dense weights hold the zeros of the
pruned ones; hidden units removed by neuron pruning are absent from it too.

Both copy every constructor parameter the two families share, and the fitted
state that prediction and further training read: weights, layer counts,
output activation, classes and their encoder, iteration and sample counts,
loss and validation history, and the feature names. Optimizer state (momenta,
Adam's moment estimates) is not carried over: the next ``fit`` or
``partial_fit`` starts a fresh optimizer from the converted weights.
"""

import copy

import numpy as np
from sklearn.base import is_classifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.validation import check_is_fitted

from ._multilayer_perceptron import (
    BasePrunableMLP,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
)

# Fitted attributes that mean the same on both sides; each is copied when the
# source has it (the stochastic solvers' histories are absent after lbfgs).
_SHARED_FITTED_ATTRIBUTES = (
    "n_layers_",
    "n_outputs_",
    "out_activation_",
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "n_features_in_",
    "feature_names_in_",
    "classes_",
    "_label_binarizer",
    "_no_improvement_count",
)


def _check_fitted_sklearn_mlp(estimator, name="estimator"):
    if not isinstance(estimator, (MLPClassifier, MLPRegressor)):
        raise TypeError(
            f"{name} must be a scikit-learn MLPClassifier or MLPRegressor, got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator, "coefs_")


def _shared_params(source, target_cls):
    """Constructor parameters of ``source`` that ``target_cls`` also takes."""
    names = target_cls._get_param_names()
    return {
        name: value
        for name, value in source.get_params(deep=False).items()
        if name in names
    }


def _copy_fitted_state(source, target):
    """Copy the shared fitted attributes and the weights of ``source``."""
    for name in _SHARED_FITTED_ATTRIBUTES:
        if hasattr(source, name):
            value = copy.deepcopy(getattr(source, name))
            setattr(target, name, _as_python_numbers(value))
    target.coefs_ = [np.array(coef) for coef in source.coefs_]
    target.intercepts_ = [np.array(intercept) for intercept in source.intercepts_]
    # Early stopping restores these when no later epoch improves.
    target._best_coefs = [coef.copy() for coef in target.coefs_]
    target._best_intercepts = [b.copy() for b in target.intercepts_]
    return target


def _as_python_numbers(value):
    """NumPy scalars, alone or in a list, as Python numbers; anything else as is.

    scikit-learn records its losses and scores as NumPy scalars, which skops
    stores one file each.
    """
    if isinstance(value, list):
        return [_as_python_numbers(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def copy_fit_to_skprune(model, estimator):
    """Make ``model`` the fitted network of ``estimator``, nothing pruned.

    ``model`` is an unfitted skprune perceptron whose parameters already match
    ``estimator``'s; ``estimator`` is a fitted scikit-learn perceptron and is
    not modified.

    Returns
    -------
    model : BasePrunableMLP
        ``model``, fitted.
    """
    _copy_fitted_state(estimator, model)
    model.masks_ = [np.ones_like(coef, dtype=bool) for coef in model.coefs_]
    model.intercept_masks_ = [np.ones_like(b, dtype=bool) for b in model.intercepts_]
    model._prunable_coef_layers()  # fail early on bad prunable_layers
    model._reset_training_state()
    return model


def from_sklearn(estimator, **params):
    """Convert a fitted scikit-learn perceptron into a prunable skprune one.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted scikit-learn perceptron. It is not modified.
    **params
        Parameters of the new estimator that override those copied from
        ``estimator``, typically ``prunable_layers``. The layer sizes cannot
        change.

    Returns
    -------
    model : PrunableMLPClassifier or PrunableMLPRegressor
        A fitted copy of ``estimator`` with all masks True: it predicts like
        ``estimator``, can be pruned with its ``prune`` method and trained
        further with ``warm_start=True`` or ``partial_fit`` (with a fresh
        optimizer).

    Raises
    ------
    TypeError
        If ``estimator`` is not a scikit-learn ``MLPClassifier`` or
        ``MLPRegressor``.
    NotFittedError
        If ``estimator`` is not fitted.

    See Also
    --------
    to_sklearn : The conversion the other way.
    MLPPruner : Prune a scikit-learn perceptron in one ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skprune.neural import from_sklearn
    >>> X, y = load_iris(return_X_y=True)
    >>> mlp = MLPClassifier(solver="lbfgs", max_iter=500, random_state=0).fit(X, y)
    >>> model = from_sklearn(mlp)
    >>> bool((model.predict(X) == mlp.predict(X)).all())
    True
    >>> round(model.prune(amount=0.5).sparsity_, 2)
    0.5
    """
    _check_fitted_sklearn_mlp(estimator)
    target_cls = (
        PrunableMLPClassifier if is_classifier(estimator) else PrunableMLPRegressor
    )
    if "hidden_layer_sizes" in params:
        raise ValueError(
            "hidden_layer_sizes cannot be overridden: the layer sizes are "
            "those of the fitted estimator."
        )
    model = target_cls(**{**_shared_params(estimator, target_cls), **params})
    model._validate_params()
    return copy_fit_to_skprune(model, estimator)


def _hidden_sizes_as_stored(model):
    """The ``hidden_layer_sizes`` that match the stored weight matrices."""
    stored = [coef.shape[1] for coef in model.coefs_[:-1]]
    declared = model.hidden_layer_sizes
    if not hasattr(declared, "__iter__"):
        declared = [declared]
    if [int(size) for size in declared] == stored:
        return model.hidden_layer_sizes
    return tuple(stored)


def _skprune_network(model):
    """``model``, or the network it holds when it wraps one (an :class:`MLPPruner`)."""
    held = getattr(model, "_held_network", None)
    return model if held is None else held()


def to_sklearn(model):
    """Convert a fitted skprune perceptron into a scikit-learn one.

    Parameters
    ----------
    model : BasePrunableMLP or MLPPruner
        A fitted :class:`PrunableMLPClassifier`, :class:`PrunableMLPRegressor`,
        :class:`PrunedMLPClassifier`, :class:`PrunedMLPRegressor`, or a fitted
        :class:`MLPPruner` (its ``pruned_estimator_`` is converted). It is not
        modified.

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor
        A fitted scikit-learn perceptron with dense weights, pruned weights
        being zeros, that predicts like ``model``. When hidden units were
        removed by neuron pruning, its ``hidden_layer_sizes`` are the widths
        that remain. Parameters that scikit-learn does not have
        (``prunable_layers`` and the pruning parameters) are dropped.

    Raises
    ------
    TypeError
        If ``model`` is not a skprune perceptron.
    NotFittedError
        If ``model`` is not fitted.
    ValueError
        If a parameter of ``model`` takes a value that the installed
        scikit-learn does not support.

    See Also
    --------
    from_sklearn : The conversion the other way.

    Notes
    -----
    With several outputs and the squared error, skprune trains with the
    gradient of the loss averaged over outputs while scikit-learn uses the sum
    (see :class:`PrunableMLPRegressor`), so the converted network predicts
    identically but further training of it follows scikit-learn's rule. The
    pruned weights are ordinary zeros for scikit-learn: training it further
    makes them nonzero again.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skprune.neural import PrunedMLPClassifier, to_sklearn
    >>> X, y = load_iris(return_X_y=True)
    >>> model = PrunedMLPClassifier(hidden_layer_sizes=(16,), sparsity=0.5,
    ...                             solver="lbfgs", max_iter=200,
    ...                             random_state=0).fit(X, y)
    >>> mlp = to_sklearn(model)
    >>> bool((mlp.predict(X) == model.predict(X)).all())
    True
    >>> int((mlp.coefs_[0] == 0).sum()), mlp.coefs_[0].size
    (32, 64)
    """
    model = _skprune_network(model)
    if not isinstance(model, BasePrunableMLP):
        raise TypeError(
            "model must be a skprune perceptron (PrunableMLPClassifier, "
            "PrunableMLPRegressor, PrunedMLPClassifier, PrunedMLPRegressor) or "
            f"an MLPPruner, got {type(model).__name__}."
        )
    check_is_fitted(model, "coefs_")
    target_cls = MLPClassifier if is_classifier(model) else MLPRegressor
    return copy_fit_to_sklearn(target_cls(), model)


def copy_fit_to_sklearn(estimator, model):
    """Make the scikit-learn perceptron ``estimator`` the network of ``model``.

    ``estimator`` takes the shared parameters of the fitted skprune perceptron
    ``model`` and its fitted state; ``model`` is not modified.

    Returns
    -------
    estimator : MLPClassifier or MLPRegressor
        ``estimator``, fitted.
    """
    params = _shared_params(model, type(estimator))
    params["hidden_layer_sizes"] = _hidden_sizes_as_stored(model)
    estimator.set_params(**params)
    try:
        estimator._validate_params()
    except ValueError as error:
        raise ValueError(
            f"{type(model).__name__} cannot be converted to scikit-learn's "
            f"{type(estimator).__name__}: {error}"
        ) from error
    _copy_fitted_state(model, estimator)
    # Pruned entries are zero already; multiplying makes it explicit.
    for coef, mask in zip(estimator.coefs_, model.masks_):
        coef *= mask
    return estimator
