"""Global refinement of a forest's leaves: all leaf values refitted jointly.

After a forest's trees are cut to fewer and smaller ones, each leaf keeps the
value it had in its own tree, although the trees now vote together. Global
refinement (Ren et al., 2015) refits the leaves of all the kept trees at once
so that the forest's mean prediction fits the training data: a ridge
regression on the one-hot design of the leaves each sample reaches (one
column per node, ``1 / n_trees`` where the sample lands), of the one-hot
classes (one regression per class) or the target values, shrunk towards the
leaves' own values:

    min_D  sum_i w_i ||A_i (V0 + D) - Y_i||^2 + penalty * ||D||^2.

A classification tree's leaf must stay a distribution for the forest's
``predict_proba``, which averages them, to be one. The refitted leaf vectors
sum to one (the classes' regressions add up to that of a constant target);
the few negative entries are removed by one affine map of every leaf, ``(v +
c) / (1 + n_classes * c)``, which maps the forest's mean the same way and so
keeps its predicted classes.

Global pruning, in the same paper, then merges leaves: a branch whose
leaves' refitted values are close becomes one leaf holding their weighted
mean value, which raises the training error by the weighted scatter of those
values about their mean (their interaction through the other trees aside).
One cost-complexity parameter for all the trees at once chooses the branches
merged, so that the nodes go where the forest needs them; the leaves are
refitted again after merging.
"""

import copy

import numpy as np
import scipy.sparse as sp

from ..tree._path import TreeTopology, collapse_nodes, collapsed_node_index
from ._candidates import RefitRows
from ._forest import tree_predictions

# Ridge penalty, against the summed weighted squared error of the averaged
# prediction (a weight of 2 counts as a repeated sample).
REFINE_PENALTY = 0.01
# Iteration limit and relative tolerance of the conjugate gradients. With many
# trees the design is ill-conditioned (each tree's columns add up to the same
# constant) and they stop at the limit, before the exact minimum: early
# stopping, which regularises further and keeps a refit to a fraction of a
# second on thousands of samples (on Satellite, the test accuracy after 30
# iterations is within 0.2 point of that after 100). On small problems they
# converge.
CG_ITER = 30
CG_TOL = 1e-6


def leaf_design(trees, X, leaves=None):
    """The samples' leaves as a sparse design, one column per node.

    Parameters
    ----------
    trees : list of sklearn.tree._tree.Tree
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)
    leaves : list of ndarrays of shape (n_samples,), default=None
        ``tree.apply(X)`` of each tree, if already computed.

    Returns
    -------
    design : CSR matrix of shape (n_samples, total node count)
        ``1 / n_trees`` at each sample's leaf in each tree, so that the
        product with the stacked node values is the forest's mean prediction.
    """
    if leaves is None:
        leaves = [tree.apply(X) for tree in trees]
    offsets = np.cumsum([0] + [tree.node_count for tree in trees])
    columns = np.stack(
        [leaf + offset for leaf, offset in zip(leaves, offsets)], axis=1
    )
    n_samples, n_trees = columns.shape
    return sp.csr_matrix(
        (np.full(columns.size, 1.0 / n_trees), columns.ravel(),
         np.arange(0, columns.size + 1, n_trees)),
        shape=(n_samples, offsets[-1]),
    )


