"""Layer-wise criteria: Wanda, exact layer-wise OBS and the least-squares re-fit."""

import copy
import itertools
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch

from skprune.neural import (
    ADMMCriterion,
    LayerwiseRefit,
    OBCCriterion,
    OBSCriterion,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    SparseGPTCriterion,
    WandaCriterion,
)
from skprune.neural._base import ACTIVATIONS
from skprune.neural._criteria import PruningContext
from skprune.neural import _layerwise
from skprune.neural._layerwise import (
    OutputWeights,
    _similar_batches,
    _SpreadSelector,
    _usable_pivots,
    inverse_cholesky_upper,
    obc_traces,
    output_curvature,
    oneshot_path,
    output_sample_weights,
    round_counts,
    refit_kept,
    solve_positive,
    refit_kept_cg,
    refit_layer,
    refit_layer_per_unit,
    sparsegpt_pass,
    sparsegpt_rounds,
)


def forward_inputs(mlp, X):
    """Inputs of every weight matrix, by a plain forward pass."""
    inputs = [X]
    for coef, intercept in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        inputs.append(np.maximum(inputs[-1] @ coef + intercept, 0.0))
    return inputs


def context_of(mlp, X, y, sample_weight=None):
    return PruningContext(
        mlp, X, np.eye(3)[y], sample_weight, mlp._prunable_coef_layers()
    )


def random_problem(seed, n_samples=40, n_inputs=7):
    rng = np.random.RandomState(seed)
    A = np.hstack([rng.normal(size=(n_samples, n_inputs)), np.ones((n_samples, 1))])
    return rng, A


# ----------------------------------------------------------------------------
# Wanda
# ----------------------------------------------------------------------------


def test_wanda_scores_are_weight_times_weighted_input_norm(network, three_classes):
    X, y = three_classes
    mlp = copy.deepcopy(network).prune(amount=0.4, criterion="magnitude")
    weights = np.random.RandomState(0).uniform(0.5, 2.0, X.shape[0])
    scores, _ = WandaCriterion(ranking="global").score(
        context_of(mlp, X, y, weights)
    )
    for coef, layer_input, score in zip(mlp.coefs_, forward_inputs(mlp, X), scores):
        norms = np.sqrt((weights[:, None] * layer_input**2).sum(axis=0))
        np.testing.assert_allclose(score, np.abs(coef) * norms[:, None])


def test_wanda_unit_ranking_prunes_every_unit_by_the_same_fraction(
    network, three_classes
):
    X, y = three_classes
    mlp = copy.deepcopy(network).prune(X, y, amount=0.5, criterion="wanda")
    for mask in mlp.masks_[:-1]:
        kept = mask.sum(axis=0)
        assert kept.max() - kept.min() <= 1
    assert mlp.sparsity_ == pytest.approx(0.5, abs=0.01)


def test_wanda_keeps_within_each_unit_the_highest_scores(network, three_classes):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    scores, _ = WandaCriterion(ranking="global").score(context_of(mlp, X, y))
    mlp.prune(X, y, amount=0.5, criterion="wanda", scope="layer")
    for score, mask in zip(scores[:-1], mlp.masks_[:-1]):
        for unit in range(mask.shape[1]):
            kept, gone = score[mask[:, unit], unit], score[~mask[:, unit], unit]
            assert kept.min() >= gone.max()


# ----------------------------------------------------------------------------
# Exact OBS traces and the kept-weight least squares
# ----------------------------------------------------------------------------


def greedy_obs_reference(H, w, removable):
    """Greedy OBS with the kept block of ``H`` inverted anew at every step."""
    kept = np.ones(w.size, dtype=bool)
    current = w.copy()
    order, losses = [], []
    for _ in range(removable.sum()):
        index = np.flatnonzero(kept)
        inverse = np.linalg.inv(H[np.ix_(index, index)])
        saliency = current[index] ** 2 / np.diagonal(inverse)
        saliency[~removable[index]] = np.inf
        q = int(np.argmin(saliency))
        p = index[q]
        current[index] -= current[p] / inverse[q, q] * inverse[:, q]
        current[p] = 0.0
        kept[p] = False
        order.append(p)
        losses.append(saliency[q])
    return np.array(order), np.array(losses)


def constrained_minimiser(A, w, keep, lam):
    """argmin ||A (v - w)||^2 + lam ||v - w||^2 over v zero outside ``keep``."""
    k = np.flatnonzero(keep)
    design = np.vstack([A[:, k], np.sqrt(lam) * np.eye(k.size)])
    target = np.concatenate([A @ w, np.sqrt(lam) * w[k]])
    v = np.zeros_like(w)
    v[k] = np.linalg.lstsq(design, target, rcond=None)[0]
    return v


@pytest.mark.parametrize("seed, n_inputs", [(0, 7), (1, 7), (2, 90)])
def test_obs_trace_equals_greedy_single_removals_and_their_minimisers(
    seed, n_inputs
):
    # 90 inputs: the downdates are folded and the inverses compacted.
    rng, A = random_problem(seed, n_samples=120, n_inputs=n_inputs)
    lam = 0.05
    H = A.T @ A + lam * np.eye(A.shape[1])
    w = rng.normal(size=(A.shape[1], 3))
    removable = np.ones_like(w, dtype=bool)
    removable[-1] = False
    order, losses = obc_traces(
        np.linalg.inv(H), w, removable, np.zeros_like(removable)
    )
    for unit in range(3):
        ref_order, ref_losses = greedy_obs_reference(H, w[:, unit], removable[:, unit])
        np.testing.assert_array_equal(order[unit], ref_order)
        np.testing.assert_allclose(losses[unit], ref_losses, rtol=1e-7)
        # Every prefix: the re-solved kept weights are the constrained
        # minimiser, and their error is the sum of the recorded losses.
        for k in range(1, order.shape[1] + 1):
            keep = np.ones(w.shape[0], dtype=bool)
            keep[order[unit, :k]] = False
            v = refit_kept(H, (H @ w[:, [unit]]), keep[:, None])[:, 0]
            np.testing.assert_allclose(
                v, constrained_minimiser(A, w[:, unit], keep, lam), atol=1e-8
            )
            error = (v - w[:, unit]) @ H @ (v - w[:, unit])
            np.testing.assert_allclose(error, losses[unit, :k].sum(), rtol=1e-7)


def test_obs_trace_removes_already_pruned_weights_first_at_no_cost():
    rng, A = random_problem(0)
    H = A.T @ A + 0.1 * np.eye(A.shape[1])
    w = rng.normal(size=(A.shape[1], 2))
    forced = np.zeros_like(w, dtype=bool)
    forced[[1, 4], 0] = True
    w[forced] = 0.0
    removable = np.ones_like(forced)
    removable[-1] = False
    order, losses = obc_traces(np.linalg.inv(H), w, removable, forced)
    assert set(order[0, :2]) == {1, 4}
    np.testing.assert_array_equal(losses[0, :2], 0.0)
    assert order.shape[1] == A.shape[1] - 1


