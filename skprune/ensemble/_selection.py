"""A booster's trees chosen one by one, class by class, by a lasso on their outputs.

A booster with K > 2 classes grows K trees a stage, one per class, and the
raw prediction of class k is ``F0_k + learning_rate * sum_s h_sk(x)``. Which
trees of class k matter is asked of a lasso that approximates the booster's
own ``F_k - F0_k`` on the training data by a weighted sum of its trees'
outputs (Friedman and Popescu's post-processing, by least squares): trees
are ranked class by class in the order they enter the lasso path, the
strongest first, and a candidate keeps the first m of every class. A class's
kept trees need not come from the same stages as another's: as a class's
raw prediction is a sum, its trees are packed into the first m stages, in
their order; a class with fewer than m trees (the lasso path may end before)
is padded with single-leaf trees of value zero. The kept leaves are then
refitted jointly (:mod:`._corrective`).

Selected trees keep their depth; trees cut by cost-complexity before the
selection do worse per node. Instead, the largest selection is shrunk after
its refit: the sibling leaves whose merging raises the loss of the whole
model least are merged, over all its trees together, and the leaves refitted
again, in a few rounds, down to fixed fractions of the booster's nodes.

These candidates are not among :class:`EnsemblePruner`'s: chosen by its
cross-validation they did not do better than its own (see the user guide);
``benchmarks/bench_ensemble.py --booster-frontier`` measures them.
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.linear_model import lasso_path

from ..tree._path import build_subtree
from ._corrective import (
    merge_cheapest_leaves,
    refit_stages_jointly,
    staged_sum_predictions,
)

# Fractions of the stages a class keeps in the selected candidates.
SELECTION_FRACTIONS = (0.15, 0.2, 0.25, 0.3, 0.4)
# Fractions of the booster's nodes the largest selection is shrunk to by
# merging leaves, in that many rounds of merging and refitting each.
MERGE_FRACTIONS = (1 / 6, 1 / 5, 1 / 4, 1 / 3)
MERGE_ROUNDS = 2
# The lasso path: its number of penalties, and its smallest over its largest.
N_PENALTIES = 100
PENALTY_RATIO = 1e-5
# Coordinate descent's tolerance on the duality gap and its iteration limit:
# scikit-learn's defaults, enough to rank the trees.
LASSO_TOL = 1e-4
LASSO_MAX_ITER = 1000


def tree_outputs(trees, k, X, learning_rate):
    """The contributions of class k's trees: shape (n_samples, n_stages)."""
    return np.column_stack(
        [learning_rate * stage[k].predict(X)[:, 0] for stage in trees]
    )


def weighted_lasso_path(outputs, target, sample_weight):
    """The lasso path of ``target`` on ``outputs``, with sample weights.

    Minimises ``sum_i w_i (target_i - outputs_i c)**2 / (2 sum_i w_i) +
    alpha * ||c||_1`` at each alpha, without intercept: scikit-learn's
    ``Lasso(fit_intercept=False)`` with ``sample_weight``.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
        Decreasing.
    coefs : ndarray of shape (n_trees, n_alphas)
    """
    scale = np.sqrt(sample_weight / sample_weight.mean())[:, None]
    alphas, coefs, _ = lasso_path(
        outputs * scale, target * scale[:, 0], alphas=N_PENALTIES, eps=PENALTY_RATIO,
        tol=LASSO_TOL, max_iter=LASSO_MAX_ITER,
    )
    return alphas, coefs


def entry_order(coefs):
    """Trees in the order they enter a lasso path.

    Ties (trees entering at the same penalty) go to the larger coefficient
    magnitude at the end of the path, then to the earlier tree; trees that
    never enter come last.

    Parameters
    ----------
    coefs : ndarray of shape (n_trees, n_alphas)

    Returns
    -------
    order : ndarray of int of shape (n_trees,)
    n_entered : int
        How many trees enter the path.
    """
    active = coefs != 0
    entered = active.any(axis=1)
    entry = np.where(entered, active.argmax(axis=1), coefs.shape[1])
    order = np.lexsort((np.arange(coefs.shape[0]), -np.abs(coefs[:, -1]), entry))
    return order, int(entered.sum())


def lasso_ranking(trees, X, sample_weight, learning_rate):
    """Each class's trees, ranked by the lasso path of its raw prediction.

    The target of class k is the sum of its trees' contributions, the
    booster's ``F_k - F0_k``.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
        ``trees[stage][k]``.
    X : ndarray or CSR matrix of float32
    sample_weight : ndarray of shape (n_samples,)
    learning_rate : float

    Returns
    -------
    rankings : list of ndarrays of int
        ``rankings[k]``: the stages of class k's trees that enter the path,
        in the order they enter it.
    """
    rankings = []
    for k in range(len(trees[0])):
        outputs = tree_outputs(trees, k, X, learning_rate)
        _, coefs = weighted_lasso_path(outputs, outputs.sum(axis=1), sample_weight)
        order, n_entered = entry_order(coefs)
        rankings.append(order[:n_entered])
    return rankings


def zero_leaf(tree):
    """A single-leaf tree of value zero, with the shape of ``tree``."""
    leaf = build_subtree(tree, np.array([0]), np.array([True]))
    leaf.value[:] = 0.0
    return leaf


