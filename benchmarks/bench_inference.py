"""Prediction latency and model size of pruned perceptrons.

For the networks 64-100-10, 784-300-100-10 and 1024-1024-1024-10, in float64
and float32, the weights are random (Gaussian, scaled by ``1 / sqrt(fan_in)``)
and every hidden layer's incoming matrix (all matrices but the output layer's,
as ``prunable_layers="hidden"``) is pruned by magnitude:

- unstructured: the smallest weights, at 0, 50, 80, 90, 95 and 98% sparsity;
- blocks: the blocks of ``coefs_`` of smallest L2 norm, at 90% sparsity, for
  the block shapes (inputs, outputs) of ``BLOCK_SHAPES``.

The weights are installed in a real :class:`PrunedMLPClassifier` (fitted
briefly on random data, then given the weights and its masks, and its
inference plan rebuilt), in a scikit-learn ``MLPClassifier`` fitted the same
way, and in onnxruntime through skl2onnx (the same dense network, float32,
one intra-op thread). For batches of 1, 32, 256 and 4096 samples, with 1 and
2 threads (BLAS and OpenMP limits through threadpoolctl; onnxruntime keeps
one), the script times, side by side and interleaved (the order rotates at
every repeat), medians of repeats:

- ``ours``: ``PrunedMLPClassifier.predict_proba`` (input checks included);
- ``plan``: the inference plan alone (no input checks);
- ``numpy``: a bare numpy dense forward pass over the same weights;
- ``sklearn``: ``MLPClassifier.predict_proba`` with the same weights;
- ``onnx``: onnxruntime on the dense float32 network.

Ratios are ``other / ours`` (above 1: ours is faster). Two threads against
one (``x 1 thread``) are timed in a group of their own: ``ours`` on one
thread and on two, interleaved with each other only. Right after a
multi-threaded BLAS call, OpenBLAS's workers keep spinning on the cores for
about 0.1 s; ``x 1 thread after BLAS`` times the same two right after a
dense numpy forward pass on two BLAS threads (not timed), as a program that
alternates BLAS calls and predictions sees them. At batch 1 it also
reports the fraction of the bandwidth floor reached: the bytes of weights
and indices the plan reads per call, divided by our time, over the warm-read
bandwidth of a buffer of the same size (numpy summing it, repeatedly). It
checks that all sides agree and reports the pickled sizes.

``--goals`` measures only what the goals of the inference engine need (a few
minutes), including the accuracy of block against unstructured pruning on
the digits data. ``--cpu-time`` times the one-thread cells by the CPU time of
the calling thread instead of the wall clock (onnxruntime, with one intra-op
thread, runs in it too): on a machine shared with other processes it counts
the work of each side and not the time it waited for a core. Run from the
repository root::

    PYTHONPATH=. python benchmarks/bench_inference.py            # ~45 minutes
    PYTHONPATH=. python benchmarks/bench_inference.py --goals    # ~1 minute
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
from threadpoolctl import ThreadpoolController, threadpool_limits

from skprune.neural import PrunedMLPClassifier
from skprune.neural._kernels import KERNEL_VARIANT, HAVE_OPENMP

NETWORKS = ((64, 100, 10), (784, 300, 100, 10), (1024, 1024, 1024, 10))
SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)
BLOCK_SHAPES = ((1, 4), (1, 8), (2, 2), (4, 1), (8, 1))
BLOCK_SPARSITY = 0.9
BATCHES = (1, 32, 256, 4096)
THREADS = (1, 2)
# Seconds OpenBLAS's workers spin after a call before they sleep (2**28
# cycles of its clock), with a margin.
OPENBLAS_SPIN = 0.2
DTYPES = (np.float64, np.float32)

# (network, dtype, variants, batches, threads) measured by --goals.
GOAL_CELLS = (
    ((1024, 1024, 1024, 10), np.float32, ("95% unstructured",), (1, 256, 4096), (1, 2)),
    (
        (1024, 1024, 1024, 10),
        np.float32,
        tuple(f"90% blocks {a}x{b}" for a, b in BLOCK_SHAPES),
        (1, 256),
        (1,),
    ),
    ((784, 300, 100, 10), np.float64, ("95% unstructured",), (1,), (1,)),
    ((784, 300, 100, 10), np.float64, ("90% unstructured",), (256, 4000), (1, 2)),
    ((1024, 1024, 1024, 10), np.float64, ("90% unstructured",), (256,), (1,)),
)


# ----------------------------------------------------------------------
# Weights and models
# ----------------------------------------------------------------------


def random_weights(sizes, rng):
    coefs = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in pairwise(sizes)]
    intercepts = [0.1 * rng.standard_normal(b) for b in sizes[1:]]
    return coefs, intercepts


def prune_hidden(coefs, sparsity, block=(1, 1)):
    """Magnitude pruning of all matrices but the last, by blocks of ``block``."""
    pruned = [c.copy() for c in coefs]
    if sparsity == 0:
        return pruned
    a, b = block
    for coef in pruned[:-1]:
        n_rows, n_cols = coef.shape[0] // a, coef.shape[1] // b
        blocks = coef[: n_rows * a, : n_cols * b].reshape(n_rows, a, n_cols, b)
        norms = np.sqrt((blocks**2).sum(axis=(1, 3))).ravel()
        n_pruned = round(sparsity * norms.size)
        pruned_blocks = np.argsort(norms, kind="stable")[:n_pruned]
        mask = np.ones(norms.size, dtype=bool)
        mask[pruned_blocks] = False
        mask = np.kron(mask.reshape(n_rows, n_cols), np.ones((a, b), dtype=bool))
        coef[: n_rows * a, : n_cols * b] *= mask
    return pruned


def variants(sizes, rng, names=None):
    coefs, intercepts = random_weights(sizes, rng)
    for sparsity in SPARSITIES:
        name = f"{sparsity:.0%} unstructured"
        if names is None or name in names:
            yield name, prune_hidden(coefs, sparsity), intercepts
    for shape in BLOCK_SHAPES:
        name = f"{BLOCK_SPARSITY:.0%} blocks {shape[0]}x{shape[1]}"
        if names is None or name in names:
            yield name, prune_hidden(coefs, BLOCK_SPARSITY, shape), intercepts


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


def onnx_session(theirs, n_features):
    """onnxruntime session of the dense float32 network, one thread."""
    import onnxruntime
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = convert_sklearn(
        theirs,
        initial_types=[("X", FloatTensorType([None, n_features]))],
        options={id(theirs): {"zipmap": False}},
        target_opset=17,
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return lambda X: session.run(["probabilities"], {"X": X})[0]


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


def measure(functions, repeats, min_time, clock=time.perf_counter, warmup=0):
    """Median seconds per call of each function, interleaved.

    Every round runs the functions in a new random order: a rotation of one
    order would always run each function right after the same other one,
    whose traces in the caches (or threads still spinning) then weigh on
    that function alone (onnxruntime's call slowed the next by about 5%).
    The first ``warmup`` rounds are not timed: on several threads, the plan
    times one thread against several on its own calls (``ThreadChoice``),
    and settles in the interleaving only after a few rounds.
    """
    loops = {}
    for name, function in functions.items():
        function()
        once = min(_seconds(function, clock) for _ in range(3))
        loops[name] = max(1, int(min_time / max(once, 1e-7)))
    samples = {name: [] for name in functions}
    names = list(functions)
    rng = np.random.default_rng(0)
    for r in range(warmup + repeats):
        for name in rng.permutation(names):
            function, n = functions[name], loops[name]
            start = clock()
            for _ in range(n):
                function()
            if r >= warmup:
                samples[name].append((clock() - start) / n)
    return {name: float(np.median(values)) for name, values in samples.items()}


def after_blas(functions, blas_call, repeats):
    """Median seconds of one call of each function right after ``blas_call``.

    ``blas_call`` is not timed; the functions take turns.
    """
    samples = {name: [] for name in functions}
    for name, function in functions.items():
        blas_call()
        function()
    for _ in range(repeats):
        for name, function in functions.items():
            blas_call()
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in samples.items()}


def _seconds(function, clock=time.perf_counter):
    start = clock()
    function()
    return clock() - start


def read_bandwidth(n_bytes, repeats=20):
    """Bytes per second of numpy summing a warm buffer of ``n_bytes``."""
    buffer = np.ones(max(n_bytes // 8, 1024))
    buffer.sum()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        buffer.sum()
        times.append(time.perf_counter() - start)
    return buffer.nbytes / float(np.min(times))


def plan_bytes(plan):
    """Bytes of weights, indices and biases the plan reads for one sample."""
    total = 0
    for stage in plan._stages_for(plan.kernels_for(1, 1), 0):
        if hasattr(stage, "segment"):
            total += stage.segment.nbytes
        else:
            total += stage.layer.dense.nbytes + stage.layer.bias.nbytes
    return total


# ----------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------


def contenders(ours, theirs, onnx, X):
    plan = ours._inference_plan
    X32 = X.astype(np.float32)
    functions = {
        "ours": lambda: ours.predict_proba(X),
        "plan": lambda: plan.predict(X),
        "numpy": lambda: numpy_forward(ours.coefs_, ours.intercepts_, X),
        "sklearn": lambda: theirs.predict_proba(X),
    }
    if onnx is not None:
        functions["onnx"] = lambda: onnx(X32)
    return functions


_CONTROLLER = ThreadpoolController()


def on_threads(function, n_threads):
    """``function`` run with every thread pool limited to ``n_threads``."""

    def limited():
        with _CONTROLLER.limit(limits=n_threads):
            return function()

    return limited


def thread_times(ours, X, threads, args, blas=False):
    """Seconds per call of ``ours`` on each number of threads, interleaved
    with each other only; with ``blas``, each right after a dense numpy
    forward pass on the most threads."""
    functions = {t: on_threads(lambda: ours.predict_proba(X), t) for t in threads}
    if not blas:
        return measure(functions, args.repeats, args.min_time, warmup=args.repeats)
    forward = lambda: numpy_forward(ours.coefs_, ours.intercepts_, X)  # noqa: E731
    return after_blas(functions, on_threads(forward, max(threads)), 3 * args.repeats)


def check_agreement(ours, theirs, onnx, X, label, failures):
    expected = numpy_forward(ours.coefs_, ours.intercepts_, X.astype(np.float64))
    sides = {"ours": ours.predict_proba(X), "sklearn": theirs.predict_proba(X)}
    if onnx is not None:
        sides["onnx"] = onnx(X.astype(np.float32))
    for side, got in sides.items():
        tol = 1e-8 if got.dtype == np.float64 else 1e-3
        error = float(np.abs(got - expected).max())
        if error > tol:
            failures.append(f"{label} {side}: {error:.2e}")


def run_network(sizes, dtype, names, batches, threads, args, failures):
    rng = np.random.default_rng(1)
    ours, theirs = fitted_models(sizes, dtype)
    rows = []
    inputs = {n: rng.standard_normal((n, sizes[0])).astype(dtype) for n in batches}
    for name, coefs, intercepts in variants(sizes, rng, names):
        install(ours, theirs, coefs, intercepts, dtype)
        onnx = None if args.no_onnx else onnx_session(theirs, sizes[0])
        plan = ours._inference_plan
        row = {
            "variant": name,
            "units": plan.n_units,
            "times": {},
            "kernels": {},
            "threads": {},
            "after_blas": {},
        }
        for n in batches:
            X = inputs[n]
            if len(threads) > 1:
                # First, once the BLAS workers of the calls before sleep.
                time.sleep(OPENBLAS_SPIN)
                row["threads"][n] = thread_times(ours, X, threads, args)
            check_agreement(ours, theirs, onnx, X, f"{sizes} {name} n={n}", failures)
            for n_threads in threads:
                # The CPU time of this thread counts one thread's work only.
                cpu = args.cpu_time and n_threads == 1
                clock = time.thread_time if cpu else time.perf_counter
                with threadpool_limits(n_threads):
                    times = measure(
                        contenders(ours, theirs, onnx, X),
                        args.repeats,
                        args.min_time,
                        clock,
                        warmup=args.repeats if n_threads > 1 else 0,
                    )
                    kernels = plan.kernels_for(n)
                row["times"][n, n_threads] = times
                row["kernels"][n, n_threads] = "".join(k[0] for k in kernels)
            if len(threads) > 1:
                row["after_blas"][n] = thread_times(ours, X, threads, args, blas=True)
        if 1 in batches:
            n_bytes = plan_bytes(plan)
            with threadpool_limits(1):
                bandwidth = read_bandwidth(n_bytes)
            row["floor"] = n_bytes / bandwidth / row["times"][1, threads[0]]["ours"]
        row["pickle"] = len(pickle.dumps(ours))
        rows.append(row)
    return rows


def format_tables(results):
    lines = []
    for (sizes, dtype), rows in results.items():
        arch = "-".join(map(str, sizes))
        lines += [f"### {arch}, {np.dtype(dtype).name}", ""]
        keys = sorted({key for row in rows for key in row["times"]})
        onnx = any("onnx" in t for row in rows for t in row["times"].values())
        header = "| weights | threads | batch | ours us | x numpy | x sklearn |"
        rule = "|---|---:|---:|---:|---:|---:|"
        if onnx:
            header += " x onnx |"
            rule += "---:|"
        header += (
            " plan x numpy | x 1 thread | x 1 thread after BLAS | kernels | floor |"
        )
        rule += "---:|---:|---:|---|---:|"
        lines += [header, rule]
        for row in rows:
            for n, n_threads in keys:
                if (n, n_threads) not in row["times"]:
                    continue
                t = row["times"][n, n_threads]
                line = (
                    f"| {row['variant']} | {n_threads} | {n} | {t['ours'] * 1e6:.1f} "
                    f"| {t['numpy'] / t['ours']:.2f} | {t['sklearn'] / t['ours']:.2f} |"
                )
                if onnx:
                    line += f" {t['onnx'] / t['ours']:.2f} |"
                speedup = _speedup(row["threads"], n, n_threads)
                after = _speedup(row["after_blas"], n, n_threads)
                floor = row.get("floor") if n == 1 and n_threads == 1 else None
                line += (
                    f" {t['numpy'] / t['plan']:.2f} |"
                    f" {'' if speedup is None else f'{speedup:.2f}'} |"
                    f" {'' if after is None else f'{after:.2f}'} |"
                    f" {row['kernels'][n, n_threads]} |"
                    f" {'' if floor is None else f'{floor:.0%}'} |"
                )
                lines.append(line)
        lines.append("")
    lines += ["### Pickled size", ""]
    lines.append(
        "| network, dtype | weights | pickle bytes "
        "| x smaller than dense float64 weights |"
    )
    lines.append("|---|---|---:|---:|")
    for (sizes, dtype), rows in results.items():
        dense = 8 * sum(a * b for a, b in pairwise(sizes))
        for row in rows:
            lines.append(
                f"| {'-'.join(map(str, sizes))}, {np.dtype(dtype).name} "
                f"| {row['variant']} | {row['pickle']} | {dense / row['pickle']:.1f} |"
            )
    return "\n".join(lines)


def _speedup(times, n, n_threads):
    """Time on one thread over time on ``n_threads``, if both were timed."""
    if n_threads == 1 or n not in times or n_threads not in times[n]:
        return None
    return times[n][1] / times[n][n_threads]


def _row(results, sizes, dtype, variant):
    for row in results.get((sizes, dtype), []):
        if row["variant"] == variant:
            return row
    return None


def check_goals(results, accuracy):
    """Rows of (goal, measured, target) for the stated targets."""
    big, mnist = (1024, 1024, 1024, 10), (784, 300, 100, 10)
    goals = []

    def ratio(sizes, dtype, variant, n, other, threads=1, target=None, name=None):
        row = _row(results, sizes, dtype, variant)
        if row is None or (n, threads) not in row["times"]:
            return
        t = row["times"][n, threads]
        if other not in t:
            return
        goals.append((name, t[other] / t["ours"], target))

    ratio(big, np.float32, "95% unstructured", 1, "numpy", target=4,
          name="1024-1024-1024-10 f32 95% n=1 vs numpy >= 4x")
    ratio(big, np.float32, "95% unstructured", 256, "numpy", target=6,
          name="same, n=256, vs numpy >= 6x")
    ratio(big, np.float32, "95% unstructured", 1, "onnx", target=3.5,
          name="same, n=1, vs onnxruntime >= 3.5x")
    ratio(big, np.float32, "95% unstructured", 256, "onnx", target=5,
          name="same, n=256, vs onnxruntime >= 5x")
    ratio(mnist, np.float64, "95% unstructured", 1, "numpy", target=4,
          name="784-300-100-10 f64 95% n=1 vs numpy >= 4x")
    ratio(big, np.float64, "90% unstructured", 256, "numpy", target=3,
          name="1024-1024-1024-10 f64 90% n=256 vs numpy >= 3x")
    for n in (1, 256):
        best = None
        for a, b in BLOCK_SHAPES:
            row = _row(results, big, np.float32, f"90% blocks {a}x{b}")
            if row and (n, 1) in row["times"]:
                t = row["times"][n, 1]
                value = t["numpy"] / t["ours"]
                if best is None or value > best[0]:
                    best = (value, f"{a}x{b}")
        if best:
            goals.append(
                (f"fastest block shape ({best[1]}), 1024 f32 90% n={n} vs numpy >= 5x",
                 best[0], 5)
            )
    for sizes, dtype, variant in ((big, np.float32, "95% unstructured"),
                                  (mnist, np.float64, "90% unstructured")):
        row = _row(results, sizes, dtype, variant)
        arch = "-".join(map(str, sizes))
        for n in (256, 4000, 4096):
            speedup = row and _speedup(row["threads"], n, 2)
            if speedup:
                goals.append((f"{arch} {variant} n={n}: 2 threads vs 1 >= 1.7x",
                              speedup, 1.7))
            after = row and _speedup(row["after_blas"], n, 2)
            if after:
                goals.append(("(no goal) same right after a 2-thread BLAS call",
                              after, "info"))
    ratio(mnist, np.float64, "90% unstructured", 4000, "sklearn", threads=2, target=2,
          name="784-300-100-10 f64 90% n=4000, 2 threads, vs scikit-learn >= 2x")
    row = _row(results, big, np.float32, "95% unstructured")
    if row and "floor" in row:
        goals.append(("1024 f32 95% n=1: bandwidth floor reached >= 50%",
                      row["floor"], 0.5))
    worst = [
        t["numpy"] / t["ours"]
        for rows in results.values()
        for row in rows
        for t in row["times"].values()
    ]
    goals.append(("worst predict_proba vs numpy, all rows >= 0.95x", min(worst), 0.95))
    if accuracy:
        gap = accuracy["unstructured"] - accuracy["block"]
        goals.append((f"digits accuracy, unstructured - block {accuracy['shape']} "
                      "<= 0.5 point", gap * 100, None))
    return goals


def block_accuracy(shape):
    """Test accuracy on digits, (256, 128), gradual 90%: unstructured and blocks."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    scores = {"shape": f"{shape[0]}x{shape[1]}"}
    for pattern in ("unstructured", "block"):
        accuracies = []
        for seed in range(3):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = PrunedMLPClassifier(
                    hidden_layer_sizes=(256, 128),
                    sparsity=0.9,
                    schedule="gradual",
                    pattern=pattern,
                    block_shape=shape,
                    random_state=seed,
                ).fit(X_train, y_train)
            accuracies.append(model.score(X_test, y_test))
        scores[pattern] = float(np.mean(accuracies))
    return scores


def subset_of_table(cells, args):
    """The cells of the full table that ``--networks`` etc. select."""

    def chosen(option, value, text):
        return option is None or text(value) in option.split(",")

    selected = []
    for sizes, dtype, names, batches, threads in cells:
        if not (
            chosen(args.networks, sizes, lambda s: "-".join(map(str, s)))
            and chosen(args.dtypes, dtype, lambda d: np.dtype(d).name)
        ):
            continue
        if args.variants is not None:
            wanted = args.variants.split(",")
            # "90%" names 90% unstructured, "1x4" the blocks of that shape.
            names = [n for n in names if n.split(" ")[-1 if "blocks" in n else 0]
                     in wanted]
        if args.batches is not None:
            batches = [n for n in batches if str(n) in args.batches.split(",")]
        if names and batches:
            selected.append((sizes, dtype, names, batches, threads))
    return selected


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--goals", action="store_true", help="only the goal cells")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--min-time", type=float, default=None)
    parser.add_argument("--no-onnx", action="store_true", help="skip onnxruntime")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time one-thread cells by the CPU time of the thread (less "
        "disturbed by other processes than the wall clock)",
    )
    parser.add_argument("--block-shape", default="1x4",
                        help="block shape of the accuracy goal (--goals)")
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--networks", help="subset of the full table's networks, "
                        "e.g. 64-100-10,784-300-100-10")
    parser.add_argument("--dtypes", help="subset of dtypes, e.g. float32")
    parser.add_argument("--variants", help="subset of weights, e.g. '0%%,95%%,1x4'")
    parser.add_argument("--batches", help="subset of batch sizes, e.g. 256,4096")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 9
    if args.min_time is None:
        args.min_time = 0.002 if args.quick else 0.02
    if args.goals:
        cells = GOAL_CELLS
    elif args.quick:
        cells = [
            (sizes, np.float64, ("0% unstructured", "95% unstructured",
                                 "90% blocks 1x4"), (1, 256), (1, 2))
            for sizes in NETWORKS[:2]
        ]
    else:
        names = [f"{s:.0%} unstructured" for s in SPARSITIES] + [
            f"{BLOCK_SPARSITY:.0%} blocks {a}x{b}" for a, b in BLOCK_SHAPES
        ]
        cells = [
            (sizes, dtype, names, BATCHES, THREADS)
            for sizes in NETWORKS
            for dtype in DTYPES
        ]
        cells = subset_of_table(cells, args)
    failures = []
    results = {}
    started = time.perf_counter()
    for sizes, dtype, names, batches, threads in cells:
        rows = run_network(sizes, dtype, names, batches, threads, args, failures)
        results.setdefault((sizes, dtype), []).extend(rows)
        print(f"done {sizes} {np.dtype(dtype).name} {names[:2]}... "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    accuracy = None
    if args.goals:
        shape = tuple(int(s) for s in args.block_shape.split("x"))
        accuracy = block_accuracy(shape)
        print(f"accuracy {accuracy}", file=sys.stderr)
    text = (
        f"Kernels: {KERNEL_VARIANT}, OpenMP: {HAVE_OPENMP}.\n\n"
        + format_tables(results)
    )
    goals = check_goals(results, accuracy)
    text += "\n\n### Goals\n\n| goal | measured | met? |\n|---|---:|---|\n"
    for name, value, target in goals:
        if target == "info":
            met = "-"
        elif target is None:  # a gap of at most 0.5 point
            met = "yes" if value <= 0.5 else "no"
        else:
            met = "yes" if value >= target else "no"
        text += f"| {name} | {value:.2f} | {met} |\n"
    if accuracy:
        text += (
            f"\nDigits accuracy, mean of 3 seeds: unstructured "
            f"{accuracy['unstructured']:.4f}, blocks {accuracy['shape']} "
            f"{accuracy['block']:.4f}\n"
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
