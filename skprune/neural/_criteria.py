"""Importance criteria that rank the weights of a network for pruning.

A criterion is a :class:`PruningCriterion`: its :meth:`~PruningCriterion.score`
receives a :class:`PruningContext` and returns one score array per weight
matrix (higher is more important), optionally with one per intercept vector.
The context gives access to the estimator, the data passed to ``prune`` and,
computed lazily and cached, the gradient of the training objective, the
per-sample factors of the gradient and the diagonal of the empirical Fisher
information. A criterion that moves the remaining weights after pruning (as
Optimal Brain Surgeon does) overrides :meth:`~PruningCriterion.compensate`.

Criteria are looked up by name in a registry; :func:`register_criterion` adds
new ones.
"""

from typing import NamedTuple

import numpy as np
from scipy import sparse


class PruningContext:
    """Everything a criterion may use to score the weights of a network.

    Parameters
    ----------
    estimator : BasePrunableMLP
        The fitted network being pruned. Criteria must not modify it.
    X : ndarray or sparse matrix of shape (n_samples, n_features) or None
        Validated data passed to ``prune``, in the dtype of the network.
    y : ndarray of shape (n_samples, n_outputs) or None
        Targets encoded as the network sees them (binarized for classifiers).
    sample_weight : ndarray of shape (n_samples,) or None
        Sample weights.
    prunable_layers : list of int
        Indices into ``coefs_`` of the layers that may be pruned.
    step : PruningStep or None, default=None
        What the step being scored removes, for criteria that choose the
        weights while they compensate (SparseGPT); None outside ``prune``.
    """

    def __init__(self, estimator, X, y, sample_weight, prunable_layers, step=None):
        self.estimator = estimator
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.prunable_layers = prunable_layers
        self.step = step
        self._cache = {}

    @property
    def coefs(self):
        """The network's weight matrices."""
        return self.estimator.coefs_

    @property
    def intercepts(self):
        """The network's intercept vectors."""
        return self.estimator.intercepts_

    @property
    def masks(self):
        """Weight masks, False where pruned.

        Those before the step in :meth:`PruningCriterion.score`, the shrunk
        ones in :meth:`PruningCriterion.compensate`.
        """
        return self.estimator.masks_

    @property
    def intercept_masks(self):
        """Intercept masks, False where a hidden unit is pruned."""
        return self.estimator.intercept_masks_

    def require_data(self, name):
        """Raise a ValueError when ``prune`` was called without data.

        Parameters
        ----------
        name : str
            Name of the criterion, for the message.
        """
        if self.X is None:
            raise ValueError(
                f"The {name!r} criterion needs data: call prune(X, y, ...)."
            )

    def _sum_of_weights(self):
        if self.sample_weight is None:
            return self.X.shape[0]
        return self.sample_weight.sum()

    def gradients(self):
        """Gradient of the training objective on ``(X, y)``.

        Returns
        -------
        coef_grads : list of ndarray
            Gradient with respect to each weight matrix, zero where pruned.
        intercept_grads : list of ndarray
            Gradient with respect to each intercept vector, zero where pruned.
        """
        if "gradients" not in self._cache:
            self.require_data("gradient-based")
            _, coef_grads, intercept_grads = self.estimator._objective_gradient(
                self.X, self.y, self.sample_weight
            )
            self._cache["gradients"] = (coef_grads, intercept_grads)
        return self._cache["gradients"]

    def layer_inputs_and_deltas(self):
        """Per-sample factors of the gradient of the data loss.

        The gradient of sample ``s``'s own loss with respect to ``coefs_[i]``
        is ``np.outer(inputs[i][s], deltas[i][s])`` and with respect to
        ``intercepts_[i]`` it is ``deltas[i][s]``. Per-sample gradients,
        Fisher blocks and Gauss-Newton curvature are built from these factors
        without materialising them for all layers at once.

        Returns
        -------
        inputs : list of ndarray or sparse matrix
            ``inputs[i]`` of shape (n_samples, fan_in) feeds ``coefs_[i]``.
        deltas : list of ndarray
            ``deltas[i]`` of shape (n_samples, fan_out), unweighted.
        """
        if "factors" not in self._cache:
            self.require_data("per-sample")
            self._cache["factors"] = self.estimator._per_sample_deltas(self.X, self.y)
        return self._cache["factors"]

    def per_sample_gradients(self, layer):
        """Per-sample gradients of the data loss for one weight matrix.

        Parameters
        ----------
        layer : int
            Index into ``coefs_``.

        Returns
        -------
        grads : ndarray of shape (n_samples, fan_in, fan_out)
            Unweighted, not including the L2 penalty.
        """
        inputs, deltas = self.layer_inputs_and_deltas()
        layer_input = inputs[layer]
        if sparse.issparse(layer_input):
            layer_input = layer_input.toarray()
        return np.einsum("si,so->sio", layer_input, deltas[layer])

    def fisher_diagonal(self):
        """Diagonal of the empirical Fisher information of every weight matrix.

        The weighted mean over samples of the squared per-sample gradients.

        Returns
        -------
        fisher : list of ndarray
            One array per weight matrix, of the matrix's shape.
        """
        if "fisher" not in self._cache:
            inputs, deltas = self.layer_inputs_and_deltas()
            weights = self.sample_weight
            fisher = []
            for layer_input, delta in zip(inputs, deltas):
                squared_delta = delta**2
                if weights is not None:
                    squared_delta *= weights[:, np.newaxis]
                if sparse.issparse(layer_input):
                    squared_input = layer_input.multiply(layer_input).tocsr()
                else:
                    squared_input = layer_input**2
                fisher.append(
                    np.asarray(squared_input.T @ squared_delta) / self._sum_of_weights()
                )
            self._cache["fisher"] = fisher
        return self._cache["fisher"]


