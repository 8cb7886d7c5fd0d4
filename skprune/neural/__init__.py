"""Prunable and pruned multilayer perceptrons."""

from ._criteria import PruningContext, PruningCriterion, register_criterion
from ._multilayer_perceptron import PrunableMLPClassifier, PrunableMLPRegressor
from ._pruned import PrunedMLPClassifier, PrunedMLPRegressor
from ._second_order import OBDCriterion, OBSCriterion

__all__ = [
    "OBDCriterion",
    "OBSCriterion",
    "PrunableMLPClassifier",
    "PrunableMLPRegressor",
    "PrunedMLPClassifier",
    "PrunedMLPRegressor",
    "PruningContext",
    "PruningCriterion",
    "register_criterion",
]
