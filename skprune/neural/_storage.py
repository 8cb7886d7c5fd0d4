"""Compact, exact storage of pruned perceptrons: weight matrices and state.

:func:`pack_weights` keeps, for every weight matrix, the values at the
positions that are unpruned or nonzero and the positions themselves, in
whichever of three encodings is the smallest: the dense matrix, a bit per
position, or CSR indices in the smallest unsigned integer type that holds
them (``uint8``, ``uint16``, ...). Values keep the network's dtype, so
:func:`unpack_weights` gives back the weights and masks bit for bit.

:func:`pack_state` turns a whole state dict into one JSON text and one byte
buffer, so that skops, which describes every stored object, writes a few
entries rather than hundreds; :func:`unpack_state` gives it back.
"""

import json

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.preprocessing import LabelBinarizer

STORAGE_FORMAT = 2
"""Version of the layout written by :func:`pack_weights` and :func:`pack_state`."""

READABLE_FORMATS = (1, 2)
"""Layouts still read: format 1 stored the state dict unpacked."""


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


# Numeric and boolean dtypes: the only arrays read back from raw bytes.
_RAW_KINDS = "biufc"

# Objects of scikit-learn held by skprune estimators, stored as their type and
# their packed state instead of as objects.
PACKED_TYPES = (
    MLPClassifier,
    MLPRegressor,
    LabelBinarizer,
    AdamOptimizer,
    SGDOptimizer,
)

_PACKED_STATE_KEY = "_skprune_packed_state"


def pack_state(state):
    """One JSON text and one byte buffer for the plain data of a state dict.

    Serializers that describe every object (skops writes a JSON node of about
    150 bytes per scalar, list and dict, and a file per array) store a state
    of many small attributes at many times its pickled size. Here Python
    scalars, lists, tuples and dicts with string keys become one JSON text,
    numeric arrays one byte buffer (an array referenced twice is stored once),
    the objects of ``PACKED_TYPES`` their type and packed state, and only
    other objects are kept as objects. :func:`unpack_state` gives back equal
    values of the same types, arrays shared as they were.

    Parameters
    ----------
    state : dict
        The state, with string keys.

    Returns
    -------
    packed : dict
        ``{"json": str, "buffer": ndarray of uint8, "objects": list}``.
    """
    packer = _Packer()
    data = packer.encode(state)
    chunks, layout = [], []
    offset = 0
    for array in packer.arrays:
        raw = np.ascontiguousarray(array).view(np.uint8).ravel()
        layout.append([array.dtype.str, list(array.shape), offset])
        chunks.append(raw)
        offset += raw.size
    buffer = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
    text = json.dumps({"data": data, "arrays": layout}, separators=(",", ":"))
    return {"json": text, "buffer": buffer, "objects": packer.objects}


def stored_state(state):
    """What ``__getstate__`` returns: ``state`` packed by :func:`pack_state`."""
    return {_PACKED_STATE_KEY: pack_state(state)}


def loaded_state(stored):
    """The state a ``__setstate__`` receives, unpacked if it was packed."""
    if _PACKED_STATE_KEY in stored:
        return unpack_state(stored[_PACKED_STATE_KEY])
    return stored


def unpack_state(packed):
    """The state dict encoded by :func:`pack_state`."""
    decoded = json.loads(packed["json"])
    buffer = np.asarray(packed["buffer"], dtype=np.uint8)
    arrays = []
    for dtype, shape, offset in decoded["arrays"]:
        dtype = np.dtype(dtype)
        if dtype.kind not in _RAW_KINDS:
            raise ValueError(f"Stored arrays are numeric, not of dtype {dtype}.")
        size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        raw = buffer[offset : offset + size].copy()
        arrays.append(raw.view(dtype).reshape(shape))
    return _decode(decoded["data"], arrays, packed["objects"])


class _Packer:
    """Encodes values into JSON data, collecting arrays and objects."""

    def __init__(self):
        self.arrays, self.objects = [], []
        self._array_index = {}

    def encode(self, value):
        kind = type(value)
        if kind in (str, int, float, bool, type(None)):
            return value
        if kind is list:
            if _same_numpy_scalars(value):
                return {"scalar_list": self._add_array(np.array(value))}
            return [self.encode(item) for item in value]
        if isinstance(value, np.generic) and value.dtype.kind in _RAW_KINDS:
            return {"scalar": self._add_array(np.array(value))}
        if kind is tuple:
            return {"tuple": [self.encode(item) for item in value]}
        if kind is dict and all(type(key) is str for key in value):
            return {"dict": {key: self.encode(item) for key, item in value.items()}}
        if kind is np.ndarray and value.dtype.kind in _RAW_KINDS:
            return {"array": self._add_array(value)}
        if kind in PACKED_TYPES:
            index = len(self.objects)
            self.objects.append(kind)
            state = value.__getstate__()
            return {"packed": [index, self.encode(state)]}
        self.objects.append(value)
        return {"object": len(self.objects) - 1}

    def _add_array(self, array):
        # Every array stays referenced by self.arrays, so no id is reused.
        index = self._array_index.get(id(array))
        if index is None:
            index = self._array_index[id(array)] = len(self.arrays)
            self.arrays.append(array)
        return index


def _same_numpy_scalars(values):
    """Whether ``values`` are numpy numbers of one type, as a loss curve."""
    return (
        len(values) > 0
        and isinstance(values[0], np.generic)
        and values[0].dtype.kind in _RAW_KINDS
        and all(type(value) is type(values[0]) for value in values)
    )


def _decode(value, arrays, objects):
    if type(value) is list:
        return [_decode(item, arrays, objects) for item in value]
    if type(value) is not dict:
        return value
    ((tag, content),) = value.items()
    if tag == "tuple":
        return tuple(_decode(item, arrays, objects) for item in content)
    if tag == "dict":
        return {key: _decode(item, arrays, objects) for key, item in content.items()}
    if tag == "array":
        return arrays[content]
    if tag == "scalar":
        return arrays[content][()]
    if tag == "scalar_list":
        return list(arrays[content])
    if tag == "packed":
        index, state = content
        return _object_from_state(objects[index], _decode(state, arrays, objects))
    return objects[content]


def _object_from_state(cls, state):
    if cls not in PACKED_TYPES:
        raise ValueError(f"Stored objects are not of type {cls!r}.")
    obj = cls.__new__(cls)
    if hasattr(obj, "__setstate__"):
        obj.__setstate__(state)
    else:
        obj.__dict__.update(state)
    return obj
