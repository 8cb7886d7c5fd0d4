"""Tests of PrunedMLPClassifier and PrunedMLPRegressor."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skprune.neural import (
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
)
from skprune.neural import sparsity_schedule
import itertools

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = {
    "hidden_layer_sizes": (16,),
    "max_iter": 15,
    "n_pruning_steps": 3,
    "finetune_iter": 3,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=90, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=80, n_features=6, noise=1.0, random_state=0)
    return X, y / y.std()


def _fit_without_sparsity_warning(est, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        est.fit(X, y)
    assert not [w for w in record if "not reachable" in str(w.message)]
    return est


def _prunable_weights(est):
    return sum(est.masks_[layer].size for layer in est._prunable_coef_layers())


# ----------------------------------------------------------------------
# Achieved sparsity
# ----------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["oneshot", "iterative", "gradual"])
@pytest.mark.parametrize("sparsity", [0.3, 0.75])
def test_unstructured_sparsity_matches_request(multiclass, schedule, sparsity):
    X, y = multiclass
    est = PrunedMLPClassifier(sparsity=sparsity, schedule=schedule, **SMALL)
    _fit_without_sparsity_warning(est, X, y)
    n_total = _prunable_weights(est)
    # Counted independently of sparsity_: zeros of the prunable weights.
    n_zero = np.count_nonzero(est.coefs_[0] == 0)
    assert n_zero == np.floor(sparsity * n_total + 0.5)
    assert est.sparsity_ == pytest.approx(n_zero / n_total)


@pytest.mark.parametrize("schedule", ["oneshot", "gradual"])
def test_block_sparsity_nearest_with_warning(multiclass, schedule):
    X, y = multiclass
    # 8 x 16 weights in 32 blocks of 2 x 2; 0.7 * 32 = 22.4 -> 22 blocks.
    est = PrunedMLPClassifier(
        sparsity=0.7, pattern="block", block_shape=(2, 2), schedule=schedule, **SMALL
    )
    with pytest.warns(UserWarning, match=r"sparsity=0.7.*sparsity_=0.6875"):
        est.fit(X, y)
    assert est.sparsity_ == 22 / 32
    blocks = (est.coefs_[0] != 0).reshape(4, 2, 8, 2).any(axis=(1, 3))
    assert np.count_nonzero(~blocks) == 22


def test_block_exact_sparsity_does_not_warn(multiclass):
    X, y = multiclass
    est = PrunedMLPClassifier(
        sparsity=0.5, pattern="block", block_shape=(2, 2), **SMALL
    )
    _fit_without_sparsity_warning(est, X, y)
    assert est.sparsity_ == 0.5


def test_nm_sparsity_must_agree(multiclass):
    X, y = multiclass
    est = PrunedMLPClassifier(sparsity=0.5, pattern="n:m", n=2, m=4, **SMALL)
    est.fit(X, y)
    assert est.sparsity_ == 0.5
    groups = (est.coefs_[0] != 0).reshape(2, 4, 16).sum(axis=1)
    assert groups.max() <= 2
    with pytest.raises(ValueError, match="1 - n / m"):
        PrunedMLPClassifier(sparsity=0.6, pattern="n:m", **SMALL).fit(X, y)


# ----------------------------------------------------------------------
# Neuron pruning shrinks the network
# ----------------------------------------------------------------------


def test_neuron_pruning_shrinks_without_changing_predictions(multiclass):
    X, y = multiclass
    params = dict(SMALL, hidden_layer_sizes=(12, 10), sparsity=0.5, pattern="neuron")
    captured = {}

    class Recorder(PrunedMLPClassifier):
        def _shrink_hidden_layers(self):
            captured["proba"] = self.predict_proba(X)
            captured["shapes"] = [c.shape for c in self.coefs_]
            super()._shrink_hidden_layers()

    est = Recorder(**params).fit(X, y)
    assert captured["shapes"] == [(8, 12), (12, 10), (10, 3)]
    assert est.n_units_[0] == 8 and est.n_units_[-1] == 3
    assert sum(est.n_units_[1:-1]) < 22
    assert [c.shape[1] for c in est.coefs_] == est.n_units_[1:]
    assert [b.shape[0] for b in est.intercepts_] == est.n_units_[1:]
    assert [m.shape for m in est.masks_] == [c.shape for c in est.coefs_]
    assert est.hidden_layer_sizes == (12, 10)
    assert_allclose(est.predict_proba(X), captured["proba"], rtol=1e-12, atol=1e-14)
    # sparsity_ still counts against the network as built.
    assert 0.4 < est.sparsity_ < 0.6
    assert est.n_nonzero_ == sum(np.count_nonzero(c) for c in est.coefs_)

    with pytest.raises(ValueError, match="shrunk"):
        est.partial_fit(X, y)
    with pytest.raises(ValueError, match="shrunk"):
        est.set_params(warm_start=True).fit(X, y)
    # A fresh fit starts over at full size.
    est.set_params(warm_start=False, sparsity=0.0).fit(X, y)
    assert [c.shape for c in est.coefs_] == [(8, 12), (12, 10), (10, 3)]


def test_neuron_sparsity_nearest_with_warning(multiclass):
    X, y = multiclass
    # One hidden unit holds 8 prunable weights of 8 x 16; 0.7 * 16 = 11.2.
    est = PrunedMLPClassifier(sparsity=0.7, pattern="neuron", **SMALL)
    with pytest.warns(UserWarning, match=r"sparsity=0.7.*sparsity_=0.6875"):
        est.fit(X, y)
    assert est.n_units_ == [8, 5, 3]
    assert est.sparsity_ == 11 / 16


# ----------------------------------------------------------------------
# Schedules
# ----------------------------------------------------------------------


def test_sparsity_schedule_formulas():
    assert_allclose(sparsity_schedule("oneshot", 0.8, 5), [0.8])
    s, n = 0.9, 4
    iterative = sparsity_schedule("iterative", s, n)
    remaining = 1 - np.concatenate([[0.0], iterative])
    # The same fraction of the remaining weights goes at every step.
    assert_allclose(remaining[1:] / remaining[:-1], (1 - s) ** (1 / n))
    gradual = sparsity_schedule("gradual", 0.8, 5, initial_sparsity=0.2)
    expected = [0.8 + (0.2 - 0.8) * (1 - t / 5) ** 3 for t in range(1, 6)]
    assert_allclose(gradual, expected)


def test_gradual_history_follows_cubic(regression):
    X, y = regression
    n, s_f, s_i = 5, 0.8, 0.1
    est = PrunedMLPRegressor(
        **dict(SMALL, n_pruning_steps=n),
        sparsity=s_f,
        initial_sparsity=s_i,
        schedule="gradual",
    ).fit(X, y)
    history = est.pruning_history_
    assert_array_equal(history["step"], np.arange(n + 1))
    t = np.arange(1, n + 1)
    cubic = s_f + (s_i - s_f) * (1 - t / n) ** 3
    assert_allclose(history["target_sparsity"][1:], cubic)
    n_total = _prunable_weights(est)
    assert_allclose(history["sparsity"][1:], np.floor(cubic * n_total + 0.5) / n_total)
    assert history["sparsity"][0] == 0


def test_masks_only_shrink_and_final_step_trains(multiclass):
    X, y = multiclass
    masks, curve_lengths = [], []

    class Recorder(PrunedMLPClassifier):
        def prune(self, *args, **kwargs):
            curve_lengths.append(len(self.loss_curve_))
            super().prune(*args, **kwargs)
            masks.append([m.copy() for m in self.masks_])
            return self

    est = Recorder(sparsity=0.8, schedule="iterative", **SMALL).fit(X, y)
    assert len(masks) == 3
    for before, after in itertools.pairwise(masks):
        for b, a in zip(before, after):
            assert not np.any(a & ~b)
            assert np.count_nonzero(a) <= np.count_nonzero(b)
    # finetune_iter epochs were trained after every prune, the last included.
    assert curve_lengths[0] == SMALL["max_iter"]
    assert np.all(np.diff(curve_lengths) == SMALL["finetune_iter"])
    assert len(est.loss_curve_) == curve_lengths[-1] + SMALL["finetune_iter"]
    assert est.pruning_history_["n_iter"][-1] == SMALL["finetune_iter"]
    # Pruned weights are exactly zero at the end.
    for coef, mask in zip(est.coefs_, est.masks_):
        assert np.all(coef[~mask] == 0)
    assert_array_equal(masks[-1][0], est.masks_[0])


# ----------------------------------------------------------------------
# Dense limit, determinism, pickling
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pruned, dense, data",
    [
        (PrunedMLPClassifier, PrunableMLPClassifier, "multiclass"),
        (PrunedMLPRegressor, PrunableMLPRegressor, "regression"),
    ],
)
def test_zero_sparsity_is_dense_model(pruned, dense, data, request):
    X, y = request.getfixturevalue(data)
    est = pruned(hidden_layer_sizes=(16,), max_iter=15, random_state=0, sparsity=0)
    est.fit(X, y)
    ref = dense(hidden_layer_sizes=(16,), max_iter=15, random_state=0).fit(X, y)
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        assert_array_equal(a, b)
    assert est.sparsity_ == 0
    assert est.compression_ratio_ == 1.0
    assert len(est.pruning_history_["step"]) == 1


@pytest.mark.parametrize("seed", [0, 1])
def test_same_random_state_same_weights_and_pickle(multiclass, seed):
    X, y = multiclass
    params = dict(SMALL, random_state=seed, sparsity=0.6, distillation_weight=0.3)
    a = PrunedMLPClassifier(**params).fit(X, y)
    b = PrunedMLPClassifier(**params).fit(X, y)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(p, q)
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    assert restored.sparsity_ == a.sparsity_


def test_size_attributes(regression):
    X, y = regression
    est = PrunedMLPRegressor(sparsity=0.75, prunable_layers="all", **SMALL).fit(X, y)
    n_weights = 6 * 16 + 16 * 1
    n_nonzero = sum(np.count_nonzero(c) for c in est.coefs_)
    assert est.n_nonzero_ == n_nonzero
    assert est.compression_ratio_ == pytest.approx(n_weights / n_nonzero)
    assert est.theoretical_speedup_ == pytest.approx(n_weights / n_nonzero)
    assert est.compression_ratio_ > 3.5


# ----------------------------------------------------------------------
# Distillation
# ----------------------------------------------------------------------


def _finite_difference_check(est, X, y, rng):
    _, coef_grads, intercept_grads = est.loss_gradient(X, y)
    eps = 1e-6
    params = est.coefs_ + est.intercepts_
    grads = coef_grads + intercept_grads
    for param, grad in zip(params, grads):
        flat, flat_grad = param.reshape(-1), grad.reshape(-1)
        for index in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            original = flat[index]
            flat[index] = original + eps
            upper = est.loss_gradient(X, y)[0]
            flat[index] = original - eps
            lower = est.loss_gradient(X, y)[0]
            flat[index] = original
            assert flat_grad[index] == pytest.approx(
                (upper - lower) / (2 * eps), rel=1e-5, abs=1e-7
            )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_distillation_gradient_classifier(n_classes):
    X, y = make_classification(
        n_samples=30,
        n_features=5,
        n_informative=3,
        n_classes=n_classes,
        random_state=0,
    )
    params = {"hidden_layer_sizes": (7,), "activation": "tanh", "max_iter": 5}
    teacher = PrunableMLPClassifier(**params, random_state=1).fit(X, y)
    est = PrunedMLPClassifier(
        **params,
        random_state=0,
        sparsity=0,
        distillation_weight=0.4,
        temperature=3.0,
    ).fit(X, y)
    est._set_teacher(teacher.coefs_, teacher.intercepts_)
    distilled = est.loss_gradient(X, y)[0]
    assert distilled != pytest.approx(
        PrunableMLPClassifier(**params, random_state=0).fit(X, y).loss_gradient(X, y)[0]
    )
    _finite_difference_check(est, X, y, np.random.RandomState(0))


def test_distillation_gradient_multilabel():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(25, 4))
    Y = (X[:, :3] + 0.5 * rng.normal(size=(25, 3)) > 0).astype(int)
    params = {"hidden_layer_sizes": (6,), "activation": "tanh", "max_iter": 5}
    teacher = PrunableMLPClassifier(**params, random_state=1).fit(X, Y)
    est = PrunedMLPClassifier(
        **params, random_state=0, sparsity=0, distillation_weight=0.7
    ).fit(X, Y)
    est._set_teacher(teacher.coefs_, teacher.intercepts_)
    _finite_difference_check(est, X, Y, rng)


def test_distillation_gradient_regressor(regression):
    X, y = regression
    params = {"hidden_layer_sizes": (5,), "activation": "tanh", "max_iter": 5}
    teacher = PrunableMLPRegressor(**params, random_state=1).fit(X, y)
    est = PrunedMLPRegressor(
        **params, random_state=0, sparsity=0, distillation_weight=0.5
    ).fit(X, y)
    est._set_teacher(teacher.coefs_, teacher.intercepts_)
    _finite_difference_check(est, X, y, np.random.RandomState(0))


def test_distillation_loss_value_independent():
    """The distilled loss against a direct numpy computation."""
    X, y = make_classification(
        n_samples=20,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=2,
    )
    params = {"hidden_layer_sizes": (5,), "max_iter": 5, "alpha": 0.0}
    teacher = PrunableMLPClassifier(**params, random_state=1).fit(X, y)
    h, T = 0.3, 2.5
    est = PrunedMLPClassifier(
        **params, random_state=0, sparsity=0, distillation_weight=h, temperature=T
    ).fit(X, y)
    est._set_teacher(teacher.coefs_, teacher.intercepts_)

    def logits(model):
        hidden = np.maximum(X @ model.coefs_[0] + model.intercepts_[0], 0)
        return hidden @ model.coefs_[1] + model.intercepts_[1]

    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    task = -np.mean(log_softmax(logits(est))[np.arange(len(y)), y])
    log_ps, log_pt = log_softmax(logits(est) / T), log_softmax(logits(teacher) / T)
    kl = np.mean(np.sum(np.exp(log_pt) * (log_pt - log_ps), axis=1))
    expected = (1 - h) * task + h * T**2 * kl
    assert est.loss_gradient(X, y)[0] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_zero_distillation_weight_is_no_distillation(multiclass, solver):
    X, y = multiclass
    params = dict(SMALL, solver=solver, sparsity=0.5)
    a = PrunedMLPClassifier(**params, distillation_weight=0.0).fit(X, y)

    class NoTeacher(PrunedMLPClassifier):
        def _set_teacher(self, coefs, intercepts):
            raise AssertionError("no teacher should be built with h=0")

    b = NoTeacher(**params, distillation_weight=0.0).fit(X, y)
    for p, q in zip(a.coefs_, b.coefs_):
        assert_array_equal(p, q)
    c = PrunedMLPClassifier(**params, distillation_weight=0.5).fit(X, y)
    assert not all(np.array_equal(p, q) for p, q in zip(a.coefs_, c.coefs_))
    assert c.sparsity_ == a.sparsity_
    assert getattr(c, "_teacher", None) is None


# ----------------------------------------------------------------------
# Model selection and validation
# ----------------------------------------------------------------------


def test_grid_search_over_sparsity(multiclass):
    X, y = multiclass
    pipe = make_pipeline(
        StandardScaler(),
        PrunedMLPClassifier(
            hidden_layer_sizes=(8,),
            max_iter=10,
            n_pruning_steps=2,
            finetune_iter=2,
            random_state=0,
        ),
    )
    grid = {"prunedmlpclassifier__sparsity": [0.0, 0.5, 0.9]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert (
        search.best_params_["prunedmlpclassifier__sparsity"]
        in grid["prunedmlpclassifier__sparsity"]
    )
    best = search.best_estimator_[-1]
    assert best.sparsity_ == pytest.approx(best.sparsity, abs=1 / 128)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": -0.1}, "sparsity"),
        ({"n_pruning_steps": 0}, "n_pruning_steps"),
        ({"finetune_iter": 0}, "finetune_iter"),
        ({"distillation_weight": 1.5}, "distillation_weight"),
        ({"distillation_weight": -0.1}, "distillation_weight"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"schedule": "cosine"}, "schedule"),
        ({"pattern": "rows"}, "pattern"),
        ({"initial_sparsity": 0.6, "sparsity": 0.5}, "initial_sparsity"),
    ],
)
@pytest.mark.parametrize("Estimator", [PrunedMLPClassifier, PrunedMLPRegressor])
def test_invalid_parameters(Estimator, params, match):
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=match):
        Estimator(max_iter=2, **params).fit(X, y)


def test_partial_fit_keeps_masks(multiclass):
    X, y = multiclass
    est = PrunedMLPClassifier(sparsity=0.6, **SMALL).fit(X, y)
    masks = [m.copy() for m in est.masks_]
    est.partial_fit(X, y)
    for mask, coef, before in zip(est.masks_, est.coefs_, masks):
        assert_array_equal(mask, before)
        assert np.all(coef[~mask] == 0)


def test_convergence_warning_only_from_dense_phase(multiclass):
    X, y = multiclass
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        PrunedMLPClassifier(sparsity=0.5, **SMALL).fit(X, y)
    assert sum(issubclass(w.category, ConvergenceWarning) for w in record) == 1


def test_one_random_stream_for_the_whole_fit(multiclass):
    # Fine-tuning continues the random stream of the dense phase, so an int
    # seed and a fresh RandomState with that seed give the same network, and
    # fine-tuning does not replay the dense phase's first batch orders.
    X, y = multiclass
    params = {**SMALL, "sparsity": 0.5}
    with_int = PrunedMLPClassifier(**params).fit(X, y)
    with_rng = PrunedMLPClassifier(
        **{**params, "random_state": np.random.RandomState(SMALL["random_state"])}
    ).fit(X, y)
    for a, b in zip(with_int.coefs_, with_rng.coefs_):
        assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_every_fine_tuning_step_trains(multiclass, solver):
    X, y = multiclass
    # Small late steps of a long gradual schedule barely change the loss, so
    # lbfgs would stop at once on tol.
    params = {**SMALL, "max_iter": 200, "n_pruning_steps": 10}
    est = PrunedMLPClassifier(**params, solver=solver, sparsity=0.3, tol=1e-2)
    est.fit(X, y)
    assert np.all(est.pruning_history_["n_iter"][1:] == est.finetune_iter)


def test_warm_start_below_previous_sparsity_warns_about_masks(multiclass):
    X, y = multiclass
    est = PrunedMLPClassifier(**SMALL, sparsity=0.8).fit(X, y)
    with pytest.warns(UserWarning, match="warm_start"):
        est.set_params(sparsity=0.5, warm_start=True).fit(X, y)
    assert est.sparsity_ == pytest.approx(0.8, abs=1 / 128)


def _layer_sparsities(est):
    return [1 - est.masks_[layer].mean() for layer in est._prunable_coef_layers()]


def test_default_scope_is_per_layer_for_obc_and_global_for_magnitude(multiclass):
    X, y = multiclass
    params = {**SMALL, "hidden_layer_sizes": (16, 12), "sparsity": 0.8}
    obc = {"criterion": "obc", **params}
    default = PrunedMLPClassifier(**obc).fit(X, y)
    per_layer = PrunedMLPClassifier(scope="layer", **obc).fit(X, y)
    for a, b in zip(default.coefs_, per_layer.coefs_):
        assert_array_equal(a, b)
    np.testing.assert_allclose(_layer_sparsities(default), 0.8, atol=0.01)
    # Explicitly global, OBC allocates the sparsity across the layers.
    global_obc = PrunedMLPClassifier(scope="global", **obc).fit(X, y)
    assert np.ptp(_layer_sparsities(global_obc)) > 0.02
    magnitude = PrunedMLPClassifier(**params).fit(X, y)
    global_magnitude = PrunedMLPClassifier(scope="global", **params).fit(X, y)
    for a, b in zip(magnitude.coefs_, global_magnitude.coefs_):
        assert_array_equal(a, b)
    assert np.ptp(_layer_sparsities(magnitude)) > 0.02
