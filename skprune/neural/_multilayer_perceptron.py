"""Multilayer perceptrons whose weights can be pruned.

:class:`PrunableMLPClassifier` and :class:`PrunableMLPRegressor` take the
parameters of scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` with the
same meanings and defaults, train with the same solvers, initialisation,
learning-rate schedules and stopping rules, and add a boolean mask per weight
matrix. A pruned weight is exactly zero and stays so through every later
``fit(warm_start=True)``, ``partial_fit`` and solver step, because its gradient
and its optimizer state are masked to zero. :meth:`BasePrunableMLP.prune`
removes weights, blocks or hidden units ranked by a criterion of
:mod:`skprune.neural._criteria` under a pattern of
:mod:`skprune.neural._patterns`.

Every dense forward pass goes through :func:`forward_pass`. The training step
is split into small methods that subclasses call or override:
:meth:`~BasePrunableMLP._forward_pass` (training) and
:meth:`~BasePrunableMLP._forward_pass_fast` (prediction),
:meth:`~BasePrunableMLP._output_loss_and_delta` (data term of the loss, the
place to add e.g. a distillation term), :meth:`~BasePrunableMLP._penalty` and
:meth:`~BasePrunableMLP._add_penalty_gradient` (the L2 term),
:meth:`~BasePrunableMLP._backprop`, :meth:`~BasePrunableMLP._mask_gradients`
and :meth:`~BasePrunableMLP._optimizer_step`. The solvers read their budget,
tolerance, resumption rule and random state from a :class:`TrainingSettings`
argument, so that fine-tuning passes its own without touching the
parameters.
"""

import contextlib
import numbers
import warnings
from abc import ABCMeta, abstractmethod
from itertools import pairwise
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.optimize
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d, gen_batches, shuffle
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..utils._estimators import DocLinkMixin
from ..utils._docstrings import (
    FIT_PARAMETERS_DOC,
    INPUT_DOC,
    PREDICT_LOG_PROBA_RETURNS_DOC,
    PREDICT_PROBA_RETURNS_DOC,
    RETURNS_SELF_DOC,
    fill_doc,
)
from ..utils._sklearn import (
    Interval,
    RealNotInt,
    StrOptions,
    _fit_context,
    check_sample_weight,
)
from ._base import ACTIVATIONS, DERIVATIVES, LOSSES
from ._blas import one_blas_thread
from ._criteria import PruningContext, PruningStep, resolve_criterion
from ._layerwise import LayerwiseRefit
from ._optimizers import AdamOptimizer, SGDOptimizer
from ._patterns import resolve_pattern

_STOCHASTIC_SOLVERS = ("sgd", "adam")


def _matmul(a, b, out=None):
    if sparse.issparse(a):
        product = a @ b
        if out is None:
            return product
        out[...] = product
        return out
    return np.dot(a, b, out=out)


def _as_numbers(values, name):
    """``values`` as a float64 array, or a ValueError naming ``name``."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers: {exc}") from exc


def _check_sample_weight(sample_weight, X):
    return check_sample_weight(sample_weight, X, dtype=X.dtype)


# Below this many multiply-adds per matrix product, training runs BLAS on one
# thread: threads gain little on such products, and when other processes keep
# the cores busy, waiting threads make training many times slower (40x was
# measured on a loaded 2-core machine for a digits-sized network).
SMALL_PRODUCT = 10_000_000


def _blas_threads_for(n_rows, layer_units):
    """One BLAS thread while training on products of ``n_rows`` rows is small."""
    largest = max(a * b for a, b in pairwise(layer_units)) * n_rows
    if largest < SMALL_PRODUCT:
        return one_blas_thread()
    return contextlib.nullcontext()


def forward_pass(X, coefs, intercepts, activation, activations=None):
    """Output pre-activation of a network: the one dense forward pass.

    Training, the dense prediction of the prunable perceptrons and the
    teacher of distillation all go through it; the pruned estimators predict
    through their inference plan instead.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    coefs, intercepts : list of ndarray
        The layers.
    activation : str
        Activation of the hidden layers, a key of ``ACTIVATIONS``.
    activations : list of length len(coefs) + 1, default=None
        If given, ``activations[i + 1]`` is set to the output of layer ``i``
        (the last one being the returned pre-activation), for backprop.

    Returns
    -------
    z : ndarray of shape (n_samples, n_outputs)
        The output layer before its activation.
    """
    hidden_activation = ACTIVATIONS[activation]
    last = len(coefs) - 1
    z = X
    for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
        z = _matmul(z, coef)
        z += intercept
        if i != last:
            hidden_activation(z)
        if activations is not None:
            activations[i + 1] = z
    return z


def _print_lbfgs_loss(intermediate_result):
    """Report an L-BFGS iteration's loss, as ``verbose`` asks."""
    print(f"L-BFGS iteration, loss = {intermediate_result.fun:.8f}")


class TrainingSettings(NamedTuple):
    """What one call of the solver reads besides the data.

    ``fit`` takes them from the estimator's parameters; fine-tuning after a
    pruning step passes its own (a fixed budget, resuming from the current
    weights, the random stream of the whole fit, and no ``ConvergenceWarning``
    for using up a budget that is meant to be used up). ``verbose`` prints a
    line per epoch (per iteration with lbfgs).
    """

    max_iter: int
    tol: float
    warm_start: bool
    random_state: object
    verbose: bool = False
    warn_convergence: bool = True


