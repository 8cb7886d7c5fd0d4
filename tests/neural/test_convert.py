"""Tests of the conversions between scikit-learn's and skprune's perceptrons."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skprune.neural import (
    MLPPruner,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    from_sklearn,
    to_sklearn,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
SMALL = {"hidden_layer_sizes": (7, 5), "max_iter": 20, "random_state": 0}


def _classification(kind):
    if kind == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=80, n_features=6, n_classes=3, random_state=0
        )
        return X / X.max(), y
    n_classes = 2 if kind == "binary" else 3
    X, y = make_classification(
        n_samples=80,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        random_state=0,
    )
    # String labels check that the label encoder travels.
    return X, np.array(["a", "b", "c"])[y]


def _regression(n_outputs, positive=False):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 6))
    y = X[:, :n_outputs] ** 2 + X[:, 1 : n_outputs + 1]
    if positive:
        y = np.exp(y / 4)
    return X, y.ravel() if n_outputs == 1 else y


def _assert_same_network(a, b):
    assert len(a.coefs_) == len(b.coefs_)
    for coef_a, coef_b in zip(a.coefs_, b.coefs_):
        assert coef_a.dtype == coef_b.dtype
        assert_array_equal(coef_a, coef_b)
    for intercept_a, intercept_b in zip(a.intercepts_, b.intercepts_):
        assert_array_equal(intercept_a, intercept_b)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.loss_ == b.loss_


def _assert_same_predictions(a, b, X):
    assert_array_equal(a.predict(X), b.predict(X))
    if hasattr(a, "predict_proba"):
        assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-12, atol=0)


# ----------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_classifier_round_trip(kind, activation):
    X, y = _classification(kind)
    mlp = MLPClassifier(activation=activation, **SMALL).fit(X, y)
    model = from_sklearn(mlp)
    assert type(model) is PrunableMLPClassifier
    assert all(mask.all() for mask in model.masks_ + model.intercept_masks_)
    assert model.sparsity_ == 0.0
    _assert_same_network(model, mlp)
    _assert_same_predictions(model, mlp, X)
    assert_array_equal(model.classes_, mlp.classes_)
    assert model.loss_curve_ == mlp.loss_curve_

    back = to_sklearn(model)
    assert type(back) is MLPClassifier
    assert back.get_params() == mlp.get_params()
    _assert_same_network(back, mlp)
    _assert_same_predictions(back, mlp, X)
    assert back.loss_curve_ == mlp.loss_curve_


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regressor_round_trip(n_outputs, activation, loss):
    X, y = _regression(n_outputs, positive=loss == "poisson")
    mlp = MLPRegressor(loss=loss, activation=activation, **SMALL).fit(X, y)
    model = from_sklearn(mlp)
    assert type(model) is PrunableMLPRegressor
    assert model.out_activation_ == mlp.out_activation_
    _assert_same_network(model, mlp)
    assert_allclose(model.predict(X), mlp.predict(X), rtol=1e-12)
    assert model.score(X, y) == pytest.approx(mlp.score(X, y), rel=1e-12)

    back = to_sklearn(model)
    assert type(back) is MLPRegressor
    assert back.get_params() == mlp.get_params()
    _assert_same_network(back, mlp)
    assert_allclose(back.predict(X), mlp.predict(X), rtol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_fitted_state_is_copied_not_shared(solver):
    X, y = _classification("multiclass")
    mlp = MLPClassifier(solver=solver, early_stopping=solver != "lbfgs", **SMALL)
    mlp.fit(X, y)
    before = pickle.dumps(mlp)
    model = from_sklearn(mlp)
    for name in ("best_loss_", "validation_scores_", "best_validation_score_"):
        assert hasattr(model, name) == hasattr(mlp, name)
        if hasattr(mlp, name):
            assert getattr(model, name) == getattr(mlp, name)
    model.prune(amount=0.5)
    model.coefs_[-1][...] = 0
    if solver != "lbfgs":
        model.loss_curve_.append(1.0)
    assert pickle.dumps(mlp) == before


def test_float32_weights_stay_float32():
    X, y = _classification("multiclass")
    mlp = MLPClassifier(**SMALL).fit(X.astype(np.float32), y)
    model = from_sklearn(mlp)
    assert all(coef.dtype == np.float32 for coef in model.coefs_)
    _assert_same_predictions(model, mlp, X.astype(np.float32))
    assert all(coef.dtype == np.float32 for coef in to_sklearn(model).coefs_)


def test_feature_names_travel():
    pd = pytest.importorskip("pandas")
    X, y = _classification("binary")
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    mlp = MLPClassifier(**SMALL).fit(X, y)
    model = from_sklearn(mlp)
    assert_array_equal(model.feature_names_in_, mlp.feature_names_in_)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(X.to_numpy())
    assert_array_equal(to_sklearn(model).feature_names_in_, mlp.feature_names_in_)


def test_extra_parameters_override():
    X, y = _classification("multiclass")
    mlp = MLPClassifier(**SMALL).fit(X, y)
    model = from_sklearn(mlp, prunable_layers="all", alpha=0.5)
    assert model.prunable_layers == "all"
    assert model.alpha == 0.5
    assert model.prune(amount=0.5).layer_sparsity_[-1] > 0


# ----------------------------------------------------------------------
# Training resumes from the converted network
# ----------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["from_sklearn", "to_sklearn"])
def test_lbfgs_resumes_identically_after_conversion(direction):
    # L-BFGS is deterministic: both libraries continue from the same point
    # with the same objective, so a faithful conversion ends at the same
    # weights.
    X, y = _classification("multiclass")
    params = {**SMALL, "solver": "lbfgs"}
    if direction == "from_sklearn":
        source = MLPClassifier(**params).fit(X, y)
        converted = from_sklearn(source)
    else:
        source = PrunableMLPClassifier(**params).fit(X, y)
        converted = to_sklearn(source)
    source.set_params(warm_start=True, max_iter=5).fit(X, y)
    converted.set_params(warm_start=True, max_iter=5).fit(X, y)
    for coef_a, coef_b in zip(source.coefs_, converted.coefs_):
        assert_allclose(coef_a, coef_b, rtol=1e-6, atol=1e-9)


def test_partial_fit_continues_after_conversion():
    X, y = _classification("multiclass")
    model = PrunedMLPClassifier(sparsity=0.5, **SMALL, n_pruning_steps=2)
    mlp = to_sklearn(model.fit(X, y))
    start = [coef.copy() for coef in mlp.coefs_]
    mlp.partial_fit(X, y)
    assert mlp.n_iter_ == 1  # counted per call, as after any fit
    assert mlp.t_ == model.t_ + X.shape[0]
    assert any(not np.array_equal(a, b) for a, b in zip(start, mlp.coefs_))


# ----------------------------------------------------------------------
# Pruned networks to scikit-learn
# ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_pruned_classifier_to_sklearn(kind):
    X, y = _classification(kind)
    model = PrunedMLPClassifier(
        sparsity=0.7, n_pruning_steps=3, finetune_iter=3, **SMALL
    ).fit(X, y)
    mlp = to_sklearn(model)
    # scikit-learn's own forward pass over the dense weights with the zeros.
    _assert_same_predictions(mlp, model, X)
    assert sum(np.count_nonzero(coef) for coef in mlp.coefs_) == model.n_nonzero_
    for coef, mask in zip(mlp.coefs_, model.masks_):
        assert not coef[~mask].any()
    n_hidden_weights = sum(coef.size for coef in mlp.coefs_[:-1])
    n_zero = sum(np.count_nonzero(coef == 0) for coef in mlp.coefs_[:-1])
    assert n_zero == np.floor(0.7 * n_hidden_weights + 0.5)


@pytest.mark.filterwarnings("ignore:Requested sparsity")
def test_neuron_pruned_network_has_shrunk_sizes():
    X, y = _regression(2)
    model = PrunedMLPRegressor(
        hidden_layer_sizes=(20, 10),
        pattern="neuron",
        sparsity=0.5,
        n_pruning_steps=2,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    widths = model.n_units_[1:-1]
    assert widths != [20, 10]
    mlp = to_sklearn(model)
    assert list(mlp.hidden_layer_sizes) == widths
    assert [coef.shape for coef in mlp.coefs_] == [c.shape for c in model.coefs_]
    assert_allclose(mlp.predict(X), model.predict(X), rtol=1e-12)
    # The converted network can be fitted again by scikit-learn.
    mlp.set_params(warm_start=True, max_iter=2).fit(X, y)


def test_pruner_and_unpickled_model_convert():
    X, y = _classification("multiclass")
    pruner = MLPPruner(
        MLPClassifier(**SMALL), sparsity=0.6, n_pruning_steps=2, finetune_iter=2
    ).fit(X, y)
    mlp = to_sklearn(pruner)
    _assert_same_network(mlp, pruner.pruned_estimator_)
    restored = pickle.loads(pickle.dumps(pruner.pruned_estimator_))
    _assert_same_predictions(to_sklearn(restored), pruner, X)


# ----------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------


def test_from_sklearn_bad_input():
    X, y = _classification("multiclass")
    with pytest.raises(TypeError, match="estimator must be a scikit-learn"):
        from_sklearn(PrunableMLPClassifier(**SMALL).fit(X, y))
    with pytest.raises(NotFittedError):
        from_sklearn(MLPClassifier())
    mlp = MLPClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes cannot be overridden"):
        from_sklearn(mlp, hidden_layer_sizes=(3,))
    with pytest.raises(ValueError, match="prunable_layers"):
        from_sklearn(mlp, prunable_layers="some")


def test_to_sklearn_bad_input():
    X, y = _classification("multiclass")
    with pytest.raises(TypeError, match="model must be a skprune perceptron"):
        to_sklearn(MLPClassifier(**SMALL).fit(X, y))
    with pytest.raises(NotFittedError):
        to_sklearn(PrunedMLPClassifier())
    with pytest.raises(NotFittedError):
        to_sklearn(MLPPruner(MLPClassifier()))
    # A setting scikit-learn does not know is named in the error.
    model = clone(PrunableMLPClassifier(**SMALL)).fit(X, y)
    model.set_params(activation="softplus")
    with pytest.raises(ValueError, match="activation"):
        to_sklearn(model)
