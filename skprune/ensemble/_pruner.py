"""Pruning a whole tree ensemble: fewer trees, each pruned, within a score loss.

:class:`EnsemblePruner` wraps a random forest, extra trees or gradient
boosting model. Every tree is given a ladder of prunings (level ``l`` keeps at
most ``2**-l`` of its leaves, by cost-complexity); the candidates are the
first ``k`` trees (or stages) of the ensemble, all at one level; a few of
them also with the leaves of all their trees refitted jointly (global
refinement of a forest, a fully corrective refit of a booster), and a few
forests of fewer, larger trees whose closest leaves are then merged across
all the trees (global pruning). A candidate's node count is its size.

Choosing a candidate on the samples its score is measured on would flatter
it, so the choice is cross-validated, as ``LassoCV`` scores its path: a clone
is fitted on each training fold and every candidate of the clone scored on
the test fold (a booster's leaves refitted on the training fold). The
smallest budget whose mean fold score is within ``max_score_loss`` of the
unpruned clones', once made non-decreasing in the budget, is kept, and the
ensemble fitted on all the data is pruned the way chosen.
"""

import copy
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.isotonic import isotonic_regression
from sklearn.model_selection import check_cv
from sklearn.utils import check_array, check_random_state, get_tags
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..model_selection._search import checked_folds
from ..tree._functions import replace_trees
from ..utils._delegation import PrunedEstimatorDelegateMixin, delegated_method
from ..utils._estimators import DocLinkMixin
from ..utils._docstrings import RETURNS_SELF_DOC, fill_doc
from ..utils._sklearn import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    check_sample_weight,
)
from ._boosting import SUPPORTED_LOSSES, BoostingLadder, as_float32, pruned_booster
from ._corrective import CORRECTIVE_ROWS, refit_stages_jointly, staged_sum_predictions
from ._forest import forest_levels, sub_forest_scores
from ._candidates import stack_rows
from ._refine import (
    FOREST_ROWS,
    REFINED_ROWS,
    MergedCandidates,
    refined_candidate,
    refined_scores,
)
from ._scores import CLASSIFICATION_SCORES, REGRESSION_SCORES, score_function

FORESTS = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
)
BOOSTERS = (GradientBoostingClassifier, GradientBoostingRegressor)

# Level l keeps at most 2**-l of a tree's leaves: down to 1/32.
N_LEVELS = 6
# Node budgets tried, geometrically spaced from the smallest candidate up.
N_BUDGETS = 40
# A booster's budget must be within the loss by one standard error of its
# fold scores: its small candidates' fold scores flattered them by more than
# the loss on held-out data (see the user guide).
BOOSTER_STANDARD_ERRORS = 1.0


def _booster_classifier(pruner):
    return isinstance(pruner.estimator, GradientBoostingClassifier)


def check_ensemble(estimator):
    """Check that ``estimator`` is an ensemble :class:`EnsemblePruner` prunes.

    Raises
    ------
    TypeError
        If it is not a random forest, extra trees or gradient boosting model.
    ValueError
        If a gradient boosting model has a loss whose leaves are not refitted.
    """
    if isinstance(
        estimator, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    ):
        raise TypeError(
            "EnsemblePruner does not prune histogram gradient boosting: its trees "
            "are not scikit-learn Tree objects and keep no value at inner nodes."
        )
    if not isinstance(estimator, FORESTS + BOOSTERS):
        raise TypeError(
            "estimator must be a RandomForestClassifier, RandomForestRegressor, "
            "ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier "
            f"or GradientBoostingRegressor, got {type(estimator).__name__}."
        )
    if isinstance(estimator, BOOSTERS) and estimator.loss not in SUPPORTED_LOSSES:
        raise ValueError(
            f"EnsemblePruner refits the leaves of gradient boosting with loss in "
            f"{sorted(SUPPORTED_LOSSES)}, got loss={estimator.loss!r}."
        )


