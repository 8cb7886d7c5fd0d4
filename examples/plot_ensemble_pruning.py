"""
==========================
Pruning a random forest
==========================

A random forest predicts well, but every prediction walks all its trees.
:class:`~skprune.ensemble.EnsemblePruner` chooses which trees to keep and how
far to prune each, so that the forest has as few nodes as possible while its
held-out score stays within ``max_score_loss`` of the unpruned forest's.

This example shows, on the digits data bundled with scikit-learn:

- a forest pruned by :class:`~skprune.ensemble.EnsemblePruner`: nodes, test
  score and prediction time before and after;
- the pruning curve the choice was made on;
- pruning every tree of the forest with C4.5's error-based pruning
  (:func:`~skprune.tree.error_based_pruning`) and with reduced-error pruning
  on validation data (:func:`~skprune.tree.reduced_error_pruning`).
"""

# %%
# The data and the forest
# -----------------------
# A stratified split keeps a test set aside to judge the pruned forests.
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from skprune.ensemble import EnsemblePruner
from skprune.model_selection import PruningCurveDisplay
from skprune.tree import error_based_pruning, reduced_error_pruning

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
forest = RandomForestClassifier(n_estimators=100, random_state=0)
forest.fit(X_train, y_train)


def n_nodes(ensemble):
    """The total number of nodes of the trees of a fitted forest."""
    return sum(tree.tree_.node_count for tree in ensemble.estimators_)


def predict_time(model, repeats=7):
    """The median time, in milliseconds, to predict the test set."""
    times = []
    for _ in range(repeats):
        start = perf_counter()
        model.predict(X_test)
        times.append(perf_counter() - start)
    return 1e3 * np.median(times)


# %%
# Pruning the forest with EnsemblePruner
# --------------------------------------
# With ``prefit=True`` the fitted forest is pruned as it is. The choice is
# cross-validated on clones (see :ref:`ensemble_pruning`), then
# applied to the forest. ``pruned_estimator_`` is a scikit-learn
# :class:`~sklearn.ensemble.RandomForestClassifier` with fewer and smaller
# trees; ``refined_`` says whether their leaves were refitted jointly on the
# training data (global refinement), so that the few pruned trees vote well
# together.
pruner = EnsemblePruner(forest, prefit=True, max_score_loss=0.005, random_state=0)
pruner.fit(X_train, y_train)
small_forest = pruner.pruned_estimator_
print(
    f"kept {pruner.n_trees_} of {len(forest.estimators_)} trees at level "
    f"{pruner.level_} (leaves refined: {pruner.refined_}), "
    f"compression {pruner.compression_ratio_:.1f}x"
)
for name, model in (("forest", forest), ("pruned forest", small_forest)):
    print(
        f"{name:>14}: {n_nodes(model):6d} nodes, "
        f"test accuracy {model.score(X_test, y_test):.3f}, "
        f"predict {predict_time(model):.1f} ms"
    )

# %%
# The pruning curve
# -----------------
# ``cv_results_`` holds, for every node budget, the held-out scores of the
# best candidate within the budget and of the unpruned forest on the same
# folds. :class:`~skprune.model_selection.PruningCurveDisplay` draws it; the
# budget kept is the smallest whose score is within ``max_score_loss``.
display = PruningCurveDisplay.from_cv_estimator(pruner)
display.ax_.set_title("Forest pruned by EnsemblePruner")
plt.show()

# %%
# Pruning every tree: error-based and reduced-error pruning
# ---------------------------------------------------------
# :func:`~skprune.tree.error_based_pruning` prunes each tree as C4.5 does,
# from its own training counts: a branch becomes a leaf when the pessimistic
# estimate of its errors is not better than the leaf's. The smaller the
# ``confidence``, the more it prunes. :func:`~skprune.tree.reduced_error_pruning`
# prunes each tree where a leaf makes no more errors on validation data, so
# it needs samples the forest was not fitted on: here a forest is fitted on
# part of the training set and pruned on the rest. Both return a new forest
# and leave the given one as it was.
X_fit, X_val, y_fit, y_val = train_test_split(
    X_train, y_train, test_size=0.3, stratify=y_train, random_state=0
)
forest_fit = RandomForestClassifier(n_estimators=100, random_state=0)
forest_fit.fit(X_fit, y_fit)
pruned = {
    "error-based, CF=0.25": error_based_pruning(forest),
    "error-based, CF=0.05": error_based_pruning(forest, confidence=0.05),
    "forest on 70%": forest_fit,
    "reduced-error": reduced_error_pruning(forest_fit, X_val, y_val),
}
for name, model in pruned.items():
    print(
        f"{name:>20}: {n_nodes(model):6d} nodes, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# The node counts side by side: the forest pruned by
# :class:`~skprune.ensemble.EnsemblePruner` also drops trees, while the two
# functions keep all 100 trees and prune each.
names = ["forest", "EnsemblePruner", *pruned]
models = [forest, small_forest, *pruned.values()]
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.barh(names, [n_nodes(model) for model in models])
ax.invert_yaxis()
ax.set_xlabel("Total number of nodes")
fig.tight_layout()
plt.show()
