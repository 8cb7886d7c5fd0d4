"""Fast CPU inference and compact storage of pruned multilayer perceptrons.

:class:`InferencePlan` is built once from the fitted weights of a network and
then computes its output for any batch. Building it

1. *compacts* the network: a hidden unit with no nonzero outgoing weight is
   removed, and so is a hidden unit with no nonzero incoming weight, whose
   value is the constant ``f(bias)``; that constant times the unit's outgoing
   weights is added to the next layer's bias first. Removing units removes
   rows and columns for real, so the layers around them shrink too, and the
   sweep is repeated through the network until nothing more can go. Input
   features with no nonzero weight are skipped by the first dense layer.
2. keeps every compacted weight matrix as a CSR matrix (``scipy.sparse``, in
   the network's dtype), as a dense matrix, or both, depending on which
   kernels the cost model may ever pick for it.

At each call, the kernel of every layer is chosen from the batch size by
:class:`CostModel`: the predicted time of a dense product is a call overhead
plus the larger of streaming the weights once and one multiply-add per weight
and sample; that of a CSR product is a call overhead plus a cost per nonzero
for the first sample (a matrix-vector product, bound by the latency of
gathering the input) and a smaller one per nonzero for every further sample,
plus copying the input of the first layer into the layout the sparse product
needs. The defaults were measured with scipy's CSR products and
single-threaded OpenBLAS on an x86-64 server core; for ``float64`` layers of
a few hundred thousand weights they put the switch from dense to CSR near
85% sparsity at every batch size, higher for small layers, where the larger
call overhead of a sparse product matters, and near 90% for ``float32``. A wrong choice near the
switch costs little, since both kernels take about the same time there.

One sample is a plain vector, and its CSR products call scipy's compiled
kernel directly (``scipy.sparse._sparsetools.csr_matvec``, with ``@`` as the
fallback), adding the bias in the same pass. For a batch, a CSR product works on
activations stored by columns, ``(n_units, n_samples)``, so that each row of
its result adds up contiguous rows, and a dense product on activations
stored by rows, where BLAS is fastest; each layer converts what it receives.

Storage (:func:`pack_weights`, :func:`unpack_weights`) keeps, for every weight
matrix, the values at the positions that are unpruned or nonzero and the
positions themselves, in whichever of three encodings is the smallest: the
dense matrix, a bit per position, or CSR indices in the smallest unsigned
integer type that holds them (``uint8``, ``uint16``, ...). Values keep the
network's dtype, so unpacking gives back the weights and masks bit for bit.
"""

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ._base import ACTIVATIONS

try:
    # scipy's compiled CSR matrix-vector product, called without the checks
    # and dispatch of ``@``: they cost more than the product of a small layer.
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover
    _csr_matvec = None

STORAGE_FORMAT = 1
"""Version of the layout written by :func:`pack_weights`."""

PLAN_KERNELS = ("auto", "csr", "compact", "dense")

# Batch sizes at which the cost model is evaluated to decide which matrices a
# layer keeps; powers of two up to about a million samples.
_PROBE_BATCH_SIZES = (1, *(2**k for k in range(1, 21)))
_MAX_CACHED_BATCH_SIZES = 64


