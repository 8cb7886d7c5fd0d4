"""The one place where skprune touches scikit-learn's private names.

Every other module imports these names from here, so that a change in
scikit-learn's internals is mended in one file.
"""

from sklearn.base import _fit_context
from sklearn.tree._tree import NODE_DTYPE, TREE_LEAF, TREE_UNDEFINED, Tree
from sklearn.utils.validation import _check_sample_weight
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    RealNotInt,
    StrOptions,
    validate_params,
)

__all__ = [
    "NODE_DTYPE",
    "TREE_LEAF",
    "TREE_UNDEFINED",
    "HasMethods",
    "Hidden",
    "Interval",
    "RealNotInt",
    "StrOptions",
    "Tree",
    "_check_sample_weight",
    "_fit_context",
    "scorer_accepts_sample_weight",
    "validate_params",
]


def scorer_accepts_sample_weight(scorer):
    """Whether ``scorer`` takes a ``sample_weight`` keyword.

    Scorers made by scikit-learn say so themselves; a plain callable is asked
    through its signature.
    """
    import inspect

    if hasattr(scorer, "_accept_sample_weight"):
        return scorer._accept_sample_weight()
    return "sample_weight" in inspect.signature(scorer).parameters
