"""scikit-learn's common estimator checks on the prunable perceptrons."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from skprune.neural import PrunableMLPClassifier, PrunableMLPRegressor

# No expected failures: the perceptrons pass every check with these settings.


def _expected_failures(estimator):
    return {}


@parametrize_with_checks(
    [
        PrunableMLPClassifier(max_iter=100, random_state=0),
        PrunableMLPRegressor(max_iter=100, random_state=0),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# scikit-learn checks its own perceptrons' sample weights with these solvers.
@pytest.mark.parametrize(
    "estimator",
    [
        PrunableMLPClassifier(solver="lbfgs"),
        PrunableMLPRegressor(solver="sgd", tol=1e-2, random_state=42),
    ],
    ids=lambda est: type(est).__name__,
)
def test_sample_weight_equivalence(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(
            type(estimator).__name__, estimator
        )
