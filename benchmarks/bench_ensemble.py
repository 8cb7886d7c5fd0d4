"""Pruning whole ensembles: nodes, pickled size, predict time and test score.

For each data set (digits, breast_cancer, and the real data sets of the data
folder when it exists), each ensemble (``RandomForestClassifier(100)`` and
``GradientBoostingClassifier(200)``; a 100-tree ``RandomForestRegressor`` on
BostonHousing) and each seed, on a stratified 75/25 split:

- the unpruned ensemble, fitted on the training part;
- uniform-alpha pruning: :func:`skprune.tree.prune_tree` with one alpha for
  every tree, the largest alpha of a grid whose *test* score is within 0.5
  point of the unpruned one (chosen on the test set, so an optimistic
  baseline; forests only);
- uniform-alpha pruning to at least 10x fewer nodes (the smallest alpha of
  the grid that gets there), to see what such a reduction costs and saves
  with every tree kept (forests only);
- :class:`skprune.ensemble.EnsemblePruner` (``max_score_loss=0.005``) on the
  fitted ensemble with ``prefit=True``: its pruning is chosen by
  ``--cv``-fold cross-validation (one clone of the ensemble fitted per fold).

Reported: total nodes, pickled size, predict time for a batch of 1000 rows
(the pruned and unpruned ensembles alternate, median of ``--repeats``
repeats, one core; wall time, or the process's CPU time with
``--cpu-time``),
test score, and the fit time of ``EnsemblePruner`` (on the fitted ensemble)
over one fit of the ensemble; medians over the seeds.

With ``--functions``, it measures instead the functions that prune every
tree of a fitted forest alike: :func:`skprune.tree.error_based_pruning` at a
few confidences (and with subtree raising at 0.25), and
:func:`skprune.tree.reduced_error_pruning` on a validation split (the forest
fitted on 80% of the training part, pruned on the rest), against the forest
fitted on the whole training part.

With ``--frontier``, it measures what the candidates of a random forest can
reach, on the test set (a diagnostic, not a method): the test loss at 4x,
10x and 15x fewer nodes of the forest's first trees at the best of levels 0
to 3 of :class:`EnsemblePruner`'s ladder, as they are and with their leaves
refined on the training part.

With ``--booster-frontier``, it measures on the test set (a diagnostic, not
a method) the candidates of ``GradientBoostingClassifier(200)`` whose trees
are selected class by class by a lasso and refitted jointly, and the
largest of them with sibling leaves merged
(:class:`skprune.ensemble._selection.SelectedTrees`), and beside them other
refits of a quarter of the stages or trees (to the labels, or to the
booster's own probabilities on the training part) and all the stages
refitted jointly and merged to a quarter of the nodes: node reduction and
test loss of each, per seed and as medians.

Run from the repository root: ``python benchmarks/bench_ensemble.py``
(``--quick`` for a smoke run on the bundled data sets with small ensembles,
``--data DIR`` for another data folder, ``--markdown FILE`` to write the
tables).
"""

import argparse
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from joblib import Parallel
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.model_selection import train_test_split

from skprune.ensemble import EnsemblePruner
from skprune.ensemble._boosting import BoostingLadder
from skprune.ensemble._forest import forest_levels, tree_predictions
from skprune.ensemble._pruner import N_LEVELS, encode_labels
from skprune.ensemble._refine import refine_forest_trees
from skprune.ensemble._selection import (
    MERGE_FRACTIONS,
    SelectedTrees,
    booster_trees,
    packed_stages,
    total_nodes_of,
)
from skprune.tree import error_based_pruning, prune_tree, reduced_error_pruning

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# file name and target column of the real data sets
REAL_DATA = {
    "Satellite": "classes",
    "DNA": "Class",
    "Vehicle": "Class",
    "PimaIndiansDiabetes": "diabetes",
    "BostonHousing": "medv",
}
ALPHAS = np.r_[0.0, np.geomspace(1e-5, 1e-1, 33)]
MAX_LOSS = 0.005
BATCH = 1000


