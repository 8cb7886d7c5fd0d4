"""EnsemblePruner: its choice, the ensembles it builds, and its estimator API."""

import copy
import pickle

import matplotlib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
)

from skprune.ensemble import EnsemblePruner, _pruner
from skprune.ensemble._levels import pruning_levels
from skprune.ensemble._pruner import (
    BOOSTER_STANDARD_ERRORS,
    best_within_budgets,
    bounded_differences,
    fitting_weights,
    smallest_budget_within,
)
from skprune.ensemble._refine import merge_leaves, refine_forest_trees
from skprune.model_selection import PruningCurveDisplay

matplotlib.use("Agg")


ENSEMBLES = [
    GradientBoostingClassifier(n_estimators=5, random_state=0),
    RandomForestClassifier(n_estimators=5, random_state=0),
]


@pytest.fixture(scope="module")
def classification():
    return make_classification(
        n_samples=300, n_features=8, n_informative=4, n_classes=3,
        flip_y=0.05, random_state=0,
    )


@pytest.fixture(scope="module")
def fitted_pruner(classification):
    X, y = classification
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    return EnsemblePruner(forest, max_score_loss=0.05, random_state=0).fit(X, y)


def candidate_trees(forest, X, y, level, n_trees, refined, merged=False):
    """The first trees of a fitted forest classifier at a level, refined or not.

    Refined, their leaves are refitted jointly. Merged, they are the trees
    at level 1, refitted (15 iterations), merged to the node count of the
    level and refitted again (10 iterations).
    """
    levels = [pruning_levels(tree.tree_, 6) for tree in forest.estimators_[:n_trees]]
    trees = [tree_levels[level] for tree_levels in levels]
    if not refined:
        return trees
    y = np.searchsorted(forest.classes_, y)
    weights = np.ones(y.shape[0])
    n_classes = forest.classes_.shape[0]
    if not merged:
        return refine_forest_trees(trees, X, y, weights, True, n_classes)
    larger = [tree_levels[1] for tree_levels in levels]
    base = refine_forest_trees(larger, X, y, weights, True, n_classes, max_iter=15)
    merged = merge_leaves(base, X, weights, sum(tree.node_count for tree in trees))
    return refine_forest_trees(merged, X, y, weights, True, n_classes, max_iter=10)


def total_nodes(ensemble):
    trees = getattr(ensemble.estimators_, "ravel", lambda: ensemble.estimators_)()
    return sum(tree.tree_.node_count for tree in trees)


def test_each_level_keeps_at_most_its_fraction_of_the_leaves(classification):
    X, y = classification
    tree = (
        RandomForestClassifier(n_estimators=1, random_state=0).fit(X, y).estimators_[0]
    )
    levels = pruning_levels(tree.tree_, 5)
    np.testing.assert_array_equal(levels[0].predict(X.astype(np.float32)),
                                  tree.tree_.predict(X.astype(np.float32)))
    n_leaves = tree.get_n_leaves()
    for level, pruned in enumerate(levels):
        assert pruned.n_leaves <= max(1, np.ceil(n_leaves / 2**level))
    assert [t.n_leaves for t in levels] == sorted(
        (t.n_leaves for t in levels), reverse=True
    )


def test_budget_choice_is_the_best_level_at_the_most_trees_that_fit():
    rng = np.random.default_rng(0)
    n_nodes = np.cumsum(rng.integers(1, 20, (3, 12)), axis=1)
    scores = rng.random((3, 12))
    budgets = np.array([n_nodes[:, 0].max(), 40, 90, 150, n_nodes.max()])
    chosen = best_within_budgets(n_nodes, scores, budgets)
    for budget, index in zip(budgets, chosen):
        largest = [np.flatnonzero(row <= budget).max() for row in n_nodes]
        level = max(range(3), key=lambda lv: scores[lv, largest[lv]])
        assert index == level * 12 + largest[level]


