"""cost_complexity_path and prune_tree on trees and forests fitted by anyone."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_classification
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    ExtraTreeClassifier,
)

from skprune.tree import PrunedTreeClassifier, cost_complexity_path, prune_tree


@pytest.fixture(scope="module")
def data():
    return make_classification(
        n_samples=300, n_features=8, n_informative=4, flip_y=0.2, random_state=1
    )


def test_path_of_a_scikit_learn_tree_equals_its_own(data):
    X, y = data
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    expected = tree.cost_complexity_pruning_path(X, y)
    path = cost_complexity_path(tree)
    np.testing.assert_array_equal(path.ccp_alphas, expected.ccp_alphas)
    np.testing.assert_array_equal(path.impurities, expected.impurities)


def test_misclassification_path_of_an_extra_tree(data):
    X, y = data
    tree = ExtraTreeClassifier(random_state=0).fit(X, y)
    path = cost_complexity_path(tree, risk="misclassification")
    assert np.all(np.diff(path.ccp_alphas) > 0)
    assert path.n_leaves[-1] == 1
    for alpha, risk in zip(path.ccp_alphas, path.risks):
        pruned = prune_tree(tree, alpha, risk="misclassification")
        assert np.mean(pruned.predict(X) != y) == pytest.approx(risk, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.003, 0.02])
def test_prune_tree_equals_scikit_learn_refit(data, alpha):
    X, y = data
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    pruned = prune_tree(tree, alpha)
    refit = DecisionTreeClassifier(random_state=0, ccp_alpha=alpha).fit(X, y)
    assert type(pruned) is DecisionTreeClassifier
    np.testing.assert_array_equal(pruned.predict_proba(X), refit.predict_proba(X))
    np.testing.assert_array_equal(pruned.apply(X), refit.apply(X))
    # the given estimator is untouched
    assert (
        tree.get_n_leaves()
        == DecisionTreeClassifier(random_state=0).fit(X, y).get_n_leaves()
    )


def test_prune_tree_on_a_pruned_tree_continues_its_path(data):
    X, y = data
    tree = PrunedTreeClassifier(ccp_alpha=0.005, random_state=0).fit(X, y)
    pruned = prune_tree(tree, 0.02)
    np.testing.assert_array_equal(pruned.predict(X), tree.prune(0.02).predict(X))


@pytest.mark.parametrize(
    "forest_class, make_data",
    [
        (RandomForestClassifier, "classification"),
        (ExtraTreesClassifier, "classification"),
        (RandomForestRegressor, "regression"),
        (ExtraTreesRegressor, "regression"),
    ],
)
def test_prune_tree_prunes_every_tree_of_a_forest(data, forest_class, make_data):
    X, y = data if make_data == "classification" else load_diabetes(return_X_y=True)
    alpha = 0.01 if make_data == "classification" else 30.0
    forest = forest_class(n_estimators=5, random_state=0).fit(X, y)
    # the forest's own ccp_alpha grows the same trees and prunes each of them
    reference = forest_class(n_estimators=5, random_state=0, ccp_alpha=alpha).fit(X, y)
    pruned = prune_tree(forest, alpha)
    assert type(pruned) is forest_class
    for ours, theirs in zip(pruned.estimators_, reference.estimators_):
        np.testing.assert_array_equal(ours.apply(X), theirs.apply(X))
        assert ours.tree_.node_count == theirs.tree_.node_count
    np.testing.assert_array_equal(pruned.predict(X), reference.predict(X))
    assert sum(t.tree_.node_count for t in forest.estimators_) > sum(
        t.tree_.node_count for t in pruned.estimators_
    )


def test_prune_tree_rejects_what_is_not_a_fitted_tree(data):
    X, y = data
    with pytest.raises(TypeError, match="decision tree"):
        prune_tree(LogisticRegression().fit(X, y), 0.01)
    with pytest.raises(TypeError, match="decision tree"):
        prune_tree(GradientBoostingClassifier(n_estimators=2).fit(X, y), 0.01)
    with pytest.raises(TypeError, match="decision tree"):
        cost_complexity_path("not a tree")
    with pytest.raises(NotFittedError):
        prune_tree(DecisionTreeClassifier(), 0.01)
    with pytest.raises(NotFittedError):
        prune_tree(RandomForestClassifier(), 0.01)


def test_prune_tree_rejects_bad_alpha_and_risk(data):
    X, y = data
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="ccp_alpha"):
        prune_tree(tree, -1.0)
    with pytest.raises(ValueError, match="risk"):
        prune_tree(tree, 0.1, risk="entropy")
    regressor = DecisionTreeRegressor().fit(*load_diabetes(return_X_y=True))
    with pytest.raises(ValueError, match="misclassification"):
        cost_complexity_path(regressor, risk="misclassification")
