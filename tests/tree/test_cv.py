"""PrunedTreeClassifierCV and PrunedTreeRegressorCV."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_classification
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skprune.tree import (
    PrunedTreeClassifier,
    PrunedTreeClassifierCV,
    PrunedTreeRegressor,
    PrunedTreeRegressorCV,
)
from skprune.tree._cv import geometric_midpoints


@pytest.fixture(scope="module")
def data():
    return make_classification(
        n_samples=600, n_features=10, n_informative=5, flip_y=0.15, random_state=0
    )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scoring", [None, "balanced_accuracy", "neg_log_loss"])
def test_best_selection_agrees_with_grid_search(data, seed, scoring):
    X, y = data
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    cv_tree = PrunedTreeClassifierCV(
        ccp_alphas=15, cv=folds, scoring=scoring, selection="best", random_state=seed
    ).fit(X, y)
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=seed),
        {"ccp_alpha": cv_tree.ccp_alphas_},
        cv=folds,
        scoring=scoring,
    ).fit(X, y)

    np.testing.assert_allclose(
        cv_tree.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-12,
    )
    assert cv_tree.ccp_alpha_ == search.best_params_["ccp_alpha"]
    np.testing.assert_array_equal(
        cv_tree.predict_proba(X), search.best_estimator_.predict_proba(X)
    )


def test_regressor_best_selection_agrees_with_grid_search():
    X, y = load_diabetes(return_X_y=True)
    folds = KFold(4, shuffle=True, random_state=0)
    cv_tree = PrunedTreeRegressorCV(
        ccp_alphas=12, cv=folds, selection="best", random_state=0
    ).fit(X, y)
    search = GridSearchCV(
        DecisionTreeRegressor(random_state=0),
        {"ccp_alpha": cv_tree.ccp_alphas_},
        cv=folds,
    ).fit(X, y)
    assert cv_tree.ccp_alpha_ == search.best_params_["ccp_alpha"]
    np.testing.assert_allclose(
        cv_tree.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"],
        atol=1e-12,
    )


def one_standard_error_choice(split_scores, alphas):
    """Breiman's rule, written out independently."""
    n_folds = split_scores.shape[1]
    means = split_scores.mean(axis=1)
    best = np.argmax(means)
    standard_error = split_scores[best].std(ddof=1) / np.sqrt(n_folds)
    eligible = [a for a, m in zip(alphas, means) if m >= means[best] - standard_error]
    return max(eligible)


@pytest.mark.parametrize("risk", ["impurity", "misclassification"])
def test_one_standard_error_rule(data, risk):
    X, y = data
    cv_tree = PrunedTreeClassifierCV(risk=risk, cv=5, random_state=0).fit(X, y)
    results = cv_tree.cv_results_
    split_scores = np.column_stack([results[f"split{k}_test_score"] for k in range(5)])
    assert cv_tree.ccp_alpha_ == one_standard_error_choice(
        split_scores, cv_tree.ccp_alphas_
    )
    minimum = PrunedTreeClassifierCV(risk=risk, cv=5, selection="best", random_state=0)
    minimum.fit(X, y)
    assert cv_tree.ccp_alpha_ >= minimum.ccp_alpha_
    assert cv_tree.get_n_leaves() <= minimum.get_n_leaves()


def test_split_scores_are_those_of_trees_pruned_on_each_fold(data):
    X, y = data
    folds = list(StratifiedKFold(3).split(X, y))
    cv_tree = PrunedTreeClassifierCV(
        ccp_alphas=[0.0, 0.004, 0.02], cv=folds, risk="misclassification",
        random_state=0, return_train_score=True,
    ).fit(X, y)
    for k, (train, test) in enumerate(folds):
        grown = PrunedTreeClassifier(risk="misclassification", random_state=0)
        grown.fit(X[train], y[train])
        for index, alpha in enumerate(cv_tree.ccp_alphas_):
            pruned = PrunedTreeClassifier(
                risk="misclassification", ccp_alpha=alpha, random_state=0
            ).fit(X[train], y[train])
            assert cv_tree.cv_results_[f"split{k}_test_score"][index] == pruned.score(
                X[test], y[test]
            )
            assert cv_tree.cv_results_[f"split{k}_train_score"][index] == pruned.score(
                X[train], y[train]
            )


def test_alpha_grid_is_geometric_midpoints_of_the_full_path(data):
    X, y = data
    cv_tree = PrunedTreeClassifierCV(cv=3, random_state=0).fit(X, y)
    path_alphas = np.unique(cv_tree.pruning_path_.ccp_alphas)
    grid = cv_tree.ccp_alphas_
    assert grid.shape[0] == path_alphas.shape[0]
    assert grid[-1] == path_alphas[-1]
    np.testing.assert_allclose(
        grid[:-1] ** 2, path_alphas[:-1] * path_alphas[1:], rtol=1e-12
    )
    # each grid alpha selects the last subtree of the path at one distinct alpha
    path = cv_tree.pruning_path_
    last_at_each_alpha = [
        np.flatnonzero(path.ccp_alphas == a).max() for a in path_alphas
    ]
    np.testing.assert_array_equal(
        cv_tree.cv_results_["n_leaves"], path.n_leaves[last_at_each_alpha]
    )
    np.testing.assert_array_equal(
        geometric_midpoints(np.array([0.0, 1.0, 4.0])), [0.0, 2.0, 4.0]
    )


