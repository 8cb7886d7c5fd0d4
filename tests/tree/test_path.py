"""The pruning path against scikit-learn and against exact brute force."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skprune.tree._path import (
    PruningPath,
    TreeTopology,
    node_impurity_risk,
    weakest_link_sequence,
)

CLASSIFIER_SETTINGS = [
    {"criterion": "gini"},
    {"criterion": "entropy"},
    {"criterion": "log_loss", "max_features": 3},
    {"criterion": "gini", "max_leaf_nodes": 40},  # best-first node numbering
    {"criterion": "gini", "splitter": "random"},
]
REGRESSOR_SETTINGS = [
    {"criterion": "squared_error"},
    {"criterion": "squared_error", "max_leaf_nodes": 30},
    {"criterion": "absolute_error", "min_samples_leaf": 3},
    {"criterion": "poisson"},
]


def classification_data(seed, n_samples=300, n_classes=3):
    return make_classification(
        n_samples=n_samples,
        n_features=8,
        n_informative=5,
        n_classes=n_classes,
        flip_y=0.15,
        random_state=seed,
    )


def regression_data(seed, n_samples=200):
    X, y = make_regression(
        n_samples=n_samples, n_features=6, noise=10.0, random_state=seed
    )
    return X, np.abs(y) + 1.0  # positive for the Poisson criterion


def tree_state(tree):
    state = tree.__getstate__()
    nodes = state["nodes"][: tree.node_count]
    return nodes, state["values"][: tree.node_count], state["max_depth"]


def assert_same_tree(ours, theirs):
    nodes, values, depth = tree_state(ours)
    ref_nodes, ref_values, ref_depth = tree_state(theirs)
    assert ours.node_count == theirs.node_count
    assert depth == ref_depth
    for field in ref_nodes.dtype.names:
        if field == "missing_go_to_left":
            # scikit-learn leaves this flag unset on the leaves of a pruned tree
            split = ref_nodes["left_child"] != -1
            np.testing.assert_array_equal(nodes[field][split], ref_nodes[field][split])
        else:
            np.testing.assert_array_equal(nodes[field], ref_nodes[field], err_msg=field)
    np.testing.assert_array_equal(values, ref_values)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("settings", CLASSIFIER_SETTINGS)
def test_impurity_path_is_scikit_learns_classifier(seed, settings):
    X, y = classification_data(seed)
    weights = np.random.RandomState(seed).randint(0, 4, size=y.shape[0])
    reference = DecisionTreeClassifier(random_state=seed, **settings)
    expected = reference.cost_complexity_pruning_path(X, y, sample_weight=weights)
    tree = reference.fit(X, y, sample_weight=weights).tree_

    path = PruningPath(tree, "impurity")

    np.testing.assert_array_equal(path.ccp_alphas, expected.ccp_alphas)
    np.testing.assert_array_equal(path.impurities, expected.impurities)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("settings", REGRESSOR_SETTINGS)
def test_impurity_path_is_scikit_learns_regressor(seed, settings):
    X, y = regression_data(seed)
    reference = DecisionTreeRegressor(random_state=seed, **settings)
    expected = reference.cost_complexity_pruning_path(X, y)
    path = PruningPath(reference.fit(X, y).tree_, "impurity")
    np.testing.assert_array_equal(path.ccp_alphas, expected.ccp_alphas)
    np.testing.assert_array_equal(path.impurities, expected.impurities)


def test_impurity_path_is_scikit_learns_multi_output():
    X, y = classification_data(0)
    Y = np.column_stack([y, (X[:, 0] > 0).astype(int)])
    reference = DecisionTreeClassifier(random_state=0)
    expected = reference.cost_complexity_pruning_path(X, Y)
    path = PruningPath(reference.fit(X, Y).tree_, "impurity")
    np.testing.assert_array_equal(path.ccp_alphas, expected.ccp_alphas)


@pytest.mark.parametrize("seed", [0, 3])
def test_pruned_tree_is_scikit_learns_refit(seed):
    X, y = classification_data(seed)
    grown = DecisionTreeClassifier(random_state=seed).fit(X, y)
    path = PruningPath(grown.tree_, "impurity")
    alphas = np.unique(path.ccp_alphas)
    queries = np.concatenate(
        [alphas, np.sqrt(alphas[:-1] * alphas[1:]), [alphas[-1] * 2, 1e-12]]
    )
    for alpha in queries[:: max(1, queries.size // 25)]:
        refit = DecisionTreeClassifier(random_state=seed, ccp_alpha=alpha).fit(X, y)
        assert_same_tree(path.prune(alpha), refit.tree_)


def linear_scan_collapse_order(tree):
    """Nodes in the order scikit-learn collapses them: a scan for min (g, node).

    Branch risks are updated in the same order as the path does, so that tied
    links compare equal here as they do there.
    """
    topology = TreeTopology(tree)
    risk = node_impurity_risk(tree)
    branch_risk = np.where(topology.is_leaf, risk, 0.0)
    n_leaves = np.zeros(tree.node_count, dtype=np.intp)
    # sums over the leaves in increasing node index, from zero, as the path does
    for leaf in np.flatnonzero(topology.is_leaf):
        ancestor = topology.parent[leaf]
        while ancestor != -1:
            branch_risk[ancestor] += risk[leaf]
            n_leaves[ancestor] += 1
            ancestor = topology.parent[ancestor]
    alive = ~topology.is_leaf
    order = []
    while alive[0]:
        internal = np.flatnonzero(alive)
        g = (risk[internal] - branch_risk[internal]) / (n_leaves[internal] - 1)
        node = internal[np.argmin(g)]  # the first of tied minima: smallest index
        order.append(node)
        alive[topology.branch(node)] = False
        increase, removed = risk[node] - branch_risk[node], n_leaves[node] - 1
        branch_risk[node], n_leaves[node] = risk[node], 0
        ancestor = topology.parent[node]
        while ancestor != -1:
            n_leaves[ancestor] -= removed
            branch_risk[ancestor] += increase
            ancestor = topology.parent[ancestor]
    return np.array(order)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequence_collapses_tied_links_in_scikit_learns_order(seed):
    # few feature and weight values: many subtrees share g(t) exactly
    rng = np.random.RandomState(seed)
    X = rng.randint(0, 4, size=(600, 5))
    y = (X[:, 0] + X[:, 1] + rng.randint(0, 3, size=600)) % 3
    weights = rng.randint(1, 3, size=600)
    tree = DecisionTreeClassifier(random_state=seed).fit(
        X, y, sample_weight=weights
    ).tree_

    _, _, collapse_step = weakest_link_sequence(
        TreeTopology(tree), node_impurity_risk(tree)
    )

    collapsed = np.flatnonzero(collapse_step < np.iinfo(np.intp).max)
    order = collapsed[np.argsort(collapse_step[collapsed])]
    np.testing.assert_array_equal(order, linear_scan_collapse_order(tree))


def test_pruned_regression_tree_is_scikit_learns_refit():
    X, y = regression_data(4)
    grown = DecisionTreeRegressor(random_state=0, max_leaf_nodes=60).fit(X, y)
    path = PruningPath(grown.tree_, "impurity")
    for alpha in np.unique(path.ccp_alphas)[::5]:
        refit = DecisionTreeRegressor(
            random_state=0, max_leaf_nodes=60, ccp_alpha=alpha
        )
        assert_same_tree(path.prune(alpha), refit.fit(X, y).tree_)


def subtree_node_sets(path):
    return [
        set(path.subtree_nodes(step)[0].tolist())
        for step in range(path.ccp_alphas.size)
    ]


@pytest.mark.parametrize("risk", ["impurity", "misclassification"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_path_invariants(risk, seed):
    X, y = classification_data(seed)
    path = PruningPath(DecisionTreeClassifier(random_state=seed).fit(X, y).tree_, risk)

    assert path.ccp_alphas[0] == 0.0
    assert np.all(np.diff(path.ccp_alphas) >= 0)
    if risk == "misclassification":
        assert np.all(np.diff(path.ccp_alphas) > 0)
    assert np.all(np.diff(path.n_leaves) < 0)
    assert path.n_leaves[-1] == 1
    assert np.all(np.diff(path.risks) >= -1e-12)
    node_sets = subtree_node_sets(path)
    for larger, smaller in zip(node_sets, node_sets[1:]):
        assert smaller < larger
    # the leaf counts derived from the collapse steps are those of the trees
    for step in range(0, path.ccp_alphas.size, 7):
        nodes, is_leaf = path.subtree_nodes(step)
        assert is_leaf.sum() == path.n_leaves[step]


# ---------------------------------------------------------------------------
# Exact brute force for the misclassification risk
# ---------------------------------------------------------------------------


def exact_misclassification(tree):
    """Misclassified weight of each node as an exact fraction of the root weight."""
    weights = tree.weighted_n_node_samples
    counts = np.rint(tree.value[:, 0, :] * weights[:, None]).astype(int)
    total = int(round(weights[0]))
    return [Fraction(int(c.sum() - c.max()), total) for c in counts]


def all_prunings(tree):
    """Every pruned subtree, as the frozenset of its leaves."""
    left, right = tree.children_left, tree.children_right

    def prunings(node):
        if left[node] == -1:
            return [frozenset([node])]
        below = [
            a | b
            for a, b in itertools.product(prunings(left[node]), prunings(right[node]))
        ]
        return [frozenset([node])] + below

    return prunings(0)


def optimal_subtree(prunings, node_risk, alpha):
    """The smallest subtree minimising R(T) + alpha |leaves(T)|, exactly."""
    costs = [
        (sum(node_risk[n] for n in leaves) + alpha * len(leaves), len(leaves), leaves)
        for leaves in prunings
    ]
    best_cost = min(c[0] for c in costs)
    return min((c for c in costs if c[0] == best_cost), key=lambda c: c[1])[2]


def path_leaves(path, step):
    nodes, is_leaf = path.subtree_nodes(step)
    return frozenset(nodes[is_leaf].tolist())


def exact_breakpoints(path, node_risk):
    """The alphas at which the path's subtrees change, in exact arithmetic."""
    alphas = [Fraction(0)]
    for step in range(1, path.ccp_alphas.size):
        previous, current = path_leaves(path, step - 1), path_leaves(path, step)
        risk_increase = (
            sum(node_risk[n] for n in current) - sum(node_risk[n] for n in previous)
        )
        alphas.append(risk_increase / (len(previous) - len(current)))
    return alphas