def test_pruned_forest_keeps_pruned_trees_of_the_fitted_one(
    fitted_pruner, classification, assert_is_pruning_of, leaves_of
):
    X, y = classification
    pruner = fitted_pruner
    pruned = pruner.pruned_estimator_
    assert type(pruned) is RandomForestClassifier
    assert len(pruned.estimators_) == pruner.n_trees_ == pruned.n_estimators
    originals = {tree.random_state: tree for tree in pruner.estimator_.estimators_}
    X32 = X.astype(np.float32)
    for tree in pruned.estimators_:
        original = originals[tree.random_state]
        if pruner.refined_:
            # the structure is a pruning, whose leaves' values are refitted:
            # its leaves are nodes of the original, one each
            leaves = leaves_of(tree, original, X32)
            pairs = np.unique(np.c_[tree.apply(X32), leaves], axis=0)
            assert (
                np.unique(pairs[:, 0]).size == np.unique(pairs[:, 1]).size == len(pairs)
            )
            assert tree.tree_.node_count <= original.tree_.node_count
        else:
            assert_is_pruning_of(tree, original, X32)
    assert pruner.n_nodes_ == total_nodes(pruned) < pruner.n_nodes_original_
    assert pruner.n_nodes_original_ == total_nodes(pruner.estimator_)
    assert pruner.compression_ratio_ == pruner.n_nodes_original_ / pruner.n_nodes_
    np.testing.assert_array_equal(pruner.predict_proba(X), pruned.predict_proba(X))
    assert pruner.score(X, y) == pruned.score(X, y)


def pool_adjacent_violators(values):
    """The non-decreasing least-squares fit of ``values``, block by block."""
    blocks = [[value] for value in values]
    merged = True
    while merged:
        merged = False
        for i in range(len(blocks) - 1):
            if np.mean(blocks[i]) > np.mean(blocks[i + 1]):
                blocks[i:i + 2] = [blocks[i] + blocks[i + 1]]
                merged = True
                break
    return np.concatenate([[np.mean(block)] * len(block) for block in blocks])


@pytest.mark.parametrize("n_standard_errors", [0, 1.0, -1.0])
def test_bounded_differences_are_the_pooled_means_less_standard_errors(
    n_standard_errors
):
    rng = np.random.default_rng(1)
    differences = np.linspace(-0.1, 0.0, 12) + rng.normal(0, 0.02, (5, 12))
    errors = differences.std(axis=0, ddof=1) / np.sqrt(5)
    expected = (
        pool_adjacent_violators(differences.mean(axis=0)) - n_standard_errors * errors
    )
    assert_allclose(
        bounded_differences(differences, n_standard_errors), expected, atol=1e-12
    )
    # one fold has no standard error
    assert_allclose(
        bounded_differences(differences[:1], n_standard_errors),
        pool_adjacent_violators(differences[0]), atol=1e-12,
    )


def test_kept_budget_is_the_smallest_within_the_loss_once_smoothed():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.8, 0.9, 5)
    fold_scores = (
        reference[:, None] - np.linspace(0.1, 0.0, 30) + rng.normal(0, 0.01, (5, 30))
    )
    smoothed = pool_adjacent_violators((fold_scores - reference[:, None]).mean(axis=0))
    for loss in (0.0, 0.01, 0.05, 0.2):
        index = smallest_budget_within(fold_scores, reference, loss)
        expected = next((b for b in range(30) if smoothed[b] >= -loss - 1e-12), 29)
        assert index == expected
    # a single lucky budget among bad ones is averaged away
    dip = np.full((5, 4), -0.05)
    dip[:, 1] = 0.0
    assert smallest_budget_within(dip + reference[:, None], reference, 0.01) == 3


def test_kept_budget_is_the_pruned_ensemble(fitted_pruner):
    results = fitted_pruner.cv_results_
    best = fitted_pruner.best_index_
    assert results["n_nodes"][best] <= results["param_max_nodes"][best]
    assert np.all(np.diff(results["param_max_nodes"]) > 0)
    assert len(fitted_pruner.pruned_estimator_.estimators_) == fitted_pruner.n_trees_


def test_a_larger_loss_never_keeps_more_nodes(classification):
    X, y = classification
    forest = ExtraTreesClassifier(n_estimators=10, bootstrap=True, random_state=0)
    sizes = [
        EnsemblePruner(forest, max_score_loss=loss, random_state=0).fit(X, y).n_nodes_
        for loss in (0.0, 0.02, 0.2)
    ]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] < sizes[0]