@pytest.mark.parametrize("n_units, n_threads", [(0, 2), (1, 2), (5, 2), (7, 3)])
@pytest.mark.parametrize("per_unit", [False, True])
def test_obs_traces_in_threads_equal_one_batch(
    monkeypatch, n_units, n_threads, per_unit
):
    # 40 inputs: the downdates are folded and the inverses compacted inside
    # every batch.
    rng, A = random_problem(4, n_samples=80, n_inputs=40)
    d = A.shape[1]
    inverse = np.linalg.inv(A.T @ A + 0.1 * np.eye(d))
    if per_unit:
        scales = rng.uniform(0.1, 2.0, (n_units, 80, 1))
        grams = np.einsum("si,usj->uij", A, A * scales)
        inverse = np.linalg.inv(grams + 0.1 * np.eye(d))
    w = rng.normal(size=(d, n_units))
    removable = np.ones_like(w, dtype=bool)
    removable[-1] = False
    forced = rng.uniform(size=w.shape) < 0.1
    forced[-1] = False
    w[forced] = 0.0

    threads = set()
    trace_batch = _layerwise._trace_batch
    # In the threaded run, the first two batches wait for each other: they
    # must run at once, in two threads, however the machine schedules them
    # (a pool whose only worker were free again could otherwise take both).
    meeting = {"barrier": None, "calls": itertools.count()}

    def recorded(*args):
        threads.add(threading.get_ident())
        if meeting["barrier"] is not None and next(meeting["calls"]) < 2:
            meeting["barrier"].wait()
        return trace_batch(*args)

    monkeypatch.setattr(_layerwise, "_trace_batch", recorded)
    monkeypatch.setattr(_layerwise._kernels, "effective_n_threads", lambda: 1)
    expected = obc_traces(inverse, w, removable, forced)
    assert threads <= {threading.get_ident()}

    threads.clear()
    if n_units > 1:
        meeting["barrier"] = threading.Barrier(2, timeout=30)
    monkeypatch.setattr(_layerwise._kernels, "effective_n_threads", lambda: n_threads)
    # Batches of 2 units at most, so that 7 units make 4 batches on 3 threads.
    monkeypatch.setattr(_layerwise, "_TRACE_ENTRIES", 2 * d**2)
    order, losses = obc_traces(inverse, w, removable, forced)
    np.testing.assert_array_equal(order, expected[0])
    np.testing.assert_array_equal(losses, expected[1])
    # Every removable entry (all but the bias) has its step.
    assert order.shape == (n_units, d - 1 if n_units else 0)
    if n_units > 1:
        assert threading.get_ident() not in threads
        assert 1 < len(threads) <= n_threads


def test_kept_weight_refit_equals_lstsq_on_the_kept_columns():
    rng, A = random_problem(3, n_samples=50)
    X = A[:, :-1]
    target = rng.normal(size=(50, 4))
    coef, intercept = rng.normal(size=(7, 4)), rng.normal(size=4)
    keep = rng.uniform(size=(8, 4)) < 0.6
    keep[:, 0] = False  # a fully pruned unit, bias included
    keep[-1, 1] = False  # a unit without its bias
    weights = rng.uniform(0.2, 3.0, 50)
    new_coef, new_intercept = refit_layer(
        X, target, coef, intercept, keep, weights, damp=0.0
    )
    new = np.vstack([new_coef, new_intercept])
    root = np.sqrt(weights)[:, None]
    for unit in range(4):
        k = np.flatnonzero(keep[:, unit])
        expected = np.zeros(8)
        if k.size:
            expected[k] = np.linalg.lstsq(
                root * A[:, k], root[:, 0] * target[:, unit], rcond=None
            )[0]
        np.testing.assert_allclose(new[:, unit], expected, atol=1e-9)


@pytest.mark.parametrize(
    "entries, separate", [(1, 13), (150, 13), (2**16, 13), (150, 6), (150, 1)]
)
def test_kept_weight_refit_of_many_units_equals_direct_solves_of_the_kept_systems(
    monkeypatch, entries, separate
):
    # One unit per batch, batches of several sizes, and one batch, with all
    # kept counts from none to all, batched, partly or all solved one at a
    # time by Cholesky: each unit solves gram[K, K] v = rhs[K] alone.
    monkeypatch.setattr(_layerwise, "_SYSTEM_ENTRIES", entries)
    monkeypatch.setattr(_layerwise, "_SEPARATE_SIZE", separate)
    rng, A = random_problem(5, n_samples=60, n_inputs=11)
    gram = A.T @ A + 0.1 * np.eye(12)
    rhs = rng.normal(size=(12, 75))
    keep = rng.uniform(size=(12, 75)) < np.linspace(0, 1, 75)
    keep[:, 74] = True
    weights = refit_kept(gram, rhs, keep)
    for unit in range(75):
        k = np.flatnonzero(keep[:, unit])
        expected = np.zeros(12)
        if k.size:
            expected[k] = np.linalg.solve(gram[np.ix_(k, k)], rhs[k, unit])
        np.testing.assert_allclose(weights[:, unit], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_right", [None, 3])
def test_positive_solve_equals_lu_and_falls_back_to_it_when_not_positive_definite(
    n_right,
):
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(9, 9)))[0]
    right = rng.normal(size=9 if n_right is None else (9, n_right))
    positive = basis @ np.diag(np.linspace(0.1, 5.0, 9)) @ basis.T
    # Symmetric and invertible, with a negative eigenvalue: no Cholesky.
    indefinite = basis @ np.diag(np.linspace(-1.0, 5.0, 9) + 0.05) @ basis.T
    for system in (positive, indefinite):
        solution = solve_positive(system, right)
        assert solution.shape == right.shape
        np.testing.assert_allclose(system @ solution, right, atol=1e-10)
    assert np.linalg.eigvalsh(indefinite).min() < 0


def test_kept_weight_refit_solves_kept_systems_that_are_not_positive_definite(
    monkeypatch,
):
    # A symmetric Gram matrix that is not positive definite: each unit's
    # Cholesky solve falls back to LU and still gives gram[K, K]^-1 rhs[K].
    monkeypatch.setattr(_layerwise, "_SEPARATE_SIZE", 1)
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    gram = basis @ np.diag(np.linspace(-2.0, 3.0, 8) + 0.1) @ basis.T
    rhs = rng.normal(size=(8, 5))
    keep = rng.uniform(size=(8, 5)) < 0.8
    keep[:, 0] = True
    weights = refit_kept(gram, rhs, keep)
    for unit in range(5):
        k = np.flatnonzero(keep[:, unit])
        expected = np.zeros(8)
        expected[k] = np.linalg.solve(gram[np.ix_(k, k)], rhs[k, unit])
        np.testing.assert_allclose(weights[:, unit], expected, rtol=1e-9, atol=1e-10)


def test_similar_batches_cover_the_units_in_order_within_the_entries(monkeypatch):
    monkeypatch.setattr(_layerwise, "_SYSTEM_ENTRIES", 100)
    sizes = np.array([1, 2, 2, 3, 5, 5, 6, 9, 12, 12])
    units = np.arange(10)[::-1]
    batches = list(_similar_batches(units, sizes))
    np.testing.assert_array_equal(np.concatenate(batches), units)
    start = 0
    for batch in batches:
        largest = sizes[start + batch.size - 1]
        assert batch.size == 1 or batch.size * largest**2 <= 100
        if start + batch.size < units.size:
            # One more unit would have gone over.
            assert (batch.size + 1) * sizes[start + batch.size] ** 2 > 100
        start += batch.size
    assert [b.size for b in batches] == [4, 2, 1, 1, 1, 1]


