"""The main job, python -m skprune."""

import re
import subprocess
import sys

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


def test_main_prints_a_table_and_writes_plots(tmp_path, capsys):
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
    pickled = [float(cells[4]) for cells in mlp_rows]
    # the sparse storage shrinks with the weights
    assert all(a > b for a, b in zip(pickled, pickled[1:]))
    # every requested sparsity is reached, and fewer weights remain each time
    assert sparsities == pytest.approx(list(MLP_SPARSITIES), abs=1e-3)
    assert all(a > b for a, b in zip(nonzero, nonzero[1:]))
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) >= 5
    for png in pngs:
        assert str(png.name) in out
        height, width = image.imread(png).shape[:2]
        assert height > 200 and width > 200


def test_module_entry_point_shows_help():
    result = subprocess.run(
        [sys.executable, "-m", "skprune", "--help"], capture_output=True, text=True, check=True
    )
    assert "--output" in result.stdout