@dataclass(frozen=True)
class CostModel:
    """Predicted time, in nanoseconds, of one layer's product.

    Costs per weight or nonzero are for ``float64``; for another item size
    the dense terms scale with it and ``csr_madd`` with the bytes of a value
    and its 4-byte index (``csr_vector``, bound by the latency of gathering
    the input, does not change).

    Parameters
    ----------
    dense_call : float
        Overhead of a dense product.
    dense_stream : float
        Per weight, streaming the matrix once (a batch of one).
    dense_madd : float
        Per weight and sample, when the product is compute-bound.
    csr_call : float
        Overhead of a CSR product with one sample (scipy's compiled kernel
        called directly).
    csr_batch_call : float
        Overhead of a CSR product with several samples (``@``, with its
        checks and dispatch).
    csr_vector : float
        Per nonzero, for a batch of one.
    csr_madd : float
        Per nonzero and additional sample.
    csr_copy : float
        Per input entry copied into the layout of the sparse product (first
        layer, batch of several).
    """

    dense_call: float = 1000.0
    dense_stream: float = 0.11
    dense_madd: float = 0.07
    csr_call: float = 1500.0
    csr_batch_call: float = 5000.0
    csr_vector: float = 0.7
    csr_madd: float = 0.45
    csr_copy: float = 0.5

    def dense_cost(self, n_in, n_out, n_samples, itemsize=8):
        """Predicted time of ``(n_out, n_in) @ (n_in, n_samples)``, dense."""
        per_weight = max(self.dense_stream, self.dense_madd * n_samples)
        return self.dense_call + n_in * n_out * per_weight * itemsize / 8

    def csr_cost(self, nnz, n_in, n_samples, itemsize=8, copy_input=False):
        """Predicted time of the same product with a CSR matrix of ``nnz``."""
        # One sample: latency-bound gathers, whatever the item size.
        # Several: bound by the bytes of a value and its 4-byte index.
        per_nonzero = self.csr_vector
        per_nonzero += self.csr_madd * (n_samples - 1) * (itemsize + 4) / 12
        cost = nnz * per_nonzero
        if n_samples == 1:
            return cost + self.csr_call
        cost += self.csr_batch_call
        if copy_input:
            cost += n_in * n_samples * self.csr_copy * itemsize / 8
        return cost


