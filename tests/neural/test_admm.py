"""Layer-wise pruning by ADMM: the support, the exact re-fit, the criterion."""

import copy
import functools
import itertools
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skprune.neural import ADMMCriterion, PrunedMLPClassifier
from skprune.neural._admm import (
    admm_prune,
    admm_support,
    largest_entries,
    largest_of_groups,
)
from skprune.neural._criteria import PruningContext
from skprune.neural._patterns import NMPattern


def layer_problem(seed, n_samples=40, n_inputs=7, n_units=3, damp=0.05):
    """Inputs with a column of ones, targets, anchors and the normal equations.

    The targets are not the anchors' outputs, as in a layer after a pruned
    one.
    """
    rng = np.random.RandomState(seed)
    A = np.hstack([rng.normal(size=(n_samples, n_inputs)), np.ones((n_samples, 1))])
    anchor = rng.normal(size=(n_inputs + 1, n_units))
    target = A @ anchor + 0.3 * rng.normal(size=(n_samples, n_units))
    lam = damp * np.mean(np.sum(A**2, axis=0))
    gram = A.T @ A + lam * np.eye(n_inputs + 1)
    rhs = A.T @ target + lam * anchor
    return A, target, anchor, lam, gram, rhs


def lstsq_on_support(A, t, anchor, keep, lam):
    """argmin ||A v - t||^2 + lam ||v - anchor||^2 over v zero outside ``keep``."""
    k = np.flatnonzero(keep)
    design = np.vstack([A[:, k], np.sqrt(lam) * np.eye(k.size)])
    v = np.zeros(A.shape[1])
    v[k] = np.linalg.lstsq(
        design, np.concatenate([t, np.sqrt(lam) * anchor[k]]), rcond=None
    )[0]
    return v


def objective(A, target, anchor, lam, weights):
    return np.sum((A @ weights - target) ** 2) + lam * np.sum((weights - anchor) ** 2)


def magnitude_refit(A, target, anchor, lam, n_keep):
    """The largest ``n_keep`` anchors over the layer (not the bias), re-fitted."""
    scores = np.abs(anchor[:-1]).ravel()
    keep = np.zeros(anchor.shape, dtype=bool)
    keep[:-1].flat[np.argsort(-scores, kind="stable")[:n_keep]] = True
    keep[-1] = True
    return np.column_stack(
        [
            lstsq_on_support(A, target[:, j], anchor[:, j], keep[:, j], lam)
            for j in range(anchor.shape[1])
        ]
    )


def default_admm(gram, rhs, weights, keep, n_remove):
    return admm_prune(
        gram, rhs, weights, keep,
        functools.partial(largest_entries, n_remove=n_remove),
        rho=0.01, rho_growth=1.15, max_iter=300,
    )


# ----------------------------------------------------------------------------
# One layer
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_admm_prune_removes_the_count_and_refits_by_least_squares(seed):
    A, target, anchor, lam, gram, rhs = layer_problem(seed)
    keep = np.ones(anchor.shape, dtype=bool)
    keep[2, 1] = False
    keep[-1, 2] = False
    start = np.where(keep, anchor, 0.0)
    weights, support = default_admm(gram, rhs, start, keep, 9)
    assert (~support[:-1]).sum() == 9 + 1
    np.testing.assert_array_equal(support[-1], keep[-1])
    assert not (support & ~keep).any()
    for j in range(anchor.shape[1]):
        expected = lstsq_on_support(A, target[:, j], anchor[:, j], support[:, j], lam)
        np.testing.assert_allclose(weights[:, j], expected, rtol=1e-8, atol=1e-10)


def test_admm_prune_without_removals_returns_its_start():
    _, _, anchor, _, gram, rhs = layer_problem(0)
    keep = np.ones(anchor.shape, dtype=bool)
    weights, support = default_admm(gram, rhs, anchor, keep, 0)
    assert weights is anchor and support is keep


def test_admm_prune_is_never_worse_than_magnitude_with_refit_and_mostly_better():
    n_problems, n_better = 8, 0
    for seed in range(n_problems):
        A, target, anchor, lam, gram, rhs = layer_problem(seed, n_units=4)
        n_remove = 20
        keep = np.ones(anchor.shape, dtype=bool)
        weights, _ = default_admm(gram, rhs, anchor, keep, n_remove)
        n_keep = anchor[:-1].size - n_remove
        got = objective(A, target, anchor, lam, weights)
        reference = objective(
            A, target, anchor, lam, magnitude_refit(A, target, anchor, lam, n_keep)
        )
        assert got <= reference * (1 + 1e-10)
        n_better += got < reference * (1 - 1e-9)
    assert n_better >= n_problems // 2


