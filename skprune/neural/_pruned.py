"""Multilayer perceptrons trained, pruned and fine-tuned to a target sparsity.

:class:`PrunedMLPClassifier` and :class:`PrunedMLPRegressor` extend the
prunable perceptrons of :mod:`skprune.neural._multilayer_perceptron` with a
single knob, ``sparsity``. ``fit`` trains the dense network, then alternates
pruning steps (:meth:`~BasePrunableMLP.prune`) and fine-tuning epochs along a
schedule, and always ends on fine-tuning. During fine-tuning the loss may be
mixed with a distillation term against the dense network trained first.

Schedules, as fractions of the prunable weights that are zero after step
``t = 1, ..., n``:

- ``"oneshot"``: ``s`` at once (``n = 1``).
- ``"iterative"`` (Han et al., 2015): the same fraction
  ``1 - (1 - s) ** (1 / n)`` of the remaining weights at every step, so that
  ``s_t = 1 - (1 - s) ** (t / n)``.
- ``"gradual"`` (Zhu and Gupta, 2017):
  ``s_t = s + (s_i - s) * (1 - t / n) ** 3``.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import __version__
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ._base import ACTIVATIONS
from ._inference import InferencePlan
from ._multilayer_perceptron import (
    _COMMON_ATTRIBUTES_DOC,
    _COMMON_PARAMETERS_DOC,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    _matmul,
)
from ._storage import STORAGE_FORMAT, pack_weights, unpack_weights


def sparsity_schedule(schedule, sparsity, n_steps, initial_sparsity=0.0):
    """Target sparsity after each pruning step of a schedule.

    Parameters
    ----------
    schedule : {"oneshot", "iterative", "gradual"}
        The schedule.
    sparsity : float
        Final sparsity, in ``[0, 1)``.
    n_steps : int
        Number of pruning steps of ``"iterative"`` and ``"gradual"``;
        ``"oneshot"`` always has one.
    initial_sparsity : float, default=0.0
        Starting point ``s_i`` of ``"gradual"``.

    Returns
    -------
    targets : ndarray of shape (n_steps,)
        Non-decreasing targets, the last one equal to ``sparsity``.
    """
    if schedule == "oneshot":
        return np.array([float(sparsity)])
    t = np.arange(1, n_steps + 1) / n_steps
    if schedule == "iterative":
        targets = 1.0 - (1.0 - sparsity) ** t
    elif schedule == "gradual":
        targets = sparsity + (initial_sparsity - sparsity) * (1.0 - t) ** 3
    else:
        raise ValueError(f"Unknown schedule {schedule!r}.")
    targets[-1] = sparsity
    return targets


_HISTORY_KEYS = (
    "step",
    "target_sparsity",
    "sparsity",
    "loss",
    "n_iter",
    "validation_score",
)

_PRUNED_PARAMETERS_DOC = """
    sparsity : float, default=0.5
        Fraction of the prunable weights that are zero at the end of ``fit``,
        in ``[0, 1)``. ``0`` trains the dense network only (no pruning and no
        fine-tuning). Groups of the pattern are whole, so the achieved value
        is the nearest reachable one; a ``UserWarning`` names both when they
        differ by more than a weight. With ``pattern="n:m"`` the sparsity is
        fixed by the pattern and ``sparsity`` must equal ``1 - n / m``.
    criterion : str or PruningCriterion or callable, default="magnitude"
        Importance of each weight, see :meth:`prune`.
    pattern : {"unstructured", "block", "neuron", "n:m"}, \
            default="unstructured"
        What is removed together, see :meth:`prune`. ``"neuron"`` removes
        pruned hidden units from the stored layers at the end of ``fit``.
        ``"n:m"`` is always applied in one step.
    scope : {"global", "layer"}, default="global"
        Whether groups of all prunable layers are ranked together.
    block_shape : tuple of (int, int), default=(4, 4)
        Shape of a block, for ``pattern="block"``.
    n, m : int, default=2, 4
        Keep at most ``n`` in every ``m`` weights, for ``pattern="n:m"``.
    schedule : {"oneshot", "iterative", "gradual"}, default="gradual"
        How the sparsity grows over the pruning steps.
    n_pruning_steps : int, default=10
        Number of pruning steps of ``"iterative"`` and ``"gradual"``.
    finetune_iter : int, default=10
        Epochs (iterations for ``solver="lbfgs"``) of fine-tuning after each
        pruning step. Fine-tuning runs this fixed budget (``tol`` does not
        stop it), so its ``ConvergenceWarning`` is silenced. ``"oneshot"``
        has a single step: to compare it with the other schedules at an equal
        budget, give it ``n_pruning_steps * finetune_iter`` epochs (on
        digits, 10 epochs instead of 100 cost one-shot magnitude pruning 0.8
        point of accuracy at 90% sparsity).
    initial_sparsity : float, default=0.0
        Starting sparsity ``s_i`` of the ``"gradual"`` schedule, at most
        ``sparsity``.
    distillation_weight : float, default=0.0
        Weight ``h`` in ``[0, 1]`` of the distillation term during
        fine-tuning; the teacher is the dense network trained first and
        ``0`` turns distillation off.
    temperature : float, default=2.0
        Temperature ``T > 0`` of the distillation term of classifiers.
