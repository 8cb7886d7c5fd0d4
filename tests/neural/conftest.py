"""Small data sets shared by the tests of the pruned perceptrons."""

import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler


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
