"""Minimal cost-complexity pruning of a grown tree (Breiman et al., 1984).

A grown tree ``T`` is pruned by repeatedly collapsing its *weakest links*: the
internal nodes ``t`` with the smallest

    g(t) = (R(t) - R(T_t)) / (|leaves(T_t)| - 1),

where ``R(t)`` is the risk of ``t`` as a leaf and ``R(T_t)`` the summed risk of
the leaves of the branch rooted at ``t``. The successive values of ``g`` are the
effective alphas of the pruning path, and the tree pruned at ``ccp_alpha`` is
the last tree of the path whose effective alpha is at most ``ccp_alpha``.

The path is computed once, as the step at which each node is collapsed, so that
the tree at any alpha is derived without refitting and without walking the path
again.
"""

import heapq

import numpy as np

from ..utils._docstrings import fill_doc
from ..utils._sklearn import NODE_DTYPE, TREE_LEAF, TREE_UNDEFINED, Tree

# Two values of g(t) closer than this, relative to the root risk, are one tie.
TIE_RTOL = 1e-9

_NEVER = np.iinfo(np.intp).max

_CLASSIFICATION_TREE_DOC = """
Parameters
----------
tree : sklearn.tree._tree.Tree
    A fitted classification tree.
"""


def node_impurity_risk(tree):
    """Risk of each node as a leaf, scikit-learn's definition.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        A fitted tree.

    Returns
    -------
    risk : ndarray of shape (n_nodes,)
        Weighted impurity of each node over the total weight of the root,
        computed in the same floating-point order as scikit-learn.
    """
    weights = tree.weighted_n_node_samples
    return weights * tree.impurity / weights[0]


@fill_doc(tree=_CLASSIFICATION_TREE_DOC)
def node_misclassified_weight(tree):
    """Training weight each node misclassifies as a leaf.

    A node predicts its weighted majority class, so the misclassified weight is
    the node weight minus the weight of that class. With several outputs it is
    averaged over the outputs, as scikit-learn averages impurities.

    {tree}

    Returns
    -------
    misclassified : ndarray of shape (n_nodes,)
    """
    weights = tree.weighted_n_node_samples
    # ``value`` holds class fractions of each node for every output
    majority_fraction = tree.value.max(axis=2).mean(axis=1)
    return np.maximum(weights * (1.0 - majority_fraction), 0.0)


@fill_doc(tree=_CLASSIFICATION_TREE_DOC)
def node_misclassification_risk(tree):
    """Risk of each node as a leaf: its misclassified weight over total weight.

    {tree}

    Returns
    -------
    risk : ndarray of shape (n_nodes,)
    """
    return node_misclassified_weight(tree) / tree.weighted_n_node_samples[0]


NODE_RISKS = {
    "impurity": node_impurity_risk,
    "misclassification": node_misclassification_risk,
}


