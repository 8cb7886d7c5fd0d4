"""Tests of PrunedMLPClassifierCV and PrunedMLPRegressorCV."""

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skprune.model_selection import PruningCurveDisplay
from skprune.neural import (
    PrunedMLPClassifier,
    PrunedMLPClassifierCV,
    PrunedMLPRegressor,
    PrunedMLPRegressorCV,
    sparsity_path,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# A network that trains, prunes and fine-tunes in a fraction of a second.
SMALL_PRUNED = dict(
    hidden_layer_sizes=(16,),
    max_iter=15,
    n_pruning_steps=3,
    finetune_iter=3,
    random_state=0,
)
GRID = [0.0, 0.5, 0.8, 0.95]

CASES = [
    (PrunedMLPClassifier, PrunedMLPClassifierCV, "three_classes", StratifiedKFold),
    (PrunedMLPRegressor, PrunedMLPRegressorCV, "regression_data", KFold),
]


def _reference_scores(Estimator, X, y, folds, scoring):
    """Held-out scores of sparsity_path run by hand on every fold."""
    scorer = get_scorer(scoring)
    scores = []
    for train, test in folds:
        path = sparsity_path(Estimator(**SMALL_PRUNED), X[train], y[train], GRID)
        scores.append([scorer(est, X[test], y[test]) for est in path.estimators])
    return np.array(scores)


@pytest.mark.parametrize("Estimator, EstimatorCV, data, Splitter", CASES)
@pytest.mark.parametrize("selection", ["1se", "best"])
def test_scores_and_choice_match_path_by_hand(
    Estimator, EstimatorCV, data, Splitter, selection, request
):
    X, y = request.getfixturevalue(data)
    splitter = Splitter(n_splits=3)
    scoring = "accuracy" if Estimator is PrunedMLPClassifier else "r2"
    cv_est = EstimatorCV(
        **SMALL_PRUNED,
        sparsities=GRID,
        cv=splitter,
        scoring=scoring,
        selection=selection,
    ).fit(X, y)

    scores = _reference_scores(Estimator, X, y, list(splitter.split(X, y)), scoring)
    results = cv_est.cv_results_
    for fold in range(3):
        assert_array_equal(results[f"split{fold}_test_score"], scores[fold])
    mean = scores.mean(axis=0)
    sem = scores.std(axis=0, ddof=1) / np.sqrt(3)
    assert_allclose(results["mean_test_score"], mean)
    assert_allclose(results["sem_test_score"], sem)
    best = int(np.argmax(mean))
    if selection == "best":
        expected = best
    else:
        expected = max(i for i in range(len(GRID)) if mean[i] >= mean[best] - sem[best])
    assert cv_est.best_index_ == expected
    assert cv_est.best_score_ == pytest.approx(mean[expected])
    assert_array_equal(cv_est.sparsities_, GRID)

    # The final network is the full-data path's network at the chosen sparsity.
    chosen = sparsity_path(Estimator(**SMALL_PRUNED), X, y, GRID).estimators[expected]
    for a, b in zip(
        cv_est.coefs_ + cv_est.intercepts_, chosen.coefs_ + chosen.intercepts_
    ):
        assert_array_equal(a, b)
    assert cv_est.sparsity_ == chosen.sparsity_
    assert_array_equal(cv_est.predict(X), chosen.predict(X))


def test_oneshot_cv_matches_grid_search(three_classes):
    # With the one-shot schedule and a single nonzero sparsity, the path's
    # network is the one fit() produces, so GridSearchCV must agree exactly.
    X, y = three_classes
    params = {**SMALL_PRUNED, "schedule": "oneshot"}
    grid = [0.0, 0.9]
    cv_est = PrunedMLPClassifierCV(**params, sparsities=grid, cv=3, selection="best")
    cv_est.fit(X, y)
    search = GridSearchCV(
        PrunedMLPClassifier(**params), {"sparsity": grid}, cv=3
    ).fit(X, y)
    assert_array_equal(
        cv_est.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    assert grid[cv_est.best_index_] == search.best_params_["sparsity"]


def test_cv_results_report_nonzero_weights(three_classes):
    X, y = three_classes
    cv_est = PrunedMLPClassifierCV(
        **SMALL_PRUNED, sparsities=GRID, cv=3, return_train_score=True
    ).fit(X, y)
    results = cv_est.cv_results_
    n_prunable = 8 * 16
    n_other = 16 * 3
    expected = np.round(n_prunable * (1 - np.array(GRID))) + n_other
    # Every fold network keeps the same number of weights at each sparsity.
    assert_allclose(results["mean_n_nonzero"], expected, atol=1)
    assert np.all(results["mean_train_score"] >= 0)
    assert "split2_train_score" in results


def test_sample_weight_trains_and_weights_scores(three_classes):
    X, y = three_classes
    groups = np.arange(X.shape[0]) % 3
    weights = np.where(y == 0, 3.0, 1.0)
    splitter = GroupKFold(3)
    cv_est = PrunedMLPClassifierCV(**SMALL_PRUNED, sparsities=GRID, cv=splitter)
    cv_est.fit(X, y, sample_weight=weights, groups=groups)

    scorer = get_scorer("accuracy")
    for fold, (train, test) in enumerate(splitter.split(X, y, groups)):
        path = sparsity_path(
            PrunedMLPClassifier(**SMALL_PRUNED), X[train], y[train], GRID,
            sample_weight=weights[train],
        )
        expected = [
            scorer(est, X[test], y[test], sample_weight=weights[test])
            for est in path.estimators
        ]
        assert_array_equal(cv_est.cv_results_[f"split{fold}_test_score"], expected)


def test_display_plots_score_against_sparsity(three_classes):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = three_classes
    display = PruningCurveDisplay.from_estimator(
        PrunedMLPClassifier(**SMALL_PRUNED, sparsity=0.3), X, y, param_values=GRID, cv=3
    )
    reference = PrunedMLPClassifierCV(
        **SMALL_PRUNED, sparsities=GRID, cv=3, return_train_score=True
    ).fit(X, y)
    assert_array_equal(display.param_values, GRID)
    assert_allclose(
        display.test_scores.mean(axis=1), reference.cv_results_["mean_test_score"]
    )
    assert_allclose(display.complexity, reference.cv_results_["mean_n_nonzero"])
    assert display.chosen_value == GRID[reference.best_index_]
    assert display.param_name == "sparsity"
    plt.close("all")


def test_grid_search_in_pipeline_over_sparsity_and_criterion(three_classes):
    X, y = three_classes
    pipe = make_pipeline(StandardScaler(), PrunedMLPClassifier(**SMALL_PRUNED))
    grid = {
        "prunedmlpclassifier__sparsity": [0.0, 0.9],
        "prunedmlpclassifier__criterion": ["magnitude", "taylor"],
    }
    serial = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    parallel = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    assert serial.best_params_ == parallel.best_params_


def test_dask_cluster_gives_the_same_result(three_classes):
    distributed = pytest.importorskip("distributed")
    X, y = three_classes
    grid = {"sparsity": [0.0, 0.5, 0.9]}
    serial_cv = PrunedMLPClassifierCV(**SMALL_PRUNED, sparsities=grid["sparsity"], cv=3)
    serial_cv.fit(X, y)
    serial_search = GridSearchCV(PrunedMLPClassifier(**SMALL_PRUNED), grid, cv=3).fit(
        X, y
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            on_dask = clone(serial_cv).set_params(n_jobs=-1).fit(X, y)
            search = GridSearchCV(
                PrunedMLPClassifier(**SMALL_PRUNED), grid, cv=3, n_jobs=-1
            ).fit(X, y)
    assert_array_equal(
        on_dask.cv_results_["mean_test_score"], serial_cv.cv_results_["mean_test_score"]
    )
    assert on_dask.best_index_ == serial_cv.best_index_
    assert_array_equal(
        search.cv_results_["mean_test_score"],
        serial_search.cv_results_["mean_test_score"],
    )
    assert search.best_params_ == serial_search.best_params_


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"sparsities": [0.5]}, ValueError, "at least 2"),
        ({"sparsities": [0.0, 1.0]}, ValueError, r"\[0, 1\)"),
        ({"sparsities": 1}, ValueError, "sparsities"),
        ({"selection": "median"}, ValueError, "selection"),
        ({"pattern": "n:m"}, ValueError, "n:m"),
        ({"initial_sparsity": 0.99}, ValueError, "initial_sparsity"),
        ({"n_pruning_steps": 0}, ValueError, "n_pruning_steps"),
    ],
)
def test_invalid_parameters(three_classes, params, error, match):
    X, y = three_classes
    with pytest.raises(error, match=match):
        PrunedMLPClassifierCV(**{**SMALL_PRUNED, "cv": 3, **params}).fit(X, y)


def test_has_no_sparsity_parameter():
    assert "sparsity" not in PrunedMLPClassifierCV().get_params()
    assert "sparsity" not in PrunedMLPRegressorCV().get_params()


def test_cv_from_dense_matches_grid_search_over_oneshot_fits(three_classes):
    # Every point of the path is one prune of the dense network from one
    # OBC trace, so GridSearchCV over one-shot fits must agree exactly.
    X, y = three_classes
    params = {**SMALL_PRUNED, "criterion": "obc"}
    grid = [0.0, 0.5, 0.9]
    cv_est = PrunedMLPClassifierCV(
        **params, sparsities=grid, cv=3, selection="best", from_dense=True
    ).fit(X, y)
    search = GridSearchCV(
        PrunedMLPClassifier(**params, schedule="oneshot"), {"sparsity": grid}, cv=3
    ).fit(X, y)
    assert_array_equal(
        cv_est.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    chosen = search.best_estimator_
    assert_array_equal(cv_est.predict_proba(X), chosen.predict_proba(X))
