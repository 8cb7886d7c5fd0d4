"""Inference plan, compact storage and input checks of the pruned perceptrons."""

import gc
import io
import pickle
import warnings
import weakref
from collections import deque
from itertools import pairwise

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier

from skprune.neural import PrunedMLPClassifier, PrunedMLPRegressor, _pruned
from skprune.neural._inference import (
    _DenseStage,
    CostModel,
    InferencePlan,
    ThreadChoice,
    all_finite,
    compact_network,
    find_block_shape,
    measured_cost_model,
)

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
HIDDEN = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
}
OUTPUT = {
    "identity": lambda z: z,
    "logistic": expit,
    "softmax": lambda z: softmax(z, axis=1),
    "exp": np.exp,
}


def dense_forward(coefs, intercepts, activation, out_activation, X):
    """Reference forward pass: dense products, in float64."""
    h = np.asarray(X, dtype=np.float64)
    for i, (coef, bias) in enumerate(zip(coefs, intercepts)):
        h = h @ coef.astype(np.float64) + bias.astype(np.float64)
        if i < len(coefs) - 1:
            h = HIDDEN[activation](h)
    return OUTPUT[out_activation](h)


def random_network(sizes, density, dtype=np.float64, seed=0):
    """Weights with a random mask, and hidden units that compaction removes.

    In every hidden layer, unit 0 has no incoming weight (a constant), unit 1
    no outgoing weight (dead) and, when the layer is wide enough, unit 2
    feeds only unit 1 of the next hidden layer (dead once that one is gone).
    """
    rng = np.random.default_rng(seed)
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise(sizes):
        coef = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        coef *= rng.random((fan_in, fan_out)) < density
        coefs.append(coef)
        intercepts.append(rng.standard_normal(fan_out))
    for k in range(len(coefs) - 1):
        coefs[k][:, 0] = 0.0
        coefs[k + 1][1] = 0.0
        if k + 2 < len(coefs) and coefs[k].shape[1] > 3:
            coefs[k + 1][2] = 0.0
            coefs[k + 1][2, 1] = 1.0
    return [c.astype(dtype) for c in coefs], [b.astype(dtype) for b in intercepts]


def tolerance(dtype):
    if dtype == np.float32:
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 1e-12, "atol": 1e-13}


