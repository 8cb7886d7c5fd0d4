"""Test accuracy of PrunedMLPClassifier against sparsity on digits.

``load_digits``, a stratified 75/25 split, inputs standardised with a
``StandardScaler`` fitted on the training part, and a ``(256, 128)`` ReLU
network trained with Adam. For every seed both the split and the network's
initialisation change (``random_state=seed`` for both). The script fits

- the dense network (``sparsity=0``): the estimator's defaults, ``max_iter=200``
  epochs, stopped when the training loss stops improving (``tol=1e-4`` for
  ``n_iter_no_change=10`` epochs);
- ``PrunedMLPClassifier`` at every sparsity of ``SPARSITIES`` for the
  ``"magnitude"``, ``"taylor"`` and ``"movement"`` criteria, the
  ``"oneshot"`` and ``"gradual"`` schedules, without distillation and with
  ``distillation_weight=0.5`` (``temperature=2``). Pruning is unstructured and
  global over the two hidden weight matrices (the estimator's defaults; the
  output layer, 1280 of the 50432 weights, is not pruned).

Training budgets are equal across schedules: ``"gradual"`` uses the defaults
``n_pruning_steps=10`` and ``finetune_iter=10``, i.e. 100 epochs of
fine-tuning after the dense phase, and ``"oneshot"`` prunes once and
fine-tunes for ``finetune_iter=100`` epochs. Fine-tuning always runs its
whole budget (``tol`` does not stop it).

A second table compares, at 90% and 95% sparsity with the magnitude
criterion, gradual pruning with the defaults, one-shot pruning with the
estimator's defaults (``finetune_iter=10``), gradual pruning of the output
layer too (``prunable_layers="all"``, so that 90% sparsity is a 10x
compression), and a dense network trained for as many epochs as the pruned
one (dense phase plus 100, with the early stop disabled).

Every cell is the mean and standard deviation (``ddof=1``) of the test
accuracy over the seeds; "gap" is the mean over seeds of the pruned minus the
dense accuracy of the same seed. The goal is a gap of at least -0.5 point for
gradual magnitude pruning at 90% sparsity. The script exits with status 1
when a fitted model misses its requested sparsity by more than one weight.
The fits run one after another with one BLAS thread (``--threads``).

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_pruned_quality.py            # 7 to 14 min
    PYTHONPATH=. python benchmarks/bench_pruned_quality.py --quick    # about 1 min
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skprune.neural import PrunedMLPClassifier

SPARSITIES = (0.5, 0.8, 0.9, 0.95, 0.98)
QUICK_SPARSITIES = (0.9,)
CRITERIA = ("magnitude", "taylor", "movement")
SCHEDULES = ("oneshot", "gradual")
DISTILLATION_WEIGHTS = (0.0, 0.5)
HIDDEN_LAYER_SIZES = (256, 128)
N_PRUNING_STEPS = 10
FINETUNE_ITER = 10
GOAL_SPARSITY = 0.9
GOAL_GAP = -0.005
EXTRA_SPARSITIES = (0.9, 0.95)
GRADUAL_DEFAULTS = ("magnitude", "gradual", 0.0)


def schedule_params(schedule):
    """Schedule parameters giving every schedule the same fine-tuning epochs."""
    if schedule == "gradual":
        return {
            "schedule": "gradual",
            "n_pruning_steps": N_PRUNING_STEPS,
            "finetune_iter": FINETUNE_ITER,
        }
    return {"schedule": "oneshot", "finetune_iter": N_PRUNING_STEPS * FINETUNE_ITER}


def main_configs():
    """Label and parameters of every row of the main table."""
    return {
        (criterion, schedule, h): {
            "criterion": criterion,
            "distillation_weight": h,
            **schedule_params(schedule),
        }
        for criterion in CRITERIA
        for schedule in SCHEDULES
        for h in DISTILLATION_WEIGHTS
    }


def extra_configs():
    """Label and parameters of the rows comparing budgets and defaults."""
    return {
        "oneshot, defaults (finetune_iter=10)": {"schedule": "oneshot"},
        'gradual, prunable_layers="all"': {
            **schedule_params("gradual"),
            "prunable_layers": "all",
        },
    }


def load_split(seed):
    """Standardised stratified 75/25 split of digits for one seed."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def fit_and_score(data, seed, **params):
    """Fit one network; return the fitted model, test accuracy and fit time."""
    X_train, X_test, y_train, y_test = data
    model = PrunedMLPClassifier(
        hidden_layer_sizes=HIDDEN_LAYER_SIZES, random_state=seed, **params
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return model, model.score(X_test, y_test), seconds


class Results:
    """Accuracies, compression ratios and fit times keyed by (row, sparsity)."""

    def __init__(self):
        self.accuracy = {}
        self.compression = {}
        self.seconds = {}
        self.misses = []

    def add(self, row, sparsity, model, accuracy, seconds):
        self.accuracy.setdefault((row, sparsity), []).append(accuracy)
        self.compression.setdefault((row, sparsity), []).append(
            model.compression_ratio_
        )
        self.seconds.setdefault(row, []).append(seconds)
        prunable = model.coefs_ if model.prunable_layers == "all" else model.coefs_[:-1]
        n_weights = sum(coef.size for coef in prunable)
        if abs(model.sparsity_ - sparsity) * n_weights > 1:
            self.misses.append((row, sparsity, model.sparsity_))


def run(seeds, sparsities, extra):
    """Fit every configuration for every seed."""
    results = Results()
    for seed in seeds:
        data = load_split(seed)
        dense, accuracy, seconds = fit_and_score(data, seed, sparsity=0.0)
        results.add("dense", 0.0, dense, accuracy, seconds)
        print(f"seed {seed}: dense {accuracy:.4f} ({dense.n_iter_} epochs)", flush=True)
        for row, params in main_configs().items():
            for sparsity in sparsities:
                model, accuracy, seconds = fit_and_score(
                    data, seed, sparsity=sparsity, **params
                )
                results.add(row, sparsity, model, accuracy, seconds)
            print(f"seed {seed}: {row} done", flush=True)
        if not extra:
            continue
        for row, params in extra_configs().items():
            for sparsity in EXTRA_SPARSITIES:
                model, accuracy, seconds = fit_and_score(
                    data, seed, sparsity=sparsity, **params
                )
                results.add(row, sparsity, model, accuracy, seconds)
        # A dense network trained as long as a pruned one: the dense phase
        # plus the 100 fine-tuning epochs, without the early stop.
        long_dense, accuracy, seconds = fit_and_score(
            data,
            seed,
            sparsity=0.0,
            max_iter=dense.n_iter_ + N_PRUNING_STEPS * FINETUNE_ITER,
            n_iter_no_change=np.inf,
        )
        results.add("dense, same epochs as pruned", 0.0, long_dense, accuracy, seconds)
        print(f"seed {seed}: extra rows done", flush=True)
    return results


def mean_std(values):
    values = np.asarray(values)
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():.4f} ± {std:.4f}"


