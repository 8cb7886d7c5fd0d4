"""Every public estimator documents exactly the parameters of its signature."""

import inspect
import re

import pytest

from skprune.neural import ADMMCriterion, OBSCriterion
from skprune.utils import all_estimators


def _documented_parameters(cls):
    doc = inspect.getdoc(cls)
    section = doc.split("Parameters\n----------\n", 1)[1]
    section = re.split(r"\n\w[\w ]*\n-{3,}\n", section, maxsplit=1)[0]
    names = re.findall(r"^(\w[\w, ]*?) :", section, re.M)
    names += re.findall(r"^(\w[\w, ]*?)$", section, re.M)  # grouped, "As in ..."
    return {
        name.strip() for group in names for name in group.split(",") if name.strip()
    }


@pytest.mark.parametrize(
    "cls",
    [cls for _, cls in all_estimators()] + [OBSCriterion, ADMMCriterion],
    ids=lambda c: c.__name__,
)
def test_parameters_section_matches_the_signature(cls):
    assert _documented_parameters(cls) == set(inspect.signature(cls).parameters)
