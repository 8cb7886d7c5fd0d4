"""One-shot layer-wise pruning without fine-tuning: Wanda, OBC, SparseGPT, ADMM,
the re-fit.

For each seed, trains a network with the library's defaults (Adam,
``alpha=1e-4``) on a 75/25 stratified split of scaled inputs, prunes a copy
once at each sparsity with each criterion (global scope unless the name says
"layer") and prints the median test accuracy over the seeds and the median
seconds per prune. The samples given to ``prune`` are the training samples
in a seeded random order.

Data sets (``--dataset``):

- ``digits``: ``load_digits``, a (256, 128) network, 200 epochs.
- ``satellite``: Satellite from ``--data`` (default ``../shared/data``), a
  (256, 128) network, 200 epochs.
- ``synthetic``: the 784-300-100-10 problem of
  ``bench_oneshot_second_order.py``, 10 epochs.

``--path`` times ``oneshot_path`` over 10 levels (0.5 to 0.95) from one
OBC trace against one prune, interleaved in random order (by the CPU time
of the process with ``--cpu-time``); ``--sparsity-path`` times
``sparsity_path(..., from_dense=True)`` with ``"obc"`` over 10 levels
against one level and against re-tracing at every level;
``--cpu-time`` also times the prunes of the table by the process's CPU
time; ``--obc-allocation`` prunes with ``"sparsegpt"`` at 90% with the
per-layer sparsities ``"obc"`` chose.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_layerwise.py
--dataset digits``; ``--quick`` for one seed and the main criteria.
"""

import argparse
import copy
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skprune.neural import (
    ADMMCriterion,
    LayerwiseRefit,
    OBCCriterion,
    PrunableMLPClassifier,
    PrunedMLPClassifier,
    PruningCriterion,
    SparseGPTCriterion,
    WandaCriterion,
    oneshot_path,
    sparsity_path,
)
from skprune.neural._layerwise import layer_inputs, output_sample_weights

from bench_inference import measure
from bench_layerwise_defaults import FlooredOBC
from bench_oneshot_second_order import synthetic_problem as make_synthetic_problem
from bench_oneshot_second_order import timed_prune_score

SPARSITIES = (0.7, 0.9, 0.95)
DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def synthetic_problem(seed):
    return make_synthetic_problem(20000, seed)


def load(dataset, seed, data_dir):
    """Scaled train/test split and the network to train on it."""
    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
        network = {"hidden_layer_sizes": (256, 128), "max_iter": 200}
    elif dataset == "satellite":
        frame = pd.read_csv(pathlib.Path(data_dir) / "Satellite.csv")
        y = frame.pop("classes").to_numpy()
        X = frame.astype(float).to_numpy()
        network = {"hidden_layer_sizes": (256, 128), "max_iter": 200}
    else:
        X, y = synthetic_problem(seed)
        network = {"hidden_layer_sizes": (300, 100), "max_iter": 10}
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test, network


