"""Choosing the complexity parameter of a pruned tree by cross-validation.

On the model of :class:`~sklearn.linear_model.LassoCV`: one grid of alphas is
fixed from the pruning path of the tree grown on all the data, one tree is grown
per fold and its path is evaluated at every alpha of the grid without refitting,
the alpha is chosen from the cross-validated scores, and the tree grown on all
the data is pruned at it.
"""

from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.tree import BaseDecisionTree, DecisionTreeClassifier, DecisionTreeRegressor

from ..model_selection._search import (
    PathCVMixin,
    check_grid,
    path_cv_constraints,
    path_cv_doc,
    register_cv_estimators,
)
from ..utils._docstrings import FIT_DATA_DOC, RETURNS_SELF_DOC, fill_doc
from ..utils._sklearn import _fit_context
from ._classes import (
    PrunedTreeClassifier,
    PrunedTreeMixin,
    PrunedTreeRegressor,
    growing_parameters,
)


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


def walk_tree_path(template, X, y, sample_weight, grid, visit):
    """Grow a tree and visit its pruned subtree at every alpha of ``grid``.

    See :func:`~skprune.model_selection._search.score_path_on_fold`.
    """
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
    tree = clone(template).fit(X, y, **fit_params)
    path = tree._path
    for index, alpha in enumerate(grid):
        tree.tree_ = path.prune(alpha)
        visit(index, tree, path.n_leaves[path.step_at(alpha)])


class PrunedTreeCVMixin(PathCVMixin, PrunedTreeMixin):
    """Cross-validated choice of ``ccp_alpha``, shared by both CV estimators."""

    _alpha_attribute = "ccp_alpha_"
    _curve_param = "ccp_alpha"
    _grid_parameter = "ccp_alphas"
    _size_name = "n_leaves"
    _curve_complexity = ("n_leaves", "Number of leaves")
    _walk_path = staticmethod(walk_tree_path)

    def _alpha_grid(self):
        """The grid of alphas: given, or taken from the full-data path."""
        if self.ccp_alphas is not None and not isinstance(self.ccp_alphas, Integral):
            return check_alpha_grid(self.ccp_alphas)
        grid = geometric_midpoints(self._path.ccp_alphas)
        if self.ccp_alphas is not None:
            grid = thin_grid(grid, self.ccp_alphas)
        return grid

    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc(fit_data=FIT_DATA_DOC, returns_self=RETURNS_SELF_DOC)
    def fit(self, X, y, sample_weight=None, check_input=True, *, groups=None):
        """Grow a tree, choose ``ccp_alpha`` by cross-validation and prune.

        Parameters
        ----------
        {fit_data}
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

        {returns_self}
        """
        self._grow(X, y, sample_weight, check_input)
        grid = self._alpha_grid()
        self._cross_validate_path(
            self._fold_template(), X, y, sample_weight, groups, grid
        )
        self.cv_results_["n_leaves"] = self._path.n_leaves[
            [self._path.step_at(alpha) for alpha in grid]
        ]
        self.ccp_alpha_ = self.best_params_["ccp_alpha"]
        self.tree_ = self._path.prune(self.ccp_alpha_)
        return self


_GRID_DOC = """
    ccp_alphas : int, array-like or None, default=None
        The alphas to choose from. ``None`` takes one alpha per subtree of the
        pruning path of the tree grown on all the data: the geometric mean of
        consecutive effective alphas, as rpart does. An int keeps that many of
        those, evenly spread along the path. An array gives the alphas
        themselves; it must hold at least 2 distinct values."""

_PATH_CV_PARAMETERS_DOC, _PATH_CV_ATTRIBUTES_DOC = path_cv_doc(
    model="tree",
    value="alpha",
    param="ccp_alpha",
    grid="ccp_alphas_",
    sizes="``mean_n_leaves`` over the fold trees and ``n_leaves`` of the\n"
    "        tree grown on all the data",
    most_pruned="largest alpha (the smaller tree)",
    least_pruned="smallest alpha",
    verbose="""    verbose : int, default=0
        Verbosity of the parallel loop over the folds.
""",
)

_CV_DOC = _GRID_DOC + _PATH_CV_PARAMETERS_DOC

