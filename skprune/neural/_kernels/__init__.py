"""Compiled kernels of the sparse forward pass, and the checks before them.

The kernels (``_impl.pxi``) are compiled once per instruction set, into
top-level modules (so that a source checkout, which has no compiled files,
still finds those pip installed): ``_skprune_kernels_generic`` for the
baseline of the target and, on x86-64, ``_skprune_kernels_avx2`` (AVX2 and
FMA) and ``_skprune_kernels_avx512`` (the same, with AVX-512F for the
batch kernels of CSR and of blocks of 4 and 8 outputs), the fastest of them
that the processor runs imported instead (``SKPRUNE_KERNELS=generic`` or
``avx2`` in the environment keeps a slower one). With AVX-512, those batch
kernels take 64-byte vectors, which made them faster (CSR by 4 to 12% at
its best tile, once the tiles' activations were on huge pages); the blocks
of 1 and 2 outputs were measured no faster with them, and one sample's
kernels gather their inputs with AVX2.

The kernels trust their arguments: :class:`Segment` checks every array once
when it is built, and every input when it runs, so that no input a user can
pass reads or writes out of bounds.
"""

import importlib
import os
import threading

import numpy as np
from joblib import cpu_count
from scipy import sparse

from .._storage import _smallest_uint

ABI = 3
"""Version of the interface between this module and the compiled kernels."""


def _variant(name):
    """The compiled module of a variant, or None if it is not built."""
    try:
        module = importlib.import_module(f"_skprune_kernels_{name}")
    except ImportError:
        return None
    if getattr(module, "ABI", None) != ABI:
        raise ImportError(
            f"The compiled kernels {module.__file__} were built for another "
            "version of skprune: install this one again (`pip install .`)."
        )
    return module


_generic = _variant("generic")
if _generic is None:  # pragma: no cover
    raise ImportError(
        "The compiled kernels of skprune.neural are not built. Install skprune "
        "with `pip install .` (a C compiler is needed) or, in a source "
        "checkout, build them in place with `python setup.py build_ext "
        "--inplace`."
    )


def available_variants():
    """Variants of the kernels built and runnable on this processor."""
    return tuple(
        name for name in _generic.cpu_variants() if _variant(name) is not None
    )


def _select_module():
    variants = available_variants()
    wanted = os.environ.get("SKPRUNE_KERNELS", "")
    if wanted:
        if wanted not in variants:
            raise ImportError(
                f"SKPRUNE_KERNELS={wanted!r}, but this build and processor run "
                f"only {variants}."
            )
        return _variant(wanted)
    return _variant(variants[-1])


_module = _select_module()

KERNEL_VARIANT = _module.__name__.rsplit("_", 1)[-1]
"""Instruction set the kernels run with: "generic", "avx2" or "avx512"."""

HAVE_OPENMP = _generic.HAVE_OPENMP
"""Whether the kernels were built with OpenMP."""

ACTIVATION_CODES = {
    "identity": 0,
    "relu": 1,
    "tanh": 2,
    "logistic": 3,
    "exp": 4,
    "softmax": 5,
}
"""Activations the kernels apply, by their code in the kernels.

``"softmax"`` is over a sample's outputs, so only a segment's last layer
may have it."""

BLOCK_ROWS = (1, 2, 4, 8)
"""Output units a block may have (the kernels keep 8 vectors of sums)."""

_N_FIELDS = _module.META_FIELDS

bias_activation = _module.bias_activation
"""``bias_activation(Z, bias, code)``: ``Z = f(Z + bias)`` in place, ``f``
of :data:`ACTIVATION_CODES`, in one pass; ``Z`` C-contiguous of shape
``(n, m)``, ``bias`` of shape ``(m,)``, both float32 or both float64."""


_PHYSICAL_CORES = cpu_count(only_physical_cores=True)
_CORES = cpu_count()
# OpenMP reads the variable once, when it starts.
_OMP_NUM_THREADS_SET = "OMP_NUM_THREADS" in os.environ


def effective_n_threads(n_threads=None):
    """Threads the kernels use, as scikit-learn counts OpenMP threads.

    ``None`` takes the OpenMP limit in force (``OMP_NUM_THREADS`` or
    :func:`threadpoolctl.threadpool_limits`), capped at the number of
    physical cores when ``OMP_NUM_THREADS`` is not set; a negative value
    counts from the number of cores as ``n_jobs`` does. Always 1 without
    OpenMP.
    """
    if not HAVE_OPENMP:
        return 1
    if n_threads is None:
        limit = _module.max_threads()
        if not _OMP_NUM_THREADS_SET:
            limit = min(limit, _PHYSICAL_CORES)
        return max(1, limit)
    if n_threads < 0:
        return max(1, _CORES + 1 + n_threads)
    return max(1, int(n_threads))


