import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skprune.neural import PrunableMLPClassifier


@pytest.fixture(autouse=True)
def _ignore_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def _fitted(data, seed=0, **params):
    X, y = data
    settings = dict(hidden_layer_sizes=(24, 16), max_iter=3, random_state=seed)
    settings.update(params)
    return PrunableMLPClassifier(**settings).fit(X, y)


def _brute_force_magnitude_masks(est, amount, scope, layers):
    """Sort every eligible weight by (|w|, layer, flat index), drop the k smallest."""
    masks = [m.copy() for m in est.masks_]

    def candidates(layer_subset):
        return sorted(
            (abs(float(est.coefs_[layer].flat[i])), layer, i)
            for layer in layer_subset
            for i in range(est.coefs_[layer].size)
            if est.masks_[layer].flat[i]
        )

    def count(n):
        return amount if isinstance(amount, int) else int(np.floor(amount * n + 0.5))

    groups = [layers] if scope == "global" else [[layer] for layer in layers]
    for subset in groups:
        ranked = candidates(subset)
        for _, layer, i in ranked[: count(len(ranked))]:
            masks[layer].flat[i] = False
    return masks


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("prunable_layers", ["hidden", "all", [0, 2]])
def test_magnitude_masks_equal_brute_force(data, scope, seed, prunable_layers):
    est = _fitted(data, seed, prunable_layers=prunable_layers)
    layers = est._prunable_coef_layers()
    # Coarse rounding creates many ties, which must break by layer then index.
    for coef in est.coefs_:
        coef[...] = np.round(coef, 1)
    for amount in (0.3, 0.25):
        expected = _brute_force_magnitude_masks(est, amount, scope, layers)
        est.prune(amount=amount, scope=scope)
        for mask, reference in zip(est.masks_, expected):
            assert_array_equal(mask, reference)


def test_integer_amount_is_an_exact_count(data):
    est = _fitted(data)
    expected = _brute_force_magnitude_masks(est, 777, "global", [0, 1])
    est.prune(amount=777)
    for mask, reference in zip(est.masks_, expected):
        assert_array_equal(mask, reference)
    n_pruned = sum((~est.masks_[layer]).sum() for layer in (0, 1))
    assert n_pruned == 777
    est.prune(amount=101, scope="layer")
    assert sum((~est.masks_[layer]).sum() for layer in (0, 1)) == 878


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_achieved_sparsity_matches_request(data, scope):
    est = _fitted(data)
    sizes = [est.coefs_[0].size, est.coefs_[1].size]
    est.prune(amount=0.4, scope=scope)
    if scope == "layer":
        for layer, size in enumerate(sizes):
            assert (~est.masks_[layer]).sum() == int(np.floor(0.4 * size + 0.5))
    assert est.sparsity_ == pytest.approx(0.4, abs=1 / sum(sizes))
    # A second step prunes a fraction of what remains.
    est.prune(amount=0.5, scope=scope)
    assert est.sparsity_ == pytest.approx(0.7, abs=2 / sum(sizes))
    assert est.layer_sparsity_[2] == 0.0
    assert est.layer_sparsity_[0] == pytest.approx(1 - est.masks_[0].mean())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(amount=0.3),
        dict(amount=0.3, pattern="block", block_shape=(2, 2)),
        dict(amount=0.2, pattern="neuron"),
        dict(pattern="n:m", n=3, m=4),
        dict(amount=0.3, criterion="taylor", scope="layer"),
    ],
)
def test_masks_only_shrink_and_pruned_weights_are_zero(data, kwargs):
    X, y = data
    est = _fitted(data, prunable_layers="all")
    est.prune(X, y, amount=0.2)
    for _ in range(2):
        before = [m.copy() for m in est.masks_ + est.intercept_masks_]
        est.prune(X, y, **kwargs)
        est.set_params(warm_start=True).fit(X, y)
        for old, new in zip(before, est.masks_ + est.intercept_masks_):
            assert not np.any(new & ~old)
        params = est.coefs_ + est.intercepts_
        for param, mask in zip(params, est.masks_ + est.intercept_masks_):
            assert_array_equal(param[~mask], 0.0)


@pytest.mark.parametrize("amount", [0, 0.0])
@pytest.mark.parametrize("pattern", ["unstructured", "block", "neuron"])
def test_zero_amount_changes_nothing(data, amount, pattern):
    est = _fitted(data)
    coefs = [c.copy() for c in est.coefs_]
    est.prune(amount=amount, pattern=pattern, block_shape=(4, 4))
    for coef, before in zip(est.coefs_, coefs):
        assert_array_equal(coef, before)
    assert all(mask.all() for mask in est.masks_ + est.intercept_masks_)
    assert est.sparsity_ == 0.0


