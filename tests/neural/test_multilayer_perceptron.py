import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.datasets import load_breast_cancer, load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from skprune.neural import PrunableMLPClassifier, PrunableMLPRegressor


@pytest.fixture(autouse=True)
def _ignore_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def _all_digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ----------------------------------------------------------------------
# Gradients against central finite differences of an independent objective
# ----------------------------------------------------------------------

_HIDDEN = {
    "identity": lambda z: z,
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
}


def _reference_objective(
    coefs, intercepts, X, Y, sample_weight, activation, kind, alpha
):
    a = X
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        a = _HIDDEN[activation](a @ W + b)
    z = a @ coefs[-1] + intercepts[-1]
    if kind == "squared_error":
        per_sample = 0.5 * ((Y - z) ** 2).mean(axis=1)
    elif kind == "poisson":
        mu = np.exp(z)
        per_sample = (Y * np.log(np.where(Y > 0, Y, 1) / mu) - Y + mu).sum(axis=1)
    elif kind == "multiclass":
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        per_sample = -(Y * log_p).sum(axis=1)
    else:
        p = 1 / (1 + np.exp(-z))
        per_sample = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    weight_sum = sample_weight.sum()
    penalty = 0.5 * alpha * sum((W**2).sum() for W in coefs) / weight_sum
    return (sample_weight * per_sample).sum() / weight_sum + penalty


def _gradient_problem(kind, activation, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(12, 4))
    alpha = 0.3
    common = dict(
        hidden_layer_sizes=(5, 3),
        activation=activation,
        alpha=alpha,
        max_iter=2,
        random_state=seed,
    )
    if kind == "squared_error":
        y = rng.normal(size=(12, 2))
        est, Y = PrunableMLPRegressor(**common), y
    elif kind == "poisson":
        y = rng.poisson(2.0, size=12).astype(float)
        est, Y = PrunableMLPRegressor(loss="poisson", **common), y[:, None]
    elif kind == "binary":
        y = rng.randint(2, size=12)
        est, Y = PrunableMLPClassifier(**common), y[:, None].astype(float)
    elif kind == "multiclass":
        y = rng.randint(3, size=12)
        est, Y = PrunableMLPClassifier(**common), np.eye(3)[y]
    else:
        y = rng.randint(2, size=(12, 3))
        est, Y = PrunableMLPClassifier(**common), y.astype(float)
    est.fit(X, y)
    sample_weight = rng.uniform(0.5, 2.0, size=12)
    return est, X, y, Y, sample_weight, alpha


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize(
    "kind", ["squared_error", "poisson", "binary", "multiclass", "multilabel"]
)
def test_gradient_matches_central_finite_differences(kind, activation):
    est, X, y, Y, sample_weight, alpha = _gradient_problem(kind, activation)
    loss_kind = "binary" if kind == "multilabel" else kind
    coefs = [c.copy() for c in est.coefs_]
    intercepts = [b.copy() for b in est.intercepts_]

    def objective():
        return _reference_objective(
            coefs, intercepts, X, Y, sample_weight, activation, loss_kind, alpha
        )

    loss, coef_grads, intercept_grads = est.loss_gradient(X, y, sample_weight)
    assert loss == pytest.approx(objective(), rel=1e-10)

    step = 1e-6
    for params, grads in ((coefs, coef_grads), (intercepts, intercept_grads)):
        for param, grad in zip(params, grads):
            numeric = np.empty_like(param)
            for index in np.ndindex(param.shape):
                original = param[index]
                param[index] = original + step
                upper = objective()
                param[index] = original - step
                lower = objective()
                param[index] = original
                numeric[index] = (upper - lower) / (2 * step)
            assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


# ----------------------------------------------------------------------
# Same behaviour as scikit-learn's perceptrons
# ----------------------------------------------------------------------

SKLEARN_EQUIVALENCE_CASES = [
    ("adam", {}),
    ("adam", {"early_stopping": True, "n_iter_no_change": 3}),
    ("adam", {"batch_size": 64, "shuffle": False}),
    ("sgd", {"learning_rate": "adaptive", "n_iter_no_change": 2}),
    ("sgd", {"learning_rate": "invscaling", "nesterovs_momentum": False}),
    ("lbfgs", {"max_iter": 15}),
]


@pytest.mark.parametrize("solver, params", SKLEARN_EQUIVALENCE_CASES)
def test_classifier_trains_like_sklearn(solver, params):
    X, y = _digits()
    settings = dict(hidden_layer_sizes=(20,), solver=solver, max_iter=8, random_state=0)
    settings.update(params)
    ours = PrunableMLPClassifier(**settings).fit(X, y)
    theirs = MLPClassifier(**settings).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    for mine, reference in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_
    ):
        assert_allclose(mine, reference, rtol=1e-7, atol=1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-7)
    if solver != "lbfgs":
        assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-7)
        assert ours.t_ == theirs.t_
        assert ours.best_loss_ == (
            None if theirs.best_loss_ is None else pytest.approx(theirs.best_loss_)
        )
        if params.get("early_stopping"):
            assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6)


