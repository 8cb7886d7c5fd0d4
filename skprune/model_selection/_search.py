"""Cross-validation along a pruning path, shared by trees and neural networks.

A CV estimator of skprune fits one path per fold, scores every point of a
grid of the pruning knob on the held-out part, and chooses a point from the
mean scores, as :class:`~sklearn.linear_model.LassoCV` does with
:func:`~sklearn.linear_model.lasso_path`. :class:`PathCVMixin` does this for
the tree and the network CV estimators alike: one fold-scoring routine
(:func:`score_path_on_fold`), one ``Parallel`` block, one ``cv_results_``
layout (that of :class:`~sklearn.model_selection.GridSearchCV`), one
``selection`` vocabulary and one naming of the choice (``best_index_``,
``best_score_``, ``best_params_``). What differs, how a path is walked on a
fold, is a function the estimator class names.
"""

import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, indexable

from ..utils._sklearn import (
    Interval,
    StrOptions,
    check_sample_weight,
    scorer_accepts_sample_weight,
    validate_params,
)

# How the point of the grid is chosen from the mean cross-validated scores.
SELECTIONS = ("1se", "best")
# Earlier spellings of "best": "min" for trees, "max" for networks.
_FORMER_SELECTIONS = ("min", "max")

SELECTION_DOC = """selection : {{"1se", "best"}}, default="1se"
        ``"1se"`` chooses the {most_pruned} whose mean score is within one
        standard error of the best mean score (Breiman's rule); ``"best"``
        chooses the best mean score (the {least_pruned} among ties), the
        choice of :class:`~sklearn.model_selection.GridSearchCV`. The former
        spellings ``"min"`` and ``"max"`` of ``"best"`` are accepted with a
        ``FutureWarning``."""

# The parameters and attributes every path-CV estimator documents alike;
# ``{verbose}`` is empty, or the ``verbose`` entry of an estimator that has it.
PATH_CV_PARAMETERS_DOC = """
    cv : int, cross-validation generator or iterable, default=None
        Determines the cross-validation splitting strategy, as in
        :func:`~sklearn.model_selection.check_cv`: ``None`` for 5 folds,
        stratified for classifiers.
    scoring : str, callable or None, default=None
        Scoring of the pruned {models} on the held-out folds; ``None`` uses
        the estimator's ``score`` method. Higher is better.
    {selection}
    n_jobs : int, default=None
        Number of folds processed in parallel through joblib. ``None`` means 1
        unless in a :obj:`joblib.parallel_backend` context, which also lets
        the folds run on a cluster.
{verbose}    return_train_score : bool, default=False
        Also score every pruned {model} of the path on its training fold, as
        needed to plot a pruning curve.
"""

PATH_CV_ATTRIBUTES_DOC = """
    cv_results_ : dict of ndarrays
        Per {value} of the grid: ``param_{param}``, ``split{{k}}_test_score``,
        ``mean_test_score``, ``std_test_score`` (as in GridSearchCV),
        ``sem_test_score`` (standard error of the mean over the folds: sample
        standard deviation over the square root of the number of folds),
        {sizes};
        the train scores too if ``return_train_score``.
    best_index_ : int
        Index of the chosen {value} in ``{grid}``.
    best_score_ : float
        Mean cross-validated score at the chosen {value}.
    best_params_ : dict
        ``{{"{param}": {grid}[best_index_]}}``, as in GridSearchCV.
    n_splits_ : int
        Number of folds.
"""


def path_cv_doc(
    *, model, value, param, grid, sizes, most_pruned, least_pruned, verbose=""
):
    """The parameter and attribute docs shared by the path-CV estimators.

    Returns ``(parameters, attributes)``, to be formatted into a class
    docstring.
    """
    selection = SELECTION_DOC.format(most_pruned=most_pruned, least_pruned=least_pruned)
    parameters = PATH_CV_PARAMETERS_DOC.format(
        models=model + "s", model=model, selection=selection, verbose=verbose
    )
    attributes = PATH_CV_ATTRIBUTES_DOC.format(
        value=value, param=param, grid=grid, sizes=sizes
    )
    return parameters, attributes


