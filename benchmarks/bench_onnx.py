"""ONNX export of pruned networks: onnxruntime speed of compacted against dense.

onnxruntime multiplies dense matrices whatever their zeros, so an
unstructured pruned network runs as fast as the dense one; a neuron-pruned
network is converted compacted (``to_sklearn`` drops the removed units) and
runs faster. Every model is trained on Satellite, converted with
``to_sklearn`` and skl2onnx, and timed with ``InferenceSession.run`` in
interleaved repeats (median time per call, one onnxruntime thread); outputs
are checked against ``predict_proba``.

Run: ``python benchmarks/bench_onnx.py [--data DIR] [--quick]`` (``--data``
defaults to ``../shared/data`` from the repository root).
"""

import argparse
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import onnxruntime as rt
from skl2onnx import to_onnx
from skprune.neural import PrunedMLPClassifier, to_sklearn

HIDDEN = (512, 256)
MODELS = {
    "dense": {"sparsity": 0.0},
    "unstructured 90%": {"sparsity": 0.9, "pattern": "unstructured"},
    "neuron 50%": {"sparsity": 0.5, "pattern": "neuron", "scope": "layer"},
    "neuron 75%": {"sparsity": 0.75, "pattern": "neuron", "scope": "layer"},
}
BATCHES = (1, 64, 1024)
DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load_satellite(folder):
    frame = pd.read_csv(pathlib.Path(folder) / "Satellite.csv")
    y = frame.pop("classes").to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        frame.astype(float).to_numpy(), y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(np.float32), y_train,
        scaler.transform(X_test).astype(np.float32), y_test,
    )


def session_of(model, X):
    onx = to_onnx(to_sklearn(model), X[:1], options={"zipmap": False})
    options = rt.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    data = onx.SerializeToString()
    session = rt.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session, len(data)


def time_call(session, X, min_time):
    feed = {session.get_inputs()[0].name: X}
    n_calls, elapsed = 0, 0.0
    start = time.perf_counter()
    while elapsed < min_time:
        session.run(None, feed)
        n_calls += 1
        elapsed = time.perf_counter() - start
    return elapsed / n_calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    min_time = 0.005 if args.quick else 0.05
    X_train, y_train, X_test, y_test = load_satellite(args.data)

    sessions, rows = {}, {}
    for name, params in MODELS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)  # neuron counts round
            model = PrunedMLPClassifier(
                hidden_layer_sizes=HIDDEN, max_iter=5 if args.quick else 30,
                n_pruning_steps=3, finetune_iter=3, random_state=0, **params,
            ).fit(X_train, y_train)
        session, n_bytes = session_of(model, X_train)
        _, proba = session.run(None, {session.get_inputs()[0].name: X_test})
        error = float(np.abs(proba - model.predict_proba(X_test)).max())
        sessions[name] = session
        rows[name] = {
            "widths": model.n_units_,
            "accuracy": model.score(X_test, y_test),
            "max |onnx - predict_proba|": error,
            "onnx kB": n_bytes / 1e3,
        }

    times = {(name, n): [] for name in MODELS for n in BATCHES}
    for _ in range(repeats):  # interleaved, so that load changes hit every model
        for n in BATCHES:
            batch = np.ascontiguousarray(X_test[:n])
            for name, session in sessions.items():
                times[name, n].append(time_call(session, batch, min_time))

    print("| model | widths | test accuracy | max abs diff | ONNX kB | "
          + " | ".join(f"speed-up vs dense, batch {n}" for n in BATCHES) + " |")
    print("|---|---|---|---|---|" + "---|" * len(BATCHES))
    for name, row in rows.items():
        ratios = [
            np.median(times["dense", n]) / np.median(times[name, n]) for n in BATCHES
        ]
        print(
            f"| {name} | {'-'.join(map(str, row['widths']))} | {row['accuracy']:.4f} | "
            f"{row['max |onnx - predict_proba|']:.1e} | {row['onnx kB']:.0f} | "
            + " | ".join(f"{r:.2f}x" for r in ratios) + " |"
        )
    print("\nmedian time per call of the dense model (ms): " + ", ".join(
        f"batch {n}: {1e3 * np.median(times['dense', n]):.3f}" for n in BATCHES
    ))


if __name__ == "__main__":
    main()
