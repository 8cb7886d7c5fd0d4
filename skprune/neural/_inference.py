"""Fast CPU inference of pruned multilayer perceptrons.

:class:`InferencePlan` is built once from the fitted weights of a network and
then computes its output for any batch. Building it

1. *compacts* the network: a hidden unit with no nonzero outgoing weight is
   removed, and so is a hidden unit with no nonzero incoming weight, whose
   value is the constant ``f(bias)``; that constant times the unit's outgoing
   weights is added to the next layer's bias first. Removing units removes
   rows and columns for real, so the layers around them shrink too, and the
   sweep is repeated through the network until nothing more can go. Input
   features with no nonzero weight are never read.
2. keeps every compacted weight matrix in the forms that its kernels may
   ever use: dense (multiplied by BLAS), CSR or blocks of weights (multiplied
   by the compiled kernels of :mod:`skprune.neural._kernels`), in the
   network's dtype.

At each call, the kernel of every layer is chosen for the batch size and the
number of threads by :class:`CostModel`, whose costs are measured on the
machine the first time a plan of that dtype is built in the process.
Consecutive sparse layers form a segment that the compiled kernels run in
one call: one sample layer by layer (a large layer splitting its rows among
threads), a batch tile by tile through all the segment's layers, each
thread taking whole tiles, so that a tile's activations stay in its core's
cache. The tile size of a segment is measured on the first batch large
enough to have a choice, and whether several threads pay is measured on
the plan's own calls (:class:`ThreadChoice`). Dense layers between segments
go through BLAS, on one thread; a plan of dense layers only, which is the
dense forward pass, leaves BLAS its threads. A dense layer's bias and
activation follow its product in one compiled pass.
"""

import hashlib
import math
import time
import weakref
from collections import deque
from functools import partial
from statistics import median_high

import numpy as np
from scipy import sparse

from . import _kernels
from ._base import ACTIVATIONS
from ._blas import one_blas_thread

PLAN_KERNELS = ("auto", "csr", "block", "compact", "dense")

BLOCK_SHAPES = ((1, 4), (1, 8), (1, 2), (2, 4), (2, 2), (4, 1), (8, 1), (2, 1))
"""Block shapes of ``coefs_`` (inputs, outputs) the block kernels run.

A block of ``(a, b)`` weights links ``a`` inputs to ``b`` outputs. The shapes
of one input by several outputs, ``(1, 8)`` and ``(1, 4)``, run fastest:
every input value read serves all the block's outputs, whose sums stay in
registers. Blocks of several inputs run no faster than CSR.
"""

TILE_SIZES = (32, 64, 128, 256)
"""Samples per tile among which a segment's tile size is measured."""

# Batch sizes at which the cost model is evaluated to decide which forms a
# layer keeps; powers of two up to about a million samples.
_PROBE_BATCH_SIZES = (1, *(2**k for k in range(1, 21)))
_MAX_CACHED_CHOICES = 64

# Times of close candidate plans, per network (see InferencePlan._measured):
# copies of a network in one process choose alike, hence give the same bits.
# A record lives as long as a plan holds it, and the latest records a while
# longer, so that an identically refitted network finds its predecessor's.
_MEASURED_BY_NETWORK = weakref.WeakValueDictionary()
_RECENTLY_MEASURED = deque(maxlen=_MAX_CACHED_CHOICES)
# Blocks of a shape are used if at least this fraction of the values they
# store are nonzero.
_MIN_BLOCK_FILL = 0.9
# Rounds of the interleaved measurement of a segment's tile size.
_TILE_ROUNDS = 4
# Largest activations a tile may hold (two buffers), in bytes.
_MAX_TILE_BYTES = 4 * 2**20
# Candidate plans (the cheapest, dense layers only, which is numpy's own
# forward pass, and sparse layers only) predicted within this factor of the
# cheapest are timed on the first batch of each size (by powers of two).
_CLOSE_CALL = 2.0
# Samples and rounds of that measurement; calls shorter than the time given
# are repeated.
_CHOICE_SAMPLES = 512
_CHOICE_ROUNDS = 5
_CHOICE_MIN_TIME = 2e-4
# Smallest layer (nonzeros) that one sample may split among threads; whether
# it pays is measured by ThreadChoice.
_MIN_SPLIT_NNZ = 20_000
# Most values of a dense layer's output whose bias and activation the
# compiled pass applies (one call and one pass, where numpy takes two to six
# of each); beyond them numpy's vectorised tanh, exp... are faster than the
# C library's, which the compiled pass calls value by value.
_FUSED_MAX_VALUES = {"identity": math.inf, "relu": math.inf, "tanh": 128}
_FUSED_MAX_OTHER = 1024
# Least margin by which a plan must beat dense layers only on one thread to
# be run instead of them on several (see InferencePlan._blas_threads_gain).
_THREADS_MARGIN = 1.1
# Products of up to this many multiply-adds, and products of one sample by
# up to this many weights, run on one BLAS thread (OpenBLAS's thresholds for
# matrix-matrix and matrix-vector products; other libraries have theirs).
_BLAS_SERIAL_MADDS = 4 * 65536
_BLAS_SERIAL_GEMV = 4 * 115200
# Smallest dense layer (weights) whose layout for one sample is measured,
# and the margin by which the transposed layout must be faster.
_MIN_LAYOUT_WEIGHTS = 4096
_LAYOUT_MARGIN = 0.95


# ----------------------------------------------------------------------
# Costs, measured where the plan runs
# ----------------------------------------------------------------------


