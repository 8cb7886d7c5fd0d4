"""Second-order pruning criteria: Optimal Brain Damage and Optimal Brain Surgeon.

Once a network is trained its gradient is close to zero, so the increase of the
loss when weights are removed is estimated by the curvature. Both criteria use
the empirical Fisher information as the curvature.
"""

import numbers

import numpy as np

from ._criteria import PruningCriterion, register_criterion
from ._fisher import check_fisher_parameters, fisher_inverse


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
        return [0.5 * f * w**2 for f, w in zip(fisher, context.coefs)]


class OBSCriterion(PruningCriterion):
    """Optimal Brain Surgeon with a block-wise empirical Fisher inverse.

    The Fisher ``F = damp * I + (1/m) sum_i g_i g_i^T`` of each prunable
    layer is built from the per-sample gradients of the first ``num_grads``
    samples passed to ``prune``, restricted to diagonal blocks of
    ``fisher_block_size`` consecutive weights of the layer (its coefficients
    flattened row by row, so a block runs along the outputs of one input
    unit). Its inverse is built by Woodbury updates of ``grad_batch_size``
    gradients at a time (Sherman-Morrison for 1), or in the low-rank form of
    M-FAC when the block is the whole layer.

    A weight's saliency is ``w_q ** 2 / (2 [F^-1]_qq)``. After the step, the
    weights of every block are moved by the joint surgeon update
    ``dw = -F^-1[:, Q] ([F^-1]_QQ)^-1 w_Q`` over all the weights ``Q`` of the
    block that are pruned, those pruned before included, so that all of them
    are exactly zero afterwards.

    Parameters
    ----------
    num_grads : int, default=64
        Number of per-sample gradients ``m``.
    damp : float, default=1e-4
        Damping added to the Fisher's diagonal. Too small and the inverse
        follows the noise of few gradients; too large and OBS becomes
        magnitude pruning (``F^-1`` proportional to the identity). Pick it
        relative to the mean of the Fisher's diagonal, between 1e-3 and 1e-1
        of it.
    fisher_block_size : int or None, default=64
        Size of the diagonal blocks; None for whole layers.
    grad_batch_size : int, default=16
        Gradients folded in at a time.

    References
    ----------
    Hassibi, B. and Stork, D. G. (1993). Second order derivatives for network
    pruning: Optimal Brain Surgeon. NeurIPS.
    Singh, S. P. and Alistarh, D. (2020). WoodFisher. NeurIPS.
    Frantar, E., Kurtic, E. and Alistarh, D. (2021). M-FAC. NeurIPS.
    Kurtic, E. et al. (2022). The Optimal BERT Surgeon. EMNLP.
    """

    def __init__(self, num_grads=64, damp=1e-4, fisher_block_size=64, grad_batch_size=16):
        self.num_grads = num_grads
        self.damp = damp
        self.fisher_block_size = fisher_block_size
        self.grad_batch_size = grad_batch_size

    def _check_parameters(self):
        for name in ("num_grads", "grad_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}.")

    def _gradient_batches(self, context, layer):
        inputs, deltas = context.layer_inputs_and_deltas()
        m = min(self.num_grads, deltas[layer].shape[0])
        for start in range(0, m, self.grad_batch_size):
            stop = min(start + self.grad_batch_size, m)
            layer_input = inputs[layer][start:stop]
            if hasattr(layer_input, "toarray"):
                layer_input = layer_input.toarray()
            outer = np.einsum("si,so->sio", layer_input, deltas[layer][start:stop])
            yield outer.reshape(stop - start, -1)

    def inverses(self, context):
        """The inverse Fisher of every prunable layer, computed once per step."""
        if "obs_inverses" not in context._cache:
            self._check_parameters()
            context.require_data("obs")
            n_samples = context.layer_inputs_and_deltas()[1][0].shape[0]
            inverses = {}
            for layer in context.prunable_layers:
                n_weights = context.coefs[layer].size
                check_fisher_parameters(self.damp, self.fisher_block_size, n_weights)
                inverses[layer] = fisher_inverse(
                    self._gradient_batches(context, layer),
                    n_weights,
                    block_size=self.fisher_block_size,
                    damp=self.damp,
                    n_gradients=min(self.num_grads, n_samples),
                )
            context._cache["obs_inverses"] = inverses
        return context._cache["obs_inverses"]

    def score(self, context):
        inverses = self.inverses(context)
        scores = []
        for layer, coef in enumerate(context.coefs):
            if layer in inverses:
                diagonal = inverses[layer].diagonal().reshape(coef.shape)
                scores.append(coef.astype(np.float64) ** 2 / (2.0 * diagonal))
            else:
                scores.append(np.abs(coef))
        return scores

    def compensate(self, context, old_masks):
        inverses = self.inverses(context)
        updates = []
        for layer, coef in enumerate(context.coefs):
            if layer not in inverses:
                updates.append(None)
                continue
            remove = ~context.masks[layer].ravel()
            weights = coef.ravel().astype(np.float64)
            new_weights, _ = inverses[layer].surgeon_step(weights, remove)
            updates.append((new_weights - weights).reshape(coef.shape).astype(coef.dtype))
        return updates + [None] * len(context.intercepts)


register_criterion("obd", OBDCriterion())
register_criterion("obs", OBSCriterion())
