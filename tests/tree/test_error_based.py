"""C4.5's error-based pruning against a direct computation of J48's estimates."""

import math
import pickle

import numpy as np
import pytest
from scipy.stats import beta, norm
from sklearn.datasets import load_diabetes, make_classification
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
    export_text,
)

from skprune.tree import PrunedTreeClassifier, error_based_pruning
from skprune.tree._error_based import added_errors


def j48_added_errors(N, e, CF):
    """Weka's ``Stats.addErrs``, one node at a time."""
    if N == 0:
        return 0.0
    if e < 1:
        base = N * (1 - CF ** (1 / N))
        if e == 0:
            return base
        return base + e * (j48_added_errors(N, 1, CF) - base)
    if e + 0.5 >= N:
        return max(N - e, 0.0)
    z = norm.ppf(1 - CF)
    f = (e + 0.5) / N
    r = (
        f + z * z / (2 * N) + z * math.sqrt(f / N - f * f / N + z * z / (4 * N * N))
    ) / (1 + z * z / N)
    return r * N - e


def j48_prune(tree, CF):
    """J48's recursive subtree replacement; the leaves of the pruned tree."""
    left, right = tree.children_left, tree.children_right
    N = tree.weighted_n_node_samples
    e = N * (1 - tree.value[:, 0, :].max(axis=1))

    def leaf_estimate(node):
        return e[node] + j48_added_errors(N[node], e[node], CF)

    def prune(node):
        if left[node] == -1:
            return [node], leaf_estimate(node)
        left_leaves, left_errors = prune(left[node])
        right_leaves, right_errors = prune(right[node])
        if leaf_estimate(node) - (left_errors + right_errors + 0.1) < 1e-6:
            return [node], leaf_estimate(node)
        return left_leaves + right_leaves, left_errors + right_errors

    return prune(0)[0]


@pytest.mark.parametrize("CF", [0.5, 0.25, 0.1, 0.001])
def test_added_errors_follow_j48_in_every_regime(CF):
    N = np.array(
        [0.0, 0.3, 1.0, 1.4, 2.0, 5.0, 5.0, 5.0, 5.0, 20.0, 20.0, 37.5, 1000.0]
    )
    e = np.array([0.0, 0.0, 0.0, 0.2, 1.0, 0.0, 0.5, 2.0, 4.6, 3.0, 19.6, 7.25, 13.0])
    expected = [j48_added_errors(n, k, CF) for n, k in zip(N, e)]
    np.testing.assert_allclose(added_errors(N, e, CF), expected, rtol=1e-12)


@pytest.mark.parametrize("CF", [0.5, 0.25, 0.05])
def test_added_errors_without_errors_are_the_exact_binomial_limit(CF):
    # with no error the upper limit p solves (1 - p)^N = CF: Clopper-Pearson
    N = np.array([1.0, 2.0, 7.0, 50.0, 1234.0])
    exact = N * beta.ppf(1 - CF, 1, N)
    np.testing.assert_allclose(added_errors(N, np.zeros_like(N), CF), exact, rtol=1e-10)


def test_added_errors_are_continuous_in_the_errors():
    e = np.linspace(0, 3, 301)
    added = added_errors(np.full_like(e, 40.0), e, 0.25)
    assert np.max(np.abs(np.diff(added))) < 0.05


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("CF", [0.25, 0.05])
def test_pruned_tree_is_j48s(seed, CF, assert_is_pruning_of):
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=3, n_classes=3,
        flip_y=0.15, random_state=seed,
    )
    weights = (
        np.random.default_rng(seed).uniform(0.2, 3.0, y.shape[0]) if seed % 2 else None
    )
    tree = DecisionTreeClassifier(random_state=seed).fit(X, y, sample_weight=weights)
    pruned = error_based_pruning(tree, confidence=CF)
    expected_leaves = j48_prune(tree.tree_, CF)
    assert pruned.get_n_leaves() == len(expected_leaves) < tree.get_n_leaves()
    leaves = assert_is_pruning_of(pruned, tree, X)
    assert set(leaves.tolist()) <= set(expected_leaves)


