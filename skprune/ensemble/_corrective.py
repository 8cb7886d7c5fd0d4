"""Fully corrective refit of gradient boosting: all kept leaves refitted jointly.

Boosting fits each stage's leaves once, given the stages before it. After
stages are dropped and their trees pruned, the leaf values of all the kept
stages are refitted together, by minimising the boosting loss of the whole
model on the training data with an L2 penalty on the leaf values:

    min_v  sum_i w_i loss(y_i, F0_i + learning_rate * A_i v) + penalty / 2 * ||v||^2,

where ``F0`` is the raw prediction of ``init_`` and ``A`` the one-hot design of
the leaves each sample reaches, per class (a class's raw prediction sums its
own trees). The problem is convex (log-loss, multinomial deviance or half the
squared error); it is solved by L-BFGS from the stagewise values, with the
analytic gradient, or, for the squared error, a ridge regression, by the
conjugate gradients of a forest's refinement. The values are written into
the trees, so that the model stays a scikit-learn booster and its staged
predictions are those of its stages.

At the refitted values, the same loss also prices merging two sibling
leaves, to second order, for all the trees together: the cheapest merges
shrink the refitted model (:func:`merge_cheapest_leaves`).
"""

import copy

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, softmax

from ..tree._path import collapse_nodes
from ._boosting import probabilities, stage_gradients
from ._candidates import RefitRows
from ._refine import refined_values

# L2 penalty on the leaf values, against the summed weighted loss (a weight
# of 2 counts as a repeated sample).
CORRECTIVE_PENALTY = 0.1
# L-BFGS iteration limit: the refit of hundreds of stages on thousands of
# samples takes seconds, less than fitting the booster.
LBFGS_ITER = 200
# The refitted candidates: the first quarter and half of the stages, whole or
# with their trees halved.
CORRECTIVE_ROWS = RefitRows(levels=(0, 1), fractions=(0.25, 0.5))


def class_designs(trees, X):
    """One sparse leaf design per class: the leaves of that class's trees.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        ``trees[stage][k]``.
    X : ndarray or CSR matrix of float32

    Returns
    -------
    designs : list of CSR matrices of shape (n_samples, n_leaves_k)
        A one where a sample reaches a leaf.
    leaves : list of lists of ndarray
        ``leaves[k][stage]``: the leaf ids of each tree, in column order.
    """
    designs, leaves = [], []
    for k in range(len(trees[0])):
        columns, ids, offset = [], [], 0
        for stage in trees:
            tree = stage[k]
            is_leaf = tree.children_left == -1
            column_of = np.cumsum(is_leaf) - 1 + offset
            columns.append(column_of[tree.apply(X)])
            ids.append(np.flatnonzero(is_leaf))
            offset += ids[-1].size
        columns = np.stack(columns, axis=1)
        n_samples, n_stages = columns.shape
        designs.append(sp.csr_matrix(
            (np.ones(columns.size), columns.ravel(),
             np.arange(0, columns.size + 1, n_stages)),
            shape=(n_samples, offset),
        ))
        leaves.append(ids)
    return designs, leaves


def boosting_objective(raw, y, sample_weight, classifier):
    """Weighted boosting loss at ``raw`` and its gradient in ``raw``.

    Parameters
    ----------
    raw : ndarray of shape (n_samples, n_trees_per_stage)
    y : ndarray of shape (n_samples,) or (n_samples, n_trees_per_stage)
        Class indices, or target values; or, for a classifier, target
        probabilities: of the positive class for a binary one (one column),
        of each class otherwise. The log-loss is then the cross-entropy to
        them, as with labels one-hot encoded.

    Returns
    -------
    loss : float
    gradient : ndarray of shape (n_samples, n_trees_per_stage)
    """
    w = sample_weight[:, None]
    if not classifier:
        residual = raw - y[:, None]
        return 0.5 * float((w * residual**2).sum()), w * residual
    if raw.shape[1] == 1:
        positive = y if y.ndim == 2 else (y == 1)[:, None]
        loss = np.logaddexp(0.0, raw) - positive * raw
        return float((w * loss).sum()), w * (expit(raw) - positive)
    onehot = y if y.ndim == 2 else y[:, None] == np.arange(raw.shape[1])
    loss = -(log_softmax(raw, axis=1) * onehot).sum(axis=1, keepdims=True)
    return float((w * loss).sum()), w * (softmax(raw, axis=1) - onehot)


