"""A forest's trees at every pruning level, judged on held-out samples.

Each tree is judged only on the samples it was not grown on: its out-of-bag
samples when the forest draws bootstrap samples, a validation split
otherwise. The trees are ordered by greedy forward selection (Martínez-Muñoz
and Suárez, 2006): each step adds the tree that makes the sub-forest score
best on the selection samples.
"""

import numpy as np
from joblib import delayed

from ._levels import classification_levels, pruning_levels
from ._scores import SCALE_FREE_SCORES, accuracy, most_probable_class


def tree_predictions(tree, X, classifier):
    """Class fractions (n_samples, n_classes) or values (n_samples,) of a tree.

    The tree has one output: scikit-learn then drops the output axis.
    """
    value = tree.predict(X)
    return value if classifier else value[:, 0]


def averaged(total, count):
    """Mean prediction from summed predictions and tree counts per sample."""
    count = np.maximum(count, 1)
    return total / (count[..., None] if total.ndim > count.ndim else count)


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
    everywhere = np.ones((len(trees), X.shape[0]), dtype=bool)
    scores = []
    for level in range(len(trees[0])):
        predictions = np.stack(
            [tree_predictions(levels[level], X, classifier) for levels in trees]
        )
        mean, _ = ordered_sub_forests(predictions, everywhere, np.arange(len(trees)))
        scores.append(score(y, mean, weights))
    return np.stack(scores)


class ForestLadder:
    """The trees of a forest at every pruning level, on held-out samples.

    Parameters
    ----------
    forest : fitted forest
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)
    held_out : ndarray of bool of shape (n_trees, n_samples)
        The samples each tree may be judged on.
    n_levels : int
    classifier : bool
    parallel : joblib.Parallel
        Runs the pruning of the trees.
    """

    def __init__(self, forest, X, held_out, n_levels, classifier, parallel):
        levels = classification_levels if classifier else pruning_levels
        self.trees = parallel(
            delayed(levels)(tree.tree_, n_levels) for tree in forest.estimators_
        )
        self.n_levels = len(self.trees[0])
        self.n_nodes = np.array([[t.node_count for t in tree] for tree in self.trees]).T
        self.X = X
        self.held_out = held_out
        self.classifier = classifier

    def predictions(self, level):
        """Predictions of every tree at ``level``, zero where not held out.

        Returns
        -------
        predictions : ndarray of shape (n_trees, n_samples[, n_classes])
        """
        stacked = np.stack(
            [tree_predictions(trees[level], self.X, self.classifier) for trees in self.trees]
        )
        mask = self.held_out if stacked.ndim == 2 else self.held_out[..., None]
        return np.where(mask, stacked, 0.0).astype(np.float32)

    def all_predictions(self):
        """:meth:`predictions` at every level, shape (n_levels, n_trees, ...)."""
        return np.stack([self.predictions(level) for level in range(self.n_levels)])


def greedy_order(predictions, held_out, y, weights, score):
    """Order trees by greedy forward selection on the weighted samples.

    Parameters
    ----------
    predictions : ndarray of shape (n_trees, n_samples[, n_classes])
        Each tree's predictions, zero where not held out.
    held_out : ndarray of bool of shape (n_trees, n_samples)
    y : ndarray of shape (n_samples,)
    weights : ndarray of shape (n_samples,)
        Zero for the samples not used for the selection.
    score : callable
        A score of :mod:`skprune.ensemble._scores`.

    Returns
    -------
    order : ndarray of int of shape (n_trees,)
        Ties go to the tree that comes first in the forest.
    """
    no_cost = np.zeros((1, predictions.shape[0]))
    _, order = greedy_pairs(
        predictions[None], held_out, no_cost, y, weights, score, penalty=0.0
    )
    return order