def test_hand_built_tree_keeps_the_useful_split_only():
    # root [30, 30]; left [28, 2] -> leaves [20, 0] and [8, 2] split by x1;
    # right [2, 28] kept as a leaf. The root split is clearly worth it; the
    # left split saves little against its added pessimism.
    X = np.array([[0, 0]] * 20 + [[0, 1]] * 10 + [[1, 0]] * 30, dtype=float)
    y = np.array([0] * 20 + [0] * 8 + [1] * 2 + [0] * 2 + [1] * 28)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    N = tree.tree_.weighted_n_node_samples
    e = N * (1 - tree.tree_.value[:, 0].max(axis=1))
    estimate = e + np.array([j48_added_errors(n, k, 0.25) for n, k in zip(N, e)])
    left = tree.tree_.children_left[0]
    assert tree.tree_.children_left[left] != -1
    left_children = [tree.tree_.children_left[left], tree.tree_.children_right[left]]
    collapse_left = estimate[left] <= estimate[left_children].sum() + 0.1
    pruned = error_based_pruning(tree)
    assert pruned.get_n_leaves() == (2 if collapse_left else 3)
    assert collapse_left  # 2 + 1.8 vs 0 + 1.3 + 2 + 2.2 for these counts
    np.testing.assert_array_equal(pruned.predict(X), np.r_[[0] * 30, [1] * 30])


@pytest.mark.parametrize("forest_class", [RandomForestClassifier, ExtraTreesClassifier])
def test_every_tree_of_a_forest_is_pruned_with_its_bootstrap_counts(
    forest_class, assert_is_pruning_of
):
    X, y = make_classification(n_samples=200, n_features=6, flip_y=0.1, random_state=0)
    forest = forest_class(n_estimators=4, bootstrap=True, random_state=0).fit(X, y)
    before = pickle.dumps(forest)
    pruned = error_based_pruning(forest, confidence=0.1)
    assert type(pruned) is forest_class
    assert pickle.dumps(forest) == before
    for ours, theirs in zip(pruned.estimators_, forest.estimators_):
        assert ours.get_n_leaves() == len(j48_prune(theirs.tree_, 0.1))
        assert_is_pruning_of(ours, theirs, X.astype(np.float32))
    assert len(pickle.dumps(pruned)) < len(before)


def test_pruned_tree_is_a_real_scikit_learn_tree():
    X, y = make_classification(n_samples=150, random_state=0, flip_y=0.2)
    for tree in (
        ExtraTreeClassifier(random_state=0),
        PrunedTreeClassifier(random_state=0),
    ):
        tree.fit(X, y)
        pruned = error_based_pruning(tree)
        assert type(pruned) is type(tree)
        assert export_text(pruned).count("class:") == pruned.get_n_leaves()
        restored = pickle.loads(pickle.dumps(pruned))
        np.testing.assert_array_equal(
            restored.predict_proba(X), pruned.predict_proba(X)
        )


def test_a_smaller_confidence_prunes_no_less():
    X, y = make_classification(n_samples=300, flip_y=0.2, random_state=3)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    sizes = [error_based_pruning(tree, confidence=cf).tree_.node_count
             for cf in (0.5, 0.25, 0.1, 0.01)]
    assert sizes == sorted(sizes, reverse=True)


def test_bad_input_is_rejected():
    X, y = make_classification(n_samples=50, random_state=0)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    for bad in (0.0, 0.6, -1, "high"):
        with pytest.raises((ValueError, TypeError), match="confidence"):
            error_based_pruning(tree, confidence=bad)
    regressor = DecisionTreeRegressor().fit(*load_diabetes(return_X_y=True))
    with pytest.raises(TypeError, match="classification"):
        error_based_pruning(regressor)
    with pytest.raises(TypeError, match="classification"):
        error_based_pruning(RandomForestRegressor(n_estimators=2).fit(X, y))
    with pytest.raises(TypeError, match="decision tree"):
        error_based_pruning(GradientBoostingClassifier(n_estimators=2).fit(X, y))
    with pytest.raises(NotFittedError):
        error_based_pruning(DecisionTreeClassifier())


