"""Second-order pruning criteria: Optimal Brain Damage and Optimal Brain Surgeon.

Once a network is trained its gradient is close to zero, so the increase of the
loss when weights are removed is estimated by the curvature. Both criteria use
the empirical Fisher information as the curvature.
"""

import itertools
import math
import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._criteria import PruningCriterion, register_criterion
from ._fisher import check_fisher_parameters, check_gradients, fisher_inverse
from ._patterns import NMPattern

# Largest number of subsets of an n:m group searched exhaustively by OBS.
_MAX_NM_SUBSETS = 256


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


def _kronecker_deltas(deltas, random_state):
    """Per-sample factors whose Fisher is ``diag(E[delta ** 2]) (x) E[x x^T]``.

    Each unit's per-sample derivative is replaced by the root mean square of
    that unit's derivatives over the samples, with an independent random
    sign per sample and unit. The outer products of the resulting gradients
    then average to ``E[delta_j ** 2] * mean_s(x_s x_s^T)`` within unit
    ``j`` and, in expectation over the signs, to zero between units.
    """
    factors = []
    for delta in deltas:
        scale = np.sqrt(np.mean(np.square(delta, dtype=np.float64), axis=0))
        signs = random_state.choice(np.array([-1.0, 1.0]), size=delta.shape)
        factors.append(signs * scale)
    return factors


def _in_fisher_order(array):
    """Flatten a layer's ``(fan_in, fan_out)`` array unit by unit.

    The weights of a layer enter the Fisher column by column: first the
    incoming weights of output unit 0, then those of unit 1, and so on.
    """
    return np.asarray(array).T.ravel()


def _from_fisher_order(vector, shape):
    return vector.reshape(shape[::-1]).T