def test_admm_support_is_better_than_magnitude_and_often_optimal():
    # Brute force over every support of one unit of 8 inputs keeping 3:
    # ADMM alone (without the comparison with its start) beats magnitude
    # with re-fit on most problems and finds the best support on many.
    better = optimal = 0
    n_problems = 20
    for seed in range(n_problems):
        A, target, anchor, lam, gram, rhs = layer_problem(
            seed, n_samples=30, n_inputs=8, n_units=1
        )
        # Correlated inputs, where magnitude is a poor guide.
        A[:, :8] = A[:, :8] @ np.random.RandomState(seed).normal(size=(8, 8))
        lam = 0.01 * np.mean(np.sum(A**2, axis=0))
        gram = A.T @ A + lam * np.eye(9)
        rhs = A.T @ target + lam * anchor
        keep = np.ones(anchor.shape, dtype=bool)
        support, _ = admm_support(
            gram, rhs, anchor, largest_entries(keep, 5), 0.01, 1.15, 300
        )
        v = lstsq_on_support(A, target[:, 0], anchor[:, 0], support[:, 0], lam)
        got = objective(A, target[:, 0], anchor[:, 0], lam, v)
        magnitude = objective(
            A, target[:, 0], anchor[:, 0], lam,
            magnitude_refit(A, target, anchor, lam, 3)[:, 0],
        )
        best = min(
            objective(
                A, target[:, 0], anchor[:, 0], lam,
                lstsq_on_support(
                    A, target[:, 0], anchor[:, 0],
                    np.isin(np.arange(9), list(kept) + [8]), lam,
                ),
            )
            for kept in itertools.combinations(range(8), 3)
        )
        better += got < magnitude * (1 - 1e-9)
        optimal += got <= best * (1 + 1e-9)
    assert better >= n_problems // 2
    assert optimal >= n_problems // 2


def test_admm_onto_n_m_keeps_the_pattern_and_beats_magnitude_with_refit():
    # 10 inputs in groups of 4, 4 and 2, one of them already pruned: at
    # most one weight kept per group and unit, re-fitted by least squares,
    # never worse than the largest anchor of every group re-fitted.
    pattern = NMPattern(1, 4)
    n_better = 0
    for seed in range(6):
        A, target, anchor, lam, gram, rhs = layer_problem(seed, n_inputs=10)
        keep = np.ones(anchor.shape, dtype=bool)
        keep[1, 0] = False
        start = np.where(keep, anchor, 0.0)
        weights, support = admm_prune(
            gram,
            rhs,
            start,
            keep,
            functools.partial(largest_of_groups, pattern=pattern),
            0.01,
            1.15,
            300,
        )
        assert not (support & ~keep).any() and support[-1].all()
        padded = np.vstack([support[:-1], np.zeros((2, 3), dtype=bool)])
        np.testing.assert_array_equal(padded.reshape(3, 4, 3).sum(axis=1), 1)
        reference = keep.copy()
        for group in (range(0, 4), range(4, 8), range(8, 10)):
            rows = np.array(group)
            magnitude = np.where(keep[rows], np.abs(anchor[rows]), -1.0)
            reference[rows] &= magnitude == magnitude.max(axis=0)
        for j in range(3):
            expected = lstsq_on_support(
                A, target[:, j], anchor[:, j], support[:, j], lam
            )
            np.testing.assert_allclose(weights[:, j], expected, rtol=1e-8, atol=1e-10)
        refitted = np.column_stack(
            [
                lstsq_on_support(A, target[:, j], anchor[:, j], reference[:, j], lam)
                for j in range(3)
            ]
        )
        got = objective(A, target, anchor, lam, weights)
        magnitude = objective(A, target, anchor, lam, refitted)
        assert got <= magnitude * (1 + 1e-10)
        n_better += got < magnitude * (1 - 1e-9)
    assert n_better >= 3


def test_admm_support_stops_once_stable_and_more_iterations_keep_it():
    _, _, anchor, _, gram, rhs = layer_problem(3, n_inputs=20, n_units=5)
    project = largest_entries(np.ones(anchor.shape, dtype=bool), 70)
    support, n_iter = admm_support(gram, rhs, anchor, project, 0.01, 1.15, 300)
    assert n_iter < 300
    assert support[:-1].sum() == 30 and support[-1].all()
    again, _ = admm_support(gram, rhs, anchor, project, 0.01, 1.15, 1000)
    np.testing.assert_array_equal(support, again)
    _, n_slow = admm_support(gram, rhs, anchor, project, 0.01, 1.05, 300)
    assert n_slow > n_iter
    _, n_capped = admm_support(gram, rhs, anchor, project, 0.01, 1.05, 4)
    assert n_capped == 4