def hidden_layer_sizes_of(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of positive ints."""
    if not hasattr(hidden_layer_sizes, "__iter__"):
        hidden_layer_sizes = [hidden_layer_sizes]
    hidden_layer_sizes = list(hidden_layer_sizes)
    if not all(
        isinstance(size, numbers.Integral) and not isinstance(size, (bool, np.bool_))
        for size in hidden_layer_sizes
    ):
        raise TypeError(f"hidden_layer_sizes must hold ints, got {hidden_layer_sizes}.")
    if np.any(np.array(hidden_layer_sizes) <= 0):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden_layer_sizes}.")
    return hidden_layer_sizes


def prunable_layer_indices(prunable_layers, n_coef_layers):
    """Indices of the weight matrices that ``prunable_layers`` makes prunable.

    Parameters
    ----------
    prunable_layers : {"hidden", "all"} or array-like of int
        The estimator's parameter.
    n_coef_layers : int
        Number of weight matrices of the network.

    Returns
    -------
    layers : list of int
        Sorted, non-negative indices.
    """
    if isinstance(prunable_layers, str):
        if prunable_layers == "all":
            return list(range(n_coef_layers))
        return list(range(n_coef_layers - 1))
    layers = set()
    for layer in np.asarray(prunable_layers, dtype=object).ravel():
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, Integral):
            raise TypeError(
                "prunable_layers must be 'hidden', 'all' or a list of "
                f"integer layer indices, got {prunable_layers!r}."
            )
        if not -n_coef_layers <= layer < n_coef_layers:
            raise ValueError(
                f"prunable_layers contains {layer}, but the network has "
                f"{n_coef_layers} weight matrices (indices 0 to "
                f"{n_coef_layers - 1})."
            )
        layers.add(int(layer) % n_coef_layers)
    return sorted(layers)


class BasePrunableMLP(DocLinkMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the prunable multilayer perceptrons.

    Do not use it directly: use :class:`PrunableMLPClassifier` or
    :class:`PrunableMLPRegressor`.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 1, np.inf, closed="both"),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "prunable_layers": [StrOptions({"hidden", "all"}), "array-like"],
    }

    # ------------------------------------------------------------------
    # Layers, parameters and masks
    # ------------------------------------------------------------------

    def _parameters(self):
        """Coefficients followed by intercepts, the order the solvers use."""
        return self.coefs_ + self.intercepts_

    def _parameter_masks(self):
        """Masks aligned with :meth:`_parameters`."""
        return self.masks_ + self.intercept_masks_

    def _masked_parameter_indices(self):
        """Positions in :meth:`_parameters` of parameters with a pruned entry."""
        return [
            index
            for index, mask in enumerate(self._parameter_masks())
            if not mask.all()
        ]

    def _prunable_coef_layers(self):
        """Indices into ``coefs_`` of the weight matrices that may be pruned."""
        return prunable_layer_indices(self.prunable_layers, self.n_layers_ - 1)

    def _apply_masks(self):
        """Zero the pruned weights and intercepts and their optimizer state."""
        optimizer = getattr(self, "_optimizer", None)
        for index in self._masked_parameter_indices():
            param = self._parameters()[index]
            param *= self._parameter_masks()[index]
            if optimizer is not None:
                optimizer.zero_state(index, self._parameter_masks()[index])

    @property
    def sparsity_(self):
        """Fraction of the prunable weights that are pruned (zero)."""
        check_is_fitted(self, "masks_")
        layers = self._prunable_coef_layers()
        n_total = sum(self.masks_[layer].size for layer in layers)
        if n_total == 0:
            return 0.0
        n_pruned = sum(np.count_nonzero(~self.masks_[layer]) for layer in layers)
        return float(n_pruned / n_total)

    @property
    def layer_sparsity_(self):
        """Fraction of pruned weights of each weight matrix, prunable or not."""
        check_is_fitted(self, "masks_")
        return np.array([1.0 - mask.mean() for mask in self.masks_])

    # ------------------------------------------------------------------
    # Forward and backward passes
    # ------------------------------------------------------------------

    def _forward_pass(self, activations):
        """Fill ``activations[1:]`` from ``activations[0]``, for training.

        Parameters
        ----------
        activations : list of length n_layers
            ``activations[0]`` holds the input batch; the others are replaced.

        Returns
        -------
        activations : list of ndarray
        """
        z = forward_pass(
            activations[0], self.coefs_, self.intercepts_, self.activation, activations
        )
        self._see_output_preactivation(z)
        ACTIVATIONS[self.out_activation_](z)
        return activations

    def _see_output_preactivation(self, z):
        """Hook called by the training forward pass before the output activation.

        ``z`` is overwritten in place by the output activation right after;
        a subclass that needs it (e.g. to distil logits) must copy it.
        """

    def _forward_pass_fast(self, X, check_input=True):
        """Output of the network, without keeping the hidden activations.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        check_input : bool, default=True
            Whether to validate ``X``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_outputs)
        """
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        z = forward_pass(X, self.coefs_, self.intercepts_, self.activation)
        return ACTIVATIONS[self.out_activation_](z)

    def _loss_name(self):
        if self.loss == "log_loss" and self.out_activation_ == "logistic":
            return "binary_log_loss"
        return self.loss

    def _output_loss_and_delta(self, X, y, y_pred, sample_weight):
        """Data term of the loss and its derivative at the output layer.

        Override to add a term to the loss, e.g. distillation against a
        teacher evaluated on ``X``: add its weighted mean to ``loss`` and its
        per-sample derivative with respect to the output pre-activation to
        ``delta``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The batch.
        y : ndarray of shape (n_samples, n_outputs)
            Encoded targets of the batch.
        y_pred : ndarray of shape (n_samples, n_outputs)
            Output of the network on the batch.
        sample_weight : ndarray of shape (n_samples,) or None
            Weights of the batch's samples.

        Returns
        -------
        loss : float
            Weighted mean loss over the batch.
        delta : ndarray of shape (n_samples, n_outputs)
            Derivative of each sample's loss with respect to the output
            pre-activation, multiplied by the sample's weight (not divided by
            the sum of weights).
        """
        loss = LOSSES[self._loss_name()](y, y_pred, sample_weight)
        # Every output activation here is the canonical link of its loss.
        delta = np.subtract(y_pred, y, dtype=y_pred.dtype)
        if self.loss == "squared_error" and delta.shape[1] > 1:
            # The squared error is averaged over outputs, so is its gradient
            # (scikit-learn's MLPRegressor omits this factor).
            delta /= delta.shape[1]
        if sample_weight is not None:
            delta *= sample_weight[:, np.newaxis]
        return loss, delta

    def _penalty(self):
        """Penalty on the parameters, before division by the sum of weights.

        Returns
        -------
        penalty : float
        """
        squared_norm = 0.0
        for coef in self.coefs_:
            flat = coef.ravel()
            squared_norm += np.dot(flat, flat)
        return 0.5 * self.alpha * squared_norm

    def _add_penalty_gradient(self, layer, coef_grad):
        """Add the gradient of :meth:`_penalty` for one layer, in place."""
        if self.alpha:
            coef_grad += self.alpha * self.coefs_[layer]

    def _layer_gradient(
        self, layer, sw_sum, activations, deltas, coef_grads, intercept_grads
    ):
        _matmul(activations[layer].T, deltas[layer], out=coef_grads[layer])
        self._add_penalty_gradient(layer, coef_grads[layer])
        coef_grads[layer] /= sw_sum
        np.sum(deltas[layer], axis=0, out=intercept_grads[layer])
        intercept_grads[layer] /= sw_sum

    def _backprop(
        self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads
    ):
        """Loss and gradients of the training objective on one batch.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The batch.
        y : ndarray of shape (n_samples, n_outputs)
            Encoded targets.
        sample_weight : ndarray of shape (n_samples,) or None
            Sample weights.
        activations : list of length n_layers
            Filled with the activations of every layer.
        deltas : list of length n_layers - 1
            Filled with the derivatives of the weighted per-sample losses with
            respect to each layer's pre-activation.
        coef_grads, intercept_grads : list of ndarray
            Preallocated, overwritten with the gradients (not masked).

        Returns
        -------
        loss : float
        coef_grads, intercept_grads : list of ndarray
        """
        activations[0] = X
        self._forward_pass(activations)
        sw_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
        loss, deltas[-1] = self._output_loss_and_delta(
            X, y, activations[-1], sample_weight
        )
        loss += self._penalty() / sw_sum
        derivative = DERIVATIVES[self.activation]
        last = self.n_layers_ - 2
        self._layer_gradient(
            last, sw_sum, activations, deltas, coef_grads, intercept_grads
        )
        for i in range(last, 0, -1):
            deltas[i - 1] = derivative(activations[i], deltas[i] @ self.coefs_[i].T)
            self._layer_gradient(
                i - 1, sw_sum, activations, deltas, coef_grads, intercept_grads
            )
        return loss, coef_grads, intercept_grads

    def _allocate_gradients(self, dtype):
        coef_grads = [np.empty_like(coef, dtype=dtype) for coef in self.coefs_]
        intercept_grads = [np.empty_like(b, dtype=dtype) for b in self.intercepts_]
        return coef_grads, intercept_grads

    def _mask_gradients(self, grads, masked_indices):
        """Zero the gradient entries of pruned parameters, in place."""
        masks = self._parameter_masks()
        for index in masked_indices:
            grads[index] *= masks[index]

    def _accumulate_movement(self, params, grads, scratch):
        """Add ``-grad * param`` to the movement scores (Sanh et al., 2020)."""
        for accumulated, param, grad, buffer in zip(
            self._movement_scores, params, grads, scratch
        ):
            np.multiply(grad, param, out=buffer)
            accumulated -= buffer

    def _optimizer_step(self, params, grads, masked_indices, scratch):
        """Mask the gradients, record movement and update the parameters."""
        self._mask_gradients(grads, masked_indices)
        self._accumulate_movement(params, grads, scratch)
        self._optimizer.update_params(params, grads)

    def _encode_targets(self, y):
        """Targets as the network sees them: 2-D, binarized for classifiers."""
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def loss_gradient(self, X, y, sample_weight=None):
        """Training objective and its gradient on ``(X, y)``.

        The objective is the one minimised by ``fit``: the weighted mean loss
        plus ``0.5 * alpha * ||W||^2 / sum(sample_weight)``. Gradients of
        pruned parameters are zero.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as passed to ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        loss : float
        coef_grads : list of ndarray
            Gradient with respect to each element of ``coefs_``.
        intercept_grads : list of ndarray
            Gradient with respect to each element of ``intercepts_``.
        """
        check_is_fitted(self)
        X, y, sample_weight = self._validate_pruning_data(X, y, sample_weight)
        return self._objective_gradient(X, y, sample_weight)

    def _objective_gradient(self, X, y, sample_weight):
        """:meth:`loss_gradient` on validated data and encoded targets."""
        activations = [None] * self.n_layers_
        deltas = [None] * (self.n_layers_ - 1)
        coef_grads, intercept_grads = self._allocate_gradients(self.coefs_[0].dtype)
        loss, coef_grads, intercept_grads = self._backprop(
            X, y, sample_weight, activations, deltas, coef_grads, intercept_grads
        )
        self._mask_gradients(
            coef_grads + intercept_grads, self._masked_parameter_indices()
        )
        return loss, coef_grads, intercept_grads

    def _per_sample_deltas(self, X, y):
        """Per-sample derivatives with respect to every pre-activation.

        Returns
        -------
        activations : list of ndarray
            Input of every layer, ``activations[i]`` feeds ``coefs_[i]``.
        deltas : list of ndarray
            ``deltas[i][s]`` is the derivative of sample ``s``'s own loss
            (unweighted) with respect to the pre-activation of layer ``i + 1``,
            so that sample ``s``'s gradient for ``coefs_[i]`` is
            ``np.outer(activations[i][s], deltas[i][s])``.
        """
        activations = [None] * self.n_layers_
        activations[0] = X
        self._forward_pass(activations)
        _, output_delta = self._output_loss_and_delta(X, y, activations[-1], None)
        deltas = [None] * (self.n_layers_ - 1)
        deltas[-1] = output_delta
        derivative = DERIVATIVES[self.activation]
        for i in range(self.n_layers_ - 2, 0, -1):
            deltas[i - 1] = derivative(activations[i], deltas[i] @ self.coefs_[i].T)
        return activations[:-1], deltas

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    def _init_coef(self, fan_in, fan_out, dtype):
        # Glorot and Bengio (2010) uniform initialisation, with the factor 2
        # recommended for the logistic activation.
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def _output_activation(self):
        if not is_classifier(self):
            return "exp" if self.loss == "poisson" else "identity"
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()

        self.coefs_ = []
        self.intercepts_ = []
        for fan_in, fan_out in pairwise(layer_units):
            coef, intercept = self._init_coef(fan_in, fan_out, dtype)
            self.coefs_.append(coef)
            self.intercepts_.append(intercept)
        self.masks_ = [np.ones(coef.shape, dtype=bool) for coef in self.coefs_]
        self.intercept_masks_ = [np.ones(b.shape, dtype=bool) for b in self.intercepts_]
        self._prunable_coef_layers()  # fail early on bad prunable_layers
        self._reset_training_state()
        if hasattr(self, "_optimizer"):
            del self._optimizer

        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _reset_training_state(self):
        """Zero the movement scores and keep the current weights as the best.

        A network loaded from storage has no training state until it is
        trained or pruned again (:meth:`_ensure_training_state`): prediction
        does not need it, and it holds two more copies of the weights.
        """
        self._movement_scores = [np.zeros_like(p) for p in self._parameters()]
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]

    def _ensure_training_state(self):
        """Start the training state of a network loaded without one."""
        if "_movement_scores" not in self.__dict__:
            self._reset_training_state()

    @property
    def movement_scores_(self):
        """Movement scores ``-sum_t g_t * w_t`` of each weight matrix.

        Accumulated over every optimizer step (every gradient evaluation for
        ``solver="lbfgs"``) since the network was initialised or last pruned.
        """
        check_is_fitted(self, "masks_")
        scores = self.__dict__.get("_movement_scores")
        if scores is None:  # loaded, and neither trained nor pruned since
            return [np.zeros_like(coef) for coef in self.coefs_]
        return scores[: self.n_layers_ - 1]

    def _training_settings(self):
        """The :class:`TrainingSettings` of ``fit``: the estimator's parameters."""
        return TrainingSettings(
            self.max_iter,
            self.tol,
            self.warm_start,
            self.random_state,
            bool(self.verbose),
        )

    def _fit(self, X, y, sample_weight=None, incremental=False, settings=None):
        """Train on ``(X, y)``; ``settings`` default to :meth:`_training_settings`."""
        if settings is None:
            settings = self._training_settings()
        hidden_layer_sizes = hidden_layer_sizes_of(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (
            not settings.warm_start and not incremental
        )
        X, y = self._validate_input(
            X, y, incremental, reset=first_pass, warm_start=settings.warm_start
        )
        if not first_pass:
            X = X.astype(self.coefs_[0].dtype, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1], *hidden_layer_sizes, self.n_outputs_]

        self._random_state = check_random_state(settings.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        elif [c.shape for c in self.coefs_] != list(pairwise(layer_units)):
            raise ValueError(
                "The network's layer sizes changed since the previous fit: "
                "set warm_start=False to fit a new network."
            )
        self._ensure_training_state()

        rows = X.shape[0]
        if self.solver in _STOCHASTIC_SOLVERS:
            rows = min(rows, 200 if self.batch_size == "auto" else self.batch_size)
        with _blas_threads_for(rows, layer_units):
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, y, sample_weight, incremental, settings)
            else:
                self._fit_lbfgs(X, y, sample_weight, settings)

        if not all(np.isfinite(p).all() for p in self._parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _fit_lbfgs(self, X, y, sample_weight, settings):
        params = self._parameters()
        offsets = np.cumsum([0] + [p.size for p in params])
        activations = [None] * self.n_layers_
        deltas = [None] * (self.n_layers_ - 1)
        coef_grads, intercept_grads = self._allocate_gradients(X.dtype)
        masked_indices = self._masked_parameter_indices()
        scratch = [np.empty_like(p) for p in params]

        def unpack(packed):
            for param, start, end in zip(params, offsets[:-1], offsets[1:]):
                param[...] = packed[start:end].reshape(param.shape)
            for index in masked_indices:
                params[index] *= self._parameter_masks()[index]

        def loss_and_gradient(packed):
            unpack(packed)
            loss, _, _ = self._backprop(
                X, y, sample_weight, activations, deltas, coef_grads, intercept_grads
            )
            grads = coef_grads + intercept_grads
            self._mask_gradients(grads, masked_indices)
            self._accumulate_movement(params, grads, scratch)
            return loss, np.concatenate([g.ravel() for g in grads]).astype(np.float64)

        callback = _print_lbfgs_loss if settings.verbose else None
        result = scipy.optimize.minimize(
            loss_and_gradient,
            np.concatenate([p.ravel() for p in params]).astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=callback,
            options={
                "maxfun": self.max_fun,
                "maxiter": settings.max_iter,
                "gtol": settings.tol,
            },
        )
        self.n_iter_ = min(result.nit, settings.max_iter)
        if result.status != 0:
            message = (
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}):\n{result.message}\n"
            )
            if self.n_iter_ == settings.max_iter:
                message += "\nIncrease the number of iterations (max_iter)."
            if settings.warn_convergence:
                warnings.warn(message, ConvergenceWarning, stacklevel=3)
        self.loss_ = float(result.fun)
        unpack(result.x)

    def _make_optimizer(self, params):
        if self.solver == "sgd":
            return SGDOptimizer(
                params,
                self.learning_rate_init,
                self.learning_rate,
                self.momentum,
                self.nesterovs_momentum,
                self.power_t,
            )
        return AdamOptimizer(
            params, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
        )

    def _split_validation(self, X, y, sample_weight):
        # Multilabel targets are not stratified.
        stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        split = train_test_split(
            *arrays,
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = split[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, X_val, y_train, y_val, sw_train, sw_val

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, y, sample_weight, incremental, settings):
        params = self._parameters()
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(params)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            X_train, X_val, y_train, y_val, sw_train, sw_val = self._split_validation(
                X, y, sample_weight
            )
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None

        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        batch_size = self._batch_size(n_samples)
        activations = [None] * self.n_layers_
        deltas = [None] * (self.n_layers_ - 1)
        coef_grads, intercept_grads = self._allocate_gradients(X.dtype)
        grads = coef_grads + intercept_grads
        masked_indices = self._masked_parameter_indices()
        scratch = [np.empty_like(p) for p in params]

        try:
            self.n_iter_ = 0
            for _ in range(settings.max_iter):
                if self.shuffle:
                    # Shuffle indices rather than the data to save memory.
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                accumulated_loss = 0.0
                for batch in gen_batches(n_samples, batch_size):
                    batch_idx = sample_idx[batch] if self.shuffle else batch
                    X_batch = X_train[batch_idx]
                    sw_batch = None if sw_train is None else sw_train[batch_idx]
                    batch_loss, _, _ = self._backprop(
                        X_batch,
                        y_train[batch_idx],
                        sw_batch,
                        activations,
                        deltas,
                        coef_grads,
                        intercept_grads,
                    )
                    accumulated_loss += float(batch_loss) * (batch.stop - batch.start)
                    self._optimizer_step(params, grads, masked_indices, scratch)

                self.n_iter_ += 1
                self.loss_ = accumulated_loss / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if settings.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(
                    early_stopping, X_val, y_val, sw_val, settings
                )
                self._optimizer.iteration_ends(self.t_)

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs."
                            % (settings.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs."
                            % (settings.tol, self.n_iter_no_change)
                        )
                    if self._optimizer.trigger_stopping(msg, settings.verbose):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break
                if self.n_iter_ == settings.max_iter and settings.warn_convergence:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet."
                        % settings.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")

        if early_stopping:
            for param, best in zip(params, self._best_coefs + self._best_intercepts):
                param[...] = best
            self._apply_masks()

    def _update_no_improvement_count(
        self, early_stopping, X_val, y_val, sw_val, settings
    ):
        tol = settings.tol
        if early_stopping:
            score = float(self._score(X_val, y_val, sample_weight=sw_val))
            self.validation_scores_.append(score)
            if settings.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [b.copy() for b in self.intercepts_]
        else:
            loss = self.loss_curve_[-1]
            if loss > self.best_loss_ - tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:
                self.best_loss_ = loss

    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc(fit_parameters=FIT_PARAMETERS_DOC, returns_self=RETURNS_SELF_DOC)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        With ``warm_start=False`` a new network is initialised and all masks
        are reset; with ``warm_start=True`` training resumes from the current
        weights and keeps the masks.

        {fit_parameters}

        {returns_self}
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @fill_doc(input=INPUT_DOC)
    def predict(self, X):
        """Predict using the multilayer perceptron.

        {input}

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted classes of a classifier (of shape
            ``(n_samples, n_classes)`` for multilabel targets), the predicted
            values of a regressor.
        """
        self._check_fitted_for_prediction()
        return self._predict(X)

    @abstractmethod
    def _predict(self, X, check_input=True):
        """Predictions from the output of the forward pass."""

    def _check_fitted_for_prediction(self):
        """Raise ``NotFittedError`` unless fitted; subclasses may check faster."""
        check_is_fitted(self)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    # ------------------------------------------------------------------
    # Pruning
    # ------------------------------------------------------------------

    def _validate_pruning_data(self, X, y, sample_weight=None):
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        ).astype(self.coefs_[0].dtype, copy=False)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {X.shape[0]} "
                f"and {y.shape[0]}."
            )
        y = self._encode_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        return X, y, sample_weight

    def prune(
        self,
        X=None,
        y=None,
        *,
        amount=None,
        criterion="magnitude",
        pattern="unstructured",
        scope="global",
        block_shape=(4, 4),
        n=2,
        m=4,
        sample_weight=None,
        reconstruct=False,
    ):
        """Prune the network once, in place.

        Groups of weights (single weights, blocks or hidden units, see
        ``pattern``) are scored by ``criterion``; the lowest-scoring groups
        among those not pruned yet are removed: their weights are set to zero
        and masked out for all later training. Masks only ever shrink. Ties
        are broken by position (layer, then row-major index within the
        layer): the earlier group is pruned first.

        After a step the movement scores restart from zero, and so do the
        best loss and best validation score used for stopping, since the
        previous values describe a different network.

        The step is all-or-nothing: if it raises (a bad argument, a criterion
        that fails midway), the weights, masks and optimizer state are left
        as they were.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), \
                default=None
            Data the criterion may use (e.g. ``"taylor"``). Criteria that do
            not need data (``"magnitude"``, ``"movement"``) accept None.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), \
                default=None
            Targets matching ``X``.
        amount : int or float, default=None
            How much to prune now, counted in groups of the pattern (weights,
            blocks or units) that are not pruned yet. A float in ``[0, 1)`` is
            a fraction of them, rounded half up to an integer count; an int
            is a count, at most the number not pruned yet. With
            ``scope="layer"`` a float prunes that fraction of every layer and
            an int is split across layers in proportion to what remains in
            each. Required for every pattern except ``"n:m"``, whose sparsity
            is set by ``n`` and ``m`` and which accepts only None.
        criterion : str or PruningCriterion or callable, default="magnitude"
            Importance of each weight, higher is more important. A name
            registered with :func:`register_criterion` (built in:
            ``"magnitude"``, ``"taylor"``, ``"movement"``, ``"obd"``,
            ``"obs"``, ``"wanda"``, ``"obc"``, ``"sparsegpt"``, ``"admm"``), a
            :class:`PruningCriterion` or a callable taking a
            :class:`PruningContext` and returning one score array per weight
            matrix. A criterion with an
            ``n_substeps`` attribute (such as :class:`OBSCriterion`) splits
            the step into that many smaller ones, each scored anew.
        pattern : {"unstructured", "block", "neuron", "n:m"}, \
                default="unstructured"
            What is removed together.

            - ``"unstructured"``: single weights.
            - ``"block"``: blocks of ``block_shape`` weights; the block's score
              is the sum of its weights' scores.
            - ``"neuron"``: hidden units. The unit's incoming weights, bias and
              outgoing weights are removed together and scored by the sum of
              their scores. A unit of hidden layer ``k`` (1-based) is eligible
              when ``coefs_[k - 1]`` is a prunable layer; its outgoing weights
              are removed even if ``coefs_[k]`` is not prunable.
            - ``"n:m"``: in every group of ``m`` consecutive weights along the
              input dimension (``coefs_[i][j * m:(j + 1) * m, k]``, i.e. ``m``
              consecutive inputs of the same unit) at most ``n`` are kept, the
              ``n`` highest-scoring ones. When ``m`` does not divide the
              number of inputs the last group is shorter and also keeps at
              most ``n``.
        scope : {"global", "layer"}, default="global"
            ``"global"`` ranks the groups of all prunable layers together;
            ``"layer"`` prunes each layer by the same fraction. Ignored by
            ``"n:m"``. The pruned estimators, which fine-tune between their
            steps, take ``"layer"`` by default with ``"obc"``.
        block_shape : tuple of (int, int), default=(4, 4)
            Rows and columns of a block, for ``pattern="block"``; must divide
            the shape of every prunable weight matrix.
        n, m : int, default=2, 4
            For ``pattern="n:m"``: keep at most ``n`` in every ``m``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights for criteria that use data.
        reconstruct : bool, default=False
            Whether to re-fit the kept weights of the layers by least squares
            to the outputs they had before the step, on ``X``, after any
            criterion: the same as passing
            ``criterion=LayerwiseRefit(criterion)``.

        Returns
        -------
        self : object
            The pruned estimator.
        """
        arguments = self._checked_pruning_arguments(
            amount, criterion, pattern, scope, block_shape, n, m, reconstruct
        )
        if X is not None:
            if y is None:
                raise ValueError("prune needs y together with X.")
            X, y, sample_weight = self._validate_pruning_data(X, y, sample_weight)
        return self._prune_validated(X, y, sample_weight, *arguments)

    def _checked_pruning_arguments(
        self, amount, criterion, pattern, scope, block_shape, n, m, reconstruct
    ):
        """The arguments of :meth:`prune` but the data, checked and resolved.

        Returns
        -------
        arguments : tuple
            ``amount, criterion, pattern, scope, layers`` for
            :meth:`_prune_validated`.
        """
        check_is_fitted(self)
        if not isinstance(reconstruct, (bool, np.bool_)):
            raise TypeError(f"reconstruct must be a bool, got {reconstruct!r}.")
        if reconstruct:
            criterion = LayerwiseRefit(criterion)
        criterion = resolve_criterion(criterion)
        pattern = resolve_pattern(pattern, block_shape=block_shape, n=n, m=m)
        if scope not in ("global", "layer"):
            raise ValueError(
                f"scope must be 'global' or 'layer', got {scope!r}."
            )
        layers = self._prunable_coef_layers()
        if not layers:
            raise ValueError(
                "The network has no prunable layer: set prunable_layers to "
                "'all' or to a list of layer indices."
            )
        pattern.check(self, layers, amount)
        return amount, criterion, pattern, scope, layers

    def _prune_validated(
        self, X, y, sample_weight, amount, criterion, pattern, scope, layers
    ):
        """:meth:`prune` on data from :meth:`_validate_pruning_data`.

        The other arguments from :meth:`_checked_pruning_arguments`; the
        prunes of a path share one validation of the data.
        """
        targets = pattern.targets(self, layers)
        alive = [pattern.alive(self, target) for target in targets]
        # A criterion may split the step into smaller ones, each scored anew.
        n_substeps = getattr(criterion, "n_substeps", 1)
        amounts = pattern.split_amount(alive, amount, scope, n_substeps)
        if len(amounts) > 1:
            # A sub-step that removes nothing would only cost a scoring.
            amounts = [sub_amount for sub_amount in amounts if np.any(sub_amount)]
        with self._restored_on_error():
            self._ensure_training_state()
            for sub_amount in amounts:
                step = PruningStep(pattern, targets, sub_amount, scope)
                context = PruningContext(
                    self, X, y, sample_weight, layers, step=step
                )
                self._prune_substep(
                    criterion, pattern, context, targets, sub_amount, scope
                )
        return self

    @contextlib.contextmanager
    def _restored_on_error(self):
        """Leave the network exactly as it was if the body raises.

        Weights and optimizer state are written back in place, since the
        inference plan and the optimizer may hold the same arrays.
        """
        attributes = dict(self.__dict__)
        attributes["masks_"] = [mask.copy() for mask in self.masks_]
        attributes["intercept_masks_"] = [mask.copy() for mask in self.intercept_masks_]
        params = [param.copy() for param in self._parameters()]
        optimizer = getattr(self, "_optimizer", None)
        states = [] if optimizer is None else optimizer.state_arrays()
        saved_states = [[array.copy() for array in state] for state in states]
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(attributes)
            for param, saved in zip(self._parameters(), params):
                param[...] = saved
            for state, saved_state in zip(states, saved_states):
                for array, saved in zip(state, saved_state):
                    array[...] = saved
            raise

    def _prune_substep(self, criterion, pattern, context, targets, amount, scope):
        coef_scores, intercept_scores = criterion.prepare_scores(context)
        old_masks = [mask.copy() for mask in self._parameter_masks()]
        group_scores = [
            criterion.group_scores(
                context, pattern, target, coef_scores, intercept_scores
            )
            for target in targets
        ]
        alive = [pattern.alive(self, target) for target in targets]
        selected = pattern.select(group_scores, alive, amount, scope)
        masks, intercept_masks = self.masks_, self.intercept_masks_
        for target, groups in zip(targets, selected):
            masks, intercept_masks = pattern.removed(
                masks, intercept_masks, target, groups
            )
        self.masks_, self.intercept_masks_ = masks, intercept_masks

        updates = criterion.compensate(context, old_masks)
        if updates is not None:
            for param, update in zip(self._parameters(), updates):
                if update is not None:
                    param += update.astype(param.dtype, copy=False)
        self._after_pruning()

    def _after_pruning(self):
        self._apply_masks()
        self._reset_training_state()
        if getattr(self, "best_loss_", None) is not None:
            self.best_loss_ = np.inf
        if getattr(self, "best_validation_score_", None) is not None:
            self.best_validation_score_ = -np.inf
        if hasattr(self, "_no_improvement_count"):
            self._no_improvement_count = 0

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_PARAMETERS_HEADING = """
    Parameters
    ----------"""