class CostModel:
    """Predicted time, in nanoseconds, of the products of a layer.

    Every kernel has three costs: a call overhead, a cost per stored weight
    for one sample (bound by reading the weights, or by gathering the input
    for sparse kernels) and a cost per stored weight and sample for a batch
    (bound by multiply-adds). Consecutive sparse layers run in one call of
    the compiled kernels, which pays its overhead once and ``copy`` per
    value of its input and output to change their layout. :meth:`measure`
    times all of them on this machine; :func:`measured_cost_model` keeps one
    measured model per dtype.

    Parameters
    ----------
    costs : dict
        ``{kernel: (call, vector, madd)}`` for ``"dense"``, ``"csr"`` and
        block shapes ``(R, C)`` of the kernels (``R`` outputs by ``C``
        inputs). A block shape that is missing costs what ``"csr"`` costs.
    copy : float, default=0.5
        Per value entering or leaving a segment of sparse layers.
    dense_output : float, default=0.0
        Per output value of a dense layer: adding the bias and applying the
        activation, passes of their own after BLAS (the compiled kernels
        fuse them), which a layer of few inputs pays as much as its product.
    split_nnz : int, default=20000
        Nonzeros from which one sample may split a layer's rows among
        threads (a parallel region costs a few microseconds); whether it
        pays is measured while the plan runs, by :class:`ThreadChoice`.
    """

    def __init__(self, costs, copy=0.5, split_nnz=_MIN_SPLIT_NNZ, dense_output=0.0):
        self.costs = dict(costs)
        self.copy = float(copy)
        self.dense_output = float(dense_output)
        self.split_nnz = int(split_nnz)

    def cost(self, kernel, n_weights, n_samples, n_threads=1):
        """Predicted time of ``kernel`` over ``n_weights``, call included."""
        return self.call(kernel) + self.work(kernel, n_weights, n_samples, n_threads)

    def call(self, kernel):
        return self.costs.get(kernel, self.costs["csr"])[0]

    def work(self, kernel, n_weights, n_samples, n_threads=1):
        """Predicted time of ``kernel`` over ``n_weights``, without the call."""
        _, vector, madd = self.costs.get(kernel, self.costs["csr"])
        if n_samples == 1:
            if kernel == "dense" or n_weights >= self.split_nnz:
                vector /= n_threads
            return n_weights * vector
        per_weight = max(vector, madd * n_samples)
        return n_weights * per_weight / min(n_threads, n_samples)

    def copies(self, n_values, n_samples, n_threads=1):
        """Predicted time of changing the layout of ``n_values`` per sample."""
        return self.copy * n_values * n_samples / min(n_threads, n_samples)

    def dense_outputs(self, n_values, n_samples, n_threads=1):
        """Predicted time of the bias and activation of a dense layer."""
        return self.dense_output * n_values * n_samples / min(n_threads, n_samples)

    @classmethod
    def measure(cls, dtype, block_shapes=()):
        """Costs of the kernels for ``dtype`` on this machine, one thread,
        by the CPU time of the calling thread.

        About 0.1 s: products of a 512x512 matrix of 10% nonzeros (blocks of
        the same fill for block shapes), for 1 and 128 samples.
        """
        rng = np.random.default_rng(0)
        costs = {}
        with one_blas_thread():
            costs["dense"] = _measure_dense(dtype, rng)
            dense_output = _measure_dense_output(dtype, rng, costs["dense"])
        costs["csr"] = _measure_sparse(dtype, (1, 1), rng)
        for block in block_shapes:
            costs[block] = _measure_sparse(dtype, block, rng)
        return cls(
            costs, copy=_measure_copy(dtype, rng), dense_output=dense_output
        )


# One-thread work is timed by the CPU time of the thread where that clock is
# fine-grained: other processes on the machine then do not count.
_CPU_CLOCK = (
    time.thread_time
    if time.get_clock_info("thread_time").resolution <= 1e-6
    else time.perf_counter
)


def _best_time(function, min_time=2e-3, repeats=3, clock=_CPU_CLOCK):
    """Shortest time of ``function``, in nanoseconds per call.

    The default clock counts the calling thread only: pass
    ``time.perf_counter`` for functions that run threads.
    """
    function()
    loops = 1
    while True:
        start = clock()
        for _ in range(loops):
            function()
        elapsed = clock() - start
        if elapsed >= min_time or loops >= 1 << 16:
            break
        loops *= 4
    best = elapsed / loops
    for _ in range(repeats - 1):
        start = clock()
        for _ in range(loops):
            function()
        best = min(best, (clock() - start) / loops)
    return best * 1e9


def _interleaved_best_times(functions, rounds, clock=time.perf_counter, min_time=0.0):
    """Shortest time of every function of a dict over ``rounds`` rounds that
    call each in turn, after two first calls each; a function whose second
    call is shorter than ``min_time`` is called that long in a row, after an
    untimed call.

    Interleaved, a burst of load from elsewhere slows all of them alike
    instead of the few that it happens to fall on. The first call builds
    what a function builds once; the untimed call brings a short function's
    weights back into the cache that the others used: repeated calls, as
    they are timed, find them there.
    """
    loops = {}
    for key, function in functions.items():
        function()
        start = clock()
        function()
        loops[key] = max(1, min(int(min_time / max(clock() - start, 1e-7)), 1000))
    best = dict.fromkeys(functions, math.inf)
    for _ in range(rounds):
        for key, function in functions.items():
            if loops[key] > 1:
                function()
            start = clock()
            for _ in range(loops[key]):
                function()
            best[key] = min(best[key], (clock() - start) / loops[key])
    return best


def _fit_costs(small, one, batch, n_weights, n_batch):
    """(call, vector, madd) from the times of a tiny, a 1-sample and a batch call."""
    call = small
    vector = max(one - call, 0.0) / n_weights
    madd = max(batch - call, 0.0) / (n_weights * n_batch)
    return call, vector, madd


_CALIBRATION = {"n_in": 512, "n_out": 512, "density": 0.1, "n_batch": 128}


def _measure_dense(dtype, rng):
    n_in, n_out, n_batch = (_CALIBRATION[k] for k in ("n_in", "n_out", "n_batch"))
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    tiny = W[:8, :8].copy()
    x, X = (rng.standard_normal((n, n_in)).astype(dtype) for n in (1, n_batch))
    _, vector, madd = _fit_costs(
        _best_time(lambda: x[:, :8] @ tiny),
        _best_time(lambda: x @ W),
        _best_time(lambda: X @ W),
        W.size,
        n_batch,
    )
    # The call of a dense stage: a tiny product with its bias and a softmax.
    stage = _Layer(tiny, np.zeros(8, dtype), None, "softmax", None)
    return _best_time(lambda: stage.dense_product(x[:, :8])), vector, madd


def _measure_dense_output(dtype, rng, dense_costs):
    """Time per output value of a dense layer beyond its product: a layer of
    8 inputs, whose product is cheap, less its predicted product."""
    n_out, n_batch = _CALIBRATION["n_out"], _CALIBRATION["n_batch"]
    n_in = 8
    layer = _Layer(
        rng.standard_normal((n_in, n_out)).astype(dtype),
        np.zeros(n_out, dtype), None, "relu", None,
    )
    X = rng.standard_normal((n_batch, n_in)).astype(dtype)
    call, _, madd = dense_costs
    product = call + madd * n_in * n_out * n_batch
    return max(_best_time(lambda: layer.dense_product(X)) - product, 0.0) / (
        n_out * n_batch
    )


def _segment(weights, block=(1, 1)):
    n_out, n_in = weights.shape
    bias = np.zeros(n_out, weights.dtype)
    layer = _kernels.SparseLayer(weights, bias, "identity", block)
    return _kernels.Segment([layer], np.arange(n_in), n_in), layer