class TreeTopology:
    """Parent links and preorder layout of a scikit-learn tree.

    The preorder visits left children first, as scikit-learn numbers the nodes
    of a pruned tree, so every branch is a contiguous run of ``preorder``.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        A fitted tree.
    """

    def __init__(self, tree):
        left = tree.children_left
        right = tree.children_right
        n_nodes = tree.node_count
        self.children_left = left
        self.children_right = right
        self.is_leaf = left == TREE_LEAF
        internal = np.flatnonzero(~self.is_leaf)
        self.parent = np.full(n_nodes, -1, dtype=np.intp)
        self.parent[left[internal]] = internal
        self.parent[right[internal]] = internal

        preorder, depth = [], [0] * n_nodes
        left_list, right_list = left.tolist(), right.tolist()
        stack = [0]
        while stack:
            node = stack.pop()
            preorder.append(node)
            if left_list[node] != TREE_LEAF:
                depth[left_list[node]] = depth[right_list[node]] = depth[node] + 1
                stack.append(right_list[node])
                stack.append(left_list[node])
        self.preorder = np.array(preorder, dtype=np.intp)
        self.depth = np.array(depth, dtype=np.intp)
        self.position = np.empty(n_nodes, dtype=np.intp)
        self.position[self.preorder] = np.arange(n_nodes)
        # a branch ends where the preorder goes back above its root's depth
        self.branch_size = self._branch_sizes(preorder)

    def _branch_sizes(self, preorder):
        size, parent = [1] * len(preorder), self.parent.tolist()
        # children come after their parent in preorder: accumulate bottom-up
        for node in preorder[:0:-1]:
            size[parent[node]] += size[node]
        return np.array(size, dtype=np.intp)

    def levels(self):
        """Nodes grouped by depth, from the root's level down."""
        by_depth = np.argsort(self.depth, kind="stable")
        boundaries = np.flatnonzero(np.diff(self.depth[by_depth])) + 1
        return np.split(by_depth, boundaries)

    def branch(self, node):
        """Nodes of the branch rooted at ``node``, in preorder."""
        start = self.position[node]
        return self.preorder[start : start + self.branch_size[node]]

    def leaf_ancestor_pairs(self):
        """Every (ancestor, leaf) pair, ordered by leaf index.

        Returns
        -------
        ancestors, leaves : ndarrays of shape (n_pairs,)
        """
        leaves = np.flatnonzero(self.is_leaf)
        ancestors_by_level, leaves_by_level = [], []
        current, owner = leaves, leaves
        while current.size:
            current = self.parent[current]
            keep = current >= 0
            current, owner = current[keep], owner[keep]
            ancestors_by_level.append(current)
            leaves_by_level.append(owner)
        ancestors = np.concatenate(ancestors_by_level)
        owners = np.concatenate(leaves_by_level)
        order = np.argsort(owners, kind="stable")
        return ancestors[order], owners[order]


def _branch_totals(topology, node_risk):
    """Summed leaf risk and leaf count of the branch below every node.

    Sums run over the leaves in increasing node index, starting from zero,
    which reproduces scikit-learn's floating-point results exactly.
    """
    ancestors, leaves = topology.leaf_ancestor_pairs()
    branch_risk = np.where(topology.is_leaf, node_risk, 0.0)
    np.add.at(branch_risk, ancestors, node_risk[leaves])
    n_leaves = np.bincount(ancestors, minlength=node_risk.shape[0])
    return branch_risk, n_leaves


class _WeakestLinkState:
    """The current subtree during pruning: branch risks, leaf counts, g(t)."""

    def __init__(self, topology, node_risk):
        branch_risk, n_leaves = _branch_totals(topology, node_risk)
        self.topology = topology
        self.parent = topology.parent.tolist()
        self.node_risk = node_risk.tolist()
        self.branch_risk = branch_risk.tolist()
        self.n_leaves = n_leaves.tolist()
        self.candidate = ~topology.is_leaf
        self.root_risks = [self.branch_risk[0]]

    def link_strength(self, node):
        """g(t) of an internal node of the current subtree."""
        return (self.node_risk[node] - self.branch_risk[node]) / (
            self.n_leaves[node] - 1
        )

    def collapse(self, node):
        """Make ``node`` a leaf; return the ancestors whose g(t) changed."""
        self.candidate[self.topology.branch(node)] = False
        n_removed_leaves = self.n_leaves[node] - 1
        self.n_leaves[node] = 0
        risk_increase = self.node_risk[node] - self.branch_risk[node]
        self.branch_risk[node] = self.node_risk[node]
        ancestors = []
        ancestor = self.parent[node]
        while ancestor != -1:
            self.n_leaves[ancestor] -= n_removed_leaves
            self.branch_risk[ancestor] += risk_increase
            ancestors.append(ancestor)
            ancestor = self.parent[ancestor]
        return ancestors


def _strength_heap(state):
    """g(t) of every candidate node, and a heap of (g(t), node) entries.

    The heap orders ties by node index, as scikit-learn's linear scan does.
    Entries go stale when a node's g(t) changes or it leaves the subtree; they
    are dropped when they reach the top.
    """
    strength = {
        node: state.link_strength(node)
        for node in np.flatnonzero(state.candidate).tolist()
    }
    heap = [(g, node) for node, g in strength.items()]
    heapq.heapify(heap)
    return strength, heap