_LOSS_PARAMETER_DOC = """
    loss : {"squared_error", "poisson"}, default="squared_error"
        Loss minimised during training."""

_COMMON_PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units of the ith hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        The solver for weight optimisation.
    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the sample size (sum of sample
        weights) when added to the loss.
    batch_size : int or "auto", default="auto"
        Size of minibatches of the stochastic solvers; ``"auto"`` is
        ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule of ``solver="sgd"``: constant, divided by
        ``t ** power_t``, or divided by 5 each time the loss (or validation
        score) fails to improve by ``tol`` for ``n_iter_no_change`` epochs.
    learning_rate_init : float, default=0.001
        Initial step size of the stochastic solvers.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
        Whether to shuffle samples at every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the early-stopping split and the
        shuffling.
    tol : float, default=1e-4
        Tolerance of the stopping rule.
    verbose : bool or int, default=False
        Whether to print progress. A network that is not pruned prints its
        loss at every epoch (iteration with lbfgs). A pruned network prints
        one line per pruning step (step, target and achieved sparsity,
        training loss, epochs, validation score with early stopping), and
        its epochs too from ``verbose=2``. A CV estimator prints one line per
        fold and point of its grid, and gives ``verbose - 1`` to the network
        fitted on each fold.
    warm_start : bool, default=False
        Whether ``fit`` resumes from the current weights and masks.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Whether ``solver="sgd"`` uses Nesterov's momentum.
    early_stopping : bool, default=False
        Whether to stop when the score on a held-out ``validation_fraction``
        of the training data (stratified for single-output classifiers) stops
        improving, and keep the best weights.
    validation_fraction : float, default=0.1
        Fraction of the data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's moment estimates.
    epsilon : float, default=1e-8
        Numerical stability term of Adam.
    n_iter_no_change : int, default=10
        Number of epochs without a ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver="lbfgs"``.
    prunable_layers : {"hidden", "all"} or array-like of int, default="hidden"
        Weight matrices that :meth:`prune` may prune: ``"hidden"`` is every
        matrix but the output layer's, ``"all"`` every matrix, or a list of
        indices into ``coefs_``. Intercepts are never pruned, except with the
        hidden units they belong to.
