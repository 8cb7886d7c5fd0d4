"""Tree pruning: skprune against scikit-learn, as ratios measured side by side.

Three measurements on ``make_classification(n_samples=20000, n_features=20,
n_informative=10, flip_y=0.1, random_state=0)``, where the grown tree has about
two thousand leaves:

1. choosing ``ccp_alpha`` among 30 alphas by 5-fold cross-validation:
   :class:`~skprune.tree.PrunedTreeClassifierCV` (one tree per fold, its path
   scored at every alpha) against :class:`~sklearn.model_selection.GridSearchCV`
   over :class:`~sklearn.tree.DecisionTreeClassifier` (one tree per fold and
   alpha). Both see the same folds and the same alphas, both use
   ``selection="best"`` semantics and one core, and both refit on all the data.
   The chosen alpha and the mean test scores must be the same;
2. pruning a fitted tree at several alphas: ``PrunedTreeClassifier.prune``
   against refitting ``DecisionTreeClassifier(ccp_alpha=alpha)``. The pruned
   trees must be the same;
3. the pruning path of a fitted tree:
   :func:`skprune.tree.cost_complexity_path` against scikit-learn's
   ``cost_complexity_pruning_path``, which refits. The paths must be the same.
   The misclassification-risk path is reported beside them.

The machine may be shared and noisy: each measurement is repeated, ours and
scikit-learn's in alternation (the order flips every repeat, so drifting load
hits both), and the medians are compared. The ratio is scikit-learn's median
time over skprune's: above 1 means skprune is faster.

Run from the repository root with ``python benchmarks/bench_tree.py`` (skprune
installed, or ``PYTHONPATH=.``); ``--quick`` makes a smoke run on less data and
``--markdown FILE`` also writes the table to ``FILE``. The exit status is 1 if
skprune and scikit-learn disagree on a result.
"""

import argparse
import platform
import sys
import time

import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from skprune.tree import (
    PrunedTreeClassifier,
    PrunedTreeClassifierCV,
    cost_complexity_path,
)

SEED = 0
N_ALPHAS = 30
N_FOLDS = 5
N_PRUNE_ALPHAS = 5

# data size and repeats per measurement: (cross-validation, prune, path)
SETTINGS = {
    "full": {"n_samples": 20000, "repeats": (3, 5, 7)},
    "quick": {"n_samples": 2000, "repeats": (1, 3, 3)},
}

GOALS = {"cv": 15.0, "prune": 100.0, "path": 20.0}


def timed(func):
    """Run ``func()`` once; return its result and the elapsed seconds."""
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def side_by_side(ours, theirs, repeats):
    """Time ``ours()`` and ``theirs()`` alternately ``repeats`` times each.

    The order flips at every repeat. Returns the last results of both and the
    lists of their times.
    """
    times = {"ours": [], "theirs": []}
    results = {}
    for repeat in range(repeats):
        order = [("ours", ours), ("theirs", theirs)]
        if repeat % 2:
            order.reverse()
        for name, func in order:
            results[name], seconds = timed(func)
            times[name].append(seconds)
    return results["ours"], results["theirs"], times["ours"], times["theirs"]


def same_tree(tree_a, tree_b):
    """Whether two scikit-learn ``Tree`` objects have the same nodes and values."""
    return (
        tree_a.node_count == tree_b.node_count
        and np.array_equal(tree_a.children_left, tree_b.children_left)
        and np.array_equal(tree_a.children_right, tree_b.children_right)
        and np.array_equal(tree_a.feature, tree_b.feature)
        and np.array_equal(tree_a.threshold, tree_b.threshold)
        and np.array_equal(tree_a.value, tree_b.value)
    )


def bench_cv(X, y, grid, repeats):
    """PrunedTreeClassifierCV against GridSearchCV on the same folds and alphas."""
    folds = StratifiedKFold(n_splits=N_FOLDS)
    ours_estimator = PrunedTreeClassifierCV(
        ccp_alphas=grid, cv=folds, selection="best", random_state=SEED
    )
    theirs_estimator = GridSearchCV(
        DecisionTreeClassifier(random_state=SEED), {"ccp_alpha": grid}, cv=folds
    )
    ours, theirs, ours_times, theirs_times = side_by_side(
        lambda: ours_estimator.fit(X, y), lambda: theirs_estimator.fit(X, y), repeats
    )
    theirs_alpha = theirs.best_params_["ccp_alpha"]
    ours_scores = ours.cv_results_["mean_test_score"]
    score_gap = np.max(np.abs(ours_scores - theirs.cv_results_["mean_test_score"]))
    checks = {
        "chosen alpha (skprune)": f"{ours.ccp_alpha_:.6g}",
        "chosen alpha (scikit-learn)": f"{theirs_alpha:.6g}",
        "same chosen alpha": ours.ccp_alpha_ == theirs_alpha,
        "max |mean test score difference| over the grid": f"{score_gap:.3g}",
        "same refitted tree": same_tree(ours.tree_, theirs.best_estimator_.tree_),
    }
    return ours_times, theirs_times, checks, ours.ccp_alpha_ == theirs_alpha