def _drop_stale_top(state, heap, strength):
    while heap:
        g, node = heap[0]
        if state.candidate[node] and strength[node] == g:
            return
        heapq.heappop(heap)


def _collapse_and_requeue(state, heap, strength, node):
    for ancestor in state.collapse(node):
        strength[ancestor] = state.link_strength(ancestor)
        heapq.heappush(heap, (strength[ancestor], ancestor))


def weakest_link_sequence(topology, node_risk):
    """Collapse one weakest link at a time, as scikit-learn does.

    Ties are taken one node per step, in increasing node index, so the
    effective alphas may repeat. This reproduces scikit-learn's
    ``cost_complexity_pruning_path`` to the last bit.

    Collapsing a weakest link can only raise the g(t) of its ancestors (the
    new g(t) is a weighted mean of the old one and of the collapsed link's,
    which was smallest), so the heap keeps each node's key as a lower bound
    of its g(t) and refreshes it only when the node reaches the top. A key is
    lowered at once in the rare case rounding makes g(t) fall below it: the
    collapse order is then the same as with exact keys.

    Parameters
    ----------
    topology : TreeTopology
    node_risk : ndarray of shape (n_nodes,)

    Returns
    -------
    ccp_alphas : ndarray of shape (n_steps + 1,)
        Effective alpha of each step, the first being 0 for the grown tree.
    root_risks : ndarray of shape (n_steps + 1,)
        Risk of the subtree after each step.
    collapse_step : ndarray of shape (n_nodes,)
        Step at which each node was collapsed, or a sentinel larger than any
        step for nodes never collapsed themselves.
    """
    state = _WeakestLinkState(topology, node_risk)
    parent, risk = state.parent, state.node_risk
    branch_risk, n_leaves = state.branch_risk, state.n_leaves
    # a node's run of the preorder, to remove its branch from the candidates
    position = topology.position.tolist()
    branch_size = topology.branch_size.tolist()
    preorder = topology.preorder.tolist()
    is_candidate = state.candidate.tolist()
    key, heap = _strength_heap(state)
    heappop, heappush = heapq.heappop, heapq.heappush
    collapse_step = np.full(node_risk.shape[0], _NEVER, dtype=np.intp)
    ccp_alphas, root_risks = [0.0], state.root_risks
    while is_candidate[0]:
        g, node = heap[0]
        if not is_candidate[node] or key[node] != g:
            heappop(heap)
            continue
        strength = (risk[node] - branch_risk[node]) / (n_leaves[node] - 1)
        if strength != g:
            key[node] = strength
            heappush(heap, (strength, node))
            continue
        heappop(heap)
        collapse_step[node] = len(ccp_alphas)
        ccp_alphas.append(g)
        # the current branch: its leaves (n_leaves 0) end a run of the preorder
        at, end = position[node], position[node] + branch_size[node]
        while at < end:
            removed = preorder[at]
            if n_leaves[removed]:
                is_candidate[removed] = False
                at += 1
            else:
                at += branch_size[removed]
        n_removed_leaves = n_leaves[node] - 1
        n_leaves[node] = 0
        risk_increase = risk[node] - branch_risk[node]
        branch_risk[node] = risk[node]
        ancestor = parent[node]
        while ancestor != -1:
            n_leaves[ancestor] -= n_removed_leaves
            branch_risk[ancestor] += risk_increase
            strength = (
                (risk[ancestor] - branch_risk[ancestor]) / (n_leaves[ancestor] - 1)
            )
            if strength < key[ancestor]:
                key[ancestor] = strength
                heappush(heap, (strength, ancestor))
            ancestor = parent[ancestor]
        root_risks.append(branch_risk[0])
    return np.asarray(ccp_alphas), np.asarray(root_risks), collapse_step


