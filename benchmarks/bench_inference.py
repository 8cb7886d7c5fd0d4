"""Prediction latency and model size of pruned perceptrons.

For the networks 64-100-10, 784-300-100-10 and 1024-1024-1024-10, in float64
and float32, the weights are random (Gaussian, scaled by ``1 / sqrt(fan_in)``)
and pruned in two ways:

- unstructured: the smallest weights of every hidden layer's incoming matrix
  (all matrices but the output layer's, as ``prunable_layers="hidden"``), at
  0, 50, 80, 90, 95, 98 and 99% sparsity;
- neurons: 50, 75 or 90% of the units of every hidden layer zeroed (incoming
  weights, bias and outgoing weights), as a masked network would hold them.

The weights are installed in a real :class:`PrunedMLPClassifier` (fitted
briefly on random data, then given the weights and its masks, and its
inference plan rebuilt), and in a scikit-learn ``MLPClassifier`` fitted the
same way. For batches of 1, 32 and 1024 samples, the script times, side by
side and interleaved (the order rotates at every repeat), medians of repeats:

- ``ours``: ``PrunedMLPClassifier.predict_proba`` (input checks included);
- ``plan``: the inference plan alone (no input checks);
- ``numpy``: a bare numpy dense forward pass over the same weights;
- ``sklearn``: ``MLPClassifier.predict_proba`` with the same weights.

Ratios are ``other / ours`` (above 1: ours is faster). Next to the batch-1
time is the physical floor: bytes of the weights the plan streams for one
sample over the memory bandwidth measured with a large numpy copy. BLAS runs
on one thread on every side (``--threads`` to change). It also reports the
pickled size of the models against sparsity, and checks that all sides agree.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_inference.py            # ~4 minutes
    PYTHONPATH=. python benchmarks/bench_inference.py --quick    # seconds
"""

import argparse
import pickle
import sys
import time
import warnings
from itertools import pairwise

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from skprune.neural import PrunedMLPClassifier

NETWORKS = ((64, 100, 10), (784, 300, 100, 10), (1024, 1024, 1024, 10))
SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
NEURONS_REMOVED = (0.5, 0.75, 0.9)
BATCHES = (1, 32, 1024)
DTYPES = (np.float64, np.float32)


# ----------------------------------------------------------------------
# Weights and models
# ----------------------------------------------------------------------


def random_weights(sizes, dtype, rng):
    coefs = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in pairwise(sizes)]
    intercepts = [0.1 * rng.standard_normal(b) for b in sizes[1:]]
    return coefs, intercepts


def unstructured(coefs, intercepts, sparsity):
    pruned = []
    for k, coef in enumerate(coefs):
        if k == len(coefs) - 1 or sparsity == 0:
            pruned.append(coef.copy())
            continue
        n_pruned = round(sparsity * coef.size)
        order = np.argsort(np.abs(coef), axis=None, kind="stable")
        flat = coef.ravel().copy()
        flat[order[:n_pruned]] = 0.0
        pruned.append(flat.reshape(coef.shape))
    return pruned, [b.copy() for b in intercepts]


def neurons_removed(coefs, intercepts, fraction, rng):
    coefs = [c.copy() for c in coefs]
    intercepts = [b.copy() for b in intercepts]
    for k in range(len(coefs) - 1):
        width = coefs[k].shape[1]
        removed = rng.choice(width, round(fraction * width), replace=False)
        coefs[k][:, removed] = 0.0
        intercepts[k][removed] = 0.0
        coefs[k + 1][removed] = 0.0
    return coefs, intercepts


