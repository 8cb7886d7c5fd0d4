"""Pruning of whole tree ensembles: which trees to keep and how far to prune them."""

from ._pruner import EnsemblePruner

__all__ = ["EnsemblePruner"]