# How both CV estimators choose alpha, for their class docstrings.
_CV_SUMMARY_DOC = """
    One grid of alphas is fixed from the pruning path of the tree grown on all
    the data; on each fold one tree is grown and its path scored at every alpha
    without refitting; the alpha is chosen by the one-standard-error rule or the
    best mean score, and the tree grown on all the data is pruned at it.
"""

_CV_ATTRIBUTES_DOC = (
    """
    ccp_alpha_ : float
        The chosen alpha.
    ccp_alphas_ : ndarray of shape (n_alphas,)
        The grid of alphas, increasing."""
    + _PATH_CV_ATTRIBUTES_DOC
    + """    tree_ : sklearn.tree._tree.Tree
        The tree grown on all the data, pruned at ``ccp_alpha_``.
    full_tree_ : sklearn.tree._tree.Tree
        The tree grown on all the data.
    pruning_path_ : :class:`~sklearn.utils.Bunch`
        Its pruning path.
"""
)


def _cv_class_doc(kind, own_attributes, example):
    """The docstring of the CV estimator of ``kind``, "classifier" or "regressor"."""
    sklearn_tree = f"DecisionTree{kind.capitalize()}"
    return f"""A pruned decision tree {kind} whose alpha is chosen by cross-validation.
{_CV_SUMMARY_DOC}
    Parameters
    ----------
    {growing_parameters(kind)}, risk
        As in :class:`PrunedTree{kind.capitalize()}`.
{_CV_DOC}
    Attributes
    ----------
{_CV_ATTRIBUTES_DOC}
    {own_attributes}n_outputs_, max_features_, n_features_in_, feature_names_in_
        As in :class:`~sklearn.tree.{sklearn_tree}`.

    See Also
    --------
    PrunedTree{kind.capitalize()} : The pruned tree at a given alpha.
    skprune.model_selection.PruningCurveDisplay : Plots the scores against alpha.

    Examples
    --------
{example}"""


def _cv_constraints(single):
    """Parameter constraints of a CV estimator: the tree's, and the CV's."""
    return path_cv_constraints(
        single._parameter_constraints,
        knob="ccp_alpha",
        grid="ccp_alphas",
        grid_may_be_none=True,
        verbose=["verbose"],
    )


class PrunedTreeClassifierCV(PrunedTreeCVMixin, DecisionTreeClassifier):
    __doc__ = _cv_class_doc(
        "classifier",
        "classes_, n_classes_, ",
        """    The one-standard-error rule chooses a smaller tree than the best mean
    score:

    >>> from sklearn.datasets import load_breast_cancer
    >>> from skprune.tree import PrunedTreeClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> [int(PrunedTreeClassifierCV(selection=rule, random_state=0)
    ...      .fit(X, y).get_n_leaves()) for rule in ("1se", "best")]
    [3, 4]
    """,
    )

    _fold_estimator = PrunedTreeClassifier
    _parameter_constraints = _cv_constraints(PrunedTreeClassifier)

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
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.class_weight = class_weight
        self.risk = risk
        self.monotonic_cst = monotonic_cst
        self.ccp_alphas = ccp_alphas
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.return_train_score = return_train_score


class PrunedTreeRegressorCV(PrunedTreeCVMixin, DecisionTreeRegressor):
    __doc__ = _cv_class_doc(
        "regressor",
        "",
        """    An int ``ccp_alphas`` keeps that many alphas of the path to choose from:

    >>> from sklearn.datasets import load_diabetes
    >>> from skprune.tree import PrunedTreeRegressorCV
    >>> X, y = load_diabetes(return_X_y=True)
    >>> tree = PrunedTreeRegressorCV(ccp_alphas=20, random_state=0).fit(X, y)
    >>> tree.cv_results_["mean_test_score"].shape
    (20,)
    >>> bool(tree.ccp_alpha_ == tree.ccp_alphas_[tree.best_index_])
    True
    """,
    )

    _fold_estimator = PrunedTreeRegressor
    _parameter_constraints = _cv_constraints(PrunedTreeRegressor)

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
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.risk = risk
        self.monotonic_cst = monotonic_cst
        self.ccp_alphas = ccp_alphas
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.return_train_score = return_train_score


# scikit-learn's trees and skprune's single trees have no CV estimator of
# their own to name; the display finds this one through the registry.
register_cv_estimators(BaseDecisionTree, PrunedTreeClassifierCV, PrunedTreeRegressorCV)
