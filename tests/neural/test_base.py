import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import log_loss, mean_poisson_deviance, mean_squared_error

from skprune.neural._base import ACTIVATIONS, DERIVATIVES, LOSSES

RNG = np.random.RandomState(0)
Z = RNG.normal(size=(7, 4)) * 3

REFERENCE_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "exp": np.exp,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_ACTIVATIONS))
def test_activation_matches_formula_in_place(name):
    z = Z.copy()
    ACTIVATIONS[name](z)
    assert_allclose(z, REFERENCE_ACTIVATIONS[name](Z), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_derivative_matches_finite_differences(name):
    step = 1e-6
    forward = REFERENCE_ACTIVATIONS[name]
    expected = (forward(Z + step) - forward(Z - step)) / (2 * step)
    delta = np.ones_like(Z)
    DERIVATIVES[name](forward(Z), delta)
    assert_allclose(delta, expected, rtol=1e-6, atol=1e-8)


def test_squared_error_is_half_the_mean_squared_error():
    y, p = RNG.normal(size=(20, 3)), RNG.normal(size=(20, 3))
    w = RNG.uniform(size=20)
    assert_allclose(LOSSES["squared_error"](y, p), 0.5 * mean_squared_error(y, p))
    assert_allclose(
        LOSSES["squared_error"](y, p, w),
        0.5 * mean_squared_error(y, p, sample_weight=w),
    )


def test_poisson_is_half_the_deviance():
    y, p = RNG.poisson(2, size=(30, 1)).astype(float), RNG.uniform(0.5, 3, (30, 1))
    w = RNG.uniform(size=30)
    assert_allclose(
        LOSSES["poisson"](y, p, w), 0.5 * mean_poisson_deviance(y, p, sample_weight=w)
    )


def test_categorical_log_loss_matches_sklearn_for_hard_and_soft_labels():
    p = REFERENCE_ACTIVATIONS["softmax"](RNG.normal(size=(25, 4)))
    labels = RNG.randint(4, size=25)
    onehot = np.eye(4, dtype=bool)[labels]
    w = RNG.uniform(size=25)
    expected = log_loss(labels, p, sample_weight=w, labels=range(4))
    assert_allclose(LOSSES["log_loss"](onehot, p, w), expected)
    assert_allclose(LOSSES["log_loss"](onehot.astype(float), p, w), expected)


def test_binary_log_loss_sums_over_outputs():
    p = RNG.uniform(0.05, 0.95, size=(25, 3))
    y = RNG.uniform(size=(25, 3)) > 0.5
    expected = sum(log_loss(y[:, j], p[:, j], labels=[0, 1]) for j in range(3))
    assert_allclose(LOSSES["binary_log_loss"](y, p), expected)
    assert_allclose(LOSSES["binary_log_loss"](y.astype(float), p), expected)
