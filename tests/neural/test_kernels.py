"""Compiled kernels of the sparse forward pass against a dense numpy reference."""

import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from threadpoolctl import threadpool_limits

from skprune.neural import _kernels
from skprune.neural._kernels import Segment, SparseLayer, effective_n_threads

HIDDEN = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "logistic": expit,
}
VARIANTS = _kernels.available_variants()
BLOCKS = [(1, 1), (2, 1), (4, 1), (8, 1), (1, 2), (1, 4), (2, 2), (4, 3)]


OUTPUT = {
    "identity": lambda z: z,
    "logistic": expit,
    "exp": np.exp,
    "softmax": lambda z: softmax(z, axis=1),
}


def reference(X, layers, features):
    """Dense float64 forward pass of ``layers`` over ``X[:, features]``."""
    h = np.asarray(X, dtype=np.float64)[:, features]
    for weights, bias, activation in layers:
        h = {**HIDDEN, **OUTPUT}[activation](h @ weights.T.astype(np.float64) + bias)
    return h


def check_close(got, expected, dtype):
    assert got.dtype == dtype
    assert got.shape == expected.shape
    if dtype == np.float32:
        assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    else:
        assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def random_layers(rng, widths, density, dtype, activations):
    layers = []
    for (n_in, n_out), activation in zip(zip(widths, widths[1:]), activations):
        weights = rng.standard_normal((n_out, n_in)) / np.sqrt(max(n_in, 1))
        weights *= rng.random((n_out, n_in)) < density
        if n_out and n_in:
            weights[rng.integers(n_out)] = 0.0  # an empty row
            weights[:, rng.integers(n_in)] = 0.0  # an empty column
        bias = rng.standard_normal(n_out)
        layers.append((weights.astype(dtype), bias.astype(dtype), activation))
    return layers


def run(variant, layers, features, n_features, X, blocks, n_threads, tile):
    """Output of a segment of ``layers``, with ``blocks``: one, or one per layer."""
    if isinstance(blocks[0], int):
        blocks = [blocks] * len(layers)
    sparse_layers = [
        SparseLayer(w, b, a, block) for (w, b, a), block in zip(layers, blocks)
    ]
    segment = Segment(sparse_layers, features, n_features, variant=variant)
    return segment(X, n_threads, tile)


# ----------------------------------------------------------------------
# The build
# ----------------------------------------------------------------------


def test_the_build_has_openmp_when_asked():
    # CI states which build it made; elsewhere this only reports it.
    expected = os.environ.get("SKPRUNE_EXPECT_OPENMP")
    if expected is not None:
        assert _kernels.HAVE_OPENMP == (expected == "1")
    if not _kernels.HAVE_OPENMP:
        assert effective_n_threads() == 1
        assert effective_n_threads(4) == 1


def test_the_fastest_variant_is_used():
    assert VARIANTS[0] == "generic"
    wanted = os.environ.get("SKPRUNE_KERNELS")
    assert _kernels.KERNEL_VARIANT == (wanted or VARIANTS[-1])


@pytest.mark.skipif(not _kernels.HAVE_OPENMP, reason="a serial build")
def test_threads_follow_threadpoolctl_and_n_jobs_conventions():
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
    assert effective_n_threads(3) == 3
    assert effective_n_threads(-1) == os.cpu_count()
    assert 1 <= effective_n_threads() <= os.cpu_count()


