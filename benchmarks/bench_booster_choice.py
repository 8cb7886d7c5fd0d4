"""How the cross-validated choice of a booster's pruning fares on the test set.

For ``GradientBoostingClassifier(200)`` on a stratified 75/25 split (as
``bench_ensemble.py`` makes them), every candidate of
:class:`skprune.ensemble.EnsemblePruner`'s table (the first k stages at each
level, the jointly refitted rows) and the candidates whose trees a lasso
selects one by one, merged or not (:class:`skprune.ensemble._selection.SelectedTrees`),
is scored sample by sample: on the test fold of a clone fitted on each
training fold of the pruner's 5 folds (``StratifiedKFold(5)``, then
``--repeats - 1`` more shuffled partitions), and, built from the booster
fitted on the whole training part, on the test set. From these the choice is
replayed under several rules (a diagnostic, not a method): the pruner's
(smallest budget whose isotonic mean fold difference less ``n`` standard
errors is within the loss), with and without the selected candidates, with
the log-loss guard (no margin, but a budget's mean fold log-loss difference
plus one standard error must be within the loss too), with the row chosen
for a budget on the other folds than the one scored (nested), and with the
folds of several partitions pooled. Reported per rule: node reduction and
test loss (points) of the chosen candidate per seed and their medians; and,
for the selected candidate merged to a quarter of the booster's nodes, its
loss on the folds of each partition and on the test set with the standard
error of the paired test difference.

Run from the repository root: ``python benchmarks/bench_booster_choice.py
--datasets Satellite DNA`` (``--data DIR`` for another data folder).
"""

import argparse
import platform
import sys

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, train_test_split

from bench_ensemble import DEFAULT_DATA, MAX_LOSS, load
from skprune.ensemble._boosting import BoostingLadder
from skprune.ensemble._corrective import (
    CORRECTIVE_ROWS,
    refit_stages_jointly,
    staged_sum_predictions,
)
from skprune.ensemble._pruner import (
    N_LEVELS,
    best_within_budgets,
    bounded_differences,
    encode_labels,
    node_budgets,
)
from skprune.ensemble._selection import SelectedTrees, booster_trees

N_STAGES = 200
# the selected candidate merged to a quarter of the booster's nodes
MERGED_QUARTER = (-1, 2)


def correct_and_log_proba(proba, y):
    """Per sample: whether the most probable class is right, log-proba of it."""
    true = np.take_along_axis(
        proba, np.broadcast_to(y[:, None], proba.shape[:-1] + (1,)), -1
    )
    return proba.argmax(axis=-1) == y, np.log(np.clip(true[..., 0], 1e-15, 1.0))