@pytest.mark.parametrize("n, m", [(2, 4), (1, 3), (3, 5)])
def test_n_m_masks_keep_at_most_n_largest_in_every_group(data, n, m):
    est = _fitted(data, prunable_layers="all")
    est.prune(amount=0.2)
    before = [mask.copy() for mask in est.masks_]
    est.prune(pattern="n:m", n=n, m=m)
    for coef, mask, old in zip(est.coefs_, est.masks_, before):
        for column in range(coef.shape[1]):
            for start in range(0, coef.shape[0], m):
                rows = slice(start, start + m)
                kept, alive = mask[rows, column], old[rows, column]
                assert kept.sum() == min(n, alive.sum())
                assert not np.any(kept & ~alive)
                # The kept ones are the largest of the alive (ties to the later).
                magnitudes = np.abs(coef[rows, column])
                if kept.any() and (alive & ~kept).any():
                    assert magnitudes[kept].min() >= magnitudes[alive & ~kept].max()


@pytest.mark.parametrize("block_shape", [(4, 4), (2, 8), (1, 1)])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_block_masks_are_whole_blocks_of_lowest_sums(data, block_shape, scope):
    est = _fitted(data)
    rows, cols = block_shape
    block_scores = []
    for layer in (0, 1):
        a = np.abs(est.coefs_[layer])
        r, c = a.shape
        blocked = a.reshape(r // rows, rows, c // cols, cols)
        block_scores.append(blocked.sum(axis=(1, 3)))
    est.prune(amount=0.3, pattern="block", block_shape=block_shape, scope=scope)
    n_blocks = sum(s.size for s in block_scores)
    pruned_blocks = []
    for layer, scores in zip((0, 1), block_scores):
        mask = est.masks_[layer]
        r, c = mask.shape
        blocked = mask.reshape(r // rows, rows, c // cols, cols)
        assert np.all(blocked.all(axis=(1, 3)) | ~blocked.any(axis=(1, 3)))
        pruned = ~blocked.any(axis=(1, 3))
        pruned_blocks.append(pruned)
        if scope == "layer":
            assert pruned.sum() == int(np.floor(0.3 * scores.size + 0.5))
            assert scores[pruned].max() <= scores[~pruned].min()
    if scope == "global":
        n_pruned = sum(p.sum() for p in pruned_blocks)
        assert n_pruned == int(np.floor(0.3 * n_blocks + 0.5))
        worst_kept = min(s[~p].min() for s, p in zip(block_scores, pruned_blocks))
        best_pruned = max(
            s[p].max() for s, p in zip(block_scores, pruned_blocks) if p.any()
        )
        assert best_pruned <= worst_kept


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_neuron_pruning_removes_whole_units_of_lowest_scores(data, scope):
    X, y = data
    est = _fitted(data)
    unit_scores = [
        np.abs(est.coefs_[k - 1]).sum(axis=0)
        + np.abs(est.coefs_[k]).sum(axis=1)
        + np.abs(est.intercepts_[k - 1])
        for k in (1, 2)
    ]
    est.prune(amount=0.25, pattern="neuron", scope=scope)
    removed = []
    for k, scores in zip((1, 2), unit_scores):
        dead = ~est.intercept_masks_[k - 1]
        removed.append(dead)
        assert_array_equal(est.intercepts_[k - 1][dead], 0.0)
        if scope == "layer":
            assert dead.sum() == int(np.floor(0.25 * dead.size + 0.5))
            assert scores[dead].max() <= scores[~dead].min()
    alive = [np.ones(64, dtype=bool), ~removed[0], ~removed[1], np.ones(10, dtype=bool)]
    for layer, mask in enumerate(est.masks_):
        assert_array_equal(mask, np.outer(alive[layer], alive[layer + 1]))
    if scope == "global":
        assert sum(d.sum() for d in removed) == 10
        best_pruned = max(s[d].max() for s, d in zip(unit_scores, removed) if d.any())
        worst_kept = min(s[~d].min() for s, d in zip(unit_scores, removed))
        assert best_pruned <= worst_kept
    # Removed units stay silent through further training.
    est.set_params(warm_start=True).fit(X, y)
    hidden = np.maximum(X @ est.coefs_[0] + est.intercepts_[0], 0)
    assert_array_equal(hidden[:, removed[0]], 0.0)


def test_same_random_state_gives_identical_masks_and_weights(data):
    X, y = data

    def run():
        est = _fitted(data, seed=3)
        est.prune(X, y, amount=0.3, criterion="taylor")
        est.set_params(warm_start=True).fit(X, y)
        est.prune(amount=0.2, criterion="movement", pattern="neuron")
        est.partial_fit(X, y)
        return est

    first, second = run(), run()
    for a, b in zip(first.coefs_ + first.masks_, second.coefs_ + second.masks_):
        assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(amount=0.1, pattern="diagonal"), ValueError, "pattern"),
        (dict(amount=0.1, criterion="random"), ValueError, "criterion"),
        (dict(amount=0.1, criterion=3), TypeError, "criterion"),
        (dict(amount=1.0), ValueError, "amount"),
        (dict(amount=-0.1), ValueError, "amount"),
        (dict(amount=float("nan")), ValueError, "amount"),
        (dict(amount=10**6), ValueError, "amount"),
        (dict(amount=-1), ValueError, "amount"),
        (dict(amount=True), TypeError, "amount"),
        (dict(amount="half"), TypeError, "amount"),
        (dict(), ValueError, "amount"),
        (dict(amount=0.1, scope="network"), ValueError, "scope"),
        (dict(amount=0.1, pattern="block", block_shape=(5, 4)), ValueError, "block"),
        (dict(amount=0.1, pattern="block", block_shape=(4,)), ValueError, "block"),
        (dict(amount=0.1, pattern="block", block_shape=(0, 4)), ValueError, "block"),
        (dict(pattern="n:m", n=5, m=4), ValueError, "n must not exceed m"),
        (dict(pattern="n:m", n=0, m=4), ValueError, "n must be"),
        (dict(pattern="n:m", n=2, m=4, amount=0.5), ValueError, "amount"),
        (dict(amount=0.1, criterion="taylor"), ValueError, "needs data"),
    ],
)
def test_bad_pruning_arguments_are_named(data, kwargs, error, match):
    est = _fitted(data)
    with pytest.raises(error, match=match):
        est.prune(**kwargs)
    assert all(mask.all() for mask in est.masks_)


