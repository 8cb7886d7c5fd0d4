"""Pruning for scikit-learn.

skprune makes scikit-learn models cheaper to run and smaller on disk by pruning
them while increasing the loss as little as possible:

- :mod:`skprune.tree`: minimal cost-complexity pruning of CART trees, with the
  whole pruning path, several risks, pruning without refitting and choosing the
  complexity parameter by cross-validation; C4.5's error-based pruning and
  reduced-error pruning.
- :mod:`skprune.ensemble`: whole tree ensembles pruned to the fewest nodes
  within a score loss.
- :mod:`skprune.neural`: multilayer perceptrons that are trained, pruned and
  trained again.
- :mod:`skprune.model_selection`: curves and displays shared by all three.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