"""

_PRUNED_ATTRIBUTES_DOC = """
    n_units_ : list of int
        Width of every layer as stored, input and output included; smaller
        than ``hidden_layer_sizes`` after neuron pruning.
    n_nonzero_ : int
        Number of nonzero weights over all weight matrices.
    compression_ratio_ : float
        Weights of the dense network over nonzero weights.
    theoretical_speedup_ : float
        Multiply-adds of the dense network over the remaining multiply-adds
        (each weight is one multiply-add per sample).
    pruning_history_ : dict of ndarray
        One entry per step, step 0 being the dense network: ``"step"``,
        ``"target_sparsity"``, ``"sparsity"`` (after pruning),
        ``"loss"`` (training loss after the step's training), ``"n_iter"``
        (its training iterations) and ``"validation_score"`` (best held-out
        score with ``early_stopping=True``, NaN otherwise).
    sparse_coefs_ : list of scipy.sparse.csr_matrix
        ``coefs_`` as CSR matrices, in the network's dtype. Predictions do
        not use ``coefs_`` but an inference plan built at the end of ``fit``:
        the network without the hidden units that cannot change the output,
        each weight matrix multiplied as a CSR or a dense matrix, whichever
        is faster for the batch size. A pickled (or joblib, or skops) model
        stores only the unpruned weights and their positions, without the
        optimizer state; ``coefs_`` and ``masks_`` come back exactly on
        first access after loading. See the user guide, "Fast prediction
        and compact pruned models".
"""


class _PrunedMLPMixin:
    """Train, prune along a schedule and fine-tune; shared by both estimators."""

    _pruning_constraints: dict = {
        "sparsity": [Interval(Real, 0, 1, closed="left")],
        "criterion": "no_validation",
        "pattern": [StrOptions({"unstructured", "block", "neuron", "n:m"})],
        "scope": [StrOptions({"global", "layer"})],
        "block_shape": ["array-like"],
        "n": [Interval(Integral, 1, None, closed="left")],
        "m": [Interval(Integral, 1, None, closed="left")],
        "schedule": [StrOptions({"oneshot", "iterative", "gradual"})],
        "n_pruning_steps": [Interval(Integral, 1, None, closed="left")],
        "finetune_iter": [Interval(Integral, 1, None, closed="left")],
        "initial_sparsity": [Interval(Real, 0, 1, closed="left")],
        "distillation_weight": [Interval(Real, 0, 1, closed="both")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    # ------------------------------------------------------------------
    # Distillation
    # ------------------------------------------------------------------

    def _set_teacher(self, coefs, intercepts):
        """Use the network ``(coefs, intercepts)`` as the distillation teacher."""
        self._teacher = ([c.copy() for c in coefs], [b.copy() for b in intercepts])

    def _distilling(self):
        return (
            self.distillation_weight > 0 and getattr(self, "_teacher", None) is not None
        )

    def _teacher_logits(self, X):
        coefs, intercepts = self._teacher
        hidden_activation = ACTIVATIONS[self.activation]
        activation = X
        for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
            activation = _matmul(activation, coef)
            activation += intercept
            if i != len(coefs) - 1:
                hidden_activation(activation)
        return activation

    def _see_output_preactivation(self, z):
        """Keep the student's output pre-activation for the distillation loss."""
        if self._distilling():
            self._output_logits = z.copy()

    # ------------------------------------------------------------------
    # Schedule
    # ------------------------------------------------------------------

    def _check_pruning_params(self, sparsity):
        """Check the pruning parameters against the final ``sparsity``."""
        if self.initial_sparsity > sparsity:
            raise ValueError(
                f"initial_sparsity={self.initial_sparsity} must not exceed "
                f"sparsity={sparsity}."
            )
        if self.pattern == "n:m":
            fixed = 1.0 - self.n / self.m
            if not np.isclose(sparsity, fixed):
                raise ValueError(
                    f'pattern="n:m" fixes the sparsity at 1 - n / m = {fixed:g} '
                    f"(n={self.n}, m={self.m}), but sparsity={sparsity}: "
                    "set sparsity to 1 - n / m."
                )

    def _schedule_targets(self, sparsity):
        """Target sparsity after each pruning step on the way to ``sparsity``."""
        if sparsity == 0:
            return np.empty(0)
        schedule = "oneshot" if self.pattern == "n:m" else self.schedule
        return sparsity_schedule(
            schedule, sparsity, self.n_pruning_steps, self.initial_sparsity
        )

    @property
    def sparsity_(self):
        """Fraction of the prunable weights that are pruned (zero).

        Counted against the network as built, so hidden units removed by
        neuron pruning count as pruned.
        """
        check_is_fitted(self, "masks_")
        n_total, n_pruned = self._prunable_counts()
        return float(n_pruned / n_total) if n_total else 0.0

    @property
    def layer_sparsity_(self):
        """Fraction of pruned weights of each weight matrix, prunable or not."""
        check_is_fitted(self, "masks_")
        sizes = self._built_sizes()
        return np.array(
            [
                1.0 - np.count_nonzero(mask) / size
                for mask, size in zip(self.masks_, sizes)
            ]
        )

    def _built_sizes(self):
        """Size of every weight matrix before hidden units were removed."""
        sizes = getattr(self, "_sizes_as_built", None)
        if getattr(self, "_shrunk", False) and sizes is not None:
            return sizes
        return [mask.size for mask in self.masks_]

    def _prunable_counts(self):
        sizes = self._built_sizes()
        layers = self._prunable_coef_layers()
        n_total = sum(sizes[layer] for layer in layers)
        n_alive = sum(np.count_nonzero(self.masks_[layer]) for layer in layers)
        return n_total, n_total - n_alive

    def _amount_to(self, target):
        """``amount`` for :meth:`prune` that brings the sparsity to ``target``.

        Returns None when nothing needs pruning.
        """
        n_total, n_pruned = self._prunable_counts()
        goal = int(np.floor(target * n_total + 0.5))
        if goal <= n_pruned:
            return None
        if self.scope == "global" and self.pattern in ("unstructured", "block"):
            group = 1
            if self.pattern == "block":
                group = int(np.prod(self.block_shape))
            # Equal-sized groups: an exact count of the groups still alive.
            goal_groups = int(np.floor(target * n_total / group + 0.5))
            return max(goal_groups - n_pruned // group, 0) or None
        current = n_pruned / n_total
        fraction = (target - current) / (1.0 - current)
        return float(min(max(fraction, 0.0), np.nextafter(1.0, 0.0)))

    def _prune_step(self, X, y, sample_weight, target):
        kwargs = {
            "criterion": self.criterion,
            "pattern": self.pattern,
            "scope": self.scope,
            "block_shape": tuple(self.block_shape),
            "n": self.n,
            "m": self.m,
            "sample_weight": sample_weight,
        }
        if self.pattern == "n:m":
            self.prune(X, y, amount=None, **kwargs)
            return
        amount = self._amount_to(target)
        if amount:
            self.prune(X, y, amount=amount, **kwargs)

    def _fit_with(self, X, y, sample_weight, **params):
        """``_fit`` with some parameters set to other values for the call."""
        saved = {name: getattr(self, name) for name in params}
        self.__dict__.update(params)
        try:
            self._fit(X, y, sample_weight=sample_weight, incremental=False)
        finally:
            self.__dict__.update(saved)

    def _train(self, X, y, sample_weight, max_iter):
        """Fine-tune from the current weights and masks for ``max_iter`` epochs.

        ``tol=0`` makes the budget fixed (lbfgs would otherwise stop at once
        after a small pruning step), and the random stream drawn at the start
        of ``fit`` goes on rather than restarting from ``random_state``.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._fit_with(
                X,
                y,
                sample_weight,
                max_iter=max_iter,
                warm_start=True,
                tol=0.0,
                random_state=self._rng,
            )

    def _record(self, history, step, target):
        validation = getattr(self, "best_validation_score_", None)
        history["step"].append(step)
        history["target_sparsity"].append(float(target))
        history["sparsity"].append(self.sparsity_)
        history["loss"].append(float(self.loss_))
        history["n_iter"].append(int(self.n_iter_))
        history["validation_score"].append(
            np.nan if validation is None else float(validation)
        )

    def _fit(self, X, y, sample_weight=None, incremental=False):
        if getattr(self, "_shrunk", False) and (incremental or self.warm_start):
            raise ValueError(
                "The hidden layers were shrunk by neuron pruning, so training "
                "cannot resume from them: set warm_start=False and call fit."
            )
        self._discard_inference_plan()
        return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the dense network, then prune and fine-tune it.

        With ``warm_start=True`` the dense phase resumes from the current
        weights and masks, and the schedule starts from their sparsity.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._check_pruning_params(self.sparsity)
        self._train_dense(X, y, sample_weight)
        return self._prune_to(X, y, sample_weight, self.sparsity)

    def _prune_to(self, X, y, sample_weight, sparsity):
        """Prune and fine-tune along the schedule to ``sparsity``, then finish."""
        self._prune_along(X, y, sample_weight, self._schedule_targets(sparsity))
        self._warn_if_inexact(sparsity)
        return self._finish_fit()

    def _train_dense(self, X, y, sample_weight):
        """Train the dense network and start the pruning history with it."""
        if not self.warm_start:
            self._shrunk = False
        self._teacher = None
        # One random stream for the dense training and all fine-tuning.
        self._rng = check_random_state(self.random_state)
        self._fit_with(X, y, sample_weight, random_state=self._rng)
        self._start_history()

    def _start_history(self):
        """Record the current, unpruned network as step 0 of the history."""
        self._history = {key: [] for key in _HISTORY_KEYS}
        self._record(self._history, 0, 0.0)

    def _prune_along(self, X, y, sample_weight, targets, on_step=None):
        """Prune to each target in turn, fine-tuning after every step.

        ``on_step(target)``, if given, is called after each fine-tuning.
        """
        if len(targets) == 0:
            return
        if getattr(self, "_rng", None) is None:
            self._rng = check_random_state(self.random_state)
        if self.distillation_weight > 0:
            self._set_teacher(self.coefs_, self.intercepts_)
        step = self._history["step"][-1]
        try:
            for target in targets:
                step += 1
                self._prune_step(X, y, sample_weight, target)
                self._train(X, y, sample_weight, self.finetune_iter)
                self._record(self._history, step, target)
                if on_step is not None:
                    on_step(target)
        finally:
            self._teacher = None
            self._output_logits = None

    def _finish_fit(self):
        """Derive the fitted attributes once the last fine-tuning is done."""
        history = self.__dict__.pop("_history")
        self.__dict__.pop("_rng", None)
        self.pruning_history_ = {
            key: np.asarray(values) for key, values in history.items()
        }
        self._set_size_attributes()
        if self.pattern == "neuron":
            self._shrink_hidden_layers()
        self.n_units_ = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        self._build_inference_plan()
        return self

    def _warn_if_inexact(self, sparsity):
        if sparsity == 0:
            return
        n_total, n_pruned = self._prunable_counts()
        if self.warm_start and n_pruned > sparsity * n_total + 1:
            warnings.warn(
                f"Requested sparsity={sparsity:g} is below the sparsity "
                f"{n_pruned / n_total:g} that warm_start resumed from; masks only "
                "shrink, so it is kept. Set warm_start=False to prune less.",
                UserWarning,
                stacklevel=3,
            )
        elif abs(n_pruned - sparsity * n_total) > 1:
            warnings.warn(
                f"Requested sparsity={sparsity:g} is not reachable with "
                f"pattern={self.pattern!r} and scope={self.scope!r}; achieved "
                f"sparsity_={n_pruned / n_total:g}.",
                UserWarning,
                stacklevel=3,
            )

    def _set_size_attributes(self):
        n_weights = sum(self._built_sizes())
        self.n_nonzero_ = int(sum(np.count_nonzero(coef) for coef in self.coefs_))
        ratio = n_weights / self.n_nonzero_ if self.n_nonzero_ else np.inf
        self.compression_ratio_ = float(ratio)
        self.theoretical_speedup_ = float(ratio)

    def _shrink_hidden_layers(self):
        """Remove pruned hidden units from the stored layers.

        A unit pruned with ``pattern="neuron"`` has zero incoming weights,
        bias and outgoing weights, so removing it leaves every prediction
        unchanged.
        """
        self._sizes_as_built = [mask.size for mask in self.masks_]
        for layer in range(self.n_layers_ - 2):
            keep = self.intercept_masks_[layer]
            if keep.all():
                continue
            self.coefs_[layer] = self.coefs_[layer][:, keep]
            self.masks_[layer] = self.masks_[layer][:, keep]
            self.intercepts_[layer] = self.intercepts_[layer][keep]
            self.intercept_masks_[layer] = self.intercept_masks_[layer][keep]
            self.coefs_[layer + 1] = self.coefs_[layer + 1][keep]
            self.masks_[layer + 1] = self.masks_[layer + 1][keep]
            self._shrunk = True
        if self._shrunk:
            self._reset_movement_scores()
            self._best_coefs = [c.copy() for c in self.coefs_]
            self._best_intercepts = [b.copy() for b in self.intercepts_]
            if hasattr(self, "_optimizer"):
                del self._optimizer

    # ------------------------------------------------------------------
    # Inference plan and storage (see skprune.neural._inference)
    # ------------------------------------------------------------------

    def _build_inference_plan(self, coefs=None):
        """Build the plan that predictions go through from the current weights.

        ``fit`` ends with it; training and pruning discard the plan and the
        next prediction builds it again. Call it after changing ``coefs_`` or
        ``intercepts_`` by hand. ``coefs`` stands for ``coefs_`` when given.
        """
        self._inference_plan = InferencePlan(
            self.coefs_ if coefs is None else coefs,
            self.intercepts_,
            self.activation,
            self.out_activation_,
        )
        return self._inference_plan

    def _discard_inference_plan(self):
        self.__dict__.pop("_inference_plan", None)

    def _after_pruning(self):
        super()._after_pruning()
        self._discard_inference_plan()

    def _check_fitted_for_prediction(self):
        # Only a fitted network has a plan; check_is_fitted costs more than
        # the forward pass of a small network on one sample.
        if "_inference_plan" not in self.__dict__:
            super()._check_fitted_for_prediction()

    def _forward_pass_fast(self, X, check_input=True):
        """Output of the network, through the inference plan.

        Without a plan and with ``check_input=False`` (scoring while the
        weights are being trained) the dense forward pass is used instead.
        """
        plan = self.__dict__.get("_inference_plan")
        if plan is None or plan.activation != self.activation:
            if not check_input:
                return super()._forward_pass_fast(X, check_input=False)
            check_is_fitted(self)
            plan = self._build_inference_plan()
        if check_input:
            X = self._check_inference_input(X, plan)
        return plan.predict(X)

    def _check_inference_input(self, X, plan):
        """``validate_data`` without its fixed cost for plain float arrays.

        A finite, non-empty, 2-D float ndarray of the right width, for an
        estimator fitted without feature names, is returned as is; anything
        else goes through ``validate_data``, which raises its usual errors.
        """
        if (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype.kind == "f"
            and X.shape[0] > 0
            and X.shape[1] == plan.n_features_in
            and "feature_names_in_" not in self.__dict__
        ):
            # NaN or infinity makes the sum of squares non-finite (so does an
            # overflow, which validate_data then clears).
            flat = X.reshape(-1)
            if math.isfinite(np.dot(flat, flat)):
                return X
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)

    @property
    def sparse_coefs_(self):
        """``coefs_`` as ``scipy.sparse.csr_matrix``, in the network's dtype."""
        check_is_fitted(self, "n_layers_")
        return [sparse.csr_matrix(coef) for coef in self.coefs_]

    def __getstate__(self):
        if "_packed_weights" in self.__dict__ and not _UNPACKED.isdisjoint(
            self.__dict__
        ):
            self._unpack_stored_weights()  # weights were set since loading
        # A copy: object.__getstate__ may return the instance's own dict.
        state = dict(super().__getstate__())
        for key in _NOT_STORED:
            state.pop(key, None)
        if "coefs_" in state:
            state["_packed_weights"] = {
                "coefs": pack_weights(state.pop("coefs_"), state.pop("masks_")),
                "intercept_masks": [
                    np.packbits(mask) for mask in state.pop("intercept_masks_")
                ],
            }
        state[_STORAGE_KEY] = {
            "format": STORAGE_FORMAT,
            "skprune_version": __version__,
        }
        return state

    def __setstate__(self, state):
        storage = state.pop(_STORAGE_KEY, None)
        if storage is not None and storage.get("format") != STORAGE_FORMAT:
            raise ValueError(
                f"This {type(self).__name__} was stored in format "
                f"{storage.get('format')} by skprune "
                f"{storage.get('skprune_version')}, but skprune {__version__} "
                f"reads format {STORAGE_FORMAT}: load it with skprune "
                f"{storage.get('skprune_version')} or fit it again."
            )
        super().__setstate__(state)
        packed = self.__dict__.get("_packed_weights")
        if packed is not None:
            self.intercepts_ = [np.array(b) for b in self.intercepts_]
            coefs, _ = unpack_weights(packed["coefs"])
            self._build_inference_plan(coefs)
        elif "coefs_" in self.__dict__:
            self._build_inference_plan()

    def __getattr__(self, name):
        # Only called when ``name`` is missing: after unpickling, the dense
        # weights, masks and training state are rebuilt on first access.
        if name in _UNPACKED and "_packed_weights" in self.__dict__:
            self._unpack_stored_weights()
            return self.__dict__[name]
        # Raise the usual error, e.g. that of an unavailable method.
        return object.__getattribute__(self, name)

    def _unpack_stored_weights(self):
        """Rebuild what pickling left out; attributes set since are kept."""
        packed = self.__dict__.pop("_packed_weights")
        coefs, masks = unpack_weights(packed["coefs"])
        state = self.__dict__
        state.setdefault("coefs_", coefs)
        state.setdefault("masks_", masks)
        state.setdefault(
            "intercept_masks_",
            [
                np.unpackbits(bits, count=len(b)).astype(bool)
                for bits, b in zip(packed["intercept_masks"], self.intercepts_)
            ],
        )
        if "_movement_scores" not in state:
            self._reset_movement_scores()
        state.setdefault("_best_coefs", [c.copy() for c in self.coefs_])
        state.setdefault("_best_intercepts", [b.copy() for b in self.intercepts_])


# Pickling keeps what prediction needs and what training resumes from:
# the fitted attributes, with the weights and masks packed.
_NOT_STORED = (
    "_optimizer",
    "_movement_scores",
    "_best_coefs",
    "_best_intercepts",
    "_random_state",
    "_teacher",
    "_output_logits",
    "_inference_plan",
)
_UNPACKED = frozenset(
    {
        "coefs_",
        "masks_",
        "intercept_masks_",
        "_movement_scores",
        "_best_coefs",
        "_best_intercepts",
    }
)
_STORAGE_KEY = "_skprune_storage"


class PrunedMLPClassifier(_PrunedMLPMixin, PrunableMLPClassifier):
    __doc__ = (
        """Multilayer perceptron classifier pruned to a target sparsity.

    ``fit`` trains the dense network for ``max_iter`` epochs, then prunes it
    along ``schedule`` in ``n_pruning_steps`` steps, fine-tuning for
    ``finetune_iter`` epochs after each, so the last step is always training.
    Pruned weights are exactly zero.

    With ``distillation_weight=h > 0`` the fine-tuning loss is
    ``(1 - h) * log_loss + h * T**2 * KL(p_teacher || p_student)`` where
    ``p = softmax(z / T)`` of the output pre-activations ``z`` and the
    teacher is the dense network. Binary and multilabel outputs are
    logistic: each output then contributes the KL divergence of its two-class
    distribution ``(sigmoid(z / T), 1 - sigmoid(z / T))``, summed over
    outputs like the log-loss.
"""
        + _COMMON_PARAMETERS_DOC
        + _PRUNED_PARAMETERS_DOC
        + """
    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels of each output."""
        + _COMMON_ATTRIBUTES_DOC
        + _PRUNED_ATTRIBUTES_DOC
        + """
    See Also
    --------
    PrunableMLPClassifier : The network pruned by hand with :meth:`prune`.
    PrunedMLPRegressor : The regression counterpart.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skprune.neural import PrunedMLPClassifier
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = PrunedMLPClassifier(hidden_layer_sizes=(16,), sparsity=0.8,
    ...                           max_iter=50, n_pruning_steps=3,
    ...                           finetune_iter=5, random_state=0).fit(X, y)
    >>> round(clf.sparsity_, 2)
    0.8
    """
    )

    _parameter_constraints: dict = {
        **PrunableMLPClassifier._parameter_constraints,
        **_PrunedMLPMixin._pruning_constraints,
    }

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
        sparsity=0.5,
        criterion="magnitude",
        pattern="unstructured",
        scope="global",
        block_shape=(4, 4),
        n=2,
        m=4,
        schedule="gradual",
        n_pruning_steps=10,
        finetune_iter=10,
        initial_sparsity=0.0,
        distillation_weight=0.0,
        temperature=2.0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            prunable_layers=prunable_layers,
        )
        self.sparsity = sparsity
        self.criterion = criterion
        self.pattern = pattern
        self.scope = scope
        self.block_shape = block_shape
        self.n = n
        self.m = m
        self.schedule = schedule
        self.n_pruning_steps = n_pruning_steps
        self.finetune_iter = finetune_iter
        self.initial_sparsity = initial_sparsity
        self.distillation_weight = distillation_weight
        self.temperature = temperature

    def _output_loss_and_delta(self, X, y, y_pred, sample_weight):
        """Log-loss mixed with the distillation term while a teacher is set."""
        loss, delta = super()._output_loss_and_delta(X, y, y_pred, sample_weight)
        if not self._distilling():
            return loss, delta
        h, T = self.distillation_weight, self.temperature
        z_student = self._output_logits / T
        z_teacher = self._teacher_logits(X) / T
        if self.out_activation_ == "softmax":
            log_p_student = log_softmax(z_student, axis=1)
            log_p_teacher = log_softmax(z_teacher, axis=1)
            p_teacher = np.exp(log_p_teacher)
            kl = np.sum(p_teacher * (log_p_teacher - log_p_student), axis=1)
            gradient = softmax(z_student, axis=1) - p_teacher
        else:
            # Per-output two-class distributions (p, 1 - p), p = sigmoid(z / T).
            p_teacher = expit(z_teacher)
            kl = np.sum(
                p_teacher * (log_expit(z_teacher) - log_expit(z_student))
                + (1 - p_teacher) * (log_expit(-z_teacher) - log_expit(-z_student)),
                axis=1,
            )
            gradient = expit(z_student) - p_teacher
        gradient *= T
        if sample_weight is not None:
            gradient *= sample_weight[:, np.newaxis]
        loss = (1 - h) * loss + h * T**2 * np.average(kl, weights=sample_weight)
        delta = (1 - h) * delta + h * gradient
        return float(loss), delta.astype(y_pred.dtype, copy=False)


class PrunedMLPRegressor(_PrunedMLPMixin, PrunableMLPRegressor):
    __doc__ = (
        """Multilayer perceptron regressor pruned to a target sparsity.

    ``fit`` trains the dense network for ``max_iter`` epochs, then prunes it
    along ``schedule`` in ``n_pruning_steps`` steps, fine-tuning for
    ``finetune_iter`` epochs after each, so the last step is always training.
    Pruned weights are exactly zero.

    With ``distillation_weight=h > 0`` the fine-tuning loss is
    ``(1 - h) * loss(y, y_student) + h * loss(y_teacher, y_student)``, the
    teacher being the dense network: for ``loss="squared_error"`` the second
    term is the (half) mean squared error to the teacher's output, for
    ``loss="poisson"`` the Poisson deviance to the teacher's mean.
    ``temperature`` is not used.
"""
        + _COMMON_PARAMETERS_DOC.replace(
            "    Parameters\n    ----------\n",
            "    Parameters\n    ----------\n"
            '    loss : {"squared_error", "poisson"}, default="squared_error"\n'
            "        Loss minimised during training.\n",
        )
        + _PRUNED_PARAMETERS_DOC
        + """
    Attributes
    ----------"""
        + _COMMON_ATTRIBUTES_DOC
        + _PRUNED_ATTRIBUTES_DOC
        + """
    See Also
    --------
    PrunableMLPRegressor : The network pruned by hand with :meth:`prune`.
    PrunedMLPClassifier : The classification counterpart.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skprune.neural import PrunedMLPRegressor
    >>> X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    >>> reg = PrunedMLPRegressor(hidden_layer_sizes=(16,), sparsity=0.5,
    ...                          solver="lbfgs", max_iter=50,
    ...                          random_state=0).fit(X, y)
    >>> round(reg.sparsity_, 2)
    0.5
    """
    )

    _parameter_constraints: dict = {
        **PrunableMLPRegressor._parameter_constraints,
        **_PrunedMLPMixin._pruning_constraints,
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
        sparsity=0.5,
        criterion="magnitude",
        pattern="unstructured",
        scope="global",
        block_shape=(4, 4),
        n=2,
        m=4,
        schedule="gradual",
        n_pruning_steps=10,
        finetune_iter=10,
        initial_sparsity=0.0,
        distillation_weight=0.0,
        temperature=2.0,
    ):
        super().__init__(
            loss=loss,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            prunable_layers=prunable_layers,
        )
        self.sparsity = sparsity
        self.criterion = criterion
        self.pattern = pattern
        self.scope = scope
        self.block_shape = block_shape
        self.n = n
        self.m = m
        self.schedule = schedule
        self.n_pruning_steps = n_pruning_steps
        self.finetune_iter = finetune_iter
        self.initial_sparsity = initial_sparsity
        self.distillation_weight = distillation_weight
        self.temperature = temperature

    def _output_loss_and_delta(self, X, y, y_pred, sample_weight):
        """Task loss mixed with the loss to the teacher while one is set."""
        loss, delta = super()._output_loss_and_delta(X, y, y_pred, sample_weight)
        if not self._distilling():
            return loss, delta
        h = self.distillation_weight
        y_teacher = ACTIVATIONS[self.out_activation_](self._teacher_logits(X))
        teacher_loss, teacher_delta = super()._output_loss_and_delta(
            X, y_teacher, y_pred, sample_weight
        )
        return (1 - h) * loss + h * teacher_loss, (1 - h) * delta + h * teacher_delta
