"""Multilayer perceptrons trained, pruned and fine-tuned to a target sparsity.

:class:`PrunedMLPClassifier` and :class:`PrunedMLPRegressor` extend the
prunable perceptrons of :mod:`skprune.neural._multilayer_perceptron` with a
single knob, ``sparsity``. ``fit`` checks the pruning parameters, then hands
the network to a :class:`~skprune.neural._pruning_run.PruningRun`, which
trains the dense network, alternates pruning steps and fine-tuning along the
schedule and always ends on fine-tuning. During fine-tuning the loss may be
mixed with a distillation term against the dense network trained first.
This module holds what the estimators themselves compute: the distillation
loss, the fitted attributes derived at the end of a fit, the inference plan
and the storage.
"""

import contextlib
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import __version__
from ..utils._docstrings import FIT_PARAMETERS_DOC, RETURNS_SELF_DOC, fill_doc
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ._base import ACTIVATIONS
from ._inference import InferencePlan
from ._multilayer_perceptron import (
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    forward_pass,
    network_class_doc,
)
from ._pruning_run import (
    PruningRun,
    check_pruning_parameters,
    planned_coef_shapes,
    schedule_targets,
)
from ._storage import (
    READABLE_FORMATS,
    STORAGE_FORMAT,
    loaded_state,
    pack_weights,
    stored_state,
    unpack_weights,
)

_SPARSITY_PARAMETER_DOC = """
    sparsity : float, default=0.5
        Fraction of the prunable weights that are zero at the end of ``fit``,
        in ``[0, 1)``. ``0`` trains the dense network only (no pruning and no
        fine-tuning). Groups of the pattern are whole, so the achieved value
        is the nearest reachable one; a ``UserWarning`` names both when they
        differ by more than a weight. With ``pattern="n:m"`` the sparsity is
        fixed by the pattern and ``sparsity`` must equal ``1 - n / m``."""

# The pruning parameters other than the sparsity, shared with MLPPruner and
# the CV estimators; the teacher of distillation is formatted in.
_PRUNING_PARAMETERS_DOC = """
    criterion : str or PruningCriterion or callable, default="magnitude"
        Importance of each weight, see :meth:`prune`.
    pattern : {"unstructured", "block", "neuron", "n:m"}, \
            default="unstructured"
        What is removed together, see :meth:`prune`. ``"neuron"`` removes
        pruned hidden units from the stored layers at the end of ``fit``.
        ``"n:m"`` is always applied in one step.
    scope : {"global", "layer"} or None, default=None
        Whether groups of all prunable layers are ranked together
        (``"global"``) or every layer loses the same fraction (``"layer"``).
        None takes the criterion's ``finetuning_scope``: ``"layer"`` for
        ``"obc"``, whose global allocation, the better one-shot, thins one
        layer into a bottleneck along a schedule with fine-tuning (see the
        user guide), and ``"global"`` for the others.
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
        ``sparsity``."""

_DISTILLATION_PARAMETERS_DOC = """
    distillation_weight : float, default=0.0
        Weight ``h`` in ``[0, 1]`` of the distillation term during
        fine-tuning; the teacher is {teacher} and ``0`` turns distillation
        off.
    temperature : float, default=2.0
        Temperature ``T > 0`` of the distillation term of classifiers.
"""

_PRUNED_PARAMETERS_DOC = (
    _SPARSITY_PARAMETER_DOC
    + _PRUNING_PARAMETERS_DOC
    + _DISTILLATION_PARAMETERS_DOC.format(teacher="the dense network trained first")
)

# How ``fit`` of both pruned networks proceeds, for their class docstrings.
_PRUNED_FIT_DOC = """
    ``fit`` trains the dense network for ``max_iter`` epochs, then prunes it
    along ``schedule`` in ``n_pruning_steps`` steps, fine-tuning for
    ``finetune_iter`` epochs after each, so the last step is always training.
    Pruned weights are exactly zero.
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
    n_epochs_total_ : int
        Epochs (iterations with lbfgs) of the whole fit: the dense training
        (of the given network for :class:`MLPPruner`) and every fine-tuning
        step, the sum of ``pruning_history_["n_iter"]``.
    sparse_coefs_ : list of scipy.sparse.csr_matrix
        ``coefs_`` as CSR matrices, in the network's dtype. Predictions do
        not use ``coefs_`` but an inference plan built at the end of ``fit``:
        the network without the hidden units that cannot change the output,
        each weight matrix multiplied as a CSR or a dense matrix, whichever
        is faster for the batch size. A pickled (or joblib, or skops) model
        stores only the unpruned weights and their positions, without the
        optimizer state; ``coefs_`` and ``masks_`` come back exactly when it
        is loaded, the training state when it is next trained or pruned. See
        the user guide, "Fast prediction and compact pruned models".
"""


