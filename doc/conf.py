"""Sphinx configuration of the skprune documentation.

Build it from the repository root with ``sphinx-build doc doc/_build/html``
(``pip install ".[doc]"`` first). The examples in ``examples/`` are run by
sphinx-gallery and rendered in ``doc/auto_examples/``.
"""

import os
import sys

# document the checkout the build runs from, installed or not
sys.path.insert(0, os.path.abspath(".."))

import skprune  # noqa: E402

project = "skprune"
author = "The skprune developers"
copyright = f"2026, {author}"
version = release = skprune.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = []
html_theme = "alabaster"
html_static_path = []

# API pages: one generated page per public name, in gen_modules/
autosummary_generate = True
# Inherited members are documented when skprune defines them (its mixins),
# not when they come from scikit-learn (see _skip_foreign_inherited).
autodoc_default_options = {"members": True, "inherited-members": True}
# numpydoc lists the methods itself; autodoc's member list would repeat them
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
    "joblib": ("https://joblib.readthedocs.io/en/stable", None),
}
# offline builds (SKPRUNE_DOC_OFFLINE=1) skip fetching the inventories
OFFLINE = bool(os.environ.get("SKPRUNE_DOC_OFFLINE"))
if OFFLINE:
    intersphinx_mapping = {}

# Labels of scikit-learn's documentation that the docstrings skprune inherits
# from it (``score``) refer to; intersphinx resolves them when online.
_SKLEARN_LABELS = {"accuracy_score", "r2_score"}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skprune",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skprune": None},
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    # timings would be written into the source tree
    "write_computation_times": False,
}


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Leave out the ``set_*_request`` methods scikit-learn adds to every estimator."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _inherited_label_as_text(app, env, node, contnode):
    """Offline, show scikit-learn's labels in inherited docstrings as plain text."""
    inherited = node.get("reftarget") in _SKLEARN_LABELS
    if OFFLINE and node.get("reftype") == "ref" and inherited:
        return contnode
    return None


def _skip_foreign_inherited(app, what, name, obj, skip, options):
    """Leave out the members a class inherits from outside skprune."""
    module = getattr(getattr(obj, "fget", obj), "__module__", None)
    if what == "class" and module and not module.startswith("skprune"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
    app.connect("autodoc-skip-member", _skip_foreign_inherited)
    app.connect("missing-reference", _inherited_label_as_text)
