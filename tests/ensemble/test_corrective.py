"""Fully corrective refit of boosting stages, against independent computations."""

import copy

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import log_loss

from skprune.ensemble import _refine
from skprune.ensemble._boosting import BoostingLadder, pruned_booster
from skprune.ensemble._corrective import (
    CORRECTIVE_PENALTY,
    merge_cheapest_leaves,
    refit_stages_jointly,
    sibling_merge_costs,
)


def fitted_booster(kind):
    if kind == "regression":
        X, y = make_regression(n_samples=150, n_features=5, noise=10.0, random_state=2)
        booster = GradientBoostingRegressor(n_estimators=8, random_state=2)
        return booster.fit(X, y), X, y
    X, y = make_classification(
        n_samples=150, n_features=5, n_informative=3,
        n_classes=2 if kind == "binary" else 3, random_state=2,
    )
    return GradientBoostingClassifier(n_estimators=8, random_state=2).fit(X, y), X, y


def refitted_booster(kind, penalty=None):
    booster, X, y = fitted_booster(kind)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
    ladder = BoostingLadder(booster, X, y, weights, 2, kind != "regression")
    trees = ladder.refit(1)[0][:5]
    refitted = refit_stages_jointly(
        trees, ladder.X_train, y, weights, ladder.initial_train,
        booster.learning_rate, kind != "regression", penalty,
    )
    return booster, X, y, weights, trees, refitted


def leaf_values(trees):
    return np.concatenate([
        tree.value[tree.children_left == -1, 0, 0] for stage in trees for tree in stage
    ])


def with_leaf_values(stages, values):
    """A copy of ``stages`` with its leaves, in ``leaf_values``'s order, set."""
    stages = copy.deepcopy(stages)
    trees = [tree for stage in stages for tree in stage]
    bounds = np.cumsum(
        [0] + [int((tree.children_left == -1).sum()) for tree in trees]
    )
    for tree, start, stop in zip(trees, bounds[:-1], bounds[1:]):
        tree.value[tree.children_left == -1, 0, 0] = values[start:stop]
    return stages


def assert_stationary(objective, solution, step=1e-4):
    """Central differences of ``objective`` along random directions are ~0."""
    rng = np.random.default_rng(0)
    for _ in range(3):
        direction = rng.normal(size=solution.shape)
        direction /= np.linalg.norm(direction)
        slope = (objective(solution + step * direction)
                 - objective(solution - step * direction)) / (2 * step)
        assert abs(slope) < 1e-2


def test_squared_error_refit_is_the_ridge_solution_on_the_leaf_design(monkeypatch):
    monkeypatch.setattr(_refine, "CG_ITER", 2000)
    booster, X, y, weights, trees, refitted = refitted_booster(
        "regression", penalty=3.0
    )
    X32 = X.astype(np.float32)
    columns = [
        booster.learning_rate * (tree.apply(X32)[:, None] == np.flatnonzero(
            tree.children_left == -1)[None])
        for stage in trees for tree in stage
    ]
    design = np.hstack(columns)
    initial = booster.init_.predict(X).ravel()
    # half the squared error plus penalty / 2 ||v||^2 is Ridge with alpha = penalty
    ridge = Ridge(alpha=3.0, fit_intercept=False, solver="cholesky")
    ridge.fit(design, y - initial, sample_weight=weights)
    np.testing.assert_allclose(leaf_values(refitted), ridge.coef_, rtol=1e-4, atol=1e-4)
    pruned = pruned_booster(booster, refitted)
    np.testing.assert_allclose(
        pruned.predict(X), initial + design @ ridge.coef_, rtol=1e-5
    )


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_log_loss_refit_is_optimal_for_scikit_learns_log_loss(kind):
    # the objective computed from the pruned booster's own predict_proba with
    # scikit-learn's log_loss: lower than the stagewise values', and
    # stationary at the solution along random leaf directions
    booster, X, y, weights, trees, refitted = refitted_booster(kind)
    penalty = CORRECTIVE_PENALTY

    def objective(values):
        stages = with_leaf_values(refitted, values)
        proba = pruned_booster(booster, stages).predict_proba(X)
        loss = log_loss(y, proba, sample_weight=weights, normalize=False)
        return loss + 0.5 * penalty * values @ values

    solution = leaf_values(refitted)
    assert objective(solution) < objective(leaf_values(trees))
    assert_stationary(objective, solution)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_refit_to_probabilities_minimises_the_cross_entropy_to_them(kind):
    # one-hot targets give the labels' refit; the booster's own probabilities
    # as targets give a stationary point of the weighted cross-entropy between
    # them and the refitted booster's predict_proba
    booster, X, y, weights, trees, refitted = refitted_booster(kind)
    X32 = X.astype(np.float32)
    initial = BoostingLadder(booster, X, y, weights, 1, True).initial_train
    proba = booster.predict_proba(X)
    targets = proba[:, 1:] if kind == "binary" else proba

    def refit(y_refit):
        return refit_stages_jointly(
            trees, X32, y_refit, weights, initial, booster.learning_rate, True
        )

    onehot = np.eye(proba.shape[1])[y]
    np.testing.assert_allclose(
        leaf_values(refit(onehot[:, 1:] if kind == "binary" else onehot)),
        leaf_values(refitted), rtol=1e-6, atol=1e-8,
    )
    toward_booster = refit(targets)

    def objective(values):
        stages = with_leaf_values(toward_booster, values)
        predicted = pruned_booster(booster, stages).predict_proba(X)
        cross_entropy = -(proba * np.log(predicted)).sum(axis=1)
        return weights @ cross_entropy + 0.5 * CORRECTIVE_PENALTY * values @ values

    solution = leaf_values(toward_booster)
    assert objective(solution) < objective(leaf_values(refitted))
    assert_stationary(objective, solution)