# ----------------------------------------------------------------------
# Every kernel against the dense reference
# ----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    widths=st.lists(st.integers(0, 23), min_size=2, max_size=4),
    density=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    n_samples=st.sampled_from([0, 1, 2, 7, 40, 150]),
    blocks=st.lists(st.sampled_from(BLOCKS), min_size=3, max_size=3),
    dtype=st.sampled_from([np.float32, np.float64]),
    n_threads=st.sampled_from([1, 2]),
    tile=st.sampled_from([1, 5, 32, 64]),
)
def test_segment_matches_the_dense_forward_pass(
    seed, widths, density, n_samples, blocks, dtype, n_threads, tile
):
    # Each layer has its own block shape, CSR being (1, 1).
    rng = np.random.default_rng(seed)
    widths[0] = max(widths[0], 1)
    activations = rng.choice(list(HIDDEN), size=len(widths) - 1)
    layers = random_layers(rng, widths, density, dtype, activations)
    n_features = widths[0] + 3
    features = rng.permutation(n_features)[: widths[0]]
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    expected = reference(X, layers, features)
    for variant in VARIANTS:
        got = run(variant, layers, features, n_features, X, blocks, n_threads, tile)
        check_close(got, expected, dtype)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("activation", list(HIDDEN))
def test_every_kernel_path_on_a_wide_layer(variant, dtype, block, activation):
    # Wide enough for the vector chunks of every variant, plus odd tails.
    rng = np.random.default_rng(0)
    layers = random_layers(rng, [70, 45, 9], 0.2, dtype, [activation, "identity"])
    X = rng.standard_normal((300, 70)).astype(dtype)
    expected = reference(X, layers, np.arange(70))
    for n_samples, tile in ((1, 1), (3, 64), (300, 64), (300, 256), (300, 37)):
        got = run(variant, layers, np.arange(70), 70, X[:n_samples], block, 2, tile)
        check_close(got, expected[:n_samples], dtype)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out_activation", list(OUTPUT))
def test_output_activations_of_the_last_layer(variant, dtype, out_activation):
    rng = np.random.default_rng(0)
    layers = random_layers(
        rng, [30, 20, 7], 0.4, dtype, ["tanh", out_activation]
    )
    X = rng.standard_normal((100, 30)).astype(dtype)
    expected = reference(X, layers, np.arange(30))
    for n_samples, tile in ((1, 1), (100, 32)):
        got = run(variant, layers, np.arange(30), 30, X[:n_samples], (1, 1), 2, tile)
        check_close(got, expected[:n_samples], dtype)
    first = SparseLayer(*layers[0][:2], "softmax")
    with pytest.raises(ValueError, match="Only the last layer"):
        Segment([first, SparseLayer(*layers[1])], np.arange(30), 30)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_samples, tile", [(1, 1), (5, 2), (70, 16)])
