"""The sparsity path: one dense training, then a walk through increasing sparsities.

Fitting a :class:`PrunedMLPClassifier` once per sparsity trains the dense
network again every time. The path trains it once and walks the pruning
schedule towards the largest requested sparsity, with every requested
sparsity inserted as an extra step; after the fine-tuning of such a step it
takes a fitted snapshot. Cross-validation runs the path once per fold, as
:func:`~sklearn.linear_model.lasso_path` serves
:class:`~sklearn.linear_model.LassoCV`.
"""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from ..model_selection._search import check_grid
from ._pruned import PrunedMLPClassifier, PrunedMLPRegressor
from ._criteria import resolve_criterion
from ._pruning_run import PruningRun, pattern_of, schedule_targets

DEFAULT_MIN_DENSITY = 0.02


def sparsity_grid(sparsities, *, name="sparsities", min_points=1):
    """Validate a grid of sparsities, or make one of ``sparsities`` points.

    Parameters
    ----------
    sparsities : int or array-like of float
        An int ``k >= 2`` gives ``k`` sparsities from 0 to 0.98 whose
        densities (``1 - sparsity``) are evenly spread on a log scale, so the
        grid is finer where each step removes a larger share of what is left.
        An array gives the sparsities themselves, in ``[0, 1)``.
    name : str, default="sparsities"
        Name of the parameter, for error messages.
    min_points : int, default=1
        Least number of distinct sparsities.

    Returns
    -------
    grid : ndarray of shape (n_points,)
        Increasing, distinct sparsities.
    """
    if isinstance(sparsities, Integral) and not isinstance(sparsities, bool):
        if sparsities < 2:
            raise ValueError(f"{name} as an int must be >= 2, got {sparsities}.")
        return 1.0 - np.geomspace(1.0, DEFAULT_MIN_DENSITY, int(sparsities))
    return check_grid(
        sparsities,
        name,
        accepted="an int or an array of numbers",
        valid=lambda grid: (grid >= 0) & (grid < 1),
        valid_text="numbers in [0, 1)",
        min_points=min_points,
    )


def check_path_estimator(estimator, X, y, grid):
    """Raise a clear error, before training, when ``estimator`` cannot walk the path."""
    fixed = pattern_of(estimator).fixed_sparsity
    if fixed is not None:
        raise ValueError(
            f"pattern={estimator.pattern!r} fixes the sparsity at {fixed:g}, so it "
            "has no path of sparsities; fit the estimator instead."
        )
    estimator._check_pruning_params(X, y, grid[-1])


def path_targets(estimator, grid):
    """Targets of the pruning steps of the path through ``grid``.

    The schedule of ``estimator`` towards the largest sparsity of ``grid``,
    with the nonzero sparsities of ``grid`` inserted.
    """
    targets = np.concatenate([schedule_targets(estimator, grid[-1]), grid[grid > 0]])
    return np.unique(targets)


def walk_sparsity_path(
    estimator,
    X,
    y,
    sample_weight,
    grid,
    *,
    on_snapshot=None,
    until=None,
    from_dense=False,
):
    """Train ``estimator`` densely, then prune it along the path through ``grid``.

    Parameters
    ----------
    estimator : PrunedMLPClassifier or PrunedMLPRegressor
        Trained in place; its own ``sparsity`` is not used.
    X, y, sample_weight
        Training data.
    grid : ndarray
        Increasing sparsities, from :func:`sparsity_grid`.
    on_snapshot : callable, default=None
        ``on_snapshot(index, snapshot)`` for each point of ``grid`` reached,
        ``snapshot`` being a fitted copy (see :meth:`PruningRun.snapshot`).
    until : float, default=None
        Stop after the step reaching this sparsity. The steps before are those
        of the whole path, so the network equals the path's snapshot there.
    from_dense : bool, default=False
        Prune the dense network once to each sparsity of ``grid`` and
        fine-tune each on its own, instead of walking the schedule; see
        :func:`sparsity_path`. With ``until``, the run prunes once to it.

    Returns
    -------
    run : PruningRun
        The run, to finish the fit of ``estimator`` with; with
        ``from_dense`` and no ``until``, left dense.
    """
    check_path_estimator(estimator, X, y, grid)
    points = {float(sparsity): index for index, sparsity in enumerate(grid)}
    run = PruningRun(estimator, X, y, sample_weight)

    def take_from(branch):
        def take(target):
            if on_snapshot is not None and float(target) in points:
                on_snapshot(points[float(target)], branch.snapshot(target))

        return take

    if from_dense:
        targets = grid[grid > 0] if until is None else np.array([until])
    else:
        targets = path_targets(estimator, grid)
    if until is not None:
        targets = targets[(targets > 0) & (targets <= until)]
    run.train_dense()
    take_from(run)(0.0)
    if not from_dense or until is not None:
        run.prune_along(targets, on_step=take_from(run))
        return run
    criterion = _traced_criterion(run)
    for target in targets:
        branch = run.branch(criterion)
        branch.prune_along([target], on_step=take_from(branch))
    return run


