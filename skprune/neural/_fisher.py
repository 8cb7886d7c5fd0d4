"""Inverse of the empirical Fisher information, block by block.

The empirical Fisher of ``m`` gradients ``g_i`` of ``d`` weights, damped, is

    F = damp * I + (1 / m) * sum_i g_i g_i^T.

Optimal Brain Surgeon needs ``F^-1`` but never ``F``, and a ``d x d`` matrix does
not fit for a real layer. Two approximations are implemented, as in WoodFisher
(Singh & Alistarh, 2020) and M-FAC (Frantar et al., 2021):

- :class:`BlockFisherInverse` keeps the diagonal blocks of ``block_size``
  consecutive weights. Each block's inverse is built without inverting
  anything of size ``block_size``: starting from ``I / damp``, gradients are
  folded in by the Woodbury identity, a batch of ``k`` at a time (``k = 1`` is
  the Sherman-Morrison recursion of WoodFisher), for all blocks at once.
- :class:`LowRankFisherInverse` keeps the whole layer as one block in the
  low-rank form ``F^-1 = I / damp - U^T M U / damp^2`` with ``U`` the ``m x d``
  gradients and ``M`` an ``m x m`` matrix, so memory is ``O(d m)``.
"""

import numbers

import numpy as np


def check_fisher_parameters(damp, block_size, n_weights):
    """Validate the damping and the block size for a layer of ``n_weights``."""
    if not isinstance(damp, numbers.Real) or not damp > 0 or not np.isfinite(damp):
        raise ValueError(f"damp must be a positive finite number, got {damp!r}.")
    if block_size is None:
        return
    if not isinstance(block_size, numbers.Integral) or block_size < 1:
        raise ValueError(
            f"fisher_block_size must be a positive int or None, got {block_size!r}."
        )
    if block_size > n_weights:
        raise ValueError(
            f"fisher_block_size={block_size} is larger than a layer of {n_weights} "
            "weights; use fisher_block_size=None for the whole layer in low-rank form."
        )


def _check_gradients(gradients):
    gradients = np.asarray(gradients, dtype=np.float64)
    if gradients.ndim != 2 or gradients.shape[0] < 1:
        raise ValueError(
            f"gradients must be a 2-d array of shape (m, d) with m >= 1, got shape "
            f"{gradients.shape}."
        )
    if not np.all(np.isfinite(gradients)):
        raise ValueError(
            "The gradients hold NaN or infinite values: the loss has diverged or "
            "the inputs are not finite, so no curvature can be estimated."
        )
    return gradients


