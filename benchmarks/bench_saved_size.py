"""Saved size of a pruned MLPPruner: pickle and skops against the dense network.

For digits networks of 32, 128 and 512 hidden units pruned to 90% sparsity by
an ``MLPPruner`` (the estimator given unfitted, ``prefit=False``, or fitted,
``prefit=True``), prints the pickled size of the pruner against its pruned
network plus the ``estimator`` it was given (goal: at most 1.1x) and the size
of a skops file against the pickle (goal: at most 2x), stored and deflated.
Sizes are deterministic; no repeats are needed.

Run: ``python benchmarks/bench_saved_size.py``
"""

import pickle
import warnings
import zipfile

import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skprune.neural import MLPPruner
from skprune.utils import skops_trusted_types

HIDDEN = ((32,), (128,), (512,))


def size(obj):
    return len(pickle.dumps(obj))


def main():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    print(
        "| hidden | prefit | dense MLP kB | pruner kB | pruner / (pruned + estimator) "
        "| skops / pickle | skops deflated / pickle |"
    )
    print("|---|---|---|---|---|---|---|")
    for hidden in HIDDEN:
        params = {"hidden_layer_sizes": hidden, "max_iter": 100, "random_state": 0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            dense = MLPClassifier(**params).fit(X, y)
            for prefit in (False, True):
                given = dense if prefit else MLPClassifier(**params)
                pruner = MLPPruner(given, sparsity=0.9, prefit=prefit).fit(X, y)
                stored = sio.dumps(pruner)
                deflated = sio.dumps(pruner, compression=zipfile.ZIP_DEFLATED)
                sio.loads(stored, trusted=skops_trusted_types())
                parts = size(pruner.pruned_estimator_) + size(pruner.estimator)
                print(
                    f"| {hidden[0]} | {prefit} | {size(dense) / 1e3:.1f} | "
                    f"{size(pruner) / 1e3:.1f} | {size(pruner) / parts:.3f} | "
                    f"{len(stored) / size(pruner):.2f} | "
                    f"{len(deflated) / size(pruner):.2f} |"
                )


if __name__ == "__main__":
    main()
