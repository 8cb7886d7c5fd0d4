"""The block-wise inverse Fisher and the Optimal Brain Surgeon step."""

import numpy as np
import pytest

from skprune.neural import _fisher
from skprune.neural._fisher import (
    BlockFisherInverse,
    KroneckerFisherInverse,
    LowRankFisherInverse,
    fisher_inverse,
)


def direct_block_inverse(gradients, block_size, damp):
    """numpy.linalg.inv of each damped Fisher block, the reference."""
    m, d = gradients.shape
    reference = np.zeros((d, d))
    for start in range(0, d, block_size):
        span = slice(start, min(start + block_size, d))
        G = gradients[:, span]
        F = damp * np.eye(G.shape[1]) + G.T @ G / m
        reference[span, span] = np.linalg.inv(F)
    return reference


def batches(gradients, size):
    return [gradients[i : i + size] for i in range(0, gradients.shape[0], size)]


@pytest.mark.parametrize("block_size", [1, 4, 7, 16, 25])  # 7, 16, 25 do not divide 30
@pytest.mark.parametrize("batch_size", [1, 5, 64])  # 1 is Sherman-Morrison
@pytest.mark.parametrize("damp", [1e-4, 1e-1])
def test_block_inverse_equals_numpy_inverse(block_size, batch_size, damp):
    rng = np.random.RandomState(block_size + batch_size)
    gradients = rng.normal(size=(20, 30)) * rng.uniform(0.1, 3, size=30)
    inverse = fisher_inverse(
        batches(gradients, batch_size),
        30,
        block_size=block_size,
        damp=damp,
        n_gradients=20,
    )
    assert isinstance(inverse, BlockFisherInverse)
    reference = direct_block_inverse(gradients, block_size, damp)
    np.testing.assert_allclose(
        inverse.dense(), reference, rtol=1e-10, atol=1e-10 * np.abs(reference).max()
    )
    np.testing.assert_allclose(inverse.diagonal(), np.diag(reference), rtol=1e-10)


@pytest.mark.parametrize("damp", [1e-3, 1.0])
def test_low_rank_form_equals_numpy_inverse_for_a_whole_layer(damp):
    rng = np.random.RandomState(0)
    gradients = rng.normal(size=(12, 40))
    inverse = fisher_inverse(
        batches(gradients, 5), 40, block_size=None, damp=damp, n_gradients=12
    )
    assert isinstance(inverse, LowRankFisherInverse)
    reference = direct_block_inverse(gradients, 40, damp)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(
        inverse.dense(), reference, rtol=1e-10, atol=1e-10 * scale
    )
    np.testing.assert_allclose(inverse.diagonal(), np.diag(reference), rtol=1e-10)
    # a block as large as the layer takes the same low-rank form
    same = fisher_inverse([gradients], 40, block_size=40, damp=damp, n_gradients=12)
    np.testing.assert_allclose(same.dense(), reference, rtol=1e-10, atol=1e-10 * scale)


def quadratic_problem(seed, d=24, m=40, damp=0.05):
    """A quadratic loss whose Hessian is exactly the damped Fisher of G."""
    rng = np.random.RandomState(seed)
    G = rng.normal(size=(m, d))
    H = damp * np.eye(d) + G.T @ G / m
    w_star = rng.normal(size=d)
    return G, H, w_star, damp


def constrained_minimiser(H, w_star, remove):
    """min 1/2 (w - w*)^T H (w - w*) subject to w[remove] = 0, solved directly."""
    keep = ~remove
    w = np.zeros_like(w_star)
    # stationarity on the kept coordinates: H_KK (w_K - w*_K) - H_KQ w*_Q = 0
    w[keep] = w_star[keep] + np.linalg.solve(
        H[np.ix_(keep, keep)], H[np.ix_(keep, remove)] @ w_star[remove]
    )
    return w


def quadratic_loss(H, w_star, w):
    return 0.5 * (w - w_star) @ H @ (w - w_star)


def assert_exact_surgeon_step(inverse, H, w_star, remove):
    """The step lands on the constrained minimiser and predicts the increase."""
    new_w, predicted = inverse.surgeon_step(w_star, remove)
    expected_w = constrained_minimiser(H, w_star, remove)
    np.testing.assert_allclose(new_w, expected_w, rtol=1e-9, atol=1e-12)
    assert np.all(new_w[remove] == 0.0)
    true_increase = quadratic_loss(H, w_star, new_w)
    assert predicted == pytest.approx(true_increase, rel=1e-9)
    return true_increase


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_remove", [1, 3, 10])
def test_surgeon_step_is_exact_on_a_quadratic_loss(seed, n_remove):
    G, H, w_star, damp = quadratic_problem(seed)
    remove = np.zeros(w_star.size, dtype=bool)
    remove[np.random.RandomState(seed).choice(w_star.size, n_remove, replace=False)] = (
        True
    )
    for inverse in (
        # one block holding every weight, built by Woodbury updates
        BlockFisherInverse(w_star.size, w_star.size, damp, G.shape[0])
        .fold_in(G[:15])
        .fold_in(G[15:]),
        fisher_inverse(
            batches(G, 7),
            w_star.size,
            block_size=None,
            damp=damp,
            n_gradients=G.shape[0],
        ),
    ):
        assert_exact_surgeon_step(inverse, H, w_star, remove)


