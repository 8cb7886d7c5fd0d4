"""Compact, exact storage of weight matrices and their masks."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skprune.neural._storage import pack_weights, unpack_weights


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
