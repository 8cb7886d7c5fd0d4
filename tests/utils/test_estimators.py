"""The HTML representation links every estimator to its API page."""

import pathlib

import pytest

from skprune.utils import all_estimators

API = (pathlib.Path(__file__).parents[2] / "doc" / "api.rst").read_text()


@pytest.mark.parametrize("name, cls", all_estimators())
def test_html_repr_links_to_the_api_page(name, cls):
    public_module = ".".join(
        part for part in cls.__module__.split(".") if not part.startswith("_")
    )
    link = cls.__new__(cls)._get_doc_link()
    site = "https://skprune.readthedocs.io/en/stable/gen_modules"
    assert link == f"{site}/{public_module}.{name}.html"
    # the page exists: the class is in the autosummary of its module
    section = API[API.index(f".. currentmodule:: {public_module}\n"):]
    assert f"\n   {name}\n" in section.split(".. currentmodule::")[1]
