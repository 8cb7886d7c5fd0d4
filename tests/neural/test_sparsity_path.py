"""Tests of sparsity_path: one dense training, fitted networks along the path."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone

from skprune.neural import (
    PrunableMLPClassifier,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    sparsity_path,
    sparsity_schedule,
)
from skprune.neural._sparsity_path import path_targets, sparsity_grid

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# A network that trains, prunes and fine-tunes in a fraction of a second.
SMALL_PRUNED = dict(
    hidden_layer_sizes=(16,),
    max_iter=15,
    n_pruning_steps=3,
    finetune_iter=3,
    random_state=0,
)


def _assert_same_network(a, b):
    assert len(a.coefs_) == len(b.coefs_)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(wa, wb)
    for ma, mb in zip(a.masks_, b.masks_):
        assert_array_equal(ma, mb)


def test_grid_from_int_is_geometric_in_density():
    grid = sparsity_grid(6)
    assert grid[0] == 0.0
    assert grid[-1] == pytest.approx(0.98)
    ratios = (1 - grid[1:]) / (1 - grid[:-1])
    assert np.allclose(ratios, ratios[0])


def test_path_targets_insert_requested_sparsities():
    est = PrunedMLPClassifier(schedule="gradual", n_pruning_steps=4)
    grid = np.array([0.0, 0.3, 0.9])
    targets = path_targets(est, grid)
    expected = np.union1d(sparsity_schedule("gradual", 0.9, 4), [0.3])
    assert_array_equal(targets, expected)


@pytest.mark.parametrize("Estimator, data", [
    (PrunedMLPClassifier, "three_classes"),
    (PrunedMLPRegressor, "regression_data"),
])
def test_oneshot_path_equals_iterative_fits(Estimator, data, request):
    # With the one-shot schedule the path prunes straight from one requested
    # sparsity to the next. Two steps with equal pruned fractions are the
    # iterative schedule with two steps, so every point of the path is a
    # network that an ordinary fit produces.
    X, y = request.getfixturevalue(data)
    final = 0.84
    first = 1.0 - np.sqrt(1.0 - final)
    est = Estimator(**SMALL_PRUNED, schedule="oneshot")
    path = sparsity_path(est, X, y, [0.0, first, final])

    dense = Estimator(**SMALL_PRUNED, sparsity=0.0).fit(X, y)
    oneshot = Estimator(**SMALL_PRUNED, schedule="oneshot", sparsity=first).fit(X, y)
    iterative = Estimator(
        **{**SMALL_PRUNED, "n_pruning_steps": 2}, schedule="iterative", sparsity=final
    ).fit(X, y)
    for snapshot, reference in zip(path.estimators, [dense, oneshot, iterative]):
        _assert_same_network(snapshot, reference)
        assert snapshot.sparsity == reference.sparsity
        assert snapshot.sparsity_ == reference.sparsity_
        assert snapshot.n_nonzero_ == reference.n_nonzero_
        assert_array_equal(snapshot.predict(X), reference.predict(X))
    assert_array_equal(path.sparsity_, [e.sparsity_ for e in path.estimators])


@pytest.mark.parametrize("schedule", ["gradual", "iterative"])
def test_last_point_equals_fit_at_largest_sparsity(three_classes, schedule):
    X, y = three_classes
    est = PrunedMLPClassifier(**SMALL_PRUNED, schedule=schedule)
    path = sparsity_path(est, X, y, [0.0, 0.9])
    fitted = clone(est).set_params(sparsity=0.9).fit(X, y)
    _assert_same_network(path.estimators[-1], fitted)
    assert_array_equal(
        path.estimators[-1].pruning_history_["loss"],
        fitted.pruning_history_["loss"],
    )


def test_snapshots_are_fitted_and_end_on_training(three_classes):
    X, y = three_classes
    est = PrunedMLPClassifier(**SMALL_PRUNED, distillation_weight=0.5)
    path = sparsity_path(est, X, y, [0.2, 0.5, 0.8])
    assert_array_equal(path.sparsities, [0.2, 0.5, 0.8])
    previous = None
    for target, snapshot in zip(path.sparsities, path.estimators):
        assert snapshot.sparsity == target
        assert snapshot.sparsity_ == pytest.approx(target, abs=1 / 128)
        history = snapshot.pruning_history_
        assert history["target_sparsity"][-1] == target
        assert history["n_iter"][-1] > 0
        assert not hasattr(snapshot, "_teacher") or snapshot._teacher is None
        if previous is not None:
            # Masks only shrink along the path.
            for old, new in zip(previous.masks_, snapshot.masks_):
                assert not np.any(new & ~old)
        previous = snapshot
    assert path.n_nonzero.tolist() == [e.n_nonzero_ for e in path.estimators]
    assert np.all(np.diff(path.n_nonzero) < 0)


def test_neuron_snapshots_are_shrunk_and_path_goes_on(three_classes):
    X, y = three_classes
    est = PrunedMLPClassifier(**SMALL_PRUNED, pattern="neuron")
    path = sparsity_path(est, X, y, [0.25, 0.5])
    widths = [snapshot.n_units_[1] for snapshot in path.estimators]
    assert widths == [12, 8]
    for snapshot in path.estimators:
        assert snapshot.coefs_[0].shape[1] == snapshot.n_units_[1]


def test_estimator_is_not_changed(three_classes):
    X, y = three_classes
    est = PrunedMLPClassifier(**SMALL_PRUNED)
    params = est.get_params()
    sparsity_path(est, X, y, [0.0, 0.5])
    assert est.get_params() == params
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize(
    "sparsities, error, match",
    [
        ([0.5, 1.0], ValueError, r"\[0, 1\)"),
        ([-0.1], ValueError, r"\[0, 1\)"),
        ([[0.1, 0.2]], ValueError, "one-dimensional"),
        (1, ValueError, ">= 2"),
        (["a"], TypeError, "sparsities"),
    ],
)
def test_invalid_sparsities(three_classes, sparsities, error, match):
    X, y = three_classes
    with pytest.raises(error, match=match):
        sparsity_path(PrunedMLPClassifier(**SMALL_PRUNED), X, y, sparsities)


def test_invalid_estimator_and_settings(three_classes):
    X, y = three_classes
    with pytest.raises(TypeError, match="PrunedMLPClassifier"):
        sparsity_path(PrunableMLPClassifier(), X, y, [0.5])
    with pytest.raises(ValueError, match="n:m"):
        sparsity_path(PrunedMLPClassifier(**SMALL_PRUNED, pattern="n:m"), X, y, [0.5])
    with pytest.raises(ValueError, match="initial_sparsity"):
        sparsity_path(
            PrunedMLPClassifier(**SMALL_PRUNED, initial_sparsity=0.6), X, y, [0.5]
        )
    with pytest.raises(ValueError, match="finetune_iter"):
        sparsity_path(
            PrunedMLPClassifier(**SMALL_PRUNED | {"finetune_iter": 0}), X, y, [0.5]
        )


@pytest.mark.parametrize("criterion", ["magnitude", "obc"])
def test_path_from_dense_equals_separate_oneshot_fits(three_classes, criterion):
    X, y = three_classes
    params = {**SMALL_PRUNED, "hidden_layer_sizes": (16, 8), "criterion": criterion}
    grid = [0.0, 0.5, 0.8, 0.9]
    path = sparsity_path(
        PrunedMLPClassifier(**params, schedule="gradual"), X, y, grid, from_dense=True
    )
    for sparsity, snapshot in zip(grid, path.estimators):
        reference = PrunedMLPClassifier(
            **params, schedule="oneshot", sparsity=sparsity
        ).fit(X, y)
        # One prune of the dense network per point, whatever the schedule.
        assert_array_equal(
            snapshot.pruning_history_["step"], reference.pruning_history_["step"]
        )
        for a, b in zip(
            snapshot.coefs_ + snapshot.intercepts_ + snapshot.masks_,
            reference.coefs_ + reference.intercepts_ + reference.masks_,
        ):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        assert snapshot.sparsity_ == reference.sparsity_


def test_path_from_dense_traces_obc_once(three_classes, monkeypatch):
    from skprune.neural import _layerwise

    calls = []
    traced = _layerwise.obc_traces
    monkeypatch.setattr(
        _layerwise, "obc_traces", lambda *args: calls.append(1) or traced(*args)
    )
    X, y = three_classes
    est = PrunedMLPClassifier(**SMALL_PRUNED, criterion="obc")
    sparsity_path(est, X, y, [0.0, 0.3, 0.6, 0.9], from_dense=True)
    # One trace of the one prunable layer for the three sparsities.
    assert len(calls) == 1
    calls.clear()
    sparsity_path(est, X, y, [0.0, 0.3, 0.6, 0.9])
    # The walk traces again at every one of its steps.
    assert len(calls) == len(path_targets(est, np.array([0.0, 0.3, 0.6, 0.9])))


def test_path_from_dense_must_be_a_bool(three_classes):
    X, y = three_classes
    with pytest.raises(TypeError, match="from_dense must be a bool"):
        sparsity_path(PrunedMLPClassifier(**SMALL_PRUNED), X, y, 3, from_dense="yes")
