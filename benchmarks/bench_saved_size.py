"""Saved size of a pruned MLPPruner: pickle and skops against the dense network.

For digits networks of 32, 128 and 512 hidden units pruned to 90% sparsity by
an ``MLPPruner`` (the estimator given unfitted, ``prefit=False``, or fitted,
``prefit=True``), prints the pickled size of the pruner against its pruned
network plus the ``estimator`` it was given (goal: at most 1.1x) and the size
of a skops file against the pickle (goal: at most 2x), stored and deflated.
Then, for the same pruners, the bytes ``pickle.loads`` leaves allocated
(traced by ``tracemalloc``) and its peak, against the bytes the pruned
network's training state adds once it is trained or pruned again (movement
scores and the best weights of early stopping): what loading held when it
built that state at once. Sizes and memory are deterministic; no repeats are
needed.

Run: ``python benchmarks/bench_saved_size.py``
"""

import pickle
import tracemalloc
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


def loaded_memory(pruner):
    """Bytes held after loading ``pruner``, the peak, and its training state."""
    blob = pickle.dumps(pruner)
    tracemalloc.start()
    loaded = pickle.loads(blob)
    held, peak = tracemalloc.get_traced_memory()
    loaded.pruned_estimator_._ensure_training_state()
    with_state, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held, peak, with_state - held


def main():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    print(
        "| hidden | prefit | dense MLP kB | pruner kB | pruner / (pruned + estimator) "
        "| skops / pickle | skops deflated / pickle |"
    )
    print("|---|---|---|---|---|---|---|")
    memory = []
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
                memory.append((hidden[0], prefit, *loaded_memory(pruner)))
    print()
    print(
        "| hidden | prefit | loaded kB | peak while loading kB | training state kB "
        "| loaded / (loaded + training state) |"
    )
    print("|---|---|---|---|---|---|")
    for hidden, prefit, held, peak, state in memory:
        print(
            f"| {hidden} | {prefit} | {held / 1e3:.1f} | {peak / 1e3:.1f} | "
            f"{state / 1e3:.1f} | {held / (held + state):.2f} |"
        )


if __name__ == "__main__":
    main()
