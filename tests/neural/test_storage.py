"""Compact, exact storage of weight matrices and their masks."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import LabelBinarizer

from skprune.neural._storage import (
    pack_state,
    pack_weights,
    unpack_state,
    unpack_weights,
)


@pytest.mark.parametrize(
    "shape, density, encoding, index_dtype",
    [
        ((30, 20), 1.0, "full", None),
        ((30, 20), 0.5, "bits", None),
        ((30, 200), 0.01, "csr", np.uint8),
        ((30, 1000), 0.002, "csr", np.uint16),
    ],
)
def test_pack_weights_round_trips_with_the_smallest_encoding(
    shape, density, encoding, index_dtype
):
    rng = np.random.default_rng(0)
    mask = rng.random(shape) < density
    mask.flat[0] = True
    coef = rng.standard_normal(shape) * mask
    packed = pack_weights([coef], [mask])
    positions = packed[0]["positions"]
    assert positions["encoding"] == encoding
    if index_dtype is not None:
        assert positions["indices"].dtype == index_dtype
    nnz = int(mask.sum())
    sizes = {"full": 0, "bits": -(-mask.size // 8), "csr": nnz * 2 + shape[0] * 4}
    index_bytes = sum(a.nbytes for a in positions.values() if hasattr(a, "nbytes"))
    assert index_bytes <= min(sizes["bits"], sizes["csr"]) or encoding == "full"
    coefs, masks = unpack_weights(packed)
    assert_array_equal(coefs[0], coef)
    assert coefs[0].dtype == coef.dtype
    assert_array_equal(masks[0], mask)


def test_pack_weights_keeps_unpruned_zeros_and_pruned_nonzeros():
    coef = np.array([[0.0, 1.5], [2.0, 0.0]], dtype=np.float32)
    mask = np.array([[True, False], [True, False]])  # (0, 1) pruned but set
    coefs, masks = unpack_weights(pack_weights([coef], [mask]))
    assert_array_equal(coefs[0], coef)
    assert coefs[0].dtype == np.float32
    assert_array_equal(masks[0], mask)


def _assert_same(a, b):
    """Equal values of the same types, arrays with their dtypes and shapes."""
    assert type(a) is type(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert_array_equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_pack_state_round_trips_values_and_types():
    rng = np.random.default_rng(0)
    shared = rng.standard_normal((3, 4))
    state = {
        "int": 3, "big": 2**70, "float": 0.1, "nan": float("nan"),
        "inf": float("-inf"), "bool": True, "none": None, "str": "relu",
        "tuple": (100, (2, 3)), "list": [1, 2.5, "a", None],
        "nested": {"a": [shared, {"b": (1,)}]},
        "int_keys": {1: "one"},
        "f32": rng.standard_normal(5).astype(np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((2, 3))),
        "big_endian": np.arange(4, dtype=">i4"),
        "bool_array": rng.random(7) > 0.5,
        "empty": np.zeros((0, 3)),
        "zero_d": np.array(1.5),
        "object_array": np.array(["a", "bc"], dtype=object),
        "np_scalar": np.float64(0.25), "np_int": np.int64(7),
        "curve": [np.float64(x) for x in (1.0, 0.5, 0.25)],
        "shared": shared, "also_shared": [shared],
    }
    packed = pack_state(state)
    # the arrays end in one buffer, the plain data in one text
    assert type(packed["json"]) is str
    assert packed["buffer"].dtype == np.uint8
    pickled = pickle.loads(pickle.dumps(packed))
    for restored in (unpack_state(packed), unpack_state(pickled)):
        _assert_same(restored, state)
        assert restored["shared"] is restored["nested"]["a"][0]
        assert restored["shared"] is restored["also_shared"][0]
        restored["fortran"][0, 0] = 1.0  # writable, owns its data


def test_packed_network_with_optimizer_resumes_training_identically():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(X, y)
    packed = pack_state({"estimator": mlp})
    # only the random state stays an object; the network, its label
    # binarizer and optimizer are stored as their types and packed states
    objects = packed["objects"]
    assert [obj for obj in objects if not isinstance(obj, type)] == [mlp._random_state]
    copy = unpack_state(packed)["estimator"]
    assert type(copy) is MLPClassifier
    assert type(copy._optimizer) is type(mlp._optimizer)
    assert copy._optimizer.t == mlp._optimizer.t
    for a, b in zip(mlp._optimizer.ms, copy._optimizer.ms):
        assert_array_equal(a, b)
    assert_array_equal(copy.predict_proba(X), mlp.predict_proba(X))
    assert copy.loss_curve_ == mlp.loss_curve_
    mlp.partial_fit(X, y)
    copy.partial_fit(X, y)
    for a, b in zip(mlp.coefs_, copy.coefs_):
        assert_array_equal(a, b)


def test_unpack_state_refuses_what_it_does_not_build():
    packed = pack_state({"a": np.zeros(2), "b": LabelBinarizer().fit([0, 1])})
    bad_dtype = dict(packed, json=packed["json"].replace("<f8", "|O"))
    with pytest.raises(ValueError, match="numeric"):
        unpack_state(bad_dtype)
    other_type = dict(packed, objects=[dict])
    with pytest.raises(ValueError, match="not of type"):
        unpack_state(other_type)
