"""How long a pruning fit takes to reject parameters that cannot work.

Each estimator is given one impossible setting at a time (a misspelt
criterion, a block that does not divide the layers, an n:m pattern with
``n > m``, nothing prunable) on ``load_digits`` scaled to [0, 1], with the
settings of a real fit: a (100,) network and 200 dense epochs for
``PrunedMLPClassifier``, ``PrunedMLPClassifierCV`` and ``sparsity_path``, and
a scikit-learn (512,) network for ``MLPPruner``. The time until the
``ValueError`` is reported next to the time of the dense training that a
late check would have spent first (measured once, ``--no-dense`` skips it).

Run from the repository root:
``PYTHONPATH=. python benchmarks/bench_parameter_checks.py``.
"""

import argparse
import statistics
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skprune.neural import (
    MLPPruner,
    PrunedMLPClassifier,
    PrunedMLPClassifierCV,
    sparsity_path,
)

NETWORK = {"hidden_layer_sizes": (100,), "max_iter": 200, "random_state": 0}
WIDE = {"hidden_layer_sizes": (512,), "max_iter": 200, "random_state": 0}
IMPOSSIBLE = {
    "criterion='magnitud'": {"criterion": "magnitud"},
    "block_shape=(3, 3)": {"pattern": "block", "block_shape": (3, 3)},
    "n:m with n > m": {"pattern": "n:m", "n": 5, "m": 4, "sparsity": 0.5},
    "prunable_layers=[]": {"prunable_layers": []},
}


def _fits(params):
    sparsity = params.get("sparsity", 0.9)
    pruning = {k: v for k, v in params.items() if k != "sparsity"}
    return {
        "PrunedMLPClassifier": lambda X, y: PrunedMLPClassifier(
            **NETWORK, **pruning, sparsity=sparsity
        ).fit(X, y),
        "PrunedMLPClassifierCV": lambda X, y: PrunedMLPClassifierCV(
            **NETWORK, **pruning, sparsities=[0.0, 0.9]
        ).fit(X, y),
        "sparsity_path": lambda X, y: sparsity_path(
            PrunedMLPClassifier(**NETWORK, **pruning), X, y, [0.0, 0.9]
        ),
        "MLPPruner (512,)": lambda X, y: MLPPruner(
            MLPClassifier(**WIDE), **pruning, sparsity=sparsity
        ).fit(X, y),
    }


def _seconds_to_error(fit, X, y, repeats):
    """Median seconds until ``fit`` raises, and whether it raised a ValueError."""
    times, rejected = [], True
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (ConvergenceWarning, UserWarning))
                fit(X, y)
        except ValueError:
            pass
        else:
            rejected = False
        times.append(time.perf_counter() - start)
    return statistics.median(times), rejected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-dense", action="store_true")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0

    print("| estimator | setting | seconds to the error |")
    print("|---|---|---:|")
    for setting, params in IMPOSSIBLE.items():
        for name, fit in _fits(params).items():
            if name == "sparsity_path" and params.get("pattern") == "n:m":
                continue  # a fixed sparsity has no path: rejected at once anyway
            seconds, rejected = _seconds_to_error(fit, X, y, args.repeats)
            outcome = (
                f"{seconds:.4f}" if rejected else f"accepted ({seconds:.2f} s fit)"
            )
            print(f"| {name} | {setting} | {outcome} |")
    if args.no_dense:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        PrunedMLPClassifier(**NETWORK, sparsity=0.0).fit(X, y)
        dense = time.perf_counter() - start
        start = time.perf_counter()
        MLPClassifier(**WIDE).fit(X, y)
        wide = time.perf_counter() - start
    print()
    print("| dense training a late check waits for | seconds |")
    print("|---|---:|")
    print(f"| (100,) network, 200 epochs | {dense:.2f} |")
    print(f"| scikit-learn (512,) network, 200 epochs | {wide:.2f} |")


if __name__ == "__main__":
    main()
