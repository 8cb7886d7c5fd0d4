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
  low-rank form ``F^-1 = (I - V^T K^-1 V) / damp`` with ``V`` the ``m x d``
  gradients divided by ``sqrt(m)`` and ``K = damp * I + V V^T`` of size
  ``m x m``, so memory is ``O(d m)``.

:class:`KroneckerFisherInverse` is the exact inverse of another estimate of the
Fisher, Kronecker-factored as in K-FAC: ``diag(s) (x) A`` with ``A`` the second
moment of the layer's input and ``s`` the mean squared derivative of the loss
at each output unit. Its blocks are whole units, and it is built from the two
factors rather than from gradients.

All three answer the three questions of a surgeon step on a set ``Q`` of weights to
remove: the saliency ``1/2 w_Q^T ([F^-1]_QQ)^-1 w_Q`` (the increase of the
quadratic model of the loss), the update ``dw = -F^-1[:, Q] ([F^-1]_QQ)^-1 w_Q``
that minimises the model with ``w_Q = 0``, and entries of ``F^-1``.
"""

import numbers

import numpy as np

# Upper bound on the floats of the stacked matrices solved at once.
_BATCH_FLOATS = 2**22


def check_fisher_parameters(damp, block_size, n_weights):
    """Validate the damping and the block size for a layer of ``n_weights``."""
    if (
        isinstance(damp, (bool, np.bool_))
        or not isinstance(damp, numbers.Real)
        or not damp > 0
        or not np.isfinite(damp)
    ):
        raise ValueError(f"damp must be a positive finite number, got {damp!r}.")
    if block_size is None:
        return
    if (
        isinstance(block_size, (bool, np.bool_))
        or not isinstance(block_size, numbers.Integral)
        or block_size < 1
    ):
        raise ValueError(
            f"fisher_block_size must be a positive int or None, got {block_size!r}."
        )
    if block_size > n_weights:
        raise ValueError(
            f"fisher_block_size={block_size} is larger than a layer of {n_weights} "
            "weights; use fisher_block_size=None for the whole layer in low-rank form."
        )


def check_gradients(gradients):
    """Return the gradients as float64, rejecting non-finite values."""
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


def group_members(labels, n_groups):
    """Positions of the members of every group, padded with -1.

    Parameters
    ----------
    labels : ndarray of int of shape (d,)
        Group of every position, -1 for positions in no group.
    n_groups : int

    Returns
    -------
    members : ndarray of int of shape (n_groups, max_group_size)
        Positions of each group's members in increasing order, then -1.
    """
    positions = np.flatnonzero(labels >= 0)
    order = np.argsort(labels[positions], kind="stable")
    positions, group = positions[order], labels[positions][order]
    counts = np.bincount(group, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    members = np.full((n_groups, max(int(counts.max(initial=0)), 1)), -1)
    members[group, np.arange(positions.size) - starts[group]] = positions
    return members


def _padded_quadratic(matrices, vectors):
    """``1/2 v^T S^-1 v`` and ``S^-1 v`` for stacks of matrices and vectors."""
    solution = np.linalg.solve(matrices, vectors[..., np.newaxis])[..., 0]
    return 0.5 * np.einsum("...k,...k->...", vectors, solution), solution


def _batches(n_items, item_floats):
    """Slices over ``n_items`` so that each batch holds about _BATCH_FLOATS."""
    size = max(1, _BATCH_FLOATS // max(item_floats, 1))
    return [slice(start, start + size) for start in range(0, n_items, size)]


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
        """Reshape vectors of length d to (..., n_blocks, block_size), zero-padded."""
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
        gradients = check_gradients(gradients)
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

    def submatrix(self, indices):
        """Principal submatrices ``F^-1[Q, Q]`` for stacked index sets ``Q``.

        Parameters
        ----------
        indices : ndarray of int of shape (n_sets, k)
            Weight indices, -1 for padding.

        Returns
        -------
        submatrices : ndarray of shape (n_sets, k, k)
            Entries of weights in different blocks are zero; a padding row and
            column hold 1 on the diagonal and 0 elsewhere.
        """
        valid = indices >= 0
        safe = np.where(valid, indices, 0)
        block, position = np.divmod(safe, self.block_size)
        out = self.blocks[
            block[:, :, np.newaxis],
            position[:, :, np.newaxis],
            position[:, np.newaxis, :],
        ]
        coupled = (block[:, :, np.newaxis] == block[:, np.newaxis, :]) & (
            valid[:, :, np.newaxis] & valid[:, np.newaxis, :]
        )
        return np.where(coupled, out, np.eye(indices.shape[1]))

    def group_saliency(self, weights, labels, n_groups):
        """Saliency ``1/2 w_Q^T ([F^-1]_QQ)^-1 w_Q`` of removing each group.

        Groups may span several blocks; as ``F^-1`` is block-diagonal the
        saliency is the sum over the blocks of the saliency of the group's
        part in each.

        Parameters
        ----------
        weights : ndarray of shape (n_weights,)
        labels : ndarray of int of shape (n_weights,)
            Group of every weight, -1 for weights in no group.
        n_groups : int

        Returns
        -------
        saliency : ndarray of shape (n_groups,)
        """
        weights = np.asarray(weights, dtype=np.float64)
        in_group = labels >= 0
        n_blocks = self.blocks.shape[0]
        block = np.arange(self.n_weights) // self.block_size
        chunk_keys, chunk_of = np.unique(
            labels[in_group] * n_blocks + block[in_group], return_inverse=True
        )
        chunk_labels = np.full(self.n_weights, -1)
        chunk_labels[in_group] = chunk_of
        members = group_members(chunk_labels, chunk_keys.size)
        saliency = np.zeros(chunk_keys.size)
        k = members.shape[1]
        for span in _batches(chunk_keys.size, k * k):
            chunk = members[span]
            w = np.where(chunk >= 0, weights[np.maximum(chunk, 0)], 0.0)
            saliency[span], _ = _padded_quadratic(self.submatrix(chunk), w)
        return np.bincount(chunk_keys // n_blocks, weights=saliency, minlength=n_groups)

    def surgeon_step(self, weights, remove):
        """Optimal Brain Surgeon step removing several weights per block.

        For the weights ``Q`` to remove in a block, with ``A`` the block's
        inverse Fisher, the update that minimises the quadratic model of the
        loss with ``w_Q = 0`` is ``dw = -A[:, Q] (A[Q, Q])^-1 w_Q`` and the loss
        increases by ``1/2 w_Q^T (A[Q, Q])^-1 w_Q`` (Kurtic et al., 2022). All
        blocks are solved at once: rows and columns outside ``Q`` are replaced
        by those of the identity, which leaves ``(A[Q, Q])^-1 w_Q`` unchanged.

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
        remove = np.asarray(remove, dtype=bool)
        w = self._as_blocks(weights)
        Q = self._as_blocks(remove.astype(np.float64)).astype(bool)
        touched = np.flatnonzero(Q.any(axis=1))
        delta = np.zeros_like(w)
        loss_increase = 0.0
        eye = np.eye(self.block_size, dtype=bool)
        for span in _batches(touched.size, 2 * self.block_size**2):
            index = touched[span]
            q = Q[index]
            A = self.blocks[index]
            pair = q[:, :, np.newaxis] & q[:, np.newaxis, :]
            restricted = np.where(pair, A, eye)
            increase, coefficients = _padded_quadratic(restricted, w[index] * q)
            delta[index] = -np.einsum("bij,bj->bi", A, coefficients)
            loss_increase += float(increase.sum())
        new_weights = (w + delta).reshape(-1)[: self.n_weights]
        new_weights[remove] = 0.0
        return new_weights, loss_increase