def load(name, data_dir):
    if name == "digits":
        return load_digits(return_X_y=True)
    if name == "breast_cancer":
        return load_breast_cancer(return_X_y=True)
    import pandas as pd

    frame = pd.read_csv(Path(data_dir) / f"{name}.csv")
    y = frame.pop(REAL_DATA[name]).to_numpy()
    return frame.astype(float).to_numpy(), y


def ensembles(name, quick):
    n_trees, n_stages = (20, 30) if quick else (100, 200)
    if name == "BostonHousing":
        return {"RF": lambda seed: RandomForestRegressor(n_trees, random_state=seed)}
    return {
        "RF": lambda seed: RandomForestClassifier(n_trees, random_state=seed),
        "GB": lambda seed: GradientBoostingClassifier(
            n_estimators=n_stages, random_state=seed
        ),
    }


def total_nodes(model):
    trees = np.asarray(model.estimators_, dtype=object).ravel()
    return int(sum(tree.tree_.node_count for tree in trees))


def predict_times(models, X, repeats, clock):
    """Median seconds of ``predict`` on ``X`` for each model, interleaved."""
    times = {name: [] for name in models}
    names = list(models)
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            start = clock()
            models[name].predict(X)
            times[name].append(clock() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def uniform_alpha(model, X_test, y_test, reference):
    """The most pruned forest at one alpha within the loss on the test set."""
    best = model
    for alpha in ALPHAS[1:]:
        pruned = prune_tree(model, alpha)
        if pruned.score(X_test, y_test) < reference - MAX_LOSS:
            break
        best = pruned
    return best


def uniform_tenfold(model):
    """The forest at the smallest alpha of the grid with 10x fewer nodes."""
    target = total_nodes(model) / 10
    for alpha in ALPHAS[1:]:
        pruned = prune_tree(model, alpha)
        if total_nodes(pruned) <= target:
            return pruned
    return pruned


def run_one(name, kind, make, X, y, seed, repeats, cv, clock):
    classifier = name != "BostonHousing"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y if classifier else None
    )
    start = clock()
    model = make(seed).fit(X_train, y_train)
    fit_seconds = clock() - start
    reference = model.score(X_test, y_test)
    pruner = EnsemblePruner(
        model, prefit=True, cv=cv, max_score_loss=MAX_LOSS, random_state=seed
    )
    start = clock()
    pruner.fit(X_train, y_train)
    pruner_seconds = clock() - start
    models = {"unpruned": model, "pruner": pruner.pruned_estimator_}
    if kind == "RF":
        models["uniform"] = uniform_alpha(model, X_test, y_test, reference)
        models["uniform 10x"] = uniform_tenfold(model)
    batch = X_test[np.resize(np.arange(X_test.shape[0]), BATCH)]
    times = predict_times(models, batch, repeats, clock)
    row = {"fit_ratio": pruner_seconds / fit_seconds}
    print(
        f"# {name} {kind} seed {seed}: pruner kept {pruner.n_trees_} trees at level "
        f"{pruner.level_} (refined {pruner.refined_}, merged "
        f"{getattr(pruner, 'merged_', False)}), {pruner.compression_ratio_:.1f}x "
        f"fewer nodes, test loss "
        f"{100 * (reference - pruner.score(X_test, y_test)):+.2f} points",
        flush=True,
    )
    for method, fitted in models.items():
        row[method] = {
            "nodes": total_nodes(fitted),
            "kb": len(pickle.dumps(fitted)) / 1024,
            "ms": 1000 * times[method],
            "score": fitted.score(X_test, y_test),
        }
    return row


CONFIDENCES = (0.25, 0.05, 0.01)


