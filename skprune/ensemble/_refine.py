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
"""

import copy

import numpy as np
import scipy.sparse as sp

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


def leaf_design(trees, X):
    """The samples' leaves as a sparse design, one column per node.

    Parameters
    ----------
    trees : list of sklearn.tree._tree.Tree
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)

    Returns
    -------
    design : CSR matrix of shape (n_samples, total node count)
        ``1 / n_trees`` at each sample's leaf in each tree, so that the
        product with the stacked node values is the forest's mean prediction.
    """
    offsets = np.cumsum([0] + [tree.node_count for tree in trees])
    columns = np.stack(
        [tree.apply(X) + offset for tree, offset in zip(trees, offsets)], axis=1
    )
    n_samples, n_trees = columns.shape
    return sp.csr_matrix(
        (np.full(columns.size, 1.0 / n_trees), columns.ravel(),
         np.arange(0, columns.size + 1, n_trees)),
        shape=(n_samples, offsets[-1]),
    )


def refined_values(design, targets, values, sample_weight, penalty):
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
    for _ in range(CG_ITER):
        if np.all((residual**2).sum(axis=0) <= stop):
            break
        image = transposed @ (weights * (design @ direction)) + penalty * direction
        curvature = (direction * image).sum(axis=0)
        step = np.divide(product, curvature, out=np.zeros_like(product), where=curvature > 0)
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
    trees, X, y, sample_weight, classifier, n_classes=None, penalty=None
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

    Returns
    -------
    trees : list of sklearn.tree._tree.Tree
    """
    design = leaf_design(trees, X)
    if classifier:
        targets = (y[:, None] == np.arange(n_classes)).astype(np.float64)
    else:
        targets = np.asarray(y, dtype=np.float64)[:, None]
    stacked = np.concatenate([tree.value[:, 0, :] for tree in trees])
    if penalty is None:
        penalty = REFINE_PENALTY
    values = refined_values(design, targets, stacked, sample_weight, penalty)
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


# The refined candidates: the first 30% and half of the trees, at the levels
# that keep a quarter and an eighth of each tree's leaves. A refit costs a
# solve, so only a few candidates get one, where the unrefined ones lose most.
REFINED_ROWS = RefitRows(levels=(2, 3), fractions=(0.3, 0.5))


def refined_scores(trees, X_train, y_train, w_train, X_test, y_test, w_test,
                   score, classifier, n_classes=None):
    """Test scores of the refined candidates, padded with ``-inf``.

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
    scores : ndarray of shape (n_refined_rows, n_trees)
        Laid out as :meth:`RefitRows.scores`.
    """

    def score_of(level, size):
        kept = [levels[level] for levels in trees[:size]]
        refined = refine_forest_trees(kept, X_train, y_train, w_train, classifier, n_classes)
        mean = np.mean(
            [tree_predictions(tree, X_test, classifier) for tree in refined], axis=0
        )
        return score(y_test, mean[None], w_test)[0]

    return REFINED_ROWS.scores(len(trees[0]), len(trees), score_of)