def criteria(quick):
    """Name -> (criterion, scope, reconstruct)."""
    compared = {
        "magnitude": ("magnitude", "global", False),
        "obs (defaults)": ("obs", "global", False),
        "wanda": ("wanda", "global", False),
        "obc": ("obc", "global", False),
        "obc layer": ("obc", "layer", False),
        "obc, reconstruction output": (
            OBCCriterion(output_hessian="reconstruction"),
            "global",
            False,
        ),
        "sparsegpt": ("sparsegpt", "global", False),
        "sparsegpt, Gauss-Newton output": (
            SparseGPTCriterion(output_hessian="gauss-newton"),
            "global",
            False,
        ),
        "magnitude + refit, Gauss-Newton output": (
            LayerwiseRefit("magnitude", output_hessian="gauss-newton"),
            "global",
            False,
        ),
        "sparsegpt layer": ("sparsegpt", "layer", False),
        "admm": ("admm", "global", False),
        "admm layer": ("admm", "layer", False),
        "sparsegpt + refit": ("sparsegpt", "global", True),
        "magnitude + refit": ("magnitude", "global", True),
        "wanda + refit": ("wanda", "global", True),
    }
    if quick:
        return compared
    compared.update(
        {
            "wanda global ranking": (WandaCriterion(ranking="global"), "global", False),
            "wanda global ranking + refit": (
                WandaCriterion(ranking="global"),
                "global",
                True,
            ),
            "magnitude layer + refit": ("magnitude", "layer", True),
            "obs + refit": ("obs", "global", True),
            "obc damp=0.1": (OBCCriterion(damp=0.1), "global", False),
            "obc, floor 0.75": (FlooredOBC(0.75), "global", False),
            "obc, floor 1": (FlooredOBC(1.0), "global", False),
            "sparsegpt 4096 samples": (
                SparseGPTCriterion(num_samples=4096),
                "global",
                False,
            ),
            "sparsegpt 1024 samples": (
                SparseGPTCriterion(num_samples=1024),
                "global",
                False,
            ),
            "obc 1024 samples": (OBCCriterion(num_samples=1024), "global", False),
            "sparsegpt, 3 rounds": (SparseGPTCriterion(n_rounds=3), "global", False),
            "sparsegpt, 5 rounds": (SparseGPTCriterion(n_rounds=5), "global", False),
            "sparsegpt, 10 rounds": (SparseGPTCriterion(n_rounds=10), "global", False),
            "sparsegpt, 10 rounds, no re-fit between": (
                SparseGPTCriterion(n_rounds=10, refit_iter=0),
                "global",
                False,
            ),
            "sparsegpt, 10 rounds + refit": (
                SparseGPTCriterion(n_rounds=10),
                "global",
                True,
            ),
            "sparsegpt, block 32": (SparseGPTCriterion(block_size=32), "global", False),
            "admm 2048 samples": (ADMMCriterion(num_samples=2048), "global", False),
            "admm all samples": (ADMMCriterion(num_samples=None), "global", False),
            "admm rho=0.001": (ADMMCriterion(rho=0.001), "global", False),
            "admm rho_growth=1.3": (ADMMCriterion(rho_growth=1.3), "global", False),
            "admm rho_growth=1.1": (ADMMCriterion(rho_growth=1.1), "global", False),
            "magnitude + refit, 4096 samples": (
                LayerwiseRefit(num_samples=4096),
                "global",
                False,
            ),
        }
    )
    return compared