class J48Node:
    """A node of Weka's C45PruneableClassifierTree, on explicit training data.

    ``split`` is the (feature, threshold, missing_go_to_left) of the
    scikit-learn node the tree was grown with; the data are the indices of
    the training samples, with weights, that reach the node.
    """

    def __init__(self, tree, node, data, X, y, w, CF):
        self.X, self.y, self.w, self.CF, self.n_classes = X, y, w, CF, tree.n_classes[0]
        self.data = data
        self.sons = None
        if tree.children_left[node] != -1:
            self.split = (
                tree.feature[node], tree.threshold[node], tree.missing_go_to_left[node]
            )
            self.sons = [
                J48Node(tree, child, part, X, y, w, CF)
                for child, part in zip(
                    (tree.children_left[node], tree.children_right[node]),
                    self.split_data(data),
                )
            ]

    def split_data(self, data):
        feature, threshold, missing_left = self.split

        def goes_left(value):
            return bool(missing_left) if math.isnan(value) else value <= threshold

        left = [i for i in data if goes_left(self.X[i, feature])]
        return left, [i for i in data if not goes_left(self.X[i, feature])]

    def distribution(self, data):
        counts = [0.0] * self.n_classes
        for i in data:
            counts[self.y[i]] += self.w[i]
        return counts

    def errors_for_distribution(self, counts):
        total = sum(counts)
        if total == 0:
            return 0.0
        incorrect = total - max(counts)
        return incorrect + j48_added_errors(total, incorrect, self.CF)

    def estimated_errors(self):
        if self.sons is None:
            return self.errors_for_distribution(self.distribution(self.data))
        return sum(son.estimated_errors() for son in self.sons)

    def estimated_errors_for_branch(self, data):
        if self.sons is None:
            return self.errors_for_distribution(self.distribution(data))
        return sum(
            son.estimated_errors_for_branch(part)
            for son, part in zip(self.sons, self.split_data(data))
        )

    def new_distribution(self, data):
        self.data = data
        if self.sons is not None:
            for son, part in zip(self.sons, self.split_data(data)):
                son.new_distribution(part)

    def prune(self):
        if self.sons is None:
            return
        for son in self.sons:
            son.prune()
        bags = [sum(self.w[i] for i in son.data) for son in self.sons]
        largest = self.sons[int(np.argmax(bags))]
        errors_largest = largest.estimated_errors_for_branch(self.data)
        errors_leaf = self.errors_for_distribution(self.distribution(self.data))
        errors_tree = self.estimated_errors()
        if errors_leaf - (errors_tree + 0.1) < 1e-6 and errors_leaf - (
            errors_largest + 0.1
        ) < 1e-6:
            self.sons = None
            return
        if errors_largest - (errors_tree + 0.1) < 1e-6:
            self.sons, self.split = largest.sons, getattr(largest, "split", None)
            self.new_distribution(self.data)
            self.prune()

    def preorder(self):
        """(split or None, weighted class counts) of every node, in preorder."""
        rows = [(self.split if self.sons else None, self.distribution(self.data))]
        for son in self.sons or []:
            rows += son.preorder()
        return rows


def raised_j48(tree, X, y, w, CF):
    root = J48Node(tree, 0, [i for i in range(len(y)) if w[i] > 0], X, y, w, CF)
    root.prune()
    return root.preorder()


def preorder_of(tree):
    rows = []
    for node in range(tree.node_count):
        split = None
        if tree.children_left[node] != -1:
            split = (
                tree.feature[node], tree.threshold[node], tree.missing_go_to_left[node]
            )
        counts = tree.value[node, 0] * tree.weighted_n_node_samples[node]
        rows.append((split, counts))
    return rows