def quiet_fit(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        return estimator.fit(X, y, **kwargs)


# ----------------------------------------------------------------------
# The plan against the dense forward pass
# ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("out_activation", sorted(OUTPUT))
@pytest.mark.parametrize("kernel", ["auto", "csr", "block", "compact", "dense"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plan_matches_dense_forward(activation, out_activation, kernel, dtype):
    coefs, intercepts = random_network([20, 12, 9, 4], 0.4, dtype)
    plan = InferencePlan(coefs, intercepts, activation, out_activation, kernel=kernel)
    rng = np.random.default_rng(1)
    for n_samples in (1, 32, 1024):
        X = rng.standard_normal((n_samples, 20)).astype(dtype)
        expected = dense_forward(coefs, intercepts, activation, out_activation, X)
        y = plan.predict(X)
        # Strided input gives the same result.
        strided = np.repeat(X, 2, axis=1)[:, ::2]
        assert_array_equal(plan.predict(strided), y)
        assert y.shape == (n_samples, 4)
        assert y.dtype == dtype
        assert y.flags.c_contiguous
        assert_allclose(y, expected, **tolerance(dtype))


def test_predictions_do_not_change_with_the_threads_chosen_per_call():
    # The plan tries one thread and all threads on its first calls; with
    # these costs the cheapest kernels of one sample differ between one and
    # two threads, which split the sparse layers.
    coefs, intercepts = random_network([20, 12, 9, 4], 0.4, np.float64)
    costs = CostModel(
        {"dense": (0.0, 1.0, 1.0), "csr": (0.0, 3.0, 3.0)}, copy=0.0, split_nnz=1
    )
    plan = InferencePlan(
        coefs, intercepts, "relu", "softmax", cost_model=costs, n_threads=2
    )
    assert plan.kernels_for(1, 1) != plan.kernels_for(1, 2)
    X = np.random.default_rng(0).standard_normal((1, 20))
    first = plan.predict(X)
    for _ in range(7):
        assert_array_equal(plan.predict(X), first)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    widths=st.lists(st.integers(1, 30), min_size=2, max_size=4),
    density=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    activation=st.sampled_from(ACTIVATIONS),
    out_activation=st.sampled_from(sorted(OUTPUT)),
    kernel=st.sampled_from(["auto", "csr", "block", "compact", "dense"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    n_samples=st.sampled_from([0, 1, 3, 70, 300]),
)
def test_plan_matches_dense_forward_on_random_networks(
    seed, widths, density, activation, out_activation, kernel, dtype, n_samples
):
    # One-unit layers, fully pruned layers, layers of blocks, any batch.
    rng = np.random.default_rng(seed)
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise(widths):
        if rng.random() < 0.3:  # blocks of 1 input by 4 outputs
            kept = rng.random((fan_in, -(-fan_out // 4))) < density
            mask = np.kron(kept, np.ones((1, 4), dtype=bool))[:, :fan_out]
        else:
            mask = rng.random((fan_in, fan_out)) < density
        coef = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in) * mask
        coefs.append(coef.astype(dtype))
        intercepts.append(rng.standard_normal(fan_out).astype(dtype))
    plan = InferencePlan(coefs, intercepts, activation, out_activation, kernel=kernel)
    X = rng.standard_normal((n_samples, widths[0])).astype(dtype)
    y = plan.predict(X)
    assert y.shape == (n_samples, widths[-1])
    assert y.dtype == dtype
    expected = dense_forward(coefs, intercepts, activation, out_activation, X)
    assert_allclose(y, expected, **tolerance(dtype))


@pytest.mark.parametrize("kernel", ["auto", "csr", "block", "compact", "dense"])
def test_plan_sparse_input_matches_dense_input(kernel):
    coefs, intercepts = random_network([20, 12, 9, 3], 0.3)
    coefs[0][5] = 0.0  # an unused input feature
    plan = InferencePlan(coefs, intercepts, "relu", "softmax", kernel=kernel)
    X = np.random.default_rng(0).standard_normal((40, 20))
    X[X < 0.5] = 0.0
    expected = dense_forward(coefs, intercepts, "relu", "softmax", X)
    for matrix in (sparse.csr_matrix(X), sparse.csc_matrix(X), X):
        assert_allclose(plan.predict(matrix), expected, rtol=1e-10)


def test_kernels_are_the_ones_forced():
    coefs, intercepts = random_network([20, 12, 9, 3], 0.3)
    for kernel, expected in (
        ("csr", "csr"),
        ("block", "csr"),
        ("compact", "dense"),
        ("dense", "dense"),
    ):
        plan = InferencePlan(coefs, intercepts, "tanh", "softmax", kernel=kernel)
        for n_samples in (1, 32, 1024):
            assert plan.kernels_for(n_samples) == (expected,) * 3
    with pytest.raises(ValueError, match="kernel must be one of"):
        InferencePlan(coefs, intercepts, "tanh", "softmax", kernel="bsr")


def test_compaction_removes_constant_and_dead_units():
    coefs, intercepts = random_network([10, 8, 6, 3], 1.0)
    # Layer 1: unit 0 constant, unit 1 dead, unit 2 feeds only unit 1 of
    # layer 2, which is dead: 3 units go. Layer 2: units 0 and 1 go.
    _, _, kept = compact_network(coefs, intercepts, "tanh")
    assert_array_equal(kept[0], np.arange(3, 8))
    assert_array_equal(kept[1], np.arange(2, 6))
    dense_plan = InferencePlan(coefs, intercepts, "tanh", "identity", kernel="dense")
    compact_plan = InferencePlan(coefs, intercepts, "tanh", "identity")
    assert dense_plan.n_units == [10, 8, 6, 3]
    assert compact_plan.n_units == [10, 5, 4, 3]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_constant_units_are_folded_exactly_when_nonzero(activation):
    # One hidden unit without input: its constant f(b) reaches the output.
    coefs = [np.zeros((3, 2)), np.array([[2.0], [3.0]])]
    coefs[0][:, 1] = [1.0, -1.0, 0.5]
    intercepts = [np.array([0.7, 0.1]), np.array([-0.2])]
    plan = InferencePlan(coefs, intercepts, activation, "identity")
    assert plan.n_units == [3, 1, 1]
    X = np.random.default_rng(0).standard_normal((5, 3))
    expected = dense_forward(coefs, intercepts, activation, "identity", X)
    assert_allclose(plan.predict(X), expected, rtol=1e-12)


def test_network_without_weights_predicts_its_constant():
    coefs = [np.zeros((4, 3)), np.zeros((3, 2))]
    intercepts = [np.array([1.0, -1.0, 2.0]), np.array([0.5, -0.5])]
    plan = InferencePlan(coefs, intercepts, "logistic", "softmax")
    assert plan.n_units == [4, 0, 2]
    X = np.random.default_rng(0).standard_normal((6, 4))
    expected = dense_forward(coefs, intercepts, "logistic", "softmax", X)
    assert_allclose(plan.predict(X), expected, rtol=1e-12)
    assert_allclose(plan.predict(X[:1]), expected[:1], rtol=1e-12)


# Costs of a machine where a sparse product costs 4 times a dense one per
# multiply-add, each call 1 us and each copy 0.5 ns per value.
COSTS = CostModel(
    {
        "dense": (1000.0, 0.1, 0.05),
        "csr": (1000.0, 0.4, 0.2),
        (4, 1): (1000.0, 0.2, 0.1),
    }
)


def test_cost_model_picks_csr_for_very_sparse_and_dense_for_dense_layers():
    rng = np.random.default_rng(0)
    very_sparse = rng.standard_normal((1000, 1000)) * (rng.random((1000, 1000)) < 0.01)
    full = rng.standard_normal((1000, 1000))
    for coef, expected in ((very_sparse, "csr"), (full, "dense")):
        plan = InferencePlan(
            [coef, np.ones((1000, 1))],
            [np.ones(1000), np.ones(1)],
            "relu",
            "identity",
            cost_model=COSTS,
        )
        for n_samples in (1, 32, 1024):
            assert plan.kernels_for(n_samples)[0] == expected
        # Only the matrix that can be chosen is kept.
        assert plan.layers[0].kernels == (expected,)
    for kernel in ("csr", "dense"):
        assert COSTS.cost(kernel, 100, 1) < COSTS.cost(kernel, 100, 64)
        assert COSTS.cost(kernel, 100, 64) < COSTS.cost(kernel, 1000, 64)
        assert COSTS.cost(kernel, 10**6, 4096, 2) < COSTS.cost(kernel, 10**6, 4096)


def test_layers_between_sparse_ones_stay_in_their_segment():
    # The small dense output layer alone would be cheaper with BLAS, but
    # leaving the sparse segment for it costs two copies of 1000 values.
    rng = np.random.default_rng(0)
    sparse_layer = rng.standard_normal((1000, 1000)) * (rng.random((1000, 1000)) < 0.02)
    coefs = [sparse_layer, rng.standard_normal((1000, 3))]
    plan = InferencePlan(
        coefs, [np.ones(1000), np.ones(3)], "relu", "identity", cost_model=COSTS
    )
    kernels = plan.kernels_for(256)
    assert kernels[0] == "csr" and kernels[1] != "dense"
    assert len(plan._stages_for(kernels, 0)) == 1
    X = rng.standard_normal((256, 1000))
    expected = dense_forward(coefs, [np.ones(1000), np.ones(3)], "relu", "identity", X)
    assert_allclose(plan.predict(X), expected, rtol=1e-12)


def test_blocks_are_found_and_chosen_when_they_pay():
    rng = np.random.default_rng(0)
    # Blocks of 1 input by 4 outputs in coefs_: (4, 1) blocks of the kernels.
    kept = rng.random((64, 16)) < 0.2
    coef = rng.standard_normal((64, 64)) * np.kron(kept, np.ones((1, 4)))
    assert find_block_shape(coef) == (1, 4)
    assert (
        find_block_shape(rng.standard_normal((64, 64)) * (rng.random((64, 64)) < 0.2))
        is None
    )
    coefs = [coef, rng.standard_normal((64, 2))]
    intercepts = [np.zeros(64), np.zeros(2)]
    plan = InferencePlan(coefs, intercepts, "tanh", "softmax", cost_model=COSTS)
    assert plan.layers[0].block_shape == (1, 4)
    assert plan.kernels_for(256)[0] == "block"
    X = rng.standard_normal((300, 64))
    expected = dense_forward(coefs, intercepts, "tanh", "softmax", X)
    for n_samples in (1, 300):
        assert_allclose(plan.predict(X[:n_samples]), expected[:n_samples], rtol=1e-12)
    with pytest.raises(ValueError, match="block_shape must be None or one of"):
        InferencePlan(coefs, intercepts, "tanh", "softmax", block_shape=(3, 3))


def test_measured_cost_model_is_kept_per_dtype():
    model = measured_cost_model(np.float32)
    assert measured_cost_model(np.float32) is model
    assert measured_cost_model(np.float64) is not model
    for call, vector, madd in model.costs.values():
        assert call > 0 and vector > 0 and madd > 0
    # A plan with the default cost model measures it once.
    coefs, intercepts = random_network([6, 5, 2], 0.5, np.float32)
    assert InferencePlan(coefs, intercepts, "relu", "identity").cost_model is model


# ----------------------------------------------------------------------
# Threads chosen by timing the plan's own calls
# ----------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _warm(choice, n_samples):
    """The first call of each option, which is not counted."""
    for _ in range(2):
        used = choice.choose(n_samples, 2)
        choice.record(n_samples, 2, used, 1.0)


def _run(choice, n_samples, seconds_per_sample):
    """One call: the threads chosen, timed as ``seconds_per_sample`` says."""
    used = choice.choose(n_samples, 2)
    choice.record(n_samples, 2, used, seconds_per_sample[used] * n_samples)
    return used


def test_thread_choice_times_both_options_then_runs_the_faster():
    clock = FakeClock()
    choice = ThreadChoice(min_interval=1.0, max_interval=4.0, clock=clock)
    # Close times: both are timed three times.
    close = {1: 1e-6, 2: 0.8e-6}
    _warm(choice, 256)
    assert [_run(choice, 256, close) for _ in range(6)] == [1, 2, 1, 2, 1, 2]
    assert [_run(choice, 256, close) for _ in range(5)] == [2] * 5
    # An option twice as slow as the other is not run again.
    slow_threads = {1: 1e-6, 2: 5e-6}
    _warm(choice, 512)
    assert [_run(choice, 512, slow_threads) for _ in range(6)] == [1, 2, 1, 1, 1, 1]
    # Other batch sizes (by powers of two) and thread counts are timed apart.
    assert choice.choose(300, 2) == 2
    assert choice.choose(4096, 2) == 1
    assert choice.choose(256, 3) == 1
    assert choice.choose(256, 1) == 1


def test_thread_choice_waits_longer_between_tries_that_cost_more():
    clock = FakeClock()
    choice = ThreadChoice(
        min_interval=1.0, max_interval=4.0, cost_ratio=50, clock=clock
    )
    # Two threads take 0.1 s a call: tries cost at most 1/50 of the time.
    collapse = {1: 1e-6, 2: 0.1 / 256}
    _warm(choice, 256)
    for _ in range(3):
        _run(choice, 256, collapse)
    tries = []
    for step in range(100):
        clock.now = 0.5 * (step + 1)
        if _run(choice, 256, collapse) == 2:
            tries.append(clock.now)
    assert tries == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0]


def test_thread_choice_tries_the_other_option_less_often_while_it_loses():
    clock = FakeClock()
    choice = ThreadChoice(min_interval=1.0, max_interval=4.0, clock=clock)
    slow_threads = {1: 1e-6, 2: 5e-6}
    _warm(choice, 256)
    for _ in range(2):
        _run(choice, 256, slow_threads)
    tries = []
    for step in range(40):
        clock.now = 0.5 * (step + 1)
        if _run(choice, 256, slow_threads) == 2:
            tries.append(clock.now)
    # Waits 1, 2, 4, then at most 4 seconds between tries.
    assert np.diff(tries).tolist()[:4] == [2.0, 4.0, 4.0, 4.0]
    # Once threads win a try, they run.
    fast_threads = {1: 1e-6, 2: 0.5e-6}
    while _run(choice, 256, fast_threads) != 2:
        clock.now += 0.5
    assert [_run(choice, 256, fast_threads) for _ in range(5)] == [2] * 5


def test_thread_choice_tries_again_at_once_when_its_choice_slows_down():
    clock = FakeClock()
    choice = ThreadChoice(min_interval=10.0, clock=clock)
    _warm(choice, 256)
    for _ in range(6):
        _run(choice, 256, {1: 1.5e-6, 2: 1e-6})
    # Another process takes a core: threads now wait for one another.
    clock.now += 0.02  # 50 times the last one-thread call
    contended = {1: 1.5e-6, 2: 20e-6}
    used = [_run(choice, 256, contended) for _ in range(5)]
    assert used == [2, 2, 1, 1, 1]
    # One thread slows down too, but threads are tried again only 50 times
    # their last call (0.256 s) later.
    noisy = {1: 4e-6, 2: 20e-6}
    clock.now += 0.2
    used = [_run(choice, 256, noisy) for _ in range(5)]
    assert used == [1, 1, 1, 1, 1]
    clock.now += 0.1
    assert _run(choice, 256, noisy) == 2


def test_plan_records_the_threads_and_time_of_every_call(monkeypatch):
    coefs, intercepts = random_network([30, 20, 4], 0.3)
    # Compiled kernels: dense layers only keep BLAS's threads, unrecorded.
    plan = InferencePlan(
        coefs, intercepts, "relu", "softmax", kernel="csr", n_threads=2
    )
    calls = []
    monkeypatch.setattr(
        plan.thread_choice, "choose", lambda n, most: 1 + len(calls) % 2
    )
    monkeypatch.setattr(
        plan.thread_choice, "record", lambda *args: calls.append(args)
    )
    X = np.random.default_rng(0).standard_normal((70, 30))
    expected = dense_forward(coefs, intercepts, "relu", "softmax", X)
    for _ in range(4):
        assert_allclose(plan.predict(X), expected, **tolerance(np.float64))
    most = min(2, _kernels_effective(2))
    assert [c[:3] for c in calls] == [(70, most, 1), (70, most, 2)] * 2
    assert all(c[3] > 0 for c in calls)


def _kernels_effective(n_threads):
    from skprune.neural._kernels import effective_n_threads

    return effective_n_threads(n_threads)


def _blas_threads():
    from threadpoolctl import threadpool_info

    return {
        lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# One dot product, a few serial ones, one on one BLAS thread.
@pytest.mark.parametrize("shape", [(50, 7), (200, 60), (1000, 60)])
@pytest.mark.parametrize("blas_threads", [False, True])
def test_all_finite_sees_every_nan_and_infinity(dtype, shape, blas_threads):
    X = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert all_finite(X, blas_threads)
    assert all_finite(X[:, ::2], blas_threads)
    for value in (np.nan, np.inf, -np.inf):
        for index in (0, 9_999, 10_000, X.size - 1):
            Y = X.copy().reshape(-1)
            Y[min(index, X.size - 1)] = value
            assert not all_finite(Y.reshape(shape), blas_threads)
            assert not all_finite(Y.reshape(shape)[:, ::-1], blas_threads)
    # An overflowing sum of squares is reported too (the full check clears it).
    with np.errstate(over="ignore"):
        assert not all_finite(np.full((2, 2), np.finfo(dtype).max, dtype=dtype))


def _two_layer_network(density, seed=0):
    rng = np.random.default_rng(seed)
    coefs = [
        rng.standard_normal((40, 30)) * (rng.random((40, 30)) < density),
        rng.standard_normal((30, 3)) * (rng.random((30, 3)) < density),
    ]
    return coefs, [rng.standard_normal(30), rng.standard_normal(3)]


def test_dense_layers_only_are_priced_on_all_blas_threads():
    # Sparse products cost twice a dense one per multiply-add: at 60%
    # density dense layers win on one thread; on two, sparse ones would win
    # against dense layers on one BLAS thread, but not against dense layers
    # only, on both BLAS threads.
    coefs, intercepts = _two_layer_network(0.6)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.0, 2.0)}, copy=0.0)
    plan = InferencePlan(coefs, intercepts, "relu", "softmax", cost_model=costs)
    assert plan._cheapest(1024, 2)[1] == ("csr", "csr")
    for n_threads in (1, 2):
        kernels = plan.kernels_for(1024, n_threads)
        assert kernels == ("dense", "dense")
        assert not any(s.single_blas_thread for s in plan._stages_for(kernels, 0))


def _record_blas_threads(monkeypatch, owner, method):
    """List that receives the BLAS thread counts of each call of ``owner.method``."""
    from threadpoolctl import threadpool_info

    seen = []
    function = getattr(owner, method)

    def spy(*args, **kwargs):
        seen.append(
            {
                lib["num_threads"]
                for lib in threadpool_info()
                if lib["user_api"] == "blas"
            }
        )
        return function(*args, **kwargs)

    monkeypatch.setattr(owner, method, spy)
    return seen


@pytest.mark.parametrize("chosen", [1, 2])
def test_dense_layers_only_keep_blas_threads_whatever_the_thread_choice(
    monkeypatch, chosen
):
    # BLAS on fewer threads may add up in another order: the bits of a call
    # must not depend on the timed thread choice.
    from threadpoolctl import threadpool_limits

    coefs, intercepts = _two_layer_network(1.0)
    plan = InferencePlan(
        coefs, intercepts, "relu", "softmax", kernel="compact", n_threads=2
    )
    monkeypatch.setattr(plan.thread_choice, "choose", lambda n, most: chosen)
    # Dense layers only run as one forward pass.
    seen = _record_blas_threads(monkeypatch, plan, "_dense_forward")
    X = np.random.default_rng(0).standard_normal((64, 40))
    with threadpool_limits(2, user_api="blas"):
        assert_allclose(
            plan.predict(X), dense_forward(coefs, intercepts, "relu", "softmax", X),
            rtol=1e-12,
        )
    assert seen == [{2}]


@pytest.fixture(autouse=True)
def _fresh_measured_times(monkeypatch):
    """Each test times the candidate plans of its networks afresh."""
    from skprune.neural import _inference

    monkeypatch.setattr(
        _inference, "_MEASURED_BY_NETWORK", weakref.WeakValueDictionary()
    )
    monkeypatch.setattr(
        _inference, "_RECENTLY_MEASURED", deque(maxlen=_inference._MAX_CACHED_CHOICES)
    )


def _timing_plan(monkeypatch, coefs, intercepts, costs):
    """A plan predicting by ``costs`` that times its close candidates (a plan
    given its cost model times none)."""
    from skprune.neural import _inference

    monkeypatch.setattr(_inference, "measured_cost_model", lambda *args: costs)
    return InferencePlan(coefs, intercepts, "relu", "softmax")


def test_copies_of_a_network_share_their_timed_choices(monkeypatch):
    from skprune.neural import _inference

    coefs, intercepts = _two_layer_network(0.6)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.0, 1.2)}, copy=0.0)
    monkeypatch.setattr(_inference, "measured_cost_model", lambda *args: costs)
    measured = []
    real_times = _inference._interleaved_best_times

    def fake_times(functions, rounds, **kwargs):
        if not all(isinstance(kind, str) for kind in functions):
            return real_times(functions, rounds, **kwargs)  # tile sizes
        measured.append(set(functions))
        # Each timing makes the other kind win: only sharing keeps a choice.
        winner = ("dense", "sparse")[len(measured) % 2]
        return {kind: 1.0 if kind == winner else 2.0 for kind in functions}

    monkeypatch.setattr(_inference, "_interleaved_best_times", fake_times)
    X = np.random.default_rng(1).standard_normal((256, 40))
    first = InferencePlan(coefs, intercepts, "relu", "softmax")
    # Masked negative weights are -0.0 here; a loaded copy has 0.0.
    assert np.signbit(coefs[0][coefs[0] == 0]).any()
    copy = InferencePlan(
        [c + 0.0 for c in coefs], [b.copy() for b in intercepts], "relu", "softmax"
    )
    assert_array_equal(copy.predict(X), first.predict(X))
    assert copy.kernels_for(256, 1) == first.kernels_for(256, 1)
    assert len(measured) == 1
    # Another network times its own.
    other = [c.copy() for c in coefs]
    other[0][0, 0] += 1.0
    InferencePlan(other, intercepts, "relu", "softmax").kernels_for(256, 1)
    assert len(measured) == 2


