"""Gradient boosting stages pruned, with leaf values recomputed as boosting does.

After a stage's trees are pruned, every later stage sees other residuals, so
the leaf values of every stage are computed again from the training data, in
order, as scikit-learn computes them: the weighted mean residual for the
squared error, one Newton step ``sum(w (y - p)) / sum(w p (1 - p))`` per leaf
for the log-loss (times ``(K - 1) / K`` with K > 2 classes). The structure of
the trees is kept; the staged predictions of the pruned model are those of a
boosting run that had grown the pruned trees.
"""

import copy

import numpy as np
from scipy.special import expit, softmax

from ._levels import pruning_levels

SUPPORTED_LOSSES = {"squared_error", "log_loss"}


def raw_predictions_of(booster, X):
    """Raw predictions of a fitted booster, shape (n_samples, n_trees_per_stage)."""
    if hasattr(booster, "decision_function"):
        raw = booster.decision_function(X)
    else:
        raw = booster.predict(X)
    return raw.reshape(raw.shape[0], -1)


def initial_raw_predictions(booster, X, X32):
    """Raw predictions before the first stage (those of ``booster.init_``)."""
    raw = raw_predictions_of(booster, X)
    for stage in booster.estimators_:
        for k, tree in enumerate(stage):
            raw[:, k] -= booster.learning_rate * tree.tree_.predict(X32)[:, 0]
    return raw


def probabilities(raw):
    """Class probabilities from the raw predictions of a classifier."""
    if raw.shape[-1] == 1:
        positive = expit(raw[..., 0])
        return np.stack([1.0 - positive, positive], axis=-1)
    return softmax(raw, axis=-1)


def leaf_values(leaves, n_nodes, gradient, hessian, sample_weight):
    """One Newton step per leaf: sum(w g) / sum(w h), zero where sum(w h) is 0."""
    numerator = np.bincount(
        leaves, weights=sample_weight * gradient, minlength=n_nodes
    )
    denominator = np.bincount(
        leaves, weights=sample_weight * hessian, minlength=n_nodes
    )
    safe = denominator != 0
    return np.where(safe, numerator / np.where(safe, denominator, 1.0), 0.0)


def stage_gradients(raw, y, classifier):
    """Negative gradients and Hessians of each tree of a stage at ``raw``.

    Returns
    -------
    gradient, hessian : ndarrays of shape (n_samples, n_trees_per_stage)
        For the squared error the Hessian is one, so a leaf gets the mean
        residual.
    """
    if not classifier:
        return y[:, None] - raw, np.ones_like(raw)
    n_trees = raw.shape[1]
    proba = expit(raw) if n_trees == 1 else softmax(raw, axis=1)
    onehot = y[:, None] == (np.arange(n_trees) if n_trees > 1 else 1)
    gradient = onehot - proba
    if n_trees > 1:
        gradient = gradient * (n_trees - 1) / n_trees
    return gradient, proba * (1.0 - proba)


class BoostingLadder:
    """A booster's stages at every pruning level, refitted on its training data.

    Parameters
    ----------
    booster : fitted GradientBoostingClassifier or GradientBoostingRegressor
    X_train : array-like or sparse matrix
        The training data, as given to ``fit``.
    y_train : ndarray of shape (n_samples,)
        Training targets, encoded as class indices for a classifier.
    sample_weight : ndarray of shape (n_samples,)
    n_levels : int
    classifier : bool
    X_val : array-like or sparse matrix, default=None
        Held-out samples to predict after each stage, if any.
    """

    def __init__(
        self, booster, X_train, y_train, sample_weight, n_levels, classifier, X_val=None
    ):
        self.booster = booster
        self.classifier = classifier
        self.X_train = as_float32(X_train)
        self.X_val = X_val
        self.y_train = y_train
        self.sample_weight = sample_weight
        self.stages = [
            [pruning_levels(tree.tree_, n_levels) for tree in stage]
            for stage in booster.estimators_
        ]
        self.initial_train = initial_raw_predictions(booster, X_train, self.X_train)
        if X_val is not None:
            self.X_val32 = as_float32(X_val)
            self.initial_val = initial_raw_predictions(booster, X_val, self.X_val32)

    def refit(self, level):
        """Prune every stage to ``level`` and recompute its leaf values.

        Returns
        -------
        trees : list of lists of sklearn.tree._tree.Tree
            The refitted trees of each stage (new objects).
        staged : ndarray of shape (n_stages, n_val_samples[, n_classes]) or None
            Predictions on the held-out samples after each stage:
            probabilities for a classifier, values for a regressor.
        n_nodes : ndarray of shape (n_stages,)
            Node count of each stage.
        """
        raw_train = self.initial_train.copy()
        predict_val = self.X_val is not None
        raw_val = self.initial_val.copy() if predict_val else None
        learning_rate = self.booster.learning_rate
        trees, staged, n_nodes = [], [], []
        for stage in self.stages:
            gradient, hessian = stage_gradients(
                raw_train, self.y_train, self.classifier
            )
            stage_trees = []
            for k, levels in enumerate(stage):
                tree = copy.deepcopy(levels[level])
                leaves = tree.apply(self.X_train)
                values = leaf_values(
                    leaves, tree.node_count, gradient[:, k], hessian[:, k],
                    self.sample_weight,
                )
                is_leaf = tree.children_left == -1
                tree.value[is_leaf, 0, 0] = values[is_leaf]
                raw_train[:, k] += learning_rate * tree.value[leaves, 0, 0]
                if predict_val:
                    raw_val[:, k] += learning_rate * tree.predict(self.X_val32)[:, 0]
                stage_trees.append(tree)
            trees.append(stage_trees)
            if predict_val:
                staged.append(
                    probabilities(raw_val) if self.classifier else raw_val[:, 0].copy()
                )
            n_nodes.append(sum(tree.node_count for tree in stage_trees))
        return trees, np.stack(staged) if predict_val else None, np.asarray(n_nodes)

    def n_nodes(self):
        """Node count of the first k stages at every level.

        Returns
        -------
        n_nodes : ndarray of shape (n_levels, n_stages)
        """
        per_stage = np.array(
            [[sum(tree[level].node_count for tree in stage) for stage in self.stages]
             for level in range(len(self.stages[0][0]))]
        )
        return per_stage.cumsum(axis=1)


def as_float32(X):
    """``X`` as float32, a CSR matrix if sparse: what a tree's ``apply`` takes."""
    if hasattr(X, "tocsr"):
        return X.astype(np.float32).tocsr()
    return np.asarray(X, dtype=np.float32)


def pruned_booster(booster, trees):
    """A copy of ``booster`` with the first ``len(trees)`` stages replaced."""
    n_stages = len(trees)
    pruned = copy.copy(booster)
    estimators = np.empty((n_stages, len(trees[0])), dtype=object)
    for i, stage in enumerate(trees):
        for k, tree in enumerate(stage):
            estimator = copy.copy(booster.estimators_[i, k])
            estimator.tree_ = tree
            estimators[i, k] = estimator
    pruned.estimators_ = estimators
    pruned.n_estimators = n_stages
    pruned.n_estimators_ = n_stages
    for name in ("train_score_", "oob_improvement_", "oob_scores_"):
        if hasattr(booster, name):
            setattr(pruned, name, getattr(booster, name)[:n_stages])
    return pruned