def held_out_candidates(booster, X_fit, y_fit, X_val, y_val):
    """Per-sample results of every candidate of a fitted booster on ``X_val``.

    Returns
    -------
    correct, log_proba : ndarrays of shape (n_rows, n_stages, n_val)
        NaN where a refitted row has no candidate.
    reference : tuple of ndarrays of shape (n_val,)
        The same for the unpruned booster.
    n_nodes : ndarray of shape (n_rows, n_stages)
        The candidates' node counts, ``inf`` where there is none.
    """
    weights = np.ones(y_fit.shape[0])
    ladder = BoostingLadder(booster, X_fit, y_fit, weights, N_LEVELS, True, X_val)
    refits = [ladder.refit(level) for level in range(N_LEVELS)]
    n_nodes, _ = CORRECTIVE_ROWS.extend(ladder.n_nodes())
    selected = SelectedTrees(booster, ladder, booster_trees(booster), y_fit, weights)
    n_selections = len(selected.sizes)
    selected_nodes = selected.n_nodes()
    extra = np.full((2, n_nodes.shape[1]), np.inf)
    extra[0, :n_selections] = selected_nodes[:n_selections]
    extra[1, : selected_nodes.size - n_selections] = selected_nodes[n_selections:]
    n_nodes = np.concatenate([n_nodes, extra])
    rows = [correct_and_log_proba(staged, y_val) for _, staged, _ in refits]
    table = np.full((2, *n_nodes.shape, y_val.shape[0]), np.nan)
    for level, (correct, log_proba) in enumerate(rows):
        table[0, level], table[1, level] = correct, log_proba
    levels, sizes = CORRECTIVE_ROWS.layout(N_LEVELS, n_nodes.shape[1])
    for row, level in enumerate(levels):
        for column, size in enumerate(sizes):
            trees = refit_stages_jointly(
                refits[level][0][:size], ladder.X_train, y_fit, weights,
                ladder.initial_train, booster.learning_rate, True,
            )
            proba = staged_sum_predictions(
                trees, ladder.X_val32, ladder.initial_val, booster.learning_rate, True
            )
            table[:, N_LEVELS + row, column] = correct_and_log_proba(proba, y_val)
    for candidate in range(selected.n_candidates):
        row, column = (-2, candidate) if candidate < n_selections else (
            -1, candidate - n_selections
        )
        proba = selected.predictions(candidate)[0]
        table[:, row, column] = correct_and_log_proba(proba, y_val)
    reference = correct_and_log_proba(booster.predict_proba(X_val), y_val)
    return table[0], table[1], reference, n_nodes


def partitions(n_repeats, seed):
    """The pruner's folds, then shuffled ones."""
    yield StratifiedKFold(5)
    for repeat in range(1, n_repeats):
        yield StratifiedKFold(5, shuffle=True, random_state=1000 * seed + repeat)