class PruningStep(NamedTuple):
    """What one pruning step removes: the arguments of ``pattern.select``.

    Attributes
    ----------
    pattern : PruningPattern
    targets : list of int
        What the pattern's groups are indexed within.
    amount : int or float or list of int or None
        The step's ``amount``, as :meth:`PruningPattern.select` takes it.
    scope : {"global", "layer"}
    """

    pattern: object
    targets: list
    amount: object
    scope: str


class PruningCriterion:
    """Base class of the pruning criteria.

    Subclasses implement :meth:`score`; those that also update the remaining
    weights after a pruning step implement :meth:`compensate`.

    Attributes
    ----------
    finetuning_scope : {"global", "layer"}
        The scope the pruned estimators use with this criterion when their
        ``scope`` is None: a schedule with fine-tuning between the steps may
        call for another allocation across layers than one-shot pruning.
    """

    finetuning_scope = "global"

    def score(self, context):
        """Importance of every weight, higher is more important.

        Parameters
        ----------
        context : PruningContext
            The network, the data and lazily computed derived quantities.

        Returns
        -------
        scores : list of ndarray or tuple of two lists
            One array per weight matrix with the matrix's shape, or a pair
            ``(coef_scores, intercept_scores)``. Intercept scores are used by
            structured patterns whose groups contain intercepts (hidden
            units); when absent intercepts add nothing to a group's score.
        """
        raise NotImplementedError

    def group_scores(self, context, pattern, target, coef_scores, intercept_scores):
        """Score of every group of a pattern's target, higher is more important.

        By default the pattern combines the per-weight scores (a sum over
        each group). Criteria that estimate the effect of removing a group
        jointly (Optimal Brain Surgeon) override it, using
        ``pattern.group_labels``.

        Parameters
        ----------
        context : PruningContext
        pattern : PruningPattern
        target : int
            One of ``pattern.targets``.
        coef_scores, intercept_scores : list of ndarray or None
            What :meth:`prepare_scores` returned.

        Returns
        -------
        scores : ndarray
            What ``pattern.group_scores`` returns for ``target``.
        """
        return pattern.group_scores(
            context.estimator, target, coef_scores, intercept_scores
        )

    def compensate(self, context, old_masks):
        """Updates to add to the parameters after the masks were shrunk.

        Called once the new masks are set on the estimator and before pruned
        parameters are zeroed; updates to pruned entries are discarded.

        Parameters
        ----------
        context : PruningContext
            The context given to :meth:`score`.
        old_masks : list of ndarray of bool
            Masks of the coefficients then the intercepts before this step.

        Returns
        -------
        updates : list of (ndarray or None) or None
            One update per parameter (coefficients then intercepts), or None
            to leave the weights as they are.
        """
        return None

    def prepare_scores(self, context):
        """Call :meth:`score` and check what it returns.

        Returns
        -------
        coef_scores : list of ndarray
        intercept_scores : list of ndarray or None
        """
        scores = self.score(context)
        if isinstance(scores, tuple) and len(scores) == 2:
            coef_scores, intercept_scores = scores
        else:
            coef_scores, intercept_scores = scores, None
        coef_scores = _check_score_shapes(coef_scores, context.coefs, "weight")
        if intercept_scores is not None:
            intercept_scores = _check_score_shapes(
                intercept_scores, context.intercepts, "intercept"
            )
        return coef_scores, intercept_scores


