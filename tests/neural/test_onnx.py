"""Export of pruned networks to ONNX through to_sklearn and skl2onnx."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import is_classifier
from sklearn.datasets import load_diabetes, load_digits
from sklearn.neural_network import MLPClassifier

from skprune.neural import (
    MLPPruner,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    to_sklearn,
)

skl2onnx = pytest.importorskip("skl2onnx")
rt = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NETWORK = {"hidden_layer_sizes": (32,), "max_iter": 20, "n_pruning_steps": 2,
           "finetune_iter": 3, "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _session(model, X):
    options = {"zipmap": False} if is_classifier(model) else None
    onx = skl2onnx.to_onnx(to_sklearn(model), X[:1], options=options)
    session = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return onx, session


def _matrix_shapes(onx):
    """Shapes of the matrices stored in the ONNX graph."""
    return {tuple(init.dims) for init in onx.graph.initializer if len(init.dims) == 2}


@pytest.mark.parametrize("pattern", ["unstructured", "neuron"])
def test_onnxruntime_probabilities_equal_predict_proba(digits, pattern):
    X, y = digits
    model = PrunedMLPClassifier(pattern=pattern, sparsity=0.75, **NETWORK).fit(X, y)
    onx, session = _session(model, X)
    label, proba = session.run(None, {session.get_inputs()[0].name: X})
    assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    assert_array_equal(label, model.predict(X))
    width = 8 if pattern == "neuron" else 32  # a neuron-pruned network is compacted
    assert model.n_units_ == [64, width, 10]
    assert {(64, width), (width, 10)} <= _matrix_shapes(onx)
    assert (64, 32) not in _matrix_shapes(onx) or pattern == "unstructured"


def test_mlp_pruner_and_regressor_export(digits):
    X, y = digits
    pruner = MLPPruner(
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0),
        sparsity=0.5, pattern="neuron", n_pruning_steps=1, finetune_iter=2,
    ).fit(X, y)
    _, session = _session(pruner, X)
    _, proba = session.run(None, {session.get_inputs()[0].name: X})
    assert_allclose(proba, pruner.predict_proba(X), atol=1e-5)

    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    regressor = PrunedMLPRegressor(sparsity=0.5, **NETWORK).fit(X, y / y.std())
    _, session = _session(regressor, X)
    (prediction,) = session.run(None, {session.get_inputs()[0].name: X})
    assert_allclose(prediction.ravel(), regressor.predict(X), atol=1e-5)