def test_a_copy_shares_the_timed_choices_after_many_other_networks(monkeypatch):
    # However many networks were timed since, a live plan's record is found.
    from skprune.neural import _inference

    coefs, intercepts = _two_layer_network(0.6)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.0, 1.2)}, copy=0.0)
    first = _timing_plan(monkeypatch, coefs, intercepts, costs)
    first._measured["marker"] = True
    for k in range(2 * _inference._MAX_CACHED_CHOICES + 1):
        other = [c.copy() for c in coefs]
        other[0][0, 0] += k + 1.0
        InferencePlan(other, intercepts, "relu", "softmax")
    gc.collect()
    copy = InferencePlan([c.copy() for c in coefs], intercepts, "relu", "softmax")
    assert copy._measured is first._measured
    # Records nobody holds are dropped beyond the most recent ones.
    assert len(_inference._MEASURED_BY_NETWORK) <= _inference._MAX_CACHED_CHOICES + 2


@pytest.mark.parametrize("fastest", ["dense", "sparse"])
def test_close_candidates_are_measured_once_per_batch_size(monkeypatch, fastest):
    from skprune.neural import _inference

    coefs, intercepts = _two_layer_network(0.6)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.0, 1.2)}, copy=0.0)
    plan = _timing_plan(monkeypatch, coefs, intercepts, costs)
    candidates = plan._candidates(256, 1)
    assert set(candidates.values()) == {("csr", "csr"), ("dense", "dense")}
    measured = []
    expected = {"dense": ("dense", "dense"), "sparse": ("csr", "csr")}[fastest]
    real_times = _inference._interleaved_best_times

    def fake_times(functions, rounds, **kwargs):
        if not all(isinstance(kind, str) for kind in functions):
            return real_times(functions, rounds, **kwargs)  # tile sizes
        measured.append(set(functions))
        # The candidates run, checking their input, then the expected wins.
        return {
            kind: (
                1.0
                if function() is not None and function.args[1] == expected
                else 2.0
            )
            for kind, function in functions.items()
        }

    monkeypatch.setattr(_inference, "_interleaved_best_times", fake_times)
    X = np.random.default_rng(1).standard_normal((300, 40))
    reference = dense_forward(coefs, intercepts, "relu", "softmax", X)
    for n_samples in (256, 300, 511):  # one batch size by powers of two
        assert plan.kernels_for(n_samples, 1) == expected
        assert_allclose(plan.predict(X[:n_samples]), reference[:n_samples], rtol=1e-12)
    assert len(measured) == 1
    plan.kernels_for(1024, 1)
    assert len(measured) == 2
    # A cost model given is followed without measuring.
    given = InferencePlan(coefs, intercepts, "relu", "softmax", cost_model=costs)
    assert len(given._candidates(256, 1)) == 1
    given.kernels_for(256, 1)
    assert len(measured) == 2


