"""C4.5's error-based pruning of fitted classification trees (Quinlan, 1993).

Each node's error on unseen data is estimated pessimistically from its
training sample: to the (weighted) count ``e`` of the ``N`` samples the node
misclassifies is added the upper limit of a binomial confidence interval at
level ``confidence``, as Weka's J48 computes it. From the leaves up, a branch
becomes a leaf when the leaf's estimate is at most the branch's (summed over
its leaves) plus 0.1. With subtree raising, a branch may instead be replaced by
its largest child, into which all its training samples are sent.
"""

from numbers import Real

import numpy as np
from scipy.special import ndtri

from ..utils._docstrings import fill_doc
from ..utils._sklearn import NODE_DTYPE, TREE_LEAF, Interval, validate_params
from ._functions import FORESTS, PRUNED_COPY_DOC, check_fitted_trees, replace_trees
from ._path import (
    TreeTopology,
    collapse_bottom_up,
    collapse_nodes,
    node_misclassified_weight,
    tree_from_nodes,
)
from ._reduced_error import check_validation_data, node_visits

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


def _leaf_estimate(class_weights, confidence):
    """Estimated errors of a leaf with the given class weights (0 if empty)."""
    n_samples = class_weights.sum()
    n_errors = n_samples - class_weights.max()
    return n_errors + added_errors(n_samples, n_errors, confidence)[()]


class SubtreeRaising:
    """J48's pruning of one tree with subtree raising, on its training samples.

    The tree is held as a mutable structure over its original node ids: a
    node's split is that of ``split_of[node]`` (its own, or that of a child
    raised into its place), and every statistic is recomputed from the
    training samples routed down the current structure.

    Parameters
    ----------
    tree : sklearn.tree._tree.Tree
        A fitted single-output classification tree; it is not modified.
    X : ndarray of float32 of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
        Class indices.
    weight : ndarray of shape (n_samples,)
        Each sample's weight in the tree (bootstrap counts and class weights
        included); samples of weight zero are ignored.
    confidence : float
    """

    def __init__(self, tree, X, y, weight, confidence):
        self.tree = tree
        self.X, self.y, self.weight = X, y, weight
        self.confidence = confidence
        self.n_classes = int(tree.n_classes[0])
        self.left = tree.children_left.copy()
        self.right = tree.children_right.copy()
        self.split_of = np.arange(tree.node_count)

    def class_weights(self, samples):
        return np.bincount(
            self.y[samples], weights=self.weight[samples], minlength=self.n_classes
        )

    def route(self, node, samples):
        """The samples going left and right at ``node``."""
        split = self.split_of[node]
        values = self.X[samples, self.tree.feature[split]]
        left = values <= self.tree.threshold[split]
        if self.tree.missing_go_to_left[split]:
            left |= np.isnan(values)
        return samples[left], samples[~left]

    def branch_estimate(self, node, samples):
        """Summed leaf estimates of the branch at ``node`` for ``samples``."""
        if self.left[node] == TREE_LEAF:
            return _leaf_estimate(self.class_weights(samples), self.confidence)
        left, right = self.route(node, samples)
        return self.branch_estimate(self.left[node], left) + self.branch_estimate(
            self.right[node], right
        )

    def prune(self, node, samples):
        """Prune the branch at ``node`` as J48 does; return its estimate."""
        if self.left[node] == TREE_LEAF:
            return _leaf_estimate(self.class_weights(samples), self.confidence)
        left, right = self.route(node, samples)
        tree_estimate = self.prune(self.left[node], left) + self.prune(
            self.right[node], right
        )
        # the largest branch by weight, the left one on ties
        largest = (
            self.left[node]
            if self.weight[left].sum() >= self.weight[right].sum()
            else self.right[node]
        )
        raised_estimate = self.branch_estimate(largest, samples)
        leaf_estimate = _leaf_estimate(self.class_weights(samples), self.confidence)
        if leaf_estimate <= min(tree_estimate, raised_estimate) + J48_MARGIN:
            self.left[node] = self.right[node] = TREE_LEAF
            return leaf_estimate
        if raised_estimate <= tree_estimate + J48_MARGIN:
            self.left[node], self.right[node] = self.left[largest], self.right[largest]
            self.split_of[node] = self.split_of[largest]
            return self.prune(node, samples)
        return tree_estimate

    def pruned_tree(self, criterion):
        """Prune from the root and build the scikit-learn ``Tree``."""
        samples = np.flatnonzero(self.weight > 0)
        self.prune(0, samples)
        rows, values = [], []
        self._collect(0, samples, rows, values, criterion)
        nodes = np.zeros(len(rows), dtype=NODE_DTYPE)
        for field in NODE_DTYPE.names:
            nodes[field] = [row[field] for row in rows]
        return tree_from_nodes(self.tree, nodes, np.asarray(values)[:, None, :])

    def _collect(self, node, samples, rows, values, criterion):
        """Append the nodes of the branch at ``node`` in preorder."""
        class_weights = self.class_weights(samples)
        total = class_weights.sum()
        fractions = class_weights / total
        row = self._split_fields(node)
        row.update(
            left_child=TREE_LEAF,
            right_child=TREE_LEAF,
            impurity=class_impurity(fractions, criterion),
            n_node_samples=samples.shape[0],
            weighted_n_node_samples=total,
        )
        rows.append(row)
        values.append(fractions)
        if self.left[node] != TREE_LEAF:
            left, right = self.route(node, samples)
            row["left_child"] = len(rows)
            self._collect(self.left[node], left, rows, values, criterion)
            row["right_child"] = len(rows)
            self._collect(self.right[node], right, rows, values, criterion)

    def _split_fields(self, node):
        split = self.split_of[node]
        return {
            "feature": self.tree.feature[split],
            "threshold": self.tree.threshold[split],
            "missing_go_to_left": self.tree.missing_go_to_left[split],
        }


