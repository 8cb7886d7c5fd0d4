"""The pruning curve held in the ``cv_results_`` of any search.

A search (:class:`~sklearn.model_selection.GridSearchCV`,
:class:`~sklearn.model_selection.RandomizedSearchCV`, a skprune CV estimator)
stores one row per candidate. The curve of a pruning knob is the rows where
every other searched parameter is at its value in the best candidate, ordered
by the knob.
"""

import numpy as np

# The knobs skprune estimators are pruned by, in the order they are looked for.
PRUNING_KNOBS = ("sparsity", "ccp_alpha", "max_score_loss")


def split_scores(cv_results, kind, rows=slice(None)):
    """Per-split scores of one kind as an array of shape (n_rows, n_splits)."""
    suffix = f"_{kind}_score"
    keys = sorted(
        (k for k in cv_results if k.startswith("split") and k.endswith(suffix)),
        key=lambda k: int(k[len("split") : -len(suffix)]),
    )
    if not keys:
        return None
    return np.column_stack([np.asarray(cv_results[k], dtype=float)[rows] for k in keys])


def searched_parameters(cv_results):
    """The names of the parameters of ``cv_results``, without ``param_``."""
    return [key[len("param_") :] for key in cv_results if key.startswith("param_")]


def resolve_knob(cv_results, param):
    """The full name of the knob in ``cv_results``.

    ``param`` is a parameter name as searched (``"prunedmlpclassifier__sparsity"``)
    or its last part (``"sparsity"``); None looks for the pruning knobs.
    """
    names = searched_parameters(cv_results)
    if not names:
        raise ValueError(
            "cv_results holds no 'param_<name>' entry; pass the cv_results_ of a "
            "search such as GridSearchCV or of a skprune CV estimator."
        )
    wanted = PRUNING_KNOBS if param is None else (param,)
    for knob in wanted:
        matches = [n for n in names if n == knob or n.endswith(f"__{knob}")]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValueError(
                f"Several searched parameters end with {knob!r}: {matches}; pass "
                "param= one of them."
            )
    if param is None and len(names) == 1:
        return names[0]
    hint = f"param={param!r} is not one of them" if param is not None else (
        f"none of them is a pruning knob ({', '.join(PRUNING_KNOBS)})"
    )
    raise ValueError(
        f"The searched parameters are {names}; {hint}. Pass param= the name of "
        "the knob to draw, as in cv_results (a Pipeline's step prefix may be left "
        "out)."
    )


def best_row(cv_results, best_index):
    """The index of the best candidate: ``best_index`` or the first of rank 1."""
    if best_index is not None:
        return int(best_index)
    if "rank_test_score" in cv_results:
        return int(np.argmin(np.asarray(cv_results["rank_test_score"])))
    if "mean_test_score" in cv_results:
        return int(np.nanargmax(np.asarray(cv_results["mean_test_score"], dtype=float)))
    raise ValueError(
        "cv_results has neither rank_test_score nor mean_test_score; pass "
        "best_index= the row of the chosen candidate (the search's best_index_)."
    )


def curve_rows(cv_results, knob, best):
    """Rows of the curve of ``knob``, ordered by it.

    The other searched parameters are held at their values in row ``best``.
    """
    n_rows = len(cv_results[f"param_{knob}"])
    keep = np.ones(n_rows, dtype=bool)
    for name in searched_parameters(cv_results):
        if name == knob:
            continue
        column = cv_results[f"param_{name}"]
        held = column[best]
        keep &= np.array([_same(column[i], held) for i in range(n_rows)])
    rows = np.flatnonzero(keep)
    values = _knob_values(cv_results[f"param_{knob}"], rows, knob)
    order = np.argsort(values, kind="stable")
    return rows[order], values[order]


def _same(value, other):
    masked = np.ma.is_masked(value), np.ma.is_masked(other)
    if any(masked):
        return all(masked)
    try:
        return bool(value == other)
    except (TypeError, ValueError):
        return value is other


def _knob_values(column, rows, knob):
    values = [column[i] for i in rows]
    if any(np.ma.is_masked(v) for v in values):
        raise ValueError(
            f"Some candidates of the curve have no value of {knob!r} (the search "
            "had several parameter grids); pass the cv_results of one grid."
        )
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The values of {knob!r} are not numbers: {values[:3]}...; pass param= "
            "a numeric knob."
        ) from exc


def sem_of(cv_results, rows, test_scores):
    """Standard error of the mean test score on ``rows``, as the path CV computes it."""
    if "sem_test_score" in cv_results:
        return np.asarray(cv_results["sem_test_score"], dtype=float)[rows]
    n_splits = test_scores.shape[1]
    if n_splits < 2:
        return None
    return test_scores.std(axis=1, ddof=1) / np.sqrt(n_splits)
