"""Saved models: what a pickle holds, and loading skops files in one line."""

import io
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.neural_network import MLPClassifier

from skprune.ensemble import EnsemblePruner
from skprune.neural import MLPPruner, PrunedMLPClassifier
from skprune.utils import all_estimators, skops_trusted_types

sio = pytest.importorskip("skops.io")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = {"max_iter": 5, "finetune_iter": 1, "n_pruning_steps": 1,
         "hidden_layer_sizes": (5,), "sparsities": 2, "cv": 2}


def _fitted(cls, X, y):
    if cls is MLPPruner:
        mlp = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5)
        estimator = cls(mlp, finetune_iter=1)
    elif cls is EnsemblePruner:
        forest = RandomForestClassifier(n_estimators=5, random_state=0)
        estimator = cls(forest, cv=2, random_state=0)
    else:
        estimator = cls()
        params = estimator.get_params()
        estimator.set_params(**{k: v for k, v in SMALL.items() if k in params})
    return estimator.fit(X, y)


@pytest.mark.parametrize("name, cls", all_estimators())
def test_every_estimator_loads_from_skops_with_the_trusted_types(name, cls, tmp_path):
    X, y = load_iris(return_X_y=True)
    estimator = _fitted(cls, X, y)
    path = tmp_path / "model.skops"
    sio.dump(estimator, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(skops_trusted_types())
    loaded = sio.load(path, trusted=skops_trusted_types())
    assert type(loaded) is cls
    assert_array_equal(loaded.predict(X), estimator.predict(X))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


@pytest.fixture(scope="module")
def pruners(digits):
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted_mlp = MLPClassifier(**mlp.get_params()).fit(X, y)
        pruning = {"sparsity": 0.9, "n_pruning_steps": 3, "finetune_iter": 3}
        return {
            "prefit=False": MLPPruner(mlp, **pruning).fit(X, y),
            "prefit=True": MLPPruner(fitted_mlp, prefit=True, **pruning).fit(X, y),
        }


@pytest.mark.parametrize("kind", ["prefit=False", "prefit=True"])
def test_a_pruner_pickles_to_its_pruned_network_and_estimator(pruners, digits, kind):
    X, _ = digits
    pruner = pruners[kind]
    size = len(pickle.dumps(pruner))
    parts = len(pickle.dumps(pruner.pruned_estimator_))
    parts += len(pickle.dumps(pruner.estimator))
    assert size <= 1.1 * parts
    # no copy of the dense network of its own
    assert size < parts + 0.5 * len(pickle.dumps(pruner.estimator_))
    restored = pickle.loads(pickle.dumps(pruner))
    assert not hasattr(restored, "estimator_")
    assert_array_equal(restored.predict_proba(X), pruner.predict_proba(X))
    assert restored.n_epochs_total_ == pruner.n_epochs_total_


def test_loss_curves_hold_python_floats_and_survive_a_round_trip(pruners, digits):
    X, y = digits
    early = PrunedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=15, early_stopping=True, sparsity=0.5,
        n_pruning_steps=2, finetune_iter=3, random_state=0,
    ).fit(X, y)
    for network in (pruners["prefit=False"].pruned_estimator_, early):
        for name in ("loss_curve_", "validation_scores_"):
            curve = getattr(network, name)
            if curve is None:
                continue
            assert type(curve) is list and all(type(v) is float for v in curve)
            for restored in (
                pickle.loads(pickle.dumps(network)),
                sio.loads(sio.dumps(network), trusted=skops_trusted_types()),
            ):
                assert getattr(restored, name) == curve
                assert all(type(v) is float for v in getattr(restored, name))
        assert type(network.loss_) is float
    assert len(early.validation_scores_) > 0


@pytest.mark.parametrize("kind", ["prefit=False", "prefit=True"])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_skops_file_is_at_most_twice_the_pickle(pruners, digits, kind, compression):
    X, _ = digits
    pruner = pruners[kind]
    data = sio.dumps(pruner, compression=compression)
    assert len(data) <= 2 * len(pickle.dumps(pruner))
    loaded = sio.loads(data, trusted=skops_trusted_types())
    assert_array_equal(loaded.predict_proba(X), pruner.predict_proba(X))
    # the pruned network's loss curve is one stored array, not one file per epoch
    with zipfile.ZipFile(io.BytesIO(sio.dumps(pruner.pruned_estimator_))) as archive:
        n_files = len(archive.namelist())
    assert n_files < 30 < len(pruner.pruned_estimator_.loss_curve_)


def test_trusted_types_are_names_of_skprune_and_scikit_learn_types():
    trusted = skops_trusted_types()
    assert trusted == sorted(set(trusted))
    assert "skprune.neural._pruned.PrunedMLPClassifier" in trusted
    assert all(name.startswith(("skprune.", "sklearn.")) for name in trusted)
    assert np.all([name.count(".") >= 2 for name in trusted])


@pytest.mark.parametrize("load", [
    lambda pruner: pickle.loads(pickle.dumps(pruner)),
    lambda pruner: sio.loads(sio.dumps(pruner), trusted=skops_trusted_types()),
])
def test_a_restored_pruner_and_its_estimator_resume_identically(pruners, digits, load):
    X, y = digits
    pruner = pruners["prefit=True"]
    restored = load(pruner)
    for a, b in zip(restored.pruned_estimator_.coefs_, pruner.pruned_estimator_.coefs_):
        assert_array_equal(a, b)
    assert list(restored.get_params(deep=False)) == list(pruner.get_params(deep=False))
    # the fitted network given as estimator keeps its optimizer state
    original, copy = pickle.loads(pickle.dumps(pruner.estimator)), restored.estimator
    assert copy.loss_curve_ == original.loss_curve_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original.partial_fit(X, y)
        copy.partial_fit(X, y)
    for a, b in zip(original.coefs_, copy.coefs_):
        assert_array_equal(a, b)