def _fake_plan_times(monkeypatch, time_of):
    """Make the timing of candidate plans return ``time_of(kind, function)``
    (tile sizes are timed for real)."""
    from skprune.neural import _inference

    real_times = _inference._interleaved_best_times

    def fake_times(functions, rounds, **kwargs):
        if not all(isinstance(kind, str) for kind in functions):
            return real_times(functions, rounds, **kwargs)
        return {kind: time_of(kind, function) for kind, function in functions.items()}

    monkeypatch.setattr(_inference, "_interleaved_best_times", fake_times)


def _sparse_layers_faster_by(monkeypatch, speedup):
    """Make the one-thread time of a candidate plan 1 if all its layers are
    sparse, ``speedup`` if any is dense."""
    _fake_plan_times(
        monkeypatch,
        lambda kind, function: 1.0 if "dense" not in function.args[1] else speedup,
    )


@pytest.mark.parametrize("sparse_speedup", [1.5, 3.0])
def test_dense_layers_only_are_kept_on_threads_unless_beaten_by_the_margin(
    monkeypatch, sparse_speedup
):
    from skprune.neural import _inference

    coefs, intercepts = _two_layer_network(0.6)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.0, 1.2)}, copy=0.0)
    plan = _timing_plan(monkeypatch, coefs, intercepts, costs)
    for n_threads in (1, 2):
        candidates = set(plan._candidates(256, n_threads).values())
        assert candidates == {("csr", "csr"), ("dense", "dense")}
    _sparse_layers_faster_by(monkeypatch, sparse_speedup)
    # BLAS's predicted gain: all of the threads' for a batch, none for one
    # sample or for products BLAS runs on one thread (the second layer's at
    # 256 samples, both at 64), less where a call's fixed cost weighs.
    n_madds = [coef.size * 256 for coef in coefs]
    assert n_madds[0] > _inference._BLAS_SERIAL_MADDS > n_madds[1]
    assert plan._blas_threads_gain(4096, 2) == pytest.approx(2.0)
    assert plan._blas_threads_gain(256, 2) == pytest.approx(
        (n_madds[0] + n_madds[1]) / (n_madds[0] / 2 + n_madds[1])
    )
    # No gain: the least margin.
    margin = _inference._THREADS_MARGIN
    assert plan._blas_threads_gain(64, 2) == pytest.approx(margin)
    assert plan._blas_threads_gain(1, 2) == pytest.approx(margin)
    plan.cost_model = CostModel(
        {"dense": (1e6, 1.0, 1.0), "csr": (0.0, 1.0, 1.2)}, copy=0.0
    )
    assert margin < plan._blas_threads_gain(2048, 2) < 1.5
    plan.cost_model = costs
    assert plan.kernels_for(256, 1) == ("csr", "csr")
    on_threads = ("dense", "dense") if sparse_speedup <= 2 else ("csr", "csr")
    assert plan.kernels_for(256, 2) == on_threads
    X = np.random.default_rng(1).standard_normal((256, 40))
    assert_allclose(
        plan.predict(X),
        dense_forward(coefs, intercepts, "relu", "softmax", X),
        rtol=1e-12,
    )


