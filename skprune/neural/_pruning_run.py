"""What a pruning fit checks before it trains anything.

Training a network takes seconds to hours; a misspelt criterion, a block
that does not divide a layer or a network with nothing to prune must be
reported before. The shapes of the weight matrices are known from the data
and ``hidden_layer_sizes`` without building the network.
"""

from itertools import pairwise

from sklearn.base import clone

from ._criteria import resolve_criterion
from ._multilayer_perceptron import hidden_layer_sizes_of, prunable_layer_indices
from ._patterns import resolve_pattern


def planned_coef_shapes(estimator, X, y):
    """Shapes of the weight matrices that fitting ``estimator`` on ``(X, y)`` gives.

    With ``warm_start`` and a fitted network they are its current shapes.
    Raises the errors of ``fit`` on invalid data.
    """
    if estimator.warm_start and hasattr(estimator, "coefs_"):
        return [coef.shape for coef in estimator.coefs_]
    hidden = hidden_layer_sizes_of(estimator.hidden_layer_sizes)
    X, y = clone(estimator)._validate_input(X, y, incremental=False, reset=True)
    n_outputs = 1 if y.ndim == 1 else y.shape[1]
    return list(pairwise([X.shape[1], *hidden, n_outputs]))


def check_pruning_parameters(params, coef_shapes, sparsity):
    """Raise a ValueError naming the parameter that makes pruning impossible.

    Parameters
    ----------
    params : dict
        The pruning parameters (``criterion``, ``pattern``, ``block_shape``,
        ``n``, ``m``, ``initial_sparsity``, ``prunable_layers``).
    coef_shapes : list of tuple of (int, int)
        Shapes of the weight matrices, see :func:`planned_coef_shapes`.
    sparsity : float
        The largest sparsity the fit will prune to.
    """
    resolve_criterion(params["criterion"])
    pattern = resolve_pattern(
        params["pattern"], block_shape=params["block_shape"], n=params["n"], m=params["m"]
    )
    if params["initial_sparsity"] > sparsity:
        raise ValueError(
            f"initial_sparsity={params['initial_sparsity']} must not exceed "
            f"sparsity={sparsity}."
        )
    pattern.check_sparsity(sparsity)
    if sparsity == 0:
        return
    layers = prunable_layer_indices(params["prunable_layers"], len(coef_shapes))
    if not layers:
        raise ValueError(
            f"sparsity={sparsity} needs a prunable weight matrix, but "
            f"prunable_layers={params['prunable_layers']!r} leaves none of the "
            f"{len(coef_shapes)} weight matrices prunable."
        )
    pattern.check_layers(coef_shapes, layers)