def _measure_sparse(dtype, block, rng):
    n_in, n_out, n_batch = (_CALIBRATION[k] for k in ("n_in", "n_out", "n_batch"))
    R, C = block
    kept = rng.random((n_out // R, n_in // C)) < _CALIBRATION["density"]
    mask = np.kron(kept, np.ones((R, C), dtype=bool))
    W = (rng.standard_normal((n_out, n_in)) * mask).astype(dtype)
    segment, layer = _segment(W, block)
    tiny, _ = _segment(W[:8, :8], block)
    x, X = (rng.standard_normal((n, n_in)).astype(dtype) for n in (1, n_batch))
    # The batch time less that of copying its input in and its output out.
    empty, _ = _segment(np.zeros_like(W))
    return _fit_costs(
        _best_time(lambda: tiny(x[:, :8])),
        _best_time(lambda: segment(x)),
        _best_time(lambda: segment(X, 1, 64)) - _best_time(lambda: empty(X, 1, 64)),
        layer.n_stored,
        n_batch,
    )


def _measure_copy(dtype, rng):
    """Time per value of a segment's input and output copies."""
    n_in, n_batch = _CALIBRATION["n_in"], _CALIBRATION["n_batch"]
    empty, _ = _segment(np.zeros((n_in, n_in), dtype=dtype))
    X = rng.standard_normal((n_batch, n_in)).astype(dtype)
    return _best_time(lambda: empty(X, 1, 64)) / (2 * n_in * n_batch)


_MEASURED = {}


def measured_cost_model(dtype, block_shapes=()):
    """The cost model measured for ``dtype`` in this process (once)."""
    dtype = np.dtype(dtype)
    model = _MEASURED.get(dtype)
    if model is None:
        model = _MEASURED[dtype] = CostModel.measure(dtype)
    missing = [b for b in block_shapes if b not in model.costs]
    if missing:
        rng = np.random.default_rng(0)
        for block in missing:
            model.costs[block] = _measure_sparse(dtype, block, rng)
    return model


# ----------------------------------------------------------------------
# Threads, measured while the plan runs
# ----------------------------------------------------------------------


class ThreadChoice:
    """Whether several threads or one run a batch faster, from the plan's calls.

    Threads pay only when they have the cores: right after a multi-threaded
    BLAS call OpenBLAS's workers keep spinning for about 0.1 s, and other
    processes may hold the cores; the threads then wait for one another and
    a call can take 10 to 400 times as long as on one thread. So the plan
    times its own calls. For every number of threads and batch size (by
    powers of two) it keeps the last times per sample on one thread and on
    several, runs the faster, and tries the other again later: after
    ``min_interval`` seconds, twice as long after each try that loses (up to
    ``max_interval``), but never sooner than ``cost_ratio`` times the
    duration of the losing call, so that tries cost at most about
    ``1 / cost_ratio`` of the time; and as soon as that bound allows when
    the median time of the one it runs doubles.

    Parameters
    ----------
    min_interval, max_interval : float, default=0.05, 1.0
        Seconds between two tries of the option not chosen.
    cost_ratio : float, default=50
        A try waits at least this many times the last losing call.
    window : int, default=3
        Times kept per option; their medians are compared. The first call of
        each option (which builds its stages and measures their tile sizes)
        is not counted, and an option more than twice as slow as the other
        after one counted call waits for its next try.
    clock : callable, default=time.perf_counter
    """

    def __init__(
        self, min_interval=0.05, max_interval=1.0, cost_ratio=50, window=3, clock=None
    ):
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.cost_ratio = cost_ratio
        self.window = window
        self.clock = time.perf_counter if clock is None else clock
        self._state = {}

    def choose(self, n_samples, n_threads):
        """Threads to run a batch of ``n_samples`` with: ``n_threads`` or 1."""
        if n_threads <= 1:
            return 1
        state = self._state_of(n_samples, n_threads)
        best = state["best"]
        if best is None:
            for option in (1, n_threads):
                if option not in state["warm"]:
                    return option
            times = state["times"]
            return 1 if len(times[1]) <= len(times[n_threads]) else n_threads
        if self.clock() >= state["retry_at"]:
            return n_threads + 1 - best  # the other option
        return best

    def record(self, n_samples, n_threads, used, seconds):
        """Note that a batch of ``n_samples`` took ``seconds`` on ``used`` threads."""
        if n_threads <= 1:
            return
        state = self._state_of(n_samples, n_threads)
        times = state["times"]
        per_sample = seconds / n_samples
        best = state["best"]
        if best is None:
            if used not in state["warm"]:
                # The first call builds the stages and measures the tiles.
                state["warm"].add(used)
                return
            times[used].append(per_sample)
            one, many = (
                median_high(times[k]) if times[k] else None for k in (1, n_threads)
            )
            if one is None or many is None:
                return
            if max(one, many) > 2 * min(one, many) or all(
                len(t) >= self.window for t in times.values()
            ):
                state["best"] = 1 if one <= many else n_threads
                loser = max(one, many) * n_samples
                self._retry_later(state, self.min_interval, loser)
            return
        if used == best:
            times[used].append(per_sample)
            if median_high(times[used]) > 2 * state["reference"]:
                state["retry_at"] = min(state["retry_at"], state["earliest"])
            return
        # A try of the other option: its fresh time against the best's.
        times[used].clear()
        times[used].append(per_sample)
        if per_sample < median_high(times[best]):
            state["best"] = used
            loser = median_high(times[best]) * n_samples
            self._retry_later(state, self.min_interval, loser)
        else:
            interval = min(2 * state["interval"], self.max_interval)
            self._retry_later(state, interval, seconds)

    def _retry_later(self, state, interval, loser_seconds):
        """Try the option not chosen again after ``interval`` seconds or more."""
        now = self.clock()
        state["earliest"] = now + self.cost_ratio * loser_seconds
        state["reference"] = median_high(state["times"][state["best"]])
        state["interval"] = max(interval, self.cost_ratio * loser_seconds)
        state["retry_at"] = now + state["interval"]

    def _state_of(self, n_samples, n_threads):
        key = (n_threads, int(n_samples).bit_length())
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = {
                "times": {
                    n_threads: deque(maxlen=self.window),
                    1: deque(maxlen=self.window),
                },
                "warm": set(),
                "best": None,
                "reference": 0.0,
                "earliest": 0.0,
                "interval": self.min_interval,
                "retry_at": 0.0,
            }
        return state


# ----------------------------------------------------------------------
# Layers and the stages that run them
# ----------------------------------------------------------------------


def _kernel_block(coef_block):
    """Block of the kernels (outputs, inputs) for a block of ``coefs_``."""
    return coef_block[1], coef_block[0]


def find_block_shape(coef, shapes=BLOCK_SHAPES):
    """Largest block shape whose blocks of ``coef`` are mostly nonzero.

    Returns None when no shape of ``shapes`` stores at least 90% nonzeros.
    """
    nonzero = coef != 0
    nnz = int(np.count_nonzero(nonzero))
    if nnz == 0:
        return None
    best = None
    for shape in sorted(shapes, key=lambda s: -s[0] * s[1]):
        a, b = shape
        rows, cols = -(-coef.shape[0] // a), -(-coef.shape[1] // b)
        padded = np.zeros((rows * a, cols * b), dtype=bool)
        padded[: coef.shape[0], : coef.shape[1]] = nonzero
        n_blocks = np.count_nonzero(padded.reshape(rows, a, cols, b).any(axis=(1, 3)))
        if nnz >= _MIN_BLOCK_FILL * n_blocks * a * b:
            best = shape
            break
    return best


class _Layer:
    """One compacted weight matrix and the forms its kernels multiply."""

    def __init__(self, coef, bias, features, activation, block_shape):
        # coef: (n_in, n_out) as stored by the network; features: the input
        # units it reads (None: all of them).
        # The dense form keeps the rows of the features not read: the
        # product then reads the input in place, where gathering the
        # features read would copy it.
        self.dense = np.ascontiguousarray(coef)
        self.dense_n_in = coef.shape[0]
        self.features = features
        self.unread = None
        if features is not None:
            self.unread = np.setdiff1d(np.arange(coef.shape[0]), features)
            coef = coef[features]
        self.n_in, self.n_out = coef.shape
        self.nnz = int(np.count_nonzero(coef))
        # A NaN or infinity read by a row with a nonzero weight reaches the
        # product, whatever a BLAS library skips, so the product can check it.
        self.reads_every_row = bool(coef.any(axis=1).all())
        self.bias = bias
        self.activation = activation
        self.activation_code = _kernels.ACTIVATION_CODES[activation]
        self.fused_max = _FUSED_MAX_VALUES.get(activation, _FUSED_MAX_OTHER)
        self.block_shape = block_shape
        self.sparse = {"csr": _kernels.SparseLayer(coef.T, bias, activation)}
        if block_shape is not None:
            self.sparse["block"] = _kernels.SparseLayer(
                coef.T, bias, activation, _kernel_block(block_shape)
            )
        self.kernels = ("dense", *self.sparse)

    def keep(self, kernels):
        """Forget the forms of the kernels not in ``kernels``."""
        self.kernels = tuple(k for k in self.kernels if k in kernels)
        if "dense" not in kernels:
            self.dense = None
        self.sparse = {k: v for k, v in self.sparse.items() if k in kernels}

    def cost_key(self, kernel):
        """Key of ``kernel`` in a cost model's costs."""
        if kernel == "block":
            return self.sparse["block"].block
        return kernel

    def n_weights(self, kernel):
        """Weights the kernel multiplies per sample."""
        if kernel == "dense":
            return self.dense_n_in * self.n_out
        return self.sparse[kernel].n_stored

    def dense_product(self, H, check_finite=False):
        """Activations of the layer for ``H`` of shape (n_samples, n_in),
        ``n_in`` counting the features not read.

        With ``check_finite``, return None if ``H`` may hold a NaN or an
        infinity.
        """
        Z = H @ self.dense
        if check_finite and not self._finite_input(H, Z):
            return None
        return self.bias_activation(Z)

    def bias_activation(self, Z):
        """The layer's activation of ``Z + bias``, in place in ``Z`` (a
        C-contiguous product of the layer's dtype)."""
        if Z.size <= self.fused_max:
            return _kernels.bias_activation(Z, self.bias, self.activation_code)
        Z += self.bias
        return ACTIVATIONS[self.activation](Z)

    def _finite_input(self, H, Z, blas_threads=False):
        """Whether ``H`` holds no NaN or infinity, given ``Z = H @ dense``.

        A NaN or infinity in a feature read reaches ``Z`` (NaN times 0 and
        infinity times 0 are NaN), so a finite ``Z``, often smaller than
        ``H``, clears them; the features not read are checked apart. A ``Z``
        that is not finite may have overflowed from finite inputs: ``H``
        itself is checked then. ``blas_threads``: see :func:`all_finite`.
        """
        if self.reads_every_row and Z.size < H.size and all_finite(Z, blas_threads):
            return self.unread is None or all_finite(H[:, self.unread], blas_threads)
        return all_finite(H, blas_threads)


# BLAS libraries run dot products this short on one thread (OpenBLAS up to
# 10,000 values), so limiting them would only cost time.
_BLAS_SERIAL_DOT = 10_000
# Up to this many such dot products check an array faster than one BLAS
# thread is set and restored (about 4 us).
_SERIAL_DOT_CHUNKS = 4


def all_finite(X, blas_threads=False):
    """Whether a float ndarray holds no NaN or infinity (False also if a
    sum of squares overflows, which a full check must then clear).

    One BLAS thread unless ``blas_threads``: the workers of a multi-threaded
    call would keep spinning on the cores that the compiled kernels right
    after it need; BLAS's own products, after it, do not mind them.
    """
    if X.size <= _BLAS_SERIAL_DOT:
        return math.isfinite(np.vdot(X, X))
    if X.size <= _SERIAL_DOT_CHUNKS * _BLAS_SERIAL_DOT:
        # A few serial dot products cost less than changing BLAS's threads.
        flat = X.reshape(-1)
        return all(
            math.isfinite(np.dot(chunk, chunk))
            for chunk in (
                flat[i : i + _BLAS_SERIAL_DOT]
                for i in range(0, len(flat), _BLAS_SERIAL_DOT)
            )
        )
    if blas_threads:
        return math.isfinite(np.vdot(X, X))
    with one_blas_thread():
        return math.isfinite(np.vdot(X, X))


class _DenseStage:
    """A dense layer, multiplied by BLAS.

    Between sparse layers it runs on one BLAS thread: OpenBLAS's workers
    keep spinning after a multi-threaded call and would take the cores of
    the compiled kernels' threads.
    """

    def __init__(self, layer, single_blas_thread=False):
        self.layer = layer
        self.single_blas_thread = single_blas_thread

    def __call__(self, H, n_threads, tile, check_finite=False):
        if not self.single_blas_thread:
            return self.layer.dense_product(H, check_finite)
        with one_blas_thread():
            return self.layer.dense_product(H, check_finite)


class _SparseStage:
    """Consecutive sparse layers, run by the compiled kernels in one call."""

    def __init__(self, layers, kernels, n_features, split_nnz):
        first = layers[0]
        features = first.features
        if features is None:
            features = np.arange(first.n_in)
        self.segment = _kernels.Segment(
            [layer.sparse[kernel] for layer, kernel in zip(layers, kernels)],
            features,
            n_features,
            split_nnz,
        )
        self._tiles = {}

    def __call__(self, H, n_threads, tile, check_finite=False):
        if tile is None and len(H) > 1:
            tile = self._tiles.get(n_threads)
            if tile is None:
                tile = self._measure_tile(H, n_threads)
            # Enough tiles for every thread.
            share = -(-len(H) // n_threads)
            tile = min(tile, max(TILE_SIZES[0], -(-share // 8) * 8))
        return self.segment(H, n_threads, tile or 1, check_finite)

    def _measure_tile(self, H, n_threads):
        """The fastest tile size on up to 512 samples of ``H``, kept."""
        tiles = [
            t
            for t in TILE_SIZES
            if 2 * self.segment.buffer_rows * t * H.itemsize <= _MAX_TILE_BYTES
        ] or [TILE_SIZES[0]]
        if len(H) < 2 * TILE_SIZES[0] or len(tiles) == 1:
            return tiles[0]  # too small a batch to tell; measured later
        sample = np.ascontiguousarray(H[: max(TILE_SIZES[-1] * n_threads, 512)])
        times = _interleaved_best_times(
            {t: partial(self.segment, sample, n_threads, t) for t in tiles},
            _TILE_ROUNDS,
        )
        best = min(times, key=times.get)
        self._tiles[n_threads] = best
        return best


def _constant_units(coef_in, bias, activation):
    """Units without a nonzero incoming weight and their constant value."""
    no_input = ~coef_in.any(axis=0)
    values = ACTIVATIONS[activation](bias[no_input].astype(np.float64))
    return np.flatnonzero(no_input), values


def compact_network(coefs, intercepts, activation):
    """Remove the hidden units that do not change the output.

    Parameters
    ----------
    coefs : list of ndarray
        ``coefs[i]`` of shape ``(n_units[i], n_units[i + 1])``.
    intercepts : list of ndarray
        ``intercepts[i]`` of shape ``(n_units[i + 1],)``.
    activation : str
        Activation of the hidden layers.

    Returns
    -------
    coefs, intercepts : list of ndarray
        New arrays of the compacted network; the input and output widths are
        unchanged.
    kept_units : list of ndarray
        Indices, in the original network, of the hidden units of each hidden
        layer that are kept.
    """
    coefs = [np.asarray(c) for c in coefs]
    intercepts = [np.array(b, copy=True) for b in intercepts]
    kept = [np.arange(c.shape[1]) for c in coefs[:-1]]
    # Forward: a unit without input is the constant f(b); fold it into the
    # next layer's bias. Removing its outgoing row may leave units of the
    # next layer without input, which the next iteration sees.
    for k in range(len(coefs) - 1):
        units, values = _constant_units(coefs[k], intercepts[k], activation)
        if len(units) == 0:
            continue
        contribution = values @ coefs[k + 1][units].astype(np.float64)
        bias = intercepts[k + 1].astype(np.float64) + contribution
        intercepts[k + 1] = bias.astype(intercepts[k + 1].dtype)
        keep = np.setdiff1d(np.arange(coefs[k].shape[1]), units)
        coefs, intercepts, kept = _keep_units(coefs, intercepts, kept, k, keep)
    # Backward: a unit without a nonzero outgoing weight is dead; removing
    # its incoming column may leave units of the previous layer without
    # output, which the next iteration sees.
    for k in range(len(coefs) - 2, -1, -1):
        keep = np.flatnonzero(coefs[k + 1].any(axis=1))
        if len(keep) < coefs[k].shape[1]:
            coefs, intercepts, kept = _keep_units(coefs, intercepts, kept, k, keep)
    return coefs, intercepts, kept


def _keep_units(coefs, intercepts, kept, k, keep):
    """Keep only the units ``keep`` of hidden layer ``k + 1`` (1-based)."""
    coefs = list(coefs)
    intercepts = list(intercepts)
    kept = list(kept)
    coefs[k] = coefs[k][:, keep]
    intercepts[k] = intercepts[k][keep]
    coefs[k + 1] = coefs[k + 1][keep]
    kept[k] = kept[k][keep]
    return coefs, intercepts, kept


class InferencePlan:
    """Forward pass of a fitted network through its fastest kernels.

    Parameters
    ----------
    coefs : list of ndarray
        Weight matrices, ``coefs[i]`` of shape ``(n_units[i], n_units[i + 1])``.
    intercepts : list of ndarray
        Biases, ``intercepts[i]`` of shape ``(n_units[i + 1],)``.
    activation : str
        Activation of the hidden layers.
    out_activation : str
        Activation of the output layer.
    kernel : {"auto", "csr", "block", "compact", "dense"}, default="auto"
        ``"auto"`` compacts the network and chooses the kernel of every layer
        at each call with ``cost_model``; ``"csr"`` compacts it and always
        uses the compiled CSR kernels, ``"block"`` the block kernels where a
        block shape fits the layer (CSR elsewhere), ``"compact"`` dense
        products; ``"dense"`` keeps the network as it is, with dense products
        (the reference).
    cost_model : CostModel, default=None
        Cost model of ``kernel="auto"``; None measures one on this machine
        (once per process and dtype, about 0.1 s).
    n_threads : int, default=None
        Most threads of the compiled kernels: None follows the OpenMP limit
        in force (``OMP_NUM_THREADS``, :func:`threadpoolctl.threadpool_limits`),
        at most the number of physical cores; a negative value counts from
        the number of cores as ``n_jobs`` does. Each batch size runs on that
        many threads or on one, whichever :attr:`thread_choice` measured
        faster in the latest calls.
    tile_size : int, default=None
        Samples per tile of a batch; None measures the fastest of
        :data:`TILE_SIZES` on the first batch large enough.
    block_shape : tuple of (int, int), default=None
        Block shape of ``coefs`` (inputs, outputs) for the block kernels;
        None takes, for every layer, the largest shape of
        :data:`BLOCK_SHAPES` whose blocks are at least 90% nonzero.

    Attributes
    ----------
    n_features_in : int
        Number of inputs.
    dtype : numpy.dtype
        Dtype of the weights; inputs are cast to it.
    n_units : list of int
        Width of every layer after compaction, input and output included.
    layers : list
        The compacted layers.
    thread_choice : ThreadChoice
        Times of the latest calls, with several threads and with one.
    """

    def __init__(
        self,
        coefs,
        intercepts,
        activation,
        out_activation,
        *,
        kernel="auto",
        cost_model=None,
        n_threads=None,
        tile_size=None,
        block_shape=None,
    ):
        if kernel not in PLAN_KERNELS:
            raise ValueError(f"kernel must be one of {PLAN_KERNELS}, got {kernel!r}.")
        _check_block_shape(block_shape)
        if tile_size is not None and (
            not isinstance(tile_size, (int, np.integer)) or tile_size < 1
        ):
            raise ValueError(f"tile_size must be a positive int, got {tile_size!r}.")
        self.activation = activation
        self.out_activation = out_activation
        self.kernel = kernel
        self.n_threads = n_threads
        self.tile_size = tile_size
        self.dtype = np.asarray(coefs[0]).dtype
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"Weights must be float32 or float64, got {self.dtype}.")
        self.n_features_in = coefs[0].shape[0]
        if kernel != "dense":
            coefs, intercepts, _ = compact_network(coefs, intercepts, activation)
        self.layers = []
        for k, (coef, bias) in enumerate(zip(coefs, intercepts)):
            coef = np.asarray(coef, dtype=self.dtype)
            features = None
            if k == 0 and kernel != "dense":
                used = np.flatnonzero(coef.any(axis=1))
                features = used if len(used) < coef.shape[0] else None
            block = None
            if kernel in ("auto", "block"):
                block = _layer_block_shape(coef, block_shape)
            self.layers.append(
                _Layer(
                    coef,
                    np.asarray(bias, dtype=self.dtype),
                    features,
                    activation if k < len(coefs) - 1 else out_activation,
                    block,
                )
            )
        self.n_units = [self.n_features_in] + [layer.n_out for layer in self.layers]
        measured = cost_model is None
        if kernel == "auto":
            blocks = {
                layer.sparse["block"].block
                for layer in self.layers if layer.block_shape
            }
            if measured:
                cost_model = measured_cost_model(self.dtype, sorted(blocks))
        self.cost_model = cost_model
        self._measure_choices = kernel == "auto" and measured
        # Before the layers forget their dense forms.
        self._measured = {}
        if self._measure_choices:
            self._measured = _measured_times_of(self.layers)
        for layer, kernels in zip(self.layers, self._possible_kernels()):
            layer.keep(kernels)
        self._choices = {}
        self._stages = {}
        self.thread_choice = ThreadChoice()
        split_nnz = getattr(cost_model, "split_nnz", _MIN_SPLIT_NNZ)
        self._may_split = any(layer.nnz >= split_nnz for layer in self.layers)
        self._all_dense = ("dense",) * len(self.layers)
        # The dense weights of every layer, if all have them; for one
        # sample, in the layout BLAS multiplies faster (see
        # _one_sample_weights).
        self._dense_chain = None
        if all("dense" in layer.kernels for layer in self.layers):
            self._dense_chain = [layer.dense for layer in self.layers]
        self._one_sample_chain = None

    def _possible_kernels(self):
        """Kernels each layer may run, for any batch size and threads."""
        if self.kernel in ("dense", "compact"):
            return [{"dense"}] * len(self.layers)
        if self.kernel == "csr":
            return [{"csr"}] * len(self.layers)
        if self.kernel == "block":
            return [
                {"block" if "block" in layer.sparse else "csr"} for layer in self.layers
            ]
        possible = [set() for _ in self.layers]
        for n_samples in _PROBE_BATCH_SIZES:
            for n_threads in (1, _kernels.effective_n_threads(-1)):
                for candidate in self._candidates(n_samples, n_threads).values():
                    for kernels, kernel in zip(possible, candidate):
                        kernels.add(kernel)
        return possible

    def _candidates(self, n_samples, n_threads):
        """Kernels of every layer worth running, by kind, the cheapest
        predicted first.

        Three kinds: the cheapest plan of :meth:`_cheapest`, dense layers
        only, on all of BLAS's threads (no compiled kernels then compete for
        the cores; this is numpy's own forward pass, which a plan must never
        be slower than), and sparse layers only. Those predicted within a
        factor ``_CLOSE_CALL`` of the cheapest are measured by
        :meth:`kernels_for`, unless the cost model was given; dense layers
        only, within ``_CLOSE_CALL`` times the threads: the predicted gain
        of the compiled kernels' threads (one sample splitting its layers,
        above all) is what the threads often do not deliver.
        """
        costs = {}
        kinds = {}
        costs["mixed"], kinds["mixed"] = self._cheapest(n_samples, n_threads)
        costs["sparse"], kinds["sparse"] = self._cheapest(
            n_samples, n_threads, sparse_only=True
        )
        kinds["dense"] = ("dense",) * len(self.layers)
        costs["dense"] = self._all_dense_cost(n_samples, n_threads)
        least = min(costs.values())
        candidates = {}
        for kind in sorted(costs, key=costs.get):
            margin = _CLOSE_CALL * (n_threads if kind == "dense" else 1)
            if costs[kind] <= margin * least and kinds[kind] not in candidates.values():
                candidates[kind] = kinds[kind]
        if not self._measure_choices:
            kind = next(iter(candidates))
            return {kind: candidates[kind]}
        return candidates

    def _cheapest(self, n_samples, n_threads, sparse_only=False):
        """Predicted time and kernels of the cheapest plan, dense layers
        running on one BLAS thread (none if ``sparse_only``); time inf if
        there is no such plan.

        Dynamic programming along the layers: the cost of a sparse layer
        depends on whether the previous one is sparse too (one call of the
        compiled kernels, no change of layout in between).
        """
        model = self.cost_model
        # best[kernel]: (time, kernels) of the layers so far, the last
        # running ``kernel``.
        best = {None: (0.0, ())}
        n_in = self.n_units[0]
        for layer in self.layers:
            step = {}
            for kernel in layer.kernels:
                if sparse_only and kernel == "dense":
                    continue
                # Dense layers run on one BLAS thread beside the kernels'.
                threads = 1 if kernel == "dense" else n_threads
                work = model.work(
                    layer.cost_key(kernel), layer.n_weights(kernel), n_samples, threads
                )
                for previous, (total, kernels) in best.items():
                    extra = work
                    if kernel == "dense":
                        extra += model.call("dense")
                        extra += model.dense_outputs(layer.n_out, n_samples)
                        if previous not in (None, "dense"):
                            extra += model.copies(n_in, n_samples, n_threads)
                    elif previous in (None, "dense"):
                        extra += model.call(layer.cost_key(kernel))
                        extra += model.copies(layer.n_in, n_samples, n_threads)
                    if kernel not in step or total + extra < step[kernel][0]:
                        step[kernel] = (total + extra, (*kernels, kernel))
            best = step
            n_in = layer.n_out
        for kernel, (total, kernels) in best.items():
            if kernel != "dense":
                copies = model.copies(n_in, n_samples, n_threads)
                best[kernel] = (total + copies, kernels)
        return min(best.values(), default=(math.inf, None))

    def _all_dense_cost(self, n_samples, n_threads):
        """Predicted time of every layer through BLAS, on all its threads
        (no compiled kernels then compete with them); inf if a layer has no
        dense form."""
        if any("dense" not in layer.kernels for layer in self.layers):
            return math.inf
        model = self.cost_model
        total = 0.0
        for layer in self.layers:
            n_weights = layer.n_weights("dense")
            threads = n_threads if _blas_threads_used(n_weights, n_samples) else 1
            total += model.cost("dense", n_weights, n_samples, threads)
            total += model.dense_outputs(layer.n_out, n_samples)
        return total

    def kernels_for(self, n_samples, n_threads=None):
        """Kernel of every layer for a batch of ``n_samples``."""
        if n_threads is None:
            n_threads = _kernels.effective_n_threads(self.n_threads)
        key = (n_samples, n_threads)
        choice = self._choices.get(key)
        if choice is None:
            if len(self._choices) >= _MAX_CACHED_CHOICES:
                self._choices.clear()
            if all(len(layer.kernels) == 1 for layer in self.layers):
                choice = tuple(layer.kernels[0] for layer in self.layers)
            else:
                candidates = self._candidates(n_samples, n_threads)
                choice = next(iter(candidates.values()))
                if len(candidates) > 1:
                    choice = self._measured_choice(candidates, n_samples, n_threads)
            self._choices[key] = choice
        return choice

    def _measured_choice(self, candidates, n_samples, n_threads):
        """The fastest kind of ``candidates``, measured once per batch size
        (by powers of two) on random input of up to 512 samples.

        Measured on one thread (BLAS's too), by the CPU time of the calling
        thread, and kept for all thread counts: timed in turn, BLAS's
        threads and the kernels' would be slowed by each other's spinning
        workers, and by other processes. On more threads, dense layers only
        are kept unless another kind wins by more than what BLAS may gain
        from the threads (see :meth:`_blas_threads_gain`).
        """
        key = int(n_samples).bit_length()
        times = self._measured.get(key)
        if times is None or any(kind not in times for kind in candidates):
            rng = np.random.default_rng(0)
            n = min(n_samples, _CHOICE_SAMPLES)
            X = rng.standard_normal((n, self.n_features_in)).astype(self.dtype)
            with one_blas_thread():
                times = _interleaved_best_times(
                    # With the input check, which dense and sparse first
                    # layers pay differently, as the estimators call them.
                    {
                        kind: partial(self._predict, X, kernels, 1, True)
                        for kind, kernels in candidates.items()
                    },
                    _CHOICE_ROUNDS,
                    clock=_CPU_CLOCK,
                    min_time=_CHOICE_MIN_TIME,
                )
            self._measured[key] = times
        fastest = min(candidates, key=times.get)
        # The cheapest predicted plan may be the dense one.
        dense = next((k for k, v in candidates.items() if v == self._all_dense), None)
        if n_threads > 1 and dense is not None:
            gain = self._blas_threads_gain(n_samples, n_threads)
            if times[dense] <= gain * times[fastest]:
                fastest = dense
        return candidates[fastest]

    def _blas_threads_gain(self, n_samples, n_threads):
        """Predicted speed-up of dense layers only on ``n_threads`` BLAS
        threads, between ``_THREADS_MARGIN`` and ``n_threads``: the margin
        by which another plan must win on one thread to be kept on
        ``n_threads``.

        BLAS's threads share every product, while the compiled kernels'
        threads lose their cores to BLAS's spinning workers, from the plan's
        own dense layers or from other calls of the process; so only
        a clear win on one thread is kept, even where BLAS gains nothing.
        """
        one = self._all_dense_cost(n_samples, 1)
        gain = one / self._all_dense_cost(n_samples, n_threads)
        return min(max(gain, _THREADS_MARGIN), n_threads)

    def _run(self, kernels, H, n_threads, start=0, check_finite=False):
        """Activations of the layers ``start:`` for ``H``, through ``kernels``,
        or None if ``check_finite`` and ``H`` may hold a NaN or an infinity."""
        stages = self._stages_for(kernels, start)
        if check_finite:
            # The first stage checks the input: the kernels as they read
            # it, BLAS by its product.
            H = stages[0](H, n_threads, self.tile_size, check_finite=True)
            if H is None:
                return None
            stages = stages[1:]
        for stage in stages:
            H = stage(H, n_threads, self.tile_size)
        return H

    def _stages_for(self, kernels, start):
        """Stages running the layers ``start:`` with ``kernels``."""
        key = (kernels, start)
        stages = self._stages.get(key)
        if stages is None:
            stages = []
            k = start
            while k < len(self.layers):
                if kernels[k] == "dense":
                    stages.append(_DenseStage(self.layers[k]))
                    k += 1
                    continue
                stop = k
                while stop < len(self.layers) and kernels[stop] != "dense":
                    stop += 1
                n_features = self.n_features_in if k == 0 else self.layers[k].n_in
                split_nnz = getattr(self.cost_model, "split_nnz", _MIN_SPLIT_NNZ)
                stages.append(
                    _SparseStage(
                        self.layers[k:stop], kernels[k:stop], n_features, split_nnz
                    )
                )
                k = stop
            if any(isinstance(stage, _SparseStage) for stage in stages):
                for stage in stages:
                    if isinstance(stage, _DenseStage):
                        stage.single_blas_thread = True
            self._stages[key] = stages
        return stages

    def predict(self, X, check_finite=False):
        """Output of the network (after the output activation) for ``X``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Validated input, but for NaN and infinity if ``check_finite``.
        check_finite : bool, default=False
            Return None if ``X`` may hold a NaN or an infinity. For a dense
            ``X`` the first layer checks it: the kernels as they read the
            values, a dense layer by its product (see
            :meth:`_Layer.dense_product`); a sparse ``X`` is checked first.

        Returns
        -------
        y : ndarray of shape (n_samples, n_outputs), or None
        """
        n_samples = X.shape[0]
        if n_samples == 0:
            return np.empty((0, self.n_units[-1]), dtype=self.dtype)
        if n_samples == 1 and not self._may_split:
            most = 1
        else:
            most = _kernels.effective_n_threads(self.n_threads)
        # Kernels chosen for the thread limit, not for this call's threads:
        # kernels add up in different orders, and a call must give the bits
        # of the last whatever threads it runs on.
        kernels = self.kernels_for(n_samples, most)
        if most == 1 or kernels == self._all_dense:
            # Dense layers only keep BLAS's threads, whatever the thread
            # choice: BLAS on fewer threads may add up in another order.
            return self._predict(X, kernels, most, check_finite)
        n_threads = self.thread_choice.choose(n_samples, most)
        started = time.perf_counter()
        y = self._predict(X, kernels, n_threads, check_finite)
        if y is not None:
            self.thread_choice.record(
                n_samples, most, n_threads, time.perf_counter() - started
            )
        return y

    def _predict(self, X, kernels, n_threads, check_finite):
        if type(X) is np.ndarray or not sparse.issparse(X):
            H = X if X.dtype == self.dtype else X.astype(self.dtype)
            if kernels == self._all_dense:
                return self._dense_forward(H, check_finite)
            return self._run(kernels, H, n_threads, 0, check_finite)
        if check_finite and not all_finite(X.data):
            return None
        return self._run(kernels, self._first_layer_sparse(X), n_threads, 1)

    def _dense_forward(self, H, check_finite):
        """:meth:`_run` of a plan of dense layers only, on all of BLAS's
        threads, in as few Python calls as a bare forward pass: at one
        sample, the calls around the products cost as much as the smaller
        products themselves."""
        chain = self._dense_chain
        if len(H) == 1 and self._measure_choices:
            chain = self._one_sample_chain or self._one_sample_weights()
        first = self.layers[0]
        Z = H @ chain[0]
        if check_finite and not (
            # The common case of _Layer._finite_input, inlined.
            first.unread is None
            and first.reads_every_row
            and Z.size < H.size
            and Z.size <= _BLAS_SERIAL_DOT
            and math.isfinite(np.vdot(Z, Z))
            or first._finite_input(H, Z, blas_threads=True)
        ):
            return None
        Z = first.bias_activation(Z)
        for weights, layer in zip(chain[1:], self.layers[1:]):
            Z = layer.bias_activation(Z @ weights)
        return Z

    def _one_sample_weights(self):
        """The dense weights of every layer in the layout that BLAS
        multiplies one sample by faster, measured once per network (copies
        share it, so give the same bits): as stored, or transposed.

        BLAS runs the two layouts by different loops: OpenBLAS, for one,
        multiplies a 784x300 float64 matrix about 20% faster transposed.
        """
        key = "one-sample layouts"
        transposed = self._measured.get(key)
        if transposed is None:
            transposed = tuple(map(self._transposed_pays, self.layers))
            self._measured[key] = transposed
        self._one_sample_chain = [
            np.asfortranarray(layer.dense) if flip else layer.dense
            for layer, flip in zip(self.layers, transposed)
        ]
        return self._one_sample_chain

    def _transposed_pays(self, layer):
        """Whether one sample is multiplied by the layer's dense weights
        faster transposed, by a margin (one BLAS thread, CPU time)."""
        if layer.dense.size < _MIN_LAYOUT_WEIGHTS:
            return False
        x = np.random.default_rng(0).standard_normal((1, layer.dense_n_in))
        x = x.astype(self.dtype)
        layouts = {False: layer.dense, True: np.asfortranarray(layer.dense)}
        with one_blas_thread():
            times = _interleaved_best_times(
                {flip: partial(np.matmul, x, W) for flip, W in layouts.items()},
                _CHOICE_ROUNDS,
                clock=_CPU_CLOCK,
                min_time=_CHOICE_MIN_TIME,
            )
        return times[True] < _LAYOUT_MARGIN * times[False]

    def _first_layer_sparse(self, X):
        """Activations of the first layer for a sparse ``X``."""
        layer = self.layers[0]
        X = X.astype(self.dtype)
        if layer.dense is not None:
            Z = np.asarray(X @ layer.dense)
        else:
            if layer.features is not None:
                X = X.tocsc()[:, layer.features]
            weights = layer.sparse[layer.kernels[0]].to_scipy()
            Z = (X @ weights.T).toarray()
        return layer.bias_activation(np.ascontiguousarray(Z))


def _blas_threads_used(n_weights, n_samples):
    """Whether BLAS shares a dense layer's product among its threads: not
    for small products."""
    if n_samples == 1:
        return n_weights > _BLAS_SERIAL_GEMV
    return n_weights * n_samples > _BLAS_SERIAL_MADDS


def _network_fingerprint(layers):
    """Digest of the weights, biases and forms of ``layers``."""
    digest = hashlib.blake2b(digest_size=16)
    for layer in layers:
        for array in (layer.dense, layer.bias, layer.features):
            if array is not None:
                digest.update(repr((array.dtype.str, array.shape)).encode())
                # Plus zero: -0.0 (a masked negative weight) becomes 0.0,
                # as a stored and loaded network has it.
                digest.update(np.ascontiguousarray(array + 0).data)
        digest.update(repr((layer.activation, layer.block_shape)).encode())
    return digest.hexdigest()


def _measured_times_of(layers):
    """The process's record of the timed candidate plans of this network.

    Shared by every copy of the network in the process (an unpickled or
    cloned model times nothing again and chooses the same plans): the
    candidates add up in different orders, and copies must give the same
    bits.
    """
    key = _network_fingerprint(layers)
    record = _MEASURED_BY_NETWORK.get(key)
    if record is None:
        record = _MEASURED_BY_NETWORK[key] = _MeasuredTimes()
    _RECENTLY_MEASURED.append(record)
    return record


class _MeasuredTimes(dict):
    """A network's timed choices; a dict that a weak reference can point to."""


def _check_block_shape(block_shape):
    if block_shape is None:
        return
    if (
        not isinstance(block_shape, tuple)
        or len(block_shape) != 2
        or block_shape not in BLOCK_SHAPES
    ):
        raise ValueError(
            f"block_shape must be None or one of {BLOCK_SHAPES}, got {block_shape!r}."
        )


def _layer_block_shape(coef, block_shape):
    """Block shape of a layer: the one given if it fits, else the best found."""
    shapes = BLOCK_SHAPES if block_shape is None else (block_shape,)
    return find_block_shape(coef, shapes)
