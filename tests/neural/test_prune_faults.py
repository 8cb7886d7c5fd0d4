"""``prune`` is all-or-nothing, and OBS copes with empty masks and bad conditioning."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
)

from skprune.neural import (
    OBSCriterion,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    PruningCriterion,
)
from skprune.neural._criteria import MagnitudeCriterion

X, Y = make_classification(60, 4, random_state=0)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _state(network):
    optimizer = getattr(network, "_optimizer", None)
    states = [] if optimizer is None else optimizer.state_arrays()
    return (
        [p.copy() for p in network._parameters()],
        [m.copy() for m in network._parameter_masks()],
        [[a.copy() for a in state] for state in states],
        [s.copy() for s in network._movement_scores],
    )


def _assert_same_state(before, after):
    for old, new in zip(before, after):
        for a, b in zip(old, new):
            if isinstance(a, list):
                for x, y in zip(a, b):
                    np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_array_equal(a, b)


class FailsOnSecondCall(PruningCriterion):
    """Magnitude scores, then an error on the second sub-step."""

    n_substeps = 3

    def __init__(self):
        self.calls = 0

    def score(self, context):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("criterion failed midway")
        return MagnitudeCriterion().score(context)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_prune_failing_midway_leaves_the_network_as_it_was(solver):
    network = PrunableMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=20, random_state=0, solver=solver
    ).fit(X, Y)
    network.prune(amount=0.2)
    before = _state(network)
    predictions = network.predict_proba(X)
    with pytest.raises(RuntimeError, match="midway"):
        network.prune(X, Y, amount=0.6, criterion=FailsOnSecondCall())
    _assert_same_state(before, _state(network))
    np.testing.assert_array_equal(network.predict_proba(X), predictions)
    # And it trains on as if nothing happened.
    network.set_params(warm_start=True).fit(X, Y)
    assert np.all(network.coefs_[0][~network.masks_[0]] == 0)


def test_obs_removing_the_last_weights_of_a_layer():
    # Once the output layer is fully pruned, the gradients of the first layer
    # are zero; OBS then removes the smallest weights and changes no other.
    Xr = np.random.RandomState(1).randn(40, 6)
    yr = Xr.sum(1)
    failures = 0
    for seed in range(12):
        network = PrunableMLPRegressor(
            hidden_layer_sizes=(3,),
            max_iter=30,
            random_state=seed,
            prunable_layers="all",
        ).fit(Xr, yr)
        network.prune(Xr, yr, amount=0.95, criterion="obs")
        failures += not np.isclose(network.sparsity_, 20 / 21)
    assert failures == 0


@pytest.mark.parametrize("fisher", ["kfac", "empirical"])
def test_obs_on_a_fully_pruned_network_keeps_it_empty(fisher):
    network = PrunableMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=20, random_state=0, prunable_layers="all"
    ).fit(X, Y)
    network.prune(amount=network.coefs_[0].size + network.coefs_[1].size)
    assert network.sparsity_ == 1.0
    criterion = OBSCriterion(fisher=fisher, fisher_block_size=None)
    network.prune(X, Y, amount=0, criterion=criterion)
    assert all(not np.any(c) for c in network.coefs_)


def test_obs_with_zero_gradients_is_magnitude_pruning_without_update():
    # A zero Fisher: every damping gives the same step, the smallest weights go.
    network = PrunableMLPRegressor(
        hidden_layer_sizes=(4,), max_iter=30, random_state=0, prunable_layers="all"
    ).fit(X, X[:, 0])
    network.prune(amount=4, criterion="magnitude")  # silence the output layer...
    network.masks_[1][:] = False
    network.coefs_[1][:] = 0
    kept = network.coefs_[0].copy()
    network.prune(X, X[:, 0], amount=10, criterion=OBSCriterion(fisher="kfac"))
    order = np.argsort(np.abs(kept), axis=None, kind="stable")
    alive_before = kept.ravel()[order] != 0
    expected = kept.copy().ravel()
    expected[order[alive_before][:10]] = 0
    np.testing.assert_array_equal(network.coefs_[0].ravel(), expected)


@pytest.mark.parametrize("n_substeps", [1, 3])
def test_obs_tiny_absolute_damping_on_badly_scaled_data(n_substeps):
    # Absolute damping of 1e-12 on 1e6-scale data: F + lambda I is nearly
    # singular, and the surgeon step multiplied the largest weight by up to
    # 2e3 before the damping was raised for steps that explode.
    growth = []
    for seed in range(40):
        Xb, yb = make_classification(60, 4, random_state=seed)
        Xb = Xb * 1e6
        network = PrunableMLPClassifier(
            hidden_layer_sizes=(8,), max_iter=20, random_state=seed
        ).fit(Xb, yb)
        largest = max(np.abs(c).max() for c in network.coefs_)
        criterion = OBSCriterion(
            damp_mode="absolute",
            damp=1e-12,
            fisher="empirical",
            fisher_block_size=None,
            n_substeps=n_substeps,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The Optimal Brain Surgeon step")
            network.prune(Xb, yb, amount=0.9, criterion=criterion)
        growth.append(max(np.abs(c).max() for c in network.coefs_) / largest)
    assert np.all(np.isfinite(growth))
    # The bound holds per step: at most 10 times per sub-step.
    assert max(growth) <= 10.0**n_substeps * (1 + 1e-12)


def test_obs_exploding_step_warns_naming_damp():
    Xb, yb = make_classification(60, 4, random_state=25)
    Xb = Xb * 1e6
    network = PrunableMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=20, random_state=25
    ).fit(Xb, yb)
    criterion = OBSCriterion(
        damp_mode="absolute", damp=1e-12, fisher="empirical",
        fisher_block_size=None, n_substeps=1,
    )
    with pytest.warns(UserWarning, match="damp=1e-12"):
        network.prune(Xb, yb, amount=0.9, criterion=criterion)


@pytest.mark.parametrize("fisher", ["kfac", "empirical"])
def test_obs_integer_sample_weights_equal_repeated_samples(fisher):
    network = PrunableMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=30, random_state=0
    ).fit(X, Y)
    weights = np.random.RandomState(0).randint(0, 4, size=X.shape[0])
    criterion = OBSCriterion(fisher=fisher, fisher_block_size=None, num_grads=1000)
    weighted, repeated, unweighted = (copy.deepcopy(network) for _ in range(3))
    weighted.prune(X, Y, amount=0.5, criterion=criterion, sample_weight=weights)
    repeated.prune(
        np.repeat(X, weights, axis=0), np.repeat(Y, weights), amount=0.5,
        criterion=criterion,
    )
    unweighted.prune(X, Y, amount=0.5, criterion=criterion)
    np.testing.assert_allclose(weighted.coefs_[0], repeated.coefs_[0], atol=1e-10)
    np.testing.assert_array_equal(weighted.masks_[0], repeated.masks_[0])
    assert not np.allclose(weighted.coefs_[0], unweighted.coefs_[0])


def test_obs_sub_steps_that_remove_nothing_are_skipped():
    class CountingOBS(OBSCriterion):
        calls = 0

        def score(self, context):
            type(self).calls += 1
            return super().score(context)

    network = PrunableMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=20, random_state=0
    ).fit(X, Y)
    network.prune(X, Y, amount=2, criterion=CountingOBS(n_substeps=5))
    assert CountingOBS.calls == 2
    assert network.masks_[0].size - network.masks_[0].sum() == 2


@pytest.mark.parametrize(
    "estimator",
    [
        PrunedMLPClassifier(criterion="obs"),
        PrunedMLPClassifier(
            criterion=OBSCriterion(fisher="empirical", fisher_block_size=None)
        ),
        PrunedMLPRegressor(criterion="obs"),
    ],
    ids=lambda est: type(est).__name__,
)
def test_sample_weight_equivalence_with_obs(estimator):
    estimator.set_params(
        solver="lbfgs", sparsity=0.5, n_pruning_steps=2, finetune_iter=5,
        max_iter=50, random_state=0,
    )
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