def weakest_link_groups(topology, node_risk, tie_rtol=TIE_RTOL):
    """Collapse every weakest link at once, Breiman's exact sequence.

    At each step every internal node whose g(t) equals the current minimum
    (within ``tie_rtol`` times the root risk) is collapsed, and so is every
    ancestor that this brings down to the same value, so the effective alphas
    strictly increase. The first step, at alpha 0, collapses every split that
    does not lower the risk: it yields the smallest subtree with the risk of
    the grown tree.

    Parameters
    ----------
    topology : TreeTopology
    node_risk : ndarray of shape (n_nodes,)
    tie_rtol : float, default=TIE_RTOL

    Returns
    -------
    ccp_alphas, root_risks, collapse_step
        As in :func:`weakest_link_sequence`, the first step being alpha 0.
    """
    state = _WeakestLinkState(topology, node_risk)
    tolerance = tie_rtol * node_risk[0]
    strength, heap = _strength_heap(state)
    collapse_step = np.full(node_risk.shape[0], _NEVER, dtype=np.intp)
    ccp_alphas, root_risks = [], []
    alpha = 0.0
    while True:
        step = len(ccp_alphas)
        ccp_alphas.append(alpha)
        _drop_stale_top(state, heap, strength)
        while heap and heap[0][0] <= alpha + tolerance:
            g, node = heapq.heappop(heap)
            collapse_step[node] = step
            _collapse_and_requeue(state, heap, strength, node)
            _drop_stale_top(state, heap, strength)
        root_risks.append(state.branch_risk[0])
        if not state.candidate[0]:
            break
        alpha = heap[0][0]
    return np.asarray(ccp_alphas), np.asarray(root_risks), collapse_step


def _first_ancestor_collapse(topology, collapse_step):
    """For each node, the earliest step at which a proper ancestor collapses."""
    first = np.full(collapse_step.shape[0], _NEVER, dtype=np.intp)
    for level in topology.levels()[1:]:
        parents = topology.parent[level]
        first[level] = np.minimum(first[parents], collapse_step[parents])
    return first


class PruningPath:
    """The whole minimal cost-complexity pruning path of a grown tree.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        The grown tree. It is never modified.
    risk : {"impurity", "misclassification"}
        The node risk R(t). With ``"impurity"`` links are collapsed one at a
        time in scikit-learn's order; with ``"misclassification"`` all tied
        links are collapsed together.

    Attributes
    ----------
    ccp_alphas : ndarray of shape (n_steps,)
        Effective alpha of each subtree of the path, non-decreasing.
    risks : ndarray of shape (n_steps,)
        Risk R(T) of each subtree.
    impurities : ndarray of shape (n_steps,)
        Total weighted leaf impurity of each subtree, as in scikit-learn.
    n_leaves : ndarray of shape (n_steps,)
        Number of leaves of each subtree.
    """

    def __init__(self, tree, risk):
        self.tree = tree
        self.risk = risk
        topology = TreeTopology(tree)
        node_risk = NODE_RISKS[risk](tree)
        if risk == "impurity":
            alphas, risks, collapse_step = weakest_link_sequence(topology, node_risk)
        else:
            alphas, risks, collapse_step = weakest_link_groups(topology, node_risk)
        self.topology = topology
        self.ccp_alphas = alphas
        self.risks = risks
        self.collapse_step = collapse_step
        self.ancestor_collapse = _first_ancestor_collapse(topology, collapse_step)
        self.n_leaves = self._sum_over_leaves(np.ones(tree.node_count)).round()
        self.n_leaves = self.n_leaves.astype(np.intp)
        if risk == "impurity":
            self.impurities = risks
        else:
            self.impurities = self._sum_over_leaves(node_impurity_risk(tree))

    def _sum_over_leaves(self, node_values):
        """Sum of ``node_values`` over the leaves of every subtree of the path."""
        n_steps = self.ccp_alphas.shape[0]
        start = np.where(self.topology.is_leaf, 0, self.collapse_step)
        end = np.minimum(self.ancestor_collapse, n_steps)
        is_ever_leaf = start < end
        change = np.zeros(n_steps + 1)
        np.add.at(change, start[is_ever_leaf], node_values[is_ever_leaf])
        np.add.at(change, end[is_ever_leaf], -node_values[is_ever_leaf])
        return np.cumsum(change)[:n_steps]

    def step_at(self, ccp_alpha):
        """Index of the subtree of the path chosen by ``ccp_alpha``.

        It is the last subtree before the first effective alpha larger than
        ``ccp_alpha``, the rule scikit-learn applies when pruning.
        """
        exceeds = self.ccp_alphas > ccp_alpha
        if not exceeds.any():
            return self.ccp_alphas.shape[0] - 1
        return max(int(np.argmax(exceeds)) - 1, 0)

    def subtree_nodes(self, step):
        """Nodes of the subtree at ``step``, in preorder, and which are leaves.

        Returns
        -------
        nodes : ndarray of int
            Indices in the grown tree, in the preorder of the subtree.
        is_leaf : ndarray of bool
            Whether each of ``nodes`` is a leaf of the subtree.
        """
        return _subtree_nodes(
            self.topology, self.collapse_step, self.ancestor_collapse, step
        )

    def subtree(self, step):
        """Build the scikit-learn ``Tree`` of the path at ``step``."""
        return build_subtree(
            self.tree, *self.subtree_nodes(step), depth=self.topology.depth
        )

    def prune(self, ccp_alpha):
        """Build the scikit-learn ``Tree`` pruned at ``ccp_alpha``.

        With the impurity risk, an alpha of zero gives the grown tree itself,
        with its own node numbering, as scikit-learn does; with the
        misclassification risk it gives the smallest subtree with the risk of
        the grown tree, as Breiman defines the start of the path.
        """
        if ccp_alpha == 0.0 and self.risk == "impurity":
            return self.tree
        return self.subtree(self.step_at(ccp_alpha))