def check_against_brute_force(tree):
    node_risk = exact_misclassification(tree)
    prunings = all_prunings(tree)
    path = PruningPath(tree, "misclassification")
    alphas = exact_breakpoints(path, node_risk)
    np.testing.assert_allclose(path.ccp_alphas, [float(a) for a in alphas], rtol=1e-12)
    assert all(a < b for a, b in zip(alphas, alphas[1:]))
    for step, alpha in enumerate(alphas):
        # at its own alpha a subtree is the smallest optimal one (ties go to
        # the smaller tree) and it stays optimal until the next alpha
        assert path_leaves(path, step) == optimal_subtree(prunings, node_risk, alpha)
        upper = alphas[step + 1] if step + 1 < len(alphas) else alpha + 1
        for between in (alpha + (upper - alpha) / 2, upper - (upper - alpha) / 1000):
            assert path_leaves(path, step) == optimal_subtree(
                prunings, node_risk, between
            )
    return path


@pytest.mark.parametrize("seed", range(6))
def test_misclassification_path_is_exact_weakest_link_sequence(seed):
    X, y = classification_data(seed, n_samples=120, n_classes=3)
    tree = DecisionTreeClassifier(random_state=seed, max_leaf_nodes=11).fit(X, y).tree_
    check_against_brute_force(tree)