@pytest.mark.parametrize(
    "loss, n_targets, solver", [("squared_error", 1, "adam"), ("poisson", 1, "sgd")]
)
def test_regressor_trains_like_sklearn(loss, n_targets, solver):
    X, y = make_regression(200, 6, n_targets=n_targets, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    if loss == "poisson":
        y = np.random.RandomState(0).poisson(np.exp(X[:, 0] / 2))
    else:
        y = y / y.std()
    sample_weight = np.random.RandomState(1).uniform(0.5, 2, size=200)
    settings = dict(
        loss=loss, hidden_layer_sizes=(10,), solver=solver, max_iter=10,
        learning_rate_init=0.01, random_state=0,
    )
    ours = PrunableMLPRegressor(**settings).fit(X, y, sample_weight=sample_weight)
    theirs = MLPRegressor(**settings).fit(X, y, sample_weight=sample_weight)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-7)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)


def test_multioutput_regression_scores_like_sklearn():
    # Only the scale of the multi-output gradient differs (see the Notes of
    # PrunableMLPRegressor), which Adam nearly ignores.
    X, Y = make_regression(300, 6, n_targets=3, noise=1.0, random_state=0)
    Y = Y / Y.std(axis=0)
    settings = dict(hidden_layer_sizes=(16,), max_iter=40, random_state=0)
    ours = PrunableMLPRegressor(**settings).fit(X, Y)
    theirs = MLPRegressor(**settings).fit(X, Y)
    assert ours.predict(X).shape == (300, 3)
    assert ours.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=0.02)


def test_multilabel_warm_start_and_partial_fit_like_sklearn():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 5))
    Y = (X[:, :3] + 0.3 * rng.normal(size=(150, 3)) > 0).astype(int)
    settings = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    ours = PrunableMLPClassifier(warm_start=True, **settings)
    theirs = MLPClassifier(warm_start=True, **settings)
    for est in (ours, theirs):
        est.fit(X, Y).fit(X, Y)
        est.partial_fit(X, Y)
    assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-7)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.predict_proba(X).shape == (150, 3)


def test_partial_fit_with_classes_like_sklearn():
    X, y = _digits()
    classes = np.unique(y)
    ours = PrunableMLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    theirs = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    for start in range(0, 600, 200):
        batch = slice(start, start + 200)
        for est in (ours, theirs):
            est.partial_fit(X[batch], y[batch], classes=classes)
    assert_allclose(ours.coefs_[1], theirs.coefs_[1], rtol=1e-7)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    with pytest.raises(ValueError, match="classes"):
        PrunableMLPClassifier().partial_fit(X, y)


def test_partial_fit_unavailable_for_lbfgs():
    assert not hasattr(PrunableMLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(PrunableMLPRegressor(solver="lbfgs"), "partial_fit")


@pytest.mark.parametrize(
    "load", [_all_digits, _breast_cancer], ids=["digits", "cancer"]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_and_loss_curve_match_sklearn(load, seed):
    X, y = load()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=seed, stratify=y
    )
    settings = dict(hidden_layer_sizes=(32,), max_iter=25, random_state=seed)
    ours = PrunableMLPClassifier(**settings).fit(X_train, y_train)
    theirs = MLPClassifier(**settings).fit(X_train, y_train)
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) <= 0.02
    assert ours.score(X_test, y_test) > 0.85
    assert abs(len(ours.loss_curve_) - len(theirs.loss_curve_)) <= 2
    assert ours.loss_curve_[-1] == pytest.approx(theirs.loss_curve_[-1], rel=0.05)
    curve = np.asarray(ours.loss_curve_)
    assert curve[-1] < 0.5 * curve[0]
    assert np.mean(np.diff(curve) < 0) >= 0.8


# ----------------------------------------------------------------------
# dtypes, sparse input, stopping, persistence and errors
# ----------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_trains_and_predicts_in_float32(solver):
    X, y = _digits()
    est = PrunableMLPClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=5)
    est.fit(X.astype(np.float32), y)
    assert all(p.dtype == np.float32 for p in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32
    est.prune(X, y, amount=0.5, criterion="taylor")
    _, coef_grads, _ = est.loss_gradient(X, y)
    assert coef_grads[0].dtype == np.float32
    reg = PrunableMLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=5)
    reg.fit(X.astype(np.float32), y.astype(np.float32))
    assert reg.predict(X.astype(np.float32)).dtype == np.float32


def test_sparse_input_gives_dense_results():
    X, y = _digits()
    dense = PrunableMLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    csr = PrunableMLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    dense.fit(X, y)
    csr.fit(sparse.csr_matrix(X), y)
    assert_allclose(dense.coefs_[0], csr.coefs_[0], rtol=1e-9, atol=1e-12)
    assert_allclose(dense.predict_proba(X), csr.predict_proba(sparse.csr_matrix(X)))


def test_convergence_warning_like_sklearn():
    X, y = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for solver in ("adam", "lbfgs"):
            with pytest.raises(ConvergenceWarning):
                PrunableMLPClassifier(solver=solver, max_iter=2).fit(X, y)


