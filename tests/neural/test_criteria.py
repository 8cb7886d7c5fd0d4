import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

from skprune.neural import (
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PruningCriterion,
    register_criterion,
)
from skprune.neural._criteria import _CRITERIA, PruningContext


@pytest.fixture(autouse=True)
def _ignore_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture
def problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    est = PrunableMLPClassifier(
        hidden_layer_sizes=(6,), alpha=0.01, max_iter=20, random_state=0
    ).fit(X, y)
    return est, X, y


@pytest.fixture
def registry():
    saved = dict(_CRITERIA)
    yield
    _CRITERIA.clear()
    _CRITERIA.update(saved)


def _finite_difference_gradient(est, X, y, sample_weight=None, step=1e-6):
    grads = []
    for param in est.coefs_:
        grad = np.empty_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + step
            upper = est.loss_gradient(X, y, sample_weight)[0]
            param[index] = original - step
            lower = est.loss_gradient(X, y, sample_weight)[0]
            param[index] = original
            grad[index] = (upper - lower) / (2 * step)
        grads.append(grad)
    return grads


def test_taylor_scores_are_squared_gradient_times_weight(problem):
    est, X, y = problem
    sample_weight = np.linspace(0.5, 2, len(y))
    gradients = _finite_difference_gradient(est, X, y, sample_weight)
    expected = [(g * w) ** 2 for g, w in zip(gradients, est.coefs_)]
    context = PruningContext(est, *est._validate_pruning_data(X, y, sample_weight), [0])
    scores, _ = _CRITERIA["taylor"].prepare_scores(context)
    for score, reference in zip(scores, expected):
        assert_allclose(score, reference, rtol=1e-4, atol=1e-14)
    # prune removes the lowest of those scores.
    est.prune(X, y, amount=7, criterion="taylor", sample_weight=sample_weight)
    order = np.argsort(expected[0].ravel(), kind="stable")
    assert_array_equal(np.sort(np.flatnonzero(~est.masks_[0])), np.sort(order[:7]))


def test_taylor_neuron_scores_sum_over_the_unit(problem):
    est, X, y = problem
    _, coef_grads, intercept_grads = est.loss_gradient(X, y)
    unit_scores = (
        ((coef_grads[0] * est.coefs_[0]) ** 2).sum(axis=0)
        + ((coef_grads[1] * est.coefs_[1]) ** 2).sum(axis=1)
        + (intercept_grads[0] * est.intercepts_[0]) ** 2
    )
    est.prune(X, y, amount=2, criterion="taylor", pattern="neuron")
    assert_array_equal(
        np.flatnonzero(~est.intercept_masks_[0]),
        np.sort(np.argsort(unit_scores, kind="stable")[:2]),
    )


def test_movement_is_accumulated_over_steps_and_reset_by_prune(problem):
    est, X, y = problem
    lr = 0.05
    est = PrunableMLPClassifier(
        hidden_layer_sizes=(6,), solver="sgd", momentum=0.0, batch_size=len(y),
        learning_rate_init=lr, random_state=0,
    )
    est.partial_fit(X, y, classes=np.unique(y))
    est.prune(amount=0.3)
    assert all(not s.any() for s in est.movement_scores_)
    # Plain gradient descent: g_t = -(w_{t+1} - w_t) / lr, so the movement
    # -sum_t g_t w_t is recovered from the weight trajectory alone.
    expected = [np.zeros_like(c) for c in est.coefs_]
    for _ in range(5):
        before = [c.copy() for c in est.coefs_]
        est.partial_fit(X, y)
        for acc, old, new in zip(expected, before, est.coefs_):
            acc += (new - old) / lr * old
    for score, reference in zip(est.movement_scores_, expected):
        assert_allclose(score, reference, rtol=1e-6, atol=1e-12)
    masks = [m.copy() for m in est.masks_]
    est.prune(amount=5, criterion="movement")
    newly_pruned = np.flatnonzero(masks[0] & ~est.masks_[0])
    alive_scores = np.where(masks[0], expected[0], np.inf).ravel()
    assert_array_equal(
        newly_pruned, np.sort(np.argsort(alive_scores, kind="stable")[:5])
    )


