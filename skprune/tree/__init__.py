"""Minimal cost-complexity pruning of decision trees.

Trees are grown by scikit-learn's CART builder; skprune prunes them, computes
the whole pruning path with the impurity or the misclassification risk, prunes
fitted trees to any alpha without refitting and chooses alpha by
cross-validation.
"""

from ._classes import PrunedTreeClassifier, PrunedTreeRegressor
from ._cv import PrunedTreeClassifierCV, PrunedTreeRegressorCV
from ._functions import cost_complexity_path, prune_tree

__all__ = [
    "PrunedTreeClassifier",
    "PrunedTreeClassifierCV",
    "PrunedTreeRegressor",
    "PrunedTreeRegressorCV",
    "cost_complexity_path",
    "prune_tree",
]