@pytest.mark.parametrize("sparse_speedup", [1.5, 2.5])
def test_one_sample_on_threads_counts_blas_matrix_vector_threads(
    monkeypatch, sparse_speedup
):
    # BLAS shares one sample's product among its threads only above a size:
    # the first layer above it (1200 weights, the threshold lowered to 1000),
    # the second below. Sparse layers faster on one thread by less than
    # what BLAS's threads are predicted to gain are not run on two threads.
    from skprune.neural import _inference

    monkeypatch.setattr(_inference, "_BLAS_SERIAL_GEMV", 1000)
    coefs, intercepts = _two_layer_network(1.0)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.0, 1.0)}, copy=0.0)
    plan = _timing_plan(monkeypatch, coefs, intercepts, costs)
    sizes = [coef.size for coef in coefs]
    assert sizes[0] > 1000 >= sizes[1]
    gain = plan._blas_threads_gain(1, 2)
    assert gain == pytest.approx(sum(sizes) / (sizes[0] / 2 + sizes[1]))
    candidates = set(plan._candidates(1, 2).values())
    assert {("csr", "csr"), ("dense", "dense")} <= candidates
    _sparse_layers_faster_by(monkeypatch, sparse_speedup)
    assert plan.kernels_for(1, 1) == ("csr", "csr")
    on_threads = ("dense", "dense") if sparse_speedup < gain else ("csr", "csr")
    assert plan.kernels_for(1, 2) == on_threads
    X = np.random.default_rng(2).standard_normal((1, 40))
    assert_allclose(
        plan.predict(X),
        dense_forward(coefs, intercepts, "relu", "softmax", X),
        rtol=1e-12,
    )


def test_dense_layers_only_are_timed_on_threads_whatever_the_split_promises(
    monkeypatch,
):
    # One sample splitting its sparse layers between two threads is
    # predicted more than twice as fast as dense layers: dense layers only
    # are timed all the same, and kept when faster on one thread.
    from skprune.neural import _inference

    coefs, intercepts = _two_layer_network(1.0)
    costs = CostModel(
        {"dense": (0.0, 1.0, 1.0), "csr": (0.0, 0.9, 1.0)}, copy=0.0, split_nnz=1
    )
    plan = _timing_plan(monkeypatch, coefs, intercepts, costs)
    cheapest = plan._cheapest(1, 2)[0]
    assert plan._all_dense_cost(1, 2) > _inference._CLOSE_CALL * cheapest
    assert ("dense", "dense") in plan._candidates(1, 2).values()
    _fake_plan_times(monkeypatch, lambda kind, _: 0.5 if kind == "dense" else 1.0)
    assert plan.kernels_for(1, 2) == ("dense", "dense")


@pytest.mark.parametrize("sparse_speedup", [1.05, 1.2])
def test_a_near_tie_on_one_thread_keeps_dense_layers_on_threads(
    monkeypatch, sparse_speedup
):
    # The cheapest plan predicted for one sample is the dense one; sparse
    # layers faster on one thread by less than the least margin are not run
    # on threads, where they would compete with BLAS's spinning workers.
    from skprune.neural import _inference

    coefs, intercepts = _two_layer_network(1.0)
    costs = CostModel({"dense": (0.0, 1.0, 1.0), "csr": (0.0, 1.2, 1.2)}, copy=0.0)
    plan = _timing_plan(monkeypatch, coefs, intercepts, costs)
    candidates = plan._candidates(1, 2)
    assert candidates == {"mixed": ("dense", "dense"), "sparse": ("csr", "csr")}
    _sparse_layers_faster_by(monkeypatch, sparse_speedup)
    assert 1.05 < _inference._THREADS_MARGIN < 1.2
    assert plan.kernels_for(1, 1) == ("csr", "csr")
    on_threads = ("dense", "dense") if sparse_speedup < 1.1 else ("csr", "csr")
    assert plan.kernels_for(1, 2) == on_threads
    X = np.random.default_rng(1).standard_normal((1, 40))
    assert_allclose(
        plan.predict(X),
        dense_forward(coefs, intercepts, "relu", "softmax", X),
        rtol=1e-12,
    )


@pytest.mark.parametrize("transposed_faster", [False, True])
def test_one_sample_multiplies_each_dense_layer_in_its_faster_layout(
    monkeypatch, transposed_faster
):
    from skprune.neural import _inference

    coefs, intercepts = random_network([100, 80, 60, 3], 1.0)
    plan = InferencePlan(coefs, intercepts, "tanh", "softmax")
    assert plan._dense_chain is not None
    real_times = _inference._interleaved_best_times
    timed = []

    def layout_times(functions, rounds, **kwargs):
        if set(functions) != {False, True}:
            return real_times(functions, rounds, **kwargs)
        timed.append(functions[False].args[1].shape)
        return {False: 1.0, True: 0.5 if transposed_faster else 0.99}

    monkeypatch.setattr(_inference, "_interleaved_best_times", layout_times)
    X = np.random.default_rng(1).standard_normal((1, 100))
    y = plan._dense_forward(X, check_finite=True)
    assert_allclose(
        y, dense_forward(coefs, intercepts, "tanh", "softmax", X), rtol=1e-12
    )
    # Layers of fewer than _MIN_LAYOUT_WEIGHTS weights are not timed.
    shapes = [layer.dense.shape for layer in plan.layers]
    assert [a * b >= _inference._MIN_LAYOUT_WEIGHTS for a, b in shapes] == [
        True, True, False
    ]
    assert timed == shapes[:2]
    flipped = [not w.flags.c_contiguous for w in plan._one_sample_chain]
    assert flipped == [transposed_faster, transposed_faster, False]
    for weights, layer in zip(plan._one_sample_chain, plan.layers):
        assert_array_equal(weights, layer.dense)
    # Batches keep the stored layout.
    assert all(w.flags.c_contiguous for w in plan._dense_chain)
    batch = np.random.default_rng(2).standard_normal((5, 100))
    assert_allclose(
        plan._dense_forward(batch, check_finite=False),
        dense_forward(coefs, intercepts, "tanh", "softmax", batch),
        rtol=1e-12,
    )
    # A copy of the network takes the layouts measured, hence the same bits.
    copy = InferencePlan([c.copy() for c in coefs], intercepts, "tanh", "softmax")
    assert_array_equal(copy._dense_forward(X, check_finite=True), y)
    assert len(timed) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_samples", [1, 5, 70])
