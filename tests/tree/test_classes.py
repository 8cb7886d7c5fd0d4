"""PrunedTreeClassifier and PrunedTreeRegressor."""

import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    export_graphviz,
    export_text,
    plot_tree,
)

from skprune.tree import PrunedTreeClassifier, PrunedTreeRegressor


@pytest.fixture(scope="module")
def noisy_data():
    return make_classification(
        n_samples=400, n_features=10, n_informative=5, n_classes=3, flip_y=0.2,
        random_state=0,
    )


def assert_same_predictions(ours, theirs, X):
    np.testing.assert_array_equal(ours.apply(X), theirs.apply(X))
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    if hasattr(theirs, "predict_proba"):
        np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


@pytest.mark.parametrize("ccp_alpha", [0.0, 0.002, 0.01, 0.05])
def test_fit_equals_scikit_learn_at_ccp_alpha(noisy_data, ccp_alpha):
    X, y = noisy_data
    ours = PrunedTreeClassifier(ccp_alpha=ccp_alpha, random_state=0).fit(X, y)
    theirs = DecisionTreeClassifier(ccp_alpha=ccp_alpha, random_state=0).fit(X, y)
    assert ours.get_n_leaves() == theirs.get_n_leaves()
    assert_same_predictions(ours, theirs, X)
    np.testing.assert_array_equal(
        ours.feature_importances_, theirs.feature_importances_
    )
    assert export_text(ours) == export_text(theirs)


def test_prune_without_refitting_equals_refit(noisy_data):
    X, y = noisy_data
    grown = PrunedTreeClassifier(random_state=0).fit(X, y)
    alphas = np.unique(grown.pruning_path_.ccp_alphas)
    for alpha in alphas[::4]:
        refit = DecisionTreeClassifier(ccp_alpha=alpha, random_state=0).fit(X, y)
        pruned = grown.prune(alpha)
        assert isinstance(pruned, PrunedTreeClassifier)
        assert pruned.ccp_alpha == alpha
        assert_same_predictions(pruned, refit, X)


def test_prune_can_go_back_to_a_smaller_alpha(noisy_data):
    X, y = noisy_data
    heavily_pruned = PrunedTreeClassifier(ccp_alpha=0.05, random_state=0).fit(X, y)
    back = heavily_pruned.prune(0.001)
    refit = DecisionTreeClassifier(ccp_alpha=0.001, random_state=0).fit(X, y)
    assert_same_predictions(back, refit, X)


def test_prune_leaves_the_original_unchanged(noisy_data):
    X, y = noisy_data
    tree = PrunedTreeClassifier(ccp_alpha=0.002, random_state=0).fit(X, y)
    before = (tree.get_n_leaves(), tree.predict_proba(X).copy(), tree.get_params())
    pruned = tree.prune(0.03)
    assert pruned.get_n_leaves() < before[0]
    assert tree.get_n_leaves() == before[0]
    np.testing.assert_array_equal(tree.predict_proba(X), before[1])
    assert tree.get_params() == before[2]


def test_path_attribute_and_method_agree_with_scikit_learn(noisy_data):
    X, y = noisy_data
    weights = np.random.RandomState(0).randint(0, 3, size=y.shape[0])
    tree = PrunedTreeClassifier(random_state=0).fit(X, y, sample_weight=weights)
    expected = DecisionTreeClassifier(random_state=0).cost_complexity_pruning_path(
        X, y, sample_weight=weights
    )
    from_method = PrunedTreeClassifier(random_state=0).cost_complexity_pruning_path(
        X, y, sample_weight=weights
    )
    for path in (tree.pruning_path_, from_method):
        np.testing.assert_array_equal(path.ccp_alphas, expected.ccp_alphas)
        np.testing.assert_array_equal(path.impurities, expected.impurities)
        np.testing.assert_array_equal(path.risks, expected.impurities)
    # the leaf counts are those of the trees pruned at each alpha
    for alpha, n_leaves in zip(
        tree.pruning_path_.ccp_alphas[::7], tree.pruning_path_.n_leaves[::7]
    ):
        assert tree.prune(alpha).get_n_leaves() == n_leaves