def best_within_budgets(n_nodes, scores, budgets):
    """For each budget, the best level at the most trees that fit.

    At each level the candidate kept for a budget is the one with the most
    trees within it; among the levels, the best selection score wins (the
    smaller candidate on ties). Comparing a few candidates, rather than every
    number of trees, keeps the choice from chasing the noise of the scores of
    small sub-ensembles.

    Parameters
    ----------
    n_nodes, scores : ndarrays of shape (n_levels, n_trees)
        Size and selection score of the first ``k + 1`` trees at each level;
        sizes increase along a row.
    budgets : ndarray of shape (n_budgets,)
        Node budgets, each at least the smallest size.

    Returns
    -------
    chosen : ndarray of int of shape (n_budgets,)
        Flat index of the chosen candidate.
    """
    n_levels, n_trees = n_nodes.shape
    # index of the largest candidate of each level within each budget
    fitting = np.stack(
        [np.searchsorted(row, budgets, side="right") - 1 for row in n_nodes]
    )
    fits = fitting >= 0
    flat = np.arange(n_levels)[:, None] * n_trees + np.maximum(fitting, 0)
    level_scores = np.where(fits, scores.ravel()[flat], -np.inf)
    level_sizes = np.where(fits, n_nodes.ravel()[flat], np.inf)
    best = np.lexsort((level_sizes, -level_scores), axis=0)[0]
    return flat[best, np.arange(budgets.shape[0])]


def _score_booster_fold(estimator, X, y, weights, weighted, train, test, score):
    """Fit a booster on a training fold; score its prunings on the test fold.

    ``X`` is an array or a CSR matrix, as the trees see it.

    Returns
    -------
    scores : ndarray of shape (n_levels + n_corrected_levels, n_stages)
        Test score of the first k stages at every level, leaves refitted
        stage by stage; then of the candidates whose leaves are refitted
        jointly, as :meth:`RefitRows.extend` lays them out.
    reference : float
        Test score of the unpruned booster.
    """
    X_train, X_test = X[train], X[test]
    booster = estimator.fit(
        X_train, y[train], sample_weight=weights[train] if weighted else None
    )
    classifier = is_classifier(booster)
    y_train = encode_labels(booster, y[train])
    y_test = encode_labels(booster, y[test], unseen=-1)
    ladder = BoostingLadder(
        booster, X_train, y_train, weights[train], N_LEVELS, classifier, X_test
    )
    refits = [ladder.refit(level) for level in range(N_LEVELS)]
    scores = np.stack([score(y_test, staged, weights[test]) for _, staged, _ in refits])

    def corrected_score(level, n_stages):
        trees = refit_stages_jointly(
            refits[level][0][:n_stages], ladder.X_train, y_train, weights[train],
            ladder.initial_train, booster.learning_rate, classifier,
        )
        predictions = staged_sum_predictions(
            trees, ladder.X_val32, ladder.initial_val, booster.learning_rate, classifier
        )
        return score(y_test, predictions[None], weights[test])[0]

    corrected = CORRECTIVE_ROWS.scores(N_LEVELS, scores.shape[1], corrected_score)
    unpruned = booster.predict_proba(X_test) if classifier else booster.predict(X_test)
    return (
        np.concatenate([scores, corrected]),
        float(score(y_test, unpruned[None], weights[test])[0]),
    )


def _score_forest_fold(estimator, X, y, weights, weighted, train, test, score):
    """Fit a forest on a training fold; score its candidates on the test fold.

    Returns
    -------
    scores : ndarray of shape (n_levels + n_refined_levels, n_trees)
        Test score of the first k trees at every level, then of the refined
        candidates (leaves refitted on the training fold), as
        :meth:`RefitRows.extend` lays them out.
    reference : float
        Test score of the unpruned forest.
    """
    X_train, X_test = X[train], X[test]
    forest = estimator.fit(
        X_train, y[train], sample_weight=weights[train] if weighted else None
    )
    classifier = is_classifier(forest)
    y_test = encode_labels(forest, y[test], unseen=-1)
    trees = forest_levels(forest, N_LEVELS, Parallel(n_jobs=1))
    scores = sub_forest_scores(trees, X_test, y_test, weights[test], score, classifier)
    y_train = encode_labels(forest, y[train])
    refined = refined_scores(
        trees, X_train, y_train, fitting_weights(forest, y_train, weights[train]),
        X_test, y_test, weights[test], score, classifier, _n_classes(forest),
    )
    return np.concatenate([scores, refined]), float(scores[0, -1])