class _PrunedMLPMixin:
    """Train, prune along a schedule and fine-tune; shared by both estimators."""

    _pruning_constraints: dict = {
        "sparsity": [Interval(Real, 0, 1, closed="left")],
        "criterion": "no_validation",
        "pattern": [StrOptions({"unstructured", "block", "neuron", "n:m"})],
        "scope": [StrOptions({"global", "layer"}), None],
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

    @contextlib.contextmanager
    def _distillation(self):
        """Distil from the current network while the block runs.

        With ``distillation_weight > 0`` the network as it is when the block
        starts is the teacher of every training inside it.
        """
        if self.distillation_weight > 0:
            self._set_teacher(self.coefs_, self.intercepts_)
        try:
            yield
        finally:
            self.__dict__.pop("_teacher", None)
            self.__dict__.pop("_output_logits", None)

    def _distilling(self):
        return (
            self.distillation_weight > 0 and getattr(self, "_teacher", None) is not None
        )

    def _teacher_logits(self, X):
        coefs, intercepts = self._teacher
        return forward_pass(X, coefs, intercepts, self.activation)

    def _see_output_preactivation(self, z):
        """Keep the student's output pre-activation for the distillation loss."""
        if self._distilling():
            self._output_logits = z.copy()

    def _output_loss_and_delta(self, X, y, y_pred, sample_weight):
        """Task loss mixed with the distillation term while a teacher is set."""
        loss, delta = super()._output_loss_and_delta(X, y, y_pred, sample_weight)
        if not self._distilling():
            return loss, delta
        if is_classifier(self):
            return self._distilled_from_logits(X, y_pred, sample_weight, loss, delta)
        return self._distilled_from_outputs(X, y_pred, sample_weight, loss, delta)

    def _distilled_from_logits(self, X, y_pred, sample_weight, loss, delta):
        """Log-loss mixed with the KL divergence to the teacher's tempered outputs."""
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

    def _distilled_from_outputs(self, X, y_pred, sample_weight, loss, delta):
        """Task loss mixed with the same loss to the teacher's outputs."""
        h = self.distillation_weight
        y_teacher = ACTIVATIONS[self.out_activation_](self._teacher_logits(X))
        teacher_loss, teacher_delta = super()._output_loss_and_delta(
            X, y_teacher, y_pred, sample_weight
        )
        return (1 - h) * loss + h * teacher_loss, (1 - h) * delta + h * teacher_delta

    def _check_pruning_params(self, X, y, sparsity):
        """Check the pruning parameters against ``sparsity`` and the data.

        Before any training: the shapes of the network come from ``X``, ``y``
        and ``hidden_layer_sizes``.
        """
        check_pruning_parameters(
            self.get_params(deep=False), planned_coef_shapes(self, X, y), sparsity
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
        sizes = self.__dict__.get("_sizes_as_built")
        if sizes is not None:
            return sizes
        return [mask.size for mask in self.masks_]

    def _prunable_counts(self):
        sizes = self._built_sizes()
        layers = self._prunable_coef_layers()
        n_total = sum(sizes[layer] for layer in layers)
        n_alive = sum(np.count_nonzero(self.masks_[layer]) for layer in layers)
        return n_total, n_total - n_alive

    def _fit(self, X, y, sample_weight=None, incremental=False, settings=None):
        resuming = incremental or (settings or self._training_settings()).warm_start
        if "_sizes_as_built" in self.__dict__:
            if resuming:
                raise ValueError(
                    "The hidden layers were shrunk by neuron pruning, so training "
                    "cannot resume from them: set warm_start=False and call fit."
                )
            del self._sizes_as_built  # a new network is built
        super()._fit(
            X, y, sample_weight=sample_weight, incremental=incremental,
            settings=settings,
        )
        # Predictions follow the weights training leaves.
        self._build_inference_plan()
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc(fit_parameters=FIT_PARAMETERS_DOC, returns_self=RETURNS_SELF_DOC)
    def fit(self, X, y, sample_weight=None):
        """Train the dense network, then prune and fine-tune it.

        With ``warm_start=True`` the dense phase resumes from the current
        weights and masks, and the schedule starts from their sparsity.

        {fit_parameters}

        {returns_self}
        """
        self._check_pruning_params(X, y, self.sparsity)
        run = PruningRun(self, X, y, sample_weight)
        run.train_dense()
        run.prune_along(schedule_targets(self, self.sparsity))
        return run.finish(self.sparsity)

    def _finish_fit(self, history, removes_units):
        """Derive the fitted attributes once the last fine-tuning is done.

        ``history`` is the run's; with ``removes_units`` pruned hidden units
        are dropped from the stored layers.
        """
        self.pruning_history_ = {
            key: np.asarray(values) for key, values in history.items()
        }
        self.n_epochs_total_ = int(self.pruning_history_["n_iter"].sum())
        self._set_size_attributes()
        if removes_units:
            self._shrink_hidden_layers()
        self.n_units_ = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        self._build_inference_plan()
        return self

    def _set_size_attributes(self):
        n_weights = sum(self._built_sizes())
        self.n_nonzero_ = int(sum(np.count_nonzero(coef) for coef in self.coefs_))
        ratio = n_weights / self.n_nonzero_ if self.n_nonzero_ else np.inf
        self.compression_ratio_ = float(ratio)
        self.theoretical_speedup_ = float(ratio)

    def _shrink_hidden_layers(self):
        """Remove pruned hidden units from the stored layers.

        A unit whose bias is pruned has zero incoming weights, bias and
        outgoing weights, so removing it leaves every prediction unchanged.
        """
        sizes = [mask.size for mask in self.masks_]
        shrunk = False
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
            shrunk = True
        if shrunk:
            self._sizes_as_built = sizes
            self._reset_training_state()
            self.__dict__.pop("_optimizer", None)

    # ------------------------------------------------------------------
    # Inference plan and storage (see skprune.neural._inference)
    # ------------------------------------------------------------------

    def _build_inference_plan(self, coefs=None):
        """Build the plan that predictions go through from the current weights.

        Training (each call of the solver) and each pruning step end with it,
        so the plan always describes the current weights; scoring during
        training goes through the dense training pass. Call it after changing
        ``coefs_`` or ``intercepts_`` by hand. ``coefs`` stands for ``coefs_``
        when given.
        """
        self._inference_plan = InferencePlan(
            self.coefs_ if coefs is None else coefs,
            self.intercepts_,
            self.activation,
            self.out_activation_,
        )
        return self._inference_plan

    def _after_pruning(self):
        super()._after_pruning()
        self._build_inference_plan()

    def _check_fitted_for_prediction(self):
        # Only a fitted network has a plan; check_is_fitted costs more than
        # the forward pass of a small network on one sample.
        if "_inference_plan" not in self.__dict__:
            super()._check_fitted_for_prediction()

    def _forward_pass_fast(self, X, check_input=True):
        """Output of the network, through the inference plan.

        With ``check_input=False`` (scoring while the weights are being
        trained) the dense training pass is used: the plan describes the
        weights of the last finished operation.
        """
        if not check_input:
            return super()._forward_pass_fast(X, check_input=False)
        plan = self.__dict__.get("_inference_plan")
        if plan is None or plan.activation != self.activation:
            # Unfitted, or ``activation`` set since: check and build.
            check_is_fitted(self)
            plan = self._build_inference_plan()
        if self._is_plain_input(X, plan):
            # Checked for NaN and infinity by the plan as it reads X.
            y = plan.predict(X, check_finite=True)
            if y is not None:
                return y
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return plan.predict(X)

    def _is_plain_input(self, X, plan):
        """Whether ``X`` needs no ``validate_data`` but for NaN and infinity.

        A non-empty, 2-D float ndarray of the right width, for an estimator
        fitted without feature names, skips ``validate_data`` and its fixed
        cost; anything else goes through it, which raises its usual errors.
        """
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype.kind == "f"
            and X.shape[0] > 0
            and X.shape[1] == plan.n_features_in
            and "feature_names_in_" not in self.__dict__
        )

    @property
    def sparse_coefs_(self):
        """``coefs_`` as ``scipy.sparse.csr_matrix``, in the network's dtype."""
        check_is_fitted(self, "n_layers_")
        return [sparse.csr_matrix(coef) for coef in self.coefs_]

    def __getstate__(self):
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
        for key in _CURVES:
            if isinstance(state.get(key), list):
                state[key] = np.asarray(state[key], dtype=np.float64)
        state[_STORAGE_KEY] = {
            "format": STORAGE_FORMAT,
            "skprune_version": __version__,
        }
        return stored_state(state)

    def __setstate__(self, state):
        state = loaded_state(state)
        storage = state.pop(_STORAGE_KEY, None)
        if storage is not None and storage.get("format") not in READABLE_FORMATS:
            raise ValueError(
                f"This {type(self).__name__} was stored in format "
                f"{storage.get('format')} by skprune "
                f"{storage.get('skprune_version')}, but skprune {__version__} "
                f"reads format {' or '.join(map(str, READABLE_FORMATS))}: load it "
                f"with skprune {storage.get('skprune_version')} or fit it again."
            )
        if state.pop("_shrunk", None) is False:
            # Stored before only shrunk networks kept their sizes as built.
            state.pop("_sizes_as_built", None)
        packed = state.pop("_packed_weights", None)
        for key in _CURVES:
            if isinstance(state.get(key), np.ndarray):
                state[key] = state[key].tolist()
        super().__setstate__(state)
        if packed is not None:
            self._unpack_stored_weights(packed)
        if "coefs_" in self.__dict__:
            self._build_inference_plan()

    def _unpack_stored_weights(self, packed):
        """The weights and masks as stored.

        The training state starts afresh when the network is next trained or
        pruned, so that a loaded model holds what prediction needs.
        """
        self.coefs_, self.masks_ = unpack_weights(packed["coefs"])
        self.intercepts_ = [np.array(b) for b in self.intercepts_]
        self.intercept_masks_ = [
            np.unpackbits(bits, count=len(b)).astype(bool)
            for bits, b in zip(packed["intercept_masks"], self.intercepts_)
        ]


# Lists of floats, one per epoch, stored as one array each (skops would store
# every float as a node of its own).
_CURVES = ("loss_curve_", "validation_scores_")

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
_STORAGE_KEY = "_skprune_storage"


def _pruned_class_doc(kind, distillation, example):
    """The docstring of the pruned network of ``kind``, "classifier" or "regressor".

    ``distillation`` tells what the distillation loss is for this kind.
    """
    other, task = ("Regressor", "regression")
    if kind == "regressor":
        other, task = ("Classifier", "classification")
    return network_class_doc(
        kind,
        f"""Multilayer perceptron {kind} pruned to a target sparsity.
{_PRUNED_FIT_DOC}{distillation}""",
        f"""
    See Also
    --------
    PrunableMLP{kind.capitalize()} : The network pruned by hand with :meth:`prune`.
    PrunedMLP{other} : The {task} counterpart.

    Examples
    --------
{example}""",
        parameters=_PRUNED_PARAMETERS_DOC,
        attributes=_PRUNED_ATTRIBUTES_DOC,
    )


class PrunedMLPClassifier(_PrunedMLPMixin, PrunableMLPClassifier):
    __doc__ = _pruned_class_doc(
        "classifier",
        """
    With ``distillation_weight=h > 0`` the fine-tuning loss is
    ``(1 - h) * log_loss + h * T**2 * KL(p_teacher || p_student)`` where
    ``p = softmax(z / T)`` of the output pre-activations ``z`` and the
    teacher is the dense network. Binary and multilabel outputs are
    logistic: each output then contributes the KL divergence of its two-class
    distribution ``(sigmoid(z / T), 1 - sigmoid(z / T))``, summed over
    outputs like the log-loss.
""",
        """    The gradual schedule reaches 80% sparsity in three steps, each followed
    by fine-tuning; step 0 is the dense network:

    >>> from sklearn.datasets import make_classification
    >>> from skprune.neural import PrunedMLPClassifier
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = PrunedMLPClassifier(hidden_layer_sizes=(16,), sparsity=0.8,
    ...                           max_iter=1000, n_pruning_steps=3,
    ...                           finetune_iter=5, random_state=0).fit(X, y)
    >>> clf.pruning_history_["target_sparsity"].round(2).tolist()
    [0.0, 0.56, 0.77, 0.8]
    """,
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
        scope=None,
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


class PrunedMLPRegressor(_PrunedMLPMixin, PrunableMLPRegressor):
    __doc__ = _pruned_class_doc(
        "regressor",
        """
    With ``distillation_weight=h > 0`` the fine-tuning loss is
    ``(1 - h) * loss(y, y_student) + h * loss(y_teacher, y_student)``, the
    teacher being the dense network: for ``loss="squared_error"`` the second
    term is the (half) mean squared error to the teacher's output, for
    ``loss="poisson"`` the Poisson deviance to the teacher's mean.
    ``temperature`` is not used.
""",
        """    Neuron pruning removes whole hidden units, so the stored network is
    narrower:

    >>> from sklearn.datasets import make_regression
    >>> from skprune.neural import PrunedMLPRegressor
    >>> X, y = make_regression(n_samples=100, n_features=5, random_state=0)
    >>> reg = PrunedMLPRegressor(hidden_layer_sizes=(16,), sparsity=0.5,
    ...                          pattern="neuron", solver="lbfgs", max_iter=1000,
    ...                          random_state=0).fit(X, y)
    >>> reg.n_units_
    [5, 8, 1]
    """,
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
        scope=None,
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
        self.loss = loss
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
