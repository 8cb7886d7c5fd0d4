"""OBD and OBS criteria on a trained network."""

import copy
import itertools
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skprune.neural import OBSCriterion, PrunableMLPClassifier, PrunedMLPClassifier
from skprune.neural._criteria import PruningContext, resolve_criterion
from skprune.neural._fisher import fisher_inverse


@pytest.fixture(autouse=True)
def _ignore_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def trained(digits, seed, hidden=(32,)):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return PrunableMLPClassifier(
            hidden_layer_sizes=hidden, alpha=0.1, max_iter=100, random_state=seed
        ).fit(X, y)


def reference_inverse(mlp, X, y, layer, *, num_grads, block_size, damp, relative):
    """The layer's inverse Fisher rebuilt from explicit per-sample gradients.

    Gradients of pruned weights are zero and the weights are ordered unit by
    unit (column-major), as the criterion documents.
    """
    context = PruningContext(mlp, X, np.eye(10)[y], None, [layer])
    per_sample = context.per_sample_gradients(layer)[:num_grads] * mlp.masks_[layer]
    G = per_sample.transpose(0, 2, 1).reshape(num_grads, -1)
    if relative:
        damp = damp * (G**2).sum() / (num_grads * mlp.masks_[layer].sum())
    inverse = fisher_inverse(
        [G], G.shape[1], block_size=block_size, damp=damp, n_gradients=num_grads
    )
    return inverse, inverse.dense() if G.shape[1] <= 4000 else None


def column_major(a):
    return a.T.ravel()


def test_obd_scores_are_half_fisher_times_squared_weights(digits):
    X, y = digits
    mlp = trained(digits, 0)
    context = PruningContext(mlp, X.astype(float), np.eye(10)[y], None, [0])
    scores = resolve_criterion("obd").score(context)
    per_sample = context.per_sample_gradients(0)
    fisher = (per_sample**2).mean(axis=0)
    np.testing.assert_allclose(scores[0], 0.5 * fisher * mlp.coefs_[0] ** 2, rtol=1e-10)


def test_per_sample_gradients_equal_finite_differences_of_the_sample_loss(digits):
    X, y = digits
    X, y = X[:5], y[:5]
    mlp = PrunableMLPClassifier(
        hidden_layer_sizes=(4, 3), activation="tanh", max_iter=5, random_state=0
    ).fit(digits[0][:200], digits[1][:200])
    mlp.set_params(alpha=0.0)  # the per-sample loss carries no penalty
    context = PruningContext(mlp, X, np.eye(10)[y], None, [0, 1, 2])
    step = 1e-6
    rng = np.random.RandomState(0)
    for layer, coef in enumerate(mlp.coefs_):
        per_sample = context.per_sample_gradients(layer)
        for index in map(tuple, rng.randint(0, coef.shape, size=(6, 2))):
            for s in range(len(y)):
                original = coef[index]
                coef[index] = original + step
                upper = mlp.loss_gradient(X[s : s + 1], y[s : s + 1])[0]
                coef[index] = original - step
                lower = mlp.loss_gradient(X[s : s + 1], y[s : s + 1])[0]
                coef[index] = original
                assert per_sample[(s,) + index] == pytest.approx(
                    (upper - lower) / (2 * step), rel=1e-5, abs=1e-8
                )


@pytest.mark.parametrize("criterion", ["obd", "obs", OBSCriterion(fisher="empirical")])
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


class RecordingOBS(OBSCriterion):
    """Records the network at the start of every sub-step."""

    def score(self, context):
        self.states.append(
            (
                [m.copy() for m in context.masks],
                [c.copy() for c in context.coefs],
            )
        )
        return super().score(context)