def fitted_models(sizes, dtype):
    """A PrunedMLPClassifier and an MLPClassifier of the architecture."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2 * sizes[-1], sizes[0])).astype(dtype)
    y = np.arange(len(X)) % sizes[-1]
    hidden = tuple(sizes[1:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = PrunedMLPClassifier(
            hidden_layer_sizes=hidden, sparsity=0.0, max_iter=1, random_state=0
        ).fit(X, y)
        theirs = MLPClassifier(
            hidden_layer_sizes=hidden, max_iter=1, random_state=0
        ).fit(X, y)
    return ours, theirs


def install(ours, theirs, coefs, intercepts, dtype):
    ours.coefs_ = [c.astype(dtype) for c in coefs]
    ours.intercepts_ = [b.astype(dtype) for b in intercepts]
    ours.masks_ = [c != 0 for c in ours.coefs_]
    ours._build_inference_plan()
    theirs.coefs_ = [c.copy() for c in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]


def numpy_forward(coefs, intercepts, X):
    """Bare dense forward pass, relu hidden layers and softmax output."""
    h = X
    last = len(coefs) - 1
    for k, (coef, bias) in enumerate(zip(coefs, intercepts)):
        h = h @ coef
        h += bias
        if k != last:
            np.maximum(h, 0, out=h)
    h -= h.max(axis=1, keepdims=True)
    np.exp(h, out=h)
    h /= h.sum(axis=1, keepdims=True)
    return h


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------


def measure(functions, repeats, min_time):
    """Median seconds per call of each function, interleaved."""
    loops = {}
    for name, function in functions.items():
        function()
        start = time.perf_counter()
        function()
        once = time.perf_counter() - start
        loops[name] = max(1, int(min_time / max(once, 1e-7)))
    samples = {name: [] for name in functions}
    names = list(functions)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            function, n = functions[name], loops[name]
            start = time.perf_counter()
            for _ in range(n):
                function()
            samples[name].append((time.perf_counter() - start) / n)
    return {name: float(np.median(values)) for name, values in samples.items()}


def memory_bandwidth(repeats=5):
    """Bytes per second of a large numpy copy (read and write)."""
    source = np.ones(2**24)  # 128 MB, far above the caches
    target = np.empty_like(source)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        times.append(time.perf_counter() - start)
    return 2 * source.nbytes / float(np.median(times))


def streamed_bytes(plan):
    """Bytes of weights and biases the plan reads for one sample."""
    total = 0
    for layer, kernel in zip(plan.layers, plan.kernels_for(1)):
        if kernel == "csr":
            matrix = layer.csr
            total += matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
        else:
            total += layer.dense.nbytes
        total += layer.bias.nbytes
    return total


# ----------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------


def variants(sizes, rng, sparsities, removed):
    coefs, intercepts = random_weights(sizes, np.float64, rng)
    for sparsity in sparsities:
        yield f"{sparsity:.0%} unstructured", *unstructured(coefs, intercepts, sparsity)
    for fraction in removed:
        yield (
            f"{fraction:.0%} neurons",
            *neurons_removed(coefs, intercepts, fraction, rng),
        )


def contenders(ours, theirs, X):
    plan = ours._inference_plan
    return {
        "ours": lambda: ours.predict_proba(X),
        "plan": lambda: plan.predict(X),
        "numpy": lambda: numpy_forward(ours.coefs_, ours.intercepts_, X),
        "sklearn": lambda: theirs.predict_proba(X),
    }


def run_network(sizes, dtype, args, bandwidth, failures):
    rng = np.random.default_rng(1)
    ours, theirs = fitted_models(sizes, dtype)
    rows = []
    sparsities = SPARSITIES if not args.quick else (0.0, 0.95)
    removed = NEURONS_REMOVED if not args.quick else (0.75,)
    batches = BATCHES
    inputs = {n: rng.standard_normal((n, sizes[0])).astype(dtype) for n in batches}
    for name, coefs, intercepts in variants(sizes, rng, sparsities, removed):
        install(ours, theirs, coefs, intercepts, dtype)
        plan = ours._inference_plan
        row = {"variant": name, "units": plan.n_units}
        for n in batches:
            X = inputs[n]
            expected = numpy_forward(ours.coefs_, ours.intercepts_, X.copy())
            tol = 1e-8 if dtype == np.float64 else 1e-3
            for label, got in (
                ("ours", ours.predict_proba(X)),
                ("sklearn", theirs.predict_proba(X)),
            ):
                error = float(np.abs(got - expected).max())
                if error > tol:
                    failures.append(f"{sizes} {name} n={n} {label}: {error:.2e}")
            times = measure(contenders(ours, theirs, X), args.repeats, args.min_time)
            row[n] = times
            row[(n, "kernels")] = "".join(k[0] for k in plan.kernels_for(n))
        row["floor"] = streamed_bytes(plan) / bandwidth
        row["pickle"] = len(pickle.dumps(ours))
        rows.append(row)
    return rows


def format_tables(results, bandwidth, sklearn_sizes):
    lines = [f"Memory bandwidth (numpy copy of 128 MB): {bandwidth / 1e9:.1f} GB/s", ""]
    for (sizes, dtype), rows in results.items():
        arch = "-".join(map(str, sizes))
        lines.append(f"### {arch}, {np.dtype(dtype).name}")
        lines.append("")
        header = "| weights | units kept |"
        rule = "|---|---|"
        for n in BATCHES:
            header += f" n={n} ours us | x numpy | x sklearn | plan x numpy | kernels |"
            rule += "---:|---:|---:|---:|---|"
        header += " floor n=1 us |"
        rule += "---:|"
        lines += [header, rule]
        for row in rows:
            line = f"| {row['variant']} | {'-'.join(map(str, row['units']))} |"
            for n in BATCHES:
                t = row[n]
                line += (
                    f" {t['ours'] * 1e6:.1f} | {t['numpy'] / t['ours']:.2f} |"
                    f" {t['sklearn'] / t['ours']:.2f} |"
                    f" {t['numpy'] / t['plan']:.2f} | {row[(n, 'kernels')]} |"
                )
            line += f" {row['floor'] * 1e6:.2f} |"
            lines.append(line)
        lines.append("")
    lines.append("### Pickled size")
    lines.append("")
    lines.append(
        "| network, dtype | weights | pickle bytes | x smaller than sklearn pickle "
        "| x smaller than dense float64 weights |"
    )
    lines.append("|---|---|---:|---:|---:|")
    for (sizes, dtype), rows in results.items():
        dense = 8 * sum(a * b for a, b in pairwise(sizes))
        reference = sklearn_sizes[(sizes, dtype)]
        for row in rows:
            lines.append(
                f"| {'-'.join(map(str, sizes))}, {np.dtype(dtype).name} "
                f"| {row['variant']} | {row['pickle']} "
                f"| {reference / row['pickle']:.1f} | {dense / row['pickle']:.1f} |"
            )
    return "\n".join(lines)


def check_goals(results):
    """Rows of (goal, measured, met) for the stated targets."""
    goals = []

    def find(sizes, variant, dtype=np.float64):
        for row in results.get((sizes, dtype), []):
            if row["variant"] == variant:
                return row
        return None

    row = find((784, 300, 100, 10), "95% unstructured")
    if row:
        t = row[1]
        goals.append(
            ("784-300-100-10 95% n=1 vs numpy >= 1.7x", t["numpy"] / t["ours"], 1.7)
        )
        goals.append(
            ("784-300-100-10 95% n=1 vs sklearn >= 4x", t["sklearn"] / t["ours"], 4)
        )
    row = find((1024, 1024, 1024, 10), "95% unstructured")
    if row:
        t = row[1]
        goals.append(
            ("1024-1024-1024-10 95% n=1 vs numpy >= 5x", t["numpy"] / t["ours"], 5)
        )
    for sizes in ((784, 300, 100, 10), (1024, 1024, 1024, 10)):
        row = find(sizes, "75% neurons")
        if row:
            t = row[1024]
            arch = "-".join(map(str, sizes))
            goals.append(
                (f"{arch} 75% neurons n=1024 vs numpy >= 3x", t["numpy"] / t["ours"], 3)
            )
    for key in ("plan", "ours"):
        worst = min(
            row[n]["numpy"] / row[n][key]
            for rows in results.values()
            for row in rows
            for n in BATCHES
        )
        goals.append((f"worst {key} vs numpy, all rows >= 0.95x", worst, 0.95))
    return [(name, value, value >= target) for name, value, target in goals]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--min-time", type=float, default=None)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 11
    if args.min_time is None:
        args.min_time = 0.002 if args.quick else 0.02
    networks = NETWORKS[:2] if args.quick else NETWORKS
    dtypes = DTYPES[:1] if args.quick else DTYPES
    failures = []
    results = {}
    sklearn_sizes = {}
    started = time.perf_counter()
    with threadpool_limits(args.threads):
        bandwidth = memory_bandwidth()
        for sizes in networks:
            for dtype in dtypes:
                results[(sizes, dtype)] = run_network(
                    sizes, dtype, args, bandwidth, failures
                )
                _, theirs = fitted_models(sizes, dtype)
                sklearn_sizes[(sizes, dtype)] = len(pickle.dumps(theirs))
                print(
                    f"done {sizes} {np.dtype(dtype).name} "
                    f"({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                )
    text = format_tables(results, bandwidth, sklearn_sizes)
    goals = check_goals(results)
    text += "\n\n### Goals\n\n| goal | measured | met? |\n|---|---:|---|\n"
    text += "\n".join(
        f"| {name} | {value:.2f} | {'yes' if met else 'no'} |"
        for name, value, met in goals
    )
    print(text)
    print(f"\nTotal time: {time.perf_counter() - started:.0f} s")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if failures:
        print("Disagreements with the dense forward pass:", *failures, sep="\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
