"""Prunable and pruned multilayer perceptrons."""

from ._criteria import PruningContext, PruningCriterion, register_criterion
from ._multilayer_perceptron import PrunableMLPClassifier, PrunableMLPRegressor

__all__ = [
    "PrunableMLPClassifier",
    "PrunableMLPRegressor",
    "PruningContext",
    "PruningCriterion",
    "register_criterion",
]
