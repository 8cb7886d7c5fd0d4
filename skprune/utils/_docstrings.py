"""Docstring fragments shared across subpackages, and how they are filled in.

A docstring names a fragment by a line holding only ``{name}``;
:func:`fill_doc` puts the fragment there at that line's indentation, so one
fragment serves module functions and methods alike. Class docstrings are
assembled from module-level strings directly, as scikit-learn does.
"""

import re
import textwrap

_PLACEHOLDER = re.compile(r"^([ \t]*)\{(\w+)\}[ \t]*$", re.MULTILINE)


def fill_doc(**fragments):
    """Put the named ``fragments`` into the docstring of the decorated object.

    Parameters
    ----------
    **fragments : str
        Text for each placeholder line ``{name}`` of the docstring, written
        without indentation.

    Returns
    -------
    decorate : callable
        Sets the filled docstring on the object it is given and returns it.
    """

    def fill(match):
        indent, name = match.groups()
        text = textwrap.dedent(fragments[name]).strip("\n")
        return textwrap.indent(text, indent)

    def decorate(obj):
        obj.__doc__ = _PLACEHOLDER.sub(fill, obj.__doc__)
        return obj

    return decorate


# The input of a method that predicts or transforms.
INPUT_DOC = """
Parameters
----------
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    The input data.
"""

# The data of ``fit`` and ``partial_fit`` and what they return.
FIT_DATA_DOC = """
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    The input data.
y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    The target values (class labels for classifiers, real numbers for
    regressors).
"""

FIT_PARAMETERS_DOC = (
    """
Parameters
----------"""
    + FIT_DATA_DOC
    + """sample_weight : array-like of shape (n_samples,), default=None
    Sample weights.
"""
)

RETURNS_SELF_DOC = """
Returns
-------
self : object
    Fitted estimator.
"""

PREDICT_PROBA_RETURNS_DOC = """
Returns
-------
y_prob : ndarray of shape (n_samples, n_classes)
    Probability of each class, in the order of ``classes_``.
"""

PREDICT_LOG_PROBA_RETURNS_DOC = """
Returns
-------
log_y_prob : ndarray of shape (n_samples, n_classes)
    Log-probability of each class, in the order of ``classes_``.
"""
