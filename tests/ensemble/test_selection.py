"""Trees of a booster selected by the lasso, against independent computations."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.linear_model import Lasso

from skprune.ensemble import _selection
from skprune.ensemble._boosting import BoostingLadder, pruned_booster
from skprune.ensemble._selection import (
    MERGE_FRACTIONS,
    SelectedTrees,
    booster_trees,
    entry_order,
    lasso_ranking,
    packed_stages,
    weighted_lasso_path,
)


def fitted_booster(kind, n_estimators=12, seed=0):
    if kind == "regression":
        X, y = make_regression(
            n_samples=200, n_features=5, noise=10.0, random_state=seed
        )
        booster = GradientBoostingRegressor(
            n_estimators=n_estimators, random_state=seed
        )
        return booster.fit(X, y), X, y
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=4,
        n_classes=2 if kind == "binary" else 3, random_state=seed,
    )
    booster = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
    return booster.fit(X, y), X, y


def class_outputs(booster, X, k):
    """Each stage's contribution to class k, from scikit-learn's estimators."""
    return np.column_stack(
        [booster.learning_rate * stage[k].predict(X) for stage in booster.estimators_]
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_weighted_path_is_scikit_learns_lasso_with_sample_weights(monkeypatch):
    monkeypatch.setattr(_selection, "LASSO_TOL", 1e-12)
    monkeypatch.setattr(_selection, "LASSO_MAX_ITER", 100_000)
    booster, X, y = fitted_booster("multiclass")
    outputs = class_outputs(booster, X, 1)
    target = outputs.sum(axis=1)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, y.shape[0])
    alphas, coefs = weighted_lasso_path(outputs, target, weights)
    for index in (10, 40, 70):
        lasso = Lasso(
            alpha=alphas[index], fit_intercept=False, tol=1e-12, max_iter=100_000
        )
        lasso.fit(outputs, target, sample_weight=weights)
        np.testing.assert_allclose(coefs[:, index], lasso.coef_, atol=1e-7)
        np.testing.assert_array_equal(
            coefs[:, index] != 0, np.abs(lasso.coef_) > 1e-8
        )


def test_entry_order_follows_the_penalty_then_the_final_magnitude():
    coefs = np.array([
        [0.0, 0.0, 0.5, 0.6],   # enters third
        [0.0, 0.2, 0.0, 0.1],   # enters second, leaves, comes back
        [0.3, 0.4, 0.5, 0.2],   # enters first
        [0.0, 0.0, 0.0, 0.0],   # never
        [0.0, 0.0, -0.1, -0.9],  # enters third, larger at the end
    ])
    order, n_entered = entry_order(coefs)
    np.testing.assert_array_equal(order, [2, 1, 4, 0, 3])
    assert n_entered == 4


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["regression", "binary", "multiclass"])
def test_ranking_is_the_order_of_entry_into_independent_lasso_fits(kind, monkeypatch):
    # brute force: scikit-learn's Lasso at every penalty of the path, on the
    # trees' outputs computed by scikit-learn's estimators
    monkeypatch.setattr(_selection, "LASSO_TOL", 1e-12)
    monkeypatch.setattr(_selection, "LASSO_MAX_ITER", 100_000)
    booster, X, y = fitted_booster(kind)
    weights = np.ones(y.shape[0])
    X32 = X.astype(np.float32)
    rankings = lasso_ranking(
        booster_trees(booster), X32, weights, booster.learning_rate
    )
    assert len(rankings) == booster.estimators_.shape[1]
    for k, ranking in enumerate(rankings):
        outputs = class_outputs(booster, X32, k)
        target = outputs.sum(axis=1)
        alphas, _ = weighted_lasso_path(outputs, target, weights)
        first_active = np.full(outputs.shape[1], alphas.size)
        for index, alpha in enumerate(alphas):
            lasso = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100_000)
            active = np.abs(lasso.fit(outputs, target).coef_) > 1e-12
            first_active[active & (first_active == alphas.size)] = index
        entered = np.flatnonzero(first_active < alphas.size)
        np.testing.assert_array_equal(np.sort(ranking), entered)
        assert np.all(np.diff(first_active[ranking]) >= 0)


def hand_raw(booster, X, y, kept):
    """``init_`` plus the kept trees of each class, summed from sklearn's estimators.

    ``init_`` predicts the class priors: its raw prediction is their log,
    centred (scikit-learn's symmetric multinomial link).
    """
    log_prior = np.log(np.bincount(y) / y.shape[0])
    raw = np.tile(log_prior - log_prior.mean(), (X.shape[0], 1))
    for k in range(raw.shape[1]):
        for stage in kept[k]:
            raw[:, k] += (
                booster.learning_rate * booster.estimators_[stage, k].predict(X)
            )
    return raw


def test_packed_booster_sums_the_kept_trees_of_each_class():
    booster, X, y = fitted_booster("multiclass")
    rankings = [np.array([3, 0, 7]), np.array([5]), np.array([11, 2])]
    stages = packed_stages(booster_trees(booster), rankings, 2)
    pruned = pruned_booster(booster, stages)
    assert pruned.estimators_.shape == (2, 3)
    kept = [[0, 3], [5], [2, 11]]
    # the dropped tree of class 1 is a single leaf of value zero
    padding = pruned.estimators_[1, 1].tree_
    assert padding.node_count == 1 and padding.value[0, 0, 0] == 0.0
    n_nodes = sum(booster.estimators_[s, k].tree_.node_count
                  for k in range(3) for s in kept[k]) + 1
    assert sum(e.tree_.node_count for e in pruned.estimators_.ravel()) == n_nodes
    raw = hand_raw(booster, X, y, kept)
    np.testing.assert_allclose(pruned.decision_function(X), raw, rtol=1e-12)
    np.testing.assert_allclose(
        pruned.predict_proba(X), softmax(raw, axis=1), rtol=1e-12
    )
    staged = list(pruned.staged_decision_function(X))
    np.testing.assert_allclose(
        staged[0], hand_raw(booster, X, y, [[0], [5], [2]]), rtol=1e-12
    )
    np.testing.assert_allclose(staged[-1], raw, rtol=1e-12)
    np.testing.assert_allclose(
        list(pruned.staged_predict_proba(X))[-1], softmax(raw, axis=1), rtol=1e-12
    )


def test_selected_candidates_grow_with_their_size():
    booster, X, y = fitted_booster("multiclass", n_estimators=40)
    weights = np.ones(y.shape[0])
    ladder = BoostingLadder(booster, X, y, weights, 1, True)
    selected = SelectedTrees(booster, ladder, booster_trees(booster), y, weights)
    np.testing.assert_array_equal(selected.sizes, [6, 8, 10, 12, 16])
    n_nodes = selected.n_nodes()
    n_selections = len(selected.sizes)
    assert np.all(np.diff(n_nodes[:n_selections]) > 0)
    # merged down to fractions of the booster's nodes, within the rounds
    n_booster = sum(e.tree_.node_count for e in booster.estimators_.ravel())
    merged = n_nodes[n_selections:]
    assert np.all(np.diff(merged) >= 0) and merged[-1] <= n_nodes[n_selections - 1]
    np.testing.assert_array_less(merged, np.array(MERGE_FRACTIONS) * n_booster + 2)
    for m, nodes in zip(selected.sizes, n_nodes):
        stages = selected.stages(list(selected.sizes).index(m))
        assert len(stages) <= m
        assert sum(tree.node_count for stage in stages for tree in stage) == nodes
        # the kept trees of each class are its first m in the ranking
        for k, ranking in enumerate(selected.rankings):
            expected = np.sort(ranking[:m])
            features = [booster.estimators_[s, k].tree_.feature for s in expected]
            ours = [stage[k].feature for stage in stages[: expected.size]]
            for a, b in zip(ours, features):
                np.testing.assert_array_equal(a, b)
