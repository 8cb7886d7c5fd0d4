"""Memory a loaded pruned network holds: the fitted model against its training state.

For digits networks of 32, 128 and 512 hidden units pruned to 90% sparsity,
prints the bytes that ``pickle.loads`` leaves allocated (traced by
``tracemalloc``) and its peak, then the bytes the training state adds once the
network is trained or pruned again (movement scores and the best weights of
early stopping, two more copies of the weights): what loading held when it
built that state at once. Memory is deterministic; no repeats are needed.

Run: ``python benchmarks/bench_loaded_memory.py``
"""

import pickle
import tracemalloc
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skprune.neural import PrunedMLPClassifier

HIDDEN = ((32,), (128,), (512,))


def main():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    print(
        "| hidden | pickle kB | loaded kB | peak while loading kB "
        "| training state kB | loaded / (loaded + training state) |"
    )
    print("|---|---|---|---|---|---|")
    for hidden in HIDDEN:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = PrunedMLPClassifier(
                hidden, sparsity=0.9, max_iter=20, random_state=0
            ).fit(X, y)
        blob = pickle.dumps(model)
        tracemalloc.start()
        loaded = pickle.loads(blob)
        held, peak = tracemalloc.get_traced_memory()
        loaded._ensure_training_state()
        with_state, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        state = with_state - held
        print(
            f"| {hidden[0]} | {len(blob) / 1e3:.1f} | {held / 1e3:.1f} | "
            f"{peak / 1e3:.1f} | {state / 1e3:.1f} | {held / with_state:.2f} |"
        )


if __name__ == "__main__":
    main()