def refined_values(design, targets, values, sample_weight, penalty, max_iter=None):
    """Node values minimising the penalised weighted squared error.

    The change of the values solves ``(A' W A + penalty I) D = A' W R`` for
    the residuals R of ``values``: conjugate gradients on these normal
    equations, all the outputs at once, preconditioned by their diagonal (a
    leaf's weight, which varies a lot between leaves).

    Parameters
    ----------
    design : sparse matrix of shape (n_samples, n_nodes)
    targets : ndarray of shape (n_samples, n_outputs)
    values : ndarray of shape (n_nodes, n_outputs)
        The values shrunk towards.
    sample_weight : ndarray of shape (n_samples,)
    penalty : float
    max_iter : int, default=None
        Iteration limit of the conjugate gradients; if None, ``CG_ITER``.

    Returns
    -------
    values : ndarray of shape (n_nodes, n_outputs)
        Nodes that no sample reaches keep their value.
    """
    weights = sample_weight[:, None]
    transposed = design.T.tocsr()
    inverse_diagonal = 1.0 / (transposed.power(2) @ sample_weight + penalty)[:, None]
    change = np.zeros_like(values)
    residual = transposed @ (weights * (targets - design @ values))
    preconditioned = inverse_diagonal * residual
    direction = preconditioned.copy()
    product = (residual * preconditioned).sum(axis=0)
    stop = CG_TOL**2 * (residual**2).sum(axis=0)
    for _ in range(CG_ITER if max_iter is None else max_iter):
        if np.all((residual**2).sum(axis=0) <= stop):
            break
        image = transposed @ (weights * (design @ direction)) + penalty * direction
        curvature = (direction * image).sum(axis=0)
        step = np.divide(
            product, curvature, out=np.zeros_like(product), where=curvature > 0
        )
        change += step * direction
        residual -= step * image
        preconditioned = inverse_diagonal * residual
        new_product = (residual * preconditioned).sum(axis=0)
        ratio = np.divide(
            new_product, product, out=np.zeros_like(product), where=product > 0
        )
        direction = preconditioned + ratio * direction
        product = new_product
    return values + change


def onto_simplex(values):
    """Leaf vectors summing to one made non-negative, keeping their ranking.

    ``(v + c) / (1 + n_classes * c)`` with the smallest ``c`` that clears
    every negative entry: one affine map for all the leaves, so the forest's
    mean prediction is mapped by it too and keeps its most probable class.
    """
    shift = max(0.0, -float(values.min()))
    return (values + shift) / (1.0 + values.shape[1] * shift)


def refine_forest_trees(
    trees, X, y, sample_weight, classifier, n_classes=None, penalty=None, max_iter=None,
    leaves=None,
):
    """Copies of ``trees`` whose leaves are refitted jointly on ``X, y``.

    Parameters
    ----------
    trees : list of sklearn.tree._tree.Tree
        The kept trees of a forest; they are not modified.
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class indices, or target values for a regressor.
    sample_weight : ndarray of shape (n_samples,)
    classifier : bool
    n_classes : int, default=None
        Number of classes of the forest, for a classifier.
    penalty : float, default=None
        The ridge penalty; if None, ``REFINE_PENALTY``.
    max_iter : int, default=None
        Iteration limit of the conjugate gradients; if None, ``CG_ITER``.
    leaves : list of ndarrays of shape (n_samples,), default=None
        ``tree.apply(X)`` of each tree, if already computed.

    Returns
    -------
    trees : list of sklearn.tree._tree.Tree
    """
    design = leaf_design(trees, X, leaves)
    if classifier:
        targets = (y[:, None] == np.arange(n_classes)).astype(np.float64)
    else:
        targets = np.asarray(y, dtype=np.float64)[:, None]
    stacked = np.concatenate([tree.value[:, 0, :] for tree in trees])
    if penalty is None:
        penalty = REFINE_PENALTY
    values = refined_values(design, targets, stacked, sample_weight, penalty, max_iter)
    leaves = np.concatenate([tree.children_left == -1 for tree in trees])
    if classifier:
        # the exact changes sum to zero over the classes; the conjugate
        # gradients' nearly do
        change = values[leaves] - stacked[leaves]
        change -= change.mean(axis=1, keepdims=True)
        values[leaves] = onto_simplex(stacked[leaves] + change)
    refined = []
    offsets = np.cumsum([0] + [tree.node_count for tree in trees])
    for tree, start, stop in zip(trees, offsets[:-1], offsets[1:]):
        tree = copy.deepcopy(tree)
        is_leaf = leaves[start:stop]
        tree.value[is_leaf, 0, :] = values[start:stop][is_leaf]
        refined.append(tree)
    return refined