def test_amount_larger_than_what_remains(data):
    est = _fitted(data)
    n_prunable = est.coefs_[0].size + est.coefs_[1].size
    est.prune(amount=n_prunable - 5)
    with pytest.raises(ValueError, match="amount=6 must be between 0 and the 5"):
        est.prune(amount=6)
    est.prune(amount=5)
    assert est.sparsity_ == 1.0


# ----------------------------------------------------------------------
# Patterns as functions of the masks
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, target, groups",
    [
        ("unstructured", 1, [0, 5]),
        ("block", 0, [1]),
        ("neuron", 1, [2, 3]),
        ("n:m", 0, [7]),
    ],
)
def test_removed_returns_new_masks_and_keeps_the_given_ones(data, name, target, groups):
    from skprune.neural._patterns import resolve_pattern

    est = _fitted(data)
    pattern = resolve_pattern(name, block_shape=(4, 4), n=2, m=4)
    masks = [m.copy() for m in est.masks_]
    intercept_masks = [m.copy() for m in est.intercept_masks_]
    new_masks, new_intercept_masks = pattern.removed(
        masks, intercept_masks, target, np.array(groups)
    )
    for before, given in zip(
        est.masks_ + est.intercept_masks_, masks + intercept_masks
    ):
        assert_array_equal(before, given)
    removed = sum(int((old & ~new).sum()) for old, new in zip(masks, new_masks))
    # One weight, a 4x4 block, or a unit of the first hidden layer: its 64
    # incoming and 16 outgoing weights; group 7 of n:m has 4 live weights, 2 go.
    expected = {"unstructured": 2, "block": 16, "neuron": 2 * (64 + 16), "n:m": 1}
    assert removed == expected[name]
    bias_removed = sum(
        int((o & ~n).sum()) for o, n in zip(intercept_masks, new_intercept_masks)
    )
    assert bias_removed == (2 if name == "neuron" else 0)


@pytest.mark.parametrize("name", ["unstructured", "block"])
@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("target", [0.3, 0.75])
def test_amount_to_reaches_the_target_sparsity(data, name, scope, target):
    # Groups of equal size: one step of amount_to lands within a group of the
    # target (units differ in size, so the neuron pattern only approaches it).
    from skprune.neural._patterns import resolve_pattern

    est = _fitted(data)
    pattern = resolve_pattern(name, block_shape=(4, 4), n=2, m=4)
    layers = est._prunable_coef_layers()
    n_total = sum(est.masks_[layer].size for layer in layers)
    amount = pattern.amount_to(target, n_total, 0, scope)
    est.prune(amount=amount, pattern=name, scope=scope, block_shape=(4, 4))
    n_pruned = sum(int((~est.masks_[layer]).sum()) for layer in layers)
    group = {"unstructured": 1, "block": 16}[name]
    n_layers = 1 if scope == "global" else len(layers)
    assert abs(n_pruned - target * n_total) <= group * n_layers
    assert pattern.amount_to(n_pruned / n_total, n_total, n_pruned, scope) == 0


@pytest.mark.parametrize("seed", range(5))
def test_lowest_scores_are_the_first_of_a_stable_sort(seed):
    from skprune.neural._patterns import _lowest

    rng = np.random.RandomState(seed)
    # Few distinct values, so that the k-th score is tied across many entries.
    scores = rng.randint(0, 6, size=200).astype(np.float64)
    scores[rng.rand(200) < 0.1] = np.nan
    scores[rng.rand(200) < 0.1] = np.inf
    scores[rng.rand(200) < 0.05] = -0.0
    for k in [0, 1, 7, 50, 100, 170, 190, 199, 200, 250]:
        expected = np.sort(np.argsort(scores, kind="stable")[:k])
        assert_array_equal(_lowest(scores, k), expected)