@pytest.mark.parametrize(
    "pattern, scope",
    [
        ("unstructured", "global"),
        ("unstructured", "layer"),
        ("block", "global"),
        ("neuron", "layer"),
    ],
)
def test_every_substep_zeroes_pruned_weights_and_masks_only_shrink(
    digits, pattern, scope
):
    X, y = digits
    mlp = trained(digits, 2)
    criterion = RecordingOBS(num_grads=32, fisher_block_size=16, n_substeps=3)
    criterion.states = []
    mlp.prune(X, y, amount=0.6, criterion=criterion, pattern=pattern, scope=scope)
    states = criterion.states + [(mlp.masks_, mlp.coefs_)]
    assert len(states) == 4
    for (masks_before, _), (masks_after, coefs_after) in itertools.pairwise(states):
        for before, after, coef in zip(masks_before, masks_after, coefs_after):
            assert np.all(after <= before)
            assert np.all(coef[~after] == 0.0)
        assert sum(a.sum() for a in masks_after) < sum(b.sum() for b in masks_before)
    # the sub-steps together prune as much as one step would
    single = trained(digits, 2)
    single.prune(X, y, amount=0.6, criterion="magnitude", pattern=pattern, scope=scope)
    alive = [m.sum() for m in mlp.masks_]
    alive_single = [m.sum() for m in single.masks_]
    if scope == "layer":
        assert alive == alive_single
    else:
        assert sum(alive) == sum(alive_single)


