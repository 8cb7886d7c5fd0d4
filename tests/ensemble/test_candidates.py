"""The layout of the refitted candidates in the tables of candidates."""

import numpy as np

from skprune.ensemble._candidates import RefitRows, stack_rows


def test_stacked_rows_follow_the_levels_kind_by_kind():
    n_nodes = np.cumsum(np.arange(1, 41).reshape(4, 10), axis=1).astype(float)
    first = RefitRows(levels=(3,), fractions=(0.3, 0.5))
    second = RefitRows(levels=(1, 2, 9), fractions=(0.2,))
    table, describe = stack_rows(n_nodes, [first, second])
    # the levels, then the rows of each kind, each as its own layout has them
    np.testing.assert_array_equal(table[:4], n_nodes)
    np.testing.assert_array_equal(
        table[4], [n_nodes[3, 2], n_nodes[3, 4]] + [np.inf] * 8
    )
    np.testing.assert_array_equal(table[5], [n_nodes[1, 1]] + [np.inf] * 9)
    np.testing.assert_array_equal(table[6], [n_nodes[2, 1]] + [np.inf] * 9)
    assert table.shape == (7, 10)
    assert describe(2, 6) == (2, 7, 0)
    assert describe(4, 1) == (3, 5, 1)
    assert describe(5, 0) == (1, 2, 2)
    assert describe(6, 0) == (2, 2, 2)