@pytest.mark.parametrize("activation", ["identity", "relu", "tanh", "logistic"])
@pytest.mark.parametrize("density", [0.05, 0.3, 0.6, 1.0])
def test_next_design_equals_a_dense_forward_pass_with_a_column_of_ones(
    activation, density
):
    # Densities on both sides of _SPARSE_FORWARD_DENSITY: the compiled sparse
    # kernels and the BLAS product, each against numpy directly.
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(70, 9))
    coef = rng.normal(size=(9, 5)) * (rng.uniform(size=(9, 5)) < density)
    coef[:, 0] = 0.0  # a unit with no weight left
    intercept = rng.normal(size=5)
    design = _layerwise._design(inputs, np.ones(70))
    result = _layerwise._next_design(design, coef, intercept, activation)
    expected = ACTIVATIONS[activation](inputs @ coef + intercept)
    np.testing.assert_allclose(result[:, :5], expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(result[:, 5], 1.0)


def output_weights_problem(seed, uncertain):
    """Design, weights and curvatures: ``uncertain`` is the share of curvatures kept."""
    rng, A = random_problem(seed, n_samples=80, n_inputs=6)
    sample_weight = rng.uniform(0.5, 2.0, 80)
    curvature = rng.uniform(0.01, 0.25, size=(80, 3))
    curvature[rng.uniform(size=(80, 3)) > np.asarray(uncertain)] = 1e-9
    return rng, A, sample_weight, curvature


@pytest.mark.parametrize("uncertain", [0.2, 0.9, (0.05, 0.9, 0.3)])
def test_output_weights_drop_small_curvatures_and_give_each_unit_its_weighted_gram(
    uncertain,
):
    # The Gram matrices are computed from a shared part when most samples
    # are certain (0.2) and directly otherwise (0.9), or both for different
    # units: all equal the weighted A^T A of every unit, damped relative to
    # its diagonal.
    rng, A, sample_weight, curvature = output_weights_problem(0, uncertain)
    floor = (sample_weight @ curvature) / sample_weight.sum()
    kept = np.where(curvature > 1e-3 * floor, curvature, 0.0)
    expected_weights = sample_weight[:, None] * (kept + floor)

    class Estimator:
        out_activation_ = "logistic"

    prob = 0.5 + 0.5 * np.sqrt(1 - 4 * curvature)  # p (1 - p) = curvature
    logits = np.log(prob / (1 - prob))
    unit_weights = output_sample_weights(Estimator(), logits, sample_weight)
    np.testing.assert_allclose(unit_weights.weights, expected_weights, rtol=1e-8)
    grams = list(unit_weights.damped_grams(A, damp=0.05))
    for unit, (gram, lam) in enumerate(grams):
        direct = (A * expected_weights[:, [unit]]).T @ A
        expected_lam = 0.05 * np.mean(np.diag(direct))
        assert lam == pytest.approx(expected_lam, rel=1e-8)
        np.testing.assert_allclose(
            gram, direct + expected_lam * np.eye(A.shape[1]), rtol=1e-8, atol=1e-10
        )


def test_per_unit_refit_equals_weighted_lstsq_of_each_unit():
    rng, A, sample_weight, curvature = output_weights_problem(1, 0.3)
    floor = np.array([0.05, 0.1, 0.2])
    unit_weights = OutputWeights(sample_weight, floor, curvature)
    target = rng.normal(size=(80, 3))
    coef, intercept = rng.normal(size=(6, 3)), rng.normal(size=3)
    keep = rng.uniform(size=(7, 3)) < 0.7
    new_coef, new_intercept = refit_layer_per_unit(
        A[:, :-1], target, coef, intercept, keep, unit_weights, damp=0.0
    )
    new = np.vstack([new_coef, new_intercept])
    w = sample_weight[:, None] * floor + curvature
    for unit in range(3):
        k = np.flatnonzero(keep[:, unit])
        root = np.sqrt(w[:, unit])
        expected = np.zeros(7)
        expected[k] = np.linalg.lstsq(
            root[:, None] * A[:, k], root * target[:, unit], rcond=None
        )[0]
        np.testing.assert_allclose(new[:, unit], expected, rtol=1e-6, atol=1e-8)


def test_refit_damping_pulls_towards_the_weights_relative_to_the_gram_diagonal():
    rng, A = random_problem(4)
    X = A[:, :-1]
    X[:, 2] = 0.0  # an input that is always zero
    target = rng.normal(size=(40, 2))
    coef, intercept = rng.normal(size=(7, 2)), rng.normal(size=2)
    keep = np.ones((8, 2), dtype=bool)
    damp = 0.3
    new_coef, new_intercept = refit_layer(
        X, target, coef, intercept, keep, np.ones(40), damp
    )
    lam = damp * np.mean(np.sum(A**2, axis=0))
    anchor = np.vstack([coef, intercept])
    design = np.vstack([A, np.sqrt(lam) * np.eye(8)])
    expected = np.linalg.lstsq(
        design, np.vstack([target, np.sqrt(lam) * anchor]), rcond=None
    )[0]
    np.testing.assert_allclose(np.vstack([new_coef, new_intercept]), expected)
    # The weight of the all-zero input is not moved.
    np.testing.assert_allclose(new_coef[2], coef[2])


# ----------------------------------------------------------------------------
# The criteria on networks
# ----------------------------------------------------------------------------


def test_refit_is_layer_by_layer_on_pruned_inputs_to_the_dense_outputs(
    network, three_classes
):
    X, y = three_classes
    dense = network
    mlp = copy.deepcopy(network).prune(
        X,
        y,
        amount=0.6,
        criterion=LayerwiseRefit("magnitude", damp=0.0, num_samples=None),
    )
    magnitude = copy.deepcopy(network).prune(amount=0.6, criterion="magnitude")
    for i in range(3):
        np.testing.assert_array_equal(mlp.masks_[i], magnitude.masks_[i])
    pruned_input = X
    dense_input = X
    # The output layer is not prunable but its inputs changed: it is
    # re-fitted too, keeping all its weights.
    for i in range(3):
        dense_output = dense_input @ dense.coefs_[i] + dense.intercepts_[i]
        design = np.hstack([pruned_input, np.ones((X.shape[0], 1))])
        for unit in range(mlp.coefs_[i].shape[1]):
            k = np.flatnonzero(np.append(mlp.masks_[i][:, unit], True))
            expected = np.linalg.lstsq(
                design[:, k], dense_output[:, unit], rcond=None
            )[0]
            got = np.append(mlp.coefs_[i][:, unit], mlp.intercepts_[i][unit])[k]
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
        pruned_output = pruned_input @ mlp.coefs_[i] + mlp.intercepts_[i]
        pruned_input = np.maximum(pruned_output, 0)
        dense_input = np.maximum(dense_output, 0)
    assert mlp.masks_[2].all()


def test_obc_weights_of_the_first_layer_are_the_sequential_obs_result(
    network, three_classes
):
    X, y = three_classes
    criterion = OBCCriterion(damp=0.05, num_samples=None)
    mlp = copy.deepcopy(network)
    order, losses = criterion.layer_trace(context_of(mlp, X, y), 0)
    mlp.prune(X, y, amount=0.5, criterion=criterion, scope="layer")
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    H = A.T @ A
    H += 0.05 * np.mean(np.diagonal(H)) * np.eye(A.shape[1])
    w = np.vstack([network.coefs_[0], network.intercepts_[0]])
    for unit in range(w.shape[1]):
        n_removed = np.count_nonzero(~mlp.masks_[0][:, unit])
        # The kept weights are those left after a prefix of the removal order.
        assert set(order[unit, :n_removed]) == set(
            np.flatnonzero(~mlp.masks_[0][:, unit])
        )
        ref_order, _ = greedy_obs_reference(H, w[:, unit], np.arange(9) < 8)
        np.testing.assert_array_equal(order[unit], ref_order)
        keep = np.append(mlp.masks_[0][:, unit], True)
        lam = 0.05 * np.mean(np.sum(A**2, axis=0))
        expected = constrained_minimiser(A, w[:, unit], keep, lam)
        got = np.append(mlp.coefs_[0][:, unit], mlp.intercepts_[0][unit])
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "criterion",
    [
        WandaCriterion(),
        WandaCriterion(ranking="global"),
        OBCCriterion(num_samples=None),
        LayerwiseRefit("wanda", num_samples=None),
        SparseGPTCriterion(num_samples=None),
        ADMMCriterion(num_samples=None),
        OBSCriterion(num_grads=1000),
        OBSCriterion(num_grads=1000, fisher="empirical", fisher_block_size=8),
        "obd",
        "taylor",
    ],
    ids=[
        "wanda",
        "wanda-global",
        "obc",
        "wanda-refit",
        "sparsegpt",
        "admm",
        "obs",
        "obs-empirical",
        "obd",
        "taylor",
    ],
)
def test_integer_sample_weights_equal_repeated_samples(
    network, three_classes, criterion
):
    # Every criterion that reads data weights its samples.
    def fresh():
        return clone(criterion) if hasattr(criterion, "get_params") else criterion

    X, y = three_classes
    weights = np.random.RandomState(0).randint(0, 3, X.shape[0])
    weighted = copy.deepcopy(network).prune(
        X, y, amount=0.7, criterion=fresh(), sample_weight=weights
    )
    repeated = copy.deepcopy(network).prune(
        np.repeat(X, weights, axis=0),
        np.repeat(y, weights),
        amount=0.7,
        criterion=fresh(),
    )
    for a, b in zip(
        weighted.coefs_ + weighted.intercepts_, repeated.coefs_ + repeated.intercepts_
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("criterion", ["wanda", "obc", LayerwiseRefit("obs")])
@pytest.mark.parametrize(
    "pattern, amount",
    [("unstructured", 0.8), ("block", 0.5), ("neuron", 0.4), ("n:m", None)],
)
def test_every_pattern_reaches_its_sparsity_and_zeroes_pruned_weights(
    network, three_classes, criterion, pattern, amount
):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    old_masks = [m.copy() for m in mlp.masks_]
    mlp.prune(
        X, y, amount=amount, criterion=criterion, pattern=pattern, block_shape=(2, 2)
    )
    reference = copy.deepcopy(network).prune(
        amount=amount, criterion="magnitude", pattern=pattern, block_shape=(2, 2)
    )
    if pattern == "neuron":
        n_units = [sum(m.sum() for m in e.intercept_masks_) for e in (mlp, reference)]
        assert n_units[0] == n_units[1]
    else:
        assert mlp.sparsity_ == pytest.approx(reference.sparsity_)
    for coef, mask, old in zip(mlp.coefs_, mlp.masks_, old_masks):
        assert not np.any(mask & ~old)
        assert np.all(coef[~mask] == 0)
    assert np.all(np.isfinite(mlp.predict_proba(X)))


def test_refit_recovers_most_of_the_dense_accuracy(network, three_classes):
    X, y = three_classes
    plain = copy.deepcopy(network).prune(amount=0.8, criterion="magnitude")
    refit = copy.deepcopy(network).prune(
        X, y, amount=0.8, criterion="magnitude", reconstruct=True
    )
    dense = network.predict_proba(X)
    error = [np.abs(m.predict_proba(X) - dense).mean() for m in (plain, refit)]
    assert error[1] < error[0]


def test_pruned_classifier_clones_and_uses_the_layerwise_criteria(three_classes):
    X, y = three_classes
    criterion = LayerwiseRefit(OBCCriterion(damp=0.1), num_samples=64)
    est = PrunedMLPClassifier(
        (8,), max_iter=20, finetune_iter=2, n_pruning_steps=2, sparsity=0.5,
        criterion=criterion, random_state=0,
    )
    cloned = clone(est)
    assert cloned.criterion is not criterion
    assert cloned.criterion.get_params()["criterion"].damp == 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cloned.fit(X, y)
    assert cloned.sparsity_ == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    "criterion, message",
    [
        (WandaCriterion(ranking="layer"), "'ranking' parameter of WandaCriterion"),
        (WandaCriterion(num_samples=0), "'num_samples' parameter of WandaCriterion"),
        (OBCCriterion(damp=-1.0), "'damp' parameter of OBCCriterion"),
        (OBCCriterion(damp=np.inf), "'damp' parameter of OBCCriterion"),
        (OBCCriterion(num_samples=2.5), "'num_samples' parameter of OBCCriterion"),
        (
            OBCCriterion(output_hessian="fisher"),
            "'output_hessian' parameter of OBCCriterion",
        ),
        (
            SparseGPTCriterion(output_hessian=None),
            "'output_hessian' parameter of SparseGPTCriterion",
        ),
        (
            LayerwiseRefit(output_hessian="exact"),
            "'output_hessian' parameter of LayerwiseRefit",
        ),
        (LayerwiseRefit(damp="high"), "'damp' parameter of LayerwiseRefit"),
        (LayerwiseRefit(criterion=3), "'criterion' parameter of LayerwiseRefit"),
        (
            LayerwiseRefit(OBCCriterion(damp=-1.0)),
            "'damp' parameter of OBCCriterion",
        ),
        (LayerwiseRefit("nonexistent"), "Unknown criterion 'nonexistent'"),
        (SparseGPTCriterion(block_size=0), "'block_size' parameter of SparseGPT"),
        (SparseGPTCriterion(damp=np.nan), "'damp' parameter of SparseGPTCriterion"),
        (SparseGPTCriterion(n_rounds=0), "'n_rounds' parameter of SparseGPTCriterion"),
        (
            SparseGPTCriterion(refit_iter=-1),
            "'refit_iter' parameter of SparseGPTCriterion",
        ),
        (ADMMCriterion(rho=0.0), "'rho' parameter of ADMMCriterion"),
        (ADMMCriterion(rho_growth=1.0), "'rho_growth' parameter of ADMMCriterion"),
        (ADMMCriterion(max_iter=0), "'max_iter' parameter of ADMMCriterion"),
        (ADMMCriterion(damp=-1.0), "'damp' parameter of ADMMCriterion"),
        (ADMMCriterion(num_samples=0), "'num_samples' parameter of ADMMCriterion"),
        (
            ADMMCriterion(output_hessian="exact"),
            "'output_hessian' parameter of ADMMCriterion",
        ),
    ],
)
def test_bad_parameters_raise_before_the_masks_change(
    network, three_classes, criterion, message
):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    with pytest.raises(ValueError, match=message):
        mlp.prune(X, y, amount=0.5, criterion=criterion)
    for mask in mlp.masks_:
        assert mask.all()


