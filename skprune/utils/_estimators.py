"""Discovery of the public estimators of skprune."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator


def all_estimators():
    """List every public estimator class that skprune exports.

    Parameter holders that are not fitted (such as :class:`OBSCriterion`, a
    ``BaseEstimator`` for its parameters) are left out.

    Subpackages are imported and their ``__all__`` read, so that an estimator
    added to a subpackage is found without editing any list.

    Returns
    -------
    estimators : list of (str, type) tuples
        Name and class of each estimator, sorted by name.
    """
    import skprune

    found = {}
    for module_info in pkgutil.iter_modules(skprune.__path__):
        if module_info.name.startswith("_") or module_info.name == "utils":
            continue
        module = importlib.import_module(f"skprune.{module_info.name}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and hasattr(obj, "fit")
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return sorted(found.items())


class DocLinkMixin:
    """Link an estimator's HTML representation to its page of the API reference.

    scikit-learn draws a "?" in the HTML representation of an estimator that
    leads to ``_doc_link_template`` filled with the estimator's public module
    and class name, for classes of ``_doc_link_module``.
    """

    _doc_link_module = "skprune"
    _doc_link_template = (
        "https://skprune.readthedocs.io/en/stable/gen_modules/"
        "{estimator_module}.{estimator_name}.html"
    )