def test_misclassification_path_first_step_drops_useless_splits():
    # splits that do not change the majority class do not lower the risk
    X = np.arange(12, dtype=float).reshape(-1, 1)
    y = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0])
    for max_depth, n_useless in [(1, 1), (2, 1)]:
        tree = (
            DecisionTreeClassifier(random_state=0, max_depth=max_depth).fit(X, y).tree_
        )
        path = check_against_brute_force(tree)
        assert path.n_leaves[0] == tree.n_leaves - n_useless
        grown_risk = sum(
            exact_misclassification(tree)[n]
            for n in np.flatnonzero(tree.children_left == -1)
        )
        assert path.risks[0] == pytest.approx(float(grown_risk))


def tied_data():
    """Two mirror-image halves: their branches have exactly equal g(t)."""
    half_X = np.array([0, 1, 2, 3, 4, 5, 6, 7], dtype=float)
    half_y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
    X = np.concatenate([half_X, half_X + 100]).reshape(-1, 1)
    y = np.concatenate([half_y, half_y])
    return X, y


def test_tied_links_are_pruned_together():
    X, y = tied_data()
    tree = DecisionTreeClassifier(random_state=0).fit(X, y).tree_
    path = check_against_brute_force(tree)
    assert np.all(np.diff(path.ccp_alphas) > 0)
    # each step collapses mirror images together, so leaves go down by pairs
    assert np.all(np.diff(path.n_leaves[:-1]) % 2 == 0)


def test_floating_point_ties_are_recognised():
    # weights that are not exact in binary make equal g(t) differ in the last
    # bits; the tolerance relative to the root risk must still tie them
    X, y = tied_data()
    weights = np.full(y.shape[0], 0.1)
    weights[: y.shape[0] // 2] = 0.3 / 3  # equal to 0.1 in exact arithmetic only
    tree = DecisionTreeClassifier(random_state=0).fit(X, y, sample_weight=weights).tree_
    unit = DecisionTreeClassifier(random_state=0).fit(X, y).tree_
    path = PruningPath(tree, "misclassification")
    unit_path = PruningPath(unit, "misclassification")
    np.testing.assert_array_equal(path.n_leaves, unit_path.n_leaves)
    np.testing.assert_allclose(path.ccp_alphas, unit_path.ccp_alphas, rtol=1e-9)


def test_single_leaf_tree_has_a_one_step_path():
    X = np.zeros((5, 2))
    y = np.ones(5)
    tree = DecisionTreeClassifier().fit(X, y).tree_
    for risk in ("impurity", "misclassification"):
        path = PruningPath(tree, risk)
        np.testing.assert_array_equal(path.ccp_alphas, [0.0])
        np.testing.assert_array_equal(path.n_leaves, [1])
        assert path.prune(1.0).node_count == 1


def test_topology_branches_are_contiguous_in_preorder():
    X, y = classification_data(0)
    tree = DecisionTreeClassifier(random_state=0, max_leaf_nodes=30).fit(X, y).tree_
    topology = TreeTopology(tree)
    for node in range(tree.node_count):
        branch = set(topology.branch(node).tolist())
        expected, stack = set(), [node]
        while stack:  # an independent walk down from the node
            current = stack.pop()
            expected.add(current)
            if tree.children_left[current] != -1:
                stack += [tree.children_left[current], tree.children_right[current]]
        assert branch == expected