def _check_score_shapes(scores, params, what):
    try:
        scores = [np.asarray(score, dtype=np.float64) for score in scores]
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"A criterion must return one array of numbers per layer as its "
            f"{what} scores; got {type(scores).__name__}: {exc}"
        ) from exc
    if len(scores) != len(params) or any(
        score.shape != param.shape for score, param in zip(scores, params)
    ):
        raise ValueError(
            f"A criterion must return one {what} score array per layer, shaped "
            f"like the layer's parameters {[p.shape for p in params]}; got "
            f"{[s.shape for s in scores]}."
        )
    if any(np.isnan(score).any() for score in scores):
        raise ValueError(f"The criterion returned NaN {what} scores.")
    return scores


class MagnitudeCriterion(PruningCriterion):
    """Absolute value of each weight and intercept."""

    def score(self, context):
        return (
            [np.abs(coef) for coef in context.coefs],
            [np.abs(intercept) for intercept in context.intercepts],
        )


class TaylorCriterion(PruningCriterion):
    """First-order Taylor importance ``(g * w) ** 2``.

    ``g`` is the gradient of the training objective on the data passed to
    ``prune``. Structured patterns sum it over each group, which is the group
    importance of Molchanov et al. (2019).

    References
    ----------
    Molchanov, P., Mallya, A., Tyree, S., Frosio, I. and Kautz, J. (2019).
    Importance estimation for neural network pruning. CVPR.
    """

    def score(self, context):
        context.require_data("taylor")
        coef_grads, intercept_grads = context.gradients()
        return (
            [(g * w) ** 2 for g, w in zip(coef_grads, context.coefs)],
            [(g * b) ** 2 for g, b in zip(intercept_grads, context.intercepts)],
        )


class MovementCriterion(PruningCriterion):
    """Movement importance ``S = -sum_t g_t * w_t`` (Sanh et al., 2020).

    Accumulated by the estimator over every optimizer step (every gradient
    evaluation with lbfgs) of ``fit`` and ``partial_fit`` since the network
    was initialised or last pruned; each pruning step resets it to zero.
    Weights moving away from zero score high.

    References
    ----------
    Sanh, V., Wolf, T. and Rush, A. M. (2020). Movement pruning: adaptive
    sparsity by fine-tuning. NeurIPS.
    """

    def score(self, context):
        scores = context.estimator._movement_scores
        n_coefs = len(context.coefs)
        coef_scores = [s.copy() for s in scores[:n_coefs]]
        return coef_scores, [s.copy() for s in scores[n_coefs:]]


class _CallableCriterion(PruningCriterion):
    def __init__(self, function):
        self.function = function

    def score(self, context):
        return self.function(context)


_CRITERIA = {
    "magnitude": MagnitudeCriterion(),
    "taylor": TaylorCriterion(),
    "movement": MovementCriterion(),
}


def register_criterion(name, criterion, *, overwrite=False):
    """Make a criterion available to ``prune`` under a name.

    Parameters
    ----------
    name : str
        Name passed as ``prune(criterion=name)``.
    criterion : PruningCriterion or callable
        The criterion, or a function taking a :class:`PruningContext` and
        returning what :meth:`PruningCriterion.score` returns.
    overwrite : bool, default=False
        Whether to replace a criterion already registered under ``name``.
    """
    if not isinstance(name, str):
        raise TypeError(f"A criterion name must be a str, got {name!r}.")
    if not name.strip():
        raise ValueError(f"A criterion name must not be blank, got {name!r}.")
    if name in _CRITERIA and not overwrite:
        raise ValueError(
            f"A criterion named {name!r} is already registered; pass "
            "overwrite=True to replace it."
        )
    _CRITERIA[name] = _as_criterion(criterion)


def _as_criterion(criterion):
    if isinstance(criterion, PruningCriterion):
        return criterion
    if callable(criterion):
        return _CallableCriterion(criterion)
    raise TypeError(
        "criterion must be a registered name, a PruningCriterion or a callable, "
        f"got {criterion!r}."
    )


def resolve_criterion(criterion):
    """The criterion object named or given by ``criterion``.

    Parameters
    ----------
    criterion : str or PruningCriterion or callable

    Returns
    -------
    criterion : PruningCriterion
        Its parameters checked, when it declares ``_parameter_constraints``
        (a scikit-learn estimator): a bad one raises an error naming it.
    """
    if isinstance(criterion, str):
        if criterion not in _CRITERIA:
            raise ValueError(
                f"Unknown criterion {criterion!r}; expected one of "
                f"{sorted(_CRITERIA)} or a PruningCriterion."
            )
        criterion = _CRITERIA[criterion]
    criterion = _as_criterion(criterion)
    if hasattr(criterion, "_parameter_constraints"):
        criterion._validate_params()
    return criterion
