"""Where the refitted candidates sit in the tables of candidates.

The candidates of an ensemble are laid out as a table: row ``level``, column
``k - 1`` is its first k trees (or stages) at that level, so that sizes
increase along a row. Refitting every one of them would cost too much, so a
few levels and sizes get a refitted candidate too, in extra rows after the
levels, padded with ``inf`` nodes (and ``-inf`` scores) past their last size.
"""

import numpy as np


class RefitRows:
    """The refitted candidates: a few levels, each at a few fractions of the trees.

    Parameters
    ----------
    levels : tuple of int
        Levels given refitted candidates (those below the number of levels).
    fractions : tuple of float
        Fractions of the trees or stages kept by them.
    """

    def __init__(self, levels, fractions):
        self.levels = levels
        self.fractions = fractions

    def layout(self, n_levels, n_trees):
        """Levels and sizes of the rows: ``(levels, sizes)``."""
        levels = [level for level in self.levels if level < n_levels]
        sizes = np.unique([max(1, round(f * n_trees)) for f in self.fractions])
        return levels, sizes

    def extend(self, n_nodes):
        """The table of node counts with the refitted rows, and its key.

        Parameters
        ----------
        n_nodes : ndarray of shape (n_levels, n_trees)
            Node counts of the first k trees at each level.

        Returns
        -------
        n_nodes : ndarray of float of shape (n_levels + n_rows, n_trees)
        describe : callable
            ``describe(row, column)`` gives ``(level, n_trees, refitted)``.
        """
        n_levels, n_trees = n_nodes.shape
        levels, sizes = self.layout(n_levels, n_trees)
        rows = np.full((len(levels), n_trees), np.inf)
        for row, level in enumerate(levels):
            rows[row, : sizes.size] = n_nodes[level, sizes - 1]

        def describe(row, column):
            if row < n_levels:
                return row, column + 1, False
            return levels[row - n_levels], int(sizes[column]), True

        return np.concatenate([n_nodes, rows]), describe

    def scores(self, n_levels, n_trees, score_of):
        """Scores of the refitted rows, padded with ``-inf``.

        Parameters
        ----------
        n_levels, n_trees : int
        score_of : callable
            ``score_of(level, k)``: the score of the first k trees at
            ``level``, refitted.

        Returns
        -------
        scores : ndarray of shape (n_rows, n_trees)
        """
        levels, sizes = self.layout(n_levels, n_trees)
        scores = np.full((len(levels), n_trees), -np.inf)
        for row, level in enumerate(levels):
            for column, size in enumerate(sizes):
                scores[row, column] = score_of(level, int(size))
        return scores


def stack_rows(n_nodes, row_sets):
    """The table of node counts with the rows of several kinds of refit.

    Parameters
    ----------
    n_nodes : ndarray of shape (n_levels, n_trees)
        Node counts of the first k trees at each level.
    row_sets : list of RefitRows
        One per kind of refit; their rows follow each other after the levels.

    Returns
    -------
    n_nodes : ndarray of float of shape (n_levels + n_rows, n_trees)
    describe : callable
        ``describe(row, column)`` gives ``(level, n_trees, kind)``: ``kind`` is
        0 for the first trees at a level as they are, ``i + 1`` for a
        candidate of ``row_sets[i]``.
    """
    n_levels = n_nodes.shape[0]
    tables, describes = zip(*(rows.extend(n_nodes) for rows in row_sets))
    extra = [table[n_levels:] for table in tables]
    # the first row of each kind: the levels, then each set's rows
    starts = np.cumsum([0, n_levels] + [rows.shape[0] for rows in extra])

    def describe(row, column):
        kind = int(np.searchsorted(starts, row, side="right")) - 1
        if kind == 0:
            return row, column + 1, 0
        level, size, _ = describes[kind - 1](row - starts[kind] + n_levels, column)
        return level, size, kind

    return np.concatenate([n_nodes, *extra]), describe