def test_scores_are_those_of_clones_fitted_on_each_training_fold(classification):
    # an independent reference: scikit-learn's own score of forests built from
    # clones fitted on each training fold
    X, y = classification
    forest = RandomForestClassifier(n_estimators=10, random_state=0)
    pruner = EnsemblePruner(forest, cv=KFold(3), max_score_loss=0.02).fit(X, y)
    X32 = X.astype(np.float32)
    references, chosen = [], []
    for train, test in KFold(3).split(X):
        fitted = clone(forest).fit(X32[train], y[train])
        references.append(fitted.score(X32[test], y[test]))
        trees = candidate_trees(
            fitted, X32[train], y[train], pruner.level_, pruner.n_trees_,
            pruner.refined_, pruner.merged_,
        )
        pruned = copy.copy(fitted)
        pruned.estimators_ = [
            copy.copy(tree) for tree in fitted.estimators_[: pruner.n_trees_]
        ]
        for tree, kept in zip(pruned.estimators_, trees):
            tree.tree_ = kept
        chosen.append(pruned.score(X32[test], y[test]))
    assert pruner.reference_score_ == pytest.approx(np.mean(references), abs=1e-12)
    best = pruner.best_index_
    for fold, score in enumerate(chosen):
        assert pruner.cv_results_[f"split{fold}_test_score"][best] == pytest.approx(
            score, abs=1e-12
        )
    assert np.mean(chosen) >= np.mean(references) - 0.02 - 1e-12


def test_pruned_forest_is_the_first_trees_of_the_fitted_one_at_the_kept_level(
    classification,
):
    X, y = classification
    forest = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    pruner = EnsemblePruner(forest, prefit=True, max_score_loss=0.1, random_state=0)
    pruned = pruner.fit(X, y).pruned_estimator_
    assert 0 < pruner.n_trees_ < 15 or pruner.level_ > 0
    X32 = X.astype(np.float32)
    trees = candidate_trees(
        forest, X32, y, pruner.level_, pruner.n_trees_, pruner.refined_, pruner.merged_
    )
    assert len(pruned.estimators_) == len(trees)
    for ours, expected in zip(pruned.estimators_, trees):
        np.testing.assert_array_equal(ours.tree_.apply(X32), expected.apply(X32))
        np.testing.assert_array_equal(ours.tree_.value, expected.value)
        assert ours.tree_.node_count == expected.node_count


# rows of the forest's tables: the six levels, the refined row and the
# merged row at level 3, the merged row at level 2; columns: the sizes of
# each row
@pytest.mark.parametrize(
    "row, column, expected",
    [
        (6, 1, (3, 10, True, False)),
        (7, 0, (3, 6, True, True)),
        (7, 1, (3, 8, True, True)),
        (8, 0, (2, 6, True, True)),
        (4, 9, (4, 10, False, False)),
    ],
)
def test_every_kind_of_candidate_is_built_as_it_is_defined(
    classification, monkeypatch, row, column, expected
):
    # each kind of candidate, forced, against the trees computed apart from
    # the pruner's tables
    X, y = classification
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    monkeypatch.setattr(EnsemblePruner, "_choose", lambda self, tables: (row, column))
    pruner = EnsemblePruner(forest, prefit=True, cv=2, random_state=0).fit(X, y)
    level, n_trees, refined, merged = expected
    assert (pruner.level_, pruner.n_trees_, pruner.refined_, pruner.merged_) == expected
    X32 = X.astype(np.float32)
    trees = candidate_trees(forest, X32, y, level, n_trees, refined, merged)
    for ours, tree in zip(pruner.pruned_estimator_.estimators_, trees, strict=True):
        np.testing.assert_array_equal(ours.tree_.apply(X32), tree.apply(X32))
        np.testing.assert_array_equal(ours.tree_.value, tree.value)
    if merged:
        # merged to at most the node count of the first trees at the level
        at_level = candidate_trees(forest, X32, y, level, n_trees, False)
        assert pruner.n_nodes_ <= sum(tree.node_count for tree in at_level)
    assert pruner.n_nodes_ == total_nodes(pruner.pruned_estimator_)


def test_unseeded_forests_are_seeded_by_random_state(classification):
    X, y = classification
    forest = RandomForestClassifier(n_estimators=8).fit(X, y)
    first, second = (
        EnsemblePruner(forest, prefit=True, random_state=3).fit(X, y) for _ in range(2)
    )
    for key in ("split0_test_score", "split4_test_score"):
        np.testing.assert_array_equal(first.cv_results_[key], second.cv_results_[key])
    assert first.reference_score_ == second.reference_score_