def _subtree_nodes(topology, collapse_step, ancestor_collapse, step):
    """Nodes of the subtree left after ``step``, in preorder, and its leaves."""
    preorder = topology.preorder
    nodes = preorder[ancestor_collapse[preorder] > step]
    is_leaf = topology.is_leaf[nodes] | (collapse_step[nodes] <= step)
    return nodes, is_leaf


def collapse_bottom_up(topology, leaf_cost, margin):
    """Collapse, from the leaves up, every branch that costs no less than a leaf.

    An internal node becomes a leaf when its cost as a leaf is at most the
    summed cost of the leaves of its branch, already pruned below, plus
    ``margin``. This is the decision of reduced-error pruning and of C4.5's
    error-based pruning.

    Parameters
    ----------
    topology : TreeTopology
    leaf_cost : ndarray of shape (n_nodes,)
        Cost of each node as a leaf.
    margin : float
        How much more a leaf may cost than the branch it replaces.

    Returns
    -------
    collapsed : ndarray of bool of shape (n_nodes,)
        The internal nodes that become leaves (some inside removed branches).
    branch_cost : ndarray of shape (n_nodes,)
        Cost of the pruned branch below each node.
    """
    branch_cost = np.array(leaf_cost, dtype=float)
    collapsed = np.zeros(branch_cost.shape[0], dtype=bool)
    for level in topology.levels()[::-1]:
        level = level[~topology.is_leaf[level]]
        below = (
            branch_cost[topology.children_left[level]]
            + branch_cost[topology.children_right[level]]
        )
        collapse = branch_cost[level] <= below + margin
        collapsed[level] = collapse
        branch_cost[level] = np.where(collapse, branch_cost[level], below)
    return collapsed, branch_cost


def collapse_nodes(tree, collapsed, topology=None):
    """Build the subtree of ``tree`` in which the ``collapsed`` nodes are leaves.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
    collapsed : ndarray of bool of shape (n_nodes,)
    topology : TreeTopology, default=None
        The topology of ``tree``, if already computed.

    Returns
    -------
    subtree : sklearn.tree._tree.Tree
    """
    topology = TreeTopology(tree) if topology is None else topology
    nodes, is_leaf = _collapsed_subtree_nodes(topology, collapsed)
    return build_subtree(tree, nodes, is_leaf, depth=topology.depth)


def _collapsed_subtree_nodes(topology, collapsed):
    collapse_step = np.where(collapsed, 0, _NEVER)
    ancestor_collapse = _first_ancestor_collapse(topology, collapse_step)
    return _subtree_nodes(topology, collapse_step, ancestor_collapse, 0)


