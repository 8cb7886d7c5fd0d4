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
    r = (f + z * z / (2 * N) + z * math.sqrt(f / N - f * f / N + z * z / (4 * N * N))) / (
        1 + z * z / N
    )
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
    N = np.array([0.0, 0.3, 1.0, 1.4, 2.0, 5.0, 5.0, 5.0, 5.0, 20.0, 20.0, 37.5, 1000.0])
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
    weights = np.random.default_rng(seed).uniform(0.2, 3.0, y.shape[0]) if seed % 2 else None
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
    for tree in (ExtraTreeClassifier(random_state=0), PrunedTreeClassifier(random_state=0)):
        tree.fit(X, y)
        pruned = error_based_pruning(tree)
        assert type(pruned) is type(tree)
        assert export_text(pruned).count("class:") == pruned.get_n_leaves()
        restored = pickle.loads(pickle.dumps(pruned))
        np.testing.assert_array_equal(restored.predict_proba(X), pruned.predict_proba(X))


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