@pytest.mark.parametrize("kernel", ["compact", "dense"])
@pytest.mark.parametrize("n_hidden", [4, 30])  # product smaller, larger than X
def test_a_dense_first_layer_checks_the_input_by_its_product(
    dtype, n_samples, kernel, n_hidden
):
    rng = np.random.default_rng(0)
    coefs = [rng.standard_normal((12, n_hidden)), rng.standard_normal((n_hidden, 3))]
    coefs[0][3] = 0.0  # input column 3 is never read
    coefs = [c.astype(dtype) for c in coefs]
    intercepts = [np.ones(n_hidden, dtype), np.ones(3, dtype)]
    plan = InferencePlan(coefs, intercepts, "relu", "softmax", kernel=kernel)
    assert isinstance(plan._stages_for(plan.kernels_for(n_samples), 0)[0], _DenseStage)
    X = rng.standard_normal((n_samples, 12)).astype(dtype)
    checked = plan.predict(X, check_finite=True)
    assert_array_equal(checked, plan.predict(X))
    assert_allclose(
        checked, dense_forward(coefs, intercepts, "relu", "softmax", X),
        rtol=1e-12 if dtype == np.float64 else 1e-5,
        atol=0 if dtype == np.float64 else 1e-6,
    )
    for value in (np.nan, np.inf, -np.inf):
        for row, column in ((0, 0), (n_samples - 1, 11), (n_samples // 2, 3)):
            Y = X.copy()
            Y[row, column] = value
            assert plan.predict(Y, check_finite=True) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_dense_layers_only_run_as_one_forward_pass(monkeypatch, dtype, n_threads):
    from threadpoolctl import threadpool_limits

    X, y = _classification("multiclass")
    X = X.astype(dtype)
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.0, **SMALL), X, y)
    clf.coefs_[0][3] = 0.0  # input column 3 is never read
    clf._inference_plan = plan = InferencePlan(
        clf.coefs_, clf.intercepts_, clf.activation, "softmax", kernel="compact"
    )
    calls = _record_blas_threads(monkeypatch, plan, "_dense_forward")
    with threadpool_limits(n_threads):
        assert plan.predict(X[:0], check_finite=True).shape == (0, 3)
        for n_samples in (1, 2, 70):
            Z = np.resize(X, (n_samples, X.shape[1]))
            assert_allclose(
                clf.predict_proba(Z),
                dense_forward(
                    clf.coefs_, clf.intercepts_, clf.activation, "softmax", Z
                ),
                rtol=1e-12 if dtype == np.float64 else 1e-5,
                atol=0 if dtype == np.float64 else 1e-6,
            )
        assert len(calls) == 3
        for value, message in (
            (np.nan, "NaN"),
            (np.inf, "infinity"),
            (-np.inf, "infinity"),
        ):
            for n_samples in (1, 70):
                for column in (0, 3):
                    Z = np.resize(X, (n_samples, X.shape[1]))
                    Z[-1, column] = value
                    with pytest.raises(ValueError, match=message):
                        clf.predict_proba(Z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_input_whose_product_overflows_is_accepted(dtype):
    X, y = _classification("multiclass")
    X = X.astype(dtype)
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.0, **SMALL), X, y)
    clf._inference_plan = plan = InferencePlan(
        clf.coefs_, clf.intercepts_, clf.activation, "softmax", kernel="compact"
    )
    X = X[:5].copy()
    X[-1] = np.finfo(dtype).max * np.sign(clf.coefs_[0][:, 0])
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(X[-1] @ clf.coefs_[0]).all()
        assert_array_equal(clf.predict_proba(X), plan.predict(X))


def test_dense_layers_between_sparse_ones_run_on_one_blas_thread(monkeypatch):
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    first = rng.standard_normal((200, 300)) * (rng.random((200, 300)) < 0.02)
    coefs = [first, rng.standard_normal((300, 300)), rng.standard_normal((300, 3))]
    intercepts = [np.ones(300), np.ones(300), np.ones(3)]
    plan = InferencePlan(coefs, intercepts, "relu", "identity", kernel="csr")
    # The middle layer through BLAS, the others through the kernels.
    plan.layers[1].kernels = ("dense",)
    plan.layers[1].dense = plan.layers[1].sparse["csr"].to_scipy().T.toarray()
    kernels = ("csr", "dense", "csr")
    stages = plan._stages_for(kernels, 0)
    assert [type(s).__name__ for s in stages] == [
        "_SparseStage",
        "_DenseStage",
        "_SparseStage",
    ]
    seen = _record_blas_threads(monkeypatch, plan.layers[1], "dense_product")
    monkeypatch.setattr(plan, "kernels_for", lambda n, t=None: kernels)
    X = rng.standard_normal((64, 200))
    expected = dense_forward(coefs, intercepts, "relu", "identity", X)
    with threadpool_limits(2, user_api="blas"):
        assert_allclose(plan.predict(X), expected, rtol=1e-12)
    assert seen == [{1}]
    # A network of dense layers only keeps the threads of BLAS.
    dense_plan = InferencePlan(coefs, intercepts, "relu", "identity", kernel="compact")
    assert not any(
        s.single_blas_thread for s in dense_plan._stages_for(("dense",) * 3, 0)
    )


# ----------------------------------------------------------------------
# The estimators predict through the plan
# ----------------------------------------------------------------------


def _classification(kind):
    if kind == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=120, n_features=10, n_classes=3, random_state=0
        )
        return X / X.max(), y
    n_classes = 2 if kind == "binary" else 3
    X, y = make_classification(
        n_samples=120,
        n_features=10,
        n_informative=6,
        n_classes=n_classes,
        random_state=0,
    )
    return X, y


SMALL = {
    "hidden_layer_sizes": (16, 8),
    "max_iter": 30,
    "n_pruning_steps": 2,
    "finetune_iter": 3,
    "random_state": 0,
}


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pattern", ["unstructured", "neuron"])
def test_classifier_predicts_like_the_dense_network(kind, activation, pattern):
    X, y = _classification(kind)
    clf = quiet_fit(
        PrunedMLPClassifier(
            activation=activation, pattern=pattern, sparsity=0.6, **SMALL
        ),
        X,
        y,
    )
    if pattern == "neuron":
        assert clf.n_units_[1] < 16
    probabilities = dense_forward(
        clf.coefs_, clf.intercepts_, activation, clf.out_activation_, X
    )
    proba = clf.predict_proba(X)
    if kind == "binary":
        assert_allclose(proba[:, 1], probabilities.ravel(), rtol=1e-10)
        expected = clf.classes_[(probabilities.ravel() > 0.5).astype(int)]
    elif kind == "multiclass":
        assert_allclose(proba, probabilities, rtol=1e-10)
        expected = clf.classes_[probabilities.argmax(axis=1)]
    else:
        assert_allclose(proba, probabilities, rtol=1e-10)
        expected = (probabilities > 0.5).astype(int)
    assert_array_equal(clf.predict(X), expected)
    assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.score(X, y) == accuracy_score(y, expected)
    for n_samples in (1, 32):
        assert_allclose(clf.predict_proba(X[:n_samples]), proba[:n_samples])


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("pattern", ["unstructured", "neuron"])
def test_regressor_predicts_like_the_dense_network(n_outputs, loss, pattern):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 10))
    y = np.abs(X[:, :n_outputs] + 0.1 * rng.standard_normal((120, n_outputs)))
    y = y.ravel() if n_outputs == 1 else y
    reg = quiet_fit(
        PrunedMLPRegressor(loss=loss, pattern=pattern, sparsity=0.6, **SMALL), X, y
    )
    expected = dense_forward(
        reg.coefs_, reg.intercepts_, "relu", reg.out_activation_, X
    )
    expected = expected.ravel() if n_outputs == 1 else expected
    assert_allclose(reg.predict(X), expected, rtol=1e-10)
    assert_allclose(reg.score(X, y), r2_score(y, expected), rtol=1e-10)
    assert not hasattr(reg, "predict_proba")


