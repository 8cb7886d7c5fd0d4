"""Reduced-error pruning against brute force over every pruning of small trees."""

import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.exceptions import NotFittedError
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skprune.tree import reduced_error_pruning


def all_prunings(tree):
    """Every pruned subtree of a scikit-learn ``Tree``, as its set of leaves."""
    left, right = tree.children_left, tree.children_right

    def prunings(node):
        if left[node] == -1:
            return [frozenset([node])]
        below = itertools.product(prunings(left[node]), prunings(right[node]))
        return [frozenset([node])] + [a | b for a, b in below]

    return prunings(0)


def pruning_error(estimator, leaves, X, y, weights):
    """Validation error of the pruning with these leaves, sample by sample."""
    tree = estimator.tree_
    paths = estimator.decision_path(X)
    error = 0.0
    for i in range(X.shape[0]):
        path = paths.indices[paths.indptr[i] : paths.indptr[i + 1]]
        (leaf,) = [node for node in path if node in leaves]
        if hasattr(estimator, "classes_"):
            loss = estimator.classes_[tree.value[leaf, 0].argmax()] != y[i]
        else:
            loss = (tree.value[leaf, 0, 0] - y[i]) ** 2
        error += weights[i] * loss
    return error


def brute_force_pruning(estimator, X, y, weights):
    """The smallest pruning with the least validation error."""
    errors = {
        leaves: pruning_error(estimator, leaves, X, y, weights)
        for leaves in all_prunings(estimator.tree_)
    }
    best = min(errors.values())
    tied = [leaves for leaves, error in errors.items() if error <= best * (1 + 1e-9)]
    return min(tied, key=len), best


def small_problem(kind, seed):
    if kind == "classification":
        X, y = make_classification(
            n_samples=160, n_features=5, n_informative=3, n_classes=3,
            flip_y=0.2, random_state=seed,
        )
        return X, y, DecisionTreeClassifier(max_leaf_nodes=9, random_state=seed)
    X, y = make_regression(n_samples=160, n_features=5, noise=30.0, random_state=seed)
    return X, y, DecisionTreeRegressor(max_leaf_nodes=9, random_state=seed)


@pytest.mark.parametrize("kind", ["classification", "regression"])
@pytest.mark.parametrize("seed", range(3))
def test_pruned_tree_is_the_smallest_with_least_validation_error(
    kind, seed, assert_is_pruning_of
):
    X, y, tree = small_problem(kind, seed)
    tree.fit(X[:80], y[:80])
    X_val, y_val = X[80:], y[80:]
    weights = np.random.default_rng(seed).integers(0, 4, 80).astype(float)
    if seed == 0:
        weights = np.ones(80)
    pruned = reduced_error_pruning(
        tree, X_val, y_val, sample_weight=None if seed == 0 else weights
    )
    expected, best = brute_force_pruning(tree, X_val, y_val, weights)
    assert pruned.get_n_leaves() == len(expected)
    leaves = assert_is_pruning_of(pruned, tree, X)
    assert set(leaves.tolist()) <= expected
    error = pruning_error(tree, frozenset(leaves.tolist()), X_val, y_val, weights)
    assert error == pytest.approx(best, rel=1e-12)


def test_missing_values_follow_the_tree(
    assert_is_pruning_of, needs_missing_value_paths
):
    X, y, tree = small_problem("classification", 1)
    X[np.random.default_rng(1).random(X.shape) < 0.15] = np.nan
    tree.fit(X[:80], y[:80])
    assert np.any(tree.tree_.missing_go_to_left[tree.tree_.children_left != -1])
    pruned = reduced_error_pruning(tree, X[80:], y[80:])
    expected, _ = brute_force_pruning(tree, X[80:], y[80:], np.ones(80))
    assert pruned.get_n_leaves() == len(expected)
    assert set(assert_is_pruning_of(pruned, tree, X).tolist()) <= expected


def test_ties_prune_and_unreached_branches_become_leaves():
    X, y, tree = small_problem("classification", 0)
    tree.fit(X, y)
    # validation samples that all reach the left child of the root and are
    # classified there as its majority class: the root keeps one split only
    left = tree.tree_.children_left[0]
    reach_left = tree.decision_path(X)[:, left].toarray().ravel() == 1
    X_val = X[reach_left]
    y_val = tree.classes_[np.full(X_val.shape[0], tree.tree_.value[left, 0].argmax())]
    pruned = reduced_error_pruning(tree, X_val, y_val)
    assert pruned.get_n_leaves() == 2


def test_forest_trees_are_each_pruned_on_the_same_data():
    X, y = make_regression(n_samples=200, n_features=5, noise=20.0, random_state=0)
    forest = ExtraTreesRegressor(n_estimators=3, max_leaf_nodes=20, random_state=0)
    forest.fit(X[:120], y[:120])
    before = pickle.dumps(forest)
    pruned = reduced_error_pruning(forest, X[120:], y[120:])
    assert pickle.dumps(forest) == before
    for ours, theirs in zip(pruned.estimators_, forest.estimators_):
        alone = reduced_error_pruning(theirs, X[120:], y[120:])
        np.testing.assert_array_equal(ours.apply(X), alone.apply(X))
        assert ours.tree_.node_count < theirs.tree_.node_count
    assert pruned.score(X[120:], y[120:]) >= forest.score(X[120:], y[120:]) - 0.05


def test_string_labels_and_data_frames():
    X, y = make_classification(n_samples=200, flip_y=0.2, random_state=0)
    labels = np.array(["no", "yes"])[y]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(
        frame[:100], labels[:100]
    )
    pruned = reduced_error_pruning(forest, frame[100:], labels[100:])
    assert pruned.score(frame[100:], labels[100:]) >= forest.score(
        frame[100:], labels[100:]
    )
    with pytest.raises(ValueError, match="X_val"):
        reduced_error_pruning(
            forest, frame[100:].rename(columns={"f0": "g"}), labels[100:]
        )


def test_bad_input_is_rejected():
    X, y = make_classification(n_samples=60, random_state=0)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X_val"):
        reduced_error_pruning(tree, X[:, :3], y)
    with pytest.raises(ValueError, match="not seen"):
        reduced_error_pruning(tree, X, y + 1)
    with pytest.raises(ValueError, match="outputs"):
        reduced_error_pruning(tree, X, np.c_[y, y])
    with pytest.raises(ValueError):
        reduced_error_pruning(tree, X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        reduced_error_pruning(tree, X, y, sample_weight=-np.ones(60))
    with pytest.raises(TypeError, match="decision tree"):
        reduced_error_pruning(GradientBoostingRegressor(n_estimators=2).fit(X, y), X, y)
    with pytest.raises(NotFittedError):
        reduced_error_pruning(DecisionTreeClassifier(), X, y)
