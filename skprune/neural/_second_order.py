"""Second-order pruning criteria: Optimal Brain Damage and Optimal Brain Surgeon.

Once a network is trained its gradient is close to zero, so the increase of the
loss when weights are removed is estimated by the curvature. Both criteria use
the empirical Fisher information as the curvature.
"""

import itertools
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator

from ..utils._sklearn import Interval, StrOptions
from ._blas import on_one_blas_thread
from ._criteria import PruningCriterion, register_criterion
from ._fisher import (
    KroneckerFisherInverse,
    check_fisher_parameters,
    check_gradients,
    fisher_inverse,
)
from ._layerwise import calibration_weights

# Largest number of subsets of a group searched exhaustively by OBS.
_MAX_SUBSETS = 256
# Least absolute damping, as a fraction of the layer's mean Fisher diagonal:
# below it F + lambda I is singular in float64 on badly scaled data.
_MIN_RELATIVE_DAMP = 1e-8
# Largest weight a surgeon step may leave in a layer, as a multiple of the
# layer's largest weight before the step: beyond it the quadratic model is
# trusted far outside the region where it was measured.
_MAX_STEP_GROWTH = 10.0
# Factor the damping is raised by, and how many times, before the step
# is given up and the remaining weights are left as they are.
_DAMP_INCREASE = 10.0
_MAX_DAMP_INCREASES = 12


class OBDCriterion(PruningCriterion):
    """Optimal Brain Damage saliency ``1/2 * F_qq * w_q ** 2``.

    ``F_qq`` is the diagonal of the empirical Fisher information, the weighted
    mean of the squared per-sample gradients on the data passed to ``prune``.
    The remaining weights are not updated.

    References
    ----------
    LeCun, Y., Denker, J. S. and Solla, S. A. (1990). Optimal brain damage.
    NeurIPS.
    """

    def score(self, context):
        context.require_data("obd")
        fisher = context.fisher_diagonal()
        for f in fisher:
            if not np.all(np.isfinite(f)):
                raise ValueError(
                    "The per-sample gradients hold NaN or infinite values: the "
                    "loss has diverged or the inputs are not finite, so no "
                    "curvature can be estimated."
                )
        return [0.5 * f * w**2 for f, w in zip(fisher, context.coefs)]


def _relative_weights(sample_weight, m):
    """The first ``m`` sample weights divided by their mean, or None."""
    if sample_weight is None:
        return None
    weights = calibration_weights(sample_weight, m, "obs")
    return weights / weights.mean()


def _in_fisher_order(array):
    """Flatten a layer's ``(fan_in, fan_out)`` array unit by unit.

    The weights of a layer enter the Fisher column by column: first the
    incoming weights of output unit 0, then those of unit 1, and so on.
    """
    return np.asarray(array).T.ravel()


def _from_fisher_order(vector, shape):
    return vector.reshape(shape[::-1]).T