def test_predictions_match_scikit_learn_with_the_same_weights():
    X, y = _classification("multiclass")
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.9, **SMALL), X, y)
    reference = quiet_fit(
        MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=1, random_state=0), X, y
    )
    reference.coefs_ = [c.copy() for c in clf.coefs_]
    reference.intercepts_ = [b.copy() for b in clf.intercepts_]
    assert_allclose(clf.predict_proba(X), reference.predict_proba(X), rtol=1e-10)
    assert_array_equal(clf.predict(X), reference.predict(X))


def test_float32_network_predicts_in_float32():
    X, y = _classification("multiclass")
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float32
    expected = dense_forward(clf.coefs_, clf.intercepts_, "relu", "softmax", X)
    assert_allclose(proba, expected, rtol=1e-4, atol=1e-6)


def test_sparse_coefs_are_csr_copies_of_coefs():
    X, y = _classification("multiclass")
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y)
    for matrix, coef in zip(clf.sparse_coefs_, clf.coefs_):
        assert sparse.isspmatrix_csr(matrix)
        assert matrix.dtype == coef.dtype
        assert matrix.nnz == np.count_nonzero(coef)
        assert_array_equal(matrix.toarray(), coef)
    assert not hasattr(PrunedMLPClassifier(), "sparse_coefs_")
    with pytest.raises(NotFittedError):
        _ = PrunedMLPClassifier().sparse_coefs_


def test_plan_follows_partial_fit_warm_start_and_prune():
    X, y = _classification("multiclass")
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.5, **SMALL), X, y)
    plan = clf._inference_plan

    def check():
        expected = dense_forward(clf.coefs_, clf.intercepts_, "relu", "softmax", X)
        assert_allclose(clf.predict_proba(X), expected, rtol=1e-10)

    clf.partial_fit(X, y)
    assert clf._inference_plan is not plan
    check()
    plan = clf._inference_plan
    clf.prune(amount=0.5)
    assert clf._inference_plan is not plan
    check()
    quiet_fit(clf.set_params(warm_start=True), X, y)
    assert clf._inference_plan is not plan
    check()


# ----------------------------------------------------------------------
# Storage
# ----------------------------------------------------------------------


def _fitted_models():
    X, y = _classification("multiclass")
    yield quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y), X, y
    yield (
        quiet_fit(PrunedMLPClassifier(sparsity=0.5, pattern="neuron", **SMALL), X, y),
        X,
        y,
    )
    yield quiet_fit(PrunedMLPRegressor(sparsity=0.7, **SMALL), X, y * 1.0), X, y


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_round_trip_reproduces_predictions_and_weights_exactly(dump):
    for model, X, _ in _fitted_models():
        attributes = set(model.__dict__)
        if dump == "pickle":
            loaded = pickle.loads(pickle.dumps(model))
        else:
            buffer = io.BytesIO()
            joblib.dump(model, buffer)
            buffer.seek(0)
            loaded = joblib.load(buffer)
        # Dumping leaves the model as it was.
        assert set(model.__dict__) == attributes
        # Only what prediction and training need is stored, the weights packed.
        stored = model.__getstate__()
        for key in ("coefs_", "masks_", "_optimizer", "_best_coefs", "_random_state"):
            assert key not in stored
        # Loading restores them at once, not on first access.
        assert {"coefs_", "masks_", "intercept_masks_"} <= set(vars(loaded))
        assert_array_equal(loaded.predict(X), model.predict(X))
        for n_samples in (1, 32, len(X)):
            if hasattr(model, "predict_proba"):
                assert_array_equal(
                    loaded.predict_proba(X[:n_samples]),
                    model.predict_proba(X[:n_samples]),
                )
        for name in ("coefs_", "intercepts_", "masks_", "intercept_masks_"):
            for a, b in zip(getattr(loaded, name), getattr(model, name)):
                assert a.dtype == b.dtype
                assert_array_equal(a, b)
        assert loaded.sparsity_ == model.sparsity_
        assert_array_equal(loaded.loss_curve_, model.loss_curve_)
        # A second round trip of the loaded model gives the same bytes.
        assert pickle.dumps(loaded) == pickle.dumps(pickle.loads(pickle.dumps(loaded)))


def _fitted_and_loaded(**params):
    """A classifier pruned to half its weights, and its copy through pickle."""
    X, y = _classification("multiclass")
    model = quiet_fit(PrunedMLPClassifier(**{**SMALL, "sparsity": 0.5, **params}), X, y)
    return model, pickle.loads(pickle.dumps(model)), X, y


def test_warm_start_and_partial_fit_resume_after_unpickling():
    model, loaded, X, y = _fitted_and_loaded(
        solver="sgd", momentum=0.0, learning_rate_init=0.01
    )
    # SGD without momentum has no optimizer state, so resuming from the
    # stored weights and masks is the same as resuming in memory.
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    for a, b in zip(loaded.masks_, model.masks_):
        assert_array_equal(a, b)
    model, loaded, X, y = _fitted_and_loaded()
    quiet_fit(model.set_params(warm_start=True), X, y)
    quiet_fit(loaded.set_params(warm_start=True), X, y)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_loaded_network_holds_no_training_state_until_trained_or_pruned():
    model, loaded, _, _ = _fitted_and_loaded()
    # Movement scores and the best weights of early stopping: two more copies
    # of the weights that prediction does not need.
    for name in ("_movement_scores", "_best_coefs", "_best_intercepts"):
        assert name not in vars(loaded)
    for scores, coef in zip(loaded.movement_scores_, loaded.coefs_):
        assert_array_equal(scores, np.zeros_like(coef))
    # Pruning by movement starts from zero scores, as a network whose
    # training state was just reset does.
    model._reset_training_state()
    model.prune(amount=0.2, criterion="movement")
    loaded.prune(amount=0.2, criterion="movement")
    for a, b in zip(loaded.masks_, model.masks_):
        assert_array_equal(a, b)
    assert "_movement_scores" in vars(loaded)


def test_a_loaded_network_resumes_with_early_stopping_from_its_weights():
    model, loaded, X, y = _fitted_and_loaded(
        early_stopping=True, validation_fraction=0.2
    )
    model._reset_training_state()
    quiet_fit(model.set_params(warm_start=True), X, y)
    quiet_fit(loaded.set_params(warm_start=True), X, y)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_failed_prune_of_a_loaded_network_leaves_no_training_state():
    _, loaded, _, _ = _fitted_and_loaded()

    def failing(context):
        raise RuntimeError("scoring failed")

    with pytest.raises(RuntimeError, match="scoring failed"):
        loaded.prune(amount=0.2, criterion=failing)
    assert "_movement_scores" not in vars(loaded)