def class_impurity(fractions, criterion):
    """Gini or entropy (in bits, as scikit-learn) of class fractions."""
    if criterion == "gini":
        return 1.0 - np.sum(fractions**2)
    present = fractions[fractions > 0]
    return float(-np.sum(present * np.log2(present)))


def tree_training_weights(tree, X, y, sample_weight, drawn=None):
    """Each training sample's weight in ``tree``, checked against the tree.

    A tree of a bootstrap forest weighs a sample by the number of times it
    was ``drawn``, times its sample weight up to scikit-learn 1.6 (later
    versions draw in proportion to the weights instead): both are tried.
    Class weights (given, balanced or balanced per bootstrap sample) scale
    each class alike within a tree, so they are read off the root: the class
    weights it holds over those of the other factors.

    Raises
    ------
    ValueError
        If no candidate gives the tree's class weights at every node: ``X``,
        ``y`` and ``sample_weight`` are not the data it was fitted on, or the
        tree was fitted on their missing values by a scikit-learn (before
        1.8) that did not send the samples where its splits send them.
    """
    candidates = [sample_weight] if drawn is None else [drawn * sample_weight, drawn]
    for base_weight in candidates:
        base = np.bincount(y, weights=base_weight, minlength=int(tree.n_classes[0]))
        grown = tree.value[0, 0] * tree.weighted_n_node_samples[0]
        factor = np.divide(grown, base, out=np.zeros_like(base), where=base > 0)
        weight = base_weight * factor[y]
        if _gives_node_weights(tree, X, y, weight):
            return weight
    message = (
        "subtree_raising=True needs X, y and sample_weight to be the data the "
        "estimator was fitted on: they do not give the trees' node weights."
    )
    if np.isnan(X[:, tree.feature[tree.children_left != TREE_LEAF]]).any():
        message += (
            " If they are, the estimator was fitted on these missing values by "
            "scikit-learn before 1.8, which could put some samples of a node "
            "in the other child than its split (threshold and "
            "missing_go_to_left) sends them to, where the split's feature has "
            "missing values; the tree does not record which. Refit it with "
            "scikit-learn 1.8 or later, or on data with the missing values "
            "imputed, or prune it with subtree_raising=False."
        )
    raise ValueError(message)


def _gives_node_weights(tree, X, y, weight):
    """Whether the samples give the tree's class weights at every node."""
    samples, nodes = node_visits(tree, X)
    n_classes = int(tree.n_classes[0])
    routed = np.bincount(
        nodes * n_classes + y[samples],
        weights=weight[samples],
        minlength=tree.node_count * n_classes,
    ).reshape(tree.node_count, n_classes)
    expected = tree.value[:, 0] * tree.weighted_n_node_samples[:, None]
    return np.allclose(routed, expected, rtol=1e-6, atol=1e-9 * expected[0].sum())


