"""Decision trees with minimal cost-complexity pruning done completely.

The trees are grown by scikit-learn's CART builder and pruned by skprune: the
fitted estimator keeps the grown tree and its whole pruning path, so that it can
be pruned to any alpha without refitting.
"""

import copy
import numbers

from sklearn.base import clone, is_classifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ..utils._docstrings import FIT_PARAMETERS_DOC, fill_doc
from ..utils._estimators import DocLinkMixin
from ..utils._sklearn import StrOptions, _fit_context, check_sample_weight
from ._path import PruningPath

RISKS = ("impurity", "misclassification")

_PARAMETER_DOC = """
    risk : {"impurity", "misclassification"}, default="impurity"
        The risk R(t) of a node used to find the weakest links.

        - ``"impurity"``: the weighted impurity of the node over the total
          weight, scikit-learn's definition. The pruning path and the pruned
          trees are exactly those of scikit-learn.
        - ``"misclassification"`` (classifiers only): the misclassified weight
          of the node, which predicts its weighted majority class, over the
          total weight, as in Breiman et al. (1984) and rpart. All tied weakest
          links are pruned together, so the path's alphas strictly increase.
"""


def growing_parameters(kind):
    """Names of the parameters of scikit-learn's tree of ``kind``, for docstrings."""
    shared = (
        "criterion, splitter, max_depth, min_samples_split, min_samples_leaf, "
        "min_weight_fraction_leaf, max_features, random_state, max_leaf_nodes, "
        "min_impurity_decrease"
    )
    if kind == "classifier":
        return shared + ", class_weight, monotonic_cst"
    return shared + ", monotonic_cst"


def _grown_tree_doc(kind):
    """The docstring of the pruned tree of ``kind`` up to its growing parameters."""
    sklearn_tree = f"DecisionTree{kind.capitalize()}"
    return f"""A decision tree {kind} with complete cost-complexity pruning.

    The tree is grown by scikit-learn's :class:`~sklearn.tree.{sklearn_tree}`
    and pruned by skprune. The fitted estimator keeps the grown tree and its
    whole pruning path, so :meth:`prune` returns the tree at any other alpha
    without refitting. It is a :class:`~sklearn.tree.{sklearn_tree}`, so
    :func:`~sklearn.tree.plot_tree`, :func:`~sklearn.tree.export_text`,
    ``apply``, ``decision_path`` and pickling work as usual.

    Parameters
    ----------
    {growing_parameters(kind)}
        As in :class:`~sklearn.tree.{sklearn_tree}`: they control how the tree
        is grown.
"""


# The fitted attributes both pruned trees add to scikit-learn's.
_FITTED_TREES_DOC = """    tree_ : sklearn.tree._tree.Tree
        The pruned tree.
    full_tree_ : sklearn.tree._tree.Tree
        The grown tree, before pruning.
    pruning_path_ : :class:`~sklearn.utils.Bunch`
        The pruning path of the grown tree: ``ccp_alphas``, ``risks``,
        ``impurities`` and ``n_leaves`` of each subtree.
"""


def check_ccp_alpha(ccp_alpha, name="ccp_alpha"):
    """Validate a cost-complexity parameter and return it as a float.

    Raises
    ------
    TypeError
        If ``ccp_alpha`` is not a real number.
    ValueError
        If ``ccp_alpha`` is negative or NaN.
    """
    if isinstance(ccp_alpha, bool) or not isinstance(ccp_alpha, numbers.Real):
        raise TypeError(
            f"{name} must be a non-negative real number, got "
            f"{type(ccp_alpha).__name__} {ccp_alpha!r}."
        )
    if not ccp_alpha >= 0.0:
        raise ValueError(f"{name} must be a non-negative number, got {ccp_alpha!r}.")
    return float(ccp_alpha)


def path_bunch(path):
    """Public view of a :class:`PruningPath` as a scikit-learn ``Bunch``."""
    return Bunch(
        ccp_alphas=path.ccp_alphas.copy(),
        risks=path.risks.copy(),
        impurities=path.impurities.copy(),
        n_leaves=path.n_leaves.copy(),
    )


def check_risk(risk, estimator):
    """Check that ``risk`` is known and defined for ``estimator``."""
    if risk not in RISKS:
        raise ValueError(f"risk must be one of {RISKS}, got {risk!r}.")
    if risk == "misclassification" and not is_classifier(estimator):
        raise ValueError(
            "risk='misclassification' is only defined for classifiers; "
            f"{type(estimator).__name__} supports risk='impurity'."
        )


def _pruned_tree_constraints(grown):
    """Parameter constraints of a pruned tree: scikit-learn's tree's, and ``risk``."""
    return {**grown._parameter_constraints, "risk": [StrOptions(set(RISKS))]}