class BlockFisherInverse:
    """Inverse of the block-diagonal damped empirical Fisher.

    Parameters
    ----------
    n_weights : int
        Number of weights ``d``; blocks are runs of ``block_size`` consecutive
        weights, the last one possibly shorter.
    block_size : int
        Size of the diagonal blocks.
    damp : float
        Damping added to the diagonal of the Fisher.
    n_gradients : int
        Total number of gradients ``m`` that will be folded in: each counts
        with weight ``1 / m``.

    Attributes
    ----------
    blocks : ndarray of shape (n_blocks, block_size, block_size)
        The inverse of each block. The padding of a last, shorter block holds
        ``1 / damp`` on its diagonal and is never coupled to real weights.
    """

    def __init__(self, n_weights, block_size, damp, n_gradients):
        check_fisher_parameters(damp, block_size, n_weights)
        self.n_weights = n_weights
        self.block_size = block_size
        self.damp = float(damp)
        self.n_gradients = n_gradients
        n_blocks = -(-n_weights // block_size)
        self.blocks = np.broadcast_to(
            np.eye(block_size) / damp, (n_blocks, block_size, block_size)
        ).copy()
        self.n_folded = 0

    def _as_blocks(self, vectors):
        """Reshape vectors of length d to (n_blocks, ..., block_size), zero-padded."""
        vectors = np.asarray(vectors, dtype=np.float64)
        n_blocks = self.blocks.shape[0]
        padded = np.zeros(vectors.shape[:-1] + (n_blocks * self.block_size,))
        padded[..., : self.n_weights] = vectors
        return padded.reshape(vectors.shape[:-1] + (n_blocks, self.block_size))

    def fold_in(self, gradients):
        """Add a batch of gradients to the Fisher, updating every block's inverse.

        With ``A`` the current inverse of a block and ``U`` the ``k`` gradients
        restricted to it, the Woodbury identity gives

            (A^-1 + U^T U / m)^-1 = A - A U^T (m I + U A U^T)^-1 U A.

        Parameters
        ----------
        gradients : ndarray of shape (k, n_weights)

        Returns
        -------
        self : BlockFisherInverse
        """
        gradients = _check_gradients(gradients)
        # (n_blocks, k, block_size)
        U = self._as_blocks(gradients).transpose(1, 0, 2)
        AUt = self.blocks @ U.transpose(0, 2, 1)  # (n_blocks, block_size, k)
        inner = U @ AUt
        inner += self.n_gradients * np.eye(U.shape[1])
        self.blocks -= AUt @ np.linalg.solve(inner, AUt.transpose(0, 2, 1))
        self.n_folded += gradients.shape[0]
        return self

    def diagonal(self):
        """The diagonal of ``F^-1``, of shape (n_weights,)."""
        return np.diagonal(self.blocks, axis1=1, axis2=2).reshape(-1)[: self.n_weights]

    def dense(self):
        """The whole block-diagonal ``F^-1`` as a dense matrix (for testing)."""
        n_padded = self.blocks.shape[0] * self.block_size
        dense = np.zeros((n_padded, n_padded))
        for b, block in enumerate(self.blocks):
            span = slice(b * self.block_size, (b + 1) * self.block_size)
            dense[span, span] = block
        return dense[: self.n_weights, : self.n_weights]

    def surgeon_step(self, weights, remove):
        """Optimal Brain Surgeon step removing several weights per block.

        For the weights ``Q`` to remove in a block, with ``A`` the block's
        inverse Fisher, the update that minimises the quadratic model of the
        loss with ``w_Q = 0`` is ``dw = -A[:, Q] (A[Q, Q])^-1 w_Q`` and the loss
        increases by ``1/2 w_Q^T (A[Q, Q])^-1 w_Q`` (Kurtic et al., 2022).

        Parameters
        ----------
        weights : ndarray of shape (n_weights,)
        remove : ndarray of bool of shape (n_weights,)
            Weights forced to zero, including those already zero that must stay
            there.

        Returns
        -------
        new_weights : ndarray of shape (n_weights,)
            The updated weights, exactly zero where ``remove``.
        loss_increase : float
            The increase of the loss predicted by the quadratic model.
        """
        w = self._as_blocks(weights)
        Q = self._as_blocks(remove.astype(np.float64)).astype(bool)
        delta = np.zeros_like(w)
        loss_increase = 0.0
        for b in np.flatnonzero(Q.any(axis=1)):
            chosen = np.flatnonzero(Q[b])
            A = self.blocks[b]
            coefficients = np.linalg.solve(A[np.ix_(chosen, chosen)], w[b, chosen])
            delta[b] = -A[:, chosen] @ coefficients
            loss_increase += 0.5 * float(w[b, chosen] @ coefficients)
        new_weights = (w + delta).reshape(-1)[: self.n_weights]
        new_weights[remove] = 0.0
        return new_weights, loss_increase


class LowRankFisherInverse:
    """Inverse of the damped empirical Fisher of a whole layer, in low-rank form.

    ``F^-1 = I / damp - U^T M U / damp^2`` with ``U`` the ``m x d`` matrix of
    gradients and ``M = (m I + U U^T / damp)^-1``, so only ``O(d m)`` numbers
    are stored.

    Parameters
    ----------
    gradients : ndarray of shape (m, n_weights)
    damp : float
    """

    def __init__(self, gradients, damp):
        gradients = _check_gradients(gradients)
        check_fisher_parameters(damp, None, gradients.shape[1])
        self.damp = float(damp)
        self.n_weights = gradients.shape[1]
        self.U = gradients
        m = gradients.shape[0]
        self.M = np.linalg.inv(m * np.eye(m) + (gradients @ gradients.T) / damp)
        self._MU = self.M @ self.U

    def diagonal(self):
        """The diagonal of ``F^-1``, of shape (n_weights,)."""
        return 1.0 / self.damp - np.einsum("ij,ij->j", self.U, self._MU) / self.damp**2

    def columns(self, indices):
        """Columns ``F^-1[:, indices]``, of shape (n_weights, len(indices))."""
        columns = -(self.U.T @ self._MU[:, indices]) / self.damp**2
        columns[indices, np.arange(len(indices))] += 1.0 / self.damp
        return columns

    def dense(self):
        """``F^-1`` as a dense matrix (for testing small layers)."""
        return self.columns(np.arange(self.n_weights))

    def surgeon_step(self, weights, remove):
        """Optimal Brain Surgeon step removing the weights ``remove`` jointly.

        See :meth:`BlockFisherInverse.surgeon_step`; here the block is the
        whole layer, so only the ``|Q|`` columns of ``F^-1`` are formed.
        """
        weights = np.asarray(weights, dtype=np.float64)
        chosen = np.flatnonzero(remove)
        if chosen.size == 0:
            return weights.copy(), 0.0
        columns = self.columns(chosen)
        coefficients = np.linalg.solve(columns[chosen], weights[chosen])
        new_weights = weights - columns @ coefficients
        new_weights[remove] = 0.0
        return new_weights, 0.5 * float(weights[chosen] @ coefficients)


def fisher_inverse(gradient_batches, n_weights, *, block_size, damp, n_gradients):
    """Build the inverse Fisher of a layer from batches of per-sample gradients.

    Parameters
    ----------
    gradient_batches : iterable of ndarray of shape (k, n_weights)
        Per-sample gradients, a batch at a time, so that the ``m x d`` matrix
        is never formed for the block-diagonal form. Batches of one gradient
        give WoodFisher's Sherman-Morrison recursion.
    n_weights : int
    block_size : int or None
        Size of the diagonal blocks; None for the whole layer in low-rank form.
    damp : float
    n_gradients : int
        Total number of gradients over all batches.

    Returns
    -------
    inverse : BlockFisherInverse or LowRankFisherInverse
    """
    if block_size is None or block_size == n_weights:
        return LowRankFisherInverse(np.vstack(list(gradient_batches)), damp)
    inverse = BlockFisherInverse(n_weights, block_size, damp, n_gradients)
    for batch in gradient_batches:
        inverse.fold_in(batch)
    return inverse
