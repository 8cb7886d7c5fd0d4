"""Cost-complexity pruning of any fitted scikit-learn tree or forest."""

import copy

from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.base import is_classifier
from sklearn.tree import BaseDecisionTree
from sklearn.utils.validation import check_is_fitted

from ..utils._docstrings import fill_doc
from ._classes import check_ccp_alpha, check_risk, path_bunch
from ._path import PruningPath

FORESTS = (
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
)

# The ``estimator`` of the functions that prune any fitted tree or forest.
TREE_OR_FOREST_DOC = """
estimator : fitted decision tree or forest
    A fitted scikit-learn decision tree or extra tree, a skprune tree, or
    a fitted :class:`~sklearn.ensemble.RandomForestClassifier`,
    :class:`~sklearn.ensemble.RandomForestRegressor`,
    :class:`~sklearn.ensemble.ExtraTreesClassifier` or
    :class:`~sklearn.ensemble.ExtraTreesRegressor`. It is not modified.
"""

# What the functions that prune a tree or forest into new node arrays return.
PRUNED_COPY_DOC = """
Returns
-------
pruned : estimator
    A new fitted estimator of the same class whose trees are pruned, with
    smaller node arrays.
"""


def _check_fitted_tree(estimator, name="estimator"):
    if not isinstance(estimator, BaseDecisionTree):
        raise TypeError(
            f"{name} must be a fitted scikit-learn decision tree "
            "(DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, "
            f"ExtraTreeRegressor or a skprune tree), got {type(estimator).__name__}."
        )
    check_is_fitted(estimator, "tree_")


def check_fitted_trees(estimator, *, classifier_only=False):
    """Check that ``estimator`` is a fitted scikit-learn tree or forest.

    Parameters
    ----------
    estimator : object
    classifier_only : bool, default=False
        Also require a classifier.

    Raises
    ------
    TypeError
        If ``estimator`` is not a tree or forest, or not a classifier when
        one is required.
    NotFittedError
        If it is not fitted.
    """
    if isinstance(estimator, FORESTS):
        check_is_fitted(estimator, "estimators_")
    else:
        _check_fitted_tree(estimator)
    if classifier_only and not is_classifier(estimator):
        raise TypeError(
            "estimator must be a classification tree or forest, got "
            f"{type(estimator).__name__}."
        )


def replace_trees(estimator, new_tree):
    """A copy of a fitted tree or forest with every tree replaced.

    Parameters
    ----------
    estimator : fitted tree or forest
        It is not modified.
    new_tree : callable
        ``new_tree(tree)`` returns the ``sklearn.tree._tree.Tree`` that
        replaces ``tree``.

    Returns
    -------
    replaced : estimator
        A shallow copy of ``estimator`` (and of each tree estimator of a
        forest) holding the new trees.
    """
    replaced = copy.copy(estimator)
    if isinstance(estimator, FORESTS):
        replaced.estimators_ = [
            replace_trees(tree, new_tree) for tree in estimator.estimators_
        ]
    else:
        replaced.tree_ = new_tree(estimator.tree_)
    return replaced


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
    The subtrees of a tree fitted by scikit-learn, from the whole tree to its
    root. With the misclassification risk, a split that corrects no training
    error is already gone at ``ccp_alpha=0``:

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skprune.tree import cost_complexity_path
    >>> X, y = load_iris(return_X_y=True)
    >>> tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    >>> cost_complexity_path(tree).n_leaves.tolist()
    [5, 4, 3, 2, 1]
    >>> cost_complexity_path(tree, risk="misclassification").n_leaves.tolist()
    [4, 3, 2, 1]
    """
    _check_fitted_tree(estimator)
    check_risk(risk, estimator)
    return path_bunch(PruningPath(estimator.tree_, risk))


@fill_doc(estimator=TREE_OR_FOREST_DOC)
def prune_tree(estimator, ccp_alpha, *, risk="impurity"):
    """Prune a fitted decision tree, or every tree of a forest, without refitting.

    Parameters
    ----------
    {estimator}
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
    Every tree of a forest pruned at one alpha, without refitting:

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skprune.tree import prune_tree
    >>> X, y = load_iris(return_X_y=True)
    >>> forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    >>> pruned = prune_tree(forest, 0.02)
    >>> [int(tree.get_n_leaves()) for tree in forest.estimators_]
    [7, 8, 10]
    >>> [int(tree.get_n_leaves()) for tree in pruned.estimators_]
    [4, 4, 5]
    """
    ccp_alpha = check_ccp_alpha(ccp_alpha)
    check_fitted_trees(estimator)
    check_risk(risk, estimator)
    return replace_trees(
        estimator, lambda tree: PruningPath(tree, risk).prune(ccp_alpha)
    )