def _n_classes(forest):
    return len(forest.classes_) if is_classifier(forest) else None


def fitting_weights(forest, y, sample_weight):
    """The weights a forest's trees were grown with: ``class_weight`` applied.

    ``"balanced_subsample"`` is taken as ``"balanced"`` on all the samples.

    Parameters
    ----------
    forest : fitted forest
    y : ndarray of shape (n_samples,)
        Class indices, for a classifier.
    sample_weight : ndarray of shape (n_samples,)
    """
    class_weight = getattr(forest, "class_weight", None)
    if class_weight is None:
        return sample_weight
    if class_weight == "balanced_subsample":
        class_weight = "balanced"
    elif isinstance(class_weight, dict):
        class_weight = {
            index: class_weight.get(label, 1.0)
            for index, label in enumerate(forest.classes_)
        }
    return sample_weight * compute_sample_weight(class_weight, y)


def encode_labels(estimator, y, unseen=None):
    """Class indices of ``y`` in a fitted classifier; floats for a regressor.

    Parameters
    ----------
    estimator : fitted estimator
    y : ndarray of shape (n_samples,)
    unseen : int, default=None
        The index given to labels the estimator was not fitted with; if None,
        such labels raise a ValueError.
    """
    if not is_classifier(estimator):
        return np.asarray(y, dtype=np.float64)
    classes = estimator.classes_
    known = np.isin(y, classes)
    if unseen is None and not known.all():
        raise ValueError(
            f"y has labels the estimator was not fitted with: {np.unique(y[~known])}."
        )
    encoded = np.searchsorted(classes, y)
    return np.where(known, encoded, unseen if unseen is not None else 0)


def smallest_budget_within(fold_scores, reference, max_score_loss, n_standard_errors=0):
    """Index of the smallest budget whose score is within the loss.

    The mean differences between each budget's fold scores and the unpruned
    ensemble's are made non-decreasing in the budget by isotonic regression:
    a larger budget is never taken to score worse, so a lucky dip of the
    noisy fold scores is averaged with its neighbours rather than taken for a
    small ensemble as good as the unpruned one (and an unlucky one does not
    stop the search). The kept budget is the smallest whose smoothed
    difference, less ``n_standard_errors`` standard errors of its mean over
    the folds, is at least ``-max_score_loss``.

    Parameters
    ----------
    fold_scores : ndarray of shape (n_folds, n_budgets)
        Budgets in increasing order.
    reference : ndarray of shape (n_folds,)
        Fold scores of the unpruned ensemble.
    max_score_loss : float
    n_standard_errors : float, default=0
        Margin asked of the smoothed difference, in standard errors of the
        mean difference (the standard deviation over the folds, ``ddof=1``,
        over the square root of their number).

    Returns
    -------
    index : int
        The largest budget if none is within the loss.
    """
    bounds = bounded_differences(fold_scores - reference[:, None], n_standard_errors)
    within = np.flatnonzero(bounds >= -max_score_loss)
    return int(within[0]) if within.size else fold_scores.shape[1] - 1


