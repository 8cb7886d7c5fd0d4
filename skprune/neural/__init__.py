"""Prunable and pruned multilayer perceptrons."""

from ._admm import ADMMCriterion
from ._convert import from_sklearn, to_sklearn
from ._criteria import PruningContext, PruningCriterion, register_criterion
from ._cv import PrunedMLPClassifierCV, PrunedMLPRegressorCV
from ._layerwise import (
    LayerwiseRefit,
    OBCCriterion,
    SparseGPTCriterion,
    WandaCriterion,
    oneshot_path,
)
from ._multilayer_perceptron import PrunableMLPClassifier, PrunableMLPRegressor
from ._pruned import PrunedMLPClassifier, PrunedMLPRegressor
from ._pruning_run import sparsity_schedule
from ._pruner import MLPPruner
from ._second_order import OBDCriterion, OBSCriterion
from ._sparsity_path import sparsity_path

__all__ = [
    "ADMMCriterion",
    "LayerwiseRefit",
    "MLPPruner",
    "OBCCriterion",
    "OBDCriterion",
    "OBSCriterion",
    "PrunableMLPClassifier",
    "PrunableMLPRegressor",
    "PrunedMLPClassifier",
    "PrunedMLPClassifierCV",
    "PrunedMLPRegressor",
    "PrunedMLPRegressorCV",
    "PruningContext",
    "PruningCriterion",
    "SparseGPTCriterion",
    "WandaCriterion",
    "from_sklearn",
    "oneshot_path",
    "register_criterion",
    "sparsity_path",
    "sparsity_schedule",
    "to_sklearn",
]
