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
        (tree.apply(X)[:, None] == ids[None]) / n_trees for tree, ids in zip(trees, leaves)
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