def bounded_differences(fold_differences, n_standard_errors=0):
    """Per budget, the isotonic mean fold difference less standard errors.

    The bound :func:`smallest_budget_within` compares with the loss.

    Parameters
    ----------
    fold_differences : ndarray of shape (n_folds, n_budgets)
        Fold scores less the unpruned ensemble's, budgets in increasing
        order.
    n_standard_errors : float, default=0
        Standard errors of the mean difference subtracted (none with one
        fold).

    Returns
    -------
    bounds : ndarray of shape (n_budgets,)
    """
    smoothed = isotonic_regression(fold_differences.mean(axis=0), increasing=True)
    n_folds = fold_differences.shape[0]
    if not n_standard_errors or n_folds < 2:
        return smoothed
    errors = fold_differences.std(axis=0, ddof=1) / np.sqrt(n_folds)
    return smoothed - n_standard_errors * errors


def node_budgets(smallest, total):
    """Node budgets of the choice, geometric from ``smallest`` to ``total``."""
    budgets = np.geomspace(smallest, total, N_BUDGETS).astype(np.intp)
    return np.unique(np.r_[budgets, total])


class EnsemblePruner(
    DocLinkMixin, PrunedEstimatorDelegateMixin, MetaEstimatorMixin, BaseEstimator
):
    """Prune a tree ensemble to the fewest nodes within a score loss.

    A meta-estimator around a :class:`~sklearn.ensemble.RandomForestClassifier`,
    :class:`~sklearn.ensemble.RandomForestRegressor`,
    :class:`~sklearn.ensemble.ExtraTreesClassifier`,
    :class:`~sklearn.ensemble.ExtraTreesRegressor`,
    :class:`~sklearn.ensemble.GradientBoostingClassifier` or
    :class:`~sklearn.ensemble.GradientBoostingRegressor` (losses
    ``"log_loss"`` and ``"squared_error"``). It chooses which trees or stages
    to keep and how far to prune them, to minimise the total node count while
    the held-out score stays within ``max_score_loss`` of the unpruned
    ensemble's. It behaves as a classifier or a regressor like the estimator
    it wraps; prediction goes through ``pruned_estimator_``, a real
    scikit-learn ensemble of the same class.

    The candidates are the first ``k`` trees or stages of the ensemble, all
    pruned to one level: level ``l`` from 0 to 5 keeps at most ``2**-l`` of
    each tree's leaves (minimal cost-complexity pruning). A forest keeps its
    first ``k`` trees in its own (random) order; a booster keeps its first
    ``k`` stages and, after pruning, the leaf values of every stage are
    recomputed in order from the training data as the boosting loss
    requires, so that staged predictions stay consistent.

    A forest also has refined candidates: its first 30% and first half of
    its trees at level 3, with the leaf values of all the kept trees
    refitted jointly on the training data (global refinement, Ren et al.
    2015) so that their mean prediction fits it: a ridge regression on the
    leaves each sample reaches, of the one-hot classes or the target, shrunk
    towards the leaves' own values. A classifier's refitted leaves are
    mapped back to probability distributions by one affine map of all of
    them, which keeps the predicted classes (the probabilities move towards
    uniform). Pruned trees that vote together need fewer leaves than trees
    that each fit the data alone. And merged candidates (global pruning, in
    the same paper): its first 30% and 40% of its trees at level 1,
    refined, then pruned at one cost-complexity parameter for all the trees
    to the node count of those trees at level 3 (and the first 30% to that
    at level 2), where a branch's cost
    as a leaf is the weighted scatter of its leaves' refitted values (the
    rise of the training error when they are merged into their weighted
    mean), and refined again. These are forests of fewer trees for the same
    node count, and a forest's predict time grows with its number of trees
    more than with their size.

    A booster likewise has fully corrective candidates: its first quarter and
    first half of its stages at levels 0 and 1, their leaf values refitted
    jointly by minimising the boosting loss (log-loss, multinomial deviance or
    squared error) of the kept stages on the training data, with an L2
    penalty on the leaf values (L-BFGS from the stagewise values).

    The choice is cross-validated: one clone is fitted per training fold of
    ``cv`` and every candidate of the clone is scored on the test fold; the
    ensemble fitted on all the data (or the prefit one) is then pruned the
    way chosen. The kept budget is the smallest whose mean fold score is
    within ``max_score_loss`` of the unpruned clones', once the mean
    differences are made non-decreasing in the budget by isotonic regression
    (a larger ensemble is never taken to score worse, which averages out the
    noise of the fold scores). A booster's must be within it by one standard
    error of the mean difference over the folds: without that margin, the
    small boosters chosen lost more than the loss on held-out data.

    Histogram gradient boosting is not supported: its trees are not
    scikit-learn ``Tree`` objects and their inner nodes keep no value to
    prune to.

    Parameters
    ----------
    estimator : estimator
        The ensemble to prune. It is cloned unless ``prefit=True``.
    max_score_loss : float, default=0.005
        How much lower than the unpruned ensemble's the cross-validated score of
        the pruned one may be (in the units of the score: 0.005 is half a
        point of accuracy).
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.check_cv` (stratified for
        classifiers): the folds on which clones of the ensemble are fitted
        and their candidates scored.
    prefit : bool, default=False
        Whether ``estimator`` is already fitted, on the ``X`` given to
        ``fit``: it is then pruned rather than a clone fitted on all the data
        (a booster's leaves are refitted on ``X``). The choice is still made
        with clones fitted on the training folds.
    scoring : str, default=None
        ``"accuracy"`` (the default for classifiers), ``"balanced_accuracy"``
        or ``"neg_log_loss"`` for classifiers; ``"r2"`` (the default for
        regressors), ``"neg_mean_squared_error"`` or
        ``"neg_mean_absolute_error"`` for regressors. Scores are computed
        from held-out predictions rather than through a scorer, so that
        hundreds of candidates are scored without building them.
    n_jobs : int, default=None
        Number of jobs, through joblib: for the clones of the folds, and for
        pruning a forest's trees to every level.
    random_state : int, RandomState instance or None, default=None
        Seeds the clones fitted on the folds when the estimator's own
        ``random_state`` is None, so that the choice is reproducible.

    Attributes
    ----------
    estimator_ : estimator
        The fitted, unpruned ensemble.
    pruned_estimator_ : estimator
        The pruned ensemble, of the class of ``estimator``.
    n_nodes_ : int
        Total node count of ``pruned_estimator_``.
    n_nodes_original_ : int
        Total node count of ``estimator_``.
    compression_ratio_ : float
        ``n_nodes_original_ / n_nodes_``.
    n_trees_ : int
        Number of trees (forest) or stages (boosting) kept.
    level_ : int
        The pruning level of the kept trees: each keeps at most ``2**-level_``
        of its leaves.
    refined_ : bool
        Whether the leaves of the kept trees were refitted jointly: global
        refinement for a forest, the fully corrective refit for a booster.
    merged_ : bool
        Whether the kept trees are a merged candidate of a forest: cut to
        level 1, refined, their closest leaves merged to the node count of
        ``level_`` and refined again. Always False for a booster.
    reference_score_ : float
        Mean score over the folds of the unpruned clones on their test folds.
    cv_results_ : dict of ndarrays
        One entry per node budget: ``param_max_nodes`` (the budget),
        ``split{k}_test_score`` (score on fold k of the clone's candidate
        chosen for the budget), ``mean_test_score``, ``std_test_score`` and
        ``n_nodes`` (size of the candidate chosen for the budget in the
        ensemble fitted on all the data).
        :meth:`skprune.model_selection.PruningCurveDisplay.from_cv_estimator`
        draws it.
    best_index_ : int
        Index of the kept budget in ``cv_results_``.
    classes_ : ndarray
        Class labels, for classifiers.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of str
        Names of the features seen in fit, when strings.

    See Also
    --------
    skprune.tree.prune_tree : Prunes every tree of a forest at one alpha.

    References
    ----------
    L. Breiman, J. Friedman, R. Olshen and C. Stone, *Classification and
    Regression Trees*, Wadsworth, 1984, chapter 3 (minimal cost-complexity
    pruning).

    S. Ren, X. Cao, Y. Wei and J. Sun, "Global Refinement of Random Forest",
    CVPR 2015 (the joint refit of the leaves).

    Examples
    --------
    A forest fitted inside the pruner and cut to the fewest nodes whose
    cross-validated accuracy is at most 0.01 below the whole forest's:

    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skprune.ensemble import EnsemblePruner
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> forest = RandomForestClassifier(n_estimators=30, random_state=0)
    >>> pruner = EnsemblePruner(forest, max_score_loss=0.01).fit(X, y)
    >>> bool(pruner.n_nodes_ <= pruner.n_nodes_original_)
    True
    >>> type(pruner.pruned_estimator_).__name__
    'RandomForestClassifier'
    """

    # what PruningCurveDisplay.from_cv_estimator draws from cv_results_
    _curve_param = "max_nodes"
    _curve_complexity = ("n_nodes", "Number of nodes")

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "max_score_loss": [Interval(Real, 0, None, closed="left")],
        "cv": ["cv_object"],
        "prefit": ["boolean"],
        "scoring": [
            StrOptions(set(CLASSIFICATION_SCORES) | set(REGRESSION_SCORES)),
            None,
        ],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        max_score_loss=0.005,
        cv=5,
        prefit=False,
        scoring=None,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.max_score_loss = max_score_loss
        self.cv = cv
        self.prefit = prefit
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    @fill_doc(returns_self=RETURNS_SELF_DOC)
    def fit(self, X, y, sample_weight=None):
        """Fit the ensemble if needed, then choose its pruning.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training data; with ``prefit=True``, the data the forest was
            fitted on.
        y : array-like of shape (n_samples,)
            Class labels or target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, for fitting and for the scores.

        {returns_self}
        """
        check_ensemble(self.estimator)
        classifier = is_classifier(self.estimator)
        score = score_function(self.scoring, classifier)
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        X32 = check_array(
            X, accept_sparse="csr", dtype=np.float32,
            ensure_all_finite="allow-nan" if allow_nan else True,
        )
        y = column_or_1d(y, warn=True)
        if classifier:
            check_classification_targets(y)
        weights = check_sample_weight(sample_weight, X32, non_negative=True)
        cv = self._checked_cv(X32.shape[0])
        if self.prefit:
            self._check_prefit(X32, y)
        tables, build = self._cv_tables(X, X32, y, sample_weight, weights, cv, score)
        row, column = self._choose(tables)
        description = tables["describe"](row, column)
        self.level_, self.n_trees_, self.refined_ = description[:3]
        # a forest's candidates also say whether their leaves were merged
        self.merged_ = bool(description[3:] and description[3])
        self.pruned_estimator_ = build(*description)
        self.n_nodes_ = total_nodes(self.pruned_estimator_)
        self.n_nodes_original_ = total_nodes(self.estimator_)
        self.compression_ratio_ = self.n_nodes_original_ / self.n_nodes_
        return self

    def _checked_cv(self, n_samples):
        """``cv``, with the splits of an iterable checked before any fitting."""
        if isinstance(self.cv, Integral) or hasattr(self.cv, "split"):
            return self.cv
        return checked_folds(self.cv, n_samples)

    def _check_prefit(self, X, y):
        """Check, before any fitting, that the prefit ensemble fits ``X, y``."""
        n_samples, n_features = X.shape
        check_is_fitted(
            self.estimator,
            msg="prefit=True, but this %(name)s is not fitted: fit it first or use "
            "prefit=False.",
        )
        if self.estimator.n_features_in_ != n_features:
            raise ValueError(
                "prefit=True needs X to be the data the estimator was fitted on: "
                f"X has {n_features} features, the estimator "
                f"{self.estimator.n_features_in_}."
            )
        encode_labels(self.estimator, y)
        if isinstance(self.estimator, FORESTS):
            _out_of_bag_samples(self.estimator, n_samples)

    def _fitted_on_all(self, X, y, sample_weight):
        """A clone fitted on all the data, or a copy of the prefit estimator."""
        if self.prefit:
            return copy.deepcopy(self.estimator)
        return clone(self.estimator).fit(X, y, sample_weight=sample_weight)

    def _cv_tables(self, X, X32, y, sample_weight, weights, cv, score):
        """Cross-validated scores of every (level, number of trees or stages).

        A clone is fitted on each training fold and the first k trees or
        stages at every level are scored on the test fold, as ``LassoCV``
        scores its path; the ensemble fitted on all the data is then pruned
        the way chosen.

        Returns
        -------
        tables : dict
            Node counts (of the ensemble fitted on all the data), selection
            and fold scores of every candidate, for each fold and then for the
            final choice; and the unpruned clones' fold scores.
        build : callable
            ``build(level, k, refined)`` returns the pruned ensemble.
        """
        classifier = is_classifier(self.estimator)
        booster = isinstance(self.estimator, BOOSTERS)
        score_fold = _score_booster_fold if booster else _score_forest_fold
        cv = check_cv(cv, y, classifier=classifier)
        seeds = check_random_state(self.random_state)
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(score_fold)(
                self._fold_clone(seeds), X32, y, weights, sample_weight is not None,
                train, test, score,
            )
            for train, test in cv.split(X32, y)
        )
        self.estimator_ = self._fitted_on_all(X, y, sample_weight)
        ladder = self._booster_ladder if booster else self._forest_ladder
        n_nodes, describe, build = ladder(X, y, weights)
        fold_scores = np.stack([scores for scores, _ in folds])
        mean_scores = fold_scores.mean(axis=0)
        n_runs = len(folds) + 1
        tables = {
            "n_nodes": np.broadcast_to(n_nodes, (n_runs, *n_nodes.shape)),
            "selection": np.broadcast_to(mean_scores, (n_runs, *n_nodes.shape)),
            "fold_scores": np.concatenate([fold_scores, mean_scores[None]]),
            "reference": np.array([reference for _, reference in folds]),
            "describe": describe,
        }
        return tables, build

    def _fold_clone(self, seeds):
        """A clone to fit on a fold, seeded if its own ``random_state`` is None."""
        estimator = clone(self.estimator)
        seed = seeds.randint(np.iinfo(np.int32).max)
        if estimator.get_params().get("random_state", 0) is None:
            estimator.set_params(random_state=seed)
        return estimator

    def _booster_ladder(self, X, y, weights):
        """Node counts of the fitted booster's candidates, and their builder.

        A candidate is the booster's first k stages at one level, their
        leaves refitted stage by stage, and then jointly or not.
        """
        booster = self.estimator_
        y = encode_labels(booster, y)
        classifier = is_classifier(booster)
        ladder = BoostingLadder(booster, X, y, weights, N_LEVELS, classifier)

        def build(level, n_stages, refitted):
            trees = ladder.refit(level)[0][:n_stages]
            if refitted:
                trees = refit_stages_jointly(
                    trees, ladder.X_train, y, weights, ladder.initial_train,
                    booster.learning_rate, classifier,
                )
            return pruned_booster(booster, trees)

        return (*CORRECTIVE_ROWS.extend(ladder.n_nodes()), build)

    def _forest_ladder(self, X, y, weights):
        """Node counts of the fitted forest's candidates, and their builder.

        A candidate is the forest's first k trees, each pruned to one level,
        with their leaves refined on ``X, y`` or not.
        """
        forest = self.estimator_
        trees = forest_levels(forest, N_LEVELS, Parallel(n_jobs=self.n_jobs))
        n_nodes = np.array(
            [[levels[level].node_count for levels in trees]
             for level in range(N_LEVELS)]
        ).cumsum(axis=1)

        def build(level, n_trees, refined, merged=False):
            kept = [levels[level] for levels in trees[:n_trees]]
            if refined:
                y_encoded = encode_labels(forest, y)
                data = (
                    as_float32(X), y_encoded,
                    fitting_weights(forest, y_encoded, weights),
                    is_classifier(forest), _n_classes(forest),
                )
                if merged:
                    kept = MergedCandidates(trees, n_trees, *data).at(level)
                else:
                    kept = refined_candidate(trees, level, n_trees, *data)
            pruned = copy.copy(forest)
            pruned.estimators_ = [
                replace_trees(tree, lambda _, t=t: kept[t])
                for t, tree in enumerate(forest.estimators_[:n_trees])
            ]
            pruned.n_estimators = n_trees
            for name in ("oob_score_", "oob_decision_function_", "oob_prediction_"):
                if hasattr(pruned, name):
                    delattr(pruned, name)
            return pruned

        n_nodes, describe_kind = stack_rows(n_nodes, FOREST_ROWS)

        def describe(row, column):
            level, size, kind = describe_kind(row, column)
            merged = kind > 0 and FOREST_ROWS[kind - 1] is not REFINED_ROWS
            return level, size, kind > 0, merged

        return n_nodes, describe, build

    def _choose(self, tables):
        """Keep the smallest budget within the score loss.

        Returns
        -------
        row, column : int
            The kept candidate in the tables.
        """
        final_nodes, final_scores = tables["n_nodes"][-1], tables["selection"][-1]
        # every run must have a candidate within the smallest budget
        smallest = max(n_nodes.min() for n_nodes in tables["n_nodes"])
        total = final_nodes[0, -1]
        budgets = node_budgets(smallest, total)
        fold_scores = []
        for run in range(len(tables["reference"])):
            chosen = best_within_budgets(
                tables["n_nodes"][run], tables["selection"][run], budgets
            )
            fold_scores.append(tables["fold_scores"][run].ravel()[chosen])
        fold_scores = np.asarray(fold_scores)
        mean_scores = fold_scores.mean(axis=0)
        self.reference_score_ = float(tables["reference"].mean())
        self.best_index_ = smallest_budget_within(
            fold_scores, tables["reference"], self.max_score_loss,
            BOOSTER_STANDARD_ERRORS if isinstance(self.estimator_, BOOSTERS) else 0,
        )
        final = best_within_budgets(final_nodes, final_scores, budgets)
        rows, columns = np.unravel_index(final, final_nodes.shape)
        self.cv_results_ = {
            "param_max_nodes": budgets,
            **{f"split{k}_test_score": s for k, s in enumerate(fold_scores)},
            "mean_test_score": mean_scores,
            "std_test_score": fold_scores.std(axis=0),
            "n_nodes": final_nodes.ravel()[final].astype(np.intp),
        }
        return int(rows[self.best_index_]), int(columns[self.best_index_])

    decision_function = available_if(_booster_classifier)(
        delegated_method(
            "decision_function",
            """Raw predictions of the pruned gradient boosting classifier.

            {input}

            Returns
            -------
            score : ndarray of shape (n_samples,) or (n_samples, n_classes)
            """,
        )
    )

    def _follow_estimator_tags(self, tags, estimator_tags):
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = False
        tags.target_tags.multi_output = False
        tags.input_tags.allow_nan = estimator_tags.input_tags.allow_nan
        tags.target_tags.required = True


def total_nodes(ensemble):
    """Total node count of the trees of a forest or booster."""
    trees = np.asarray(ensemble.estimators_, dtype=object).ravel()
    return int(sum(tree.tree_.node_count for tree in trees))


def _out_of_bag_samples(forest, n_samples):
    """Which of the ``n_samples`` samples each tree of a forest left out.

    Raises
    ------
    ValueError
        If the forest's bootstrap samples index more rows than there are.
    """
    held_out = np.ones((len(forest.estimators_), n_samples), dtype=bool)
    if not forest.bootstrap:
        return held_out
    for tree, samples in enumerate(forest.estimators_samples_):
        if samples.max(initial=0) >= n_samples:
            raise ValueError(
                "prefit=True needs X to be the data the forest was fitted on: its "
                f"bootstrap samples index more than the {n_samples} rows of X."
            )
        held_out[tree, samples] = False
    return held_out