def bench_prune(X, y, alphas, repeats):
    """``prune`` of a fitted tree against refitting scikit-learn's tree, per alpha."""
    fitted = PrunedTreeClassifier(random_state=SEED).fit(X, y)
    fitted.prune(alphas[0])  # warm up

    def ours():
        return [fitted.prune(alpha) for alpha in alphas]

    def theirs():
        return [
            DecisionTreeClassifier(ccp_alpha=alpha, random_state=SEED).fit(X, y)
            for alpha in alphas
        ]

    ours_trees, theirs_trees, ours_times, theirs_times = side_by_side(
        ours, theirs, repeats
    )
    same = all(
        same_tree(a.tree_, b.tree_) for a, b in zip(ours_trees, theirs_trees)
    )
    checks = {
        "alphas": ", ".join(f"{alpha:.3g}" for alpha in alphas),
        "leaves": ", ".join(str(tree.get_n_leaves()) for tree in ours_trees),
        "same pruned trees": same,
    }
    return ours_times, theirs_times, checks, same


def bench_path(X, y, repeats):
    """``cost_complexity_path`` of a fitted tree against scikit-learn's refit."""
    fitted = DecisionTreeClassifier(random_state=SEED).fit(X, y)
    cost_complexity_path(fitted)  # warm up
    ours, theirs, ours_times, theirs_times = side_by_side(
        lambda: cost_complexity_path(fitted),
        lambda: DecisionTreeClassifier(random_state=SEED).cost_complexity_pruning_path(
            X, y
        ),
        repeats,
    )
    same = np.array_equal(ours.ccp_alphas, theirs.ccp_alphas) and np.array_equal(
        ours.impurities, theirs.impurities
    )
    misclassification, seconds = timed(
        lambda: cost_complexity_path(fitted, risk="misclassification")
    )
    checks = {
        "same path": same,
        "impurity path": _describe_path(ours),
        "misclassification path": _describe_path(misclassification)
        + f", computed in {seconds:.4f} s",
    }
    return ours_times, theirs_times, checks, same


def _describe_path(path):
    n_distinct = np.unique(path.ccp_alphas).shape[0]
    return (
        f"{path.ccp_alphas.shape[0]} subtrees, {n_distinct} distinct alphas, "
        f"{path.n_leaves[0]} to {path.n_leaves[-1]} leaves, "
        f"largest alpha {path.ccp_alphas[-1]:.4g}"
    )


def alpha_grid(X, y):
    """The 30 alphas to choose from: rpart's grid of the full-data path, thinned.

    ``PrunedTreeClassifierCV(ccp_alphas=30)`` takes the geometric means of
    consecutive effective alphas of the path of the tree grown on all the data
    and keeps 30 of them, evenly spread along the path.
    """
    estimator = PrunedTreeClassifierCV(ccp_alphas=N_ALPHAS, cv=2, random_state=SEED)
    return estimator.fit(X, y).ccp_alphas_


def markdown_table(rows):
    lines = [
        "| measurement | skprune median s | scikit-learn median s | ratio | goal "
        "| met? |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, ours_times, theirs_times, goal, correct in rows:
        ours, theirs = np.median(ours_times), np.median(theirs_times)
        ratio = theirs / ours
        met = "yes" if ratio >= goal and correct else "no"
        if not correct:
            met += " (results differ)"
        lines.append(
            f"| {name} | {ours:.4g} | {theirs:.4g} | {ratio:.1f}x | >= {goal:g}x "
            f"| {met} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: less data, fewer repeats"
    )
    parser.add_argument(
        "--markdown", metavar="FILE", help="also write the markdown table to FILE"
    )
    args = parser.parse_args(argv)
    setting = SETTINGS["quick" if args.quick else "full"]
    cv_repeats, prune_repeats, path_repeats = setting["repeats"]

    start = time.perf_counter()
    X, y = make_classification(
        n_samples=setting["n_samples"],
        n_features=20,
        n_informative=10,
        flip_y=0.1,
        random_state=SEED,
    )
    print(
        f"make_classification(n_samples={setting['n_samples']}, n_features=20, "
        "n_informative=10, flip_y=0.1, random_state=0)"
    )
    print(
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, {platform.machine()}"
    )
    grid = alpha_grid(X, y)
    print(f"\n{grid.shape[0]} alphas for cross-validation:")
    print(np.array2string(grid, precision=4, max_line_width=88))
    prune_alphas = grid[np.linspace(1, grid.shape[0] - 2, N_PRUNE_ALPHAS).astype(int)]

    rows, all_checks = [], {}
    benches = [
        (
            f"PrunedTreeClassifierCV vs GridSearchCV, {grid.shape[0]} alphas x "
            f"{N_FOLDS} folds (x{cv_repeats})",
            "cv",
            lambda: bench_cv(X, y, grid, cv_repeats),
        ),
        (
            f"prune() vs refit with ccp_alpha, {N_PRUNE_ALPHAS} alphas "
            f"(x{prune_repeats})",
            "prune",
            lambda: bench_prune(X, y, prune_alphas, prune_repeats),
        ),
        (
            "cost_complexity_path(tree) vs cost_complexity_pruning_path(X, y) "
            f"(x{path_repeats})",
            "path",
            lambda: bench_path(X, y, path_repeats),
        ),
    ]
    for name, key, bench in benches:
        print(f"\nrunning: {name}", flush=True)
        ours_times, theirs_times, checks, correct = bench()
        print("  skprune s:      " + ", ".join(f"{t:.4g}" for t in ours_times))
        print("  scikit-learn s: " + ", ".join(f"{t:.4g}" for t in theirs_times))
        for label, value in checks.items():
            print(f"  {label}: {value}")
        rows.append((name, ours_times, theirs_times, GOALS[key], correct))
        all_checks[key] = checks

    table = markdown_table(rows)
    print()
    print(table)
    if args.quick:
        print(
            "\n--quick: the goals are set for the full run; here they are indicative."
        )
    print(f"\nTotal run time: {time.perf_counter() - start:.0f} s")
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table + "\n")
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
