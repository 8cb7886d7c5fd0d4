"""Parameters of a pruning fit are checked before any training."""

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from skprune.neural import (
    MLPPruner,
    PrunedMLPClassifier,
    PrunedMLPClassifierCV,
    PrunedMLPRegressor,
    PrunedMLPRegressorCV,
    sparsity_path,
)
from skprune.neural._multilayer_perceptron import BasePrunableMLP

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# (parameters, parameter named in the error) of settings that cannot prune.
IMPOSSIBLE = [
    ({"criterion": "magnitud"}, "criterion"),
    ({"pattern": "block", "block_shape": (3, 3)}, "block_shape"),
    ({"pattern": "block", "block_shape": (64, 1)}, "block_shape"),
    ({"pattern": "block", "block_shape": (0, 2)}, "block_shape"),
    ({"pattern": "n:m", "n": 5, "m": 4, "sparsity": 0.5}, "n must not exceed m"),
    ({"pattern": "n:m", "n": 2, "m": 4, "sparsity": 0.3}, "1 - n / m"),
    ({"prunable_layers": []}, "prunable_layers"),
    ({"hidden_layer_sizes": (), "sparsity": 0.5}, "prunable_layers"),
    ({"pattern": "neuron", "prunable_layers": [1]}, "neuron"),
    ({"initial_sparsity": 0.6, "sparsity": 0.5}, "initial_sparsity"),
]

NETWORK = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}


@pytest.fixture
def untrainable(monkeypatch):
    """Make any training of a skprune or scikit-learn perceptron fail."""

    def fail(*args, **kwargs):
        raise AssertionError("a network was trained before the parameters were checked")

    monkeypatch.setattr(BasePrunableMLP, "_fit", fail)
    monkeypatch.setattr(MLPClassifier, "fit", fail)


def _settings(params):
    network = {**NETWORK, **{k: v for k, v in params.items() if k in NETWORK}}
    pruning = {k: v for k, v in params.items() if k not in NETWORK}
    return network, {"sparsity": 0.5, **pruning}


@pytest.mark.parametrize("params, match", IMPOSSIBLE)
@pytest.mark.parametrize("Estimator", [PrunedMLPClassifier, PrunedMLPRegressor])
def test_pruned_estimators_reject_before_training(
    Estimator, params, match, three_classes, untrainable
):
    X, y = three_classes
    network, pruning = _settings(params)
    with pytest.raises(ValueError, match=match):
        Estimator(**network, **pruning).fit(X, y)


@pytest.mark.parametrize("params, match", IMPOSSIBLE)
@pytest.mark.parametrize("prefit", [False, True])
def test_pruner_rejects_before_training(
    params, match, prefit, three_classes, untrainable
):
    X, y = three_classes
    network, pruning = _settings(params)
    mlp = MLPClassifier(**network)
    if prefit:
        # The weights of a fitted network, without training it here.
        n_units = [X.shape[1], *network["hidden_layer_sizes"], 3]
        mlp.coefs_ = [np.zeros(shape) for shape in zip(n_units[:-1], n_units[1:])]
    with pytest.raises(ValueError, match=match):
        MLPPruner(mlp, **pruning, prefit=prefit).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [(p, m) for p, m in IMPOSSIBLE if p.get("pattern") != "n:m"],
)
def test_sparsity_path_rejects_before_training(
    params, match, three_classes, untrainable
):
    X, y = three_classes
    network, pruning = _settings(params)
    grid = [0.0, pruning.pop("sparsity")]
    with pytest.raises(ValueError, match=match):
        sparsity_path(PrunedMLPClassifier(**network, **pruning), X, y, grid)


@pytest.mark.parametrize(
    "params, match",
    [(p, m) for p, m in IMPOSSIBLE if p.get("pattern") != "n:m"],
)
@pytest.mark.parametrize("EstimatorCV", [PrunedMLPClassifierCV, PrunedMLPRegressorCV])
def test_cv_estimators_reject_before_training(
    EstimatorCV, params, match, three_classes, untrainable
):
    X, y = three_classes
    network, pruning = _settings(params)
    grid = [0.0, pruning.pop("sparsity")]
    with pytest.raises(ValueError, match=match):
        EstimatorCV(**network, **pruning, sparsities=grid, cv=3).fit(X, y)


def test_sparsity_zero_needs_nothing_prunable(three_classes):
    # Without pruning, a network with no prunable matrix is a plain network.
    X, y = three_classes
    est = PrunedMLPClassifier(**NETWORK, prunable_layers=[], sparsity=0.0).fit(X, y)
    assert est.sparsity_ == 0.0


# ----------------------------------------------------------------------
# Training settings travel as arguments
# ----------------------------------------------------------------------


@pytest.mark.parametrize("fit", ["estimator", "pruner", "path", "cv"])
def test_training_never_sees_rewritten_parameters(fit, three_classes, monkeypatch):
    # Every solver call of a pruning fit sees the user's parameters; the
    # fine-tuning budget, tolerance and resumption come as an argument.
    X, y = three_classes
    seen = []
    train = BasePrunableMLP._fit

    def recording(self, *args, settings=None, **kwargs):
        seen.append((self.get_params(deep=False), settings))
        return train(self, *args, settings=settings, **kwargs)

    monkeypatch.setattr(BasePrunableMLP, "_fit", recording)
    network = {**NETWORK, "max_iter": 7, "tol": 1e-3}
    pruning = {"n_pruning_steps": 3, "finetune_iter": 2}
    if fit == "estimator":
        est = PrunedMLPClassifier(**network, **pruning, sparsity=0.6)
        est.fit(X, y)
    elif fit == "pruner":
        mlp = MLPClassifier(**network).fit(X, y)
        est = MLPPruner(mlp, **pruning, sparsity=0.6, prefit=True)
        est.fit(X, y)
        est = est.pruned_estimator_
    elif fit == "path":
        est = PrunedMLPClassifier(**network, **pruning)
        sparsity_path(est, X, y, [0.0, 0.6])
    else:
        est = PrunedMLPClassifierCV(**network, **pruning, sparsities=[0.0, 0.6], cv=2)
        est.fit(X, y)
    assert seen
    for params, settings in seen:
        assert params["max_iter"] == 7 and params["tol"] == 1e-3
        assert params["warm_start"] is False
        assert params["random_state"] == 0
    fine_tuning = [s for _, s in seen if s.warm_start]
    assert fine_tuning and all(
        (s.max_iter, s.tol) == (2, 0.0) for s in fine_tuning
    )
    dense = [s for _, s in seen if not s.warm_start]
    assert all((s.max_iter, s.tol) == (7, 1e-3) for s in dense)
