"""Choosing the complexity parameter of a pruned tree by cross-validation.

On the model of :class:`~sklearn.linear_model.LassoCV`: one grid of alphas is
fixed from the pruning path of the tree grown on all the data, one tree is grown
per fold and its path is evaluated at every alpha of the grid without refitting,
the alpha is chosen from the cross-validated scores, and the tree grown on all
the data is pruned at it.
"""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import get_scorer_names
from sklearn.tree import BaseDecisionTree

from ..model_selection._plot import cv_estimator_factory, register_cv_estimator
from ..model_selection._search import (
    check_grid,
    score_results,
    select_index,
    split_for_cv,
    weights_of,
)
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ._classes import PrunedTreeClassifier, PrunedTreeMixin, PrunedTreeRegressor

SELECTIONS = ("1se", "min")


def geometric_midpoints(ccp_alphas):
    """One representative alpha per subtree of a pruning path.

    A subtree of the path is optimal for alphas between its own effective alpha
    and the next one; like rpart, take the geometric mean of the two. The last
    subtree, the root alone, is represented by its own alpha.

    Parameters
    ----------
    ccp_alphas : ndarray of shape (n_subtrees,)
        Effective alphas of the path, non-decreasing.

    Returns
    -------
    grid : ndarray
        Increasing, distinct alphas.
    """
    alphas = np.unique(ccp_alphas)
    midpoints = np.sqrt(alphas[:-1] * alphas[1:])
    return np.unique(np.append(midpoints, alphas[-1]))


def thin_grid(grid, n_alphas):
    """Keep at most ``n_alphas`` values of ``grid``, evenly spread by rank."""
    if n_alphas >= grid.shape[0]:
        return grid
    keep = np.unique(np.round(np.linspace(0, grid.shape[0] - 1, n_alphas)))
    return grid[keep.astype(np.intp)]


def check_alpha_grid(ccp_alphas):
    """Validate a user-given grid of alphas; return it sorted and distinct."""
    return check_grid(
        ccp_alphas,
        "ccp_alphas",
        accepted="None, an int or an array of numbers",
        valid=lambda grid: np.isfinite(grid) & (grid >= 0),
        valid_text="finite, non-negative numbers",
        min_points=2,
    )


def _score_path_on_fold(
    estimator, X, y, sample_weight, weighted_scores, train, test, grid, scorer,
    return_train_score,
):
    """Grow a tree on one fold and score its pruned subtrees at every alpha."""
    tree = clone(estimator).fit(X[train], y[train], **weights_of(sample_weight, train))
    score_weight = sample_weight if weighted_scores else None
    test_weight = weights_of(score_weight, test)
    train_weight = weights_of(score_weight, train)
    path = tree._path
    test_scores = np.empty(grid.shape[0])
    train_scores = np.empty(grid.shape[0]) if return_train_score else None
    n_leaves = np.empty(grid.shape[0], dtype=np.intp)
    for index, alpha in enumerate(grid):
        step = path.step_at(alpha)
        tree.tree_ = path.prune(alpha)
        n_leaves[index] = path.n_leaves[step]
        test_scores[index] = scorer(tree, X[test], y[test], **test_weight)
        if return_train_score:
            train_scores[index] = scorer(tree, X[train], y[train], **train_weight)
    return test_scores, train_scores, n_leaves


