"""Pruning patterns: which weights are removed together, and how many.

A pattern cuts the prunable part of a network into *groups* (single weights,
blocks, hidden units), turns per-weight scores into one score per group, and
returns new masks without the groups it selects; it never edits the masks it
is given. It also answers, before any training, whether it fits the layers
(:meth:`PruningPattern.check_layers`), which sparsities it can reach
(:meth:`PruningPattern.check_sparsity`) and what ``amount`` of a step reaches a
target sparsity (:meth:`PruningPattern.amount_to`). Nothing outside this module
knows the particulars of a pattern. Groups are
indexed per *target* (a weight matrix, or a hidden layer for ``"neuron"``) in
row-major order, which fixes how ties are broken: among equal scores the
group of the earlier target, then the lower index, is pruned first.
"""

from numbers import Integral, Real

import numpy as np


def _check_amount_type(amount):
    if isinstance(amount, (bool, np.bool_)) or not isinstance(amount, Real):
        raise TypeError(
            f"amount must be an int (a count) or a float (a fraction), got "
            f"{amount!r}."
        )
    if not isinstance(amount, Integral) and not 0 <= amount < 1:
        raise ValueError(
            f"amount must be in [0, 1) when it is a float (a fraction), got {amount}."
        )


def _count_to_prune(amount, n_available):
    """Number of groups to prune out of ``n_available`` not pruned yet."""
    if isinstance(amount, Integral):
        if not 0 <= amount <= n_available:
            raise ValueError(
                f"amount={amount} must be between 0 and the {n_available} "
                "groups not pruned yet."
            )
        return int(amount)
    return int(np.floor(amount * n_available + 0.5))