def leaf_scatter(tree, node_weight):
    """Weighted mean value and scatter of the leaves below each node.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
    node_weight : ndarray of shape (n_nodes,)
        The weight of the samples reaching each node (only the leaves' are
        read).

    Returns
    -------
    topology : TreeTopology
    mean : ndarray of shape (n_nodes, n_values)
        The leaves' values below each node averaged with their weights (a
        node no weight reaches keeps its own value).
    scatter : ndarray of shape (n_nodes,)
        ``sum_l w_l ||v_l - mean||^2`` over the leaves l below each node:
        what making the node a leaf of value ``mean`` adds to the weighted
        squared error. Zero at the leaves.
    """
    topology = TreeTopology(tree)
    values = tree.value[:, 0, :]
    ancestors, leaves = topology.leaf_ancestor_pairs()
    weight = np.where(topology.is_leaf, node_weight, 0.0)
    n_nodes = weight.shape[0]

    def summed_below(leaf_values):
        # each leaf's own value plus, at every ancestor, those of its leaves
        return leaf_values + np.bincount(ancestors, leaf_values[leaves], n_nodes)

    total = summed_below(weight)
    first = np.stack(
        [summed_below(weight * column) for column in values.T], axis=1
    )
    second = summed_below(weight * (values**2).sum(axis=1))
    reached = total > 0
    mean = values.copy()
    mean[reached] = first[reached] / total[reached, None]
    scatter = np.maximum(second - total * (mean**2).sum(axis=1), 0.0)
    scatter[topology.is_leaf] = 0.0
    return topology, mean, scatter


class _StackedTrees:
    """The nodes of several trees in one array, grouped by depth.

    One bottom-up pass then prunes all the trees at once, a depth at a time.

    Parameters
    ----------
    topologies : list of TreeTopology
    """

    def __init__(self, topologies):
        offsets = np.cumsum([0] + [t.parent.shape[0] for t in topologies])
        self.offsets = offsets
        self.roots = offsets[:-1]
        self.is_leaf = np.concatenate([t.is_leaf for t in topologies])
        self.left = np.concatenate(
            [np.where(t.is_leaf, -1, t.children_left + o)
             for t, o in zip(topologies, offsets)]
        )
        self.right = np.concatenate(
            [np.where(t.is_leaf, -1, t.children_right + o)
             for t, o in zip(topologies, offsets)]
        )
        depth = np.concatenate([t.depth for t in topologies])
        internal = np.flatnonzero(~self.is_leaf)
        order = internal[np.argsort(-depth[internal], kind="stable")]
        boundaries = np.flatnonzero(np.diff(depth[order])) + 1
        self.internal_by_depth = np.split(order, boundaries)

    def prune(self, scatter, alpha):
        """Cost-complexity pruning of every tree at ``alpha``, bottom-up.

        A node becomes a leaf when its scatter plus ``alpha`` is at most the
        cost of its branch, pruned below: its leaves' scatter plus ``alpha``
        each (ties merge, giving the smallest of the optimal subtrees).

        Returns
        -------
        collapsed : ndarray of bool of shape (n_nodes,)
        n_nodes : int
            Total node count of the pruned trees.
        """
        cost = np.full(scatter.shape[0], alpha, dtype=float)
        n_leaves = np.ones(scatter.shape[0], dtype=np.intp)
        collapsed = np.zeros(scatter.shape[0], dtype=bool)
        for nodes in self.internal_by_depth:
            left, right = self.left[nodes], self.right[nodes]
            below = cost[left] + cost[right]
            as_leaf = scatter[nodes] + alpha
            collapse = as_leaf <= below
            collapsed[nodes] = collapse
            cost[nodes] = np.where(collapse, as_leaf, below)
            n_leaves[nodes] = np.where(collapse, 1, n_leaves[left] + n_leaves[right])
        return collapsed, int((2 * n_leaves[self.roots] - 1).sum())


# Bisection steps on the merging parameter: the node count is a step
# function of it, found to 2**-24 of the largest scatter.
MERGE_STEPS = 24