def test_the_kernels_find_every_nan_and_infinity_of_the_input(
    variant, dtype, n_samples, tile
):
    rng = np.random.default_rng(0)
    layers = random_layers(rng, (12, 9, 4), 0.5, dtype, ("relu", "softmax"))
    features = np.arange(1, 13)  # input column 0 is never read
    segment = Segment(
        [SparseLayer(w, b, a) for w, b, a in layers], features, 13, variant=variant
    )
    X = rng.standard_normal((n_samples, 13)).astype(dtype)
    checked = segment(X, 2, tile, check_finite=True)
    assert_array_equal(checked, segment(X, 2, tile))
    check_close(checked, reference(X, layers, features), dtype)
    for value in (np.nan, np.inf, -np.inf):
        for row, column in ((0, 0), (n_samples - 1, 12), (n_samples // 2, 5)):
            Y = X.copy()
            Y[row, column] = value
            assert segment(Y, 2, tile, check_finite=True) is None
            assert segment(Y, 2, tile) is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_sample_splits_large_layers_among_threads(dtype):
    rng = np.random.default_rng(0)
    layers = random_layers(rng, [200, 300, 5], 0.5, dtype, ["tanh", "identity"])
    split = Segment([SparseLayer(*layer) for layer in layers], np.arange(200), 200, 1)
    assert split._split[:2].all()
    x = rng.standard_normal((1, 200)).astype(dtype)
    expected = reference(x, layers, np.arange(200))
    for n_threads in (1, 2, 3):
        check_close(split(x, n_threads), expected, dtype)


def test_fully_pruned_and_zero_width_layers():
    rng = np.random.default_rng(0)
    for widths in ([5, 0, 3], [5, 4, 1], [1, 1, 1]):
        layers = random_layers(rng, widths, 0.0, np.float64, ["relu", "identity"])
        X = rng.standard_normal((70, 5))[:, : widths[0]]
        expected = reference(X, layers, np.arange(widths[0]))
        for n_samples in (1, 70):
            got = run("generic", layers, np.arange(widths[0]), widths[0],
                      X[:n_samples], (1, 1), 1, 32)
            check_close(got, expected[:n_samples], np.float64)


def test_threads_share_a_segment():
    # The kernels release the GIL; concurrent calls do not disturb each other.
    rng = np.random.default_rng(0)
    layers = random_layers(rng, [50, 40, 10], 0.3, np.float64, ["relu", "identity"])
    segment = Segment([SparseLayer(*layer) for layer in layers], np.arange(50), 50)
    inputs = [rng.standard_normal((n, 50)) for n in (1, 100, 1, 300)]
    results = [None] * len(inputs)

    def work(i):
        for _ in range(20):
            results[i] = segment(inputs[i], 2, 32)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for X, got in zip(inputs, results):
        check_close(got, reference(X, layers, np.arange(50)), np.float64)


def test_each_thread_has_its_own_scratch_memory_on_a_huge_page_boundary():
    from skprune.neural._kernels import _workspace

    def address(n_values, dtype=np.float64):
        return _workspace(n_values, dtype).ctypes.data

    first = address(10)
    assert first % (2 << 20) == 0
    assert address(1000, np.float32) == first  # kept for the next calls
    grown = address(1 << 20)  # 8 MiB, more than the first buffer
    assert grown % (2 << 20) == 0
    assert _workspace(1 << 20, np.float64).nbytes == 8 << 20
    mine = _workspace(1 << 20, np.float64)
    others = []
    thread = threading.Thread(target=lambda: others.append(_workspace(10, np.float64)))
    thread.start()
    thread.join()
    assert others[0].ctypes.data % (2 << 20) == 0
    assert not np.shares_memory(others[0], mine)


# ----------------------------------------------------------------------
# Checks before the kernels
# ----------------------------------------------------------------------


@pytest.fixture
def small_segment():
    rng = np.random.default_rng(0)
    layers = random_layers(rng, [6, 4, 2], 0.6, np.float64, ["relu", "identity"])
    return Segment([SparseLayer(*layer) for layer in layers], np.arange(6), 6), layers


def test_input_of_the_wrong_shape_is_rejected(small_segment):
    segment, _ = small_segment
    for X in (np.zeros((3, 5)), np.zeros((3, 7)), np.zeros(6), np.zeros((2, 3, 6))):
        with pytest.raises(ValueError, match="X must be of shape"):
            segment(X)
    with pytest.raises(ValueError, match="tile must be a positive integer"):
        segment(np.zeros((3, 6)), 1, 0)


def test_input_is_converted_to_the_segment_layout(small_segment):
    segment, layers = small_segment
    X = np.random.default_rng(1).standard_normal((20, 12))[:, ::2]
    expected = segment(np.ascontiguousarray(X))
    assert_array_equal(segment(X), expected)
    assert_array_equal(segment(X.astype(np.float32)), segment(
        X.astype(np.float32).astype(np.float64)))
    assert_array_equal(segment(np.asfortranarray(X)), expected)


def test_corrupt_layers_are_rejected_before_any_kernel():
    rng = np.random.default_rng(0)
    (weights, bias, _), (weights2, bias2, _) = random_layers(
        rng, [6, 4, 2], 0.6, np.float64, ["relu", "identity"]
    )

    def layer():
        return SparseLayer(weights, bias, "relu")

    second = SparseLayer(weights2, bias2, "identity")
    bad = layer()
    bad.indices = bad.indices + 6
    with pytest.raises(ValueError, match="indices point past"):
        Segment([bad, second], np.arange(6), 6)
    bad = layer()
    bad.indptr = bad.indptr.copy()
    bad.indptr[-1] += 1
    with pytest.raises(ValueError, match="indptr"):
        Segment([bad, second], np.arange(6), 6)
    bad = layer()
    bad.data = bad.data[:-1]
    with pytest.raises(ValueError, match="values"):
        Segment([bad, second], np.arange(6), 6)
    bad = layer()
    bad.bias = bad.bias[:-1]
    with pytest.raises(ValueError, match="bias"):
        Segment([bad, second], np.arange(6), 6)
    with pytest.raises(ValueError, match="matching widths"):
        Segment([layer(), layer()], np.arange(6), 6)
    with pytest.raises(ValueError, match="columns of the input"):
        Segment([layer(), second], np.arange(6) + 1, 6)
    with pytest.raises(ValueError, match="first layer's inputs"):
        Segment([layer(), second], np.arange(5), 6)
    with pytest.raises(ValueError, match="Blocks of 3x1"):
        SparseLayer(weights, bias, "relu", (3, 1))
    with pytest.raises(ValueError, match="activation"):
        SparseLayer(weights, bias, "softplus")
    with pytest.raises(TypeError, match="No kernel"):
        Segment(
            [SparseLayer(weights.astype(np.float16), bias, "relu")], np.arange(6), 6
        )


def test_indices_take_the_smallest_unsigned_type():
    rng = np.random.default_rng(0)
    for n_in, expected in ((200, 1), (256, 1), (257, 2), (70_000, 4)):
        weights = np.zeros((2, n_in))
        weights[0, -1] = 1.0
        segment = Segment(
            [SparseLayer(weights, np.zeros(2), "identity")], np.arange(n_in), n_in
        )
        assert segment.index_itemsize == expected
        x = rng.standard_normal((3, n_in))
        assert_allclose(segment(x)[:, 0], x[:, -1])


def test_to_scipy_gives_back_the_weights():
    rng = np.random.default_rng(0)
    (weights, bias, _), = random_layers(rng, [13, 11], 0.3, np.float64, ["relu"])
    for block in BLOCKS:
        layer = SparseLayer(weights, bias, "relu", block)
        assert_array_equal(layer.to_scipy().toarray(), weights)
        assert layer.nnz == np.count_nonzero(weights)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", sorted({**HIDDEN, **OUTPUT}))
@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (7, 33), (64, 300)])
def test_bias_and_activation_in_one_pass_match_numpy(variant, dtype, activation, shape):
    rng = np.random.default_rng(0)
    Z = (3 * rng.standard_normal(shape)).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    code = _kernels.ACTIVATION_CODES[activation]
    out = _kernels._variant(variant).bias_activation(Z.copy(), bias, code)
    expected = {**HIDDEN, **OUTPUT}[activation](Z.astype(np.float64) + bias)
    assert out.dtype == dtype and out.shape == shape
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    assert_allclose(out, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("activation", ["identity", "relu", "softmax"])
def test_bias_and_activation_keep_a_nan(activation):
    Z = np.array([[np.nan, 1.0, -2.0]])
    out = _kernels.bias_activation(
        Z, np.zeros(3), _kernels.ACTIVATION_CODES[activation]
    )
    assert np.isnan(out[0, 0])


def test_bias_and_activation_refuse_what_they_cannot_read():
    Z, bias = np.zeros((2, 3)), np.zeros(3)
    relu = _kernels.ACTIVATION_CODES["relu"]
    for wrong in (
        (Z, np.zeros(4)),  # bias of another width
        (Z, bias.astype(np.float32)),  # another dtype
        (Z.astype(np.int64), bias.astype(np.int64)),  # not float
        (np.zeros(3), bias),  # not 2-D
    ):
        with pytest.raises(ValueError, match="bias"):
            _kernels.bias_activation(*wrong, relu)
    with pytest.raises(ValueError, match="contiguous"):
        _kernels.bias_activation(np.zeros((3, 6))[:, ::2], bias, relu)
    read_only = Z.copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _kernels.bias_activation(read_only, bias, relu)
    with pytest.raises(ValueError, match="code"):
        _kernels.bias_activation(Z, bias, 6)
