"""Progress lines of pruning fits, and the epochs they count."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.neural_network import MLPClassifier

from skprune.neural import MLPPruner, PrunedMLPClassifier, PrunedMLPClassifierCV

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

STEP_LINE = re.compile(
    r"\[(\w+)\] step (\d+) of (\d+): target sparsity ([\d.]+), sparsity ([\d.]+), "
    r"loss ([\d.]+), (\d+) epochs(, validation score ([\d.]+))?$"
)


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    return X / X.max(axis=0), y


def _step_lines(out):
    return [STEP_LINE.match(line) for line in out.splitlines() if " step " in line]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_one_line_per_pruning_step_matching_the_history(data, capsys, early_stopping):
    X, y = data
    network = PrunedMLPClassifier(
        hidden_layer_sizes=(16,), max_iter=30, sparsity=0.8, n_pruning_steps=4,
        finetune_iter=7, solver="adam", early_stopping=early_stopping,
        n_iter_no_change=50, random_state=0, verbose=1,
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration" not in out  # epochs are printed from verbose=2 only
    history = network.pruning_history_
    lines = _step_lines(out)
    assert len(lines) == 4 and all(lines)
    for k, line in enumerate(lines, start=1):
        assert line[1] == "PrunedMLPClassifier"
        assert (int(line[2]), int(line[3])) == (k, 4)
        assert float(line[4]) == pytest.approx(history["target_sparsity"][k], abs=1e-4)
        assert float(line[5]) == pytest.approx(history["sparsity"][k], abs=1e-4)
        assert float(line[6]) == pytest.approx(history["loss"][k], abs=1e-6)
        assert int(line[7]) == history["n_iter"][k]
        if early_stopping:
            score = history["validation_score"][k]
            assert float(line[9]) == pytest.approx(score, abs=1e-4)
        else:
            assert line[8] is None
    assert out.splitlines()[0].startswith("[PrunedMLPClassifier] dense network:")


def test_epochs_are_printed_from_verbose_2(data, capsys):
    X, y = data
    network = PrunedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=6, sparsity=0.5, n_pruning_steps=2,
        finetune_iter=3, solver="sgd", random_state=0, verbose=2,
    ).fit(X, y)
    out = capsys.readouterr().out
    n_epoch_lines = sum(line.startswith("Iteration") for line in out.splitlines())
    assert n_epoch_lines == network.n_epochs_total_ == 6 + 2 * 3
    assert len(_step_lines(out)) == 2


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_n_epochs_total_counts_the_dense_phase_and_all_fine_tuning(data, solver):
    X, y = data
    network = PrunedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=25, sparsity=0.6, n_pruning_steps=3,
        finetune_iter=4, solver=solver, random_state=0,
    ).fit(X, y)
    dense = PrunedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=25, sparsity=0.0, solver=solver,
        random_state=0,
    ).fit(X, y)
    history = network.pruning_history_["n_iter"]
    assert history[0] == dense.n_iter_  # the dense phase, trained alone
    assert network.n_iter_ == history[-1]  # the last fine-tuning step only
    assert isinstance(network.n_epochs_total_, int)
    assert network.n_epochs_total_ == int(np.sum(history))
    assert network.n_epochs_total_ == dense.n_iter_ + sum(history[1:])
    assert all(n <= 4 for n in history[1:])


def test_mlp_pruner_is_verbose(data, capsys):
    X, y = data
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    pruner = MLPPruner(
        mlp, sparsity=0.5, n_pruning_steps=2, finetune_iter=3, prefit=True, verbose=1
    ).fit(X, y)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("[PrunedMLPClassifier] trained network:")
    assert len(_step_lines(out)) == 2
    fine_tuning = pruner.pruning_history_["n_iter"][1:]
    assert pruner.n_epochs_total_ == mlp.n_iter_ + sum(fine_tuning)
    pruner.set_params(verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_cv_prints_one_line_per_fold_and_sparsity(data, capsys):
    X, y = data
    cv_network = PrunedMLPClassifierCV(
        hidden_layer_sizes=(8,), max_iter=10, sparsities=[0.0, 0.5, 0.8], cv=3,
        finetune_iter=2, n_pruning_steps=2, random_state=0, verbose=1,
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration" not in out
    fold_lines = [line for line in out.splitlines() if " fold " in line]
    assert len(fold_lines) == 3 * 3
    pattern = re.compile(
        r"\[PrunedMLPClassifierCV\] fold (\d) of 3, sparsity=([\d.]+): "
        r"test score ([\d.]+), size (\d+)$"
    )
    for line in fold_lines:
        fold, sparsity, score, _ = pattern.match(line).groups()
        index = [0.0, 0.5, 0.8].index(float(sparsity))
        expected = cv_network.cv_results_[f"split{int(fold) - 1}_test_score"][index]
        assert float(score) == pytest.approx(expected, abs=1e-4)


def test_lbfgs_iterations_are_printed_with_their_loss(data, capsys):
    X, y = data
    network = PrunedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=6, sparsity=0.0, solver="lbfgs",
        random_state=0, verbose=2,
    ).fit(X, y)
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith("L-BFGS iteration, loss = ")
    ]
    assert len(lines) == network.n_iter_
    assert float(lines[-1].rsplit(" ", 1)[1]) == pytest.approx(network.loss_, abs=1e-7)