def _split_count(amount, counts):
    """Split a count across targets in proportion to what remains in each.

    Largest remainders get the leftover units, the earlier target first.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = counts.sum()
    if total == 0:
        return np.zeros_like(counts)
    exact = amount * counts / total
    shares = np.floor(exact).astype(np.int64)
    leftover = amount - shares.sum()
    order = np.argsort(-(exact - shares), kind="stable")
    shares[order[:leftover]] += 1
    return shares


def _lowest(scores, k):
    """Indices of the ``k`` lowest scores, ties broken by index, in increasing order.

    The set of the first ``k`` of a stable sort (NaN last), found by a
    partition rather than a sort: the path of a recorded trace selects from
    the same scores at every level.
    """
    n = scores.shape[0]
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k >= n:
        return np.arange(n)
    kth = np.partition(scores, k - 1)[k - 1]
    if np.isnan(kth):
        below, tied = ~np.isnan(scores), np.isnan(scores)
    else:
        below, tied = scores < kth, scores == kth
    below = np.flatnonzero(below)
    tied = np.flatnonzero(tied)[: k - below.size]
    return np.sort(np.concatenate([below, tied]))


def select_groups(group_scores, alive, amount, scope):
    """Choose the groups to prune in every target.

    Parameters
    ----------
    group_scores : list of ndarray of shape (n_groups_t,)
        Score of every group of every target.
    alive : list of ndarray of bool of shape (n_groups_t,)
        Whether each group still has an unpruned weight.
    amount : int or float or list of int
        Count or fraction of the alive groups to prune; with
        ``scope="layer"``, also a list of one count per target.
    scope : {"global", "layer"}
        Rank all targets together, or prune each by the same fraction.

    Returns
    -------
    selected : list of ndarray of int
        Indices of the groups to prune in each target.
    """
    candidates = [np.flatnonzero(a) for a in alive]
    counts = [len(c) for c in candidates]
    if scope == "global":
        k = _count_to_prune(amount, sum(counts))
        pooled = np.concatenate(
            [scores[c] for scores, c in zip(group_scores, candidates)]
        )
        chosen = _lowest(pooled, k)
        bounds = np.cumsum([0] + counts)
        return [
            c[chosen[(chosen >= lo) & (chosen < hi)] - lo]
            for c, lo, hi in zip(candidates, bounds[:-1], bounds[1:])
        ]
    if isinstance(amount, (list, tuple, np.ndarray)):
        ks = [_count_to_prune(int(k), count) for k, count in zip(amount, counts)]
    elif isinstance(amount, Integral):
        _count_to_prune(amount, sum(counts))
        ks = _split_count(int(amount), counts)
    else:
        ks = [_count_to_prune(amount, count) for count in counts]
    return [
        c[_lowest(scores[c], k)]
        for scores, c, k in zip(group_scores, candidates, ks)
    ]


class PruningPattern:
    """Base class of the patterns: unstructured single weights.

    Targets are the prunable weight matrices and groups their entries.

    Attributes
    ----------
    group_size : int or None
        Number of weights in every group when all groups are equal, None
        when they differ.
    fixed_sparsity : float or None
        The only sparsity the pattern reaches, when it fixes one.
    removes_units : bool
        Whether pruned groups are whole hidden units, which a fitted network
        can drop from its stored layers.
    """

    group_size = 1
    fixed_sparsity = None
    removes_units = False

    def amount_to(self, target, n_total, n_pruned, scope):
        """``amount`` of the step that brings the sparsity to ``target``.

        Parameters
        ----------
        target : float
            Fraction of the ``n_total`` prunable weights to be pruned after
            the step.
        n_total, n_pruned : int
            Prunable weights, and those pruned already.
        scope : {"global", "layer"}

        Returns
        -------
        amount : int or float
            For :meth:`select`: with equal groups ranked globally an exact
            count of groups, otherwise the fraction of the remaining groups.
            0 when nothing needs pruning.
        """
        goal = int(np.floor(target * n_total + 0.5))
        if goal <= n_pruned:
            return 0
        if scope == "global" and self.group_size is not None:
            group = self.group_size
            goal_groups = int(np.floor(target * n_total / group + 0.5))
            return max(goal_groups - n_pruned // group, 0)
        current = n_pruned / n_total
        fraction = (target - current) / (1.0 - current)
        return float(min(max(fraction, 0.0), np.nextafter(1.0, 0.0)))

    def check(self, estimator, layers, amount):
        """Validate ``amount`` and the pattern against the network.

        Parameters
        ----------
        estimator : BasePrunableMLP
        layers : list of int
            Prunable weight matrices.
        amount : int, float or None
        """
        self.check_amount(amount)
        self.check_layers([coef.shape for coef in estimator.coefs_], layers)

    def check_layers(self, coef_shapes, layers):
        """Validate the pattern against the shapes of the weight matrices.

        Called before any training, from the shapes the network will have.

        Parameters
        ----------
        coef_shapes : list of tuple of (int, int)
            Shape of every weight matrix.
        layers : list of int
            Prunable weight matrices.
        """

    def check_sparsity(self, sparsity):
        """Validate a target ``sparsity`` of a pruning fit."""

    def check_amount(self, amount):
        """Validate the ``amount`` of one pruning step."""
        if amount is None:
            raise ValueError(
                "amount is required: pass the fraction (float) or count (int) "
                "of the remaining groups to prune."
            )
        _check_amount_type(amount)

    def targets(self, estimator, layers):
        """What groups are indexed within."""
        return list(layers)

    def group_scores(self, estimator, target, coef_scores, intercept_scores):
        """One score per group of ``target``."""
        return coef_scores[target].ravel()

    def alive(self, estimator, target):
        """Whether each group of ``target`` has an unpruned weight."""
        return estimator.masks_[target].ravel()

    def removed(self, masks, intercept_masks, target, groups):
        """The masks without ``groups`` of ``target``; the given ones are kept.

        Parameters
        ----------
        masks, intercept_masks : list of ndarray of bool
            Masks of the weight matrices and of the intercepts.
        target : int
        groups : ndarray of int
            Indices of the groups, as in :meth:`group_scores`.

        Returns
        -------
        masks, intercept_masks : list of ndarray of bool
            New lists; the arrays that change are new arrays.
        """
        mask = masks[target].copy()
        mask[np.unravel_index(groups, mask.shape)] = False
        return _replaced(masks, {target: mask}), intercept_masks

    def subset_groups(self, shape):
        """Groups within which the pattern chooses which weights to remove.

        Returns
        -------
        groups : tuple of (ndarray of int, int) or None
            For patterns that keep a fixed number of weights in each of many
            small groups of a matrix of ``shape``: the row-major positions of
            every group, shape (n_groups, group_width) padded with -1, and
            the number of weights each group loses. None for the others.
        """
        return None

    def group_labels(self, estimator, target):
        """Group of every weight, for criteria that score groups jointly.

        Returns
        -------
        labels : dict of int to ndarray of int, or None
            For every weight matrix holding weights of ``target``'s groups,
            an array of its shape with each weight's group index (as in
            :meth:`group_scores`), -1 for weights in no group. None when every
            weight is its own group.
        """

    def select(self, group_scores, alive, amount, scope):
        """Groups to prune in each target, see :func:`select_groups`."""
        return select_groups(group_scores, alive, amount, scope)

    def split_amount(self, alive, amount, scope, n_parts):
        """Amounts of ``n_parts`` steps that together prune what ``amount`` does.

        Every step prunes the same fraction of the groups still alive (per
        target with ``scope="layer"``), so the steps shrink in absolute size;
        the counts are rounded so that they add up to those of one step.

        Returns
        -------
        amounts : list
            One ``amount`` per part, for :meth:`select`: counts, a list of
            counts per target with ``scope="layer"``.
        """
        _check_positive_int(n_parts, "n_substeps")
        if n_parts == 1:
            return [amount]
        placeholder = [np.zeros(a.shape) for a in alive]
        counts = [len(g) for g in self.select(placeholder, alive, amount, scope)]
        n_alive = [int(np.count_nonzero(a)) for a in alive]
        if scope == "global":
            counts, n_alive = [sum(counts)], [sum(n_alive)]
        counts, n_alive = np.asarray(counts), np.asarray(n_alive)
        kept = 1.0 - counts / np.maximum(n_alive, 1)
        steps = np.arange(n_parts + 1)[:, np.newaxis] / n_parts
        cumulative = np.floor(n_alive * (1.0 - kept**steps) + 0.5).astype(np.int64)
        cumulative[-1] = counts
        parts = np.diff(cumulative, axis=0)
        if scope == "global":
            return [int(k) for k in parts[:, 0]]
        return [[int(k) for k in row] for row in parts]


class BlockPattern(PruningPattern):
    """Blocks of ``block_shape`` weights, scored by the sum of their scores."""

    def __init__(self, block_shape):
        self.block_shape = block_shape

    @property
    def group_size(self):
        return self.block_shape[0] * self.block_shape[1]

    def check_layers(self, coef_shapes, layers):
        rows, cols = self.block_shape
        for layer in layers:
            shape = coef_shapes[layer]
            if shape[0] % rows or shape[1] % cols:
                raise ValueError(
                    f"block_shape={self.block_shape} does not divide the shape "
                    f"{shape} of coefs_[{layer}]."
                )

    def _blocked(self, array):
        rows, cols = self.block_shape
        n_rows, n_cols = array.shape
        return array.reshape(n_rows // rows, rows, n_cols // cols, cols)

    def group_scores(self, estimator, target, coef_scores, intercept_scores):
        masked = coef_scores[target] * estimator.masks_[target]
        return self._blocked(masked).sum(axis=(1, 3)).ravel()

    def alive(self, estimator, target):
        return self._blocked(estimator.masks_[target]).any(axis=(1, 3)).ravel()

    def group_labels(self, estimator, target):
        rows, cols = self.block_shape
        n_rows, n_cols = estimator.coefs_[target].shape
        block_rows = np.arange(n_rows)[:, np.newaxis] // rows
        block_cols = np.arange(n_cols)[np.newaxis, :] // cols
        return {target: block_rows * (n_cols // cols) + block_cols}

    def removed(self, masks, intercept_masks, target, groups):
        blocked = self._blocked(masks[target].copy())
        block_rows, block_cols = np.unravel_index(groups, blocked[:, 0, :, 0].shape)
        blocked[block_rows, :, block_cols, :] = False
        mask = blocked.reshape(masks[target].shape)
        return _replaced(masks, {target: mask}), intercept_masks


class NeuronPattern(PruningPattern):
    """Hidden units: incoming weights, bias and outgoing weights together.

    Targets are hidden layers ``k`` (1-based) whose incoming matrix
    ``coefs_[k - 1]`` is prunable.
    """

    group_size = None
    removes_units = True

    def targets(self, estimator, layers):
        return _hidden_layers_fed_by(layers, estimator.n_layers_ - 1)

    def check_layers(self, coef_shapes, layers):
        if not _hidden_layers_fed_by(layers, len(coef_shapes)):
            raise ValueError(
                "pattern='neuron' needs a hidden layer whose incoming weights "
                "are prunable; the network has none."
            )

    def group_scores(self, estimator, target, coef_scores, intercept_scores):
        incoming = coef_scores[target - 1] * estimator.masks_[target - 1]
        outgoing = coef_scores[target] * estimator.masks_[target]
        scores = incoming.sum(axis=0) + outgoing.sum(axis=1)
        if intercept_scores is not None:
            bias_mask = estimator.intercept_masks_[target - 1]
            scores += intercept_scores[target - 1] * bias_mask
        return scores

    def alive(self, estimator, target):
        return estimator.intercept_masks_[target - 1].copy()

    def group_labels(self, estimator, target):
        incoming, outgoing = estimator.coefs_[target - 1], estimator.coefs_[target]
        units = np.arange(incoming.shape[1])
        return {
            target - 1: np.broadcast_to(units, incoming.shape),
            target: np.broadcast_to(units[:, np.newaxis], outgoing.shape),
        }

    def removed(self, masks, intercept_masks, target, groups):
        incoming, outgoing = masks[target - 1].copy(), masks[target].copy()
        bias = intercept_masks[target - 1].copy()
        incoming[:, groups] = False
        outgoing[groups, :] = False
        bias[groups] = False
        return (
            _replaced(masks, {target - 1: incoming, target: outgoing}),
            _replaced(intercept_masks, {target - 1: bias}),
        )


class NMPattern(PruningPattern):
    """At most ``n`` weights kept in every ``m`` consecutive inputs of a unit.

    Groups run along the input dimension: ``coefs_[i][j * m:(j + 1) * m, k]``.
    A last, shorter group covers the remaining inputs when ``m`` does not
    divide their number.
    """

    def __init__(self, n, m):
        self.n = n
        self.m = m

    @property
    def fixed_sparsity(self):
        """The only sparsity the pattern reaches: ``1 - n / m``."""
        return 1.0 - self.n / self.m

    def amount_to(self, target, n_total, n_pruned, scope):
        # The pattern itself says what to remove.
        return None

    def check_sparsity(self, sparsity):
        if not np.isclose(sparsity, self.fixed_sparsity):
            raise ValueError(
                f'pattern="n:m" fixes the sparsity at 1 - n / m = '
                f"{self.fixed_sparsity:g} (n={self.n}, m={self.m}), but "
                f"sparsity={sparsity}: set sparsity to 1 - n / m."
            )

    def check_amount(self, amount):
        if amount is not None:
            raise ValueError(
                "pattern='n:m' sets the sparsity through n and m: amount must be "
                f"None, got {amount!r}."
            )

    def group_scores(self, estimator, target, coef_scores, intercept_scores):
        return coef_scores[target]

    def alive(self, estimator, target):
        return estimator.masks_[target]

    def subset_groups(self, shape):
        n_rows, n_cols = shape
        rows = np.arange(-(-n_rows // self.m) * self.m).reshape(-1, self.m)
        cols = np.arange(n_cols)[:, np.newaxis, np.newaxis]
        positions = np.where(rows < n_rows, rows * n_cols + cols, -1)
        return positions.reshape(-1, self.m), self.m - self.n

    def _to_remove(self, scores, alive):
        n_rows, n_cols = scores.shape
        n_groups = -(-n_rows // self.m)
        padding = n_groups * self.m - n_rows
        # Pruned and padding entries sort first, so they fill the lowest ranks.
        keyed = np.where(alive, scores, -np.inf)
        keyed = np.pad(keyed, ((0, padding), (0, 0)), constant_values=-np.inf)
        keyed = keyed.reshape(n_groups, self.m, n_cols)
        ranks = np.empty(keyed.shape, dtype=np.int64)
        order = np.argsort(keyed, axis=1, kind="stable")
        np.put_along_axis(
            ranks, order, np.arange(self.m)[np.newaxis, :, np.newaxis], axis=1
        )
        keep = (ranks >= self.m - self.n).reshape(-1, n_cols)[:n_rows]
        return np.flatnonzero(alive & ~keep)

    def select(self, group_scores, alive, amount, scope):
        return [
            self._to_remove(scores, mask) for scores, mask in zip(group_scores, alive)
        ]

    def split_amount(self, alive, amount, scope, n_parts):
        # The pattern is reached in one step: there is no fraction to split.
        return [amount]


def _replaced(arrays, replacements):
    """A copy of the list ``arrays`` with the entries of ``replacements`` swapped in."""
    arrays = list(arrays)
    for index, array in replacements.items():
        arrays[index] = array
    return arrays


def _hidden_layers_fed_by(layers, n_coef_layers):
    """Hidden layers ``k`` (1-based) fed by a matrix ``k - 1`` in ``layers``."""
    return [k for k in range(1, n_coef_layers) if k - 1 in layers]


def _check_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive int, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}.")


def _block_pattern(block_shape, n, m):
    if not isinstance(block_shape, (tuple, list)) or len(block_shape) != 2:
        raise ValueError(
            f"block_shape must be a pair (rows, columns), got {block_shape!r}."
        )
    for size in block_shape:
        _check_positive_int(size, "block_shape")
    return BlockPattern(tuple(int(size) for size in block_shape))


def _nm_pattern(block_shape, n, m):
    _check_positive_int(n, "n")
    _check_positive_int(m, "m")
    if n > m:
        raise ValueError(f"n must not exceed m for pattern='n:m', got n={n}, m={m}.")
    return NMPattern(int(n), int(m))


_PATTERNS = {
    "unstructured": lambda block_shape, n, m: PruningPattern(),
    "block": _block_pattern,
    "neuron": lambda block_shape, n, m: NeuronPattern(),
    "n:m": _nm_pattern,
}


def resolve_pattern(pattern, *, block_shape, n, m):
    """Build the pattern named ``pattern`` with its options.

    Parameters
    ----------
    pattern : {"unstructured", "block", "neuron", "n:m"}
    block_shape : tuple of (int, int)
        Used by ``"block"``.
    n, m : int
        Used by ``"n:m"``.

    Returns
    -------
    pattern : PruningPattern
    """
    if not isinstance(pattern, str) or pattern not in _PATTERNS:
        raise ValueError(
            f"Unknown pattern {pattern!r}; expected one of {sorted(_PATTERNS)}."
        )
    return _PATTERNS[pattern](block_shape, n, m)