"""

_COMMON_ATTRIBUTES_DOC = """
    loss_ : float
        The current loss.
    best_loss_ : float or None
        The minimum loss reached by a stochastic solver; None with
        ``early_stopping=True``.
    loss_curve_ : list of float
        Loss at each epoch of a stochastic solver.
    validation_scores_ : list of float or None
        Score on the held-out set at each epoch, with ``early_stopping=True``.
    best_validation_score_ : float or None
        Best held-out score, with ``early_stopping=True``.
    t_ : int
        Number of training samples seen by the stochastic solver.
    coefs_ : list of ndarray
        ``coefs_[i]`` of shape ``(n_units[i], n_units[i + 1])`` maps layer
        ``i`` to layer ``i + 1``.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is the bias of layer ``i + 1``.
    masks_ : list of ndarray of bool
        ``masks_[i]`` is False where ``coefs_[i]`` is pruned.
    intercept_masks_ : list of ndarray of bool
        False where an intercept belongs to a pruned hidden unit.
    sparsity_ : float
        Fraction of the weights of the prunable layers that are pruned.
    layer_sparsity_ : ndarray of shape (n_layers - 1,)
        Fraction of pruned weights of each weight matrix.
    movement_scores_ : list of ndarray
        Movement scores of each weight matrix, accumulated as
        ``-sum_t g_t * w_t`` over every optimizer step (every gradient
        evaluation with lbfgs) since the network was initialised or last
        pruned.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when all are strings.
    n_iter_ : int
        Number of epochs (iterations with lbfgs) of the last call of the
        solver: for a pruned network, those of the last fine-tuning step,
        its ``n_epochs_total_`` counting those of the whole fit.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation.
