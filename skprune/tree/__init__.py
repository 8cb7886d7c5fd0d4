"""Pruning of decision trees and of the trees of forests.

Trees are grown by scikit-learn's CART builder; skprune prunes them, computes
the whole minimal cost-complexity pruning path with the impurity or the
misclassification risk, prunes fitted trees to any alpha without refitting and
chooses alpha by cross-validation. Fitted trees and forests can also be pruned
by C4.5's error-based pruning and by reduced-error pruning on validation data.
"""

from ._classes import PrunedTreeClassifier, PrunedTreeRegressor
from ._cv import PrunedTreeClassifierCV, PrunedTreeRegressorCV
from ._error_based import error_based_pruning
from ._functions import cost_complexity_path, prune_tree
from ._reduced_error import reduced_error_pruning

__all__ = [
    "PrunedTreeClassifier",
    "PrunedTreeClassifierCV",
    "PrunedTreeRegressor",
    "PrunedTreeRegressorCV",
    "cost_complexity_path",
    "error_based_pruning",
    "prune_tree",
    "reduced_error_pruning",
]
