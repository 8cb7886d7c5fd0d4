"""
=========================================
Minimal cost-complexity pruning of trees
=========================================

A decision tree grown until its leaves are pure fits the noise of its training
data. Minimal cost-complexity pruning (Breiman et al., 1984) trades the risk of
a tree against its number of leaves: for a complexity parameter
:math:`\\alpha \\ge 0` it keeps the subtree :math:`T` that minimizes
:math:`R(T) + \\alpha |T|`. As :math:`\\alpha` grows, the pruned subtrees form
a nested sequence, the *pruning path*.

This example shows, on the breast cancer data bundled with scikit-learn:

- the pruning path with the impurity risk and with the misclassification risk;
- pruning a fitted tree at any alpha without refitting;
- choosing alpha by cross-validation with the one-standard-error rule, and the
  pruning curve;
- pruning every tree of a random forest.
"""

# %%
# The data
# --------
# A stratified split keeps a test set aside to judge the pruned trees.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier, plot_tree

from skprune.model_selection import PruningCurveDisplay
from skprune.tree import PrunedTreeClassifier, PrunedTreeClassifierCV, prune_tree

data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
)

# %%
# The pruning path, with two risks
# --------------------------------
# :class:`~skprune.tree.PrunedTreeClassifier` is a scikit-learn decision tree
# that keeps the grown tree in ``full_tree_`` and its whole pruning path in
# ``pruning_path_``. The risk :math:`R(t)` of a node decides which links are
# the weakest:
#
# - ``risk="impurity"`` (the default) is scikit-learn's weighted Gini
#   impurity: the path is exactly the one of
#   :meth:`~sklearn.tree.DecisionTreeClassifier.cost_complexity_pruning_path`;
# - ``risk="misclassification"`` is the misclassified fraction of the
#   training set, Breiman's original risk. All tied weakest links are pruned
#   at once, so the path is shorter and its alphas strictly increase.
trees = {
    risk: PrunedTreeClassifier(risk=risk, random_state=0).fit(X_train, y_train)
    for risk in ("impurity", "misclassification")
}
for risk, tree in trees.items():
    path = tree.pruning_path_
    print(
        f"{risk:>17}: {len(path.ccp_alphas)} subtrees, "
        f"from {path.n_leaves[0]} leaves down to {path.n_leaves[-1]}"
    )

# %%
# Each subtree of the path is optimal from its effective alpha up to the next
# one. The number of leaves and the training risk :math:`R(T)` fall as alpha
# grows; the largest alpha leaves only the root.
fig, (ax_leaves, ax_risk) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
for risk, tree in trees.items():
    path = tree.pruning_path_
    ax_leaves.step(path.ccp_alphas, path.n_leaves, where="post", label=risk)
    ax_risk.step(path.ccp_alphas, path.risks, where="post", label=risk)
ax_leaves.set(xlabel="ccp_alpha", ylabel="Number of leaves")
ax_risk.set(xlabel="ccp_alpha", ylabel="Risk R(T) on the training set")
for ax in (ax_leaves, ax_risk):
    # a symmetric log scale shows alpha = 0, the grown tree, too
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.legend(title="risk")
fig.suptitle("Pruning paths of one grown tree")
fig.tight_layout()

# %%
# Pruning without refitting
# -------------------------
# :meth:`~skprune.tree.PrunedTreeClassifier.prune` returns a copy pruned at
# any alpha, larger or smaller than the current one, from the grown tree: no
# refitting, and the original estimator is unchanged.
tree = trees["impurity"]
for ccp_alpha in (0.0, 0.005, 0.01, 0.02, 0.05):
    pruned = tree.prune(ccp_alpha)
    print(
        f"ccp_alpha={ccp_alpha:<6} leaves={pruned.get_n_leaves():>3} "
        f"test accuracy={pruned.score(X_test, y_test):.3f}"
    )
print("the fitted tree still has", tree.get_n_leaves(), "leaves")