def gap(results, row, sparsity):
    """Mean and minimum over seeds of pruned minus dense accuracy, in points."""
    pruned = np.asarray(results.accuracy[(row, sparsity)])
    dense = np.asarray(results.accuracy[("dense", 0.0)])
    difference = 100 * (pruned - dense)
    return difference.mean(), difference.min()


def row_label(row):
    if isinstance(row, str):
        return row
    criterion, schedule, h = row
    return f"{criterion} | {schedule} | {h:g}"


def main_table(results, sparsities):
    dense = mean_std(results.accuracy[("dense", 0.0)])
    header = "| criterion | schedule | distillation | 0% | " + " | ".join(
        f"{100 * s:g}%" for s in sparsities
    )
    lines = [
        header + " | s/fit |",
        "|---|---|---|---|" + "---|" * len(sparsities) + "---:|",
    ]
    for row in main_configs():
        cells = " | ".join(mean_std(results.accuracy[(row, s)]) for s in sparsities)
        seconds = np.mean(results.seconds[row])
        lines.append(f"| {row_label(row)} | {dense} | {cells} | {seconds:.2f} |")
    ratios = " | ".join(
        f"{np.mean(results.compression[(next(iter(main_configs())), s)]):.1f}x"
        for s in sparsities
    )
    lines.append(f"| compression ratio | | | 1.0x | {ratios} | |")
    return "\n".join(lines)