def greedy_pairs(predictions, held_out, n_nodes, y, weights, score, penalty):
    """Greedy forward selection of trees, each at the level that pays best.

    Each step adds the (tree, level) pair that maximises the score of the
    sub-forest with it minus ``penalty`` times its node count over the node
    count of the unpruned forest (level 0); a tree is then no longer
    available at any level. With one level and no penalty this is plain
    greedy forward selection.

    Parameters
    ----------
    predictions : ndarray of shape (n_levels, n_trees, n_samples[, n_classes])
        Each tree's predictions at each level, zero where not held out.
    held_out : ndarray of bool of shape (n_trees, n_samples)
    n_nodes : ndarray of shape (n_levels, n_trees)
    y, weights, score :
        As in :func:`greedy_order`.
    penalty : float
        Score given up for the nodes of a whole unpruned forest.

    Returns
    -------
    levels, trees : ndarrays of int of shape (n_trees,)
        The pairs in the order chosen. Ties go to the lower level, then to
        the tree that comes first in the forest.
    """
    n_levels, n_trees = n_nodes.shape
    used = weights > 0
    candidates = predictions[:, :, used].reshape(
        n_levels * n_trees, -1, *predictions.shape[3:]
    )
    candidate_held_out = np.tile(held_out[:, used], (n_levels, 1))
    cost = penalty * n_nodes.ravel() / max(n_nodes[0].sum(), 1)
    y, weights = y[used], weights[used]
    total = np.zeros(candidates.shape[1:], dtype=candidates.dtype)
    count = np.zeros(candidate_held_out.shape[1])
    available = np.ones(n_trees, dtype=bool)
    levels, trees = [], []
    for _ in range(n_trees):
        if score is accuracy:
            scores = _accuracy_after_adding(
                total, count, candidates, candidate_held_out, y, weights
            )
        else:
            candidate_total = total + candidates
            candidate_count = count + candidate_held_out
            if score not in SCALE_FREE_SCORES:
                candidate_total = averaged(candidate_total, candidate_count)
            scores = score(y, candidate_total, weights * (candidate_count > 0))
        objective = np.where(np.tile(available, n_levels), scores - cost, -np.inf)
        best = int(np.argmax(objective))
        total, count = total + candidates[best], count + candidate_held_out[best]
        level, tree = divmod(best, n_trees)
        available[tree] = False
        levels.append(level)
        trees.append(tree)
    return np.asarray(levels), np.asarray(trees)


def _accuracy_after_adding(total, count, predictions, held_out, y, weights):
    """Accuracy of the summed predictions after adding each tree.

    A tree adds at most 1 to any class, so a sample whose true class leads
    (or trails) the others by more than 1 is decided whatever tree is added:
    only the other samples are evaluated for every tree.
    """
    rows = np.arange(y.shape[0])
    others = total.copy()
    others[rows, y] = -np.inf
    margin = total[rows, y] - others.max(axis=1)
    decided = (count > 0) & (np.abs(margin) > 1)
    decided_right = (weights * (decided & (margin > 0))).sum()
    decided_weight = (weights * decided).sum()
    open_ = ~decided
    candidate_count = count[open_] + held_out[:, open_]
    candidate_weights = weights[open_] * (candidate_count > 0)
    right = most_probable_class(total[open_] + predictions[:, open_]) == y[open_]
    numerator = decided_right + (candidate_weights * right).sum(axis=1)
    denominator = decided_weight + candidate_weights.sum(axis=1)
    return numerator / np.where(denominator > 0, denominator, 1.0)


def ordered_sub_forests(predictions, held_out, order):
    """Mean predictions of the first k trees in ``order``, for every k.

    Returns
    -------
    mean : ndarray of shape (n_trees, n_samples[, n_classes])
    covered : ndarray of bool of shape (n_trees, n_samples)
        Whether a sample has a held-out tree among the first k.
    """
    count = np.cumsum(held_out[order], axis=0)
    return averaged(np.cumsum(predictions[order], axis=0), count), count > 0
