"""Checks shared by the tests of pruned trees and ensembles."""

import numpy as np
import pytest


def leaves_of(pruned, original, X):
    """Original node ids of the leaves the pruned estimator sends ``X`` to."""
    paths = original.decision_path(X)
    depth_in_pruned = np.asarray(pruned.decision_path(X).sum(axis=1)).ravel() - 1
    leaves = []
    for i, depth in enumerate(depth_in_pruned):
        path = paths.indices[paths.indptr[i] : paths.indptr[i + 1]]
        leaves.append(np.sort(path)[depth])
    return np.asarray(leaves)


def assert_is_pruning_of(pruned, original, X):
    """``pruned`` is ``original`` with some branches made leaves."""
    ours, theirs = pruned.tree_, original.tree_
    assert ours.node_count <= theirs.node_count
    leaves = leaves_of(pruned, original, X)
    np.testing.assert_array_equal(ours.value[pruned.apply(X)], theirs.value[leaves])
    return leaves


@pytest.fixture(name="leaves_of")
def leaves_of_fixture():
    return leaves_of


@pytest.fixture(name="assert_is_pruning_of")
def assert_is_pruning_of_fixture():
    return assert_is_pruning_of


@pytest.fixture
def needs_missing_value_paths():
    """Skip where a tree's routing of missing values is inconsistent.

    In scikit-learn 1.6, ``decision_path`` does not send missing values the
    way ``apply`` does, and ``apply`` does not send the training samples
    where fitting did: the references, and subtree raising, which checks
    that the data give the tree's node weights, cannot hold there.
    """
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    X[rng.random(X.shape) < 0.3] = np.nan
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    paths = tree.decision_path(X)
    leaves = tree.apply(X)
    fitted = tree.tree_.n_node_samples[tree.tree_.children_left == -1]
    routed = np.bincount(leaves, minlength=tree.tree_.node_count)
    if np.any(paths.indices[paths.indptr[1:] - 1] != leaves) or np.any(
        routed[tree.tree_.children_left == -1] != fitted
    ):
        pytest.skip("this scikit-learn routes missing values inconsistently")