def run_functions(name, X, y, seed, n_trees):
    """Nodes and test scores of a forest pruned by the bottom-up functions."""
    classifier = name != "BostonHousing"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y if classifier else None
    )
    make = RandomForestClassifier if classifier else RandomForestRegressor
    forest = make(n_trees, random_state=seed).fit(X_train, y_train)
    models = {"unpruned": forest}
    if classifier:
        for confidence in CONFIDENCES:
            models[f"error-based {confidence}"] = error_based_pruning(
                forest, confidence=confidence
            )
        models["error-based 0.25, subtree raising"] = error_based_pruning(
            forest, X_train, y_train, subtree_raising=True
        )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.2, random_state=seed,
        stratify=y_train if classifier else None,
    )
    partial = make(n_trees, random_state=seed).fit(X_fit, y_fit)
    models["reduced-error (80% fit)"] = reduced_error_pruning(partial, X_val, y_val)
    return {
        method: {"nodes": total_nodes(m), "score": m.score(X_test, y_test)}
        for method, m in models.items()
    }


REDUCTIONS = (4, 10, 15)
FRONTIER_LEVELS = (0, 1, 2, 3)


def run_frontier(name, X, y, seed, n_trees):
    """Test loss (points) of a forest's first trees at each level and reduction.

    At each reduction, the most trees of each level within the node budget,
    as they are and with their leaves refined on the training part (as
    :class:`EnsemblePruner`'s refined candidates are), chosen on the test set:
    what the candidates can reach at best.
    """
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    forest = RandomForestClassifier(n_trees, random_state=seed).fit(X_train, y_train)
    X32, X_test32 = (np.asarray(a, dtype=np.float32) for a in (X_train, X_test))
    y_encoded, y_test_encoded = (encode_labels(forest, a) for a in (y_train, y_test))
    trees = forest_levels(forest, N_LEVELS, Parallel(n_jobs=1))
    n_nodes = np.array(
        [[levels[lv].node_count for levels in trees] for lv in FRONTIER_LEVELS]
    ).cumsum(axis=1)
    reference = forest.score(X_test, y_test)
    weights = np.ones(X32.shape[0])

    def loss(kept):
        mean = np.mean([tree_predictions(t, X_test32, True) for t in kept], axis=0)
        return 100 * (reference - np.mean(mean.argmax(axis=1) == y_test_encoded))

    result = {"first trees, one level": [], "first trees, one level, refined": []}
    for reduction in REDUCTIONS:
        plain, refined = [], []
        for row, level in enumerate(FRONTIER_LEVELS):
            k = np.searchsorted(n_nodes[row], n_nodes[0, -1] / reduction, side="right")
            if k == 0:
                continue
            kept = [levels[level] for levels in trees[:k]]
            plain.append(loss(kept))
            refined.append(loss(refine_forest_trees(
                kept, X32, y_encoded, weights, True, len(forest.classes_)
            )))
        result["first trees, one level"].append(min(plain, default=np.nan))
        result["first trees, one level, refined"].append(min(refined, default=np.nan))
    return result