class LowRankFisherInverse:
    """Inverse of the damped empirical Fisher of a whole layer, in low-rank form.

    ``F^-1 = (I - V^T K^-1 V) / damp`` with ``V = U / sqrt(m)`` for the
    ``m x d`` gradients ``U`` and ``K = damp * I + V V^T``, so only ``O(d m)``
    numbers are stored. Removing a set ``Q`` (keeping ``R``) uses the Schur
    complement ``([F^-1]_QQ)^-1 = damp * (I + V_Q^T (damp I + V_R V_R^T)^-1 V_Q)``,
    so no ``|Q| x |Q|`` matrix is formed.

    Parameters
    ----------
    gradients : ndarray of shape (m, n_weights)
    damp : float
    """

    def __init__(self, gradients, damp):
        gradients = check_gradients(gradients)
        check_fisher_parameters(damp, None, gradients.shape[1])
        self.damp = float(damp)
        self.n_weights = gradients.shape[1]
        m = gradients.shape[0]
        self.V = gradients / np.sqrt(m)
        self.gram = self.V @ self.V.T
        self.K_inv_V = np.linalg.solve(self.damp * np.eye(m) + self.gram, self.V)

    def diagonal(self):
        """The diagonal of ``F^-1``, of shape (n_weights,)."""
        return (1.0 - np.einsum("ij,ij->j", self.V, self.K_inv_V)) / self.damp

    def columns(self, indices):
        """Columns ``F^-1[:, indices]``, of shape (n_weights, len(indices))."""
        columns = -(self.V.T @ self.K_inv_V[:, indices]) / self.damp
        columns[indices, np.arange(len(indices))] += 1.0 / self.damp
        return columns

    def dense(self):
        """``F^-1`` as a dense matrix (for testing small layers)."""
        return self.columns(np.arange(self.n_weights))

    def submatrix(self, indices):
        """Principal submatrices ``F^-1[Q, Q]``, see
        :meth:`BlockFisherInverse.submatrix`."""
        valid = indices >= 0
        safe = np.where(valid, indices, 0)
        out = -np.einsum("rni,rnj->nij", self.V[:, safe], self.K_inv_V[:, safe])
        out /= self.damp
        out[:, np.arange(indices.shape[1]), np.arange(indices.shape[1])] += (
            1.0 / self.damp
        )
        pair = valid[:, :, np.newaxis] & valid[:, np.newaxis, :]
        eye = np.eye(indices.shape[1], dtype=bool)
        return np.where(pair, out, eye.astype(np.float64))

    def _schur(self, V_Q, w_Q):
        """``1/2 w_Q^T ([F^-1]_QQ)^-1 w_Q`` and ``([F^-1]_QQ)^-1 w_Q``.

        ``V_Q`` of shape (..., m, k), ``w_Q`` of shape (..., k), zero-padded.
        """
        m = self.V.shape[0]
        kept = self.gram - V_Q @ np.swapaxes(V_Q, -1, -2)
        kept += self.damp * np.eye(m)
        v = np.einsum("...rk,...k->...r", V_Q, w_Q)
        inner = np.linalg.solve(kept, v[..., np.newaxis])[..., 0]
        coefficients = self.damp * (w_Q + np.einsum("...rk,...r->...k", V_Q, inner))
        return 0.5 * np.einsum("...k,...k->...", w_Q, coefficients), coefficients

    def group_saliency(self, weights, labels, n_groups):
        """Saliency of removing each group, see
        :meth:`BlockFisherInverse.group_saliency`."""
        weights = np.asarray(weights, dtype=np.float64)
        members = group_members(labels, n_groups)
        m = self.V.shape[0]
        saliency = np.zeros(n_groups)
        for span in _batches(n_groups, m * (m + members.shape[1])):
            chunk = members[span]
            valid = chunk >= 0
            safe = np.where(valid, chunk, 0)
            V_Q = np.where(valid, self.V[:, safe], 0.0).transpose(1, 0, 2)
            w_Q = np.where(valid, weights[safe], 0.0)
            saliency[span], _ = self._schur(V_Q, w_Q)
        return saliency

    def surgeon_step(self, weights, remove):
        """Optimal Brain Surgeon step removing the weights ``remove`` jointly.

        See :meth:`BlockFisherInverse.surgeon_step`; here the block is the
        whole layer, and the step costs ``O(d m + m^3)``.
        """
        weights = np.asarray(weights, dtype=np.float64)
        remove = np.asarray(remove, dtype=bool)
        chosen = np.flatnonzero(remove)
        if chosen.size == 0:
            return weights.copy(), 0.0
        increase, coefficients = self._schur(self.V[:, chosen], weights[chosen])
        # dw = -F^-1[:, Q] c = -(e_Q c - V^T K^-1 V_Q c) / damp
        delta = self.V.T @ (self.K_inv_V[:, chosen] @ coefficients)
        delta[chosen] -= coefficients
        new_weights = weights + delta / self.damp
        new_weights[remove] = 0.0
        return new_weights, float(increase)


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
    check_fisher_parameters(damp, block_size, n_weights)
    if block_size is None or block_size == n_weights:
        return LowRankFisherInverse(np.vstack(list(gradient_batches)), damp)
    inverse = BlockFisherInverse(n_weights, block_size, damp, n_gradients)
    for batch in gradient_batches:
        inverse.fold_in(batch)
    return inverse