class LeafMerger:
    """Merges the closest leaves of trees, to any total node count.

    Every tree is pruned at one cost-complexity parameter, the smallest that
    leaves at most the given number of nodes in all, where a node's cost as a
    leaf is the weighted scatter of the values of the leaves below it
    (:func:`leaf_scatter`, with the weights of the samples of ``X`` reaching
    them). A merged branch's leaf takes their weighted mean value, which
    keeps a classifier's leaves distributions.

    Parameters
    ----------
    trees : list of sklearn.tree._tree.Tree
        Not modified.
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
    leaves : list of ndarrays of shape (n_samples,), default=None
        ``tree.apply(X)`` of each tree, if already computed.
    """

    def __init__(self, trees, X, sample_weight, leaves=None):
        self.trees = trees
        if leaves is None:
            leaves = [tree.apply(X) for tree in trees]
        self.leaves = leaves
        self.parts = [
            leaf_scatter(tree, np.bincount(leaf, sample_weight, tree.node_count))
            for tree, leaf in zip(trees, leaves)
        ]
        self.stacked = _StackedTrees([topology for topology, _, _ in self.parts])
        self.scatter = np.concatenate([scatter for _, _, scatter in self.parts])

    def merge(self, max_nodes):
        """Copies of the trees merged to at most ``max_nodes`` nodes in all.

        Parameters
        ----------
        max_nodes : int
            At least the number of trees (one leaf each).

        Returns
        -------
        trees : list of sklearn.tree._tree.Tree
        """
        return self.merge_with_leaves(max_nodes)[0]

    def merge_with_leaves(self, max_nodes):
        """:meth:`merge`, with the leaf of each merged tree each sample reaches.

        Returns
        -------
        trees : list of sklearn.tree._tree.Tree
        leaves : list of ndarrays of shape (n_samples,)
            ``tree.apply(X)`` of each merged tree, for the ``X`` given.
        """
        stacked, scatter = self.stacked, self.scatter
        collapsed, n_nodes = stacked.prune(scatter, 0.0)
        if n_nodes > max_nodes:
            low, high = 0.0, float(scatter[stacked.roots].max())
            collapsed, _ = stacked.prune(scatter, high)
            for _ in range(MERGE_STEPS):
                middle = 0.5 * (low + high)
                collapsed_middle, n_nodes = stacked.prune(scatter, middle)
                if n_nodes <= max_nodes:
                    high, collapsed = middle, collapsed_middle
                else:
                    low = middle
        merged, leaves = [], []
        for tree, (topology, mean, _), start, leaf in zip(
            self.trees, self.parts, stacked.offsets, self.leaves
        ):
            with_means = copy.deepcopy(tree)
            with_means.value[:, 0, :] = mean
            in_tree = collapsed[start : start + tree.node_count]
            merged.append(collapse_nodes(with_means, in_tree, topology))
            leaves.append(collapsed_node_index(topology, in_tree)[leaf])
        return merged, leaves


def merge_leaves(trees, X, sample_weight, max_nodes):
    """Copies of ``trees`` whose closest leaves are merged, to ``max_nodes``.

    See :class:`LeafMerger`.
    """
    return LeafMerger(trees, X, sample_weight).merge(max_nodes)


# The level a merged candidate's trees are cut to before their leaves are
# refitted and merged; the iteration limit of that refit (its values only
# decide what is merged: 15 steps lost 0.1 point against 30 on Satellite, at
# less cost) and of the refit after merging, which starts from the merged
# leaves' values.
MERGED_BASE_LEVEL = 1
MERGED_BASE_CG_ITER = 15
MERGED_CG_ITER = 10


class MergedCandidates:
    """A forest's first trees refined, then merged to the size of a level.

    Global refinement and global pruning (Ren et al., 2015): the first
    ``size`` trees, cut to ``MERGED_BASE_LEVEL``, have their leaves refitted
    jointly (:func:`refine_forest_trees`); :meth:`at` merges their closest
    leaves (:class:`LeafMerger`) to the node count of the first ``size``
    trees at a level and refits the leaves again. The first refit and the
    leaves' scatter serve every level.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        ``trees[t][level]``, as :func:`~._forest.forest_levels` returns them.
    size : int
        The number of trees kept.
    X, y, sample_weight :
        The samples the leaves are refitted on (classes as indices).
    classifier : bool
    n_classes : int, default=None
    leaves : callable, default=None
        ``leaves(level, size)`` gives ``tree.apply(X)`` of the first ``size``
        trees at ``level``, if they are shared with other candidates.
    """

    def __init__(
        self, trees, size, X, y, sample_weight, classifier, n_classes=None, leaves=None
    ):
        self.trees = trees[:size]
        self.data = X, y, sample_weight, classifier, n_classes
        kept = [levels[MERGED_BASE_LEVEL] for levels in self.trees]
        # refitting the leaves keeps the trees' splits: the samples' leaves too
        leaves = (leaves or _applied(trees, X))(MERGED_BASE_LEVEL, size)
        base = refine_forest_trees(
            kept, *self.data, max_iter=MERGED_BASE_CG_ITER, leaves=leaves
        )
        self.merger = LeafMerger(base, X, sample_weight, leaves)

    def at(self, level):
        """The merged trees with (at most) the node count of ``level``.

        Returns
        -------
        trees : list of sklearn.tree._tree.Tree
        """
        max_nodes = sum(levels[level].node_count for levels in self.trees)
        merged, leaves = self.merger.merge_with_leaves(max_nodes)
        return refine_forest_trees(
            merged, *self.data, max_iter=MERGED_CG_ITER, leaves=leaves
        )