def test_bad_criterion_parameters_raise_before_the_dense_training(
    three_classes, monkeypatch
):
    from skprune.neural._pruning_run import PruningRun

    def fail(run):
        raise AssertionError("the dense network was trained")

    monkeypatch.setattr(PruningRun, "train_dense", fail)
    X, y = three_classes
    for criterion in [OBCCriterion(damp=-1.0), LayerwiseRefit(WandaCriterion("x"))]:
        estimator = PrunedMLPClassifier((8,), sparsity=0.5, criterion=criterion)
        with pytest.raises(ValueError, match="parameter of"):
            estimator.fit(X, y)
        assert not hasattr(estimator, "coefs_")


@pytest.mark.parametrize(
    "criterion",
    [
        WandaCriterion(),
        OBCCriterion(),
        SparseGPTCriterion(),
        ADMMCriterion(),
        LayerwiseRefit(),
    ],
    ids=lambda criterion: type(criterion).__name__,
)
def test_criteria_declare_a_constraint_for_every_parameter(criterion):
    assert set(criterion._parameter_constraints) == set(
        criterion.get_params(deep=False)
    )


@pytest.mark.parametrize(
    "criterion", ["wanda", "obc", "sparsegpt", "admm", LayerwiseRefit()]
)
def test_layerwise_criteria_need_data(network, criterion):
    with pytest.raises(ValueError, match="needs data"):
        copy.deepcopy(network).prune(amount=0.5, criterion=criterion)


