"""Reduced-error pruning of fitted trees on validation data (Quinlan, 1987).

From the leaves up, a branch becomes a leaf, predicting its training value,
when that does not increase the error on the validation data. The result is
the smallest subtree with the least validation error.
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils import check_array, check_consistent_length, get_tags
from sklearn.utils.validation import validate_data

from ..utils._docstrings import fill_doc
from ._functions import (
    PRUNED_COPY_DOC,
    TREE_OR_FOREST_DOC,
    check_fitted_trees,
    replace_trees,
)
from ._path import TIE_RTOL, TreeTopology, collapse_bottom_up, collapse_nodes


def encode_targets(estimator, y):
    """Targets as an array of shape (n_samples, n_outputs) the trees predict.

    A classifier's labels become indices into its ``classes_`` (one set per
    output), the classes its trees' ``value`` arrays are indexed by.

    Raises
    ------
    ValueError
        If the number of outputs differs from the estimator's, or a label was
        not seen in fit.
    """
    y = np.asarray(y)
    y_2d = y.reshape(-1, 1) if y.ndim == 1 else y
    if y.ndim > 2 or y_2d.shape[1] != estimator.n_outputs_:
        raise ValueError(
            f"y_val has {y_2d.shape[1] if y.ndim <= 2 else y.shape[1:]} outputs "
            f"but {type(estimator).__name__} was fitted with "
            f"{estimator.n_outputs_}."
        )
    if not is_classifier(estimator):
        return check_array(y_2d, dtype=np.float64, ensure_2d=False)
    classes = estimator.classes_ if estimator.n_outputs_ > 1 else [estimator.classes_]
    encoded = np.empty(y_2d.shape, dtype=np.intp)
    for output, output_classes in enumerate(classes):
        labels = y_2d[:, output]
        unseen = ~np.isin(labels, output_classes)
        if unseen.any():
            raise ValueError(
                f"y_val contains labels not seen in fit: {np.unique(labels[unseen])!r}"
                f"; the classes are {output_classes!r}."
            )
        encoded[:, output] = np.searchsorted(output_classes, labels)
    return encoded


def check_validation_data(estimator, X, y, sample_weight, name="X_val"):
    """Validate held-out data for a fitted tree or forest.

    Returns
    -------
    X : ndarray or CSR matrix of float32
        The samples, checked against the features seen in fit.
    y : ndarray of shape (n_samples, n_outputs)
        Targets encoded by :func:`encode_targets`.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights, ones if None.
    """
    try:
        allow_nan = get_tags(estimator).input_tags.allow_nan
        X = validate_data(
            estimator, X, reset=False, dtype=np.float32, accept_sparse="csr",
            ensure_all_finite="allow-nan" if allow_nan else True,
        )
    except ValueError as exc:
        raise ValueError(f"{name} does not match the fitted estimator: {exc}") from exc
    check_consistent_length(X, y)
    y = encode_targets(estimator, y)
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0])
    else:
        sample_weight = check_array(sample_weight, ensure_2d=False, dtype=np.float64)
        if sample_weight.shape != (X.shape[0],) or np.any(sample_weight < 0):
            raise ValueError(
                "sample_weight must be non-negative, of shape "
                f"({X.shape[0]},); got shape {sample_weight.shape}."
            )
    return X, y, sample_weight


def node_visits(tree, X):
    """Every (sample, node) pair of the samples' decision paths.

    The paths are walked up from the leaves ``tree.apply`` gives: in
    scikit-learn 1.6, ``Tree.decision_path`` does not send missing values
    the way ``apply`` and ``predict`` do (``missing_go_to_left``).

    Returns
    -------
    samples, nodes : ndarrays of int
    """
    parent = np.full(tree.node_count, -1, dtype=np.intp)
    internal = np.flatnonzero(tree.children_left != -1)
    parent[tree.children_left[internal]] = internal
    parent[tree.children_right[internal]] = internal
    samples, nodes = [], []
    node = tree.apply(X).astype(np.intp)
    sample = np.arange(X.shape[0])
    while node.size:
        samples.append(sample)
        nodes.append(node)
        node = parent[node]
        sample = sample[node >= 0]
        node = node[node >= 0]
    return np.concatenate(samples), np.concatenate(nodes)


def node_prediction_losses(tree, X, y, classifier):
    """Validation samples reaching each node, and their loss at that node.

    Returns
    -------
    samples, nodes : ndarrays of int
        One (sample, node) pair per node on each sample's decision path.
    losses : ndarray of float
        Loss of ``samples`` if ``nodes`` predicted their training value:
        misclassification, or squared error, averaged over the outputs.
    """
    samples, nodes = node_visits(tree, X)
    if classifier:
        predicted = tree.value.argmax(axis=2)[nodes]
        losses = (predicted != y[samples]).mean(axis=1)
    else:
        predicted = tree.value[nodes, :, 0]
        losses = ((predicted - y[samples]) ** 2).mean(axis=1)
    return samples, nodes, losses


def validation_error(tree, X, y, sample_weight, classifier):
    """Weighted validation error of each node of ``tree`` as a leaf."""
    samples, nodes, losses = node_prediction_losses(tree, X, y, classifier)
    return np.bincount(
        nodes, weights=sample_weight[samples] * losses, minlength=tree.node_count
    )


def _prune_on_validation(tree, X, y, sample_weight, classifier):
    leaf_error = validation_error(tree, X, y, sample_weight, classifier)
    topology = TreeTopology(tree)
    collapsed, _ = collapse_bottom_up(
        topology, leaf_error, TIE_RTOL * max(leaf_error.max(), 0.0)
    )
    return collapse_nodes(tree, collapsed, topology)


@fill_doc(estimator=TREE_OR_FOREST_DOC, returns=PRUNED_COPY_DOC)
def reduced_error_pruning(estimator, X_val, y_val, *, sample_weight=None):
    """Prune a fitted tree or forest on validation data.

    From the leaves up, a branch becomes a leaf, predicting its training
    value, when that does not increase the weighted error on the validation
    data; ties prune, equality being judged up to the rounding of weighted
    sums. This gives the smallest subtree with the least validation error. The
    error is the misclassification for classifiers and the squared error for
    regressors, averaged over the outputs. A branch that no validation sample
    reaches becomes a leaf. In a forest, each tree is pruned on the same data.

    Parameters
    ----------
    {estimator}
    X_val : {array-like, sparse matrix} of shape (n_samples, n_features)
        Validation samples, not used to grow the trees.
    y_val : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Their targets; a classifier's labels must have been seen in fit.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the validation samples.

    {returns}

    Raises
    ------
    TypeError
        If ``estimator`` is not a fitted tree or forest.
    ValueError
        If the validation data do not match the fitted estimator.

    References
    ----------
    J. R. Quinlan, "Simplifying decision trees", *International Journal of
    Man-Machine Studies* 27(3), 1987, pp. 221-234.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skprune.tree import reduced_error_pruning
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X_fit, X_val, y_fit, y_val = train_test_split(X, y, random_state=0)
    >>> tree = DecisionTreeClassifier(random_state=0).fit(X_fit, y_fit)
    >>> pruned = reduced_error_pruning(tree, X_val, y_val)
    >>> bool(pruned.score(X_val, y_val) >= tree.score(X_val, y_val))
    True
    """
    check_fitted_trees(estimator)
    X, y, sample_weight = check_validation_data(estimator, X_val, y_val, sample_weight)
    classifier = is_classifier(estimator)
    return replace_trees(
        estimator,
        lambda tree: _prune_on_validation(tree, X, y, sample_weight, classifier),
    )
