"""One-shot pruning without fine-tuning: magnitude, OBD and OBS on digits.

Trains a (256, 128) network on a 75/25 split of ``load_digits`` for several
seeds, prunes a copy of it once at each sparsity with each criterion, and
prints the median test accuracy.

Run: ``PYTHONPATH=. python benchmarks/bench_oneshot_second_order.py``
"""

import argparse
import copy
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skprune.neural import OBSCriterion, PrunableMLPClassifier

SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)


def criteria():
    return {
        "magnitude": "magnitude",
        "obd": "obd",
        "obs damp=1e-4": OBSCriterion(num_grads=256, damp=1e-4),
        "obs damp=1e-3": OBSCriterion(num_grads=256, damp=1e-3),
        "obs damp=1e-2": OBSCriterion(num_grads=256, damp=1e-2),
    }


def run(seeds):
    X, y = load_digits(return_X_y=True)
    accuracy = {name: {s: [] for s in SPARSITIES} for name in criteria()}
    dense = []
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            base = PrunableMLPClassifier(
                hidden_layer_sizes=(256, 128), max_iter=200, random_state=seed
            ).fit(X_train, y_train)
        dense.append(base.score(X_test, y_test))
        rng = np.random.RandomState(seed)
        sample = rng.permutation(X_train.shape[0])
        for name, criterion in criteria().items():
            for sparsity in SPARSITIES:
                model = copy.deepcopy(base)
                model.prune(X_train[sample], y_train[sample], amount=sparsity, criterion=criterion)
                accuracy[name][sparsity].append(model.score(X_test, y_test))
    return np.median(dense), accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    dense, accuracy = run(range(args.seeds))
    print(f"dense test accuracy (median of {args.seeds} seeds): {dense:.4f}\n")
    print("| criterion | " + " | ".join(f"{int(s * 100)}%" for s in SPARSITIES) + " |")
    print("|---|" + "---|" * len(SPARSITIES))
    for name, by_sparsity in accuracy.items():
        cells = " | ".join(f"{np.median(by_sparsity[s]):.4f}" for s in SPARSITIES)
        print(f"| {name} | {cells} |")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