def run_seed(name, X, y, seed, n_repeats):
    """Fold and test results of every candidate, for one split."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    booster = GradientBoostingClassifier(n_estimators=N_STAGES, random_state=seed)
    booster.fit(X_train, y_train)
    y_encoded = encode_labels(booster, y_train)
    folds = []
    for cv in partitions(n_repeats, seed):
        for train, test in cv.split(X_train, y_train):
            fold_booster = clone(booster).fit(X_train[train], y_train[train])
            correct, log_proba, reference, _ = held_out_candidates(
                fold_booster, X_train[train], y_encoded[train], X_train[test],
                y_encoded[test],
            )
            folds.append({
                "accuracy": np.nanmean(correct, axis=-1) - reference[0].mean(),
                "log_loss": np.nanmean(log_proba, axis=-1) - reference[1].mean(),
            })
        print(f"# {name} seed {seed}: partition of {len(folds)} folds done", flush=True)
    correct, _, reference, n_nodes = held_out_candidates(
        booster, X_train, y_encoded, X_test, encode_labels(booster, y_test)
    )
    paired = 100 * (correct - reference[0])
    return {
        "n_nodes": n_nodes,
        "fold_accuracy": np.stack([f["accuracy"] for f in folds]),
        "fold_log_loss": np.stack([f["log_loss"] for f in folds]),
        "test_loss": -np.nanmean(paired, axis=-1),
        "test_error": np.nanstd(paired, axis=-1, ddof=1) / np.sqrt(paired.shape[-1]),
    }


def replay(result, *, n_standard_errors=0.0, guard=False, nested=False,
           selected=True, n_folds=5):
    """Node reduction, test loss and mean fold loss of the candidate chosen."""
    n_nodes = result["n_nodes"].copy()
    if not selected:
        n_nodes[-2:] = np.inf
    total = n_nodes[0, -1]
    budgets = node_budgets(n_nodes.min(), total)
    accuracy = result["fold_accuracy"][:n_folds]
    log_loss = result["fold_log_loss"][:n_folds]
    flat = accuracy.reshape(n_folds, -1)
    chosen = best_within_budgets(n_nodes, np.nanmean(accuracy, axis=0), budgets)
    if nested:
        # each fold scored with the rows chosen on the other folds
        others = [np.delete(np.arange(n_folds), f) for f in range(n_folds)]
        per_fold = [
            best_within_budgets(n_nodes, np.nanmean(accuracy[o], axis=0), budgets)
            for o in others
        ]
    else:
        per_fold = [chosen] * n_folds
    fold_scores = np.stack([flat[f, c] for f, c in enumerate(per_fold)])
    within = bounded_differences(fold_scores, n_standard_errors) >= -MAX_LOSS
    if guard:
        flat_log = log_loss.reshape(n_folds, -1)
        guard_scores = np.stack([flat_log[f, c] for f, c in enumerate(per_fold)])
        within &= bounded_differences(guard_scores, -1.0) >= -MAX_LOSS
    index = np.flatnonzero(within)
    index = int(index[0]) if index.size else budgets.shape[0] - 1
    candidate = chosen[index]
    return (
        total / n_nodes.ravel()[candidate],
        result["test_loss"].ravel()[candidate],
        -100 * fold_scores[:, index].mean(),
    )


def rules(n_repeats):
    named = {
        "margin 1 SE (the pruner's)": {"n_standard_errors": 1.0},
        "margin 1 SE, without the selected": {
            "n_standard_errors": 1.0,
            "selected": False,
        },
        "no margin": {},
        "margin 0.5 SE": {"n_standard_errors": 0.5},
        "log-loss guard, no margin": {"guard": True},
        "nested rows, no margin": {"nested": True},
        "nested rows, margin 1 SE": {"nested": True, "n_standard_errors": 1.0},
    }
    for repeats in range(2, n_repeats + 1):
        named[f"{repeats}x5 folds, margin 1 SE"] = {
            "n_standard_errors": 1.0, "n_folds": 5 * repeats
        }
        named[f"{repeats}x5 folds, log-loss guard"] = {
            "guard": True,
            "n_folds": 5 * repeats,
        }
    return named


def choice_table(results, n_repeats):
    lines = [
        "| data | rule | node reduction | test loss (points) "
        "| per seed: reduction, test loss (fold loss) |",
        "|---|---|---|---|---|",
    ]
    for name, seeds in results.items():
        for label, options in rules(n_repeats).items():
            chosen = [replay(result, **options) for result in seeds]
            per_seed = "; ".join(f"{r:.1f}x, {t:+.2f} ({c:+.2f})" for r, t, c in chosen)
            lines.append(
                f"| {name} | {label} | {np.median([c[0] for c in chosen]):.1f}x "
                f"| {np.median([c[1] for c in chosen]):+.2f} | {per_seed} |"
            )
    return "\n".join(lines)


def quarter_table(results, n_repeats):
    lines = [
        "| data | seed | merged to 1/4: fold loss per partition (points) "
        "| test loss ± SE |",
        "|---|---|---|---|",
    ]
    for name, seeds in results.items():
        for seed, result in enumerate(seeds):
            folds = -100 * result["fold_accuracy"][
                :, MERGED_QUARTER[0], MERGED_QUARTER[1]
            ]
            per_partition = ", ".join(
                f"{folds[5 * r:5 * r + 5].mean():+.2f}" for r in range(n_repeats)
            )
            test = result["test_loss"][MERGED_QUARTER]
            error = result["test_error"][MERGED_QUARTER]
            lines.append(
                f"| {name} | {seed} | {per_partition} | {test:+.2f} ± {error:.2f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=["Satellite", "DNA"])
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="partitions of the training part into folds",
    )
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)
    print(f"# python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
          f"seeds {args.seeds}, partitions {args.repeats}", flush=True)
    results = {}
    for name in args.datasets:
        X, y = load(name, args.data)
        results[name] = [
            run_seed(name, X, y, seed, args.repeats) for seed in range(args.seeds)
        ]
    text = (
        choice_table(results, args.repeats)
        + "\n\n"
        + quarter_table(results, args.repeats)
    )
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
