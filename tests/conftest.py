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


@pytest.fixture(name="assert_is_pruning_of")
def assert_is_pruning_of_fixture():
    return assert_is_pruning_of
