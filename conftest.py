"""Configuration shared by the tests and the docstring examples."""

import os

import pytest
from _pytest.doctest import DoctestItem

# Figures are drawn off screen, whatever the machine's default backend.
os.environ["MPLBACKEND"] = "Agg"


def pytest_collection_modifyitems(items):
    """Make a warning in a docstring example fail it.

    A reader copies the examples; one that warns (a network stopped before it
    converged, say) shows what not to do. Deprecation warnings are only shown:
    they come from how one version of a dependency calls another (scikit-learn
    1.6 passes SciPy 1.17 a deprecated L-BFGS option), not from the example.
    """
    marker = pytest.mark.filterwarnings(
        "error", "default::DeprecationWarning", "default::PendingDeprecationWarning"
    )
    for item in items:
        if isinstance(item, DoctestItem):
            item.add_marker(marker)
