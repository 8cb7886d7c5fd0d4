"""Global refinement of a forest's leaves, against scikit-learn's ridge regression."""

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import Ridge

from skprune.ensemble._levels import pruning_levels
from skprune.ensemble import _refine
from skprune.ensemble._refine import REFINE_PENALTY, refine_forest_trees


def ridge_refined_values(trees, X, y, weights, classifier, penalty):
    """The refit computed independently: a dense one-hot design and Ridge.

    One column per (tree, leaf), ``1 / n_trees`` where a sample lands; the
    change of the leaf values is a ridge regression of the residuals of the
    forest's mean, without intercept.
    """
    n_trees = len(trees)
    leaves = [np.flatnonzero(tree.children_left == -1) for tree in trees]
    blocks = [
        (tree.apply(X)[:, None] == ids[None]) / n_trees
        for tree, ids in zip(trees, leaves)
    ]
    design = np.hstack(blocks)
    values = np.vstack([tree.value[ids, 0, :] for tree, ids in zip(trees, leaves)])
    if classifier:
        targets = (y[:, None] == np.arange(values.shape[1])).astype(float)
    else:
        targets = y[:, None].astype(float)
    ridge = Ridge(alpha=penalty, fit_intercept=False, solver="cholesky")
    ridge.fit(design, targets - design @ values, sample_weight=weights)
    refined = values + ridge.coef_.reshape(targets.shape[1], -1).T
    if classifier:
        shift = max(0.0, -refined.min())
        refined = (refined + shift) / (1 + refined.shape[1] * shift)
    bounds = np.cumsum([0] + [ids.size for ids in leaves])
    return [refined[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])], leaves


@pytest.mark.parametrize("penalty", [None, 2.0])
@pytest.mark.parametrize("classifier", [True, False], ids=["classifier", "regressor"])
def test_refined_leaves_are_the_ridge_solution_on_the_leaf_design(
    classifier, penalty, monkeypatch
):
    # given the iterations to converge, the conjugate gradients give the
    # ridge solution, computed independently
    monkeypatch.setattr(_refine, "CG_ITER", 2000)
    rng = np.random.default_rng(0)
    if classifier:
        X, y = make_classification(
            n_samples=200, n_features=6, n_informative=4, n_classes=3, random_state=0
        )
        forest = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y)
    else:
        X, y = make_regression(n_samples=200, n_features=6, noise=5.0, random_state=0)
        forest = RandomForestRegressor(n_estimators=4, random_state=0).fit(X, y)
    X = X.astype(np.float32)
    weights = rng.uniform(0.5, 2.0, y.shape[0])
    trees = [pruning_levels(tree.tree_, 3)[2] for tree in forest.estimators_]
    refined = refine_forest_trees(
        trees, X, y, weights, classifier, 3 if classifier else None, penalty
    )
    alpha = REFINE_PENALTY if penalty is None else penalty
    expected, leaves = ridge_refined_values(trees, X, y, weights, classifier, alpha)
    for ours, original, values, ids in zip(refined, trees, expected, leaves):
        # to the solver's tolerance, relative to the size of the values
        np.testing.assert_allclose(
            ours.value[ids, 0, :], values, rtol=0, atol=1e-4 * np.abs(values).max()
        )
        inner = original.children_left != -1
        np.testing.assert_array_equal(ours.value[inner], original.value[inner])
        np.testing.assert_array_equal(ours.apply(X), original.apply(X))
    if classifier:
        for tree in refined:
            assert tree.value.min() >= 0
            np.testing.assert_allclose(tree.value.sum(axis=2), 1.0)


def test_refinement_fits_the_training_data_better_and_leaves_the_input_alone():
    X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=1)
    X = X.astype(np.float32)
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    trees = [pruning_levels(tree.tree_, 4)[3] for tree in forest.estimators_]
    before = [tree.value.copy() for tree in trees]
    refined = refine_forest_trees(trees, X, y, np.ones(y.shape[0]), False)
    for tree, value in zip(trees, before):
        np.testing.assert_array_equal(tree.value, value)

    def squared_error(trees):
        mean = np.mean([tree.predict(X)[:, 0] for tree in trees], axis=0)
        return ((mean - y) ** 2).sum()

    assert squared_error(refined) < squared_error(trees)


def all_prunings(tree, node=0):
    """Every pruning of the branch below ``node``, as a set of leaf nodes."""
    left, right = tree.children_left[node], tree.children_right[node]
    if left == -1:
        return [(node,)]
    return [(node,)] + [
        a + b for a in all_prunings(tree, left) for b in all_prunings(tree, right)
    ]