def test_prefit_forest_is_left_unchanged(classification):
    X, y = classification
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    before = pickle.dumps(forest)
    pruner = EnsemblePruner(forest, prefit=True, max_score_loss=0.05).fit(X, y)
    assert pickle.dumps(forest) == before
    assert pruner.n_nodes_original_ == total_nodes(forest)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestRegressor(n_estimators=10, random_state=0),
        GradientBoostingRegressor(n_estimators=30, random_state=0),
        GradientBoostingClassifier(n_estimators=15, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_regressors_and_boosters_are_pruned(estimator):
    if isinstance(estimator, GradientBoostingClassifier):
        X, y = make_classification(n_samples=300, n_informative=4, random_state=0)
    else:
        X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    pruner = EnsemblePruner(estimator, max_score_loss=0.1, random_state=0).fit(X, y)
    assert type(pruner.pruned_estimator_) is type(estimator)
    assert (
        pruner.n_nodes_
        == total_nodes(pruner.pruned_estimator_)
        < pruner.n_nodes_original_
    )
    np.testing.assert_array_equal(
        pruner.predict(X), pruner.pruned_estimator_.predict(X)
    )
    if isinstance(estimator, GradientBoostingClassifier):
        last = list(pruner.pruned_estimator_.staged_decision_function(X))[-1]
        np.testing.assert_allclose(last.ravel(), pruner.decision_function(X))


def test_clone_grid_search_and_pickle(classification):
    X, y = classification
    pruner = EnsemblePruner(
        RandomForestClassifier(n_estimators=8, random_state=0), cv=3
    )
    assert clone(pruner).get_params()["estimator"].n_estimators == 8
    search = GridSearchCV(pruner, {"max_score_loss": [0.0, 0.05]}, cv=2).fit(X, y)
    assert search.best_params_["max_score_loss"] in (0.0, 0.05)
    fitted = search.best_estimator_
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))


def test_pruning_curve_display_draws_the_budget_path(fitted_pruner):
    display = PruningCurveDisplay.from_cv_estimator(fitted_pruner)
    np.testing.assert_array_equal(
        display.param_values, fitted_pruner.cv_results_["param_max_nodes"]
    )
    assert display.chosen_value == fitted_pruner.cv_results_["param_max_nodes"][
        fitted_pruner.best_index_
    ]
    matplotlib.pyplot.close(display.figure_)


def test_data_frames_keep_their_feature_names(classification):
    X, y = classification
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    pruner = EnsemblePruner(GradientBoostingClassifier(n_estimators=5), cv=2).fit(
        frame, y
    )
    np.testing.assert_array_equal(pruner.feature_names_in_, frame.columns)


@pytest.mark.parametrize(
    "check", [check_param_validation, check_dataframe_column_names_consistency]
)
def test_scikit_learn_api_checks(check):
    check(
        "EnsemblePruner", EnsemblePruner(RandomForestClassifier(n_estimators=5), cv=2)
    )


def test_bad_input_is_rejected(classification):
    X, y = classification
    with pytest.raises(TypeError, match="RandomForestClassifier"):
        EnsemblePruner(LogisticRegression()).fit(X, y)
    with pytest.raises(TypeError, match="histogram"):
        EnsemblePruner(HistGradientBoostingClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="loss"):
        EnsemblePruner(GradientBoostingRegressor(loss="huber")).fit(X, y)
    with pytest.raises(ValueError, match="prefit=True"):
        booster = GradientBoostingClassifier(n_estimators=2).fit(X, y)
        EnsemblePruner(booster, prefit=True).fit(X[:, :3], y)
    with pytest.raises(NotFittedError, match="prefit=True"):
        EnsemblePruner(RandomForestClassifier(), prefit=True).fit(X, y)
    with pytest.raises(ValueError, match="max_score_loss"):
        EnsemblePruner(RandomForestClassifier(), max_score_loss=-1).fit(X, y)
    with pytest.raises(ValueError, match="scoring='r2'"):
        EnsemblePruner(RandomForestClassifier(), scoring="r2").fit(X, y)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="not fitted with"):
        EnsemblePruner(forest, prefit=True).fit(X, np.where(y == 0, 7, y))
    with pytest.raises(ValueError, match="rows of X"):
        EnsemblePruner(forest, prefit=True).fit(X[:50], y[:50])
    with pytest.raises(NotFittedError):
        EnsemblePruner(forest).predict(X)


def test_prefit_booster_is_pruned_as_a_fresh_fit_and_left_unchanged():
    X, y = make_classification(n_samples=200, n_informative=4, random_state=1)
    booster = GradientBoostingClassifier(n_estimators=20, random_state=0)
    fresh = EnsemblePruner(booster, max_score_loss=0.02, cv=3).fit(X, y)
    fitted = clone(booster).fit(X, y)
    before = pickle.dumps(fitted)
    prefit = EnsemblePruner(fitted, prefit=True, max_score_loss=0.02, cv=3).fit(X, y)
    assert pickle.dumps(fitted) == before
    assert (prefit.level_, prefit.n_trees_) == (fresh.level_, fresh.n_trees_)
    np.testing.assert_allclose(prefit.predict_proba(X), fresh.predict_proba(X))