def test_oneshot_path_from_one_trace_equals_separate_prunes(network, three_classes):
    X, y = three_classes
    criterion = OBCCriterion(num_samples=None)
    path = oneshot_path(network, X, y, [0.3, 0.6, 0.9], criterion=criterion)
    for sparsity, pruned in zip(path.sparsities, path.estimators):
        separate = copy.deepcopy(network).prune(
            X, y, amount=float(sparsity), criterion=criterion
        )
        for a, b in zip(pruned.masks_, separate.masks_):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(
            pruned.coefs_ + pruned.intercepts_, separate.coefs_ + separate.intercepts_
        ):
            np.testing.assert_allclose(a, b)
    assert all(m.all() for m in network.masks_)
    masks, coefs, _ = criterion.trace(network, X, y).masks_and_weights(0.6)
    middle = path.estimators[1]
    for a, b in zip(masks + coefs, middle.masks_ + middle.coefs_):
        np.testing.assert_array_equal(a, b)


def test_path_levels_share_the_system_of_the_first_refitted_layer(
    network, three_classes
):
    # With only the middle layer pruned, the re-fit starts there, on the
    # dense first layer's outputs: every level reuses that layer's system.
    X, y = three_classes
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=X.shape[0])
    mlp = copy.deepcopy(network).set_params(prunable_layers=[1])
    criterion = OBCCriterion(damp=0.02, num_samples=None)
    trace = criterion.trace(mlp, X, y, sample_weight=weights)
    for sparsity in (0.4, 0.8):
        pruned = trace.pruned(sparsity)
        separate = copy.deepcopy(mlp).prune(
            X, y, amount=sparsity, criterion=criterion, sample_weight=weights
        )
        for a, b in zip(pruned.masks_, separate.masks_):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(
            pruned.coefs_ + pruned.intercepts_,
            separate.coefs_ + separate.intercepts_,
        ):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    (system,) = [
        value
        for key, value in trace._shared.items()
        if key[0] == "layerwise_first_system"
    ]
    # The cached system is the one of the dense inputs, left unchanged by
    # the levels that used it.
    hidden = forward_inputs(network, X)[1]
    A = np.hstack([hidden, np.ones((X.shape[0], 1))]) * np.sqrt(weights)[:, None]
    gram = A.T @ A
    lam = 0.02 * np.mean(np.diag(gram))
    dense_out = hidden @ network.coefs_[1] + network.intercepts_[1]
    np.testing.assert_allclose(system[0], gram + lam * np.eye(A.shape[1]))
    assert system[1] == pytest.approx(lam)
    np.testing.assert_allclose(system[2], A.T @ (dense_out * np.sqrt(weights)[:, None]))
    # So are the Gauss-Newton weights of the output units' samples: the
    # softmax curvature p (1 - p), dropped below 1e-3 of its weighted mean,
    # plus that mean, times the weights.
    (output_weights,) = [
        value
        for key, value in trace._shared.items()
        if key[0] == "layerwise_output_weights"
    ]
    logits = forward_inputs(network, X)[-1] @ network.coefs_[-1]
    logits += network.intercepts_[-1]
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    curvature = prob * (1 - prob)
    floor = (weights @ curvature) / weights.sum()
    curvature[curvature <= 1e-3 * floor] = 0.0
    np.testing.assert_allclose(
        output_weights.weights, weights[:, None] * (curvature + floor), rtol=1e-10
    )