def test_neuron_pruned_model_still_refuses_to_resume_after_unpickling():
    _, loaded, X, y = _fitted_and_loaded(pattern="neuron")
    with pytest.raises(ValueError, match="shrunk by neuron pruning"):
        loaded.partial_fit(X, y)


def test_unfitted_model_round_trips():
    loaded = pickle.loads(pickle.dumps(PrunedMLPClassifier(sparsity=0.3)))
    assert loaded.sparsity == 0.3
    with pytest.raises(NotFittedError):
        loaded.predict(np.zeros((1, 3)))


def test_incompatible_storage_format_names_both_versions(monkeypatch):
    X, y = _classification("multiclass")
    model = quiet_fit(PrunedMLPClassifier(sparsity=0.5, **SMALL), X, y)
    monkeypatch.setattr(_pruned, "STORAGE_FORMAT", 99)
    data = pickle.dumps(model)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"stored in format 99 .* reads format 1"):
        pickle.loads(data)


def test_pickle_is_much_smaller_than_dense_weights_and_scikit_learn():
    # 784-300-100-10 at 90% sparsity: the sizes do not depend on training,
    # so a short fit is enough.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 784))
    y = np.arange(60) % 10
    params = {"hidden_layer_sizes": (300, 100), "max_iter": 2, "random_state": 0}
    model = quiet_fit(
        PrunedMLPClassifier(
            sparsity=0.9, schedule="oneshot", finetune_iter=1, **params
        ),
        X,
        y,
    )
    reference = quiet_fit(MLPClassifier(**params), X, y)
    n_model = len(pickle.dumps(model))
    dense_weights = sum(c.nbytes for c in reference.coefs_)
    assert dense_weights == (784 * 300 + 300 * 100 + 100 * 10) * 8
    assert n_model * 8 <= dense_weights
    assert n_model * 15 <= len(pickle.dumps(reference))


def test_skops_round_trip_with_listed_untrusted_types(tmp_path):
    sio = pytest.importorskip("skops.io")
    X, y = _classification("multiclass")
    model = quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    # The label binarizer is stored as its type and packed state.
    assert set(untrusted) == {
        "skprune.neural._pruned.PrunedMLPClassifier",
        "sklearn.preprocessing._label.LabelBinarizer",
    }
    loaded = sio.load(path, trusted=untrusted)
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert_array_equal(loaded.coefs_[0], model.coefs_[0])


# ----------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_classifier():
    X, y = _classification("multiclass")
    return quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y), X


@pytest.mark.parametrize("n_samples", [1, 5])
def test_wrong_number_of_features_is_named(fitted_classifier, n_samples):
    clf, X = fitted_classifier
    with pytest.raises(ValueError, match="X has 9 features, but PrunedMLPClassifier"):
        clf.predict_proba(X[:n_samples, :9])


@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("n_samples", [1, 5])
def test_non_finite_input_is_rejected(fitted_classifier, value, message, n_samples):
    clf, X = fitted_classifier
    X = X[:n_samples].copy()
    X[-1, 3] = value
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=message):
            method(X)
        with pytest.raises(ValueError, match=message):
            method(sparse.csr_matrix(X))


@pytest.mark.parametrize("n_samples", [1, 300])
def test_non_finite_input_is_rejected_in_features_the_plan_never_reads(n_samples):
    X, y = _classification("multiclass")
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y)
    clf.coefs_[0][3] = 0.0
    clf._build_inference_plan()
    assert 3 not in clf._inference_plan.layers[0].features
    X = np.resize(X, (n_samples, X.shape[1]))
    X[-1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(X)
    X[-1, 3] = 0.0
    assert_allclose(
        clf.predict_proba(X), dense_forward(
            clf.coefs_, clf.intercepts_, clf.activation, "softmax", X
        ), rtol=1e-12,
    )


def test_sparse_input_is_accepted_as_the_tags_say(fitted_classifier):
    clf, X = fitted_classifier
    assert clf.__sklearn_tags__().input_tags.sparse
    # CSR and CSC are used as they are; other formats are converted.
    for matrix in (
        sparse.csr_matrix(X),
        sparse.csc_matrix(X),
        sparse.csr_array(X),
        sparse.bsr_matrix(X),
    ):
        assert_allclose(clf.predict_proba(matrix), clf.predict_proba(X), rtol=1e-12)


def test_other_input_goes_through_full_validation(fitted_classifier):
    clf, X = fitted_classifier
    assert_allclose(clf.predict_proba(X.tolist()), clf.predict_proba(X))
    assert_allclose(clf.predict_proba(X.astype(int)), clf.predict_proba(X.astype(int)))
    with pytest.raises(ValueError, match="Expected 2D array"):
        clf.predict_proba(X[0])
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict_proba(X[:0])


def test_feature_names_are_still_checked():
    pd = pytest.importorskip("pandas")
    X, y = _classification("multiclass")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = quiet_fit(PrunedMLPClassifier(sparsity=0.5, **SMALL), frame, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict_proba(X[:1])
    with pytest.raises(ValueError, match="feature names"):
        clf.predict_proba(frame[frame.columns[::-1]])


def test_deepcopy_and_missing_attributes_behave_as_usual():
    import copy

    X, y = _classification("multiclass")
    model = quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y)
    copied = copy.deepcopy(model)
    assert_array_equal(copied.predict_proba(X), model.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(model))
    with pytest.raises(AttributeError, match="no attribute 'not_there_'"):
        _ = loaded.not_there_
    lbfgs = quiet_fit(PrunedMLPClassifier(solver="lbfgs", sparsity=0.5, **SMALL), X, y)
    with pytest.raises(AttributeError) as original:
        _ = lbfgs.partial_fit
    with pytest.raises(AttributeError) as after_loading:
        _ = pickle.loads(pickle.dumps(lbfgs)).partial_fit
    assert str(after_loading.value) == str(original.value)
    assert isinstance(after_loading.value.__cause__, AttributeError)


def test_weights_set_after_loading_are_kept():
    X, y = _classification("multiclass")
    model = quiet_fit(PrunedMLPClassifier(sparsity=0.8, **SMALL), X, y)
    loaded = pickle.loads(pickle.dumps(model))
    scaled = [2.0 * coef for coef in model.coefs_]
    loaded.coefs_ = scaled
    loaded._build_inference_plan()
    for a, b in zip(loaded.masks_, model.masks_):  # rebuilt on access
        assert_array_equal(a, b)
    assert loaded.coefs_ is scaled
    expected = dense_forward(scaled, model.intercepts_, "relu", "softmax", X)
    assert_allclose(loaded.predict_proba(X), expected, rtol=1e-10)
    again = pickle.loads(pickle.dumps(loaded))
    assert_array_equal(again.predict_proba(X), loaded.predict_proba(X))
    assert_array_equal(again.coefs_[0], scaled[0])
    fresh = pickle.loads(pickle.dumps(model))
    fresh.coefs_ = scaled  # set by hand, masks not rebuilt yet
    for a, b in zip(pickle.loads(pickle.dumps(fresh)).coefs_, scaled):
        assert_array_equal(a, b)