class SparseLayer:
    """One layer in the layout of the kernels.

    Parameters
    ----------
    weights : ndarray of shape (n_out, n_in)
        The layer's weight matrix, outputs by rows (the transpose of a
        ``coefs_`` matrix).
    bias : ndarray of shape (n_out,)
    activation : {"identity", "relu", "tanh", "logistic", "exp", "softmax"}
    block : tuple of (int, int), default=(1, 1)
        ``(R, C)``: blocks of ``R`` outputs by ``C`` inputs; ``(1, 1)`` is
        CSR. The matrix is padded with zeros to whole blocks.
    """

    def __init__(self, weights, bias, activation, block=(1, 1)):
        R, C = (int(b) for b in block)
        if R not in BLOCK_ROWS or C < 1:
            raise ValueError(f"Blocks of {R}x{C} are not supported.")
        if activation not in ACTIVATION_CODES:
            raise ValueError(f"No kernel for the activation {activation!r}.")
        weights = np.asarray(weights)
        self.n_out, self.n_in = weights.shape
        self.block = (R, C)
        self.activation = activation
        n_rows = -(-self.n_out // R)
        n_cols = -(-self.n_in // C)
        padded = np.zeros((n_rows * R, n_cols * C), dtype=weights.dtype)
        padded[: self.n_out, : self.n_in] = weights
        blocks = padded.reshape(n_rows, R, n_cols, C).transpose(0, 2, 1, 3)
        kept = blocks.any(axis=(2, 3))
        self.indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(kept.sum(axis=1), out=self.indptr[1:])
        self.indices = np.nonzero(kept)[1]
        self.data = np.ascontiguousarray(blocks[kept]).ravel()
        self.bias = np.zeros(n_rows * R, dtype=weights.dtype)
        self.bias[: self.n_out] = bias
        self.nnz = int(np.count_nonzero(weights))

    def to_scipy(self):
        """The weights, (n_out, n_in), as a ``scipy.sparse`` matrix."""
        R, C = self.block
        n_rows = len(self.indptr) - 1
        weights = sparse.bsr_matrix(
            (self.data.reshape(-1, R, C), self.indices, self.indptr),
            shape=(n_rows * R, self.n_block_columns * C),
        )
        return weights.tocsr()[: self.n_out, : self.n_in]

    @property
    def n_stored(self):
        """Values the kernel multiplies per sample (zeros of blocks too)."""
        return len(self.data)

    @property
    def n_block_columns(self):
        return -(-self.n_in // self.block[1])

    @property
    def buffer_rows(self):
        """Rows of activations the layer reads or writes, padding included."""
        R, C = self.block
        return max(self.n_block_columns * C, -(-self.n_out // R) * R, 1)

    def nbytes(self, index_itemsize):
        """Bytes the kernel reads for one sample."""
        return (
            self.data.nbytes
            + len(self.indices) * index_itemsize
            + self.indptr.nbytes
            + self.bias.nbytes
        )


class Segment:
    """Consecutive sparse layers run by one call of the kernels.

    A batch goes through all the layers tile by tile, threads taking whole
    tiles; one sample goes layer by layer, a layer of ``split_nnz`` nonzeros
    or more splitting its rows among the threads.

    Parameters
    ----------
    layers : list of SparseLayer
        Each layer's ``n_in`` is the previous layer's ``n_out``.
    features : ndarray of int
        Columns of the input that the first layer reads, in the order of its
        inputs.
    n_features : int
        Width of the input.
    split_nnz : int, default=200000
    variant : str, default=None
        Variant of the kernels (see :func:`available_variants`); None runs
        the fastest.
    """

    def __init__(
        self, layers, features, n_features, split_nnz=200_000, variant=None
    ):
        if not layers:
            raise ValueError("A segment needs at least one layer.")
        self.dtype = layers[0].data.dtype
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"No kernel for {self.dtype}.")
        features = np.asarray(features, dtype=np.int64)
        self.n_features = int(n_features)
        if features.ndim != 1 or len(features) != layers[0].n_in:
            raise ValueError("features must list the first layer's inputs.")
        if len(features) and (features.min() < 0 or features.max() >= n_features):
            raise ValueError("features must be columns of the input.")
        for before, after in zip(layers, layers[1:]):
            if after.n_in != before.n_out:
                raise ValueError("Consecutive layers do not have matching widths.")
            if before.activation == "softmax":
                raise ValueError("Only the last layer of a segment may be a softmax.")
        for layer in layers:
            _check_layer(layer, self.dtype)
        self.layers = list(layers)
        self.n_outputs = layers[-1].n_out
        largest = max(max(layer.n_block_columns for layer in layers) - 1, 0)
        index_dtype = _smallest_uint(largest)
        self.index_itemsize = np.dtype(index_dtype).itemsize
        self._meta = np.zeros((len(layers), _N_FIELDS), dtype=np.int64)
        indptr, indices, data, bias = [], [], [], []
        n_indptr = n_blocks = n_values = n_bias = 0
        for k, layer in enumerate(layers):
            self._meta[k] = (
                layer.n_in,
                layer.n_out,
                n_indptr,
                n_blocks,
                n_values,
                n_bias,
                *layer.block,
                ACTIVATION_CODES[layer.activation],
            )
            indptr.append(layer.indptr)
            indices.append(layer.indices)
            data.append(layer.data)
            bias.append(layer.bias)
            n_indptr += len(layer.indptr)
            n_blocks += len(layer.indices)
            n_values += len(layer.data)
            n_bias += len(layer.bias)
        # One element more than needed: the kernels take the address of the
        # first element even of an empty array.
        self._indptr = _joined(indptr, np.int64)
        self._indices = _joined(indices, index_dtype)
        self._data = _joined(data, self.dtype)
        self._bias = _joined(bias, self.dtype)
        self._features = _joined([features], np.int64)
        self._split = np.array(
            [layer.nnz >= split_nnz for layer in layers] + [0], dtype=np.int64
        )
        self.buffer_rows = max(
            max(layer.buffer_rows for layer in layers), len(features), 1
        )
        module = _module if variant is None else _variant(variant)
        if module is None:
            raise ValueError(f"The kernels of variant {variant!r} are not built.")
        self._network = module.Network(
            self._meta,
            self._indptr,
            self._indices,
            self._data,
            self._bias,
            self._features,
            self._split,
            self.buffer_rows,
        )
        self.nbytes = sum(layer.nbytes(self.index_itemsize) for layer in layers)

    def __call__(self, X, n_threads=1, tile=64, check_finite=False):
        """Output of the segment for ``X`` of shape (n_samples, n_features).

        ``X`` is copied to a C-contiguous array of the segment's dtype if it
        is not one. Returns an array of shape (n_samples, n_outputs), or
        None if ``check_finite`` and ``X`` holds a NaN or an infinity: the
        kernels check every value of ``X`` as they read it, which costs
        less than another pass over it.
        """
        if not (
            type(X) is np.ndarray
            and X.dtype == self.dtype
            and X.flags.c_contiguous
        ):
            X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X must be of shape (n_samples, {self.n_features}), got {X.shape}."
            )
        n_samples = X.shape[0]
        n_threads = max(1, int(n_threads))
        tile = int(tile)
        if tile < 1:
            raise ValueError(f"tile must be a positive integer, got {tile}.")
        Y = np.empty((n_samples, self.n_outputs), dtype=self.dtype)
        if n_samples == 0:
            return Y
        if n_samples == 1:
            size = 2 * self.buffer_rows
        else:
            n_threads = min(n_threads, -(-n_samples // tile))
            size = 2 * n_threads * self.buffer_rows * tile
        workspace = _workspace(size, self.dtype)
        if self.n_outputs == 0:
            finite = not check_finite or bool(np.isfinite(X).all())
        else:
            finite = self._network.forward(
                X, Y, workspace, tile, n_threads, check_finite
            )
        return Y if finite else None


_HUGE_PAGE = 2 << 20
# numpy asks the system for huge pages for arrays of 4 MiB or more.
_NUMPY_HUGE_ARRAY = 4 << 20


class _Workspaces(threading.local):
    """Scratch memory of the kernels, one buffer per Python thread."""

    def __init__(self):
        self.buffer = np.empty(0, dtype=np.uint8)


_workspaces = _Workspaces()


def _workspace(n_values, dtype):
    """``n_values`` of ``dtype`` of this thread's scratch memory.

    The buffer starts at a 2 MiB boundary of an array numpy asked huge pages
    for, and is kept for the next calls: the kernels jump between the rows
    of a tile's activations, and on 4 KiB pages a batch of a 1024-unit
    network ran 20 to 40% slower (the pages' places in the cache and the
    TLB), by an amount fixed for a process's life.
    """
    n_bytes = n_values * np.dtype(dtype).itemsize
    buffer = _workspaces.buffer
    if buffer.nbytes < n_bytes:
        raw = np.empty(max(n_bytes, _NUMPY_HUGE_ARRAY) + _HUGE_PAGE, dtype=np.uint8)
        buffer = _workspaces.buffer = raw[-raw.ctypes.data % _HUGE_PAGE :]
    return buffer[:n_bytes].view(dtype)


def _joined(arrays, dtype):
    return np.concatenate([*(np.asarray(a, dtype=dtype) for a in arrays), [0]]).astype(
        dtype, copy=False
    )


def _check_layer(layer, dtype):
    """Every index of a layer points inside its arrays and buffers."""
    R, C = layer.block
    n_rows = -(-layer.n_out // R)
    indptr = layer.indptr
    if (
        indptr.shape != (n_rows + 1,)
        or indptr[0] != 0
        or np.any(np.diff(indptr) < 0)
        or indptr[-1] != len(layer.indices)
    ):
        raise ValueError("A layer's indptr does not describe its indices.")
    if len(layer.indices) and (
        layer.indices.min() < 0 or layer.indices.max() >= layer.n_block_columns
    ):
        raise ValueError("A layer's indices point past its inputs.")
    if layer.data.dtype != dtype or len(layer.data) != len(layer.indices) * R * C:
        raise ValueError("A layer's values do not match its indices or dtype.")
    if layer.bias.dtype != dtype or len(layer.bias) != n_rows * R:
        raise ValueError("A layer's bias does not match its outputs or dtype.")
