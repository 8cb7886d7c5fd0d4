import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skprune.neural._optimizers import AdamOptimizer, SGDOptimizer


def _problem(seed=0):
    rng = np.random.RandomState(seed)
    params = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    grads = [[rng.normal(size=p.shape) for p in params] for _ in range(5)]
    return params, grads


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_matches_momentum_formula(nesterov):
    params, grads = _problem()
    lr, mu = 0.1, 0.9
    expected = [p.copy() for p in params]
    velocities = [np.zeros_like(p) for p in params]
    optimizer = SGDOptimizer(params, lr, "constant", mu, nesterov, 0.5)
    for step in grads:
        for i, g in enumerate(step):
            velocities[i] = mu * velocities[i] - lr * g
            if nesterov:
                expected[i] = expected[i] + mu * velocities[i] - lr * g
            else:
                expected[i] = expected[i] + velocities[i]
        optimizer.update_params(params, [g.copy() for g in step])
    for p, e in zip(params, expected):
        assert_allclose(p, e, rtol=1e-12)


def test_adam_matches_kingma_ba_formula():
    params, grads = _problem()
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    expected = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    optimizer = AdamOptimizer(params, lr, b1, b2, eps)
    for t, step in enumerate(grads, start=1):
        for i, g in enumerate(step):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            # The paper's efficient form (end of its section 2): the bias
            # correction goes into the step size, eps is added to sqrt(v).
            step_size = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            expected[i] = expected[i] - step_size * m[i] / (np.sqrt(v[i]) + eps)
        optimizer.update_params(params, [g.copy() for g in step])
    for p, e in zip(params, expected):
        assert_allclose(p, e, rtol=1e-12)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: AdamOptimizer(params, 0.01, 0.9, 0.999, 1e-8),
        lambda params: SGDOptimizer(params, 0.1, "constant", 0.9, True, 0.5),
    ],
    ids=["adam", "sgd"],
)
def test_zeroed_state_and_masked_gradient_keep_a_weight_at_zero(make_optimizer):
    params, grads = _problem()
    optimizer = make_optimizer(params)
    optimizer.update_params(params, [g.copy() for g in grads[0]])
    mask = np.ones((4, 3), dtype=bool)
    mask[1, 2] = mask[3, 0] = False
    params[0] *= mask
    optimizer.zero_state(0, mask)
    for step in grads[1:]:
        optimizer.update_params(params, [step[0] * mask, step[1].copy()])
    assert_array_equal(params[0][~mask], 0.0)
    assert np.all(params[0][mask] != 0)


def test_adaptive_schedule_divides_by_five_then_stops():
    optimizer = SGDOptimizer([np.zeros(2)], 1e-5, "adaptive", 0.9, True, 0.5)
    assert not optimizer.trigger_stopping("", False)
    assert optimizer.learning_rate == pytest.approx(2e-6)
    assert not optimizer.trigger_stopping("", False)
    assert optimizer.trigger_stopping("", False)