def refined_candidate(
    trees, level, size, X, y, sample_weight, classifier, n_classes=None, leaves=None
):
    """The first ``size`` trees at ``level``, their leaves refitted jointly.

    Parameters are those of :class:`MergedCandidates`, with the ``level``.

    Returns
    -------
    trees : list of sklearn.tree._tree.Tree
    """
    kept = [levels[level] for levels in trees[:size]]
    return refine_forest_trees(
        kept, X, y, sample_weight, classifier, n_classes,
        leaves=None if leaves is None else leaves(level, size),
    )


def _applied(trees, X):
    """``leaves(level, size)``: ``tree.apply(X)`` of the first trees at a level.

    Each tree is applied once, however many candidates share it.
    """
    cache = {}

    def leaves(level, size):
        for t in range(size):
            if (t, level) not in cache:
                cache[t, level] = trees[t][level].apply(X)
        return [cache[t, level] for t in range(size)]

    return leaves


# The refined candidates: the first 30% and half of the trees at the level
# that keeps an eighth of each tree's leaves; the merged candidates: the
# first 30% and 40% of the trees with the node count of that level, and the
# first 30% with that of the level above (twice the leaves). A refit costs a
# solve, so only a few candidates get one, where the unrefined ones lose
# most; the merged ones give the choice forests of fewer trees, which
# predict faster.
REFINED_ROWS = RefitRows(levels=(3,), fractions=(0.3, 0.5))
MERGED_ROWS = RefitRows(levels=(3,), fractions=(0.3, 0.4))
MERGED_LARGER_ROWS = RefitRows(levels=(2,), fractions=(0.3,))
FOREST_ROWS = (REFINED_ROWS, MERGED_ROWS, MERGED_LARGER_ROWS)


def refined_scores(trees, X_train, y_train, w_train, X_test, y_test, w_test,
                   score, classifier, n_classes=None):
    """Test scores of the refined and merged candidates, padded with ``-inf``.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        ``trees[t][level]``, as :func:`~._forest.forest_levels` returns them.
    X_train, y_train, w_train :
        The samples the leaves are refitted on (classes as indices).
    X_test, y_test, w_test :
        The samples the candidates are scored on.
    score : callable
        A score of :mod:`skprune.ensemble._scores`.
    classifier : bool
    n_classes : int, default=None

    Returns
    -------
    scores : ndarray of shape (n_refined_rows + n_merged_rows, n_trees)
        Laid out as :func:`~._candidates.stack_rows` lays out ``FOREST_ROWS``.
    """

    merged = {}
    leaves = _applied(trees, X_train)

    def refined_score(level, size):
        refined = refined_candidate(
            trees, level, size, X_train, y_train, w_train, classifier, n_classes, leaves
        )
        return test_score(refined)

    def merged_score(level, size):
        if size not in merged:
            merged[size] = MergedCandidates(
                trees, size, X_train, y_train, w_train, classifier, n_classes, leaves
            )
        return test_score(merged[size].at(level))

    def test_score(kept):
        mean = np.mean(
            [tree_predictions(tree, X_test, classifier) for tree in kept], axis=0
        )
        return score(y_test, mean[None], w_test)[0]

    n_levels, n_trees = len(trees[0]), len(trees)
    return np.concatenate([
        rows.scores(
            n_levels, n_trees,
            refined_score if rows is REFINED_ROWS else merged_score,
        )
        for rows in FOREST_ROWS
    ])
