"""Every Python snippet of the README runs on its own, without a warning."""

import pathlib
import re
import subprocess
import sys

import pytest

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)
# the snippets need what the test extra installs
pytest.importorskip("matplotlib")


def test_the_readme_has_snippets():
    assert len(SNIPPETS) >= 6


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_snippet_runs_alone_without_warnings(index, tmp_path):
    if "skl2onnx" in SNIPPETS[index]:
        pytest.importorskip("skl2onnx")
        pytest.importorskip("onnxruntime")
    if "skops" in SNIPPETS[index]:
        pytest.importorskip("skops")
    code = "import matplotlib\nmatplotlib.use('Agg')\n" + SNIPPETS[index]
    root = pathlib.Path(__file__).parents[1]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
