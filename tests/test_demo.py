"""The main job, python -m skprune."""

import re
import subprocess
import sys

import numpy as np
import pytest

from skprune._demo import MLP_SPARSITIES, format_table, main


def test_format_table_aligns_columns():
    table = format_table(
        [{"name": "a", "value": 1.23456}, {"name": "longer", "value": 10}],
        ["name", "value"],
    )
    lines = table.splitlines()
    assert lines[0].split() == ["name", "value"]
    assert lines[2].split() == ["a", "1.235"]
    # text is left-aligned, numbers right-aligned
    assert lines[2].startswith("a ") and lines[3].startswith("longer")
    assert lines[2].endswith("1.235") and lines[3].endswith("   10")


@pytest.fixture
def figures(monkeypatch):
    """The figures the main job draws, kept open to be inspected."""
    plt = pytest.importorskip("matplotlib.pyplot")
    monkeypatch.setattr(plt, "close", lambda *args: None)
    yield lambda: [plt.figure(n) for n in plt.get_fignums()]
    monkeypatch.undo()
    plt.close("all")


def _axes_titled(figures, start):
    axes = [ax for figure in figures for ax in figure.axes]
    return [ax for ax in axes if ax.get_title().startswith(start)]


# The networks of the main job are trained to convergence.
@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_main_prints_a_table_and_writes_plots(tmp_path, capsys, figures):
    image = pytest.importorskip("matplotlib.image")
    assert main(["--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [
        re.split(r"\s{2,}", line.strip())
        for line in out.splitlines()
        if line.startswith(("breast", "diabetes"))
    ]
    assert len(rows) >= 5
    leaves = {}
    for cells in rows:
        leaves.setdefault(cells[0], []).append(int(cells[3]))
        # every row says which score it shows
        assert cells[4] == {"breast_cancer": "accuracy", "diabetes": "R2"}[cells[0]]
    # the cross-validated trees are smaller than the unpruned one
    for counts in leaves.values():
        assert max(counts[1:]) < counts[0]
    mlp_rows = [
        re.split(r"\s{2,}", line.strip())
        for line in out.splitlines()
        if line.startswith("digits") and "CV" not in line
    ]
    cv_rows = [
        re.split(r"\s{2,}", line.strip())
        for line in out.splitlines()
        if line.startswith("digits") and "CV" in line
    ]
    # the sparsity chosen by cross-validation is one of the grid's
    assert len(cv_rows) == 1
    chosen = float(cv_rows[0][2])
    assert min(abs(chosen - s) for s in MLP_SPARSITIES) < 1e-3
    sparsities = [float(cells[2]) for cells in mlp_rows]
    nonzero = [int(cells[3]) for cells in mlp_rows]
    pickled = [float(cells[6]) for cells in mlp_rows]
    # overall sparsity and compression count all 64 * 128 + 128 * 10 weights
    for cells in mlp_rows + cv_rows:
        n_nonzero = int(cells[3])
        overall, compression = float(cells[4]), float(cells[5])
        assert compression == pytest.approx((64 * 128 + 128 * 10) / n_nonzero, rel=1e-3)
        assert overall == pytest.approx(1 - n_nonzero / (64 * 128 + 128 * 10), abs=1e-3)
        assert overall <= float(cells[2]) + 1e-3
    # the sparse storage shrinks with the weights
    assert all(a > b for a, b in zip(pickled, pickled[1:]))
    # every requested sparsity is reached, and fewer weights remain each time
    assert sparsities == pytest.approx(list(MLP_SPARSITIES), abs=1e-3)
    assert all(a > b for a, b in zip(nonzero, nonzero[1:]))
    drawn = figures()
    (accuracy_ax,) = _axes_titled(drawn, "Pruned MLP")
    (errorbars,) = accuracy_ax.containers  # mean and spread over the CV folds
    assert len(errorbars.lines[2][0].get_segments()) == len(MLP_SPARSITIES)
    lines = accuracy_ax.get_lines()
    dense_line = [line for line in lines if line.get_linestyle() == "--"]
    dense_accuracy = float(mlp_rows[0][7])
    assert dense_line[0].get_ydata()[0] == pytest.approx(dense_accuracy, abs=1e-4)
    (tree_ax,) = _axes_titled(drawn, "Tree pruned")
    texts = " ".join(text.get_text() for text in tree_ax.texts)
    assert not re.search(r"x\[\d+\]", texts) and "worst" in texts  # feature names
    assert "malignant" in texts or "benign" in texts
    for curve_ax in _axes_titled(drawn, "Pruning curve"):
        twin = [ax for ax in curve_ax.figure.axes if ax is not curve_ax]
        if twin and curve_ax.get_xscale() == "symlog":  # the leaves of a tree
            ticks = twin[0].get_yticks()
            assert np.all(ticks == np.round(ticks))
            labels = [t for t in curve_ax.get_xticklabels(minor=True) if t.get_text()]
            assert labels == []
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) >= 5
    for png in pngs:
        assert str(png.name) in out
        height, width = image.imread(png).shape[:2]
        assert height > 200 and width > 200


def test_module_entry_point_shows_help():
    result = subprocess.run(
        [sys.executable, "-m", "skprune", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--output" in result.stdout
    assert "``" not in result.stdout and "R2" in result.stdout