PATH_CV_CONSTRAINTS = {
    "cv": ["cv_object"],
    "scoring": [StrOptions(set(get_scorer_names())), callable, None],
    "selection": [
        StrOptions(
            {*SELECTIONS, *_FORMER_SELECTIONS}, deprecated=set(_FORMER_SELECTIONS)
        )
    ],
    "n_jobs": [Integral, None],
    "return_train_score": ["boolean"],
}


def path_cv_constraints(single, *, knob, grid, grid_may_be_none=False, **extra):
    """Parameter constraints of a path-CV estimator.

    Those of its single estimator (the dict ``single``) but the knob, the
    grid parameter ``grid`` (an int of at least 2 points or an array, or
    None when ``grid_may_be_none``), the CV parameters and ``extra``.
    """
    grid_constraint = [Interval(Integral, 2, None, closed="left"), "array-like"]
    if grid_may_be_none:
        grid_constraint.append(None)
    shared = {name: value for name, value in single.items() if name != knob}
    return {**shared, grid: grid_constraint, **PATH_CV_CONSTRAINTS, **extra}


# Estimator classes that cannot say which CV estimator walks their knob (such
# as scikit-learn's trees), mapped to a function building it.
_CV_ESTIMATOR_FACTORIES = {}


@validate_params(
    {"estimator_class": [type, tuple], "factory": [callable]},
    prefer_skip_nested_validation=True,
)
def register_cv_estimator(estimator_class, factory):
    """Teach :meth:`PruningCurveDisplay.from_estimator` about an estimator class.

    An estimator that has a ``_pruning_curve_cv`` method (as skprune's
    cross-validated estimators have) needs no registration; this is for
    classes that cannot have one, such as scikit-learn's decision trees,
    which :mod:`skprune.tree` registers (with its own pruned trees, as
    :mod:`skprune.neural` registers its pruned networks).

    Parameters
    ----------
    estimator_class : type or tuple of type
        Instances of this class or these classes (and of their subclasses)
        are accepted.
    factory : callable
        ``factory(estimator, param_values=..., **cv_params)`` returns an
        unfitted cross-validated estimator with a ``cv_results_`` /
        ``best_index_`` interface, whose class defines ``_curve_param`` and
        ``_curve_complexity``.
    """
    classes = estimator_class if isinstance(estimator_class, tuple) else ()
    if not all(isinstance(cls, type) for cls in classes):
        raise TypeError(
            "estimator_class must be a class or a tuple of classes, got "
            f"{estimator_class!r}."
        )
    _CV_ESTIMATOR_FACTORIES[estimator_class] = factory


def _registered_factory(estimator):
    """The factory registered for the class of ``estimator``, or None."""
    for estimator_class, factory in _CV_ESTIMATOR_FACTORIES.items():
        if isinstance(estimator, estimator_class):
            return factory
    return None


def make_cv_estimator(estimator, *, param_values, **cv_params):
    """The unfitted cross-validated estimator that walks the knob of ``estimator``.

    Asked of the estimator itself (its ``_pruning_curve_cv`` method), or of a
    factory registered for its class.
    """
    build = getattr(estimator, "_pruning_curve_cv", None)
    if build is not None:
        return build(param_values=param_values, **cv_params)
    factory = _registered_factory(estimator)
    if factory is None:
        # skprune.tree registers scikit-learn's trees when it is imported. It
        # builds its CV estimators on this module, so it can be imported only
        # here, on first need: importing it with the package would cost every
        # ``import skprune`` scikit-learn's tree and ensemble modules.
        from .. import tree  # noqa: F401

        factory = _registered_factory(estimator)
    if factory is not None:
        return factory(estimator, param_values=param_values, **cv_params)
    raise TypeError(
        f"PruningCurveDisplay does not know how to prune {type(estimator).__name__}: "
        "it needs a _pruning_curve_cv method or a factory registered with "
        "skprune.model_selection.register_cv_estimator (skprune.tree registers "
        "scikit-learn's trees)."
    )