def assert_same_trees(ours, expected):
    assert len(ours) == len(expected)
    for (split, counts), (expected_split, expected_counts) in zip(ours, expected):
        assert split == expected_split
        np.testing.assert_allclose(counts, expected_counts, rtol=1e-9, atol=1e-12)


def noisy_problem(seed, n_samples=240):
    X, y = make_classification(
        n_samples=n_samples, n_features=5, n_informative=3, n_classes=3,
        flip_y=0.25, random_state=seed,
    )
    return X.astype(np.float32), y


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("CF", [0.25, 0.05])
def test_subtree_raising_is_j48s(seed, CF):
    X, y = noisy_problem(seed)
    weights = np.random.default_rng(seed).integers(0, 4, y.shape[0]).astype(float)
    weights = weights if seed % 2 else np.ones(y.shape[0])
    tree = DecisionTreeClassifier(random_state=seed).fit(X, y, sample_weight=weights)
    raised = error_based_pruning(
        tree, X, y, confidence=CF, subtree_raising=True, sample_weight=weights
    )
    assert_same_trees(
        preorder_of(raised.tree_), raised_j48(tree.tree_, X, y, weights, CF)
    )


def test_subtree_raising_sends_missing_values_as_the_tree_does(
    needs_missing_value_paths,
):
    X, y = noisy_problem(1)
    X[np.random.default_rng(0).random(X.shape) < 0.15] = np.nan
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    assert np.any(tree.tree_.missing_go_to_left[tree.tree_.children_left != -1])
    raised = error_based_pruning(tree, X, y, subtree_raising=True)
    assert_same_trees(
        preorder_of(raised.tree_),
        raised_j48(tree.tree_, X, y, np.ones(y.shape[0]), 0.25),
    )


def _fitted_routing_is_lost(tree, X):
    """Whether fitting sent ``X`` elsewhere than ``apply`` does, at some leaf."""
    is_leaf = tree.tree_.children_left == -1
    routed = np.bincount(tree.apply(X), minlength=tree.tree_.node_count)
    return np.any(routed[is_leaf] != tree.tree_.n_node_samples[is_leaf])


def test_subtree_raising_tells_why_a_tree_fitted_on_missing_values_is_refused():
    # The root made to send missing values the other way than fitting did:
    # a tree as scikit-learn before 1.8 could fit on these data.
    X, y = noisy_problem(1)
    X[np.random.default_rng(0).random(X.shape) < 0.15] = np.nan
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    state = tree.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["missing_go_to_left"][0] = 1 - nodes["missing_go_to_left"][0]
    tree.tree_.__setstate__({**state, "nodes": nodes})
    assert _fitted_routing_is_lost(tree, X)
    with pytest.raises(
        ValueError, match=r"(?s)scikit-learn before 1\.8.*subtree_raising=False"
    ):
        error_based_pruning(tree, X, y, subtree_raising=True)
    # other data without missing values are not blamed on them
    X_complete, y_complete = noisy_problem(1)
    with pytest.raises(ValueError, match="fitted on") as error:
        error_based_pruning(tree, X_complete, y_complete, subtree_raising=True)
    assert "missing" not in str(error.value)


def test_subtree_raising_on_missing_values_works_or_tells_why():
    X, y = noisy_problem(2)
    X[np.random.default_rng(2).random(X.shape) < 0.15] = np.nan
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    if not _fitted_routing_is_lost(tree, X):
        raised = error_based_pruning(tree, X, y, subtree_raising=True)
        assert raised.tree_.node_count < tree.tree_.node_count
        return
    # scikit-learn before 1.8
    with pytest.raises(ValueError, match=r"scikit-learn before 1\.8"):
        error_based_pruning(tree, X, y, subtree_raising=True)


def test_subtree_raising_changes_some_trees():
    # the reference above could pass by never raising: make sure it does
    changed = 0
    for seed in range(6):
        X, y = noisy_problem(seed)
        tree = DecisionTreeClassifier(random_state=seed).fit(X, y)
        plain = error_based_pruning(tree)
        raised = error_based_pruning(tree, X, y, subtree_raising=True)
        changed += plain.tree_.node_count != raised.tree_.node_count
    assert changed >= 2


