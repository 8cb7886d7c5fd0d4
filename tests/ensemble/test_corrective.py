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
from skprune.ensemble._corrective import CORRECTIVE_PENALTY, refit_stages_jointly


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


def test_squared_error_refit_is_the_ridge_solution_on_the_leaf_design(monkeypatch):
    monkeypatch.setattr(_refine, "CG_ITER", 2000)
    booster, X, y, weights, trees, refitted = refitted_booster("regression", penalty=3.0)
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
    np.testing.assert_allclose(pruned.predict(X), initial + design @ ridge.coef_, rtol=1e-5)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_log_loss_refit_is_optimal_for_scikit_learns_log_loss(kind):
    # the objective computed from the pruned booster's own predict_proba with
    # scikit-learn's log_loss: lower than the stagewise values', and
    # stationary at the solution along random leaf directions
    booster, X, y, weights, trees, refitted = refitted_booster(kind)
    penalty = CORRECTIVE_PENALTY

    def objective(values):
        stages = copy.deepcopy(refitted)
        bounds = np.cumsum([0] + [
            int((tree.children_left == -1).sum()) for stage in stages for tree in stage
        ])
        trees = [tree for stage in stages for tree in stage]
        for tree, start, stop in zip(trees, bounds[:-1], bounds[1:]):
            tree.value[tree.children_left == -1, 0, 0] = values[start:stop]
        proba = pruned_booster(booster, stages).predict_proba(X)
        loss = log_loss(y, proba, sample_weight=weights, normalize=False)
        return loss + 0.5 * penalty * values @ values

    solution = leaf_values(refitted)
    assert objective(solution) < objective(leaf_values(trees))
    rng = np.random.default_rng(0)
    step = 1e-4
    for _ in range(3):
        direction = rng.normal(size=solution.shape)
        direction /= np.linalg.norm(direction)
        slope = (objective(solution + step * direction)
                 - objective(solution - step * direction)) / (2 * step)
        assert abs(slope) < 1e-2


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