def cv_estimator_like(estimator, cv_class, *, param_values, **cv_params):
    """An unfitted ``cv_class`` with the parameters of ``estimator`` it shares.

    ``param_values``, when given, is the CV estimator's grid parameter
    (``cv_class._grid_parameter``); ``cv_params`` set to None are left at
    their defaults when ``estimator`` is itself a ``cv_class``.
    """
    grid = {} if param_values is None else {cv_class._grid_parameter: param_values}
    if isinstance(estimator, cv_class):
        given = {k: v for k, v in cv_params.items() if v is not None}
        return clone(estimator).set_params(**given, **grid)
    names = cv_class._parameter_constraints
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k in names}
    return cv_class(**{**params, **grid, **cv_params})


def cv_estimator_factory(classifier_cv, regressor_cv):
    """A factory for :func:`register_cv_estimator` choosing by the estimator's kind.

    It builds ``classifier_cv`` for a classifier and ``regressor_cv``
    otherwise, with the parameters it shares with the estimator
    (:func:`cv_estimator_like`).
    """

    def factory(estimator, *, param_values, **cv_params):
        cv_class = classifier_cv if is_classifier(estimator) else regressor_cv
        return cv_estimator_like(
            estimator, cv_class, param_values=param_values, **cv_params
        )

    return factory


def register_cv_estimators(estimator_class, classifier_cv, regressor_cv):
    """Let the pruning curves of ``estimator_class`` use the CV estimators given.

    Registers the factory of :func:`cv_estimator_factory` for the class, which
    chooses by the kind of the estimator it is given.
    """
    register_cv_estimator(
        estimator_class, cv_estimator_factory(classifier_cv, regressor_cv)
    )