def collapsed_node_index(topology, collapsed):
    """Where each node of a tree goes in the tree :func:`collapse_nodes` builds.

    Parameters
    ----------
    topology : TreeTopology
    collapsed : ndarray of bool of shape (n_nodes,)

    Returns
    -------
    index : ndarray of int of shape (n_nodes,)
        The node's index in the collapsed tree; for a node removed with a
        collapsed branch, the index of the leaf that branch became (the node
        a sample reaching it reaches instead).
    """
    nodes, _ = _collapsed_subtree_nodes(topology, collapsed)
    index = np.full(collapsed.shape[0], -1, dtype=np.intp)
    index[nodes] = np.arange(nodes.shape[0])
    for level in topology.levels()[1:]:
        removed = level[index[level] < 0]
        index[removed] = index[topology.parent[removed]]
    return index


def build_subtree(tree, nodes, is_leaf, depth=None):
    """Build a new scikit-learn ``Tree`` from a subset of the nodes of ``tree``.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        The tree to take nodes from.
    nodes : ndarray of int
        The nodes to keep, in the preorder of the new tree; they must form a
        subtree containing the root.
    is_leaf : ndarray of bool
        Which of ``nodes`` become leaves of the new tree.
    depth : ndarray of shape (n_nodes,), default=None
        The depth of every node of ``tree``, if known: a node keeps its depth
        in the subtree.

    Returns
    -------
    subtree : sklearn.tree._tree.Tree
        Nodes are numbered in preorder, left child first, as scikit-learn
        numbers the nodes of the trees it prunes.
    """
    state = tree.__getstate__()
    new_index = np.full(tree.node_count, TREE_LEAF, dtype=np.intp)
    new_index[nodes] = np.arange(nodes.shape[0])

    kept = state["nodes"][nodes]
    new_nodes = np.zeros(nodes.shape[0], dtype=NODE_DTYPE)
    for field in NODE_DTYPE.names:
        new_nodes[field] = kept[field]
    split = ~is_leaf
    new_nodes["left_child"] = np.where(split, new_index[kept["left_child"]], TREE_LEAF)
    new_nodes["right_child"] = np.where(
        split, new_index[kept["right_child"]], TREE_LEAF
    )
    max_depth = None if depth is None else int(depth[nodes].max())
    return tree_from_nodes(tree, new_nodes, state["values"][nodes], max_depth)


def tree_from_nodes(tree, nodes, values, max_depth=None):
    """A new scikit-learn ``Tree`` like ``tree`` with the given node arrays.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        The tree whose features, classes and outputs the new one has.
    nodes : ndarray of NODE_DTYPE
        The nodes in preorder; the split fields of leaves are reset here.
    values : ndarray of shape (n_nodes, n_outputs, max_n_classes)
    max_depth : int, default=None
        The depth of the new tree, if known.

    Returns
    -------
    new_tree : sklearn.tree._tree.Tree
    """
    is_leaf = nodes["left_child"] == TREE_LEAF
    nodes["feature"][is_leaf] = TREE_UNDEFINED
    nodes["threshold"][is_leaf] = TREE_UNDEFINED
    nodes["missing_go_to_left"][is_leaf] = 0
    if max_depth is None:
        max_depth = int(_node_depths(nodes).max())
    new_tree = Tree(tree.n_features, np.asarray(tree.n_classes), tree.n_outputs)
    new_tree.__setstate__(
        {
            "max_depth": max_depth,
            "node_count": nodes.shape[0],
            "nodes": nodes,
            "values": np.ascontiguousarray(values),
        }
    )
    return new_tree


def _node_depths(nodes):
    """Depth of each node of a node array whose root is node 0."""
    left, right = nodes["left_child"], nodes["right_child"]
    depth = np.zeros(nodes.shape[0], dtype=np.intp)
    level, current = 0, np.zeros(1, dtype=np.intp)
    while current.size:
        depth[current] = level
        split = current[left[current] != TREE_LEAF]
        current = np.concatenate([left[split], right[split]]).astype(np.intp)
        level += 1
    return depth
