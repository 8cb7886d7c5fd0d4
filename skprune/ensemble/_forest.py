"""A forest's trees at every pruning level, and the scores of its first trees."""

import numpy as np
from joblib import delayed

from ._levels import pruning_levels


def tree_predictions(tree, X, classifier):
    """Class fractions (n_samples, n_classes) or values (n_samples,) of a tree.

    The tree has one output: scikit-learn then drops the output axis.
    """
    value = tree.predict(X)
    return value if classifier else value[:, 0]


def forest_levels(forest, n_levels, parallel):
    """Every tree of a forest at every level of :func:`pruning_levels`.

    Returns
    -------
    trees : list of lists of sklearn.tree._tree.Tree
        ``trees[t][level]``.
    """
    return parallel(
        delayed(pruning_levels)(tree.tree_, n_levels) for tree in forest.estimators_
    )


def sub_forest_scores(trees, X, y, weights, score, classifier):
    """Score of the first k trees of a forest at each level, for every k.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        As :func:`forest_levels` returns them.
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class indices (-1 for a class the forest was not fitted with) or
        values.
    weights : ndarray of shape (n_samples,)
    score : callable
        A score of :mod:`skprune.ensemble._scores`.
    classifier : bool

    Returns
    -------
    scores : ndarray of shape (n_levels, n_trees)
    """
    n_trees = np.arange(1, len(trees) + 1)
    scores = []
    for level in range(len(trees[0])):
        predictions = np.stack(
            [tree_predictions(levels[level], X, classifier) for levels in trees]
        )
        total = np.cumsum(predictions, axis=0)
        mean = total / n_trees.reshape(-1, *[1] * (total.ndim - 1))
        scores.append(score(y, mean, weights))
    return np.stack(scores)