"""

_CLASSES_ATTRIBUTE_DOC = """
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels for each output."""


def network_class_doc(kind, summary, rest, *, parameters="", attributes=""):
    """The docstring of a network estimator of ``kind`` "classifier" or "regressor".

    ``summary`` (the text before the parameters), the network's parameters
    followed by ``parameters``, its attributes followed by ``attributes``,
    then ``rest`` (See Also, Notes, Examples).
    """
    network_parameters = _COMMON_PARAMETERS_DOC
    network_attributes = _COMMON_ATTRIBUTES_DOC
    if kind == "regressor":
        network_parameters = _LOSS_PARAMETER_DOC + network_parameters
    else:
        network_attributes = _CLASSES_ATTRIBUTE_DOC + network_attributes
    return (
        summary
        + _PARAMETERS_HEADING
        + network_parameters
        + parameters
        + """
    Attributes
    ----------"""
        + network_attributes
        + attributes
        + rest
    )


class PrunableMLPClassifier(ClassifierMixin, BasePrunableMLP):
    __doc__ = network_class_doc(
        "classifier",
        """Multilayer perceptron classifier whose weights can be pruned.

    A drop-in replacement of scikit-learn's ``MLPClassifier`` (same
    parameters, attributes and training) that adds weight masks and
    :meth:`prune`. It minimises the log-loss with a softmax output for
    multiclass targets and logistic outputs for binary and multilabel ones.
