"""How far each tree of an ensemble is pruned: a ladder of leaf fractions.

Level ``l`` of a tree is the subtree of its minimal cost-complexity pruning
path with at most ``2**-l`` of its leaves (at least one): level 0 is the tree
itself. One ladder fits every tree of an ensemble whatever its size, so that a
level means the same for all of them.
"""

import numpy as np

from ..tree._path import PruningPath

# each level keeps at most 1/LEVEL_BASE of the leaves of the previous one
LEVEL_BASE = 2.0


def pruning_levels(tree, n_levels):
    """The trees of the ladder of ``tree``, from level 0 to ``n_levels - 1``.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        A fitted tree; it is not modified.
    n_levels : int

    Returns
    -------
    trees : list of sklearn.tree._tree.Tree
        New trees, each a pruning of the previous one; level 0 is a copy.
    """
    path = PruningPath(tree, "impurity")
    trees = []
    for level in range(n_levels):
        target = max(1, int(np.ceil(path.n_leaves[0] / LEVEL_BASE**level)))
        step = int(np.argmax(path.n_leaves <= target))
        trees.append(path.subtree(step))
    return trees
