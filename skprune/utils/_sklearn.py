"""The one place where skprune touches scikit-learn's private names.

Every other module imports these names from here, so that a change in
scikit-learn's internals is mended in one file.
"""

import numbers

import numpy as np
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
from sklearn.utils.validation import _check_sample_weight

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
    "check_sample_weight",
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


def check_sample_weight(sample_weight, X, *, dtype=None, non_negative=False):
    """``sample_weight`` as a float array of one weight per sample of ``X``.

    A scalar (a Python or numpy number, or a 0-d array) weighs every sample
    the same. Raises a ValueError naming ``sample_weight`` when it has the
    wrong shape, holds NaN, infinity or non-numbers, is all zero, or, with
    ``non_negative``, holds a negative weight.
    """
    if isinstance(sample_weight, (numbers.Number, str)) or (
        isinstance(sample_weight, np.ndarray) and sample_weight.ndim == 0
    ):
        sample_weight = _scalar_weight(sample_weight)
    try:
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=dtype, ensure_non_negative=non_negative
        )
    except (TypeError, ValueError) as exc:
        if "sample_weight" in str(exc) or "Sample weights" in str(exc):
            raise
        raise ValueError(f"sample_weight must hold numbers: {exc}") from exc
    # Not checked by every supported version of scikit-learn.
    if not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def _scalar_weight(sample_weight):
    try:
        return float(sample_weight)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"sample_weight must be a number or an array of numbers, got "
            f"{sample_weight!r}."
        ) from exc