def run_booster_frontier(name, X, y, seed, n_stages):
    """Node reduction and test loss (points) of the selected booster candidates."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    booster = GradientBoostingClassifier(n_estimators=n_stages, random_state=seed)
    booster.fit(X_train, y_train)
    y_encoded, y_test_encoded = (encode_labels(booster, a) for a in (y_train, y_test))
    weights = np.ones(y_encoded.shape[0])
    ladder = BoostingLadder(booster, X_train, y_encoded, weights, 1, True, X_test)
    selected = SelectedTrees(
        booster, ladder, booster_trees(booster), y_encoded, weights
    )
    reference = booster.score(X_test, y_test)
    n_booster = total_nodes(booster)
    candidates = {}
    for candidate in range(selected.n_candidates):
        n_selections = len(selected.sizes)
        if candidate < n_selections:
            label = f"lasso, {selected.sizes[candidate]} trees a class"
        else:
            fraction = MERGE_FRACTIONS[candidate - n_selections]
            label = (f"lasso, {selected.sizes[-1]} trees a class, merged to "
                     f"1/{round(1 / fraction)} of the nodes")
        candidates[label] = selected.stages(candidate)
    candidates.update(other_booster_candidates(booster, X_train, selected))
    result = {}
    for label, stages in candidates.items():
        proba = selected.held_out_predictions(stages)
        accuracy = np.mean(proba.argmax(axis=1) == y_test_encoded)
        result[label] = (
            n_booster / total_nodes_of(stages), 100 * (reference - accuracy)
        )
    return result


def other_booster_candidates(booster, X_train, selected):
    """Other refits of a booster's stages, measured beside the selected ones.

    The first quarter of the stages as grown, refitted jointly to the
    labels and to the booster's own probabilities on the training part (so
    towards the booster rather than the labels); the lasso's quarter of the
    trees refitted to the probabilities; all the stages refitted jointly,
    and merged to a third, then a quarter of the booster's nodes.
    """
    trees = selected.trees
    quarter = len(trees) // 4
    proba = booster.predict_proba(X_train)
    targets = proba[:, 1:] if proba.shape[1] == 2 else proba
    lasso_quarter = packed_stages(trees, selected.rankings, quarter)
    all_refitted = selected.refit(trees)
    n_nodes = total_nodes_of(trees)
    # through a third first, as the selected candidates are shrunk
    all_merged = selected.merged(
        selected.merged(all_refitted, n_nodes / 3), n_nodes / 4
    )
    return {
        f"first {quarter} stages": trees[:quarter],
        f"first {quarter} stages, refitted to the labels":
            selected.refit(trees[:quarter]),
        f"first {quarter} stages, refitted to the booster's probabilities":
            selected.refit(trees[:quarter], targets),
        f"lasso, {quarter} trees a class, refitted to the booster's probabilities":
            selected.refit(lasso_quarter, targets),
        "all stages, refitted to the labels": all_refitted,
        "all stages, refitted to the labels, merged to 1/4 of the nodes": all_merged,
    }


def booster_frontier_table(results):
    lines = [
        "| data | candidate | node reduction | loss (points) | losses per seed |",
        "|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        for label in rows[0]:
            ratios = [r[label][0] for r in rows]
            losses = [r[label][1] for r in rows]
            per_seed = ", ".join(f"{loss:+.2f}" for loss in losses)
            lines.append(
                f"| {name} | {label} | {np.median(ratios):.1f}x "
                f"| {np.median(losses):+.2f} | {per_seed} |"
            )
    return "\n".join(lines)


def frontier_table(results, reductions=REDUCTIONS):
    header = " | ".join(f"loss at {r}x (points)" for r in reductions)
    lines = [
        f"| data | candidates | {header} |",
        "|---|---|" + "---|" * len(reductions),
    ]
    for name, rows in results.items():
        for method in rows[0]:
            cells = " | ".join(
                f"{np.median([r[method][i] for r in rows]):+.2f}"
                for i in range(len(reductions))
            )
            lines.append(f"| {name} | {method} | {cells} |")
    return "\n".join(lines)


def functions_table(results):
    lines = [
        "| data | method | nodes | node reduction | test score | loss (points) |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        for method in rows[0]:
            def med(get):
                return float(np.median([get(r) for r in rows]))

            nodes = med(lambda r: r[method]["nodes"])
            ratio = med(lambda r: r["unpruned"]["nodes"] / r[method]["nodes"])
            score = med(lambda r: r[method]["score"])
            loss = med(lambda r: 100 * (r["unpruned"]["score"] - r[method]["score"]))
            lines.append(
                f"| {name} | {method} | {nodes:.0f} | {ratio:.1f}x | {score:.4f} "
                f"| {loss:+.2f} |"
            )
    return "\n".join(lines)


def median_rows(rows):
    def med(get):
        return float(np.median([get(r) for r in rows]))

    out = {"fit_ratio": med(lambda r: r["fit_ratio"])}
    for method in rows[0]:
        if method == "fit_ratio":
            continue
        out[method] = {
            key: med(lambda r, m=method, k=key: r[m][key]) for key in rows[0][method]
        }
        out[method]["ratio"] = med(
            lambda r, m=method: r["unpruned"]["nodes"] / r[m]["nodes"]
        )
        out[method]["loss"] = med(
            lambda r, m=method: 100 * (r["unpruned"]["score"] - r[m]["score"])
        )
        out[method]["speedup"] = med(
            lambda r, m=method: r["unpruned"]["ms"] / r[m]["ms"]
        )
    return out


def table(results):
    lines = [
        "| data | model | method | nodes | node reduction | test score "
        "| loss (points) | pickle KB | predict ms (1000 rows) | predict speedup "
        "| pruner fit / model fit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, kind), row in results.items():
        for method in ("unpruned", "uniform", "uniform 10x", "pruner"):
            if method not in row:
                continue
            m = row[method]
            fit = f"{row['fit_ratio']:.1f}" if method == "pruner" else ""
            lines.append(
                f"| {name} | {kind} | {method} | {m['nodes']:.0f} | {m['ratio']:.1f}x "
                f"| {m['score']:.4f} | {m['loss']:+.2f} | {m['kb']:.0f} "
                f"| {m['ms']:.1f} "
                f"| {m['speedup']:.1f}x | {fit} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the data folder")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--models", nargs="*", default=["RF", "GB"])
    parser.add_argument("--cv", type=int, default=5, help="EnsemblePruner's cv")
    parser.add_argument(
        "--functions", action="store_true",
        help="measure error_based_pruning and reduced_error_pruning instead",
    )
    parser.add_argument(
        "--frontier", action="store_true",
        help="measure the test loss of the forest candidates at fixed reductions",
    )
    parser.add_argument(
        "--repeats", type=int, default=None,
        help="predict-time repeats per model (default 7, 3 with --quick)",
    )
    parser.add_argument(
        "--cpu-time", action="store_true",
        help="time with the process's CPU time instead of the wall clock",
    )
    parser.add_argument(
        "--booster-frontier", action="store_true",
        help="measure the test loss of the booster's lasso-selected candidates",
    )
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)
    names = ["digits", "breast_cancer"]
    if not args.quick and Path(args.data).is_dir():
        names += [n for n in REAL_DATA if (Path(args.data) / f"{n}.csv").exists()]
    if args.datasets:
        names = [n for n in names if n in args.datasets]
    seeds = 1 if args.quick else args.seeds
    repeats = args.repeats or (3 if args.quick else 7)
    # with --cpu-time, the process's CPU time: a busy machine's other
    # processes do not inflate it
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(f"# python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
          f"seeds {seeds}", flush=True)
    modes = {
        # mode: (run one seed, table, ensemble size, quick size, data sets)
        "booster_frontier": (
            run_booster_frontier, booster_frontier_table, 200, 30, False
        ),
        "frontier": (run_frontier, frontier_table, 100, 20, False),
        "functions": (run_functions, functions_table, 100, 20, True),
    }
    for mode, (run, make_table, size, quick_size, with_regression) in modes.items():
        if not getattr(args, mode):
            continue
        size = quick_size if args.quick else size
        results = {
            name: [
                run(name, *load(name, args.data), seed, size) for seed in range(seeds)
            ]
            for name in names if with_regression or name != "BostonHousing"
        }
        text = make_table(results)
        print(text)
        if args.markdown:
            Path(args.markdown).write_text(text + "\n")
        return 0
    results = {}
    for name in names:
        X, y = load(name, args.data)
        for kind, make in ensembles(name, args.quick).items():
            if kind not in args.models:
                continue
            rows = [
                run_one(name, kind, make, X, y, seed, repeats, args.cv, clock)
                for seed in range(seeds)
            ]
            results[(name, kind)] = median_rows(rows)
            print(table({(name, kind): results[(name, kind)]}), flush=True)
    text = table(results)
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