def test_block_surgeon_step_is_exact_for_a_block_diagonal_loss():
    # with a block-diagonal Hessian, the block-wise step is the exact minimiser
    G, _, w_star, damp = quadratic_problem(3, d=20)
    block_size = 6  # blocks of 6, 6, 6 and 2
    inverse = fisher_inverse(
        batches(G, 3), 20, block_size=block_size, damp=damp, n_gradients=G.shape[0]
    )
    H = np.linalg.inv(direct_block_inverse(G, block_size, damp))
    remove = np.zeros(20, dtype=bool)
    remove[[0, 1, 7, 13, 18, 19]] = True
    assert_exact_surgeon_step(inverse, H, w_star, remove)


def test_single_weight_saliency_matches_the_formula():
    G, _, w_star, damp = quadratic_problem(4)
    inverse = fisher_inverse(
        [G], w_star.size, block_size=w_star.size, damp=damp, n_gradients=G.shape[0]
    )
    saliency = w_star**2 / (2 * inverse.diagonal())
    for q in range(0, w_star.size, 5):
        remove = np.zeros(w_star.size, dtype=bool)
        remove[q] = True
        _, predicted = inverse.surgeon_step(w_star, remove)
        assert predicted == pytest.approx(saliency[q], rel=1e-10)


def test_bad_parameters_and_gradients_are_rejected():
    with pytest.raises(ValueError, match="damp"):
        BlockFisherInverse(10, 4, -1.0, 5)
    with pytest.raises(ValueError, match="fisher_block_size"):
        BlockFisherInverse(10, 11, 0.1, 5)
    with pytest.raises(ValueError, match="NaN"):
        BlockFisherInverse(10, 4, 0.1, 5).fold_in(np.full((2, 10), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        LowRankFisherInverse(np.full((2, 10), np.inf), 0.1)


def dense_group_saliency(dense_inverse, weights, group):
    """1/2 w_Q^T ([F^-1]_QQ)^-1 w_Q with numpy.linalg.solve on the dense inverse."""
    sub = dense_inverse[np.ix_(group, group)]
    return 0.5 * weights[group] @ np.linalg.solve(sub, weights[group])


@pytest.mark.parametrize("block_size", [5, 8, None])
def test_group_saliency_and_submatrix_equal_dense_references(block_size):
    rng = np.random.RandomState(7)
    G = rng.normal(size=(9, 26))
    w = rng.normal(size=26)
    inverse = fisher_inverse(
        batches(G, 4), 26, block_size=block_size, damp=0.3, n_gradients=9
    )
    dense = inverse.dense()
    labels = np.full(26, -1)
    groups = [[0, 1, 2], [3, 9, 17, 25], [4], [10, 11, 12, 13, 14, 15, 16]]
    for g, members in enumerate(groups):
        labels[members] = g
    saliency = inverse.group_saliency(w, labels, len(groups) + 1)
    expected = [dense_group_saliency(dense, w, members) for members in groups]
    np.testing.assert_allclose(saliency[:-1], expected, rtol=1e-10)
    assert saliency[-1] == 0.0  # a group with no member
    indices = np.array([[3, 9, 17, 25], [10, 11, -1, 12]])
    sub = inverse.submatrix(indices)
    np.testing.assert_allclose(
        sub[0], dense[np.ix_(indices[0], indices[0])], rtol=1e-10, atol=1e-14
    )
    np.testing.assert_allclose(
        sub[1][np.ix_([0, 1, 3], [0, 1, 3])],
        dense[np.ix_([10, 11, 12], [10, 11, 12])],
        rtol=1e-10,
        atol=1e-14,
    )
    assert sub[1][2, 2] == 1.0 and not sub[1][2, [0, 1, 3]].any()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("block_size", [6, None])
def test_group_removal_is_exact_on_a_quadratic_loss(seed, block_size):
    # Hessian = the damped (block-diagonal) Fisher: the quadratic model is exact.
    G, _, w_star, damp = quadratic_problem(seed, d=20)
    inverse = fisher_inverse(
        batches(G, 3), 20, block_size=block_size, damp=damp, n_gradients=G.shape[0]
    )
    H = np.linalg.inv(direct_block_inverse(G, block_size or 20, damp))
    labels = np.full(20, -1)
    groups = [[0, 1, 2, 3], [5, 6, 7, 8, 9, 10], [11, 19]]  # across blocks of 6
    for g, members in enumerate(groups):
        labels[members] = g
    saliency = inverse.group_saliency(w_star, labels, len(groups))
    for g, members in enumerate(groups):
        remove = np.zeros(20, dtype=bool)
        remove[members] = True
        true_increase = assert_exact_surgeon_step(inverse, H, w_star, remove)
        assert saliency[g] == pytest.approx(true_increase, rel=1e-9)


def test_sherman_morrison_recursion_equals_one_woodbury_fold():
    rng = np.random.RandomState(3)
    G = rng.normal(size=(12, 33))
    one_at_a_time = fisher_inverse(
        batches(G, 1), 33, block_size=10, damp=0.02, n_gradients=12
    )
    all_at_once = fisher_inverse([G], 33, block_size=10, damp=0.02, n_gradients=12)
    np.testing.assert_allclose(one_at_a_time.blocks, all_at_once.blocks, rtol=1e-10)
    assert one_at_a_time.n_folded == all_at_once.n_folded == 12


@pytest.fixture(params=["one batch", "a unit at a time"])
def kronecker_batches(request, monkeypatch):
    """Run the Kronecker-factored inverse on all units at once or one by one."""
    if request.param == "a unit at a time":
        monkeypatch.setattr(_fisher, "_BATCH_FLOATS", 1)


def kronecker_problem(seed, fan_in=9, fan_out=5, damp=0.2):
    """Factors of a Kronecker-factored Fisher and a mask with every case:
    a whole unit, a unit with one pruned weight, units with more pruned, and
    a unit with nothing left."""
    rng = np.random.RandomState(seed)
    inputs = rng.normal(size=(6, fan_in)) @ rng.normal(size=(fan_in, fan_in))
    input_moment = inputs.T @ inputs / inputs.shape[0]  # rank 6 < fan_in
    scales = rng.uniform(0.1, 2.0, size=fan_out)
    scales[3] = 0.0  # a unit the loss does not see
    mask = rng.uniform(size=(fan_in, fan_out)) < 0.6
    mask[:, 0] = True
    mask[:, 1] = True
    mask[2, 1] = False  # one pruned input: its block's inverse is corrected
    mask[:, 4] = False
    return input_moment, scales, mask, damp


def direct_kronecker_fisher(input_moment, scales, mask, damp):
    """The damped Fisher in Fisher order, from numpy.kron, pruned rows zeroed."""
    fisher = np.kron(np.diag(scales), input_moment)
    kept = mask.T.ravel().astype(np.float64)
    return fisher * np.outer(kept, kept) + damp * np.eye(kept.size)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kronecker_inverse_equals_numpy_inverse(seed, kronecker_batches):
    factors = kronecker_problem(seed)
    inverse = KroneckerFisherInverse(*factors)
    reference = np.linalg.inv(direct_kronecker_fisher(*factors))
    np.testing.assert_allclose(inverse.diagonal(), np.diag(reference), rtol=1e-10)
    np.testing.assert_allclose(
        inverse.dense(), reference, rtol=1e-10, atol=1e-12 * np.abs(reference).max()
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kronecker_surgeon_step_is_exact_on_a_quadratic_loss(seed, kronecker_batches):
    factors = kronecker_problem(seed)
    mask = factors[2]
    H = direct_kronecker_fisher(*factors)
    rng = np.random.RandomState(seed)
    w_star = rng.normal(size=mask.size) * mask.T.ravel()
    # the pruned weights stay removed, with a random part of the others
    remove = ~mask.T.ravel() | (rng.uniform(size=mask.size) < 0.4)
    assert_exact_surgeon_step(KroneckerFisherInverse(*factors), H, w_star, remove)


def test_kronecker_groups_equal_dense_references(kronecker_batches):
    factors = kronecker_problem(3)
    inverse = KroneckerFisherInverse(*factors)
    dense = np.linalg.inv(direct_kronecker_fisher(*factors))
    w = np.random.RandomState(3).normal(size=dense.shape[0])
    labels = np.full(w.size, -1)
    kept = np.flatnonzero(factors[2].T.ravel())
    groups = [kept[:3], kept[[3, 9, 20]], kept[-5:]]
    for g, members in enumerate(groups):
        labels[members] = g
    saliency = inverse.group_saliency(w, labels, len(groups))
    expected = [dense_group_saliency(dense, w, members) for members in groups]
    np.testing.assert_allclose(saliency, expected, rtol=1e-10)
    indices = np.array([kept[:4], kept[[3, 9, 20, 21]]])
    for sub, rows in zip(inverse.submatrix(indices), indices):
        np.testing.assert_allclose(sub, dense[np.ix_(rows, rows)], atol=1e-12)