def squared_change(trees, merged, X, weights):
    """Weighted squared change of the trees' values (class fractions or
    targets: ``Tree.predict`` gives both as (n_samples, n_values))."""
    return sum(
        (weights[:, None] * (a.predict(X) - b.predict(X)) ** 2).sum()
        for a, b in zip(trees, merged)
    )


@pytest.mark.parametrize("classifier", [True, False], ids=["classifier", "regressor"])
@pytest.mark.parametrize("max_nodes", [3, 6, 9, 13])
def test_merged_leaves_are_the_best_pruning_of_their_size(classifier, max_nodes):
    # brute force over every pruning of each tree: merging leaves into their
    # weighted mean changes the training predictions least among all the
    # prunings of the forest with as many nodes or fewer
    rng = np.random.default_rng(1)
    if classifier:
        X, y = make_classification(
            n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=1
        )
        make = RandomForestClassifier
    else:
        X, y = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=1)
        make = RandomForestRegressor
    forest = make(n_estimators=2, max_leaf_nodes=6, random_state=1).fit(X, y)
    X = X.astype(np.float32)
    weights = rng.uniform(0.5, 2.0, X.shape[0])
    trees = [tree.tree_ for tree in forest.estimators_]
    merged = _refine.merge_leaves(trees, X, weights, max_nodes)
    n_nodes = sum(tree.node_count for tree in merged)
    assert n_nodes <= max_nodes

    def change_of(tree, leaves):
        # every sample goes to the leaf of the pruning on its path, which
        # takes the weighted mean of the tree's predictions there
        path = tree.decision_path(X).toarray()[:, list(leaves)]
        group = path.argmax(axis=1)
        before = tree.predict(X)
        change = 0.0
        for g in np.unique(group):
            members = group == g
            mean = np.average(before[members], axis=0, weights=weights[members])
            change += (weights[members, None] * (before[members] - mean) ** 2).sum()
        return change

    best = np.inf
    for first in all_prunings(trees[0]):
        for second in all_prunings(trees[1]):
            size = 2 * (len(first) + len(second)) - 2
            if size <= n_nodes:
                best = min(
                    best, change_of(trees[0], first) + change_of(trees[1], second)
                )
    assert squared_change(trees, merged, X, weights) == pytest.approx(
        best, rel=1e-9, abs=1e-9
    )
    for original, tree in zip(trees, merged):
        # the merged leaves hold the weighted mean of the training predictions
        leaf = tree.apply(X)
        before = original.predict(X)
        for node in np.unique(leaf):
            members = leaf == node
            np.testing.assert_allclose(
                tree.value[node, 0],
                np.average(before[members], axis=0, weights=weights[members]),
            )
        if classifier:
            np.testing.assert_allclose(tree.value.sum(axis=2), 1.0)


def test_merging_within_the_node_count_changes_nothing():
    X, y = make_classification(n_samples=150, n_features=5, random_state=2)
    forest = RandomForestClassifier(n_estimators=3, random_state=2).fit(X, y)
    X = X.astype(np.float32)
    trees = [tree.tree_ for tree in forest.estimators_]
    total = sum(tree.node_count for tree in trees)
    merged = _refine.merge_leaves(trees, X, np.ones(X.shape[0]), total)
    for tree, ours in zip(trees, merged):
        # grown trees' leaves are pure and differ from their siblings
        assert ours.node_count == tree.node_count
        np.testing.assert_array_equal(ours.predict(X), tree.predict(X))
    one_leaf_each = _refine.merge_leaves(trees, X, np.ones(X.shape[0]), len(trees))
    assert [tree.node_count for tree in one_leaf_each] == [1, 1, 1]


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.2, 0.0])
def test_merged_trees_leaves_are_their_apply(fraction):
    # the leaves a merge reports for the samples, derived from the trees it
    # merged, are those the merged trees reach
    X, y = make_classification(n_samples=300, n_features=6, random_state=3)
    forest = RandomForestClassifier(n_estimators=4, random_state=3).fit(X, y)
    X = X.astype(np.float32)
    trees = [tree.tree_ for tree in forest.estimators_]
    total = sum(tree.node_count for tree in trees)
    merger = _refine.LeafMerger(trees, X, np.ones(X.shape[0]))
    merged, leaves = merger.merge_with_leaves(max(len(trees), int(fraction * total)))
    assert sum(tree.node_count for tree in merged) < total or fraction == 1.0
    for tree, leaf in zip(merged, leaves):
        np.testing.assert_array_equal(leaf, tree.apply(X))
