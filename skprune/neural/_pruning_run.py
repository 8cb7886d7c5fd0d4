"""One pruning fit of a network, steered by a small controller.

Every pruned network of skprune is fitted the same way: the dense network is
trained (or taken as given), then pruned step by step to the target sparsities
of a schedule, fine-tuned after every step, and its fitted attributes are
derived at the end. :class:`PruningRun` does this for
``PrunedMLPClassifier.fit``, ``PrunedMLPRegressor.fit``, ``MLPPruner.fit``,
:func:`~skprune.neural.sparsity_path` and the CV estimators; state that lasts
only for one fit (the random stream, the history) lives in the run.

Before any training :func:`check_pruning_parameters` rejects settings that
cannot prune, from the shapes the network will have.

Schedules, as fractions of the prunable weights that are zero after step
``t = 1, ..., n``:

- ``"oneshot"``: ``s`` at once (``n = 1``).
- ``"iterative"`` (Han et al., 2015): the same fraction
  ``1 - (1 - s) ** (1 / n)`` of the remaining weights at every step, so that
  ``s_t = 1 - (1 - s) ** (t / n)``.
- ``"gradual"`` (Zhu and Gupta, 2017):
  ``s_t = s + (s_i - s) * (1 - t / n) ** 3``.
"""

import copy
import warnings
from itertools import pairwise

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ..utils._sklearn import Interval, StrOptions, validate_params
from ._criteria import resolve_criterion
from ._multilayer_perceptron import (
    TrainingSettings,
    hidden_layer_sizes_of,
    prunable_layer_indices,
)
from ._patterns import resolve_pattern

HISTORY_KEYS = (
    "step",
    "target_sparsity",
    "sparsity",
    "loss",
    "n_iter",
    "validation_score",
)

# Training state a fitted snapshot does not need.
_TRAINING_ONLY = ("_teacher", "_output_logits", "_optimizer", "_inference_plan")