class PrunedTreeCVMixin(PrunedTreeMixin):
    """Cross-validated choice of ``ccp_alpha``, shared by both CV estimators."""

    _alpha_attribute = "ccp_alpha_"
    # the estimator grown on each fold
    _fold_estimator = None
    # for PruningCurveDisplay: the knob, and the complexity shown next to it
    _curve_param = "ccp_alpha"
    _curve_complexity = ("n_leaves", "Number of leaves")

    _cv_parameter_constraints: dict = {
        "ccp_alphas": [Interval(Integral, 2, None, closed="left"), "array-like", None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "selection": [StrOptions(set(SELECTIONS))],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "return_train_score": ["boolean"],
    }

    def _alpha_grid(self):
        """The grid of alphas: given, or taken from the full-data path."""
        if self.ccp_alphas is not None and not isinstance(self.ccp_alphas, Integral):
            return check_alpha_grid(self.ccp_alphas)
        grid = geometric_midpoints(self._path.ccp_alphas)
        if self.ccp_alphas is not None:
            grid = thin_grid(grid, self.ccp_alphas)
        return grid

    def _fold_template(self):
        names = self._fold_estimator._parameter_constraints
        params = {k: v for k, v in self.get_params(deep=False).items() if k in names}
        return self._fold_estimator(**params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True, *, groups=None):
        """Grow a tree, choose ``ccp_alpha`` by cross-validation and prune.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, used to grow every tree and, when the scoring
            accepts them, to weight the scores, as
            :class:`~sklearn.model_selection.GridSearchCV` does.
        check_input : bool, default=True
            Allow to bypass input checking of the tree grown on all the data,
            as in scikit-learn.
        groups : array-like of shape (n_samples,), default=None
            Group labels for splitters such as
            :class:`~sklearn.model_selection.GroupKFold`.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._grow(X, y, sample_weight, check_input)
        grid = self._alpha_grid()

        X, y, sample_weight, folds, scorer, weighted_scores = split_for_cv(
            self, X, y, sample_weight, groups
        )
        template = self._fold_template()
        results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_score_path_on_fold)(
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
            )
            for train, test in folds
        )
        self._store_results(grid, results)
        self.tree_ = self._path.prune(self.ccp_alpha_)
        return self

    def _store_results(self, grid, results):
        train_scores = None
        if self.return_train_score:
            train_scores = np.array([r[1] for r in results])
        cv_results = score_results(
            "ccp_alpha", grid, np.array([r[0] for r in results]), train_scores
        )
        cv_results["mean_n_leaves"] = np.mean([r[2] for r in results], axis=0)
        cv_results["n_leaves"] = self._path.n_leaves[
            [self._path.step_at(alpha) for alpha in grid]
        ]
        self.cv_results_ = cv_results
        self.ccp_alphas_ = grid
        self.best_index_ = select_index(
            cv_results["mean_test_score"],
            cv_results["sem_test_score"],
            one_standard_error=self.selection == "1se",
        )
        self.best_score_ = cv_results["mean_test_score"][self.best_index_]
        self.ccp_alpha_ = float(grid[self.best_index_])
        self.n_splits_ = len(results)


_CV_DOC = """
    ccp_alphas : int, array-like or None, default=None
        The alphas to choose from. ``None`` takes one alpha per subtree of the
        pruning path of the tree grown on all the data: the geometric mean of
        consecutive effective alphas, as rpart does. An int keeps that many of
        those, evenly spread along the path. An array gives the alphas
        themselves; it must hold at least 2 distinct values.

    cv : int, cross-validation generator or iterable, default=None
        Determines the cross-validation splitting strategy, as in
        :func:`~sklearn.model_selection.check_cv`: ``None`` for 5 folds,
        stratified for classifiers.

    scoring : str, callable or None, default=None
        Scoring of the pruned trees on the held-out folds; ``None`` uses the
        estimator's ``score`` method. Higher is better.

    selection : {"1se", "min"}, default="1se"
        ``"1se"`` chooses the largest alpha whose mean score is within one
        standard error of the best mean score (Breiman's rule, the smaller
        tree); ``"min"`` chooses the alpha with the best mean score, which is
        the choice of :class:`~sklearn.model_selection.GridSearchCV`.

    n_jobs : int, default=None
        Number of folds processed in parallel through joblib. ``None`` means 1
        unless in a :obj:`joblib.parallel_backend` context, which also lets the
        folds run on a cluster.

    verbose : int, default=0
        Verbosity of the parallel loop over the folds.

    return_train_score : bool, default=False
        Also score every pruned tree on its training fold, as needed to plot a
        pruning curve.
"""

_CV_ATTRIBUTES_DOC = """
    ccp_alpha_ : float
        The chosen alpha.

    ccp_alphas_ : ndarray of shape (n_alphas,)
        The grid of alphas, increasing.

    cv_results_ : dict of ndarrays
        Per alpha of the grid: ``param_ccp_alpha``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score`` (as in GridSearchCV),
        ``sem_test_score`` (standard error of the mean over the folds, sample
        standard deviation over the square root of the number of folds),
        ``mean_n_leaves`` over the fold trees and ``n_leaves`` of the tree grown
        on all the data; the train scores too if ``return_train_score``.

    best_index_ : int
        Index of the chosen alpha in ``ccp_alphas_``.

    best_score_ : float
        Mean cross-validated score at the chosen alpha.

    n_splits_ : int
        Number of folds.

    tree_ : sklearn.tree._tree.Tree
        The tree grown on all the data, pruned at ``ccp_alpha_``.

    full_tree_ : sklearn.tree._tree.Tree
        The tree grown on all the data.

    pruning_path_ : :class:`~sklearn.utils.Bunch`
        Its pruning path.
"""


def _cv_init_params(cls):
    """Parameter constraints of a CV estimator: the tree's, without ccp_alpha."""
    constraints = dict(cls._parameter_constraints)
    del constraints["ccp_alpha"]
    return {**constraints, **PrunedTreeCVMixin._cv_parameter_constraints}


class PrunedTreeClassifierCV(PrunedTreeCVMixin, PrunedTreeClassifier):
    __doc__ = f"""A pruned decision tree classifier whose alpha is chosen by cross-validation.

    One grid of alphas is fixed from the pruning path of the tree grown on all
    the data; on each fold one tree is grown and its path scored at every alpha
    without refitting; the alpha is chosen by the one-standard-error rule or the
    best mean score, and the tree grown on all the data is pruned at it.

    Parameters
    ----------
    criterion, splitter, max_depth, min_samples_split, min_samples_leaf, \
min_weight_fraction_leaf, max_features, random_state, max_leaf_nodes, \
min_impurity_decrease, class_weight, monotonic_cst, risk
        As in :class:`PrunedTreeClassifier`.
{_CV_DOC}
    Attributes
    ----------
{_CV_ATTRIBUTES_DOC}
    classes_, n_classes_, n_outputs_, max_features_, n_features_in_, \
feature_names_in_
        As in :class:`~sklearn.tree.DecisionTreeClassifier`.

    See Also
    --------
    PrunedTreeClassifier : The pruned tree at a given alpha.
    skprune.model_selection.PruningCurveDisplay : Plots the scores against alpha.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skprune.tree import PrunedTreeClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> tree = PrunedTreeClassifierCV(random_state=0).fit(X, y)
    >>> bool(tree.get_n_leaves() < tree.pruning_path_.n_leaves[0])
    True
    """

    _fold_estimator = PrunedTreeClassifier
    _parameter_constraints = _cv_init_params(PrunedTreeClassifier)

    def __init__(
        self,
        *,
        criterion="gini",
        splitter="best",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_weight_fraction_leaf=0.0,
        max_features=None,
        random_state=None,
        max_leaf_nodes=None,
        min_impurity_decrease=0.0,
        class_weight=None,
        risk="impurity",
        monotonic_cst=None,
        ccp_alphas=None,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        verbose=0,
        return_train_score=False,
    ):
        super().__init__(
            criterion=criterion,
            splitter=splitter,
            max_depth=max_depth,
            min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf,
            min_weight_fraction_leaf=min_weight_fraction_leaf,
            max_features=max_features,
            random_state=random_state,
            max_leaf_nodes=max_leaf_nodes,
            min_impurity_decrease=min_impurity_decrease,
            class_weight=class_weight,
            risk=risk,
            monotonic_cst=monotonic_cst,
        )
        # the alpha is chosen, not given: it is the fitted ``ccp_alpha_``
        del self.ccp_alpha
        self.ccp_alphas = ccp_alphas
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.return_train_score = return_train_score


class PrunedTreeRegressorCV(PrunedTreeCVMixin, PrunedTreeRegressor):
    __doc__ = f"""A pruned decision tree regressor whose alpha is chosen by cross-validation.

    One grid of alphas is fixed from the pruning path of the tree grown on all
    the data; on each fold one tree is grown and its path scored at every alpha
    without refitting; the alpha is chosen by the one-standard-error rule or the
    best mean score, and the tree grown on all the data is pruned at it.

    Parameters
    ----------
    criterion, splitter, max_depth, min_samples_split, min_samples_leaf, \
min_weight_fraction_leaf, max_features, random_state, max_leaf_nodes, \
min_impurity_decrease, monotonic_cst, risk
        As in :class:`PrunedTreeRegressor`.
{_CV_DOC}
    Attributes
    ----------
{_CV_ATTRIBUTES_DOC}
    n_outputs_, max_features_, n_features_in_, feature_names_in_
        As in :class:`~sklearn.tree.DecisionTreeRegressor`.

    See Also
    --------
    PrunedTreeRegressor : The pruned tree at a given alpha.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skprune.tree import PrunedTreeRegressorCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> tree = PrunedTreeRegressorCV(ccp_alphas=20, random_state=0).fit(X, y)
    >>> int(tree.get_n_leaves()) < 50
    True
    """

    _fold_estimator = PrunedTreeRegressor
    _parameter_constraints = _cv_init_params(PrunedTreeRegressor)

    def __init__(
        self,
        *,
        criterion="squared_error",
        splitter="best",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_weight_fraction_leaf=0.0,
        max_features=None,
        random_state=None,
        max_leaf_nodes=None,
        min_impurity_decrease=0.0,
        risk="impurity",
        monotonic_cst=None,
        ccp_alphas=None,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        verbose=0,
        return_train_score=False,
    ):
        super().__init__(
            criterion=criterion,
            splitter=splitter,
            max_depth=max_depth,
            min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf,
            min_weight_fraction_leaf=min_weight_fraction_leaf,
            max_features=max_features,
            random_state=random_state,
            max_leaf_nodes=max_leaf_nodes,
            min_impurity_decrease=min_impurity_decrease,
            risk=risk,
            monotonic_cst=monotonic_cst,
        )
        # the alpha is chosen, not given: it is the fitted ``ccp_alpha_``
        del self.ccp_alpha
        self.ccp_alphas = ccp_alphas
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.return_train_score = return_train_score


register_cv_estimator(
    BaseDecisionTree,
    cv_estimator_factory(PrunedTreeClassifierCV, PrunedTreeRegressorCV, "ccp_alphas"),
)
