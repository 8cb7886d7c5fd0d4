"""Compact, exact storage of the weight matrices of pruned perceptrons.

:func:`pack_weights` keeps, for every weight matrix, the values at the
positions that are unpruned or nonzero and the positions themselves, in
whichever of three encodings is the smallest: the dense matrix, a bit per
position, or CSR indices in the smallest unsigned integer type that holds
them (``uint8``, ``uint16``, ...). Values keep the network's dtype, so
:func:`unpack_weights` gives back the weights and masks bit for bit.
"""

import numpy as np

STORAGE_FORMAT = 1
"""Version of the layout written by :func:`pack_weights`."""

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
