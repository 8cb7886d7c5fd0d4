"""scikit-learn's common estimator checks on every public skprune estimator.

Estimators are discovered through the ``__all__`` of skprune's subpackages, so
a new estimator is checked without editing this file.
"""

from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from skprune.utils import all_estimators

# Small, seeded settings that keep the checks fast; an estimator that is not
# listed is checked with its defaults.
_SMALL_MLP = {"max_iter": 30, "random_state": 0}
_SMALL_PRUNED = {**_SMALL_MLP, "n_pruning_steps": 2, "finetune_iter": 5}
_SMALL_PRUNED_CV = {**_SMALL_PRUNED, "sparsities": [0.0, 0.5], "cv": 3}
_SMALL_ENSEMBLE = {"n_estimators": 5, "random_state": 0}
SMALL_PARAMS = {
    "EnsemblePruner": {"cv": 2, "random_state": 0},
    "MLPPruner": {"n_pruning_steps": 2, "finetune_iter": 5},
    "PrunedTreeClassifierCV": {"cv": 3, "random_state": 0},
    "PrunedTreeRegressorCV": {"cv": 3, "random_state": 0},
    "PrunableMLPClassifier": _SMALL_MLP,
    "PrunableMLPRegressor": _SMALL_MLP,
    "PrunedMLPClassifier": _SMALL_PRUNED,
    "PrunedMLPRegressor": _SMALL_PRUNED,
    "PrunedMLPClassifierCV": _SMALL_PRUNED_CV,
    "PrunedMLPRegressorCV": _SMALL_PRUNED_CV,
}

# Meta-estimators need the estimators they wrap: each is checked once per
# wrapped estimator, built with the same small settings.
META_ESTIMATOR_ARGS = {
    "EnsemblePruner": [
        RandomForestClassifier(**_SMALL_ENSEMBLE),
        ExtraTreesRegressor(**_SMALL_ENSEMBLE),
        GradientBoostingClassifier(**_SMALL_ENSEMBLE),
        GradientBoostingRegressor(learning_rate=0.5, **_SMALL_ENSEMBLE),
    ],
    "MLPPruner": [MLPClassifier(**_SMALL_MLP), MLPRegressor(**_SMALL_MLP)],
}

# Every expected failure with the reason for it, keyed by estimator name.
_SPLITS_DRAW_SAMPLES = (
    "the held-out split and the folds that choose the pruning split samples, so "
    "a weight of 2 is not a repeated sample"
)
EXPECTED_FAILURES = {
    "EnsemblePruner": {
        "check_sample_weight_equivalence_on_dense_data": _SPLITS_DRAW_SAMPLES,
        "check_sample_weight_equivalence_on_sparse_data": _SPLITS_DRAW_SAMPLES,
    },
}


def _instances():
    for name, cls in all_estimators():
        params = SMALL_PARAMS.get(name, {})
        if name in META_ESTIMATOR_ARGS:
            for estimator in META_ESTIMATOR_ARGS[name]:
                yield cls(estimator, **params)
        else:
            yield cls(**params)


def _expected_failures(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


def test_estimators_are_discovered():
    names = {name for name, _ in all_estimators()}
    assert {"PrunedTreeClassifier", "PrunedTreeRegressorCV"} <= names


@parametrize_with_checks(
    list(_instances()), expected_failed_checks=_expected_failures
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
