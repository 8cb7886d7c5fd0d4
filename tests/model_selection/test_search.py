"""The path cross-validation shared by the tree and the network CV estimators."""

import inspect
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skprune.neural import PrunedMLPClassifier, PrunedMLPClassifierCV
from skprune.tree import PrunedTreeClassifier, PrunedTreeClassifierCV

SMALL_NETWORK = {
    "hidden_layer_sizes": (8,),
    "max_iter": 20,
    "n_pruning_steps": 2,
    "finetune_iter": 2,
    "random_state": 0,
    "sparsities": [0.0, 0.5, 0.8],
}
CV_ESTIMATORS = {
    "tree": (PrunedTreeClassifierCV, {"ccp_alphas": 8, "random_state": 0}, "ccp_alpha"),
    "network": (PrunedMLPClassifierCV, SMALL_NETWORK, "sparsity"),
}


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=6, random_state=0)


def _fit(kind, data, **params):
    cls, small, _ = CV_ESTIMATORS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return cls(**small, cv=3, **params).fit(*data)


@pytest.mark.parametrize("kind", CV_ESTIMATORS)
@pytest.mark.parametrize("selection", ["1se", "best"])
def test_both_expose_their_choice_the_same_way(kind, data, selection):
    est = _fit(kind, data, selection=selection)
    knob = CV_ESTIMATORS[kind][2]
    grid = est.cv_results_[f"param_{knob}"]
    assert est.best_params_ == {knob: grid[est.best_index_]}
    assert est.best_score_ == est.cv_results_["mean_test_score"][est.best_index_]
    mean, sem = est.cv_results_["mean_test_score"], est.cv_results_["sem_test_score"]
    if selection == "best":
        assert est.best_index_ == np.argmax(mean)
    else:
        # The most pruned point within one standard error of the best.
        within = np.flatnonzero(mean >= mean.max() - sem[np.argmax(mean)])
        assert est.best_index_ == within.max()


@pytest.mark.parametrize("kind", CV_ESTIMATORS)
@pytest.mark.parametrize("former", ["min", "max"])
def test_former_spellings_of_best_warn_and_choose_the_same(kind, data, former):
    with pytest.warns(FutureWarning, match='selection="best"'):
        old = _fit(kind, data, selection=former)
    new = _fit(kind, data, selection="best")
    assert old.best_params_ == new.best_params_
    np.testing.assert_array_equal(
        old.cv_results_["mean_test_score"], new.cv_results_["mean_test_score"]
    )


@pytest.mark.parametrize(
    "cv_class, single, knob",
    [
        (PrunedTreeClassifierCV, PrunedTreeClassifier, "ccp_alpha"),
        (PrunedMLPClassifierCV, PrunedMLPClassifier, "sparsity"),
    ],
)
def test_cv_estimators_are_composed_not_subclassed(cv_class, single, knob):
    # The single estimator is what each fold fits; the CV estimator has its
    # own parameters, none deleted from a parent's.
    assert not issubclass(cv_class, single)
    assert cv_class._fold_estimator is single
    params = cv_class().get_params()
    assert knob not in params
    assert set(params) == set(inspect.signature(cv_class).parameters)
    shared = set(single().get_params()) - {knob}
    assert shared <= set(params)