def packed_stages(trees, rankings, n_kept):
    """The first ``n_kept`` trees of every class's ranking, packed into stages.

    Parameters
    ----------
    trees : list of lists of sklearn.tree._tree.Tree
    rankings : list of ndarrays of int
    n_kept : int

    Returns
    -------
    stages : list of lists of sklearn.tree._tree.Tree
        ``max_k min(n_kept, len(rankings[k]))`` stages (at least one); class
        k's kept trees in their stage order, then single-leaf zero trees.
        Kept trees are the input's objects, not copies.
    """
    kept = [np.sort(ranking[:n_kept]) for ranking in rankings]
    n_stages = max(1, max(stages.size for stages in kept))
    return [
        [trees[kept[k][i]][k] if i < kept[k].size else zero_leaf(trees[0][k])
         for k in range(len(kept))]
        for i in range(n_stages)
    ]


def selection_sizes(n_stages):
    """The numbers of trees a class keeps in the selected candidates."""
    return np.unique([max(1, round(f * n_stages)) for f in SELECTION_FRACTIONS])


def booster_trees(booster):
    """The trees of a fitted booster, ``trees[stage][k]``."""
    return [[estimator.tree_ for estimator in stage] for stage in booster.estimators_]


def total_nodes_of(stages):
    """Node count of a list of stages of trees."""
    return sum(tree.node_count for stage in stages for tree in stage)


class SelectedTrees:
    """A booster's candidates of trees selected class by class by the lasso.

    Candidate ``j < len(sizes)`` keeps the first ``sizes[j]`` trees of each
    class in the order they enter the lasso path of its raw prediction on
    the training data, packed into stages, their leaves refitted jointly.
    Candidate ``len(sizes) + j`` is the largest of them with sibling leaves
    merged down to ``MERGE_FRACTIONS[j]`` of the booster's nodes.

    Parameters
    ----------
    booster : fitted gradient boosting model
    ladder : BoostingLadder
        The booster's ladder, for its training data and initial predictions.
    trees : list of lists of sklearn.tree._tree.Tree
        The booster's trees, ``trees[stage][k]``.
    y : ndarray of shape (n_samples,)
        Encoded training targets.
    sample_weight : ndarray of shape (n_samples,)
    """

    def __init__(self, booster, ladder, trees, y, sample_weight):
        self.booster = booster
        self.ladder = ladder
        self.trees = trees
        self.y = y
        self.sample_weight = sample_weight
        self.sizes = selection_sizes(len(trees))
        self.merge_fractions = MERGE_FRACTIONS
        self.rankings = lasso_ranking(
            trees, ladder.X_train, sample_weight, booster.learning_rate
        )
        self._stages = {}

    @property
    def n_candidates(self):
        return len(self.sizes) + len(self.merge_fractions)

    def refit(self, stages, targets=None):
        """``stages`` refitted jointly to the labels, or to ``targets`` if given."""
        return refit_stages_jointly(
            stages, self.ladder.X_train, self.y if targets is None else targets,
            self.sample_weight, self.ladder.initial_train,
            self.booster.learning_rate, is_classifier(self.booster),
        )

    def stages(self, candidate):
        """The refitted stages of a candidate (computed once)."""
        if candidate not in self._stages:
            if candidate < len(self.sizes):
                self._stages[candidate] = self.refit(
                    packed_stages(self.trees, self.rankings, self.sizes[candidate])
                )
            else:
                self._merge_down()
        return self._stages[candidate]

    def merged(self, stages, max_nodes):
        """``stages`` shrunk to at most ``max_nodes`` nodes by merging leaves.

        In ``MERGE_ROUNDS`` rounds, each merging its share of the excess
        nodes (two a merge) and refitting the leaves jointly.
        """
        for round_left in range(MERGE_ROUNDS, 0, -1):
            excess = total_nodes_of(stages) - max_nodes
            if excess <= 0:
                break
            stages = self.refit(merge_cheapest_leaves(
                stages, self.ladder.X_train, self.y, self.sample_weight,
                self.ladder.initial_train, self.booster.learning_rate,
                is_classifier(self.booster), int(np.ceil(excess / 2 / round_left)),
            ))
        return stages

    def _merge_down(self):
        """Shrink the largest selection to every fraction, the largest first."""
        stages = self.stages(len(self.sizes) - 1)
        n_booster = total_nodes_of(self.trees)
        for j in reversed(range(len(self.merge_fractions))):
            stages = self.merged(stages, self.merge_fractions[j] * n_booster)
            self._stages[len(self.sizes) + j] = stages

    def n_nodes(self):
        """Node counts of the candidates: the selections, then the merged ones."""
        return np.array(
            [total_nodes_of(self.stages(j)) for j in range(self.n_candidates)]
        )

    def predictions(self, candidate):
        """Predictions of a candidate on the ladder's held-out samples, (1, ...)."""
        return self.held_out_predictions(self.stages(candidate))[None]

    def held_out_predictions(self, stages):
        """Predictions of ``stages`` on the ladder's held-out samples."""
        return staged_sum_predictions(
            stages, self.ladder.X_val32, self.ladder.initial_val,
            self.booster.learning_rate, is_classifier(self.booster),
        )