class PrunedTreeMixin(DocLinkMixin):
    """Fitting, pruning and path logic shared by the pruned tree estimators.

    The grown tree is stored in ``full_tree_`` and its pruning path in
    ``pruning_path_``; ``tree_`` is the tree pruned at the chosen alpha, a
    plain scikit-learn ``Tree``.
    """

    # where the alpha of the pruned tree is stored: a parameter or an attribute
    _alpha_attribute = "ccp_alpha"

    def _grow(self, X, y, sample_weight, check_input):
        """Grow the full tree with scikit-learn and compute its pruning path."""
        check_risk(self.risk, self)
        # the scikit-learn tree this estimator is grows it
        grower_class = (
            DecisionTreeClassifier if is_classifier(self) else DecisionTreeRegressor
        )
        params = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if name in grower_class._parameter_constraints
        }
        params["ccp_alpha"] = 0.0
        if sample_weight is not None:
            # A negative weight makes a node's risk meaningless for pruning.
            sample_weight = check_sample_weight(sample_weight, X, non_negative=True)
        grower = grower_class(**params)
        grower.fit(X, y, sample_weight=sample_weight, check_input=check_input)
        for name, value in vars(grower).items():
            if name.endswith("_") and not name.startswith("_"):
                setattr(self, name, value)
        self.full_tree_ = grower.tree_
        self._path = PruningPath(grower.tree_, self.risk)
        self.pruning_path_ = path_bunch(self._path)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Grow a tree on ``(X, y)``, compute its pruning path and prune it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values: class labels (integers or strings) for a
            classifier, real numbers for a regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights; zero weights are allowed.
        check_input : bool, default=True
            Allow to bypass input checking, as in scikit-learn.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._grow(X, y, sample_weight, check_input)
        self.tree_ = self._path.prune(getattr(self, self._alpha_attribute))
        return self

    def prune(self, ccp_alpha):
        """Return a copy of this estimator pruned at ``ccp_alpha``.

        The grown tree is pruned again, without refitting: any alpha, larger or
        smaller than the current one, can be asked for. This estimator is left
        unchanged.

        Parameters
        ----------
        ccp_alpha : float
            Non-negative complexity parameter. The pruned tree is the subtree
            of the pruning path with the largest effective alpha that is at
            most ``ccp_alpha``.

        Returns
        -------
        pruned : estimator
            A fitted estimator of the same class, sharing the grown tree and
            the path with this one.
        """
        check_is_fitted(self)
        ccp_alpha = check_ccp_alpha(ccp_alpha)
        pruned = copy.copy(self)
        setattr(pruned, self._alpha_attribute, ccp_alpha)
        pruned.tree_ = self._path.prune(ccp_alpha)
        return pruned

    @fill_doc(fit_parameters=FIT_PARAMETERS_DOC)
    def cost_complexity_pruning_path(self, X, y, sample_weight=None):
        """Compute the pruning path of the tree grown on ``(X, y)``.

        Same signature as scikit-learn's method: a clone of this estimator is
        fitted. On a fitted estimator, ``pruning_path_`` holds the same path
        without fitting again.

        {fit_parameters}

        Returns
        -------
        ccp_path : :class:`~sklearn.utils.Bunch`
            ``ccp_alphas`` (effective alphas of the subtrees), ``impurities``
            (total leaf impurity of each subtree, as in scikit-learn),
            ``risks`` (the risk R(T) used for pruning) and ``n_leaves``.
        """
        return clone(self)._grow(X, y, sample_weight, check_input=True).pruning_path_


class PrunedTreeClassifier(PrunedTreeMixin, DecisionTreeClassifier):
    __doc__ = f"""{_grown_tree_doc("classifier")}
    ccp_alpha : non-negative float, default=0.0
        Complexity parameter of minimal cost-complexity pruning: the pruned
        tree is the subtree of the path with the largest effective alpha
        that is at most ``ccp_alpha``.
{_PARAMETER_DOC}
    Attributes
    ----------
{_FITTED_TREES_DOC}    classes_, n_classes_, n_outputs_, max_features_, \
n_features_in_, feature_names_in_
        As in :class:`~sklearn.tree.DecisionTreeClassifier`.

    See Also
    --------
    PrunedTreeClassifierCV : Chooses ``ccp_alpha`` by cross-validation.
    prune_tree : Prunes a tree fitted by anyone.

    References
    ----------
    L. Breiman, J. Friedman, R. Olshen and C. Stone, *Classification and
    Regression Trees*, Wadsworth, 1984, chapter 3.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skprune.tree import PrunedTreeClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> tree = PrunedTreeClassifier(ccp_alpha=0.01, random_state=0).fit(X, y)
    >>> int(tree.get_n_leaves()) < int(tree.prune(0.0).get_n_leaves())
    True
    """

    _parameter_constraints = _pruned_tree_constraints(DecisionTreeClassifier)

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
        ccp_alpha=0.0,
        risk="impurity",
        monotonic_cst=None,
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
        self.ccp_alpha = ccp_alpha
        self.monotonic_cst = monotonic_cst
        self.risk = risk


class PrunedTreeRegressor(PrunedTreeMixin, DecisionTreeRegressor):
    __doc__ = f"""{_grown_tree_doc("regressor")}
    ccp_alpha : non-negative float, default=0.0
        Complexity parameter of minimal cost-complexity pruning.

    risk : {{"impurity"}}, default="impurity"
        The risk R(t) of a node: its weighted impurity (for the squared error,
        its weighted sum of squared deviations) over the total weight. The
        parameter exists so that code written for classifiers and regressors
        alike can pass it; ``"misclassification"`` raises an error.

    Attributes
    ----------
{_FITTED_TREES_DOC}    n_outputs_, max_features_, n_features_in_, feature_names_in_
        As in :class:`~sklearn.tree.DecisionTreeRegressor`.

    See Also
    --------
    PrunedTreeRegressorCV : Chooses ``ccp_alpha`` by cross-validation.

    Examples
    --------
    The whole path is kept, so the largest subtree with at most 8 leaves is
    found without refitting:

    >>> from sklearn.datasets import load_diabetes
    >>> from skprune.tree import PrunedTreeRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> tree = PrunedTreeRegressor(random_state=0).fit(X, y)
    >>> path = tree.pruning_path_
    >>> alpha = path.ccp_alphas[path.n_leaves <= 8][0]
    >>> int(tree.prune(alpha).get_n_leaves())
    8
    """

    _parameter_constraints = _pruned_tree_constraints(DecisionTreeRegressor)

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
        ccp_alpha=0.0,
        risk="impurity",
        monotonic_cst=None,
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
        self.ccp_alpha = ccp_alpha
        self.monotonic_cst = monotonic_cst
        self.risk = risk