def test_substeps_are_successive_steps_with_the_fisher_recomputed(digits):
    X, y = digits
    split = trained(digits, 3)
    criterion = RecordingOBS(num_grads=24, n_substeps=2)
    criterion.states = []
    split.prune(X, y, amount=300, criterion=criterion)
    n_weights = split.masks_[0].size
    first = n_weights - criterion.states[1][0][0].sum()
    # both sub-steps prune the same fraction of what is alive, up to rounding
    assert abs(first / n_weights - (300 - first) / (n_weights - first)) < 1 / 1000
    steps = trained(digits, 3)
    for amount in (first, 300 - first):
        steps.prune(
            X, y, amount=int(amount), criterion=OBSCriterion(num_grads=24, n_substeps=1)
        )
    for a, b in zip(split.coefs_, steps.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    for a, b in zip(split.masks_, steps.masks_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("relative", [True, False])
def test_obs_update_is_the_surgeon_step_of_its_fisher(digits, relative):
    X, y = digits
    mlp = trained(digits, 2)
    mlp.prune(amount=0.3)  # pruned weights get zero gradients
    damp = 0.05 if relative else 1e-3
    mode = "relative" if relative else "absolute"
    criterion = OBSCriterion(
        num_grads=40,
        damp=damp,
        damp_mode=mode,
        fisher_block_size=32,
        grad_batch_size=7,
        n_substeps=1,
        fisher="empirical",
    )
    before = mlp.coefs_[0].copy()
    _, dense = reference_inverse(
        mlp, X, y, 0, num_grads=40, block_size=32, damp=damp, relative=relative
    )
    w = column_major(before)
    alive = column_major(mlp.masks_[0])
    expected_scores = np.where(alive, w**2 / (2 * np.diag(dense)), 0.0)
    mlp.prune(X, y, amount=0.5, criterion=criterion, scope="layer")
    kept = column_major(mlp.masks_[0])
    # the removed weights are the lowest-saliency half of the alive ones
    assert expected_scores[alive & ~kept].max() <= expected_scores[kept].min()
    # the update is the constrained minimiser of the quadratic model
    remove = ~kept
    keep = kept
    expected = np.zeros_like(w)
    H = np.linalg.inv(dense)
    expected[keep] = w[keep] + np.linalg.solve(
        H[np.ix_(keep, keep)], H[np.ix_(keep, remove)] @ w[remove]
    )
    np.testing.assert_allclose(column_major(mlp.coefs_[0]), expected, atol=1e-9)


def test_obs_block_scores_are_joint_group_saliencies(digits):
    X, y = digits
    mlp = trained(digits, 4)
    _, dense = reference_inverse(
        mlp, X, y, 0, num_grads=30, block_size=24, damp=0.1, relative=True
    )
    criterion = OBSCriterion(
        num_grads=30, fisher_block_size=24, n_substeps=1, fisher="empirical"
    )
    context = PruningContext(
        mlp, *mlp._validate_pruning_data(X, y), mlp._prunable_coef_layers()
    )
    from skprune.neural._patterns import resolve_pattern

    pattern = resolve_pattern("block", block_shape=(4, 2), n=2, m=4)
    scores = criterion.group_scores(
        context, pattern, 0, *criterion.prepare_scores(context)
    )
    fan_in, fan_out = mlp.coefs_[0].shape
    w = column_major(mlp.coefs_[0])
    for group in (0, 7, 100, scores.size - 1):
        r, c = divmod(group, fan_out // 2)
        rows = np.arange(4 * r, 4 * r + 4)
        cols = np.arange(2 * c, 2 * c + 2)
        members = (cols[:, None] * fan_in + rows[None, :]).ravel()
        sub = dense[np.ix_(members, members)]
        expected = 0.5 * w[members] @ np.linalg.solve(sub, w[members])
        assert scores[group] == pytest.approx(expected, rel=1e-9)
    mlp.prune(
        X, y, amount=0.4, criterion=criterion, pattern="block", block_shape=(4, 2)
    )
    removed = ~mlp.masks_[0].reshape(fan_in // 4, 4, fan_out // 2, 2).any(axis=(1, 3))
    assert scores[removed.ravel()].max() <= scores[~removed.ravel()].min()
    assert np.all(mlp.coefs_[0][~mlp.masks_[0]] == 0.0)


def test_obs_neuron_scores_sum_both_layers(digits):
    X, y = digits
    mlp = trained(digits, 5)
    kwargs = {"num_grads": 20, "damp": 0.1, "relative": True}
    _, incoming = reference_inverse(mlp, X, y, 0, block_size=16, **kwargs)
    _, outgoing = reference_inverse(mlp, X, y, 1, block_size=16, **kwargs)
    criterion = OBSCriterion(num_grads=20, fisher_block_size=16, fisher="empirical")
    context = PruningContext(mlp, *mlp._validate_pruning_data(X, y), [0])
    from skprune.neural._patterns import resolve_pattern

    pattern = resolve_pattern("neuron", block_shape=(1, 1), n=1, m=1)
    scores = criterion.group_scores(
        context, pattern, 1, *criterion.prepare_scores(context)
    )
    fan_in, n_units = mlp.coefs_[0].shape
    n_out = mlp.coefs_[1].shape[1]
    w_in, w_out = column_major(mlp.coefs_[0]), column_major(mlp.coefs_[1])
    for unit in range(n_units):
        into = unit * fan_in + np.arange(fan_in)
        out = np.arange(n_out) * n_units + unit
        expected = 0.5 * w_in[into] @ np.linalg.solve(
            incoming[np.ix_(into, into)], w_in[into]
        ) + 0.5 * w_out[out] @ np.linalg.solve(outgoing[np.ix_(out, out)], w_out[out])
        assert scores[unit] == pytest.approx(expected, rel=1e-9)


def test_obs_nm_removes_the_best_subset_of_every_group(digits):
    X, y = digits
    mlp = trained(digits, 6)
    mlp.prune(amount=0.2)  # some groups start with pruned weights
    _, dense = reference_inverse(
        mlp, X, y, 0, num_grads=25, block_size=8, damp=0.1, relative=True
    )
    w = column_major(mlp.coefs_[0])
    alive = column_major(mlp.masks_[0])
    fan_in, fan_out = mlp.coefs_[0].shape
    mlp.prune(
        X,
        y,
        criterion=OBSCriterion(num_grads=25, fisher_block_size=8, fisher="empirical"),
        pattern="n:m",
        n=2,
        m=4,
    )
    kept = column_major(mlp.masks_[0])
    n_checked = 0
    for unit in (0, 5, fan_out - 1):
        for start in range(0, fan_in, 4):
            group = unit * fan_in + np.arange(start, start + 4)
            if alive[group].sum() <= 2:
                np.testing.assert_array_equal(kept[group], alive[group])
                continue
            dead = set(group[~alive[group]])
            best, best_set = np.inf, None
            for subset in itertools.combinations(group, 2):
                if not dead <= set(subset):
                    continue
                q = list(subset)
                value = 0.5 * w[q] @ np.linalg.solve(dense[np.ix_(q, q)], w[q])
                if value < best:
                    best, best_set = value, set(q) - dead
            assert set(group[alive[group] & ~kept[group]]) == best_set
            n_checked += 1
    assert n_checked > 20


def test_bad_obs_parameters_are_rejected(digits):
    X, y = digits
    mlp = trained(digits, 0)
    with pytest.raises(ValueError, match="num_grads"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(num_grads=0))
    with pytest.raises(ValueError, match="damp"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(damp=-1.0))
    with pytest.raises(ValueError, match="damp_mode"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(damp_mode="scaled"))
    with pytest.raises(ValueError, match="fisher"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(fisher="true"))
    with pytest.raises(ValueError, match="n_substeps"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(n_substeps=0))
    with pytest.raises(ValueError, match="fisher_block_size"):
        mlp.prune(
            X,
            y,
            amount=0.1,
            criterion=OBSCriterion(fisher_block_size=10**6, fisher="empirical"),
        )
    with pytest.raises(ValueError, match="'damp' parameter of OBSCriterion"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(damp=np.inf))
    with pytest.raises(ValueError, match="'fisher_block_size' parameter of OBS"):
        mlp.prune(X, y, amount=0.1, criterion=OBSCriterion(fisher_block_size=0))
    criterion = OBSCriterion()
    assert set(criterion._parameter_constraints) == set(criterion.get_params())
    with pytest.raises(ValueError, match="needs data"):
        mlp.prune(amount=0.1, criterion="obs")
    assert mlp.sparsity_ == 0.0
    # the whole layer in low-rank form is allowed whatever its size
    mlp.prune(
        X,
        y,
        amount=0.1,
        criterion=OBSCriterion(fisher_block_size=None, fisher="empirical"),
    )
    assert mlp.sparsity_ == pytest.approx(0.1, abs=1e-3)


@pytest.mark.parametrize("criterion", ["obd", "obs"])
def test_nan_gradients_raise_instead_of_a_nan_mask(digits, criterion):
    X, y = digits
    mlp = trained(digits, 0)
    mlp.coefs_[1][0, 0] = np.nan
    masks = [m.copy() for m in mlp.masks_]
    with pytest.raises(ValueError, match="NaN"):
        mlp.prune(X, y, amount=0.5, criterion=criterion)
    for before, after in zip(masks, mlp.masks_):
        np.testing.assert_array_equal(before, after)


def test_pruned_classifier_with_obs_clones_and_searches(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    params = {
        "hidden_layer_sizes": (24,),
        "max_iter": 40,
        "n_pruning_steps": 2,
        "finetune_iter": 3,
        "sparsity": 0.7,
        "random_state": 0,
    }
    by_name = PrunedMLPClassifier(criterion="obs", **params).fit(X, y)
    criterion = OBSCriterion(num_grads=32, damp=0.05, fisher_block_size=24)
    by_instance = PrunedMLPClassifier(criterion=criterion, **params)
    cloned = clone(by_instance)
    assert cloned.criterion is not criterion
    assert cloned.criterion.get_params() == criterion.get_params()
    cloned.fit(X, y)
    for model in (by_name, cloned):
        assert model.sparsity_ == pytest.approx(0.7, abs=1e-3)
        assert np.all(model.coefs_[0][~model.masks_[0]] == 0.0)
    search = GridSearchCV(by_instance, {"criterion__damp": [0.01, 1.0]}, cv=2).fit(X, y)
    assert search.best_params_["criterion__damp"] in (0.01, 1.0)
    assert (
        search.best_estimator_.criterion.damp == search.best_params_["criterion__damp"]
    )
    assert criterion.damp == 0.05  # the user's instance is left alone
    # The repr of a scikit-learn estimator: the parameters that differ from
    # their defaults.
    assert repr(criterion) == (
        "OBSCriterion(damp=0.05, fisher_block_size=24, num_grads=32)"
    )
    with pytest.raises(ValueError, match="Invalid parameter 'dump'"):
        criterion.set_params(dump=0.1)


def reference_kronecker_fisher(mlp, X, y, layer, *, num_grads, damp):
    """The layer's damped Kronecker-factored Fisher from explicit factors.

    ``diag(E[delta_j ** 2]) (x) E[x x^T]`` over the first ``num_grads``
    samples (numpy.kron gives it unit by unit), with the rows and columns of
    pruned weights zeroed, plus ``damp`` times the mean kept diagonal.
    """
    context = PruningContext(mlp, X[:num_grads], np.eye(10)[y[:num_grads]], None, [])
    inputs, deltas = context.layer_inputs_and_deltas()
    x, delta = inputs[layer], deltas[layer]
    fisher = np.kron(np.diag((delta**2).mean(axis=0)), x.T @ x / num_grads)
    kept = column_major(mlp.masks_[layer]).astype(np.float64)
    fisher *= np.outer(kept, kept)
    damp = damp * np.trace(fisher) / kept.sum()
    return fisher + damp * np.eye(kept.size)


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_kfac_update_is_the_surgeon_step_of_its_fisher(digits, scope):
    X, y = digits
    mlp = trained(digits, 2, hidden=(12,)).set_params(prunable_layers="all")
    mlp.prune(amount=0.3)  # pruned weights are left out of the Fisher
    fishers = [
        reference_kronecker_fisher(mlp, X, y, layer, num_grads=100, damp=0.05)
        for layer in (0, 1)
    ]
    weights = [column_major(coef) for coef in mlp.coefs_]
    alive = [column_major(mask) for mask in mlp.masks_]
    scores = [
        np.where(a, w**2 / (2 * np.diag(np.linalg.inv(F))), 0.0)
        for w, a, F in zip(weights, alive, fishers)
    ]
    criterion = OBSCriterion(num_grads=100, damp=0.05, n_substeps=1)
    mlp.prune(X, y, amount=0.5, criterion=criterion, scope=scope)
    kept = [column_major(mask) for mask in mlp.masks_]
    if scope == "global":  # one threshold on saliencies in loss units
        scores, alive, kept = (np.concatenate(a) for a in (scores, alive, kept))
        scores, alive, kept = [scores], [alive], [kept]
    for score, a, k in zip(scores, alive, kept):
        assert score[a & ~k].max() <= score[k].min()
    for layer, F in enumerate(fishers):
        w, keep = weights[layer], column_major(mlp.masks_[layer])
        remove = ~keep
        expected = np.zeros_like(w)
        expected[keep] = w[keep] + np.linalg.solve(
            F[np.ix_(keep, keep)], F[np.ix_(keep, remove)] @ w[remove]
        )
        np.testing.assert_allclose(
            column_major(mlp.coefs_[layer]), expected, rtol=1e-8, atol=1e-10
        )


def test_kfac_blocks_ignore_the_block_size_and_do_not_need_a_seed(digits):
    X, y = digits
    base = trained(digits, 0)
    results = []
    for block_size in (64, 48, None):
        mlp = copy.deepcopy(base)
        criterion = OBSCriterion(fisher_block_size=block_size)
        mlp.prune(X, y, amount=0.6, criterion=criterion)
        results.append(mlp.coefs_)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