class _Layer:
    """One compacted weight matrix and the kernels that may multiply it."""

    def __init__(self, coef, bias, input_keep, kernels, cost_model, first):
        # coef: (n_in, n_out) as stored by the network, already compacted in
        # its output units; input_keep: input rows the dense kernel reads, or
        # None for all of them.
        self.n_in, self.n_out = coef.shape
        self.nnz = int(np.count_nonzero(coef))
        self.itemsize = coef.dtype.itemsize
        self.first = first
        self.bias = bias
        self.bias_column = bias[:, np.newaxis]
        self.input_keep = input_keep
        self._cost_model = cost_model
        n_dense_in = self.n_in if input_keep is None else len(input_keep)
        self._n_dense_in = n_dense_in
        if kernels is None:
            kernels = {self._cheaper(n) for n in _PROBE_BATCH_SIZES}
        self.kernels = tuple(sorted(kernels))
        self.dense = None
        self.csr = None
        if "dense" in self.kernels:
            rows = coef if input_keep is None else coef[input_keep]
            self.dense = np.ascontiguousarray(rows)
        if "csr" in self.kernels:
            self.csr = sparse.csr_matrix(coef.T)
            self.csr.sort_indices()

    def choose(self, n_samples):
        """Kernel for ``n_samples``, among those the layer keeps."""
        if len(self.kernels) == 1:
            return self.kernels[0]
        return self._cheaper(n_samples)

    def _cheaper(self, n_samples):
        """Kernel of smaller predicted time for ``n_samples``."""
        dense = self._cost_model.dense_cost(
            self._n_dense_in, self.n_out, n_samples, self.itemsize
        )
        csr = self._cost_model.csr_cost(
            self.nnz, self.n_in, n_samples, self.itemsize, copy_input=self.first
        )
        return "csr" if csr < dense else "dense"

    def __call__(self, H, columns, kernel):
        """Pre-activations of the layer's units.

        ``H`` holds the previous layer's activations: a vector for one
        sample, else ``(n_samples, n_in)``, or ``(n_in, n_samples)`` when
        ``columns``. A CSR product works on columns (a row of the result
        adds up contiguous rows of ``H``), a dense product on rows (BLAS is
        faster with the long dimension last); each converts what it gets.

        Returns
        -------
        Z : ndarray
        columns : bool
            Whether ``Z`` is ``(n_out, n_samples)``.
        """
        if H.ndim == 1:
            if kernel == "csr":
                return self._csr_vector(H), columns
            else:
                if self.input_keep is not None:
                    H = H[self.input_keep]
                Z = np.dot(H, self.dense)
            Z += self.bias
            return Z, columns
        if kernel == "csr":
            if not columns:
                H = np.ascontiguousarray(H.T)
            Z = self.csr @ H
            Z += self.bias_column
            return Z, True
        if columns:
            H = H.T
        if self.input_keep is not None:
            H = H[:, self.input_keep]
        Z = np.dot(H, self.dense)
        Z += self.bias
        return Z, False

    def _csr_vector(self, h):
        """``W.T @ h + b`` for one sample, with the CSR matrix."""
        if _csr_matvec is None:
            return self.csr @ h + self.bias
        z = self.bias.copy()  # the kernel adds the products to it
        matrix = self.csr
        _csr_matvec(
            self.n_out,
            self.n_in,
            matrix.indptr,
            matrix.indices,
            matrix.data,
            np.ascontiguousarray(h),
            z,
        )
        return z

    def first_sparse(self, X, kernel):
        """:meth:`__call__` for a sparse ``X`` of shape (n_samples, n_in)."""
        if kernel == "csr":
            Z = (self.csr @ X.T.tocsr()).toarray()
            Z += self.bias_column
            return Z, True
        if self.input_keep is not None:
            X = X.tocsc()[:, self.input_keep]
        Z = np.asarray(X @ self.dense)
        Z += self.bias
        return Z, False


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
    kernel : {"auto", "csr", "compact", "dense"}, default="auto"
        ``"auto"`` compacts the network and chooses the kernel of every layer
        at each call with ``cost_model``; ``"csr"`` and ``"compact"`` compact
        it and always use CSR, respectively dense, products; ``"dense"``
        keeps the network as it is, with dense products (the reference).
    cost_model : CostModel, default=None
        Cost model of ``kernel="auto"``; None uses the defaults.

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
    ):
        if kernel not in PLAN_KERNELS:
            raise ValueError(f"kernel must be one of {PLAN_KERNELS}, got {kernel!r}.")
        self.activation = activation
        self.out_activation = out_activation
        self.kernel = kernel
        self.cost_model = CostModel() if cost_model is None else cost_model
        self.dtype = np.asarray(coefs[0]).dtype
        self.n_features_in = coefs[0].shape[0]
        if kernel != "dense":
            coefs, intercepts, _ = compact_network(coefs, intercepts, activation)
        forced = None if kernel == "auto" else {"csr" if kernel == "csr" else "dense"}
        self.layers = []
        for k, (coef, bias) in enumerate(zip(coefs, intercepts)):
            coef = np.asarray(coef, dtype=self.dtype)
            input_keep = None
            if k == 0 and kernel != "dense":
                used = np.flatnonzero(coef.any(axis=1))
                input_keep = used if len(used) < coef.shape[0] else None
            self.layers.append(
                _Layer(
                    coef,
                    np.asarray(bias, dtype=self.dtype),
                    input_keep,
                    forced,
                    self.cost_model,
                    first=k == 0,
                )
            )
        self.n_units = [self.n_features_in] + [layer.n_out for layer in self.layers]
        self._choices = {}

    def kernels_for(self, n_samples):
        """Kernel of every layer for a batch of ``n_samples``."""
        choice = self._choices.get(n_samples)
        if choice is None:
            if len(self._choices) >= _MAX_CACHED_BATCH_SIZES:
                self._choices.clear()
            choice = tuple(layer.choose(n_samples) for layer in self.layers)
            self._choices[n_samples] = choice
        return choice

    def _forward(self, X):
        """Output pre-activations and whether they are stored by columns."""
        n_samples = X.shape[0]
        kernels = self._choices.get(n_samples) or self.kernels_for(n_samples)
        hidden_activation = ACTIVATIONS[self.activation]
        layers = self.layers
        last = len(layers) - 1
        start = 0
        if sparse.issparse(X):
            H, columns = layers[0].first_sparse(X.astype(self.dtype), kernels[0])
            start = 1
            if last:
                hidden_activation(H)
        else:
            if X.dtype != self.dtype:
                X = X.astype(self.dtype)
            H, columns = (X[0] if n_samples == 1 else X), False
        for k in range(start, last + 1):
            H, columns = layers[k](H, columns, kernels[k])
            if k != last:
                hidden_activation(H)
        return H, columns

    def predict(self, X):
        """Output of the network (after the output activation) for ``X``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Validated input.

        Returns
        -------
        y : ndarray of shape (n_samples, n_outputs)
        """
        H, columns = self._forward(X)
        if H.ndim == 2:
            if columns:
                H = np.ascontiguousarray(H.T)
            return ACTIVATIONS[self.out_activation](H)
        if self.out_activation == "softmax":
            # Reductions of a vector cost less than those along an axis.
            H -= H.max()
            np.exp(H, out=H)
            H /= H.sum()
        else:
            ACTIVATIONS[self.out_activation](H)
        return H[np.newaxis, :]