def check_selection(selection):
    """``selection`` in the current vocabulary, warning on a former spelling."""
    if selection in _FORMER_SELECTIONS:
        warnings.warn(
            f'selection={selection!r} is now spelt selection="best"; '
            f"{selection!r} will be removed in a future version.",
            FutureWarning,
            stacklevel=3,
        )
        return "best"
    return selection


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
        Mean cross-validated scores, higher is better. A NaN score (a fold
        whose score is undefined) ranks last, as in
        :class:`~sklearn.model_selection.GridSearchCV`.
    sem_scores : ndarray of shape (n_points,)
        Their standard errors.
    one_standard_error : bool
        If True, the last point (the most pruned) whose mean score is within
        one standard error of the best mean score, Breiman's rule; otherwise
        the best mean score (the first of ties, so the least pruned).

    Returns
    -------
    index : int

    Raises
    ------
    ValueError
        If every mean score is NaN.
    """
    scored = ~np.isnan(mean_scores)
    if not scored.any():
        raise ValueError(
            "Every cross-validated score is NaN, so there is nothing to choose "
            "from: the scoring is undefined on the test folds (for instance R2 "
            "on folds of one sample, as with LeaveOneOut). Use larger test "
            "folds or another scoring."
        )
    ranked = np.where(scored, mean_scores, -np.inf)
    best = int(np.argmax(ranked))
    if not one_standard_error:
        return best
    sem = sem_scores[best] if np.isfinite(sem_scores[best]) else 0.0
    return int(np.flatnonzero(ranked >= ranked[best] - sem).max())


def check_folds_per_class(y, cv, n_splits):
    """Raise a clear error when a training fold would miss a class.

    With stratified folds, a class of two samples or more is in every
    training fold. A class with fewer samples than folds is missing from some
    test folds, which :class:`~sklearn.model_selection.StratifiedKFold` warns
    about, as in :class:`~sklearn.model_selection.GridSearchCV`.
    """
    if y.ndim != 1 or not isinstance(cv, (Integral, type(None))):
        return
    labels, counts = np.unique(y, return_counts=True)
    if counts.min() < 2 and n_splits > 1:
        label = labels[np.argmin(counts)].tolist()
        raise ValueError(
            f"The class {label!r} has only 1 sample, so a training fold of "
            f"cv={cv!r} would not see it: every training fold must see every "
            "class. Merge or remove rare classes."
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
    X = check_array(X, accept_sparse="csr", dtype=None, ensure_all_finite=False)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X)
    X, y, sample_weight = indexable(X, np.asarray(y), sample_weight)
    classifier = is_classifier(estimator)
    if classifier:
        check_classification_targets(y)
    given_splits = not (
        hasattr(estimator.cv, "split")
        or isinstance(estimator.cv, (Integral, type(None)))
    )
    # An iterator can be read once: read it here, for both uses below.
    raw_cv = list(estimator.cv) if given_splits else estimator.cv
    cv = check_cv(raw_cv, y, classifier=classifier)
    if classifier:
        check_folds_per_class(y, estimator.cv, cv.get_n_splits(X, y, groups))
    scorer = check_scoring(estimator, scoring=estimator.scoring)
    weighted_scores = sample_weight is not None and scorer_accepts_sample_weight(scorer)
    # Given splits are checked before scikit-learn unpacks them.
    splits = raw_cv if given_splits else cv.split(X, y, groups)
    folds = checked_folds(splits, X.shape[0])
    return X, y, sample_weight, folds, scorer, weighted_scores


def checked_folds(splits, n_samples):
    """The ``(train, test)`` pairs of ``splits``, checked to index ``n_samples``.

    ``cv`` may be any iterable, which scikit-learn takes as the splits
    themselves; anything else than pairs of integer index arrays would fail
    later with an error that does not name ``cv``.
    """
    folds = []
    for split in splits:
        try:
            train, test = split
            train, test = np.asarray(train), np.asarray(test)
        except (TypeError, ValueError):
            raise ValueError(
                "cv must be an int, a splitter or an iterable of (train, test) "
                f"index arrays; one of its splits is {split!r}."
            ) from None
        for part in (train, test):
            if part.dtype.kind == "b":
                valid = part.shape == (n_samples,)
            else:
                valid = part.size == 0 or (
                    part.dtype.kind in "iu"
                    and -n_samples <= part.min() and part.max() < n_samples
                )
            if not valid:
                raise ValueError(
                    f"cv must yield integer indices of the {n_samples} samples "
                    f"or boolean masks of that length; one of its splits holds "
                    f"an array of dtype {part.dtype} and shape {part.shape}, "
                    f"from {part.min(initial=0)} to {part.max(initial=0)}."
                )
        folds.append((train, test))
    if not folds:
        raise ValueError("cv yields no split: pass an int >= 2 or a splitter.")
    return folds


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


def score_path_on_fold(
    walk_path, template, X, y, sample_weight, weighted_scores, train, test, grid,
    scorer, return_train_score, progress=None,
):
    """Walk a pruning path on one fold and score it at every point of ``grid``.

    Parameters
    ----------
    walk_path : callable
        ``walk_path(template, X, y, sample_weight, grid, visit)`` fits
        ``template`` on the training part and calls ``visit(index, model,
        size)`` with the fitted model at every point of ``grid`` and its size
        (leaves, nonzero weights).
    template : estimator
        The unfitted single estimator.
    X, y, sample_weight : indexable arrays
        All the data.
    weighted_scores : bool
        Whether the scorer receives the sample weights.
    train, test : ndarray of int
        The fold.
    grid : ndarray of shape (n_points,)
    scorer : callable
    return_train_score : bool
    progress : str, default=None
        If given, a line starting with it is printed at every point of the
        grid, with the value of the knob, the test score and the size.

    Returns
    -------
    test_scores, train_scores : ndarray of shape (n_points,)
        ``train_scores`` is None unless ``return_train_score``.
    sizes : ndarray of shape (n_points,)
    """
    n_points = grid.shape[0]
    test_scores = np.full(n_points, np.nan)
    train_scores = np.full(n_points, np.nan) if return_train_score else None
    sizes = np.zeros(n_points, dtype=np.int64)
    score_weight = sample_weight if weighted_scores else None

    def visit(index, model, size):
        test_scores[index] = scorer(
            model, X[test], y[test], **weights_of(score_weight, test)
        )
        if return_train_score:
            train_scores[index] = scorer(
                model, X[train], y[train], **weights_of(score_weight, train)
            )
        sizes[index] = size
        if progress is not None:
            print(
                f"{progress}={grid[index]:.4g}: test score {test_scores[index]:.4f}, "
                f"size {size}",
                flush=True,
            )

    train_weight = None if sample_weight is None else sample_weight[train]
    walk_path(template, X[train], y[train], train_weight, grid, visit)
    return test_scores, train_scores, sizes


class PathCVMixin:
    """Choice of a pruning knob by cross-validation on its path.

    A CV estimator class sets:

    - ``_curve_param``: the knob, e.g. ``"ccp_alpha"``; ``best_params_`` and
      ``cv_results_["param_" + _curve_param]`` are named after it;
    - ``_grid_parameter``: the parameter giving the grid; the fitted
      attribute holding it is named after it, with a trailing underscore;
    - ``_size_name``: the model size recorded per fold, stored as
      ``cv_results_["mean_" + _size_name]``;
    - ``_curve_complexity``: the key of ``cv_results_`` and the label of the
      size that :class:`~skprune.model_selection.PruningCurveDisplay` draws;
    - ``_fold_estimator``: the single estimator fitted on each fold;
    - ``_walk_path``: walks the path on one fold, see
      :func:`score_path_on_fold`.
    """

    def _pruning_curve_cv(self, *, param_values=None, **cv_params):
        """An unfitted copy for :class:`~skprune.model_selection.PruningCurveDisplay`.

        ``param_values`` replaces the grid; ``cv_params`` given as None keep
        this estimator's values.
        """
        return cv_estimator_like(
            self, type(self), param_values=param_values, **cv_params
        )

    def _fold_template(self, **params):
        """The single estimator with this estimator's shared parameters.

        A verbose CV estimator gives ``verbose - 1`` to the fold estimator.
        """
        names = self._fold_estimator._parameter_constraints
        shared = {k: v for k, v in self.get_params(deep=False).items() if k in names}
        if "verbose" in shared:
            shared["verbose"] = max(0, int(self.verbose) - 1)
        return self._fold_estimator(**{**shared, **params})

    def _fold_progress(self, fold, n_folds):
        """The start of the progress lines of a fold, None unless verbose."""
        if not self.verbose:
            return None
        name = type(self).__name__
        return f"[{name}] fold {fold + 1} of {n_folds}, {self._curve_param}"

    def _cross_validate_path(self, template, X, y, sample_weight, groups, grid):
        """Score the path of ``template`` on every fold and choose a point.

        Sets ``cv_results_``, the grid attribute, ``best_index_``,
        ``best_score_``, ``best_params_`` and ``n_splits_``.

        Returns
        -------
        X, y, sample_weight : indexable arrays
            The data, for the fit on all of it.
        """
        selection = check_selection(self.selection)
        X, y, sample_weight, folds, scorer, weighted_scores = split_for_cv(
            self, X, y, sample_weight, groups
        )
        results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(score_path_on_fold)(
                self._walk_path,
                template,
                X,
                y,
                sample_weight,
                weighted_scores,
                train,
                test,
                grid,
                scorer,
                self.return_train_score,
                self._fold_progress(fold, len(folds)),
            )
            for fold, (train, test) in enumerate(folds)
        )
        train_scores = None
        if self.return_train_score:
            train_scores = np.array([r[1] for r in results])
        cv_results = score_results(
            self._curve_param, grid, np.array([r[0] for r in results]), train_scores
        )
        cv_results[f"mean_{self._size_name}"] = np.mean([r[2] for r in results], axis=0)
        self.cv_results_ = cv_results
        setattr(self, self._grid_parameter + "_", grid)
        self.best_index_ = select_index(
            cv_results["mean_test_score"],
            cv_results["sem_test_score"],
            one_standard_error=selection == "1se",
        )
        self.best_score_ = float(cv_results["mean_test_score"][self.best_index_])
        self.best_params_ = {self._curve_param: float(grid[self.best_index_])}
        self.n_splits_ = len(results)
        return X, y, sample_weight