def _traced_criterion(run):
    """The run's criterion, from traces recorded once if it records any."""
    criterion = resolve_criterion(run.criterion)
    if not hasattr(criterion, "trace"):
        return criterion
    return criterion.trace(run.network, run.X, run.y, run.sample_weight).as_criterion()


def sparsity_path(
    estimator, X, y, sparsities=6, *, sample_weight=None, from_dense=False
):
    """Fitted pruned networks at increasing sparsities, from one dense training.

    The dense network is trained once. Then the pruning schedule of
    ``estimator`` (``schedule``, ``n_pruning_steps``, ``initial_sparsity``)
    is walked towards the largest of ``sparsities``, every requested sparsity
    being inserted as an extra pruning step; after the fine-tuning of that
    step a fitted copy is taken. A copy at a sparsity below the largest has
    thus seen fewer pruning steps than a network fitted to that sparsity
    alone, but has always ended on fine-tuning.

    With ``from_dense=True`` every sparsity is instead reached by one prune
    of the dense network, fine-tuned on its own for ``finetune_iter``
    epochs: each network equals the estimator fitted to that sparsity alone
    with ``schedule="oneshot"``. A criterion that records traces
    (``"obc"``) traces the dense network once for all the sparsities, so
    the pruning of the whole path costs about one prune.

    Parameters
    ----------
    estimator : PrunedMLPClassifier or PrunedMLPRegressor
        The settings of the networks; it is cloned, not changed, and its own
        ``sparsity`` is not used.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    sparsities : int or array-like of float, default=6
        The sparsities, in ``[0, 1)``; ``0`` stands for the dense network. An
        int ``k`` takes ``k`` values from 0 to 0.98, evenly spread in
        ``log(1 - sparsity)``.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    from_dense : bool, default=False
        Whether every sparsity is one prune of the dense network (the
        estimator's schedule is then not used) rather than a point of one
        walk along the schedule.

    Returns
    -------
    path : :class:`~sklearn.utils.Bunch`
        With ``sparsities`` (the targets, increasing), ``estimators`` (a
        fitted estimator per target, whose ``sparsity`` parameter is that
        target), ``sparsity_`` (each estimator's achieved sparsity),
        ``n_nonzero`` (its nonzero weights) and ``loss`` (its final training
        loss).

    See Also
    --------
    PrunedMLPClassifierCV : Chooses the sparsity by cross-validation on the
        path.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skprune.neural import PrunedMLPClassifier, sparsity_path
    >>> X, y = load_digits(return_X_y=True)
    >>> path = sparsity_path(
    ...     PrunedMLPClassifier((32,), solver="lbfgs", finetune_iter=3,
    ...                         n_pruning_steps=3, random_state=0),
    ...     X / 16, y, [0.0, 0.5, 0.9])
    >>> [round(est.sparsity_, 2) for est in path.estimators]
    [0.0, 0.5, 0.9]
    """
    if not isinstance(estimator, (PrunedMLPClassifier, PrunedMLPRegressor)):
        raise TypeError(
            "estimator must be a PrunedMLPClassifier or PrunedMLPRegressor, got "
            f"{type(estimator).__name__}."
        )
    grid = sparsity_grid(sparsities)
    estimator = clone(estimator)
    estimator._validate_params()
    estimators = [None] * grid.shape[0]

    def keep(index, snapshot):
        estimators[index] = snapshot

    if not isinstance(from_dense, (bool, np.bool_)):
        raise TypeError(f"from_dense must be a bool, got {from_dense!r}.")
    walk_sparsity_path(
        estimator, X, y, sample_weight, grid, on_snapshot=keep, from_dense=from_dense
    )
    return Bunch(
        sparsities=grid,
        estimators=estimators,
        sparsity_=np.array([est.sparsity_ for est in estimators]),
        n_nonzero=np.array([est.n_nonzero_ for est in estimators]),
        loss=np.array([est.loss_ for est in estimators]),
    )