@pytest.fixture(scope="module")
def singular_network(three_classes):
    # A constant input makes every Gram matrix of the first layer singular.
    X, y = three_classes
    X = np.hstack([X, np.zeros((X.shape[0], 1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = PrunableMLPClassifier(
            hidden_layer_sizes=(12, 10), max_iter=50, random_state=0
        ).fit(X, y)
    return mlp, X, y


def test_zero_damping_solves_singular_systems_at_the_smallest_damping(
    singular_network,
):
    mlp, X, y = singular_network
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        undamped = copy.deepcopy(mlp).prune(
            X, y, amount=0.6, criterion=SparseGPTCriterion(damp=0.0)
        )
    floored = copy.deepcopy(mlp).prune(
        X, y, amount=0.6, criterion=SparseGPTCriterion(damp=1e-10)
    )
    for a, b in zip(
        undamped.coefs_ + undamped.intercepts_, floored.coefs_ + floored.intercepts_
    ):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


def test_obc_trace_of_a_numerically_singular_hessian_warns_to_raise_damp(
    singular_network,
):
    mlp, X, y = singular_network
    with pytest.warns(RuntimeWarning, match="Increase damp"):
        pruned = copy.deepcopy(mlp).prune(
            X, y, amount=0.6, criterion=OBCCriterion(damp=0.0)
        )
    assert pruned.sparsity_ == pytest.approx(0.6, abs=0.01)
    assert all(np.isfinite(c).all() for c in pruned.coefs_ + pruned.intercepts_)
    # The default damping keeps the same Hessians positive definite.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copy.deepcopy(mlp).prune(X, y, amount=0.6, criterion=OBCCriterion())


def test_usable_pivots_turn_the_lost_ones_infinite():
    with pytest.warns(RuntimeWarning, match="damp"):
        pivot = _usable_pivots(np.array([2.0, 0.0, -1e-12, np.nan]))
    np.testing.assert_array_equal(pivot, [2.0, np.inf, np.inf, np.inf])


def test_calibration_samples_with_zero_weights_are_rejected(network, three_classes):
    X, y = three_classes
    weights = np.ones(X.shape[0])
    weights[:20] = 0.0
    criterion = OBCCriterion(num_samples=20)
    with pytest.raises(ValueError, match="sample weights are all zero"):
        copy.deepcopy(network).prune(
            X, y, amount=0.5, criterion=criterion, sample_weight=weights
        )


# ----------------------------------------------------------------------------
# SparseGPT
# ----------------------------------------------------------------------------


def sequential_obs_reference(A, lam, w, removed):
    """The removed inputs zeroed from first to last, each by a direct solve.

    After removing input ``p`` the inputs after it minimise
    ``||A (v - w)||^2 + lam ||v - w||^2`` with the inputs up to ``p``
    fixed, solved by ``lstsq``.
    """
    d = w.size
    design = np.vstack([A, np.sqrt(lam) * np.eye(d)])
    v = w.copy()
    for p in np.flatnonzero(removed):
        v[p] = 0.0
        free, fixed = np.arange(p + 1, d), np.arange(p + 1)
        if free.size:
            target = design @ w - design[:, fixed] @ v[fixed]
            v[free] = np.linalg.lstsq(design[:, free], target, rcond=None)[0]
    return v


def damped_problem(seed, n_units=3, n_inputs=9):
    rng, A = random_problem(seed, n_inputs=n_inputs)
    lam = 0.05 * np.mean(np.sum(A**2, axis=0))
    gram = A.T @ A + lam * np.eye(A.shape[1])
    return rng, A, lam, gram, rng.normal(size=(n_units, A.shape[1]))


def test_inverse_cholesky_rows_are_the_obs_steps_of_the_trailing_blocks():
    _, _, _, gram, _ = damped_problem(0)
    upper = inverse_cholesky_upper(gram)
    np.testing.assert_allclose(np.triu(upper), upper)
    np.testing.assert_allclose(upper.T @ upper, np.linalg.inv(gram), rtol=1e-8)
    for i in range(gram.shape[0]):
        trailing = np.linalg.inv(gram[i:, i:])
        np.testing.assert_allclose(upper[i, i:] * upper[i, i], trailing[0], rtol=1e-8)


@pytest.mark.parametrize("block_size", [1, 3, 4, 10])
@pytest.mark.parametrize("seed", [0, 1])
def test_sparsegpt_pass_with_a_fixed_mask_equals_sequential_least_squares(
    seed, block_size
):
    rng, A, lam, gram, w = damped_problem(seed)
    removed = rng.rand(*w.shape) < 0.5
    removed[:, -1] = False
    got = sparsegpt_pass(
        inverse_cholesky_upper(gram), w.copy(), removed.copy(), None, block_size
    )
    for unit in range(w.shape[0]):
        expected = sequential_obs_reference(A, lam, w[unit], removed[unit])
        np.testing.assert_allclose(got[unit], expected, rtol=1e-7, atol=1e-9)
        assert np.all(got[unit][removed[unit]] == 0)


def test_sparsegpt_pass_removing_a_prefix_gives_the_minimiser_on_the_kept_inputs():
    # Once no kept input comes before a removed one, every kept weight is
    # still free at the last removal: the pass ends at the constrained
    # least-squares minimiser.
    _, A, lam, gram, w = damped_problem(2)
    removed = np.zeros(w.shape, dtype=bool)
    for unit, n_removed in enumerate([2, 5, 8]):
        removed[unit, :n_removed] = True
    got = sparsegpt_pass(inverse_cholesky_upper(gram), w.copy(), removed, None, 4)
    for unit in range(w.shape[0]):
        expected = constrained_minimiser(A, w[unit], ~removed[unit], lam)
        np.testing.assert_allclose(got[unit], expected, rtol=1e-7, atol=1e-9)


def test_sparsegpt_one_block_removes_the_lowest_weight_over_trailing_inverse():
    rng, _, _, gram, w = damped_problem(3, n_units=4)
    candidates = np.ones(w.shape, dtype=bool)
    candidates[:, -1] = False
    candidates[0, :3] = False
    removed = np.zeros(w.shape, dtype=bool)
    selector = _SpreadSelector(candidates, 13)
    d = gram.shape[0]
    sparsegpt_pass(inverse_cholesky_upper(gram), w.copy(), removed, selector, d)
    trailing = np.array([np.linalg.inv(gram[i:, i:])[0, 0] for i in range(d)])
    saliency = np.where(candidates, w**2 / trailing**2, np.inf)
    expected = np.zeros(w.shape, dtype=bool)
    expected.flat[np.argsort(saliency.ravel(), kind="stable")[:13]] = True
    np.testing.assert_array_equal(removed, expected)


def test_sparsegpt_spreads_a_count_over_the_blocks_by_their_candidates():
    _, _, _, gram, w = damped_problem(4, n_units=5, n_inputs=11)
    # 55 candidates: 20, 20 and 15 in the blocks, so the cumulative counts
    # 30 * 20 / 55, 30 * 40 / 55 and 30 round to 11, 22 and 30.
    candidates = np.ones(w.shape, dtype=bool)
    candidates[:, -1] = False
    removed = np.zeros(w.shape, dtype=bool)
    selector = _SpreadSelector(candidates, 30)
    sparsegpt_pass(inverse_cholesky_upper(gram), w.copy(), removed, selector, 4)
    assert [removed[:, s : s + 4].sum() for s in (0, 4, 8)] == [11, 11, 8]


@pytest.mark.parametrize("seed", [0, 1])
def test_refit_kept_cg_reaches_the_constrained_minimiser(seed):
    rng, A, lam, gram, w = damped_problem(seed, n_units=4)
    keep = rng.rand(*w.shape) < 0.6
    keep[:, -1] = True
    keep[3] = False
    start = rng.normal(size=w.shape)
    got = refit_kept_cg(gram, gram @ w.T, keep.T, start.T, gram.shape[0])
    for unit in range(w.shape[0]):
        expected = constrained_minimiser(A, w[unit], keep[unit], lam)
        np.testing.assert_allclose(got[:, unit], expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(
        refit_kept_cg(gram, gram @ w.T, keep.T, start.T, 0), start.T * keep.T
    )


def test_round_counts_make_the_density_fall_geometrically():
    # Densities 0.1 ** (1/3) and 0.1 ** (2/3): 46.4% and 21.5% of 1000.
    np.testing.assert_array_equal(round_counts(1000, 900, 3), [536, 249, 115])
    np.testing.assert_array_equal(round_counts(1000, 900, 1), [900])
    np.testing.assert_array_equal(round_counts(10, 10, 2), [10, 0])
    np.testing.assert_array_equal(round_counts(0, 0, 2), [0, 0])


@pytest.mark.parametrize("seed, block_size", [(0, 4), (1, 3), (2, 12)])
def test_sparsegpt_rounds_equal_passes_after_exact_refits(seed, block_size):
    # By hand: each round is a pass from the weights re-fitted exactly (by
    # lstsq) on the mask of the round before, the first from the dense ones.
    rng, A, lam, gram, w = damped_problem(seed, n_units=4, n_inputs=11)
    counts = [9, 7, 5]
    keep = np.ones(w.shape, dtype=bool)
    start = w.copy()
    masks = []
    for round_, count in enumerate(counts):
        if round_ > 0:
            start = np.array(
                [constrained_minimiser(A, w[u], keep[u], lam) for u in range(4)]
            )
        candidates = keep.copy()
        candidates[:, -1] = False
        removed = ~keep
        start = sparsegpt_pass(
            inverse_cholesky_upper(gram),
            start.copy(),
            removed,
            _SpreadSelector(candidates, count),
            block_size,
        )
        keep = ~removed
        masks.append(keep.copy())
    selectors = [lambda c, k=k: _SpreadSelector(c, k) for k in counts]
    got, got_keep = sparsegpt_rounds(
        gram, gram @ w.T, w.T.copy(), np.ones(w.T.shape, dtype=bool), selectors,
        block_size, refit_iter=gram.shape[0],
    )
    np.testing.assert_array_equal(got_keep, keep.T)
    np.testing.assert_allclose(got, start.T, rtol=1e-6, atol=1e-8)
    for before, after in zip(masks, masks[1:]):
        assert np.all(before >= after)
    assert [(~m[:, :-1]).sum() for m in masks] == list(np.cumsum(counts))


def test_sparsegpt_rounds_prune_the_step_amount(network, three_classes):
    X, y = three_classes
    criterion = SparseGPTCriterion(n_rounds=3, block_size=4, num_samples=None)
    mlp = copy.deepcopy(network).prune(
        X, y, amount=0.8, criterion=criterion, scope="layer"
    )
    reference = copy.deepcopy(network).prune(
        amount=0.8, criterion="magnitude", scope="layer"
    )
    for got, expected in zip(mlp.masks_, reference.masks_):
        assert got.sum() == expected.sum()
    single = copy.deepcopy(network).prune(
        X, y, amount=0.8, criterion=SparseGPTCriterion(block_size=4, num_samples=None),
        scope="layer",
    )
    assert any((a != b).any() for a, b in zip(mlp.masks_, single.masks_))


def test_sparsegpt_rounds_refuse_n_m(network, three_classes):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    with pytest.raises(ValueError, match="n_rounds > 1 supports"):
        mlp.prune(
            X, y, criterion=SparseGPTCriterion(n_rounds=2), pattern="n:m", n=1, m=4
        )
    assert all(mask.all() for mask in mlp.masks_)


def sparsegpt_network_reference(mlp_before, mlp_after, X, damp, gauss_newton):
    """Layer by layer: the re-fit start, then the sequential reference.

    The output layer, not pruned, is re-fitted; with ``gauss_newton`` each
    unit's samples are weighted by the floored curvature ``p (1 - p)``.
    """
    dense_input = pruned_input = X
    for i in range(len(mlp_before.coefs_)):
        dense_output = dense_input @ mlp_before.coefs_[i] + mlp_before.intercepts_[i]
        A = np.hstack([pruned_input, np.ones((X.shape[0], 1))])
        lam = damp * np.mean(np.sum(A**2, axis=0))
        w = np.vstack([mlp_before.coefs_[i], mlp_before.intercepts_[i]])
        got = np.vstack([mlp_after.coefs_[i], mlp_after.intercepts_[i]])
        for unit in range(w.shape[1]):
            start = w[:, unit]
            if i == 2 and gauss_newton:
                prob = np.exp(dense_output - dense_output.max(axis=1, keepdims=True))
                prob = prob[:, unit] / prob.sum(axis=1)
                root = np.sqrt(prob * (1 - prob) + np.mean(prob * (1 - prob)))
                weighted = A * root[:, np.newaxis]
                lam_unit = damp * np.mean(np.sum(weighted**2, axis=0))
                expected = np.linalg.lstsq(
                    np.vstack([weighted, np.sqrt(lam_unit) * np.eye(A.shape[1])]),
                    np.concatenate(
                        [dense_output[:, unit] * root, np.sqrt(lam_unit) * start]
                    ),
                    rcond=None,
                )[0]
                np.testing.assert_allclose(got[:, unit], expected, rtol=1e-6, atol=1e-8)
                continue
            if i > 0:
                # The weights that best reproduce the dense outputs.
                start = constrained_minimiser(A, start, np.ones(start.size, bool), lam)
                start = start + np.linalg.solve(
                    A.T @ A + lam * np.eye(A.shape[1]),
                    A.T @ (dense_output[:, unit] - A @ start),
                )
            removed = np.append(~mlp_after.masks_[i][:, unit], False)
            if i < 2:
                expected = sequential_obs_reference(A, lam, start, removed)
            else:
                expected = start
            np.testing.assert_allclose(got[:, unit], expected, rtol=1e-6, atol=1e-8)
        pruned_input = np.maximum(
            pruned_input @ mlp_after.coefs_[i] + mlp_after.intercepts_[i], 0
        )
        dense_input = np.maximum(dense_output, 0)


@pytest.mark.parametrize(
    "pattern, amount, scope, output_hessian",
    [
        ("unstructured", 0.7, "layer", "reconstruction"),
        ("unstructured", 0.8, "global", "gauss-newton"),
        ("n:m", None, "global", "reconstruction"),
    ],
)
def test_sparsegpt_network_prunes_each_layer_on_pruned_inputs(
    network, three_classes, pattern, amount, scope, output_hessian
):
    X, y = three_classes
    criterion = SparseGPTCriterion(
        damp=0.05, block_size=4, num_samples=None, output_hessian=output_hessian
    )
    mlp = copy.deepcopy(network).prune(
        X, y, amount=amount, criterion=criterion, pattern=pattern, scope=scope, m=4, n=1
    )
    reference = copy.deepcopy(network).prune(
        amount=amount, criterion="magnitude", pattern=pattern, scope=scope, m=4, n=1
    )
    if scope == "layer":
        for got, expected in zip(mlp.masks_, reference.masks_):
            assert got.sum() == expected.sum()
    assert mlp.sparsity_ == reference.sparsity_
    if pattern == "n:m":
        for mask in mlp.masks_[:2]:
            assert (mask[:8].reshape(2, 4, -1).sum(axis=1) <= 1).all()
    sparsegpt_network_reference(
        network, mlp, X, 0.05, output_hessian == "gauss-newton"
    )


@pytest.mark.parametrize("pattern", ["block", "neuron"])
def test_sparsegpt_refuses_groups_of_several_inputs(network, three_classes, pattern):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    with pytest.raises(ValueError, match="supports pattern='unstructured'"):
        mlp.prune(X, y, amount=0.5, criterion="sparsegpt", pattern=pattern,
                  block_shape=(2, 2))
    assert all(mask.all() for mask in mlp.masks_)


def test_sparsegpt_scores_only_inside_prune(network, three_classes):
    X, y = three_classes
    with pytest.raises(ValueError, match="runs inside prune"):
        SparseGPTCriterion().score(context_of(network, X, y))


# ----------------------------------------------------------------------------
# The Gauss-Newton output layer
# ----------------------------------------------------------------------------


def _softmax_loss(z, y):
    z = z - z.max(axis=1, keepdims=True)
    return -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1)))


def _logistic_loss(z, y):
    return np.logaddexp(0, z).sum(axis=1) - (z * np.eye(z.shape[1])[y]).sum(axis=1)


def _poisson_loss(z, y):
    return (np.exp(z) - z * (y[:, np.newaxis] + 1.0)).sum(axis=1)


@pytest.mark.parametrize(
    "out_activation, loss",
    [("softmax", _softmax_loss), ("logistic", _logistic_loss), ("exp", _poisson_loss)],
)
def test_output_curvature_gives_the_hessian_of_the_loss_in_a_unit_weights(
    out_activation, loss
):
    rng, A = random_problem(5, n_samples=30, n_inputs=4)
    V = rng.normal(scale=0.5, size=(A.shape[1], 3))
    y = rng.randint(0, 3, A.shape[0])
    weights = rng.uniform(0.5, 2.0, A.shape[0])
    estimator = Bunch(out_activation_=out_activation)
    curvature = output_curvature(estimator, A @ V)

    def total(V):
        return weights @ loss(A @ V, y)

    h = 1e-3
    d = A.shape[1]
    for unit in range(3):
        expected = (A * (weights * curvature[:, unit])[:, np.newaxis]).T @ A
        hessian = np.empty((d, d))
        for i in range(d):
            for k in range(d):
                steps = [np.zeros_like(V) for _ in range(2)]
                steps[0][i, unit], steps[1][k, unit] = h, h
                hessian[i, k] = (
                    total(V + steps[0] + steps[1])
                    - total(V + steps[0] - steps[1])
                    - total(V - steps[0] + steps[1])
                    + total(V - steps[0] - steps[1])
                ) / (4 * h * h)
        np.testing.assert_allclose(hessian, expected, rtol=1e-4, atol=1e-5)


def test_obc_traces_the_output_layer_on_each_unit_gauss_newton_hessian(
    network, three_classes
):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    mlp.prunable_layers = "all"
    criterion = OBCCriterion(damp=0.05, num_samples=None)
    order, losses = criterion.layer_trace(context_of(mlp, X, y), 2)
    inputs = forward_inputs(network, X)
    A = np.hstack([inputs[2], np.ones((X.shape[0], 1))])
    logits = A @ np.vstack([network.coefs_[2], network.intercepts_[2]])
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    w = np.vstack([network.coefs_[2], network.intercepts_[2]])
    removable = np.arange(A.shape[1]) < A.shape[1] - 1
    for unit in range(3):
        # The curvature floored by its mean.
        curvature = prob[:, unit] * (1 - prob[:, unit])
        curvature += curvature.mean()
        H = (A * curvature[:, np.newaxis]).T @ A
        H += 0.05 * np.mean(np.diagonal(H)) * np.eye(A.shape[1])
        ref_order, ref_losses = greedy_obs_reference(H, w[:, unit], removable)
        np.testing.assert_array_equal(order[unit], ref_order)
        np.testing.assert_allclose(losses[unit], ref_losses, rtol=1e-6)


def test_obc_refits_the_output_layer_by_curvature_weighted_least_squares(
    network, three_classes
):
    X, y = three_classes
    criterion = OBCCriterion(damp=0.05, num_samples=None)
    mlp = copy.deepcopy(network).prune(X, y, amount=0.6, criterion=criterion)
    dense_inputs = forward_inputs(network, X)
    pruned_inputs = forward_inputs(mlp, X)
    dense_logits = dense_inputs[2] @ network.coefs_[2] + network.intercepts_[2]
    prob = np.exp(dense_logits - dense_logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    A = np.hstack([pruned_inputs[2], np.ones((X.shape[0], 1))])
    anchor = np.vstack([network.coefs_[2], network.intercepts_[2]])
    for unit in range(3):
        # Damped towards the weights before the step, relative to the
        # diagonal of the unit's own weighted A^T A.
        curvature = prob[:, unit] * (1 - prob[:, unit])
        root = np.sqrt(curvature + curvature.mean())[:, np.newaxis]
        lam = 0.05 * np.mean(np.sum((A * root) ** 2, axis=0))
        design = np.vstack([A * root, np.sqrt(lam) * np.eye(A.shape[1])])
        target = np.concatenate(
            [dense_logits[:, unit] * root[:, 0], np.sqrt(lam) * anchor[:, unit]]
        )
        expected = np.linalg.lstsq(design, target, rcond=None)[0]
        got = np.append(mlp.coefs_[2][:, unit], mlp.intercepts_[2][unit])
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def test_gauss_newton_output_of_a_squared_error_regressor_is_the_reconstruction(
    regression_data,
):
    # The curvature of the squared error is 1 for every sample: the floored
    # weights are uniform, and the relative damping scales with them.
    X, y = regression_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = PrunableMLPRegressor(
            hidden_layer_sizes=(12, 6), max_iter=50, random_state=0
        ).fit(X, y)
    pruned = [
        copy.deepcopy(mlp).prune(
            X, y, amount=0.6, criterion=OBCCriterion(output_hessian=output_hessian)
        )
        for output_hessian in ("gauss-newton", "reconstruction")
    ]
    for a, b in zip(
        pruned[0].coefs_ + pruned[0].intercepts_,
        pruned[1].coefs_ + pruned[1].intercepts_,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


def test_refit_takes_the_scope_for_fine_tuning_of_the_criterion_it_wraps():
    assert OBCCriterion().finetuning_scope == "layer"
    assert LayerwiseRefit("obc").finetuning_scope == "layer"
    assert LayerwiseRefit("magnitude").finetuning_scope == "global"
    assert LayerwiseRefit(WandaCriterion()).finetuning_scope == "global"


def test_obc_solves_traces_and_sparse_forward_passes_run_on_one_thread(
    monkeypatch, network, three_classes
):
    # However many threads BLAS may use outside: numpy's and scipy's BLAS
    # libraries, and the compiled kernels, would compete for the cores.
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        libraries = threadpool_info()
        return {lib["num_threads"] for lib in libraries if lib["user_api"] == "blas"}

    seen = {"solves": set(), "traces": set(), "kernel threads": set()}

    def recording(name, function):
        def wrapper(*args, **kwargs):
            seen[name] |= blas_threads()
            return function(*args, **kwargs)

        return wrapper

    kernels = _layerwise._kernels

    class RecordingSegment:
        def __init__(self, *args):
            self.segment = kernels.Segment(*args)

        def __call__(self, design, n_threads):
            seen["kernel threads"].add(n_threads)
            return self.segment(design, n_threads)

    monkeypatch.setattr(
        _layerwise, "solve_positive", recording("solves", _layerwise.solve_positive)
    )
    monkeypatch.setattr(
        _layerwise, "obc_traces", recording("traces", _layerwise.obc_traces)
    )
    monkeypatch.setattr(
        _layerwise,
        "_kernels",
        Bunch(
            SparseLayer=kernels.SparseLayer,
            Segment=RecordingSegment,
            effective_n_threads=lambda: 2,
        ),
    )
    X, y = three_classes
    with threadpool_limits(2, user_api="blas"):
        pruned = copy.deepcopy(network).prune(X, y, amount=0.9, criterion="obc")
        assert blas_threads() == {2}
    assert seen == {"solves": {1}, "traces": {1}, "kernel threads": {1}}
    expected = copy.deepcopy(network).prune(X, y, amount=0.9, criterion="obc")
    for a, b in zip(pruned.coefs_, expected.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