@pytest.mark.parametrize("class_weight", [None, "balanced", "balanced_subsample"])
def test_subtree_raising_in_a_forest_follows_each_trees_bootstrap(class_weight):
    X, y = noisy_problem(0)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
    forest = RandomForestClassifier(
        n_estimators=3, class_weight=class_weight, random_state=0
    ).fit(X, y, sample_weight=weights)
    before = pickle.dumps(forest)
    pruned = error_based_pruning(
        forest, X, y, subtree_raising=True, sample_weight=weights
    )
    assert pickle.dumps(forest) == before
    for ours, theirs, drawn in zip(
        pruned.estimators_, forest.estimators_, forest.estimators_samples_
    ):
        # The weights each tree was grown with: its bootstrap counts, times the
        # sample weights before scikit-learn 1.7 (later it draws by weight),
        # times the class weights; the candidate that scikit-learn's routing
        # of the samples confirms at every node.
        tree = theirs.tree_
        counts = np.bincount(drawn, minlength=y.shape[0]).astype(float)
        grown = tree.value[0, 0] * tree.weighted_n_node_samples[0]
        paths = theirs.decision_path(X)
        on_path = np.repeat(np.arange(y.shape[0]), np.diff(paths.indptr))
        for tree_weight in (counts * weights, counts):
            candidate = tree_weight * (grown / np.bincount(y, weights=tree_weight))[y]
            routed = np.bincount(paths.indices, weights=candidate[on_path])
            if np.allclose(routed, tree.weighted_n_node_samples):
                break
        else:
            raise AssertionError("no candidate gives the tree's node weights")
        assert_same_trees(
            preorder_of(ours.tree_), raised_j48(tree, X, y, candidate, 0.25)
        )


def test_raised_statistics_are_those_of_scikit_learns_routing():
    X, y = noisy_problem(3, n_samples=400)
    tree = DecisionTreeClassifier(criterion="entropy", random_state=0).fit(X, y)
    raised = error_based_pruning(tree, X, y, subtree_raising=True)
    paths = raised.decision_path(X)
    nodes = paths.indices
    samples = np.repeat(np.arange(y.shape[0]), np.diff(paths.indptr))
    n_nodes = raised.tree_.node_count
    counts = np.stack(
        [np.bincount(nodes[y[samples] == k], minlength=n_nodes) for k in range(3)],
        axis=1,
    ).astype(float)
    np.testing.assert_allclose(raised.tree_.weighted_n_node_samples, counts.sum(axis=1))
    np.testing.assert_array_equal(raised.tree_.n_node_samples, counts.sum(axis=1))
    fractions = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(raised.tree_.value[:, 0], fractions)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(fractions * np.log2(fractions), axis=1)
    np.testing.assert_allclose(raised.tree_.impurity, entropy, atol=1e-12)
    # the nodes of a scikit-learn tree are checked on unpickling
    restored = pickle.loads(pickle.dumps(raised))
    np.testing.assert_array_equal(restored.predict(X), raised.predict(X))
    assert export_text(raised).count("class:") == raised.get_n_leaves()


def test_subtree_raising_needs_the_training_data():
    X, y = noisy_problem(0)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="needs the training data X and y"):
        error_based_pruning(tree, subtree_raising=True)
    with pytest.raises(ValueError, match="only serve subtree raising"):
        error_based_pruning(tree, X, y)
    with pytest.raises(ValueError, match="data the estimator was fitted on"):
        error_based_pruning(tree, X[::-1], y, subtree_raising=True)
    with pytest.raises(ValueError, match="data the estimator was fitted on"):
        error_based_pruning(
            tree, X, y, subtree_raising=True,
            sample_weight=np.r_[np.full(100, 2.0), np.ones(y.shape[0] - 100)],
        )
    with pytest.raises(ValueError, match="X does not match"):
        error_based_pruning(tree, X[:, :3], y, subtree_raising=True)