def _raised_trees(estimator, X, y, sample_weight, confidence):
    """The trees of ``estimator`` pruned with subtree raising, in order."""
    X, y, sample_weight = check_validation_data(estimator, X, y, sample_weight, "X")
    if y.shape[1] != 1:
        raise ValueError("subtree_raising=True needs a single-output classifier.")
    if not isinstance(X, np.ndarray):
        X = X.toarray()
    y = y[:, 0]
    if isinstance(estimator, FORESTS):
        trees = estimator.estimators_
        if estimator.bootstrap:
            draws = [
                np.bincount(samples, minlength=X.shape[0])
                for samples in estimator.estimators_samples_
            ]
        else:
            draws = [None] * len(trees)
    else:
        trees, draws = [estimator], [None]
    pruned = {}
    for tree, drawn in zip(trees, draws):
        weight = tree_training_weights(tree.tree_, X, y, sample_weight, drawn)
        raising = SubtreeRaising(tree.tree_, X, y, weight, confidence)
        pruned[id(tree.tree_)] = raising.pruned_tree(tree.criterion)
    return pruned


@validate_params(
    {
        "estimator": [object],
        "X": ["array-like", "sparse matrix", None],
        "y": ["array-like", None],
        "confidence": [Interval(Real, 0, 0.5, closed="right")],
        "subtree_raising": ["boolean"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(returns=PRUNED_COPY_DOC)
def error_based_pruning(
    estimator, X=None, y=None, *, confidence=0.25, subtree_raising=False,
    sample_weight=None,
):
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

    With ``subtree_raising=True``, as J48 does by default, a branch may also
    be replaced by its largest child (by weight), into which all the
    branch's training samples are then sent: the child takes the branch's
    place when the estimate of the child's branch on all those samples is at
    most the branch's plus 0.1 (and the branch does not become a leaf), and
    is pruned again. The raised nodes' class fractions, weights, sample
    counts and impurities are recomputed from the training samples, which
    must be given as ``X``, ``y`` and ``sample_weight``.

    Parameters
    ----------
    estimator : fitted classification tree or forest
        A fitted :class:`~sklearn.tree.DecisionTreeClassifier`,
        :class:`~sklearn.tree.ExtraTreeClassifier`, skprune tree classifier,
        :class:`~sklearn.ensemble.RandomForestClassifier` or
        :class:`~sklearn.ensemble.ExtraTreesClassifier`. It is not modified.
    X : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
        The data ``estimator`` was fitted on; only with
        ``subtree_raising=True``, which needs it.
    y : array-like of shape (n_samples,), default=None
        The class labels ``estimator`` was fitted on; only with
        ``subtree_raising=True``.
    confidence : float in (0, 0.5], default=0.25
        The confidence level CF: the smaller, the more pessimistic the
        estimates and the more the tree is pruned. J48's default is 0.25.
    subtree_raising : bool, default=False
        Whether a branch may be replaced by its largest child, as J48 does.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights ``estimator`` was fitted with; only with
        ``subtree_raising=True``. A forest's bootstrap counts and the class
        weights are taken from the fitted trees.

    {returns}

    Raises
    ------
    TypeError
        If ``estimator`` is not a fitted classification tree or forest.
    ValueError
        If ``subtree_raising=True`` without ``X`` and ``y``, or with data that
        do not give the fitted trees' node weights; or if ``X``, ``y`` or
        ``sample_weight`` are given without ``subtree_raising=True``.

    Notes
    -----
    Without subtree raising this is J48 run with ``-S``. Subtree raising
    needs the training data, which a fitted tree does not keep, hence ``X``
    and ``y``; it walks the trees in Python and takes seconds for a forest of
    fully grown trees on a few thousand samples. A tree fitted on data with
    missing values by scikit-learn before 1.8 is refused with an error that
    says so: when the feature of a split had missing values, that fitting
    could send some of the node's samples to the other child than the split
    (threshold and ``missing_go_to_left``) sends them, depending on the
    order the samples were in, so its training samples cannot be routed
    again.

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
    data = {"X": X, "y": y, "sample_weight": sample_weight}
    given = [name for name, value in data.items() if value is not None]
    if not subtree_raising:
        if given:
            raise ValueError(
                f"{', '.join(given)} only serve subtree raising: pass "
                "subtree_raising=True or leave them out."
            )
        return replace_trees(
            estimator, lambda tree: prune_by_estimated_errors(tree, confidence)
        )
    if X is None or y is None:
        raise ValueError("subtree_raising=True needs the training data X and y.")
    raised = _raised_trees(estimator, X, y, sample_weight, confidence)
    return replace_trees(estimator, lambda tree: raised[id(tree)])
