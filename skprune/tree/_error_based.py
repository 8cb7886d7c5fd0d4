"""C4.5's error-based pruning of fitted classification trees (Quinlan, 1993).

Each node's error on unseen data is estimated pessimistically from its
training sample: to the (weighted) count ``e`` of the ``N`` samples the node
misclassifies is added the upper limit of a binomial confidence interval at
level ``confidence``, as Weka's J48 computes it. From the leaves up, a branch
becomes a leaf when the leaf's estimate is at most the branch's (summed over
its leaves) plus 0.1.
"""

from numbers import Real

import numpy as np
from scipy.special import ndtri

from ..utils._docstrings import fill_doc
from ..utils._sklearn import Interval, validate_params
from ._functions import PRUNED_COPY_DOC, check_fitted_trees, replace_trees
from ._path import (
    TreeTopology,
    collapse_bottom_up,
    collapse_nodes,
    node_misclassified_weight,
)

# J48 prunes a branch whose leaf estimate is at most the branch's plus 0.1, and
# compares with a tolerance of 1e-6.
J48_MARGIN = 0.1 + 1e-6


def added_errors(n_samples, n_errors, confidence):
    """Upper confidence limit of the errors of a leaf, minus its errors.

    Parameters
    ----------
    n_samples : ndarray
        Weighted number of samples N of each node.
    n_errors : ndarray
        Weighted number of samples e that each node misclassifies.
    confidence : float in (0, 0.5]
        The confidence level CF.

    Returns
    -------
    added : ndarray
        ``N (1 - CF^(1/N))`` when e = 0, linear interpolation between that and
        the value at e = 1 when 0 < e < 1, ``max(N - e, 0)`` when e + 0.5 >= N,
        otherwise the normal approximation with continuity correction; 0 for
        an empty node.
    """
    n_samples, n_errors = np.broadcast_arrays(
        np.asarray(n_samples, dtype=float), np.asarray(n_errors, dtype=float)
    )
    added = np.zeros(n_samples.shape)
    z = ndtri(1.0 - confidence)
    nonempty = n_samples > 0
    few = nonempty & (n_errors < 1)
    n_few, e_few = n_samples[few], n_errors[few]
    exact_zero = n_few * (1.0 - confidence ** (1.0 / n_few))
    at_one = _added_errors_from_one(n_few, np.ones_like(n_few), z)
    added[few] = exact_zero + e_few * (at_one - exact_zero)
    many = nonempty & ~few
    added[many] = _added_errors_from_one(n_samples[many], n_errors[many], z)
    return added


def _added_errors_from_one(n_samples, n_errors, z):
    """:func:`added_errors` for e >= 1, with the normal quantile ``z``."""
    added = np.maximum(n_samples - n_errors, 0.0)
    normal = n_errors + 0.5 < n_samples
    n, e = n_samples[normal], n_errors[normal]
    f = (e + 0.5) / n
    z2 = z * z
    upper = (f + z2 / (2 * n) + z * np.sqrt(f / n - f * f / n + z2 / (4 * n * n))) / (
        1 + z2 / n
    )
    added[normal] = upper * n - e
    return added


def estimated_errors(tree, confidence):
    """C4.5's estimated errors of every node of ``tree`` as a leaf.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        A fitted classification tree.
    confidence : float in (0, 0.5]

    Returns
    -------
    estimates : ndarray of shape (n_nodes,)
        ``e + added_errors(N, e, confidence)`` with N the weighted sample
        count of the node and e its misclassified weight.
    """
    n_errors = node_misclassified_weight(tree)
    return n_errors + added_errors(
        tree.weighted_n_node_samples, n_errors, confidence
    )


def prune_by_estimated_errors(tree, confidence):
    """The subtree of a scikit-learn ``Tree`` that error-based pruning keeps."""
    topology = TreeTopology(tree)
    collapsed, _ = collapse_bottom_up(
        topology, estimated_errors(tree, confidence), J48_MARGIN
    )
    return collapse_nodes(tree, collapsed, topology)


@validate_params(
    {
        "estimator": [object],
        "confidence": [Interval(Real, 0, 0.5, closed="right")],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(returns=PRUNED_COPY_DOC)
def error_based_pruning(estimator, *, confidence=0.25):
    """Prune a fitted classification tree or forest as C4.5 does.

    The estimated errors of a node as a leaf are its (weighted) misclassified
    training count ``e`` plus the upper limit of the binomial confidence
    interval of ``e`` errors in ``N`` samples at level ``confidence``, as
    Weka's J48 computes it:

    - ``N (1 - confidence^(1/N))`` when ``e = 0``;
    - linear interpolation between that and the value at ``e = 1`` when
      ``0 < e < 1``;
    - ``max(N - e, 0)`` when ``e + 0.5 >= N``;
    - otherwise the normal approximation with continuity correction: with
      ``f = (e + 0.5) / N`` and ``z`` the ``1 - confidence`` quantile of the
      standard normal distribution, ``N`` times
      ``(f + z²/2N + z sqrt(f/N - f²/N + z²/4N²)) / (1 + z²/N)``, minus ``e``.

    ``N`` is the node's ``weighted_n_node_samples``: sample weights, class
    weights and, in a forest, each tree's bootstrap counts are included. From
    the leaves up, a branch becomes a leaf when the leaf's estimate is at most
    the summed estimates of the branch's leaves plus 0.1.

    Parameters
    ----------
    estimator : fitted classification tree or forest
        A fitted :class:`~sklearn.tree.DecisionTreeClassifier`,
        :class:`~sklearn.tree.ExtraTreeClassifier`, skprune tree classifier,
        :class:`~sklearn.ensemble.RandomForestClassifier` or
        :class:`~sklearn.ensemble.ExtraTreesClassifier`. It is not modified.
    confidence : float in (0, 0.5], default=0.25
        The confidence level CF: the smaller, the more pessimistic the
        estimates and the more the tree is pruned. J48's default is 0.25.

    {returns}

    Raises
    ------
    TypeError
        If ``estimator`` is not a fitted classification tree or forest.

    Notes
    -----
    This is J48's subtree replacement. Its other operation, subtree raising,
    puts a node's largest branch in its place and sends all the node's
    training samples down that branch: it needs the training data, which a
    fitted tree does not keep, so it is not done.

    References
    ----------
    J. R. Quinlan, *C4.5: Programs for Machine Learning*, Morgan Kaufmann,
    1993, chapter 4.

    Examples
    --------
    A fitted tree pruned without any data; the lower the confidence, the
    smaller the tree:

    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skprune.tree import error_based_pruning
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    >>> int(tree.get_n_leaves())
    22
    >>> [int(error_based_pruning(tree, confidence=cf).get_n_leaves())
    ...  for cf in (0.5, 0.25, 0.01)]
    [16, 13, 12]
    """
    check_fitted_trees(estimator, classifier_only=True)
    return replace_trees(
        estimator, lambda tree: prune_by_estimated_errors(tree, confidence)
    )