@validate_params(
    {
        "schedule": [StrOptions({"oneshot", "iterative", "gradual"})],
        "sparsity": [Interval(Real, 0, 1, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "initial_sparsity": [Interval(Real, 0, 1, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
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
        Starting point ``s_i`` of ``"gradual"``, at most ``sparsity``.

    Returns
    -------
    targets : ndarray of shape (n_steps,)
        Non-decreasing targets, the last one equal to ``sparsity``.
    """
    if initial_sparsity > sparsity:
        raise ValueError(
            f"initial_sparsity={initial_sparsity} must not exceed "
            f"sparsity={sparsity}: the targets of a schedule never decrease."
        )
    if schedule == "oneshot":
        return np.array([float(sparsity)])
    t = np.arange(1, n_steps + 1) / n_steps
    if schedule == "iterative":
        targets = 1.0 - (1.0 - sparsity) ** t
    else:
        targets = sparsity + (initial_sparsity - sparsity) * (1.0 - t) ** 3
    targets[-1] = sparsity
    return targets


def epoch_verbose(network):
    """Whether the solver prints every epoch: from ``verbose >= 2`` in a pruning fit."""
    return network.verbose >= 2


def pattern_of(network):
    """The pattern object named by the pruning parameters of ``network``."""
    return resolve_pattern(
        network.pattern, block_shape=network.block_shape, n=network.n, m=network.m
    )


def schedule_targets(network, sparsity):
    """Target sparsity after each pruning step of ``network`` towards ``sparsity``.

    A pattern that fixes the sparsity reaches it in one step.
    """
    if sparsity == 0:
        return np.empty(0)
    schedule = network.schedule
    if pattern_of(network).fixed_sparsity is not None:
        schedule = "oneshot"
    return sparsity_schedule(
        schedule, sparsity, network.n_pruning_steps, network.initial_sparsity
    )


def planned_coef_shapes(estimator, X, y):
    """Shapes of the weight matrices that fitting ``estimator`` on ``(X, y)`` gives.

    With ``warm_start`` and a fitted network they are its current shapes.
    Raises the errors of ``fit`` on invalid data.
    """
    if estimator.warm_start and hasattr(estimator, "coefs_"):
        return [coef.shape for coef in estimator.coefs_]
    hidden = hidden_layer_sizes_of(estimator.hidden_layer_sizes)
    X, y = clone(estimator)._validate_input(
        X, y, incremental=False, reset=True, warm_start=False
    )
    n_outputs = 1 if y.ndim == 1 else y.shape[1]
    return list(pairwise([X.shape[1], *hidden, n_outputs]))


def check_pruning_parameters(params, coef_shapes, sparsity):
    """Raise a ValueError naming the parameter that makes pruning impossible.

    Parameters
    ----------
    params : dict
        The pruning parameters (``criterion``, ``pattern``, ``block_shape``,
        ``n``, ``m``, ``initial_sparsity``, ``prunable_layers``).
    coef_shapes : list of tuple of (int, int)
        Shapes of the weight matrices, see :func:`planned_coef_shapes`.
    sparsity : float
        The largest sparsity the fit will prune to.
    """
    resolve_criterion(params["criterion"])
    pattern = resolve_pattern(
        params["pattern"], block_shape=params["block_shape"], n=params["n"],
        m=params["m"],
    )
    if params["initial_sparsity"] > sparsity:
        raise ValueError(
            f"initial_sparsity={params['initial_sparsity']} must not exceed "
            f"sparsity={sparsity}."
        )
    pattern.check_sparsity(sparsity)
    if sparsity == 0:
        return
    layers = prunable_layer_indices(params["prunable_layers"], len(coef_shapes))
    if not layers:
        raise ValueError(
            f"sparsity={sparsity} needs a prunable weight matrix, but "
            f"prunable_layers={params['prunable_layers']!r} leaves none of the "
            f"{len(coef_shapes)} weight matrices prunable."
        )
    pattern.check_layers(coef_shapes, layers)


def pruning_scope(scope, criterion):
    """The scope of the pruning steps: ``scope``, or the criterion's choice when None.

    Parameters
    ----------
    scope : {"global", "layer"} or None
    criterion : str or PruningCriterion or callable

    Returns
    -------
    scope : {"global", "layer"}
        ``scope``, or the ``finetuning_scope`` of the criterion.
    """
    if scope is not None:
        return scope
    return resolve_criterion(criterion).finetuning_scope


class PruningRun:
    """Steers one pruning fit of a network.

    Parameters
    ----------
    network : PrunedMLPClassifier or PrunedMLPRegressor
        Trained and pruned in place. Its pruning parameters (pattern,
        criterion, schedule, ``finetune_iter``, distillation) steer the run;
        its ``sparsity`` does not: targets are given to :meth:`prune_along`.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.

    Attributes
    ----------
    random_state : numpy.random.RandomState
        The one random stream of the dense training and all fine-tuning.
    history : dict of list
        One entry per step, step 0 being the dense network.
    """

    def __init__(self, network, X, y, sample_weight=None):
        self.network = network
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.pattern = pattern_of(network)
        self.criterion = network.criterion
        self.scope = pruning_scope(network.scope, network.criterion)
        self.random_state = check_random_state(network.random_state)
        self.history = {key: [] for key in HISTORY_KEYS}

    def branch(self, criterion=None):
        """An independent run from a copy of the network as it is now.

        The copy continues the same random stream and history, so pruning it
        gives what this run would; the pruning steps of the branch use
        ``criterion`` (a :class:`PruningCriterion`) when given.
        """
        branch = copy.copy(self)
        branch.network = copy.deepcopy(self.network)
        branch.random_state = copy.deepcopy(self.random_state)
        branch.history = copy.deepcopy(self.history)
        if criterion is not None:
            branch.criterion = criterion
        return branch

    def train_dense(self):
        """Train the dense network and record it as step 0."""
        network = self.network
        settings = network._training_settings()._replace(
            random_state=self.random_state, verbose=epoch_verbose(network)
        )
        network._fit(self.X, self.y, self.sample_weight, settings=settings)
        self.record(0, 0.0)
        self.report("dense network")

    def start_from_trained(self):
        """Record the network as it is, already trained, as step 0."""
        self.record(0, 0.0)
        self.report("trained network")

    def prune_along(self, targets, on_step=None):
        """Prune to each target sparsity in turn, fine-tuning after every step.

        ``on_step(target)``, if given, is called after each fine-tuning.
        """
        if len(targets) == 0:
            return
        network = self.network
        # A fixed budget: lbfgs would otherwise stop at once after a small step.
        fine_tuning = TrainingSettings(
            max_iter=network.finetune_iter,
            tol=0.0,
            warm_start=True,
            random_state=self.random_state,
            verbose=epoch_verbose(network),
            warn_convergence=False,
        )
        step = self.history["step"][-1]
        n_steps = step + len(targets)
        with network._distillation():
            for target in targets:
                step += 1
                self.prune_to(target)
                network._fit(self.X, self.y, self.sample_weight, settings=fine_tuning)
                self.record(step, target)
                self.report(f"step {step} of {n_steps}")
                if on_step is not None:
                    on_step(target)

    def prune_to(self, target):
        """One pruning step bringing the sparsity to ``target``."""
        network = self.network
        n_total, n_pruned = network._prunable_counts()
        amount = self.pattern.amount_to(target, n_total, n_pruned, self.scope)
        if amount == 0:
            return
        network.prune(
            self.X,
            self.y,
            amount=amount,
            criterion=self.criterion,
            pattern=network.pattern,
            scope=self.scope,
            block_shape=tuple(network.block_shape),
            n=network.n,
            m=network.m,
            sample_weight=self.sample_weight,
        )

    def record(self, step, target):
        """Append the network's current state to the history."""
        network = self.network
        validation = getattr(network, "best_validation_score_", None)
        self.history["step"].append(step)
        self.history["target_sparsity"].append(float(target))
        self.history["sparsity"].append(network.sparsity_)
        self.history["loss"].append(float(network.loss_))
        self.history["n_iter"].append(int(network.n_iter_))
        self.history["validation_score"].append(
            np.nan if validation is None else float(validation)
        )

    def report(self, what):
        """Print the last recorded step if the network is verbose."""
        if not self.network.verbose:
            return
        history = {key: values[-1] for key, values in self.history.items()}
        line = (
            f"[{type(self.network).__name__}] {what}: target sparsity "
            f"{history['target_sparsity']:.4f}, sparsity {history['sparsity']:.4f}, "
            f"loss {history['loss']:.6f}, {history['n_iter']} epochs"
        )
        if not np.isnan(history["validation_score"]):
            line += f", validation score {history['validation_score']:.4f}"
        print(line, flush=True)

    def snapshot(self, sparsity):
        """A fitted copy of the network as it is now; the run goes on.

        The copy's ``sparsity`` is the target just reached.
        """
        network = self.network
        snapshot = clone(network)
        snapshot.__dict__.update(
            {
                key: copy.deepcopy(value)
                for key, value in network.__dict__.items()
                if key not in _TRAINING_ONLY
            }
        )
        snapshot.sparsity = float(sparsity)
        return snapshot._finish_fit(
            copy.deepcopy(self.history), self.pattern.removes_units
        )

    def finish(self, sparsity):
        """Derive the network's fitted attributes once ``sparsity`` is reached."""
        self.warn_if_inexact(sparsity)
        return self.network._finish_fit(self.history, self.pattern.removes_units)

    def warn_if_inexact(self, sparsity):
        """Warn when the achieved sparsity is more than a weight off ``sparsity``."""
        if sparsity == 0:
            return
        network = self.network
        n_total, n_pruned = network._prunable_counts()
        if network.warm_start and n_pruned > sparsity * n_total + 1:
            warnings.warn(
                f"Requested sparsity={sparsity:g} is below the sparsity "
                f"{n_pruned / n_total:g} that warm_start resumed from; masks only "
                "shrink, so it is kept. Set warm_start=False to prune less.",
                UserWarning,
                stacklevel=4,
            )
        elif abs(n_pruned - sparsity * n_total) > 1:
            warnings.warn(
                f"Requested sparsity={sparsity:g} is not reachable with "
                f"pattern={network.pattern!r} and scope={self.scope!r}; "
                f"achieved sparsity_={n_pruned / n_total:g}.",
                UserWarning,
                stacklevel=4,
            )