def test_misclassification_risk_prunes_more_tied_links(noisy_data):
    X, y = noisy_data
    tree = PrunedTreeClassifier(risk="misclassification", random_state=0).fit(X, y)
    alphas = tree.pruning_path_.ccp_alphas
    assert np.all(np.diff(alphas) > 0)
    # every pruned tree misclassifies the training weight the path says
    for alpha, risk in zip(alphas, tree.pruning_path_.risks):
        pruned = tree.prune(alpha)
        error = np.mean(pruned.predict(X) != y)
        assert error == pytest.approx(risk, abs=1e-12)


def test_string_labels_and_zero_weights():
    X, y = load_iris(return_X_y=True)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    weights = np.ones(y.shape[0])
    weights[::5] = 0.0
    for risk in ("impurity", "misclassification"):
        tree = PrunedTreeClassifier(ccp_alpha=0.01, risk=risk, random_state=0)
        tree.fit(X, labels, sample_weight=weights)
        assert set(tree.predict(X)) <= set(labels)
    ours = PrunedTreeClassifier(ccp_alpha=0.01, random_state=0).fit(
        X, labels, sample_weight=weights
    )
    theirs = DecisionTreeClassifier(ccp_alpha=0.01, random_state=0).fit(
        X, labels, sample_weight=weights
    )
    assert_same_predictions(ours, theirs, X)


def test_regressor_equals_scikit_learn():
    X, y = load_diabetes(return_X_y=True)
    tree = PrunedTreeRegressor(random_state=0).fit(X, y)
    for alpha in (10.0, 100.0, 500.0):
        refit = DecisionTreeRegressor(ccp_alpha=alpha, random_state=0).fit(X, y)
        assert_same_predictions(tree.prune(alpha), refit, X)
    assert (
        PrunedTreeRegressor(random_state=0).fit(X, y).get_n_leaves()
        == tree.get_n_leaves()
    )


def test_scikit_learn_tree_tools_work(noisy_data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = noisy_data
    ours = PrunedTreeClassifier(ccp_alpha=0.02, random_state=0).fit(X, y)
    theirs = DecisionTreeClassifier(ccp_alpha=0.02, random_state=0).fit(X, y)
    assert export_graphviz(ours) == export_graphviz(theirs)
    np.testing.assert_array_equal(
        ours.decision_path(X).toarray(), theirs.decision_path(X).toarray()
    )
    figure, (ax, ax_reference) = plt.subplots(1, 2)
    texts = [a.get_text() for a in plot_tree(ours, ax=ax)]
    reference = [a.get_text() for a in plot_tree(theirs, ax=ax_reference)]
    assert texts == reference
    assert sum("samples" in t for t in texts) == ours.tree_.node_count
    plt.close(figure)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trips_exactly(noisy_data, dump):
    X, y = noisy_data
    tree = PrunedTreeClassifier(
        ccp_alpha=0.01, risk="misclassification", random_state=0
    )
    tree.fit(X, y)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(tree))
    else:
        buffer = io.BytesIO()
        joblib.dump(tree, buffer)
        buffer.seek(0)
        loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), tree.predict_proba(X))
    np.testing.assert_array_equal(
        loaded.pruning_path_.ccp_alphas, tree.pruning_path_.ccp_alphas
    )
    # the loaded estimator still prunes without refitting
    np.testing.assert_array_equal(
        loaded.prune(0.03).predict_proba(X), tree.prune(0.03).predict_proba(X)
    )


@pytest.mark.parametrize("ccp_alpha", [-0.1, float("nan")])
def test_bad_ccp_alpha_is_rejected(noisy_data, ccp_alpha):
    X, y = noisy_data
    with pytest.raises(ValueError, match="ccp_alpha"):
        PrunedTreeClassifier(ccp_alpha=ccp_alpha).fit(X, y)
    tree = PrunedTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="ccp_alpha"):
        tree.prune(ccp_alpha)


def test_non_numeric_ccp_alpha_in_prune_is_a_type_error(noisy_data):
    X, y = noisy_data
    tree = PrunedTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="ccp_alpha"):
        tree.prune("0.1")


def test_unknown_risk_is_rejected(noisy_data):
    X, y = noisy_data
    with pytest.raises(ValueError, match="risk"):
        PrunedTreeClassifier(risk="gini").fit(X, y)


def test_misclassification_risk_on_regressor_is_rejected():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="misclassification.*classifiers"):
        PrunedTreeRegressor(risk="misclassification").fit(X, y)


def test_prune_before_fit_is_rejected():
    with pytest.raises(NotFittedError):
        PrunedTreeClassifier().prune(0.1)