class OBSCriterion(PruningCriterion):
    """Optimal Brain Surgeon with a block-wise empirical Fisher inverse.

    The Fisher ``F = lambda * I + (1/m) sum_i g_i g_i^T`` of each layer is
    built from the per-sample gradients ``g_i`` of the first ``num_grads``
    samples passed to ``prune`` (so pass them shuffled), with the gradients
    of pruned weights set to zero (see ``fisher`` for what the ``g_i``
    are). It is restricted to diagonal blocks of ``fisher_block_size``
    consecutive weights of the layer taken unit by unit
    (the incoming weights of output unit 0, then of unit 1, ...: a block runs
    along the inputs of a unit and continues into the next unit when the
    block size does not divide the fan-in). Its inverse is built by Woodbury
    updates of ``grad_batch_size`` gradients at a time (Sherman-Morrison for
    1), or in the low-rank form of M-FAC when the block is the whole layer.

    - Unstructured: a weight's saliency is ``w_q ** 2 / (2 [F^-1]_qq)``.
    - ``"block"`` and ``"neuron"`` patterns: a group ``Q`` scores
      ``1/2 w_Q^T ([F^-1]_QQ)^-1 w_Q`` (Kurtic et al., 2022), the increase
      of the quadratic model when the whole group is removed and the other
      weights are moved optimally. A group lying in several Fisher blocks
      (a ``"block"`` spans one block per column; a hidden unit's incoming
      weights fill about ``fan_in / fisher_block_size`` consecutive blocks
      and each of its outgoing weights lies in a different block of the
      next layer) scores the sum of the saliencies of its parts in every
      block, which is the exact value under the block-diagonal Fisher. The
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

    **Choosing the damping.** The damping ``lambda`` trades the measured
    curvature against the identity: a too small one lets ``F^-1`` follow the
    noise of ``m`` gradients in directions they do not span, a too large one
    makes ``F^-1`` proportional to the identity, and OBS becomes magnitude
    pruning. The right value scales with the Fisher, whose size varies by
    orders of magnitude with the loss (a network that fits its training data
    closely has tiny gradients there: a mean Fisher diagonal of 1e-7 to 4e-6
    per layer on the digits benchmark). With ``damp_mode="relative"`` (the
    default) ``lambda = damp * mean(diag F)`` for each layer, the mean taken
    over its unpruned weights and recomputed at every sub-step, which makes
    ``damp`` comparable across networks and data sets. On the one-shot
    benchmark (``benchmarks/bench_oneshot_second_order.py``, digits)
    ``damp`` from 0.01 to 1 gives accuracies within 2.5 points of each
    other, 0.1 being the best or close to it, and all beat magnitude pruning
    from 93% sparsity on. To tune it, prune a copy of the network once at
    the sparsity of interest with ``damp`` in ``{0.01, 0.1, 1}``, compare on
    held-out data, and refine by factors of 3; smaller values need more
    gradients. ``damp_mode="absolute"`` uses ``lambda = damp`` as given,
    fixed while the Fisher changes over the sub-steps; a tuned value can do
    better (on digits, ``damp=1e-4`` absolute, 25 to 1000 times the mean
    Fisher diagonal, beat every relative value tried at 93-95% sparsity).
    On a 784-300-100-10 network that fits its training data exactly, no
    damping made one-shot OBS with the empirical Fisher beat magnitude
    pruning (see ``fisher``): check on held-out data before relying on it.

    **Empirical or Kronecker-factored Fisher.** With ``fisher="empirical"``
    the ``g_i`` are the gradients of the samples' own losses. A network that
    fits its training data exactly has near-zero gradients on most training
    samples, so a few samples make the whole Fisher and the update
    compensates the removed weights on those samples only. With
    ``fisher="kfac"`` the Fisher of the incoming weights of unit ``j`` is
    ``E[delta_j ** 2] * E[x x^T]`` as in K-FAC (Martens and Grosse, 2015)
    with the output factor reduced to its diagonal: ``x`` is the layer's
    input and ``delta_j`` the derivative of a sample's loss with respect to
    the unit's pre-activation, both over the ``num_grads`` samples. The
    input factor does not vanish when the training data are fitted; the
    output factor only weighs units and layers against each other. It is
    fed to the same block inverse as gradients ``g_i = r_i * sigma (x) x_i``
    with ``sigma_j`` the root mean square of ``delta_j`` and independent
    random signs ``r_ij`` (drawn from ``random_state``), which make the
    terms between units vanish in expectation; a block that holds whole
    units only (a block size dividing the fan-in) gets the exact product,
    whatever the signs. The input factor of a block of ``b`` weights needs
    well over ``b`` samples: on the one-shot benchmark,
    ``fisher="kfac", num_grads=512, damp=1`` beats magnitude pruning at
    90-95% sparsity on a 784-300-100-10 network that fits its training data
    exactly, where every empirical-Fisher setting tried loses to it, and on
    digits loses 6 points against the dense network at 95% sparsity where
    the default loses 10 (the empirical Fisher with 256 gradients and 8
    sub-steps does a little better there); it costs about 6 times the
    default's time.

    **Gradients and sub-steps.** More gradients give a better Fisher at a
    cost linear in ``num_grads``: on the same benchmark 256 gradients instead
    of 64 halve the accuracy lost at 95% sparsity, for 1.8 times the time.
    One-shot steps beyond about 80% sparsity need sub-steps: without them
    the saliencies, computed for one weight at a time, remove weights that
    could only be compensated by weights removed in the same step.

    Parameters
    ----------
    num_grads : int, default=64
        Number of per-sample gradients ``m``, taken from the first samples
        passed to ``prune``.
    damp : float, default=0.1
        Damping, a fraction of the mean Fisher diagonal of the layer with
        ``damp_mode="relative"``, an absolute value otherwise.
    damp_mode : {"relative", "absolute"}, default="relative"
        How ``damp`` is read.
    fisher_block_size : int or None, default=64
        Size of the diagonal blocks; None for whole layers. A block larger
        than a layer is an error.
    grad_batch_size : int, default=16
        Gradients computed and folded in at a time; bounds the memory of the
        per-sample gradients to ``grad_batch_size`` times the layer size for
        the block form.
    n_substeps : int, default=4
        Number of smaller steps a pruning step is split into, each pruning
        the same fraction of the remaining weights. One step is fine for
        small steps (a gradual schedule); a large one-shot step needs several:
        at 95% sparsity on the benchmark, 4 sub-steps lift the accuracy from
        chance to within a few points of the dense network.
    fisher : {"empirical", "kfac"}, default="empirical"
        Which Fisher the per-sample gradients build: the empirical Fisher of
        the samples' losses, or the Kronecker-factored one described above.
    random_state : int, RandomState instance or None, default=None
        Draws the random signs of ``fisher="kfac"``; an int gives the same
        signs at every step. Unused with ``fisher="empirical"``.

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

    def __init__(
        self,
        num_grads=64,
        damp=0.1,
        damp_mode="relative",
        fisher_block_size=64,
        grad_batch_size=16,
        n_substeps=4,
        fisher="empirical",
        random_state=None,
    ):
        self.num_grads = num_grads
        self.damp = damp
        self.damp_mode = damp_mode
        self.fisher_block_size = fisher_block_size
        self.grad_batch_size = grad_batch_size
        self.n_substeps = n_substeps
        self.fisher = fisher
        self.random_state = random_state

    # ------------------------------------------------------------------
    # Parameters, so that estimators holding the criterion can be cloned
    # and searched over (``criterion__damp`` in a grid).
    # ------------------------------------------------------------------

    _PARAMETERS = (
        "num_grads",
        "damp",
        "damp_mode",
        "fisher_block_size",
        "grad_batch_size",
        "n_substeps",
        "fisher",
        "random_state",
    )

    def get_params(self, deep=True):
        """Parameters of the criterion, as a dict."""
        return {name: getattr(self, name) for name in self._PARAMETERS}

    def set_params(self, **params):
        """Set parameters of the criterion; returns self."""
        for name, value in params.items():
            if name not in self._PARAMETERS:
                raise ValueError(
                    f"Invalid parameter {name!r} for OBSCriterion; valid "
                    f"parameters are {list(self._PARAMETERS)}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        default = type(self)()
        changed = ", ".join(
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if value != getattr(default, name)
        )
        return f"OBSCriterion({changed})"

    def _check_parameters(self):
        for name in ("num_grads", "grad_batch_size", "n_substeps"):
            value = getattr(self, name)
            if (
                isinstance(value, (bool, np.bool_))
                or not isinstance(value, numbers.Integral)
                or value < 1
            ):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
        if self.damp_mode not in ("relative", "absolute"):
            raise ValueError(
                f"damp_mode must be 'relative' or 'absolute', got {self.damp_mode!r}."
            )
        if self.fisher not in ("empirical", "kfac"):
            raise ValueError(
                f"fisher must be 'empirical' or 'kfac', got {self.fisher!r}."
            )
        check_fisher_parameters(self.damp, None, 0)

    # ------------------------------------------------------------------
    # The inverse Fisher of a layer
    # ------------------------------------------------------------------

    def _factors(self, context):
        """Per-sample gradient factors of the first ``num_grads`` samples."""
        if "obs_factors" not in context._cache:
            self._check_parameters()
            context.require_data("obs")
            m = min(self.num_grads, context.X.shape[0])
            inputs, deltas = context.estimator._per_sample_deltas(
                context.X[:m], context.y[:m]
            )
            if self.fisher == "kfac":
                random_state = check_random_state(self.random_state)
                deltas = _kronecker_deltas(deltas, random_state)
            context._cache["obs_factors"] = inputs, deltas
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

    def _layer_damp(self, context, layer, mask):
        if self.damp_mode == "absolute":
            return float(self.damp)
        total, m = 0.0, 0
        for batch in self._gradient_batches(context, layer, mask):
            total += float(np.einsum("ij,ij->", batch, batch))
            m += batch.shape[0]
        mean_diagonal = total / (m * max(np.count_nonzero(mask), 1))
        if not mean_diagonal > 0:
            raise ValueError(
                f"The gradients of coefs_[{layer}] are all zero on the samples "
                "given to prune, so a damping relative to the Fisher is zero: "
                "pass other samples or use damp_mode='absolute'."
            )
        return self.damp * mean_diagonal

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
        inverse : BlockFisherInverse or LowRankFisherInverse
            Indexed in Fisher order (see the class docstring).
        """
        inverses = context._cache.setdefault("obs_inverses", {})
        if layer not in inverses:
            if mask is None:
                mask = context.masks[layer]
            n_weights = context.coefs[layer].size
            self._check_parameters()
            check_fisher_parameters(1.0, self.fisher_block_size, n_weights)
            damp = self._layer_damp(context, layer, mask)
            inverses[layer] = fisher_inverse(
                self._gradient_batches(context, layer, mask),
                n_weights,
                block_size=self.fisher_block_size,
                damp=damp,
                n_gradients=self._factors(context)[1][layer].shape[0],
            )
        return inverses[layer]

    # ------------------------------------------------------------------
    # Scores and the surgeon update
    # ------------------------------------------------------------------

    def score(self, context):
        scores = []
        for layer, coef in enumerate(context.coefs):
            if layer in context.prunable_layers:
                diagonal = self.inverse(context, layer).diagonal()
                weights = _in_fisher_order(coef.astype(np.float64))
                saliency = weights**2 / (2.0 * diagonal)
                scores.append(_from_fisher_order(saliency, coef.shape))
            else:
                scores.append(np.abs(coef))
        return scores

    def group_scores(self, context, pattern, target, coef_scores, intercept_scores):
        if isinstance(pattern, NMPattern):
            return self._nm_scores(context, pattern, target, coef_scores)
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

    def _nm_scores(self, context, pattern, target, coef_scores):
        """Per-weight scores that make ``pattern`` remove the best subsets."""
        coef = context.coefs[target]
        mask = context.masks[target]
        fan_in, fan_out = coef.shape
        n, m = pattern.n, pattern.m
        n_remove = m - n
        if math.comb(m, n_remove) > _MAX_NM_SUBSETS:
            return coef_scores[target]
        # Fisher-order index of row j * m + r of column k, -1 past the end.
        rows = np.arange(-(-fan_in // m) * m).reshape(-1, m)
        index = np.arange(fan_out)[:, np.newaxis, np.newaxis] * fan_in + rows
        index = np.where(rows < fan_in, index, -1).reshape(-1, m)
        valid = index >= 0
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

    def compensate(self, context, old_masks):
        updates = []
        for layer, coef in enumerate(context.coefs):
            mask = context.masks[layer]
            if np.array_equal(mask, old_masks[layer]):
                updates.append(None)
                continue
            weights = _in_fisher_order(coef.astype(np.float64))
            new_weights, _ = self.inverse(
                context, layer, old_masks[layer]
            ).surgeon_step(weights, ~_in_fisher_order(mask))
            delta = _from_fisher_order(new_weights - weights, coef.shape)
            updates.append(delta.astype(coef.dtype))
        return updates + [None] * len(context.intercepts)


register_criterion("obd", OBDCriterion())
register_criterion("obs", OBSCriterion())