def test_refit_leaves_the_stages_given_alone_and_keeps_their_structure():
    booster, X, y, weights, trees, refitted = refitted_booster("multiclass")
    X32 = X.astype(np.float32)
    for stage, new_stage in zip(trees, refitted):
        for tree, new in zip(stage, new_stage):
            np.testing.assert_array_equal(tree.apply(X32), new.apply(X32))
            inner = tree.children_left != -1
            np.testing.assert_array_equal(tree.value[inner], new.value[inner])
    before = leaf_values(trees)
    refit_stages_jointly(trees, X32, y, weights, np.zeros((y.shape[0], 3)), 0.1, True)
    np.testing.assert_array_equal(leaf_values(trees), before)


def sibling_pairs(tree):
    """Inner nodes whose two children are leaves, found by walking the tree."""
    left, right = tree.children_left, tree.children_right
    return [
        node for node in range(tree.node_count)
        if left[node] != -1 and left[left[node]] == -1 and left[right[node]] == -1
    ]


def test_merge_costs_are_the_loss_increase_of_the_squared_error(monkeypatch):
    # the penalised squared error is quadratic and the refit its minimum, so
    # the cost of merging two leaves is exactly the increase of the
    # objective computed from the pruned booster's predictions
    monkeypatch.setattr(_refine, "CG_ITER", 2000)
    penalty = 3.0
    booster, X, y, weights, trees, refitted = refitted_booster("regression", penalty)
    X32 = X.astype(np.float32)

    def objective(stages):
        predicted = pruned_booster(booster, stages).predict(X)
        return (0.5 * weights @ (y - predicted) ** 2
                + 0.5 * penalty * leaf_values(stages) @ leaf_values(stages))

    base = objective(refitted)
    n_checked = 0
    for i, stage in enumerate(refitted):
        tree = stage[0]
        hessian = booster.learning_rate**2 * np.bincount(
            tree.apply(X32), weights=weights, minlength=tree.node_count
        ) + penalty
        parents, costs, merged = sibling_merge_costs(tree, hessian)
        np.testing.assert_array_equal(parents, sibling_pairs(tree))
        for parent, cost, value in zip(parents, costs, merged):
            changed = copy.deepcopy(refitted)
            children = [tree.children_left[parent], tree.children_right[parent]]
            changed[i][0].value[children, 0, 0] = value
            assert objective(changed) - base == pytest.approx(cost, rel=1e-4, abs=1e-6)
            n_checked += 1
    assert n_checked >= 3


def test_cheapest_merges_collapse_the_pairs_of_least_second_order_cost():
    booster, X, y, weights, trees, refitted = refitted_booster("multiclass")
    X32 = X.astype(np.float32)
    learning_rate = booster.learning_rate
    # costs from the booster's own predict_proba: p (1 - p) per class
    proba = pruned_booster(booster, refitted).predict_proba(X)
    pairs = []
    for i, stage in enumerate(refitted):
        for k, tree in enumerate(stage):
            reached = tree.apply(X32)
            for parent in sibling_pairs(tree):
                a, b = tree.children_left[parent], tree.children_right[parent]
                h = [learning_rate**2 * weights[reached == c]
                     @ (proba[reached == c, k] * (1 - proba[reached == c, k]))
                     + CORRECTIVE_PENALTY for c in (a, b)]
                va, vb = tree.value[a, 0, 0], tree.value[b, 0, 0]
                cost = 0.5 * h[0] * h[1] / (h[0] + h[1]) * (va - vb) ** 2
                pairs.append(
                    (cost, i, k, a, b, (h[0] * va + h[1] * vb) / (h[0] + h[1]))
                )
    pairs.sort()
    hand = copy.deepcopy(refitted)
    for _, i, k, a, b, value in pairs[:3]:
        hand[i][k].value[[a, b], 0, 0] = value
    initial = ladder_initial(booster, X)
    merged = merge_cheapest_leaves(
        refitted, X32, y, weights, initial, learning_rate, True, 3
    )
    n_nodes = sum(tree.node_count for stage in refitted for tree in stage)
    assert sum(tree.node_count for stage in merged for tree in stage) == n_nodes - 6
    np.testing.assert_allclose(
        pruned_booster(booster, merged).decision_function(X),
        pruned_booster(booster, hand).decision_function(X), rtol=1e-10, atol=1e-12,
    )
    np.testing.assert_allclose(leaf_values(refitted), leaf_values(
        refit_stages_jointly(refitted, X32, y, weights, initial, learning_rate, True)
    ), atol=1e-3)


def ladder_initial(booster, X):
    """Raw predictions of ``init_``, from the booster minus its trees."""
    raw = booster.decision_function(X).reshape(X.shape[0], -1)
    for stage in booster.estimators_:
        for k, tree in enumerate(stage):
            raw[:, k] -= booster.learning_rate * tree.predict(X.astype(np.float32))
    return raw