class KroneckerFisherInverse:
    """Inverse of a layer's Kronecker-factored Fisher, one block per unit.

    The Fisher of the incoming weights of output unit ``j`` is
    ``F_j = s_j * A + damp * I`` restricted to the unit's unpruned weights,
    with ``A = E[x x^T]`` the second moment of the layer's input and ``s_j``
    the mean squared derivative of the loss with respect to the unit's
    pre-activation (K-FAC with the output factor reduced to its diagonal).
    Weights of different units are not coupled, so the whole layer is exact
    with blocks of ``fan_in`` weights. A pruned weight has zero gradient: its
    row and column of ``F_j`` hold ``damp`` on the diagonal only.

    Weights are indexed in Fisher order, unit by unit: weight ``k`` of unit
    ``j`` (input ``k``) is at ``j * fan_in + k``.

    Nothing of size ``fan_out * fan_in ** 2`` is kept for unstructured
    steps: the diagonal of ``F^-1`` comes from one eigendecomposition of
    ``A`` for the units with no pruned weight and from the inverse of the
    unpruned part of ``F_j`` for the others, computed a few units at a time,
    and the surgeon step solves with the part of ``F_j`` that is kept.

    Parameters
    ----------
    input_moment : ndarray of shape (fan_in, fan_in)
        ``A``, symmetric positive semi-definite.
    scales : ndarray of shape (fan_out,)
        ``s_j >= 0``.
    mask : ndarray of bool of shape (fan_in, fan_out)
        False where a weight is pruned.
    damp : float
    """

    def __init__(self, input_moment, scales, mask, damp):
        check_fisher_parameters(damp, None, mask.size)
        self.input_moment = np.asarray(input_moment, dtype=np.float64)
        self.scales = np.asarray(scales, dtype=np.float64)
        self.kept = np.array(mask, dtype=bool).T
        self.damp = float(damp)
        self.fan_out, self.fan_in = self.kept.shape
        self.n_weights = self.kept.size

    def _kept_fisher(self, units, kept):
        """``F_j`` of ``units`` on the inputs ``kept`` (n_units, k) of each.

        ``kept`` holds input indices padded with -1; the padding gets the rows
        and columns of the identity.
        """
        valid = kept >= 0
        safe = np.maximum(kept, 0)
        fisher = (
            self.scales[units, np.newaxis, np.newaxis]
            * self.input_moment[safe[:, :, np.newaxis], safe[:, np.newaxis, :]]
        )
        pair = valid[:, :, np.newaxis] & valid[:, np.newaxis, :]
        fisher = np.where(pair, fisher, 0.0)
        diagonal = np.arange(kept.shape[1])
        fisher[:, diagonal, diagonal] += np.where(valid, self.damp, 1.0)
        return fisher

    def _padded_inputs(self, selected):
        """Indices of the True entries of each row of ``selected``, padded."""
        counts = selected.sum(axis=1)
        width = max(int(counts.max(initial=0)), 1)
        order = np.argsort(~selected, axis=1, kind="stable")[:, :width]
        return np.where(np.arange(width) < counts[:, np.newaxis], order, -1)

    def _spans(self, n_units, width):
        """Slices over ``n_units`` matrices of ``width`` so that each batch stays
        small."""
        return _batches(n_units, 2 * width * width)

    def _kept_inverses(self, units):
        """Inverses of the unpruned parts of ``F_j``, with their input indices."""
        inputs = self._padded_inputs(self.kept[units])
        for span in self._spans(units.size, inputs.shape[1]):
            rows = inputs[span]
            yield units[span], rows, np.linalg.inv(self._kept_fisher(units[span], rows))

    def _spectrum(self):
        """Eigenvalues (clipped at zero) and eigenvectors of ``A``."""
        eigenvalues, eigenvectors = np.linalg.eigh(self.input_moment)
        return np.maximum(eigenvalues, 0.0), eigenvectors

    def _unmasked_diagonal(self, units, spectrum):
        """Diagonal of ``(s_j A + damp I)^-1``, all of a unit's weights kept."""
        eigenvalues, eigenvectors = spectrum
        inverse_spectrum = 1.0 / (
            self.scales[units, np.newaxis] * eigenvalues + self.damp
        )
        return inverse_spectrum @ (eigenvectors**2).T

    def _diagonal_past_pruned(self, units, spectrum):
        """Diagonal of the inverse of the kept part of ``F_j``, from ``G``.

        With ``G = (s_j A + damp I)^-1`` known through the eigenvectors of
        ``A`` and ``P`` the pruned inputs, the inverse of the kept part is
        ``G_KK - G_KP (G_PP)^-1 G_PK``: its cost grows with ``|P|``, not with
        the cube of ``|K|``.
        """
        eigenvalues, eigenvectors = spectrum
        pruned = self._padded_inputs(~self.kept[units])
        valid = pruned >= 0
        inverse_spectrum = 1.0 / (
            self.scales[units, np.newaxis] * eigenvalues + self.damp
        )
        # G[:, P] of every unit, with zero columns for the padding
        vectors_p = np.where(
            valid[:, :, np.newaxis], eigenvectors[np.maximum(pruned, 0)], 0.0
        )
        scaled = eigenvectors[np.newaxis] * inverse_spectrum[:, np.newaxis, :]
        columns = scaled @ np.swapaxes(vectors_p, 1, 2)
        batch = np.arange(units.size)[:, np.newaxis]
        corner = columns[batch, np.maximum(pruned, 0)]
        corner = np.where(valid[:, :, np.newaxis], corner, 0.0)
        eye = np.eye(pruned.shape[1], dtype=bool)
        corner = np.where(eye & ~valid[:, :, np.newaxis], 1.0, corner)
        solved = np.linalg.solve(corner, np.swapaxes(columns, 1, 2))
        correction = np.einsum("nkp,npk->nk", columns, solved)
        diagonal = self._unmasked_diagonal(units, spectrum) - correction
        return np.where(self.kept[units], diagonal, 1.0 / self.damp)

    def diagonal(self):
        """The diagonal of ``F^-1`` in Fisher order, of shape (n_weights,).

        Units with few pruned weights correct the inverse of their whole
        block (:meth:`_diagonal_past_pruned`), the others invert what they
        keep, whichever costs fewer operations.
        """
        diagonal = np.full((self.fan_out, self.fan_in), 1.0 / self.damp)
        n_kept = self.kept.sum(axis=1)
        n_pruned = self.fan_in - n_kept
        past_pruned = (n_kept > 0) & (2 * self.fan_in**2 * n_pruned < 3 * n_kept**3)
        if past_pruned.any():
            spectrum = self._spectrum()
            units = np.flatnonzero(past_pruned)
            width = max(int(n_pruned[units].max()), 1)
            for span in _batches(units.size, self.fan_in * (self.fan_in + 2 * width)):
                diagonal[units[span]] = self._diagonal_past_pruned(
                    units[span], spectrum
                )
        inverted = np.flatnonzero(~past_pruned & (n_kept > 0))
        for units, rows, inverse in self._kept_inverses(inverted):
            valid = rows >= 0
            values = np.diagonal(inverse, axis1=1, axis2=2)[valid]
            diagonal[np.repeat(units, valid.sum(axis=1)), rows[valid]] = values
        return diagonal.reshape(-1)

    def _block_batches(self):
        """The inverse a few units at a time, as :class:`BlockFisherInverse`.

        Yields the units of each batch and the inverse of their blocks, one
        block of ``fan_in`` weights per unit in the order of ``units``, so
        that no more than a few units' ``fan_in ** 2`` numbers are held at
        once.
        """
        units = np.arange(self.fan_out)
        for span in _batches(units.size, 4 * self.fan_in**2):
            batch = units[span]
            blocks = BlockFisherInverse(
                batch.size * self.fan_in, self.fan_in, self.damp, 1
            )
            position = np.empty(self.fan_out, dtype=int)
            position[batch] = np.arange(batch.size)
            alive = batch[self.kept[batch].any(axis=1)]
            for kept_units, rows, inverse in self._kept_inverses(alive):
                valid = rows >= 0
                pair = valid[:, :, np.newaxis] & valid[:, np.newaxis, :]
                unit, row, column = np.broadcast_arrays(
                    position[kept_units][:, np.newaxis, np.newaxis],
                    rows[:, :, np.newaxis],
                    rows[:, np.newaxis, :],
                )
                blocks.blocks[unit[pair], row[pair], column[pair]] = inverse[pair]
            yield batch, blocks

    def _local_indices(self, indices, batch):
        """Fisher-order ``indices`` of weights of ``batch`` as indices into
        its blocks, -1 elsewhere."""
        position = np.full(self.fan_out, -1)
        position[batch] = np.arange(batch.size)
        unit, weight = np.divmod(np.maximum(indices, 0), self.fan_in)
        local = position[unit] * self.fan_in + weight
        return np.where((indices >= 0) & (position[unit] >= 0), local, -1)

    def dense(self):
        """The whole block-diagonal ``F^-1`` as a dense matrix (for testing)."""
        dense = np.zeros((self.n_weights, self.n_weights))
        for batch, blocks in self._block_batches():
            index = (
                batch[:, np.newaxis] * self.fan_in + np.arange(self.fan_in)
            ).ravel()
            dense[np.ix_(index, index)] = blocks.dense()
        return dense

    def submatrix(self, indices):
        """Principal submatrices ``F^-1[Q, Q]``, see
        :meth:`BlockFisherInverse.submatrix`."""
        indices = np.asarray(indices)
        k = indices.shape[1]
        valid = indices >= 0
        out = np.zeros(indices.shape + (k,))
        out[:, np.arange(k), np.arange(k)] = np.where(valid, 0.0, 1.0)
        index_unit = np.where(valid, indices // self.fan_in, -1)
        for batch, blocks in self._block_batches():
            sets = np.flatnonzero(np.isin(index_unit, batch).any(axis=1))
            if sets.size == 0:
                continue
            local = self._local_indices(indices[sets], batch)
            inside = local >= 0
            pair = inside[:, :, np.newaxis] & inside[:, np.newaxis, :]
            out[sets] = np.where(pair, blocks.submatrix(local), out[sets])
        return out

    def group_saliency(self, weights, labels, n_groups):
        """Saliency of removing each group, see
        :meth:`BlockFisherInverse.group_saliency`."""
        weights = np.asarray(weights, dtype=np.float64).reshape(self.fan_out, -1)
        labels = np.asarray(labels).reshape(self.fan_out, -1)
        saliency = np.zeros(n_groups)
        for batch, blocks in self._block_batches():
            saliency += blocks.group_saliency(
                weights[batch].ravel(), labels[batch].ravel(), n_groups
            )
        return saliency

    def surgeon_step(self, weights, remove):
        """Optimal Brain Surgeon step removing the weights ``remove`` jointly.

        Within unit ``j``, with ``Q`` its unpruned weights to remove and ``R``
        those it keeps, the minimiser of the quadratic model with ``w_Q = 0``
        moves ``w_R`` by ``F_RR^-1 F_RQ w_Q``, the same update as
        :meth:`BlockFisherInverse.surgeon_step` written with ``F`` instead of
        ``F^-1``; only matrices of size ``|R|`` are solved. Parameters and
        returned values as in :meth:`BlockFisherInverse.surgeon_step`.
        """
        w = np.asarray(weights, dtype=np.float64).reshape(self.fan_out, self.fan_in)
        remove = np.asarray(remove, dtype=bool).reshape(self.fan_out, self.fan_in)
        removed = np.where(remove & self.kept, w, 0.0)
        stays = self.kept & ~remove
        units = np.flatnonzero(removed.any(axis=1))
        new_weights = w.copy()
        loss_increase = 0.0
        pulled = removed[units] @ self.input_moment * self.scales[units, np.newaxis]
        loss_increase += 0.5 * float(
            np.einsum("ij,ij->", removed[units], pulled)
            + self.damp * np.sum(removed[units] ** 2)
        )
        inputs = self._padded_inputs(stays[units])
        for span in self._spans(units.size, inputs.shape[1]):
            rows = inputs[span]
            valid = rows >= 0
            batch = np.arange(rows.shape[0])[:, np.newaxis]
            coupling = np.where(valid, pulled[span][batch, np.maximum(rows, 0)], 0.0)
            kept_fisher = self._kept_fisher(units[span], rows)
            shift = np.linalg.solve(kept_fisher, coupling[..., np.newaxis])[..., 0]
            loss_increase -= 0.5 * float(np.einsum("ij,ij->", coupling, shift))
            target = np.repeat(units[span], valid.sum(axis=1)), rows[valid]
            new_weights[target] += shift[valid]
        new_weights[remove] = 0.0
        return new_weights.reshape(-1), loss_increase
