"""Time per epoch of dense training: skprune's prunable MLP against scikit-learn's.

Both estimators train the same architecture with Adam on the same data and
dtype for the same number of epochs (``tol=0`` and a large
``n_iter_no_change``, so neither stops early). Each configuration is timed
``N_REPEATS`` times in alternation and the median time per epoch is reported.
The printed ratio is scikit-learn's time divided by skprune's: above 1 means
skprune is faster.

Run from the repository root with ``python benchmarks/bench_mlp_dense.py`` (skprune
installed, or ``PYTHONPATH=.``).
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skprune.neural import PrunableMLPClassifier

N_REPEATS = 5


def _digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _large():
    X, y = make_classification(
        20000, 784, n_informative=50, n_classes=10, random_state=0
    )
    return StandardScaler().fit_transform(X), y


CASES = [
    ("load_digits, (100,)", _digits, (100,), 20),
    ("make_classification 20000x784, (300, 100)", _large, (300, 100), 2),
]


def _seconds_per_epoch(estimator_class, X, y, hidden_layer_sizes, n_epochs):
    estimator = estimator_class(
        hidden_layer_sizes=hidden_layer_sizes,
        solver="adam",
        max_iter=n_epochs,
        tol=0.0,
        n_iter_no_change=10**6,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        elapsed = time.perf_counter() - start
    assert estimator.n_iter_ == n_epochs
    return elapsed / n_epochs


def main():
    rows = []
    for name, load, hidden_layer_sizes, n_epochs in CASES:
        X64, y = load()
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            times = {MLPClassifier: [], PrunableMLPClassifier: []}
            for _ in range(N_REPEATS):
                for estimator_class in times:
                    times[estimator_class].append(
                        _seconds_per_epoch(
                            estimator_class, X, y, hidden_layer_sizes, n_epochs
                        )
                    )
            sklearn_time = np.median(times[MLPClassifier])
            skprune_time = np.median(times[PrunableMLPClassifier])
            rows.append(
                (name, np.dtype(dtype).name, sklearn_time, skprune_time)
            )
            print(f"done: {name} {np.dtype(dtype).name}", flush=True)

    print()
    print("| data, hidden layers | dtype | sklearn s/epoch | skprune s/epoch "
          "| ratio (sklearn / skprune) |")
    print("|---|---|---|---|---|")
    for name, dtype, sklearn_time, skprune_time in rows:
        print(
            f"| {name} | {dtype} | {sklearn_time:.4f} | {skprune_time:.4f} "
            f"| {sklearn_time / skprune_time:.2f} |"
        )


if __name__ == "__main__":
    main()
