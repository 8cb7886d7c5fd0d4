"""Prunable and pruned multilayer perceptrons."""

__all__ = []
