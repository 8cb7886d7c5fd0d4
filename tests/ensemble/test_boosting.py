"""Gradient boosting stages pruned and refitted, against scikit-learn's own fit."""

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from skprune.ensemble._boosting import BoostingLadder, pruned_booster


def fitted_booster(kind, seed=0):
    if kind == "regression":
        X, y = make_regression(
            n_samples=150, n_features=5, noise=10.0, random_state=seed
        )
        booster = GradientBoostingRegressor(
            n_estimators=8, max_depth=3, random_state=seed
        )
        return booster.fit(X, y), X, y.astype(float)
    n_classes = 2 if kind == "binary" else 3
    X, y = make_classification(
        n_samples=150,
        n_features=5,
        n_informative=3,
        n_classes=n_classes,
        random_state=seed,
    )
    booster = GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=seed)
    return booster.fit(X, y), X, y


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_refit_of_the_unpruned_stages_gives_back_scikit_learns_leaves(kind):
    booster, X, y = fitted_booster(kind)
    weights = np.ones(y.shape[0])
    ladder = BoostingLadder(booster, X, y, weights, 3, kind != "regression", X[:40])
    trees, staged, n_nodes = ladder.refit(0)
    for stage_trees, stage in zip(trees, booster.estimators_):
        for tree, original in zip(stage_trees, stage):
            np.testing.assert_allclose(
                tree.predict(X.astype(np.float32)),
                original.tree_.predict(X.astype(np.float32)),
                rtol=1e-9, atol=1e-12,
            )
    expected = (
        np.stack(list(booster.staged_predict(X[:40]))) if kind == "regression"
        else np.stack(list(booster.staged_predict_proba(X[:40])))
    )
    np.testing.assert_allclose(staged, expected, rtol=1e-9, atol=1e-12)
    assert n_nodes.sum() == sum(e.tree_.node_count for e in booster.estimators_.ravel())
    np.testing.assert_array_equal(ladder.n_nodes()[0], n_nodes.cumsum())


@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_pruned_stages_take_the_newton_step_of_their_leaves(kind):
    booster, X, y = fitted_booster(kind, seed=1)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
    ladder = BoostingLadder(booster, X, y, weights, 3, kind != "regression", X)
    trees, staged, _ = ladder.refit(2)
    pruned = pruned_booster(booster, trees[:5])
    assert pruned.n_estimators_ == 5
    raw_before = [ladder.initial_train] + [
        raw.reshape(X.shape[0], -1) for raw in (
            pruned.staged_predict(X) if kind == "regression"
            else pruned.staged_decision_function(X)
        )
    ]
    X32 = X.astype(np.float32)
    for stage, stage_trees in enumerate(trees[:5]):
        raw = raw_before[stage]
        for k, tree in enumerate(stage_trees):
            assert tree.node_count < booster.estimators_[stage, k].tree_.node_count
            leaves = tree.apply(X32)
            for leaf in np.unique(leaves):
                members = leaves == leaf
                w = weights[members]
                if kind == "regression":
                    expected = np.average(y[members] - raw[members, 0], weights=w)
                elif kind == "binary":
                    p = 1 / (1 + np.exp(-raw[members, 0]))
                    expected = np.sum(w * (y[members] - p)) / np.sum(w * p * (1 - p))
                else:
                    p = np.exp(raw[members]) / np.exp(raw[members]).sum(
                        axis=1, keepdims=True
                    )
                    g = (y[members] == k) - p[:, k]
                    expected = (
                        np.sum(w * g) * 2 / 3 / np.sum(w * p[:, k] * (1 - p[:, k]))
                    )
                assert tree.value[leaf, 0, 0] == pytest.approx(
                    expected, rel=1e-8, abs=1e-12
                )
    final = pruned.predict(X) if kind == "regression" else pruned.predict_proba(X)
    np.testing.assert_allclose(final, staged[4], rtol=1e-9, atol=1e-12)