class OBSCriterion(BaseEstimator, PruningCriterion):
    """Optimal Brain Surgeon with a block-wise Fisher inverse.

    The Fisher ``F`` of each layer is estimated from the first ``num_grads``
    samples passed to ``prune`` (so pass them shuffled), weighted by their
    ``sample_weight``, with the gradients
    of pruned weights set to zero, and damped: ``lambda`` is added to its
    diagonal. The weights of a layer enter it unit by unit: the incoming
    weights of output unit 0, then of unit 1, and so on. Two estimates:

    - ``fisher="kfac"`` (the default): the Fisher of the incoming weights of
      unit ``j`` is ``E[delta_j ** 2] * E[x x^T]``, as in K-FAC (Martens and
      Grosse, 2015) with the output factor reduced to its diagonal: ``x`` is
      the layer's input and ``delta_j`` the derivative of a sample's loss
      with respect to the unit's pre-activation. Units are not coupled, so
      the blocks are the units' incoming weights, exact and whole
      (``fisher_block_size`` is not used), and are built directly from the
      two factors (:class:`~skprune.neural._fisher.KroneckerFisherInverse`).
    - ``fisher="empirical"``: ``F = (1/m) sum_i g_i g_i^T`` over the
      per-sample gradients ``g_i``, restricted to diagonal blocks of
      ``fisher_block_size`` consecutive weights (a block runs along the
      inputs of a unit and continues into the next unit when the block size
      does not divide the fan-in). Its inverse is built by Woodbury updates
      of ``grad_batch_size`` gradients at a time (Sherman-Morrison for 1),
      as in WoodFisher, or in the low-rank form of M-FAC when the block is
      the whole layer.

    - Unstructured: a weight's saliency is ``w_q ** 2 / (2 [F^-1]_qq)``.
    - ``"block"`` and ``"neuron"`` patterns: a group ``Q`` scores
      ``1/2 w_Q^T ([F^-1]_QQ)^-1 w_Q`` (Kurtic et al., 2022), the increase
      of the quadratic model when the whole group is removed and the other
      weights are moved optimally. A group lying in several Fisher blocks
      (a ``"block"`` spans one block per column; each of a hidden unit's
      outgoing weights lies in a different block of the next layer, and
      with the empirical Fisher its incoming weights fill about
      ``fan_in / fisher_block_size`` consecutive blocks) scores the sum of
      the saliencies of its parts in every block, which is the exact value
      under the block-diagonal Fisher. The Kronecker-factored form builds
      the explicit inverse of the units' blocks for this, a few units at a
      time. The
      next layer's Fisher is built for this even when that layer is not
      prunable. Intercepts have no curvature here and add nothing.
    - ``"n:m"``: in every group of ``m`` consecutive inputs of a unit the
      weights to remove are the subset of the required size with the
      smallest joint saliency, found by trying every subset when there are
      at most 256 of them (per-weight saliencies otherwise). The returned
      scores only rank the kept weights of a group above the removed ones.

    After the weights to remove are chosen, the remaining weights of every
    block are moved by the joint update ``dw = -F^-1[:, Q] ([F^-1]_QQ)^-1 w_Q``
    over all the weights ``Q`` of the block that are pruned, so that they
    are exactly zero afterwards. ``n_substeps > 1`` splits a step into that
    many smaller ones with the Fisher recomputed at the updated weights in
    between (WoodFisher, oBERT); each one is a full step: masks shrink and
    pruned weights are zero after each.

    **Choosing the settings.** The damping ``lambda`` trades the measured
    curvature against the identity: a too small one lets ``F^-1`` follow the
    noise of the few samples in directions they do not span, a too large one
    makes ``F^-1`` proportional to the identity, and OBS becomes magnitude
    pruning. The right value scales with the Fisher, whose size varies by
    orders of magnitude with the loss. With ``damp_mode="relative"`` (the
    default) ``lambda = damp * mean(diag F)`` for each layer, the mean taken
    over its unpruned weights and recomputed at every sub-step, which makes
    ``damp`` comparable across networks and data sets; to tune it, prune a
    copy of the network once at the sparsity of interest with ``damp`` in
    ``{0.01, 0.1, 1}``, compare on held-out data, and refine by factors of 3.
    ``damp_mode="absolute"`` uses ``lambda = damp`` as given, fixed while the
    Fisher changes over the sub-steps, but never less than ``1e-8`` times
    the mean diagonal, so that ``F + lambda I`` stays invertible in floating
    point. A surgeon step that would leave a weight larger than 10 times
    the layer's largest weight before the step (a Fisher too little damped
    for the scale of the data) is recomputed with the damping raised by
    factors of 10, with a ``UserWarning``. Where the unpruned weights of a
    layer have a zero Fisher (their gradients vanish, e.g. when the layer
    after them is fully pruned), every ``lambda`` gives the same step: OBS
    removes the smallest weights and changes no other. The Kronecker-factored
    Fisher is the
    default because the input factor ``E[x x^T]`` does not vanish when a
    network fits its training data, whereas the per-sample gradients of the
    empirical Fisher do; large one-shot steps need sub-steps, since the
    saliencies are computed for one weight at a time. The user guide,
    "Second-order criteria", gives the measurements behind the defaults.

    Parameters
    ----------
    num_grads : int, default=512
        Number of samples ``m`` the Fisher is estimated from, the first
        samples passed to ``prune`` (all of them when there are fewer). The
        cost of the empirical Fisher grows linearly with it, so 64 to 256
        suit it better.
    damp : float, default=0.1
        Damping, a fraction of the mean Fisher diagonal of the layer with
        ``damp_mode="relative"``, an absolute value otherwise.
    damp_mode : {"relative", "absolute"}, default="relative"
        How ``damp`` is read.
    fisher_block_size : int or None, default=64
        Size of the diagonal blocks of the empirical Fisher; None for whole
        layers. A block larger than a layer is an error. Not used with
        ``fisher="kfac"``, whose blocks are the units' incoming weights.
    grad_batch_size : int, default=16
        Gradients computed and folded in at a time; bounds the memory of the
        per-sample gradients to ``grad_batch_size`` times the layer size for
        the block form of the empirical Fisher.
    n_substeps : int, default=4
        Number of smaller steps a pruning step is split into, each pruning
        the same fraction of the remaining weights. One step is fine for
        small steps (a gradual schedule); a large one-shot step needs several.
    fisher : {"kfac", "empirical"}, default="kfac"
        The Kronecker-factored Fisher or the empirical Fisher of the
        samples' losses, see above.

    References
    ----------
    Hassibi, B. and Stork, D. G. (1993). Second order derivatives for network
    pruning: Optimal Brain Surgeon. NeurIPS.
    Singh, S. P. and Alistarh, D. (2020). WoodFisher. NeurIPS.
    Frantar, E., Kurtic, E. and Alistarh, D. (2021). M-FAC. NeurIPS.
    Kurtic, E. et al. (2022). The Optimal BERT Surgeon. EMNLP.
    Martens, J. and Grosse, R. (2015). Optimizing neural networks with
    Kronecker-factored approximate curvature. ICML.
    """

    # BaseEstimator gives get_params, set_params and the repr, so that an
    # estimator holding the criterion can be cloned and searched over
    # (``criterion__damp`` in a grid).

    _parameter_constraints: dict = {
        "num_grads": [Interval(numbers.Integral, 1, None, closed="left")],
        "damp": [Interval(numbers.Real, 0, None, closed="neither")],
        "damp_mode": [StrOptions({"relative", "absolute"})],
        "fisher_block_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "grad_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_substeps": [Interval(numbers.Integral, 1, None, closed="left")],
        "fisher": [StrOptions({"empirical", "kfac"})],
    }

    def __init__(
        self,
        num_grads=512,
        damp=0.1,
        damp_mode="relative",
        fisher_block_size=64,
        grad_batch_size=16,
        n_substeps=4,
        fisher="kfac",
    ):
        self.num_grads = num_grads
        self.damp = damp
        self.damp_mode = damp_mode
        self.fisher_block_size = fisher_block_size
        self.grad_batch_size = grad_batch_size
        self.n_substeps = n_substeps
        self.fisher = fisher

    # ------------------------------------------------------------------
    # The inverse Fisher of a layer
    # ------------------------------------------------------------------

    def _factors(self, context):
        """Per-sample gradient factors of the first ``num_grads`` samples.

        With sample weights ``w`` (divided by their mean), the derivatives
        are multiplied by ``sqrt(w)``, so that the per-sample gradients, the
        empirical Fisher and ``E[delta_j ** 2]`` are weighted.
        """
        if "obs_factors" not in context._cache:
            context.require_data("obs")
            m = min(self.num_grads, context.X.shape[0])
            inputs, deltas = context.estimator._per_sample_deltas(
                context.X[:m], context.y[:m]
            )
            weights = _relative_weights(context.sample_weight, m)
            if weights is not None:
                deltas = [delta * np.sqrt(weights)[:, np.newaxis] for delta in deltas]
            context._cache["obs_factors"] = inputs, deltas
            context._cache["obs_weights"] = weights
        return context._cache["obs_factors"]

    def _gradient_batches(self, context, layer, mask):
        """Masked per-sample gradients of a layer in Fisher order, in batches."""
        inputs, deltas = self._factors(context)
        layer_input, delta = inputs[layer], deltas[layer]
        keep = _in_fisher_order(mask).astype(np.float64)
        for start in range(0, delta.shape[0], self.grad_batch_size):
            stop = start + self.grad_batch_size
            batch_input = layer_input[start:stop]
            if hasattr(batch_input, "toarray"):
                batch_input = batch_input.toarray()
            outer = np.einsum(
                "so,si->soi",
                delta[start:stop].astype(np.float64),
                batch_input.astype(np.float64),
            )
            yield check_gradients(outer.reshape(outer.shape[0], -1) * keep)

    def _layer_factors(self, context, layer):
        """A layer's dense inputs and output derivatives, checked finite."""
        inputs, deltas = self._factors(context)
        layer_input = inputs[layer]
        if hasattr(layer_input, "toarray"):
            layer_input = layer_input.toarray()
        return check_gradients(layer_input), check_gradients(deltas[layer])

    def _kronecker_factors(self, context, layer):
        """``E[x x^T]`` of the layer's input and ``E[delta_j ** 2]`` per unit."""
        factors = context._cache.setdefault("obs_kronecker", {})
        if layer not in factors:
            layer_input, delta = self._layer_factors(context, layer)
            weights = context._cache["obs_weights"]
            weighted = layer_input
            if weights is not None:
                weighted = layer_input * weights[:, np.newaxis]
            factors[layer] = (
                weighted.T @ layer_input / layer_input.shape[0],
                np.mean(delta**2, axis=0),
            )
        return factors[layer]

    def _kronecker_inverse(self, context, layer, mask, damp_factor=1.0):
        input_moment, scales = self._kronecker_factors(context, layer)
        kept_diagonal = np.diagonal(input_moment) @ mask * scales
        mean_diagonal = kept_diagonal.sum() / max(np.count_nonzero(mask), 1)
        damp = self._damping(mean_diagonal) * damp_factor
        return KroneckerFisherInverse(input_moment, scales, mask, damp)

    def _damping(self, mean_diagonal):
        """``lambda`` of a layer of unpruned weights of this mean Fisher diagonal."""
        damp = float(self.damp)
        if not mean_diagonal > 0:
            # A zero Fisher: the step is the same for every positive lambda.
            return damp
        if self.damp_mode == "relative":
            return damp * mean_diagonal
        return max(damp, _MIN_RELATIVE_DAMP * mean_diagonal)

    def _layer_damp(self, context, layer, mask, damp_factor=1.0):
        layer_input, delta = self._layer_factors(context, layer)
        # Gradient (i, j) of sample s is x_si * delta_sj: the Fisher diagonal
        # is sum_s x_si^2 delta_sj^2 / m, with no outer product formed.
        squared = np.square(layer_input).T @ np.square(delta)
        total = float(np.sum(squared, where=np.asarray(mask, dtype=bool)))
        mean_diagonal = total / (delta.shape[0] * max(np.count_nonzero(mask), 1))
        return self._damping(mean_diagonal) * damp_factor

    def inverse(self, context, layer, mask=None):
        """The inverse Fisher of ``coefs_[layer]``, computed once per step.

        Parameters
        ----------
        context : PruningContext
        layer : int
        mask : ndarray of bool, default=None
            Mask of the layer whose pruned weights get zero gradients; the
            current one by default.

        Returns
        -------
        inverse : KroneckerFisherInverse, BlockFisherInverse or \
                LowRankFisherInverse
            Indexed in Fisher order (see the class docstring).
        """
        inverses = context._cache.setdefault("obs_inverses", {})
        if layer not in inverses:
            if mask is None:
                mask = context.masks[layer]
            inverses[layer] = self._build_inverse(context, layer, mask)
        return inverses[layer]

    def _build_inverse(self, context, layer, mask, damp_factor=1.0):
        if self.fisher == "kfac":
            return self._kronecker_inverse(context, layer, mask, damp_factor)
        return self._empirical_inverse(context, layer, mask, damp_factor)

    def _empirical_inverse(self, context, layer, mask, damp_factor=1.0):
        n_weights = context.coefs[layer].size
        check_fisher_parameters(1.0, self.fisher_block_size, n_weights)
        return fisher_inverse(
            self._gradient_batches(context, layer, mask),
            n_weights,
            block_size=self.fisher_block_size,
            damp=self._layer_damp(context, layer, mask, damp_factor),
            n_gradients=self._factors(context)[1][layer].shape[0],
        )

    # ------------------------------------------------------------------
    # Scores and the surgeon update
    # ------------------------------------------------------------------

    @on_one_blas_thread
    def score(self, context):
        scores = []
        for layer, coef in enumerate(context.coefs):
            if layer in context.prunable_layers and not context.masks[layer].any():
                # Nothing alive to rank: no Fisher is needed.
                scores.append(np.zeros(coef.shape))
            elif layer in context.prunable_layers:
                diagonal = self.inverse(context, layer).diagonal()
                weights = _in_fisher_order(coef.astype(np.float64))
                saliency = weights**2 / (2.0 * diagonal)
                scores.append(_from_fisher_order(saliency, coef.shape))
            else:
                scores.append(np.abs(coef))
        return scores

    @on_one_blas_thread
    def group_scores(self, context, pattern, target, coef_scores, intercept_scores):
        subsets = pattern.subset_groups(context.coefs[target].shape)
        if subsets is not None:
            return self._subset_scores(context, target, coef_scores, *subsets)
        labels = pattern.group_labels(context.estimator, target)
        if labels is None:
            return super().group_scores(
                context, pattern, target, coef_scores, intercept_scores
            )
        n_groups = pattern.alive(context.estimator, target).size
        saliency = np.zeros(n_groups)
        for layer, layer_labels in labels.items():
            coef = context.coefs[layer]
            alive = np.where(context.masks[layer], layer_labels, -1)
            saliency += self.inverse(context, layer).group_saliency(
                _in_fisher_order(coef.astype(np.float64)),
                _in_fisher_order(alive),
                n_groups,
            )
        return saliency

    def _subset_scores(self, context, target, coef_scores, positions, n_remove):
        """Per-weight scores that make the pattern remove the best subsets.

        ``positions`` holds the row-major positions of every group (-1 past
        the end) of which the pattern removes ``n_remove`` weights.
        """
        coef = context.coefs[target]
        mask = context.masks[target]
        fan_in, fan_out = coef.shape
        m = positions.shape[1]
        if math.comb(m, n_remove) > _MAX_SUBSETS:
            return coef_scores[target]
        valid = positions >= 0
        rows, cols = np.divmod(positions, fan_out)
        index = np.where(valid, cols * fan_in + rows, -1)
        flat_weights = _in_fisher_order(coef.astype(np.float64))
        flat_mask = _in_fisher_order(mask)
        safe = np.maximum(index, 0)
        alive = valid & flat_mask[safe]
        weights = np.where(alive, flat_weights[safe], 0.0)
        submatrices = self.inverse(context, target).submatrix(index)
        best = np.full(index.shape[0], np.inf)
        removed = np.zeros(index.shape, dtype=bool)
        for subset in itertools.combinations(range(m), n_remove):
            subset = list(subset)
            restricted = submatrices[:, subset][:, :, subset]
            saliency = 0.5 * np.einsum(
                "gk,gk->g",
                weights[:, subset],
                np.linalg.solve(restricted, weights[:, subset, np.newaxis])[..., 0],
            )
            # A subset must contain every weight already gone.
            outside = np.ones(m, dtype=bool)
            outside[subset] = False
            saliency[(~alive[:, outside]).any(axis=1)] = np.inf
            better = saliency < best
            best[better] = saliency[better]
            removed[better] = ~outside
        keep = np.where(alive & ~removed, 1.0, 0.0)
        scores = np.zeros(fan_in * fan_out)
        scores[index[valid]] = keep[valid]
        return _from_fisher_order(scores, coef.shape)

    @on_one_blas_thread
    def compensate(self, context, old_masks):
        updates = []
        for layer, coef in enumerate(context.coefs):
            mask = context.masks[layer]
            if np.array_equal(mask, old_masks[layer]) or not mask.any():
                # Nothing removed, or nothing left to compensate with.
                updates.append(None)
                continue
            weights = _in_fisher_order(coef.astype(np.float64))
            new_weights = self._bounded_step(
                context, layer, old_masks[layer], weights, ~_in_fisher_order(mask)
            )
            delta = _from_fisher_order(new_weights - weights, coef.shape)
            updates.append(delta.astype(coef.dtype))
        return updates + [None] * len(context.intercepts)

    def _bounded_step(self, context, layer, old_mask, weights, remove):
        """The surgeon step of a layer, with the damping raised if it explodes.

        A Fisher that is nearly singular in the directions of the remaining
        weights (too little damping for the scale of the data) lets the
        quadratic model move them far beyond the region it was measured in.
        When the largest weight after the step exceeds ``_MAX_STEP_GROWTH``
        times the layer's largest weight before it, the step is recomputed
        with the damping multiplied by 10, 100, ... (as in Levenberg-Marquardt),
        with a warning; a step that stays too large is not taken: the pruned
        weights are zeroed and the others kept, the limit of an infinite
        damping.
        """
        limit = _MAX_STEP_GROWTH * np.max(np.abs(weights))
        inverse = self.inverse(context, layer, old_mask)
        new_weights, _ = inverse.surgeon_step(weights, remove)
        if np.max(np.abs(new_weights)) <= limit:
            return new_weights
        warnings.warn(
            f"The Optimal Brain Surgeon step of coefs_[{layer}] would multiply "
            f"its largest weight by more than {_MAX_STEP_GROWTH:g}: the damped "
            f"Fisher is ill-conditioned (damp={self.damp!r}, damp_mode="
            f"{self.damp_mode!r}). The damping was raised for this step; pass "
            "a larger damp.",
            UserWarning,
        )
        for exponent in range(1, _MAX_DAMP_INCREASES + 1):
            inverse = self._build_inverse(
                context, layer, old_mask, _DAMP_INCREASE**exponent
            )
            new_weights, _ = inverse.surgeon_step(weights, remove)
            if np.max(np.abs(new_weights)) <= limit:
                return new_weights
        return np.where(remove, 0.0, weights)


register_criterion("obd", OBDCriterion())
register_criterion("obs", OBSCriterion())
