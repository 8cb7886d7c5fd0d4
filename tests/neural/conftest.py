"""Small data sets shared by the tests of the pruned perceptrons."""

import warnings

import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skprune.neural import PrunableMLPClassifier


@pytest.fixture(scope="package")
def three_classes():
    X, y = make_classification(
        n_samples=150, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="package")
def regression_data():
    X, y = make_regression(n_samples=100, n_features=6, noise=5.0, random_state=0)
    return X, y / y.std()


@pytest.fixture(scope="module")
def network(three_classes):
    """A (12, 10) classifier of ``three_classes``, for the layer-wise criteria."""
    X, y = three_classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return PrunableMLPClassifier(
            hidden_layer_sizes=(12, 10), max_iter=150, random_state=0
        ).fit(X, y)