""",
        """
    See Also
    --------
    PrunableMLPRegressor : The regression counterpart.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skprune.neural import PrunableMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PrunableMLPClassifier(solver="lbfgs", random_state=0).fit(X / 16, y)
    >>> round(clf.prune(amount=0.5).sparsity_, 2)
    0.5
    >>> clf = clf.set_params(warm_start=True).fit(X / 16, y)
    >>> float(abs(clf.coefs_[0][~clf.masks_[0]]).max())
    0.0
    """
    )

    # The loss of a classifier is fixed; that of a regressor is a parameter.
    loss = "log_loss"

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        prunable_layers="hidden",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.prunable_layers = prunable_layers

    def _validate_input(self, X, y, incremental, reset, warm_start):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        # classes_ is (re)defined by a fresh fit; warm_start must see the same
        # classes and partial_fit only classes it already knows.
        if not hasattr(self, "classes_") or (not warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        # Booleans keep float32 training in float32.
        return X, self._label_binarizer.transform(y).astype(bool)

    def _encode_targets(self, y):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim == 2:
            if y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} label columns, but the network was "
                    f"fitted with {len(self.classes_)}."
                )
        else:
            unseen = set(unique_labels(y).tolist()) - set(self.classes_.tolist())
            if unseen:
                raise ValueError(
                    f"y holds labels the network was not fitted with: "
                    f"{sorted(unseen, key=str)[:5]}; its classes_ are "
                    f"{self.classes_.tolist()}."
                )
        return self._label_binarizer.transform(y).astype(bool)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def _first_partial_fit_call(self, classes):
        known = getattr(self, "classes_", None)
        if known is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        if known is not None:
            if not np.array_equal(known, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call "
                    f"to partial_fit, was: {known!r}"
                )
            return False
        self.classes_ = unique_labels(classes)
        return True

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc(fit_parameters=FIT_PARAMETERS_DOC, returns_self=RETURNS_SELF_DOC)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Only available with the stochastic solvers (``"sgd"``, ``"adam"``).
        The optimizer state (momentum, Adam moments) carries over between
        calls, masked like the weights.

        {fit_parameters}
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first.

        {returns_self}
        """
        if self._first_partial_fit_call(classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    @fill_doc(input=INPUT_DOC, returns=PREDICT_PROBA_RETURNS_DOC)
    def predict_proba(self, X):
        """Probability estimates.

        {input}

        {returns}
        """
        self._check_fitted_for_prediction()
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    @fill_doc(input=INPUT_DOC, returns=PREDICT_LOG_PROBA_RETURNS_DOC)
    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        {input}

        {returns}
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class PrunableMLPRegressor(RegressorMixin, BasePrunableMLP):
    __doc__ = network_class_doc(
        "regressor",
        """Multilayer perceptron regressor whose weights can be pruned.

    A drop-in replacement of scikit-learn's ``MLPRegressor`` (same
    parameters, attributes and training) that adds weight masks and
    :meth:`prune`. The output layer is linear for the squared error and
    exponential for the Poisson deviance.
""",
        """
    See Also
    --------
    PrunableMLPClassifier : The classification counterpart.

    Notes
    -----
    With several outputs, the squared error is averaged over outputs as in
    scikit-learn's reported ``loss_``, and so is its gradient. scikit-learn's
    ``MLPRegressor`` trains with the gradient of the sum over outputs instead,
    so multi-output networks train slightly differently (Adam is almost
    insensitive to that scale, but the relative weight of ``alpha`` differs
    by the number of outputs). Single-output regression trains identically.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skprune.neural import PrunableMLPRegressor
    >>> X, y = make_regression(n_samples=200, random_state=0)
    >>> reg = PrunableMLPRegressor(solver="lbfgs", random_state=0).fit(X, y)
    >>> round(reg.prune(amount=0.3, scope="layer").sparsity_, 2)
    0.3
    """
    )

    _parameter_constraints: dict = {
        **BasePrunableMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        prunable_layers="hidden",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.prunable_layers = prunable_layers

    def _validate_input(self, X, y, incremental, reset, warm_start):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.dtype.kind not in "biuf":
            y = _as_numbers(y, "y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _encode_targets(self, y):
        y = _as_numbers(y, "y").astype(self.coefs_[0].dtype, copy=False)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} outputs, but the network was fitted with "
                f"{self.n_outputs_}."
            )
        return y

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc(fit_parameters=FIT_PARAMETERS_DOC, returns_self=RETURNS_SELF_DOC)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Only available with the stochastic solvers (``"sgd"``, ``"adam"``).
        The optimizer state (momentum, Adam moments) carries over between
        calls, masked like the weights.

        {fit_parameters}

        {returns_self}
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
