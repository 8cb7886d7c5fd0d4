"""Discovery of the public estimators of skprune."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator


def all_estimators():
    """List every public estimator class that skprune exports.

    Classes that derive from ``BaseEstimator`` only for their parameters
    (pruning criteria) have no ``fit`` and are not estimators.

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