def test_early_stopping_keeps_the_best_validation_weights():
    X, y = _digits()
    est = PrunableMLPClassifier(
        hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=2,
        max_iter=40, random_state=0,
    ).fit(X, y)
    assert est.best_loss_ is None
    assert est.best_validation_score_ == max(est.validation_scores_)
    with pytest.raises(ValueError, match="early_stopping"):
        est.partial_fit(X, y)


def test_pickle_round_trips_exactly_and_resumes_identically():
    X, y = _digits()
    est = PrunableMLPClassifier(hidden_layer_sizes=(12,), max_iter=3, random_state=0)
    est.fit(X, y).prune(X, y, amount=0.4, criterion="taylor")
    est.partial_fit(X, y)
    copy = pickle.loads(pickle.dumps(est))
    for name in ("coefs_", "intercepts_", "masks_", "intercept_masks_"):
        for a, b in zip(getattr(est, name), getattr(copy, name)):
            assert_array_equal(a, b)
    assert_array_equal(est.predict_proba(X), copy.predict_proba(X))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)
    assert_array_equal(est.coefs_[0], copy.coefs_[0])
    assert est.sparsity_ == copy.sparsity_


@pytest.mark.parametrize("method", ["fit", "predict", "prune", "loss_gradient"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(method, bad):
    X, y = _digits()
    X_bad = X.copy()
    X_bad[3, 5] = bad
    est = PrunableMLPClassifier(hidden_layer_sizes=(4,), max_iter=1)
    if method == "fit":
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            est.fit(X_bad, y)
        return
    est.fit(X, y)
    call = {
        "predict": lambda: est.predict(X_bad),
        "prune": lambda: est.prune(X_bad, y, amount=0.1, criterion="taylor"),
        "loss_gradient": lambda: est.loss_gradient(X_bad, y),
    }[method]
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        call()


def test_methods_need_a_fitted_network():
    X, y = _digits()
    for call in (
        lambda est: est.prune(X, y, amount=0.1),
        lambda est: est.loss_gradient(X, y),
        lambda est: est.sparsity_,
    ):
        with pytest.raises(NotFittedError):
            call(PrunableMLPClassifier())


def test_bad_prunable_layers_are_named():
    X, y = _digits()
    with pytest.raises(ValueError, match="prunable_layers"):
        PrunableMLPClassifier(prunable_layers=[5], max_iter=1).fit(X, y)
    with pytest.raises(TypeError, match="prunable_layers"):
        PrunableMLPClassifier(prunable_layers=[0.5], max_iter=1).fit(X, y)
    est = PrunableMLPClassifier(hidden_layer_sizes=(), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="prunable_layers"):
        est.prune(amount=0.1)


# ----------------------------------------------------------------------
# Pruned parameters through further training
# ----------------------------------------------------------------------


def _assert_pruned_are_zero(est):
    params = est.coefs_ + est.intercepts_
    for param, mask in zip(params, est.masks_ + est.intercept_masks_):
        assert_array_equal(param[~mask], 0.0)
    assert not all(mask.all() for mask in est.masks_)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("pattern", ["unstructured", "neuron"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pruned_parameters_stay_exactly_zero_through_training(solver, pattern, dtype):
    X, y = _digits()
    X = X.astype(dtype)
    est = PrunableMLPClassifier(
        hidden_layer_sizes=(16, 12), solver=solver, max_iter=5, random_state=0,
        prunable_layers="all",
    ).fit(X, y)
    est.prune(X, y, amount=0.4, pattern=pattern)
    masks = [m.copy() for m in est.masks_ + est.intercept_masks_]
    est.set_params(warm_start=True).fit(X, y)
    _assert_pruned_are_zero(est)
    if solver != "lbfgs":
        for _ in range(2):
            est.partial_fit(X, y)
        _assert_pruned_are_zero(est)
    # Training does not grow or shrink the masks; only prune does.
    for old, new in zip(masks, est.masks_ + est.intercept_masks_):
        assert_array_equal(old, new)


def test_pruned_weights_stay_zero_through_early_stopping_restore():
    X, y = _digits()
    est = PrunableMLPClassifier(
        hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=1,
        max_iter=30, random_state=0,
    ).fit(X, y)
    est.prune(amount=0.5).set_params(warm_start=True).fit(X, y)
    _assert_pruned_are_zero(est)
    assert est.validation_scores_[-1] <= est.best_validation_score_


def test_refit_without_warm_start_resets_the_masks():
    X, y = _digits()
    est = PrunableMLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(X, y)
    est.prune(amount=0.5).fit(X, y)
    assert est.sparsity_ == 0.0 and all(m.all() for m in est.masks_)


def test_small_products_train_on_one_blas_thread():
    from threadpoolctl import threadpool_info

    from skprune.neural._multilayer_perceptron import SMALL_PRODUCT, _blas_threads_for

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    outside = blas_threads()
    with _blas_threads_for(200, [64, 128, 10]):
        assert set(blas_threads()) <= {1}
    assert blas_threads() == outside
    n_rows = SMALL_PRODUCT // (784 * 300) + 1
    with _blas_threads_for(n_rows, [784, 300, 100, 10]):
        assert blas_threads() == outside