# ----------------------------------------------------------------------------
# The criterion
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, amount, scope",
    [
        ("unstructured", 0.7, "layer"),
        ("unstructured", 0.7, "global"),
        ("n:m", None, "global"),
    ],
)
def test_admm_prunes_each_layer_on_pruned_inputs_by_least_squares(
    network, three_classes, pattern, amount, scope
):
    # Every layer, the output one too, keeps the least-squares fit to the
    # outputs it had before the step on the inputs of the pruned layers
    # before it, damped towards its weights before the step.
    X, y = three_classes
    damp = 0.05
    criterion = ADMMCriterion(damp=damp, num_samples=None)
    mlp = copy.deepcopy(network).prune(
        X, y, amount=amount, criterion=criterion, pattern=pattern, scope=scope,
        n=1, m=4,
    )
    reference = copy.deepcopy(network).prune(
        amount=amount, criterion="magnitude", pattern=pattern, scope=scope, n=1, m=4
    )
    for got, expected in zip(mlp.masks_, reference.masks_):
        assert got.sum() == expected.sum()
    if pattern == "n:m":
        for mask in mlp.masks_[:2]:
            assert (mask[:8].reshape(2, 4, -1).sum(axis=1) <= 1).all()
    dense_input = pruned_input = X
    for i in range(len(network.coefs_)):
        dense_output = dense_input @ network.coefs_[i] + network.intercepts_[i]
        A = np.hstack([pruned_input, np.ones((X.shape[0], 1))])
        lam = damp * np.mean(np.sum(A**2, axis=0))
        anchor = np.vstack([network.coefs_[i], network.intercepts_[i]])
        got = np.vstack([mlp.coefs_[i], mlp.intercepts_[i]])
        keep = np.vstack([mlp.masks_[i], mlp.intercept_masks_[i]])
        for unit in range(anchor.shape[1]):
            expected = lstsq_on_support(
                A, dense_output[:, unit], anchor[:, unit], keep[:, unit], lam
            )
            np.testing.assert_allclose(got[:, unit], expected, rtol=1e-6, atol=1e-8)
        pruned_input = np.maximum(A[:, :-1] @ mlp.coefs_[i] + mlp.intercepts_[i], 0)
        dense_input = np.maximum(dense_output, 0)


def test_admm_is_registered_under_its_name(network, three_classes):
    X, y = three_classes
    by_name = copy.deepcopy(network).prune(X, y, amount=0.6, criterion="admm")
    by_object = copy.deepcopy(network).prune(
        X, y, amount=0.6, criterion=ADMMCriterion()
    )
    for a, b in zip(
        by_name.coefs_ + by_name.masks_, by_object.coefs_ + by_object.masks_
    ):
        np.testing.assert_array_equal(a, b)
    magnitude = copy.deepcopy(network).prune(amount=0.6)
    assert any((a != b).any() for a, b in zip(by_name.masks_, magnitude.masks_))


@pytest.mark.parametrize("pattern", ["block", "neuron"])
def test_admm_refuses_blocks_and_hidden_units(network, three_classes, pattern):
    X, y = three_classes
    mlp = copy.deepcopy(network)
    with pytest.raises(
        ValueError, match="'admm' criterion supports pattern='unstructured' and 'n:m'"
    ):
        mlp.prune(
            X, y, amount=0.5, criterion="admm", pattern=pattern, block_shape=(2, 2)
        )
    assert all(mask.all() for mask in mlp.masks_)


def test_admm_scores_only_inside_prune(network, three_classes):
    X, y = three_classes
    context = PruningContext(
        network, X, np.eye(3)[y], None, network._prunable_coef_layers()
    )
    with pytest.raises(ValueError, match="runs inside prune"):
        ADMMCriterion().score(context)


def test_pruned_estimators_prune_globally_with_admm_unless_told(three_classes):
    # Its fine-tuning scope is the default "global": the estimators' scope
    # None gives the same network as scope="global", not as "layer".
    X, y = three_classes
    params = dict(
        hidden_layer_sizes=(12, 10), max_iter=30, sparsity=0.8, criterion="admm",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = PrunedMLPClassifier(**params).fit(X, y)
        by_scope = {
            scope: PrunedMLPClassifier(scope=scope, **params).fit(X, y)
            for scope in ("global", "layer")
        }
    assert ADMMCriterion().finetuning_scope == "global"
    for a, b in zip(default.coefs_, by_scope["global"].coefs_):
        np.testing.assert_array_equal(a, b)
    assert any(
        (a != b).any() for a, b in zip(default.masks_, by_scope["layer"].masks_)
    )
    assert default.sparsity_ == pytest.approx(0.8, abs=0.01)
