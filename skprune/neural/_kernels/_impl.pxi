# Kernels of the sparse forward pass, included by every instruction-set
# variant of the extension (the same source compiled with different flags).
#
# A network segment is a run of sparse layers stored end to end in flat
# arrays (see skprune/neural/_kernels/__init__.py, which checks every array
# before the call: nothing here checks bounds). Layer k's row ``j`` is its
# output unit (or block of ``R`` output units) ``j``; its nonzeros (or
# blocks of ``R x C`` values, row-major) are ``data[indptr[j]:indptr[j + 1]]``
# from the layer's offsets, and ``indices`` hold the input unit (or block of
# ``C`` input units) of each, in the smallest unsigned type that holds them.
#
# A batch runs tile by tile through all the layers: a tile's activations are
# stored by units, ``(n_units, n_tile)``, so that the inner loops add up
# contiguous rows, and stay in two buffers of the thread that owns the tile.

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport exp, tanh
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memset
from cpython.buffer cimport (
    PyBUF_ANY_CONTIGUOUS,
    PyBUF_C_CONTIGUOUS,
    PyBUF_FORMAT,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SKPRUNE_HAVE_OPENMP 1
    #else
    #define SKPRUNE_HAVE_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int SKPRUNE_HAVE_OPENMP
    int omp_get_max_threads() noexcept nogil

cdef extern from "_microkernels.h" nogil:
    int SKP_VECTOR_BYTES
    int SKP_CHUNK_BYTES
    Py_ssize_t SKP_BLOCK_CHUNK(Py_ssize_t, Py_ssize_t)
    float skp_dot_float(const void*, int, const float*, int64_t, int64_t, const float*)
    double skp_dot_double(const void*, int, const double*, int64_t, int64_t, const double*)
    void skp_block_vector_float(const void*, int, int, const float*, int64_t, int64_t, Py_ssize_t, const float*, float*)
    void skp_block_vector_double(const void*, int, int, const double*, int64_t, int64_t, Py_ssize_t, const double*, double*)
    void skp_chunk8_float(const void*, int, const float*, int64_t, int64_t, float, const float*, Py_ssize_t, float*)
    void skp_chunk2_float(const void*, int, const float*, int64_t, int64_t, float, const float*, Py_ssize_t, float*)
    void skp_block_float(const void*, int, int, const float*, int64_t, int64_t, const float*, Py_ssize_t, const float*, Py_ssize_t, float*)
    void skp_chunk8_double(const void*, int, const double*, int64_t, int64_t, double, const double*, Py_ssize_t, double*)
    void skp_chunk2_double(const void*, int, const double*, int64_t, int64_t, double, const double*, Py_ssize_t, double*)
    void skp_block_double(const void*, int, int, const double*, int64_t, int64_t, const double*, Py_ssize_t, const double*, Py_ssize_t, double*)


ctypedef fused index_t:
    uint8_t
    uint16_t
    uint32_t

# Fields of a layer's row in ``meta``.
cdef enum:
    N_IN = 0
    N_OUT = 1
    INDPTR_AT = 2
    INDEX_AT = 3
    VALUE_AT = 4
    BIAS_AT = 5
    BLOCK_R = 6
    BLOCK_C = 7
    ACTIVATION = 8
    N_FIELDS = 9

# Activation codes, as in skprune/neural/_kernels/__init__.py.
cdef enum:
    IDENTITY = 0
    RELU = 1
    TANH = 2
    LOGISTIC = 3
    EXP = 4
    SOFTMAX = 5  # of a sample's outputs, once the last layer is done

ABI = 3  # as skprune.neural._kernels.ABI
HAVE_OPENMP = bool(SKPRUNE_HAVE_OPENMP)
META_FIELDS = N_FIELDS


cdef extern from *:
    """
    static int skprune_cpu_level(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
        __builtin_cpu_init();
        if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
            return 0;
        return 1 + (__builtin_cpu_supports("avx512f") != 0);
    #else
        return 0;
    #endif
    }
    """
    int skprune_cpu_level()


def cpu_variants():
    """Variants of the kernels this processor runs, the fastest last."""
    return ("generic", "avx2", "avx512")[: skprune_cpu_level() + 1]


def max_threads():
    """Threads an OpenMP region would use now (1 without OpenMP)."""
    return omp_get_max_threads()


cdef inline floating activate(floating z, int activation) noexcept nogil:
    if activation == RELU:
        return z if z > 0 else 0
    if activation == TANH:
        return tanh(z)
    if activation == LOGISTIC:
        return 1.0 / (1.0 + exp(-z))
    if activation == EXP:
        return exp(z)
    return z


cdef void softmax_rows(
    floating* Y, Py_ssize_t n_rows, Py_ssize_t n_columns
) noexcept nogil:
    """Softmax of every row of ``Y``, in place."""
    cdef Py_ssize_t i, j
    cdef floating* y
    cdef floating top
    cdef double total
    for i in range(n_rows):
        y = Y + i * n_columns
        top = y[0]
        for j in range(1, n_columns):
            if y[j] > top:
                top = y[j]
        total = 0
        for j in range(n_columns):
            y[j] = exp(y[j] - top)
            total += y[j]
        for j in range(n_columns):
            y[j] = y[j] / total


cdef void bias_activation_rows(
    floating* Z,
    const floating* bias,
    Py_ssize_t n_rows,
    Py_ssize_t n_columns,
    int activation,
) noexcept nogil:
    """``Z = f(Z + bias)`` in place, one pass; a NaN stays a NaN."""
    cdef Py_ssize_t i, j
    cdef floating* z
    cdef floating v
    for i in range(n_rows):
        z = Z + i * n_columns
        if activation == RELU:
            for j in range(n_columns):
                v = z[j] + bias[j]
                z[j] = 0 if v < 0 else v
        elif activation == IDENTITY or activation == SOFTMAX:
            for j in range(n_columns):
                z[j] = z[j] + bias[j]
        else:
            for j in range(n_columns):
                z[j] = activate(z[j] + bias[j], activation)
    if activation == SOFTMAX:
        softmax_rows(Z, n_rows, n_columns)


cdef bint is_float_buffer(Py_buffer* view, int ndim):
    return (
        view.ndim == ndim
        and view.format != NULL
        and (view.format[0] == b"f" or view.format[0] == b"d")
        and view.format[1] == 0
    )


def bias_activation(Z, bias, int activation):
    """``Z = activation(Z + bias)`` in place, for a C-contiguous float
    ``Z`` of shape (n, m) and ``bias`` of shape (m,) of its dtype; one pass
    instead of numpy's two to six, and one call."""
    cdef Py_buffer z, b
    cdef bint ok
    if activation < IDENTITY or activation > SOFTMAX:
        raise ValueError(f"No activation of code {activation}.")
    PyObject_GetBuffer(Z, &z, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE)
    try:
        PyObject_GetBuffer(bias, &b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        try:
            ok = (
                is_float_buffer(&z, 2)
                and is_float_buffer(&b, 1)
                and z.format[0] == b.format[0]
                and b.shape[0] == z.shape[1]
            )
            if not ok:
                raise ValueError(
                    "Z must be (n, m) and bias (m,), of one float dtype."
                )
            with nogil:
                if z.format[0] == b"f":
                    bias_activation_rows(
                        <float*>z.buf, <const float*>b.buf, z.shape[0],
                        z.shape[1], activation,
                    )
                else:
                    bias_activation_rows(
                        <double*>z.buf, <const double*>b.buf, z.shape[0],
                        z.shape[1], activation,
                    )
        finally:
            PyBuffer_Release(&b)
    finally:
        PyBuffer_Release(&z)
    return Z


# ----------------------------------------------------------------------
# One sample
# ----------------------------------------------------------------------


cdef void csr_vector_rows(
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const floating* x,
    floating* out,
    Py_ssize_t start,
    Py_ssize_t stop,
    int activation,
) noexcept nogil:
    """``out[j] = f(b[j] + W[j] . x)`` for the rows ``start:stop``."""
    cdef Py_ssize_t j
    cdef floating total
    for j in range(start, stop):
        if floating is float:
            total = skp_dot_float(
                indices, sizeof(index_t), data, indptr[j], indptr[j + 1], x
            )
        else:
            total = skp_dot_double(
                indices, sizeof(index_t), data, indptr[j], indptr[j + 1], x
            )
        out[j] = activate(bias[j] + total, activation)


cdef void block_vector_rows(
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const floating* x,
    floating* out,
    Py_ssize_t start,
    Py_ssize_t stop,
    Py_ssize_t R,
    Py_ssize_t C,
    int activation,
) noexcept nogil:
    """The same for block rows ``start:stop`` of ``R x C`` blocks."""
    cdef Py_ssize_t i, r
    cdef floating acc[8]
    for i in range(start, stop):
        if floating is float:
            skp_block_vector_float(
                indices, sizeof(index_t), <int>R, data, indptr[i],
                indptr[i + 1], C, x, acc,
            )
        else:
            skp_block_vector_double(
                indices, sizeof(index_t), <int>R, data, indptr[i],
                indptr[i + 1], C, x, acc,
            )
        for r in range(R):
            out[i * R + r] = activate(bias[i * R + r] + acc[r], activation)


cdef void layer_vector(
    const int64_t* meta,
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const floating* x,
    floating* out,
    Py_ssize_t start,
    Py_ssize_t stop,
) noexcept nogil:
    if meta[BLOCK_R] == 1 and meta[BLOCK_C] == 1:
        csr_vector_rows(
            indptr + meta[INDPTR_AT], indices + meta[INDEX_AT],
            data + meta[VALUE_AT], bias + meta[BIAS_AT], x, out, start, stop,
            <int>meta[ACTIVATION],
        )
    else:
        block_vector_rows(
            indptr + meta[INDPTR_AT], indices + meta[INDEX_AT],
            data + meta[VALUE_AT],
            bias + meta[BIAS_AT], x, out, start, stop, meta[BLOCK_R],
            meta[BLOCK_C], <int>meta[ACTIVATION],
        )


cdef inline Py_ssize_t n_rows(const int64_t* meta) noexcept nogil:
    """Rows (or block rows) of a layer."""
    return (meta[N_OUT] + meta[BLOCK_R] - 1) // meta[BLOCK_R]


cdef inline Py_ssize_t padded_in(const int64_t* meta) noexcept nogil:
    return (meta[N_IN] + meta[BLOCK_C] - 1) // meta[BLOCK_C] * meta[BLOCK_C]


# ----------------------------------------------------------------------
# A tile of samples, stored by units
# ----------------------------------------------------------------------


cdef inline void csr_row_tail(
    const index_t* indices,
    const floating* data,
    Py_ssize_t p_start,
    Py_ssize_t p_stop,
    floating b,
    const floating* H,
    Py_ssize_t width,
    floating* acc,
    Py_ssize_t n,
) noexcept nogil:
    """``acc[:n] = b + sum_p data[p] * H[indices[p], :n]``, any ``n``."""
    cdef Py_ssize_t p, t
    cdef floating w
    cdef const floating* row
    for t in range(n):
        acc[t] = b
    for p in range(p_start, p_stop):
        w = data[p]
        row = H + <Py_ssize_t>indices[p] * width
        for t in range(n):
            acc[t] += w * row[t]


cdef void csr_tile(
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const floating* H,
    floating* out,
    Py_ssize_t n_out,
    Py_ssize_t width,
    int activation,
) noexcept nogil:
    """``out[j, :] = f(b[j] + sum_p data[p] * H[indices[p], :])``.

    ``H`` and ``out`` are ``(n_units, width)``, C-contiguous. The samples go
    by chunks of eight vectors of sums, then two, then one by one.
    """
    cdef Py_ssize_t j, s, n
    cdef Py_ssize_t lanes = SKP_CHUNK_BYTES // sizeof(floating)
    cdef floating acc[128]
    cdef int index_size = sizeof(index_t)
    for j in range(n_out):
        s = 0
        while s < width:
            n = width - s
            if n >= 8 * lanes:
                n = 8 * lanes
                if floating is float:
                    skp_chunk8_float(
                        indices, index_size, data, indptr[j], indptr[j + 1],
                        bias[j], H + s, width, acc,
                    )
                else:
                    skp_chunk8_double(
                        indices, index_size, data, indptr[j], indptr[j + 1],
                        bias[j], H + s, width, acc,
                    )
            elif n >= 2 * lanes:
                n = 2 * lanes
                if floating is float:
                    skp_chunk2_float(
                        indices, index_size, data, indptr[j], indptr[j + 1],
                        bias[j], H + s, width, acc,
                    )
                else:
                    skp_chunk2_double(
                        indices, index_size, data, indptr[j], indptr[j + 1],
                        bias[j], H + s, width, acc,
                    )
            else:
                csr_row_tail(
                    indices, data, indptr[j], indptr[j + 1], bias[j], H + s,
                    width, acc, n,
                )
            write_activated(acc, out + j * width + s, n, activation)
            s += n


cdef inline void write_activated(
    floating* acc, floating* out, Py_ssize_t n, int activation
) noexcept nogil:
    cdef Py_ssize_t t
    if activation == IDENTITY:
        for t in range(n):
            out[t] = acc[t]
    elif activation == RELU:
        for t in range(n):
            out[t] = acc[t] if acc[t] > 0 else 0
    else:
        for t in range(n):
            out[t] = activate(acc[t], activation)


cdef void block_tile(
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const floating* H,
    floating* out,
    Py_ssize_t n_block_rows,
    Py_ssize_t width,
    Py_ssize_t R,
    Py_ssize_t C,
    int activation,
) noexcept nogil:
    """:func:`csr_tile` for ``R x C`` blocks: a row of ``H`` read once
    serves the ``R`` outputs of its block (register blocking over outputs).
    """
    cdef Py_ssize_t i, p, r, c, t, s, n
    cdef Py_ssize_t chunk = SKP_BLOCK_CHUNK(R, sizeof(floating))
    cdef floating acc[128]
    cdef floating w
    cdef const floating* block
    cdef const floating* row
    cdef int index_size = sizeof(index_t)
    for i in range(n_block_rows):
        s = 0
        while s < width:
            n = width - s
            if n >= chunk:
                n = chunk
                if floating is float:
                    skp_block_float(
                        indices, index_size, <int>R, data, indptr[i],
                        indptr[i + 1], bias + i * R, C, H + s, width, acc,
                    )
                else:
                    skp_block_double(
                        indices, index_size, <int>R, data, indptr[i],
                        indptr[i + 1], bias + i * R, C, H + s, width, acc,
                    )
            else:
                for r in range(R):
                    for t in range(n):
                        acc[r * chunk + t] = bias[i * R + r]
                for p in range(indptr[i], indptr[i + 1]):
                    block = data + p * R * C
                    for c in range(C):
                        row = H + (<Py_ssize_t>indices[p] * C + c) * width + s
                        for r in range(R):
                            w = block[r * C + c]
                            for t in range(n):
                                acc[r * chunk + t] += w * row[t]
            for r in range(R):
                write_activated(
                    acc + r * chunk, out + (i * R + r) * width + s, n, activation
                )
            s += n


cdef void layer_tile(
    const int64_t* meta,
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    floating* H,
    floating* out,
    Py_ssize_t width,
) noexcept nogil:
    cdef Py_ssize_t R = meta[BLOCK_R], C = meta[BLOCK_C]
    if R == 1 and C == 1:
        csr_tile(
            indptr + meta[INDPTR_AT], indices + meta[INDEX_AT],
            data + meta[VALUE_AT], bias + meta[BIAS_AT], H, out, meta[N_OUT],
            width, <int>meta[ACTIVATION],
        )
        return
    if C > 1 and padded_in(meta) > meta[N_IN]:
        # The last block column reads rows past the layer's input: zeros.
        memset(
            H + meta[N_IN] * width, 0,
            (padded_in(meta) - meta[N_IN]) * width * sizeof(floating),
        )
    block_tile(
        indptr + meta[INDPTR_AT], indices + meta[INDEX_AT],
        data + meta[VALUE_AT], bias + meta[BIAS_AT], H, out,
        n_rows(meta), width, R, C, <int>meta[ACTIVATION],
    )


# ----------------------------------------------------------------------
# A segment of layers
# ----------------------------------------------------------------------


cdef int tile_forward(
    const floating* X,
    Py_ssize_t n_features,
    floating* Y,
    Py_ssize_t n_outputs,
    Py_ssize_t start,
    Py_ssize_t width,
    const int64_t* meta,
    Py_ssize_t n_layers,
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const int64_t* features,
    Py_ssize_t n_used,
    floating* buffer_a,
    floating* buffer_b,
    bint check,
) noexcept nogil:
    """Samples ``start:start + width`` of ``X`` through all the layers.

    Returns 1 if ``check`` and one of the tile's rows of ``X`` holds a NaN
    or an infinity (checked as the values are copied), else 0.
    """
    cdef Py_ssize_t k
    cdef int bad = 0
    cdef floating* H = buffer_a
    cdef floating* Z = buffer_b
    cdef floating* swap
    bad = gather_features(
        X + start * n_features, n_features, features, n_used, H, width, check
    )
    if check and n_used < n_features:  # also the columns that are not read
        bad |= not_finite(X + start * n_features, width * n_features)
    for k in range(n_layers):
        layer_tile(meta + k * N_FIELDS, indptr, indices, data, bias, H, Z, width)
        swap = H
        H = Z
        Z = swap
    scatter_outputs(H, width, Y + start * n_outputs, n_outputs)
    if meta[(n_layers - 1) * N_FIELDS + ACTIVATION] == SOFTMAX:
        softmax_rows(Y + start * n_outputs, width, n_outputs)
    return bad


cdef int not_finite(const floating* X, Py_ssize_t n) noexcept nogil:
    """1 if one of the ``n`` values of ``X`` is a NaN or an infinity."""
    cdef Py_ssize_t i
    cdef int bad = 0
    cdef floating difference
    for i in range(n):
        difference = X[i] - X[i]  # NaN for both
        bad |= difference != difference
    return bad


# Transposes go by squares of TRANSPOSE x TRANSPOSE: the rows they touch
# stay in the L1 cache even when they map to the same cache set.
cdef enum:
    TRANSPOSE = 8


cdef int gather_features(
    const floating* X,
    Py_ssize_t n_features,
    const int64_t* features,
    Py_ssize_t n_used,
    floating* H,
    Py_ssize_t width,
    bint check,
) noexcept nogil:
    """``H[f, s] = X[s, features[f]]``: a tile's inputs, stored by units.

    Returns 1 if ``check`` and one of the values copied is a NaN or an
    infinity, else 0.
    """
    cdef Py_ssize_t s0, f0, s, f, n_s, n_f
    cdef int bad = 0
    cdef floating value
    s0 = 0
    while s0 < width:
        n_s = min(width - s0, <Py_ssize_t>TRANSPOSE)
        f0 = 0
        while f0 < n_used:
            n_f = min(n_used - f0, <Py_ssize_t>TRANSPOSE)
            if check:
                for f in range(f0, f0 + n_f):
                    for s in range(s0, s0 + n_s):
                        value = X[s * n_features + features[f]]
                        H[f * width + s] = value
                        value = value - value  # NaN if not finite
                        bad |= value != value
            else:
                for f in range(f0, f0 + n_f):
                    for s in range(s0, s0 + n_s):
                        H[f * width + s] = X[s * n_features + features[f]]
            f0 += n_f
        s0 += n_s
    return bad


cdef void scatter_outputs(
    const floating* H, Py_ssize_t width, floating* Y, Py_ssize_t n_outputs
) noexcept nogil:
    """``Y[s, j] = H[j, s]``: a tile's outputs, stored by samples."""
    cdef Py_ssize_t s0, j0, s, j, n_s, n_j
    s0 = 0
    while s0 < width:
        n_s = min(width - s0, <Py_ssize_t>TRANSPOSE)
        j0 = 0
        while j0 < n_outputs:
            n_j = min(n_outputs - j0, <Py_ssize_t>TRANSPOSE)
            for s in range(s0, s0 + n_s):
                for j in range(j0, j0 + n_j):
                    Y[s * n_outputs + j] = H[j * width + s]
            j0 += n_j
        s0 += n_s


cdef Py_ssize_t batch_forward(
    const floating* X,
    Py_ssize_t n_samples,
    Py_ssize_t n_features,
    floating* Y,
    Py_ssize_t n_outputs,
    const int64_t* meta,
    Py_ssize_t n_layers,
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const int64_t* features,
    Py_ssize_t n_used,
    Py_ssize_t tile,
    floating* workspace,
    Py_ssize_t buffer_size,
    int n_threads,
    bint check,
) noexcept nogil:
    """Threads take whole tiles, each through all the layers.

    Thread ``i`` keeps its tile's activations in its two buffers of
    ``buffer_size`` values at ``workspace + 2 * i * buffer_size``. Returns
    the number of tiles whose rows of ``X`` are not all finite (0 unless
    ``check``).
    """
    cdef Py_ssize_t n_tiles = (n_samples + tile - 1) // tile
    cdef Py_ssize_t t, width
    cdef Py_ssize_t bad = 0
    cdef floating* own
    for t in prange(n_tiles, num_threads=n_threads, schedule="dynamic"):
        width = n_samples - t * tile
        if width > tile:
            width = tile
        own = workspace + 2 * threadid() * buffer_size
        bad += tile_forward(
            X, n_features, Y, n_outputs, t * tile, width, meta, n_layers,
            indptr, indices, data, bias, features, n_used, own,
            own + buffer_size, check,
        )
    return bad


cdef void sample_forward(
    const floating* x,
    floating* y,
    const int64_t* meta,
    Py_ssize_t n_layers,
    const int64_t* indptr,
    const index_t* indices,
    const floating* data,
    const floating* bias,
    const int64_t* features,
    Py_ssize_t n_used,
    floating* H,
    floating* Z,
    const int64_t* split,
    int n_threads,
) noexcept nogil:
    """One sample; layer ``k`` splits its rows among threads if ``split[k]``."""
    cdef Py_ssize_t f, k, rows, chunk, c, n_chunks, stop
    cdef const int64_t* layer
    cdef floating* swap
    for f in range(n_used):
        H[f] = x[features[f]]
    for k in range(n_layers):
        layer = meta + k * N_FIELDS
        if layer[BLOCK_C] > 1:
            for f in range(layer[N_IN], padded_in(layer)):
                H[f] = 0
        rows = n_rows(layer)
        if split[k] and n_threads > 1:
            n_chunks = 4 * n_threads
            chunk = (rows + n_chunks - 1) // n_chunks
            for c in prange(n_chunks, num_threads=n_threads, schedule="static"):
                stop = (c + 1) * chunk
                if stop > rows:
                    stop = rows
                if c * chunk < stop:
                    layer_vector(
                        layer, indptr, indices, data, bias, H, Z, c * chunk, stop
                    )
        else:
            layer_vector(layer, indptr, indices, data, bias, H, Z, 0, rows)
        swap = H
        H = Z
        Z = swap
    layer = meta + (n_layers - 1) * N_FIELDS
    for f in range(layer[N_OUT]):
        y[f] = H[f]
    if layer[ACTIVATION] == SOFTMAX:
        softmax_rows(y, 1, layer[N_OUT])


cdef void* data_address(object array, bint writable) except NULL:
    """Address of the data of a C-contiguous array (checked by the caller)."""
    cdef Py_buffer view
    cdef int flags = PyBUF_ANY_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0)
    PyObject_GetBuffer(array, &view, flags)
    cdef void* address = view.buf
    PyBuffer_Release(&view)
    if address == NULL:
        raise ValueError("An array without data.")
    return address


cdef class Network:
    """Flat arrays of a segment of layers, for :meth:`forward`.

    Only for arrays checked by ``skprune.neural._kernels.Segment``: nothing
    here checks a shape or an index. The arrays are kept alive with the
    object and must not change.
    """

    cdef object arrays
    cdef bint single
    cdef int index_size
    cdef Py_ssize_t n_layers, n_used, buffer_rows
    cdef const int64_t* meta
    cdef const int64_t* indptr
    cdef const void* indices
    cdef const void* data
    cdef const void* bias
    cdef const int64_t* features
    cdef const int64_t* split

    def __init__(
        self, meta, indptr, indices, data, bias, features, split, buffer_rows
    ):
        self.arrays = (meta, indptr, indices, data, bias, features, split)
        self.single = data.dtype.itemsize == 4
        self.index_size = indices.dtype.itemsize
        self.n_layers = len(meta)
        self.n_used = len(features) - 1  # one element of padding
        self.buffer_rows = buffer_rows
        self.meta = <const int64_t*>data_address(meta, False)
        self.indptr = <const int64_t*>data_address(indptr, False)
        self.indices = data_address(indices, False)
        self.data = data_address(data, False)
        self.bias = data_address(bias, False)
        self.features = <const int64_t*>data_address(features, False)
        self.split = <const int64_t*>data_address(split, False)

    def forward(
        self,
        X,
        Y,
        workspace,
        Py_ssize_t tile,
        int n_threads,
        bint check_finite=False,
    ):
        """``Y`` for ``X``, both C-contiguous in the network's dtype.

        ``workspace`` holds ``2 * buffer_rows`` values for one sample, else
        ``2 * n_threads * buffer_rows * tile``. Returns False if
        ``check_finite`` and ``X`` holds a NaN or an infinity (``Y`` is then
        meaningless), else True.
        """
        cdef Py_ssize_t n_samples = X.shape[0]
        cdef Py_ssize_t n_features = X.shape[1]
        cdef Py_ssize_t n_outputs = Y.shape[1]
        cdef Py_ssize_t bad = 0
        if n_samples == 0:
            return True
        cdef void* x = data_address(X, False)
        cdef void* y = data_address(Y, True)
        cdef void* w = data_address(workspace, True)
        with nogil:
            if self.single:
                bad = self.run(
                    <const float*>x, <float*>y, <float*>w, n_samples,
                    n_features, n_outputs, tile, n_threads, check_finite,
                )
            else:
                bad = self.run(
                    <const double*>x, <double*>y, <double*>w, n_samples,
                    n_features, n_outputs, tile, n_threads, check_finite,
                )
        return bad == 0

    cdef Py_ssize_t run(
        self,
        const floating* X,
        floating* Y,
        floating* workspace,
        Py_ssize_t n_samples,
        Py_ssize_t n_features,
        Py_ssize_t n_outputs,
        Py_ssize_t tile,
        int n_threads,
        bint check,
    ) noexcept nogil:
        if self.index_size == 1:
            return self.run_indexed(
                <const uint8_t*>self.indices, X, Y, workspace, n_samples,
                n_features, n_outputs, tile, n_threads, check,
            )
        if self.index_size == 2:
            return self.run_indexed(
                <const uint16_t*>self.indices, X, Y, workspace, n_samples,
                n_features, n_outputs, tile, n_threads, check,
            )
        return self.run_indexed(
            <const uint32_t*>self.indices, X, Y, workspace, n_samples,
            n_features, n_outputs, tile, n_threads, check,
        )

    cdef Py_ssize_t run_indexed(
        self,
        const index_t* indices,
        const floating* X,
        floating* Y,
        floating* workspace,
        Py_ssize_t n_samples,
        Py_ssize_t n_features,
        Py_ssize_t n_outputs,
        Py_ssize_t tile,
        int n_threads,
        bint check,
    ) noexcept nogil:
        cdef const floating* data = <const floating*>self.data
        cdef const floating* bias = <const floating*>self.bias
        if n_samples == 1:
            if check and not_finite(X, n_features):
                return 1
            sample_forward(
                X, Y, self.meta, self.n_layers, self.indptr, indices, data,
                bias, self.features, self.n_used, workspace,
                workspace + self.buffer_rows, self.split, n_threads,
            )
            return 0
        return batch_forward(
            X, n_samples, n_features, Y, n_outputs, self.meta,
            self.n_layers, self.indptr, indices, data, bias,
            self.features, self.n_used, tile, workspace,
            self.buffer_rows * tile, n_threads, check,
        )
