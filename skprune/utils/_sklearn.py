"""The one place where skprune touches scikit-learn's private names.

Every other module imports these names from here, so that a change in
scikit-learn's internals is mended in one file.
"""

from sklearn.base import _fit_context
from sklearn.tree._tree import NODE_DTYPE, TREE_LEAF, TREE_UNDEFINED, Tree
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
    "_fit_context",
    "validate_params",
]
