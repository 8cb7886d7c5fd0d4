"""Properties that hold for any input, checked with hypothesis on small cases.

Each property is compared with an independent reference: the masks
themselves, the rounding rule of ``amount``, scikit-learn refitted with
``ccp_alpha``, and a dense numpy forward pass.
"""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skprune.neural import (
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
)
from skprune.neural._base import ACTIVATIONS
from skprune.neural._multilayer_perceptron import forward_pass
from skprune.tree import PrunedTreeClassifier, PrunedTreeRegressor

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Few examples and no deadline: the machine is shared and CI must stay fast.
BOUNDED = settings(max_examples=12, deadline=None, derandomize=True)

seeds = st.integers(0, 2**16)
fractions = st.floats(0.0, 0.95, allow_nan=False)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _problem(seed, n_samples=40, n_features=5, classification=True):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    y = X @ rng.randn(n_features) + 0.1 * rng.randn(n_samples)
    if classification:
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return X, y


@BOUNDED
@given(
    seed=seeds,
    solver=st.sampled_from(["adam", "sgd", "lbfgs"]),
    amounts=st.lists(fractions, min_size=1, max_size=3),
    criterion=st.sampled_from(["magnitude", "taylor", "movement", "obd"]),
    pattern=st.sampled_from(["unstructured", "neuron"]),
)
def test_pruned_weights_stay_zero_and_masks_only_shrink(
    seed, solver, amounts, criterion, pattern
):
    X, y = _problem(seed)
    network = PrunableMLPClassifier(
        hidden_layer_sizes=(6, 4), solver=solver, max_iter=5, random_state=seed,
        warm_start=True, prunable_layers="all",
    ).fit(X, y)
    masks = [m.copy() for m in network.masks_]
    for amount in amounts:
        network.prune(X, y, amount=amount, criterion=criterion, pattern=pattern)
        for old, new in zip(masks, network.masks_):
            assert not np.any(new & ~old)  # nothing comes back
        masks = [m.copy() for m in network.masks_]
        network.fit(X, y)
        if solver != "lbfgs":
            network.partial_fit(X, y)
        for coef, mask in zip(network.coefs_, network.masks_):
            assert np.all(coef[~mask] == 0)
        for intercept, mask in zip(network.intercepts_, network.intercept_masks_):
            assert np.all(intercept[~mask] == 0)
        np.testing.assert_array_equal(
            np.concatenate([m.ravel() for m in masks]),
            np.concatenate([m.ravel() for m in network.masks_]),
        )


@BOUNDED
@given(seed=seeds, amounts=st.lists(fractions, min_size=1, max_size=3))
def test_amount_removes_the_documented_count(seed, amounts):
    # A float amount is a fraction of the remaining weights, rounded half up.
    X, y = _problem(seed, classification=False)
    network = PrunableMLPRegressor(
        hidden_layer_sizes=(7,), max_iter=3, random_state=seed
    ).fit(X, y)
    for amount in amounts:
        alive = int(network.masks_[0].sum())
        network.prune(amount=amount)
        removed = alive - int(network.masks_[0].sum())
        assert removed == int(np.floor(amount * alive + 0.5))


@BOUNDED
@given(
    seed=seeds,
    sparsity=st.floats(0.05, 0.95),
    schedule=st.sampled_from(["oneshot", "iterative", "gradual"]),
    regression=st.booleans(),
)
def test_fitted_sparsity_is_the_request_within_one_weight(
    seed, sparsity, schedule, regression
):
    X, y = _problem(seed, classification=not regression)
    cls = PrunedMLPRegressor if regression else PrunedMLPClassifier
    network = cls(
        hidden_layer_sizes=(9,), max_iter=5, finetune_iter=1, n_pruning_steps=2,
        sparsity=sparsity, schedule=schedule, random_state=seed,
    ).fit(X, y)
    n_total = network.masks_[0].size
    n_pruned = n_total - int(network.masks_[0].sum())
    assert abs(n_pruned - sparsity * n_total) <= 1


@BOUNDED
@given(
    seed=seeds,
    alpha=st.floats(0.0, 0.2, allow_nan=False),
    regression=st.booleans(),
)
def test_tree_prune_equals_scikit_learn_refitted_with_ccp_alpha(
    seed, alpha, regression
):
    X, y = _problem(seed, n_samples=60, classification=not regression)
    if regression:
        y = y / np.abs(y).max()
    ours, reference = (
        (PrunedTreeRegressor, DecisionTreeRegressor)
        if regression
        else (PrunedTreeClassifier, DecisionTreeClassifier)
    )
    pruned = ours(random_state=0).fit(X, y).prune(alpha)
    refitted = reference(ccp_alpha=alpha, random_state=0).fit(X, y)
    assert pruned.get_n_leaves() == refitted.get_n_leaves()
    np.testing.assert_array_equal(pruned.apply(X), refitted.apply(X))
    np.testing.assert_allclose(pruned.predict(X), refitted.predict(X))


@BOUNDED
@given(
    seed=seeds,
    sparsity=st.floats(0.0, 0.95),
    density=st.floats(0.05, 1.0),
    activation=st.sampled_from(["relu", "tanh", "logistic", "identity"]),
)
def test_sparse_input_predicts_as_dense_and_as_a_numpy_forward_pass(
    seed, sparsity, density, activation
):
    X, y = _problem(seed)
    rng = np.random.RandomState(seed)
    X = X * (rng.rand(*X.shape) < density)
    network = PrunedMLPClassifier(
        hidden_layer_sizes=(8, 5), activation=activation, max_iter=5,
        finetune_iter=1, n_pruning_steps=1, sparsity=sparsity, random_state=seed,
    ).fit(X, y)
    dense = network.predict_proba(X)
    np.testing.assert_allclose(network.predict_proba(sparse.csr_matrix(X)), dense)
    z = forward_pass(X, network.coefs_, network.intercepts_, activation)
    expected = ACTIVATIONS[network.out_activation_](z)
    np.testing.assert_allclose(dense, expected, rtol=1e-10, atol=1e-12)