# %%
# With the impurity risk, the pruned tree is the one scikit-learn gets by
# growing a new tree with the same ``ccp_alpha``:
refitted = DecisionTreeClassifier(ccp_alpha=0.01, random_state=0).fit(X_train, y_train)
same = np.array_equal(
    tree.prune(0.01).tree_.children_left, refitted.tree_.children_left
) and np.array_equal(tree.prune(0.01).tree_.threshold, refitted.tree_.threshold)
print("same tree as scikit-learn's refit:", same)

# %%
# Choosing alpha by cross-validation
# ----------------------------------
# :class:`~skprune.tree.PrunedTreeClassifierCV` fixes a grid of alphas from the
# path of the tree grown on all the training data (the geometric means of
# consecutive effective alphas, as rpart does), grows one tree per fold and
# scores its pruned subtrees at every alpha of the grid without refitting.
#
# With ``selection="1se"`` (the default) it chooses the largest alpha whose
# mean score is within one standard error of the best mean score: the
# smallest tree that cannot be told apart from the best one.
# ``selection="best"`` takes the best mean score, as
# :class:`~sklearn.model_selection.GridSearchCV` does.
cv_trees = {
    selection: PrunedTreeClassifierCV(
        selection=selection, cv=10, return_train_score=True, random_state=0
    ).fit(X_train, y_train)
    for selection in ("1se", "best")
}
for selection, cv_tree in cv_trees.items():
    print(
        f"selection={selection!r}: ccp_alpha={cv_tree.ccp_alpha_:.4f}, "
        f"{cv_tree.get_n_leaves()} leaves, "
        f"test accuracy={cv_tree.score(X_test, y_test):.3f}"
    )

# %%
# The pruning curve
# -----------------
# :class:`~skprune.model_selection.PruningCurveDisplay` draws the train and
# cross-validated scores against alpha, the band within one standard error of
# the best mean score, the chosen alpha, and the number of leaves of the tree
# grown on all the data.
cv_tree = cv_trees["1se"]
display = PruningCurveDisplay.from_cv_estimator(cv_tree)
display.ax_.set_title("Cross-validated accuracy against ccp_alpha")

# %%
# The chosen tree is a plain scikit-learn tree, so
# :func:`~sklearn.tree.plot_tree` draws it.
fig, ax = plt.subplots(figsize=(10, 6))
plot_tree(
    cv_tree,
    feature_names=list(data.feature_names),
    class_names=list(data.target_names),
    filled=True,
    impurity=False,
    fontsize=8,
    ax=ax,
)
ax.set_title(f"Tree chosen by the 1-SE rule, ccp_alpha={cv_tree.ccp_alpha_:.4f}")

# %%
# Pruning a random forest
# -----------------------
# :func:`~skprune.tree.prune_tree` prunes any fitted scikit-learn tree, or
# every tree of a forest, without refitting: the forest is grown once and
# pruned at as many alphas as wanted. Each tree is pruned relative to its own
# bootstrap sample.
forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(
    X_train, y_train
)
alphas = [0.0, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1]
n_leaves, accuracies = [], []
for ccp_alpha in alphas:
    pruned_forest = prune_tree(forest, ccp_alpha)
    n_leaves.append(sum(t.get_n_leaves() for t in pruned_forest.estimators_))
    accuracies.append(pruned_forest.score(X_test, y_test))
    print(
        f"ccp_alpha={ccp_alpha:<6} leaves={n_leaves[-1]:>5} "
        f"test accuracy={accuracies[-1]:.3f}"
    )

fig, ax = plt.subplots()
ax.plot(n_leaves, accuracies, marker="o")
for ccp_alpha, leaves, accuracy in zip(alphas, n_leaves, accuracies):
    ax.annotate(
        f"{ccp_alpha:g}",
        (leaves, accuracy),
        textcoords="offset points",
        xytext=(4, 4),
        fontsize=8,
    )
ax.set(
    xscale="log",
    xlabel="Total number of leaves in the forest",
    ylabel="Test accuracy",
    title="Random forest pruned at several alphas",
)
plt.show()