def refit_stages_jointly(trees, X, y, sample_weight, initial_raw, learning_rate,
                         classifier, penalty=None):
    """Copies of the stages' trees with their leaves refitted jointly.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        The kept stages, ``trees[stage][k]``; they are not modified.
    X : ndarray or CSR matrix of float32 of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_trees_per_stage)
        Class indices, or target values for a regressor; or target
        probabilities for a classifier, as :func:`boosting_objective` takes
        them (the booster's own, to refit towards it rather than the labels).
    sample_weight : ndarray of shape (n_samples,)
    initial_raw : ndarray of shape (n_samples, n_trees_per_stage)
        Raw predictions of the booster's ``init_``.
    learning_rate : float
    classifier : bool
    penalty : float, default=None
        The L2 penalty; if None, ``CORRECTIVE_PENALTY``.

    Returns
    -------
    trees : list of lists of sklearn.tree._tree.Tree
    """
    if penalty is None:
        penalty = CORRECTIVE_PENALTY
    designs, leaves = class_designs(trees, X)
    designs = [learning_rate * design for design in designs]
    bounds = np.cumsum([0] + [design.shape[1] for design in designs])
    start = np.concatenate([
        tree_values
        for k, ids in enumerate(leaves)
        for tree_values in (stage[k].value[i, 0, 0] for stage, i in zip(trees, ids))
    ])

    def objective(v):
        raw = initial_raw + np.column_stack(
            [design @ v[a:b] for design, a, b in zip(designs, bounds[:-1], bounds[1:])]
        )
        loss, gradient = boosting_objective(raw, y, sample_weight, classifier)
        v_gradient = np.concatenate(
            [design.T @ gradient[:, k] for k, design in enumerate(designs)]
        )
        return loss + 0.5 * penalty * v @ v, v_gradient + penalty * v

    if classifier:
        solution = minimize(
            objective, start, jac=True, method="L-BFGS-B",
            options={"maxiter": LBFGS_ITER},
        ).x
    else:
        # a ridge regression: solved as a forest's leaves are
        residual = y[:, None] - initial_raw
        solution = refined_values(
            designs[0], residual, np.zeros((start.size, 1)), sample_weight, penalty
        )[:, 0]
    refitted = [[copy.deepcopy(tree) for tree in stage] for stage in trees]
    for k, ids in enumerate(leaves):
        values = np.split(
            solution[bounds[k]:bounds[k + 1]], np.cumsum([i.size for i in ids])[:-1]
        )
        for stage, i, v in zip(refitted, ids, values):
            stage[k].value[i, 0, 0] = v
    return refitted


def summed_raw(trees, X, initial_raw, learning_rate):
    """Raw predictions of a booster's stages on ``X``: ``F0`` plus its trees."""
    raw = initial_raw.copy()
    for stage in trees:
        for k, tree in enumerate(stage):
            raw[:, k] += learning_rate * tree.predict(X)[:, 0]
    return raw


def staged_sum_predictions(trees, X, initial_raw, learning_rate, classifier):
    """Predictions of a booster's stages on ``X``: probabilities or values.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
    X : ndarray or CSR matrix of float32
    initial_raw : ndarray of shape (n_samples, n_trees_per_stage)
        Raw predictions of ``init_`` on ``X``.
    """
    raw = summed_raw(trees, X, initial_raw, learning_rate)
    return probabilities(raw) if classifier else raw[:, 0]


def sibling_merge_costs(tree, leaf_hessian):
    """Second-order loss increase of merging each pair of sibling leaves.

    Two sibling leaves of values ``a, b`` and summed Hessians ``Ha, Hb``
    (of the penalised loss in their value) merged into one of value
    ``(Ha a + Hb b) / (Ha + Hb)`` raise the loss by about
    ``Ha Hb / (Ha + Hb) (a - b)**2 / 2``, the first-order terms vanishing at
    the refitted optimum.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
    leaf_hessian : ndarray of shape (n_nodes,)

    Returns
    -------
    parents : ndarray of int
        The nodes whose two children are leaves.
    costs : ndarray of shape (n_parents,)
    merged : ndarray of shape (n_parents,)
        The value of the merged leaf.
    """
    left, right = tree.children_left, tree.children_right
    inner = np.flatnonzero(left != -1)
    parents = inner[(left[left[inner]] == -1) & (left[right[inner]] == -1)]
    a, b = left[parents], right[parents]
    ha, hb = leaf_hessian[a], leaf_hessian[b]
    va, vb = tree.value[a, 0, 0], tree.value[b, 0, 0]
    costs = 0.5 * ha * hb / (ha + hb) * (va - vb) ** 2
    return parents, costs, (ha * va + hb * vb) / (ha + hb)


def merge_cheapest_leaves(trees, X, y, sample_weight, initial_raw, learning_rate,
                          classifier, n_merges, penalty=None):
    """Copies of the stages with the ``n_merges`` cheapest sibling leaves merged.

    The costs are those of :func:`sibling_merge_costs` for the boosting loss
    of the whole model plus the L2 penalty of the joint refit, so that pairs
    of all the trees compete; the merged leaf takes the Hessian-weighted
    mean of the two values. Each merge removes two nodes.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        Jointly refitted stages; they are not modified.
    y : ndarray of shape (n_samples,)
        Class indices, or target values for a regressor.
    n_merges : int
    (others as in :func:`refit_stages_jointly`)

    Returns
    -------
    trees : list of lists of sklearn.tree._tree.Tree
    """
    if penalty is None:
        penalty = CORRECTIVE_PENALTY
    raw = summed_raw(trees, X, initial_raw, learning_rate)
    _, hessian = stage_gradients(raw, y, classifier)
    found = []
    for i, stage in enumerate(trees):
        for k, tree in enumerate(stage):
            leaf_hessian = learning_rate**2 * np.bincount(
                tree.apply(X), weights=sample_weight * hessian[:, k],
                minlength=tree.node_count,
            ) + penalty
            parents, costs, merged = sibling_merge_costs(tree, leaf_hessian)
            found.extend(zip(costs, [(i, k)] * parents.size, parents, merged))
    found.sort(key=lambda item: item[0])
    collapsed = {}
    for _, key, parent, value in found[:n_merges]:
        collapsed.setdefault(key, []).append((parent, value))
    merged_trees = []
    for i, stage in enumerate(trees):
        merged_trees.append([])
        for k, tree in enumerate(stage):
            if (i, k) not in collapsed:
                merged_trees[-1].append(copy.deepcopy(tree))
                continue
            parents, values = map(np.array, zip(*collapsed[(i, k)]))
            with_leaves = copy.deepcopy(tree)
            with_leaves.value[parents, 0, 0] = values
            is_collapsed = np.zeros(tree.node_count, dtype=bool)
            is_collapsed[parents] = True
            merged_trees[-1].append(collapse_nodes(with_leaves, is_collapsed))
    return merged_trees