def test_int_grid_thins_the_path(data):
    X, y = data
    full = PrunedTreeClassifierCV(cv=3, random_state=0).fit(X, y)
    thinned = PrunedTreeClassifierCV(ccp_alphas=7, cv=3, random_state=0).fit(X, y)
    assert thinned.ccp_alphas_.shape == (7,)
    assert set(thinned.ccp_alphas_) <= set(full.ccp_alphas_)
    assert thinned.ccp_alphas_[0] == full.ccp_alphas_[0]
    assert thinned.ccp_alphas_[-1] == full.ccp_alphas_[-1]


def test_final_tree_is_the_full_tree_pruned_at_the_chosen_alpha(data):
    X, y = data
    cv_tree = PrunedTreeClassifierCV(cv=4, random_state=0).fit(X, y)
    refit = DecisionTreeClassifier(ccp_alpha=cv_tree.ccp_alpha_, random_state=0).fit(
        X, y
    )
    np.testing.assert_array_equal(cv_tree.apply(X), refit.apply(X))
    # prune still reaches any alpha and keeps the class
    other = cv_tree.prune(0.0)
    assert isinstance(other, PrunedTreeClassifierCV)
    assert other.get_n_leaves() == cv_tree.pruning_path_.n_leaves[0]
    assert cv_tree.ccp_alpha_ != 0.0


def test_parallel_folds_give_the_same_result(data):
    X, y = data
    serial = PrunedTreeClassifierCV(cv=4, random_state=0).fit(X, y)
    parallel = PrunedTreeClassifierCV(cv=4, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert serial.ccp_alpha_ == parallel.ccp_alpha_


def test_sample_weight_and_string_labels(data):
    X, y = data
    labels = np.where(y == 1, "yes", "no")
    weights = np.random.RandomState(0).randint(0, 3, size=y.shape[0]).astype(float)
    cv_tree = PrunedTreeClassifierCV(cv=3, selection="best", random_state=0)
    cv_tree.fit(X, labels, sample_weight=weights)
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0), {"ccp_alpha": cv_tree.ccp_alphas_}, cv=3
    ).fit(X, labels, sample_weight=weights)
    assert cv_tree.ccp_alpha_ == search.best_params_["ccp_alpha"]
    assert set(cv_tree.predict(X)) <= {"yes", "no"}


def test_one_alpha_grid_is_rejected(data):
    X, y = data
    with pytest.raises(ValueError, match="ccp_alphas.*at least 2"):
        PrunedTreeClassifierCV(ccp_alphas=[0.01]).fit(X, y)
    with pytest.raises(ValueError, match="ccp_alphas.*at least 2"):
        PrunedTreeClassifierCV(ccp_alphas=[0.01, 0.01]).fit(X, y)
    with pytest.raises(ValueError, match="ccp_alphas"):
        PrunedTreeClassifierCV(ccp_alphas=1).fit(X, y)


@pytest.mark.parametrize("alphas", [[0.0, np.nan], [-1.0, 0.5], [[0.1, 0.2]]])
def test_bad_alpha_grid_is_rejected(data, alphas):
    X, y = data
    with pytest.raises(ValueError, match="ccp_alphas"):
        PrunedTreeClassifierCV(ccp_alphas=alphas).fit(X, y)


def test_class_missing_from_a_training_fold_is_rejected(data):
    X, y = data
    y = y.copy()
    y[:1] = 2
    with pytest.raises(ValueError, match="class 2 has only 1 sample"):
        PrunedTreeClassifierCV(cv=5).fit(X, y)


def test_class_with_fewer_samples_than_folds_warns_as_scikit_learn(data):
    # Every training fold still sees the class, as in GridSearchCV.
    X, y = data
    y = y.copy()
    y[:3] = 2
    with pytest.warns(UserWarning, match="least populated class"):
        search = PrunedTreeClassifierCV(cv=5, random_state=0).fit(X, y)
    assert 2 in search.classes_


def test_unknown_selection_and_misclassification_on_regressor():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="selection"):
        PrunedTreeRegressorCV(selection="median").fit(X, y)
    with pytest.raises(ValueError, match="misclassification"):
        PrunedTreeRegressorCV(risk="misclassification").fit(X, y)


def test_regressor_cv_result_matches_refit():
    X, y = load_diabetes(return_X_y=True)
    cv_tree = PrunedTreeRegressorCV(ccp_alphas=10, cv=3, random_state=0).fit(X, y)
    refit = PrunedTreeRegressor(ccp_alpha=cv_tree.ccp_alpha_, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cv_tree.predict(X), refit.predict(X))


def test_dask_cluster_gives_the_same_result(data):
    distributed = pytest.importorskip("distributed")
    X, y = data
    alphas = (
        PrunedTreeClassifierCV(ccp_alphas=8, cv=3, random_state=0).fit(X, y).ccp_alphas_
    )
    serial = PrunedTreeClassifierCV(ccp_alphas=alphas, cv=3, random_state=0).fit(X, y)
    serial_search = GridSearchCV(
        DecisionTreeClassifier(random_state=0), {"ccp_alpha": alphas}, cv=3
    ).fit(X, y)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            on_dask = PrunedTreeClassifierCV(
                ccp_alphas=alphas, cv=3, random_state=0, n_jobs=-1
            ).fit(X, y)
            search = GridSearchCV(
                DecisionTreeClassifier(random_state=0),
                {"ccp_alpha": alphas},
                cv=3,
                n_jobs=-1,
            ).fit(X, y)
    np.testing.assert_array_equal(
        on_dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert on_dask.ccp_alpha_ == serial.ccp_alpha_
    assert search.best_params_ == serial_search.best_params_
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"],
        serial_search.cv_results_["mean_test_score"],
    )