# ----------------------------------------------------------------------
# Storage
# ----------------------------------------------------------------------


def _smallest_uint(max_value):
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if max_value <= np.iinfo(dtype).max:
            return dtype
    raise ValueError(f"No unsigned integer type holds {max_value}.")


def _pack_positions(support):
    """Smallest encoding of the positions of True in a 2-D boolean array."""
    n_rows, n_cols = support.shape
    nnz = int(np.count_nonzero(support))
    if nnz == support.size:
        return {"encoding": "full"}
    bits_size = -(-support.size // 8)
    index_dtype = _smallest_uint(max(n_cols - 1, 0))
    pointer_dtype = _smallest_uint(nnz)
    csr_size = (
        nnz * np.dtype(index_dtype).itemsize
        + (n_rows + 1) * np.dtype(pointer_dtype).itemsize
    )
    if bits_size <= csr_size:
        return {"encoding": "bits", "bits": np.packbits(support.ravel())}
    rows, cols = np.nonzero(support)
    indptr = np.zeros(n_rows + 1, dtype=pointer_dtype)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return {"encoding": "csr", "indptr": indptr, "indices": cols.astype(index_dtype)}


def _unpack_positions(packed, shape):
    encoding = packed["encoding"]
    if encoding == "full":
        return np.ones(shape, dtype=bool)
    if encoding == "bits":
        size = int(np.prod(shape))
        return np.unpackbits(packed["bits"], count=size).astype(bool).reshape(shape)
    indptr = np.asarray(packed["indptr"], dtype=np.int64)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    support = np.zeros(shape, dtype=bool)
    support[rows, np.asarray(packed["indices"], dtype=np.int64)] = True
    return support


def pack_weights(coefs, masks):
    """Compact, exact encoding of weight matrices and their masks.

    Parameters
    ----------
    coefs : list of ndarray
        Weight matrices.
    masks : list of ndarray of bool
        Masks of the same shapes, False where a weight is pruned.

    Returns
    -------
    packed : list of dict
        One dict of arrays, strings and ints per matrix, for
        :func:`unpack_weights`.
    """
    packed = []
    for coef, mask in zip(coefs, masks):
        coef = np.asarray(coef)
        mask = np.asarray(mask, dtype=bool)
        support = mask | (coef != 0)
        layer = {
            "shape": tuple(int(s) for s in coef.shape),
            "positions": _pack_positions(support),
            "values": np.ascontiguousarray(coef[support]),
            # Pruned weights are zero, so the support is usually the mask.
            "mask": None if np.array_equal(support, mask) else np.packbits(mask),
        }
        packed.append(layer)
    return packed


def unpack_weights(packed):
    """Weight matrices and masks encoded by :func:`pack_weights`.

    Returns
    -------
    coefs : list of ndarray
    masks : list of ndarray of bool
    """
    coefs, masks = [], []
    for layer in packed:
        shape = tuple(layer["shape"])
        support = _unpack_positions(layer["positions"], shape)
        values = np.asarray(layer["values"])
        coef = np.zeros(shape, dtype=values.dtype)
        coef[support] = values
        if layer["mask"] is None:
            mask = support
        else:
            size = int(np.prod(shape))
            mask = np.unpackbits(layer["mask"], count=size).astype(bool)
            mask = mask.reshape(shape)
        coefs.append(coef)
        masks.append(mask)
    return coefs, masks