def test_context_gradients_are_built_from_per_sample_factors(problem):
    est, X, y = problem
    est.prune(amount=0.3)
    sample_weight = np.linspace(0.1, 1, len(y))
    context = PruningContext(est, *est._validate_pruning_data(X, y, sample_weight), [0])
    coef_grads, _ = context.gradients()
    fisher = context.fisher_diagonal()
    for layer in range(2):
        per_sample = context.per_sample_gradients(layer)
        assert per_sample.shape == (len(y),) + est.coefs_[layer].shape
        mean = np.einsum("s,sio->io", sample_weight, per_sample) / sample_weight.sum()
        penalty = est.alpha * est.coefs_[layer] / sample_weight.sum()
        masked = (mean + penalty) * est.masks_[layer]
        assert_allclose(masked, coef_grads[layer], atol=1e-12)
        expected_fisher = (
            np.einsum("s,sio->io", sample_weight, per_sample**2) / sample_weight.sum()
        )
        assert_allclose(fisher[layer], expected_fisher, rtol=1e-10)


def test_registered_function_criterion_is_used_by_name(problem, registry):
    est, X, y = problem
    fixed = [np.arange(c.size, dtype=float)[::-1].reshape(c.shape) for c in est.coefs_]

    def reversed_index(context):
        assert context.X is not None and context.y.shape == (len(y), 3)
        return fixed

    register_criterion("reversed-index", reversed_index)
    est.prune(X, y, amount=4, criterion="reversed-index")
    assert_array_equal(np.flatnonzero(~est.masks_[0]), [26, 27, 28, 29])
    with pytest.raises(ValueError, match="already registered"):
        register_criterion("reversed-index", reversed_index)
    register_criterion("reversed-index", reversed_index, overwrite=True)


class _ShiftSurvivors(PruningCriterion):
    """Magnitude scores, and moves every surviving parameter by +1."""

    def score(self, context):
        return [np.abs(c) for c in context.coefs]

    def compensate(self, context, old_masks):
        assert len(old_masks) == 4 and all(m.all() for m in old_masks)
        return [np.ones_like(p) for p in context.coefs + context.intercepts]


def test_criterion_updates_are_applied_to_surviving_weights_only(problem):
    est, X, y = problem
    before = [c.copy() for c in est.coefs_]
    est.prune(amount=0.5, criterion=_ShiftSurvivors())
    for coef, old, mask in zip(est.coefs_, before, est.masks_):
        assert_array_equal(coef[~mask], 0.0)
        assert_allclose(coef[mask], old[mask] + 1)


@pytest.mark.parametrize(
    "scores, match",
    [
        (lambda est: [np.zeros(3)], "one weight score array per layer"),
        (lambda est: [np.full(c.shape, np.nan) for c in est.coefs_], "NaN"),
    ],
)
def test_malformed_scores_are_rejected(problem, scores, match):
    est, X, y = problem
    with pytest.raises(ValueError, match=match):
        est.prune(amount=0.1, criterion=lambda context: scores(est))


def test_taylor_on_sparse_data_matches_dense(problem):
    est, X, y = problem
    dense = pickle.loads(pickle.dumps(est)).prune(X, y, amount=0.3, criterion="taylor")
    csr = est.prune(sparse.csr_matrix(X), y, amount=0.3, criterion="taylor")
    for a, b in zip(dense.masks_, csr.masks_):
        assert_array_equal(a, b)
    context = PruningContext(csr, *csr._validate_pruning_data(X, y), [0])
    sparse_context = PruningContext(
        csr, *csr._validate_pruning_data(sparse.csr_matrix(X), y), [0]
    )
    for a, b in zip(context.fisher_diagonal(), sparse_context.fisher_diagonal()):
        assert_allclose(a, b, rtol=1e-12)


def test_taylor_pruning_of_a_multioutput_regressor():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4))
    Y = np.c_[X[:, 0] - X[:, 1], X[:, 2] * X[:, 3]]
    est = PrunableMLPRegressor(
        hidden_layer_sizes=(5,), solver="lbfgs", max_iter=50, random_state=0
    ).fit(X, Y)
    gradients = _finite_difference_gradient(est, X, Y)
    expected = (gradients[0] * est.coefs_[0]) ** 2
    est.prune(X, Y, amount=6, criterion="taylor")
    assert_array_equal(
        np.flatnonzero(~est.masks_[0]),
        np.sort(np.argsort(expected.ravel(), kind="stable")[:6]),
    )
    est.set_params(warm_start=True).fit(X, Y)
    assert_array_equal(est.coefs_[0][~est.masks_[0]], 0.0)