def train(X_train, y_train, network, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return PrunableMLPClassifier(random_state=seed, **network).fit(X_train, y_train)


def run(
    dataset, seeds, sparsities, quick, data_dir, names=None, clock=time.perf_counter
):
    compared = criteria(quick)
    if names:
        compared = {name: compared[name] for name in names}
    accuracy = {name: {s: [] for s in sparsities} for name in compared}
    seconds = {name: [] for name in compared}
    dense = []
    for seed in seeds:
        X_train, X_test, y_train, y_test, network = load(dataset, seed, data_dir)
        base = train(X_train, y_train, network, seed)
        dense.append(base.score(X_test, y_test))
        order = np.random.RandomState(seed).permutation(X_train.shape[0])
        X_prune, y_prune = X_train[order], y_train[order]
        for name, (criterion, scope, reconstruct) in compared.items():
            for sparsity in sparsities:
                elapsed, score = timed_prune_score(
                    base, X_prune, y_prune, X_test, y_test, amount=sparsity,
                    clock=clock, criterion=criterion, scope=scope,
                    reconstruct=reconstruct,
                )
                seconds[name].append(elapsed)
                accuracy[name][sparsity].append(score)
            print(f"  seed {seed} {name} done", flush=True)
    return float(np.median(dense)), accuracy, seconds


def table(dense, accuracy, sparsities, seconds):
    header = " | ".join(f"{round(s * 100)}%" for s in sparsities)
    lines = [
        f"| criterion | {header} | median s per prune |",
        "|---|" + "---|" * (len(sparsities) + 1),
        f"| dense | {dense:.4f} |" + " |" * len(sparsities),
    ]
    for name, by_sparsity in accuracy.items():
        cells = " | ".join(f"{np.median(by_sparsity[s]):.4f}" for s in sparsities)
        lines.append(f"| {name} | {cells} | {np.median(seconds[name]):.2f} |")
    return "\n".join(lines)


def time_path(dataset, seeds, data_dir, n_repeats=5, clock=time.perf_counter):
    """Seconds of one OBC prune and of a one-shot path of 10 levels.

    The path is ``oneshot_path`` over 10 levels (0.5 to 0.95), one trace and
    a prune per level; the trace is also timed alone, which gives a level's
    share. The three are timed in a new random order every round, after
    untimed calls of each (:func:`bench_inference.measure`): whichever ran
    first after the others was slower by up to 0.2 s, which a fixed order
    (one prune, then the path) gave to the prune alone. ``clock`` is
    ``time.process_time`` with ``--cpu-time``: with one BLAS thread, the time
    the process ran, which waiting for a shared core does not lengthen.
    """
    levels = np.linspace(0.5, 0.95, 10)
    ratios, prune_times, path_times, trace_times = [], [], [], []
    for seed in seeds:
        X_train, _, y_train, _, network = load(dataset, seed, data_dir)
        base = train(X_train, y_train, network, seed)
        seconds = measure(
            {
                "prune": lambda: copy.deepcopy(base).prune(
                    X_train, y_train, amount=0.9, criterion="obc"
                ),
                "trace": lambda: OBCCriterion().trace(base, X_train, y_train),
                "path": lambda: oneshot_path(base, X_train, y_train, levels),
            },
            repeats=n_repeats,
            min_time=0.0,
            clock=clock,
        )
        prune_times.append(seconds["prune"])
        path_times.append(seconds["path"])
        trace_times.append(seconds["trace"])
        ratios.append(seconds["path"] / seconds["prune"])
        print(f"  seed {seed}: ratio {ratios[-1]:.2f}", flush=True)
    level = (np.median(path_times) - np.median(trace_times)) / len(levels)
    print(
        f"one prune {np.median(prune_times):.2f} s, path of 10 levels "
        f"{np.median(path_times):.2f} s (trace {np.median(trace_times):.2f} s, "
        f"a level {1000 * level:.0f} ms), ratio {np.median(ratios):.2f}"
    )


def time_path_floor(dataset, seeds, data_dir, n_repeats=5, clock=time.perf_counter):
    """The path's ratio if a level were only the products it cannot skip.

    Every level re-fits the hidden layer after the first on new inputs
    ``A`` (its ``A^T A`` and ``A^T T``), runs the first layer forward, and
    re-fits the output layer (its shared ``A^T A`` and the Gram matrices of
    each unit's uncertain rows); the second layer's forward pass, the solves
    and everything else are left out. These products, on the unpruned
    network's inputs (the same shapes as at every level), and the trace are
    timed side by side; ``(trace + 10 products) / (trace + products)`` is a
    lower bound of the ratio :func:`time_path` measures.
    """
    floors, ratios = [], []
    for seed in seeds:
        X_train, _, y_train, _, network = load(dataset, seed, data_dir)
        base = train(X_train, y_train, network, seed)
        X = X_train[: OBCCriterion().num_samples]
        inputs, outputs = layer_inputs(base, X)
        designs = [np.hstack([a, np.ones((len(a), 1))]) for a in inputs]
        hidden, output = designs[1], designs[-1]
        weights = output_sample_weights(base, outputs[-1], np.ones(len(X)))
        uncertain = [output[column > 0] for column in weights.curvature.T]
        first = np.vstack([base.coefs_[0], base.intercepts_[0]])

        def products():
            hidden.T @ hidden
            hidden.T @ outputs[1]
            designs[0] @ first
            output.T @ output
            for rows in uncertain:
                rows.T @ rows

        seconds = measure(
            {
                "trace": lambda: OBCCriterion().trace(base, X_train, y_train),
                "products": products,
            },
            repeats=n_repeats,
            min_time=0.05,
            clock=clock,
        )
        floors.append(seconds["products"])
        trace = seconds["trace"]
        ratios.append((trace + 10 * floors[-1]) / (trace + floors[-1]))
    print(
        f"products of a level {1000 * np.median(floors):.1f} ms, "
        f"lower bound of the ratio {np.median(ratios):.2f}"
    )


class _Untraced(PruningCriterion):
    """OBC without its trace: every prune traces again."""

    def __init__(self):
        self.criterion = OBCCriterion()

    def score(self, context):
        return self.criterion.score(context)

    def compensate(self, context, old_masks):
        return self.criterion.compensate(context, old_masks)


def time_sparsity_path(dataset, seeds, data_dir):
    """Seconds of ``sparsity_path(from_dense=True)`` with and without the trace.

    10 levels (0.5 to 0.95) of a ``PrunedMLPClassifier`` with ``"obc"`` and
    2 epochs of fine-tuning per level, against the same path re-tracing at
    every level and against a path of one level.
    """
    levels = np.concatenate([[0.0], np.linspace(0.5, 0.95, 10)])
    rows = {"one level": [], "10 levels, one trace": [], "10 levels, traced each": []}
    for seed in seeds:
        X_train, _, y_train, _, network = load(dataset, seed, data_dir)
        for name, grid, criterion in [
            ("one level", [0.0, 0.9], "obc"),
            ("10 levels, one trace", levels, "obc"),
            ("10 levels, traced each", levels, _Untraced()),
        ]:
            estimator = PrunedMLPClassifier(
                random_state=seed, criterion=criterion, finetune_iter=2, **network
            )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sparsity_path(estimator, X_train, y_train, grid, from_dense=True)
            rows[name].append(time.perf_counter() - start)
    for name, seconds in rows.items():
        print(f"{name}: {np.median(seconds):.2f} s")


class _CountedSparseGPT(SparseGPTCriterion):
    """SparseGPT removing given counts of weights from the pruned layers."""

    def __init__(self, counts=(), damp=0.01, block_size=128, num_samples=2048,
                 output_hessian="reconstruction"):
        super().__init__(damp, block_size, num_samples, output_hessian)
        self.counts = counts

    def _layer_counts(self, context, step):
        return list(self.counts)


def sparsegpt_at_obc_allocation(dataset, seeds, data_dir, sparsity=0.9):
    """SparseGPT with the per-layer sparsities OBC's global allocation chose.

    For each seed: ``"obc"`` at ``sparsity``, then ``"sparsegpt"`` with its
    own per-layer counts (a global magnitude ranking) and with OBC's, by
    test accuracy, seconds and densities of the pruned layers.
    """
    compared = {
        "sparsegpt, OBC's layer sparsities": {},
        "sparsegpt 4096 samples, OBC's layer sparsities": {"num_samples": 4096},
        "sparsegpt Gauss-Newton output, OBC's layer sparsities": {
            "output_hessian": "gauss-newton"
        },
    }
    rows = {name: [] for name in ["obc", "sparsegpt", *compared]}
    for seed in seeds:
        X_train, X_test, y_train, y_test, network = load(dataset, seed, data_dir)
        base = train(X_train, y_train, network, seed)
        order = np.random.RandomState(seed).permutation(X_train.shape[0])
        X_prune, y_prune = X_train[order], y_train[order]

        def pruned(name, criterion):
            model = copy.deepcopy(base)
            start = time.perf_counter()
            model.prune(X_prune, y_prune, amount=sparsity, criterion=criterion)
            seconds = time.perf_counter() - start
            densities = [model.masks_[i].mean() for i in model._prunable_coef_layers()]
            rows[name].append((model.score(X_test, y_test), seconds, densities))
            return model

        obc = pruned("obc", "obc")
        counts = [int((~obc.masks_[i]).sum()) for i in obc._prunable_coef_layers()]
        pruned("sparsegpt", "sparsegpt")
        for name, params in compared.items():
            pruned(name, _CountedSparseGPT(counts, **params))
        print(f"  seed {seed} done", flush=True)
    print(
        f"\n| criterion at {sparsity:.0%} | accuracy | seconds "
        "| layer densities (seeds) |"
    )
    print("|---|---|---|---|")
    for name, results in rows.items():
        accuracy, seconds, densities = zip(*results)
        shown = "; ".join(" / ".join(f"{d:.1%}" for d in ds) for ds in densities)
        print(
            f"| {name} | {np.median(accuracy):.4f} | {np.median(seconds):.2f} | "
            f"{shown} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dataset", choices=("digits", "satellite", "synthetic"), default="digits"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--quick", action="store_true", help="main criteria only")
    parser.add_argument("--only", nargs="*", help="criteria to run, by name")
    parser.add_argument(
        "--sparsities", type=float, nargs="*", default=list(SPARSITIES)
    )
    parser.add_argument("--path", action="store_true", help="time the path only")
    parser.add_argument(
        "--path-floor",
        action="store_true",
        help="the path's ratio with levels made of their products only",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time by the process's CPU time (one BLAS thread)",
    )
    parser.add_argument(
        "--obc-allocation",
        action="store_true",
        help="sparsegpt with the per-layer sparsities of obc, at 90%%",
    )
    parser.add_argument(
        "--sparsity-path",
        action="store_true",
        help="time sparsity_path(from_dense=True) only",
    )
    args = parser.parse_args()
    seeds = range(args.seeds)
    start = time.perf_counter()
    clock = time.process_time if args.cpu_time else time.perf_counter
    if args.path:
        time_path(args.dataset, seeds, args.data, clock=clock)
        return
    if args.path_floor:
        time_path_floor(args.dataset, seeds, args.data, clock=clock)
        return
    if args.sparsity_path:
        time_sparsity_path(args.dataset, seeds, args.data)
        return
    if args.obc_allocation:
        sparsegpt_at_obc_allocation(args.dataset, seeds, args.data)
        return
    dense, accuracy, seconds = run(
        args.dataset, seeds, args.sparsities, args.quick, args.data, args.only, clock
    )
    print(f"\n{args.dataset}: median of {len(seeds)} seeds\n")
    print(table(dense, accuracy, args.sparsities, seconds))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
