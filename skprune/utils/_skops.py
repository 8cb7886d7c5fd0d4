"""The types skops must trust to load skprune models."""

import importlib
import inspect
import pkgutil

# Types of scikit-learn held by fitted skprune estimators (and by the network
# given to MLPPruner, stored as its type and state) that skops does not trust
# by default.
_SKLEARN_STATE_TYPES = (
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)


def skops_trusted_types():
    """Names of the types skops must trust to load any skprune estimator.

    :func:`skops.io.load` refuses types it does not know unless they are
    trusted. These are the classes of skprune (estimators and the objects
    their fitted attributes hold) and the scikit-learn types they hold that
    skops does not trust by default. Trust them only for files from a source
    you trust, as for any skops file.

    Returns
    -------
    trusted : list of str
        Fully qualified type names, sorted, to pass as ``trusted=``.

    Examples
    --------
    >>> import skops.io as sio  # doctest: +SKIP
    >>> from skprune.utils import skops_trusted_types
    >>> model = sio.load("model.skops", trusted=skops_trusted_types())  # doctest: +SKIP
    """
    import skprune

    names = set(_SKLEARN_STATE_TYPES)
    for module_info in pkgutil.walk_packages(skprune.__path__, prefix="skprune."):
        if module_info.name == "skprune.__main__":
            continue
        module = importlib.import_module(module_info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__:
                names.add(f"{obj.__module__}.{obj.__name__}")
    return sorted(names)
