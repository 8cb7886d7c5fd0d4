"""Cost-complexity pruning of any fitted scikit-learn tree or forest."""

import copy

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import BaseDecisionTree
from sklearn.utils.validation import check_is_fitted

from ._classes import check_ccp_alpha, check_risk, path_bunch
from ._path import PruningPath

FORESTS = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
)


def _check_fitted_tree(estimator, name="estimator"):
    if not isinstance(estimator, BaseDecisionTree):
        raise TypeError(
            f"{name} must be a fitted scikit-learn decision tree "
            "(DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, "
            f"ExtraTreeRegressor or a skprune tree), got {type(estimator).__name__}."
        )
    check_is_fitted(estimator, "tree_")


def cost_complexity_path(estimator, *, risk="impurity"):
    """Minimal cost-complexity pruning path of a fitted decision tree.

    Unlike scikit-learn's ``cost_complexity_pruning_path`` method, nothing is
    refitted: the path is computed from the tree the estimator holds, whoever
    fitted it.

    Parameters
    ----------
    estimator : fitted decision tree
        A fitted :class:`~sklearn.tree.DecisionTreeClassifier`,
        :class:`~sklearn.tree.DecisionTreeRegressor`, extra tree, or skprune
        tree. Its current ``tree_`` is the start of the path.
    risk : {"impurity", "misclassification"}, default="impurity"
        The node risk R(t); see :class:`PrunedTreeClassifier`.

    Returns
    -------
    path : :class:`~sklearn.utils.Bunch`
        ``ccp_alphas``, ``risks``, ``impurities`` and ``n_leaves`` of each
        subtree of the path. With ``risk="impurity"``, ``ccp_alphas`` and
        ``impurities`` equal scikit-learn's.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skprune.tree import cost_complexity_path
    >>> X, y = load_iris(return_X_y=True)
    >>> tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    >>> path = cost_complexity_path(tree, risk="misclassification")
    >>> bool((path.ccp_alphas[1:] > path.ccp_alphas[:-1]).all())
    True
    """
    _check_fitted_tree(estimator)
    check_risk(risk, estimator)
    return path_bunch(PruningPath(estimator.tree_, risk))


def prune_tree(estimator, ccp_alpha, *, risk="impurity"):
    """Prune a fitted decision tree, or every tree of a forest, without refitting.

    Parameters
    ----------
    estimator : fitted decision tree or forest
        A fitted scikit-learn decision tree or extra tree, a skprune tree, or
        a fitted :class:`~sklearn.ensemble.RandomForestClassifier`,
        :class:`~sklearn.ensemble.RandomForestRegressor`,
        :class:`~sklearn.ensemble.ExtraTreesClassifier` or
        :class:`~sklearn.ensemble.ExtraTreesRegressor`. It is not modified.
    ccp_alpha : non-negative float
        Complexity parameter: each tree is replaced by the subtree of its
        pruning path with the largest effective alpha at most ``ccp_alpha``.
        In a forest, each tree's risk is relative to its own (bootstrap)
        sample weight, as with the forest's own ``ccp_alpha``.
    risk : {"impurity", "misclassification"}, default="impurity"
        The node risk R(t); see :class:`PrunedTreeClassifier`.

    Returns
    -------
    pruned : estimator
        A new fitted estimator of the same class whose trees are pruned. Its
        parameters are those of ``estimator``. A skprune tree keeps its grown
        tree and path, so its :meth:`~PrunedTreeClassifier.prune` can still
        go back to any alpha.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skprune.tree import prune_tree
    >>> X, y = load_iris(return_X_y=True)
    >>> forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> pruned = prune_tree(forest, 0.02)
    >>> [t.get_n_leaves() <= 5 for t in pruned.estimators_] == [True] * 5
    True
    """
    ccp_alpha = check_ccp_alpha(ccp_alpha)
    if isinstance(estimator, FORESTS):
        check_is_fitted(estimator, "estimators_")
        check_risk(risk, estimator)
        pruned = copy.copy(estimator)
        pruned.estimators_ = [
            prune_tree(tree, ccp_alpha, risk=risk) for tree in estimator.estimators_
        ]
        return pruned
    _check_fitted_tree(estimator)
    check_risk(risk, estimator)
    pruned = copy.copy(estimator)
    pruned.tree_ = PruningPath(estimator.tree_, risk).prune(ccp_alpha)
    return pruned
