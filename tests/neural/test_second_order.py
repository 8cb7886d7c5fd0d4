"""OBD and OBS criteria on a trained network."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skprune.neural import OBSCriterion, PrunableMLPClassifier
from skprune.neural._fisher import fisher_inverse


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def trained(digits, seed):
    X, y = digits
    return PrunableMLPClassifier(
        hidden_layer_sizes=(32,), max_iter=200, random_state=seed
    ).fit(X, y)


def test_obd_scores_are_half_fisher_times_squared_weights(digits):
    X, y = digits
    mlp = trained(digits, 0)
    from skprune.neural._criteria import PruningContext, resolve_criterion

    context = PruningContext(mlp, X.astype(float), np.eye(10)[y], None, [0])
    scores = resolve_criterion("obd").score(context)
    per_sample = context.per_sample_gradients(0)
    fisher = (per_sample**2).mean(axis=0)
    np.testing.assert_allclose(scores[0], 0.5 * fisher * mlp.coefs_[0] ** 2, rtol=1e-10)


@pytest.mark.parametrize("criterion", ["obd", "obs"])
def test_second_order_steps_zero_the_pruned_weights_and_shrink_masks(digits, criterion):
    X, y = digits
    mlp = trained(digits, 1)
    mlp.prune(X, y, amount=0.5, criterion=criterion)
    first = [m.copy() for m in mlp.masks_]
    assert mlp.sparsity_ == pytest.approx(0.5, abs=1e-3)
    mlp.prune(X, y, amount=0.5, criterion=criterion)
    for old, new, coef in zip(first, mlp.masks_, mlp.coefs_):
        assert np.all(new <= old)
        assert np.all(coef[~new] == 0.0)
    assert mlp.sparsity_ == pytest.approx(0.75, abs=1e-3)


def test_obs_update_is_the_surgeon_step_of_its_fisher(digits):
    X, y = digits
    mlp = trained(digits, 2)
    criterion = OBSCriterion(num_grads=40, damp=1e-3, fisher_block_size=32, grad_batch_size=7)
    before = mlp.coefs_[0].copy()
    mlp.prune(X, y, amount=0.6, criterion=criterion)
    # rebuild the same Fisher from explicit per-sample gradients, independently batched
    reference = trained(digits, 2)
    from skprune.neural._criteria import PruningContext

    context = PruningContext(reference, X, np.eye(10)[y], None, [0])
    G = context.per_sample_gradients(0)[:40].reshape(40, -1)
    inverse = fisher_inverse([G], before.size, block_size=32, damp=1e-3, n_gradients=40)
    expected, _ = inverse.surgeon_step(before.ravel(), ~mlp.masks_[0].ravel())
    np.testing.assert_allclose(mlp.coefs_[0].ravel(), expected, rtol=1e-8, atol=1e-12)


def test_bad_obs_parameters_are_rejected(digits):
    X, y = digits
    mlp = trained(digits, 0)
    with pytest.raises(ValueError, match="num_grads"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(num_grads=0))
    with pytest.raises(ValueError, match="damp"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(damp=-1.0))
    with pytest.raises(ValueError, match="fisher_block_size"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(fisher_block_size=10**6))
    with pytest.raises(ValueError, match="needs data"):
        mlp.prune(amount=0.1, criterion="obs")