@pytest.mark.parametrize("cv, message", [([1, 2], "one of its splits is 1"),
                                         ((), "cv yields no split")])
@pytest.mark.parametrize("estimator", ENSEMBLES, ids=lambda e: type(e).__name__)
def test_the_splits_given_are_checked(classification, cv, message, estimator):
    X, y = classification
    with pytest.raises(ValueError, match=message):
        EnsemblePruner(estimator, cv=cv).fit(X, y)


@pytest.mark.parametrize("estimator", ENSEMBLES, ids=lambda e: type(e).__name__)
def test_given_splits_are_scored_as_their_splitter(classification, estimator):
    X, y = classification
    splits = list(KFold(3).split(X))
    expected = EnsemblePruner(estimator, cv=KFold(3), random_state=0).fit(X, y)
    for cv in (splits, iter(splits)):
        given = EnsemblePruner(estimator, cv=cv, random_state=0).fit(X, y)
        np.testing.assert_allclose(
            given.cv_results_["mean_test_score"],
            expected.cv_results_["mean_test_score"],
        )
        assert given.n_nodes_ == expected.n_nodes_


@pytest.mark.parametrize(
    "class_weight", [None, "balanced", "balanced_subsample", {0: 1.0, 1: 3.0, 2: 0.5}]
)
def test_leaves_are_refined_with_the_weights_the_trees_were_grown_with(
    classification, class_weight
):
    X, y = classification
    labels = np.array(["a", "b", "c"])[y]
    forest = RandomForestClassifier(
        n_estimators=2, random_state=0,
        class_weight=(
            {"a": 1.0, "b": 3.0, "c": 0.5} if isinstance(class_weight, dict)
            else class_weight
        ),
    ).fit(X, labels)
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, y.shape[0])
    # the class weights computed apart, per sample
    if class_weight is None:
        per_class = np.ones(3)
    elif isinstance(class_weight, dict):
        per_class = np.array([1.0, 3.0, 0.5])
    else:
        per_class = y.shape[0] / (3 * np.bincount(y))
    np.testing.assert_allclose(
        fitting_weights(forest, y, sample_weight), sample_weight * per_class[y]
    )


@pytest.mark.parametrize("n_standard_errors", [0.5, 1.0, 2.0])
def test_kept_budget_is_within_the_loss_by_standard_errors(n_standard_errors):
    rng = np.random.default_rng(1)
    reference = rng.uniform(0.8, 0.9, 5)
    fold_scores = (
        reference[:, None] - np.linspace(0.1, 0.0, 30) + rng.normal(0, 0.02, (5, 30))
    )
    differences = fold_scores - reference[:, None]
    smoothed = pool_adjacent_violators(differences.mean(axis=0))
    standard_errors = np.array(
        [np.std(differences[:, b], ddof=1) for b in range(30)]
    ) / np.sqrt(5)
    for loss in (0.0, 0.01, 0.05):
        index = smallest_budget_within(fold_scores, reference, loss, n_standard_errors)
        expected = next(
            (b for b in range(30)
             if smoothed[b] - n_standard_errors * standard_errors[b] >= -loss - 1e-12),
            29,
        )
        assert index == expected
        assert index >= smallest_budget_within(fold_scores, reference, loss)


@pytest.mark.parametrize("estimator", ENSEMBLES, ids=lambda e: type(e).__name__)
def test_only_a_booster_asks_a_margin_of_standard_errors(
    estimator, classification, monkeypatch
):
    X, y = classification
    margins = []

    def recording(fold_scores, reference, max_score_loss, n_standard_errors=0):
        margins.append(n_standard_errors)
        return smallest_budget_within(
            fold_scores, reference, max_score_loss, n_standard_errors
        )

    monkeypatch.setattr(_pruner, "smallest_budget_within", recording)
    pruner = EnsemblePruner(
        estimator, cv=3, max_score_loss=0.02, random_state=0
    ).fit(X, y)
    booster = isinstance(estimator, GradientBoostingClassifier)
    assert BOOSTER_STANDARD_ERRORS > 0
    assert margins == [BOOSTER_STANDARD_ERRORS if booster else 0]
    assert pruner.n_nodes_ <= pruner.n_nodes_original_