def extra_table(results):
    lines = [
        (
            "| magnitude pruning | sparsity | compression | accuracy "
            "| gap (points) | worst seed gap | s/fit |"
        ),
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    labels = {GRADUAL_DEFAULTS: "gradual, defaults (10 steps x 10 epochs)"}
    labels.update({row: row for row in extra_configs()})
    for row, label in labels.items():
        for sparsity in EXTRA_SPARSITIES:
            mean_gap, worst = gap(results, row, sparsity)
            lines.append(
                f"| {label} | {100 * sparsity:g}% "
                f"| {np.mean(results.compression[(row, sparsity)]):.1f}x "
                f"| {mean_std(results.accuracy[(row, sparsity)])} "
                f"| {mean_gap:+.2f} | {worst:+.2f} "
                f"| {np.mean(results.seconds[row]):.2f} |"
            )
    for row in ("dense", "dense, same epochs as pruned"):
        mean_gap, worst = gap(results, row, 0.0)
        lines.append(
            f"| {row} | 0% | 1.0x | {mean_std(results.accuracy[(row, 0.0)])} "
            f"| {mean_gap:+.2f} | {worst:+.2f} "
            f"| {np.mean(results.seconds[row]):.2f} |"
        )
    return "\n".join(lines)


def goal_line(results):
    mean_gap, worst = gap(results, GRADUAL_DEFAULTS, GOAL_SPARSITY)
    met = "yes" if mean_gap >= 100 * GOAL_GAP else "no"
    ratio = np.mean(results.compression[(GRADUAL_DEFAULTS, GOAL_SPARSITY)])
    return (
        f"Goal: gradual magnitude pruning at {100 * GOAL_SPARSITY:g}% sparsity "
        f"({ratio:.1f}x compression) within {-100 * GOAL_GAP:g} point of dense: "
        f"mean gap {mean_gap:+.2f} points (worst seed {worst:+.2f}); met: {met}"
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one seed, 90%% sparsity only, no extra table",
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (default 1: on a shared machine more threads than "
        "free cores slow the small matrix products of this network down a lot)",
    )
    args = parser.parse_args()
    n_seeds = 1 if args.quick else args.seeds
    sparsities = QUICK_SPARSITIES if args.quick else SPARSITIES
    if GOAL_SPARSITY not in sparsities:
        parser.error(f"the sparsities must include {GOAL_SPARSITY}")

    start = time.perf_counter()
    with threadpool_limits(args.threads):
        results = run(range(n_seeds), sparsities, extra=not args.quick)
    elapsed = time.perf_counter() - start

    parts = [
        (
            f"Test accuracy, mean ± std over {n_seeds} seed(s); distillation is "
            "distillation_weight (temperature 2)."
        ),
        main_table(results, sparsities),
        goal_line(results),
    ]
    if not args.quick:
        parts.append(extra_table(results))
    text = "\n\n".join(parts)
    print("\n" + text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    for row, sparsity, achieved in results.misses:
        print(f"MISSED SPARSITY: {row_label(row)} asked {sparsity}, got {achieved}")
    print(f"\nTotal run time: {elapsed:.0f} s")
    return 1 if results.misses else 0


if __name__ == "__main__":
    sys.exit(main())
