"""Choosing the sparsity of a pruned MLP: the sparsity path against GridSearchCV.

``PrunedMLPClassifierCV`` walks the sparsity path once per fold (one dense
training per fold) and once on all the data up to the chosen sparsity;
``GridSearchCV(PrunedMLPClassifier(), {"sparsity": ...})`` fits every
sparsity on every fold from scratch, and refits. Both get the same 6
sparsities, the same folds and the same network settings (``load_digits``
scaled to [0, 1], a (128,) network, the default gradual schedule with 10
pruning steps of 10 fine-tuning epochs, 100 dense epochs).

The runs alternate, ``--repeats`` times, and the medians are compared; the
ratio is GridSearchCV's time over the CV estimator's (above 1: the path is
faster). The chosen sparsity of both is printed, for ``selection="best"``
(GridSearchCV's rule) and ``"1se"``, with the test accuracy of the fitted
model on a held-out quarter of the data.

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_mlp_cv.py``
(about 1 minute with one BLAS thread for small networks; ``--quick`` for a smoke run).
"""

import argparse
import statistics
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from skprune.neural import PrunedMLPClassifier, PrunedMLPClassifierCV

SPARSITIES = [0.0, 0.5, 0.8, 0.9, 0.95, 0.98]


def _timed(make, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = make().fit(X, y)
    return time.perf_counter() - start, estimator


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    params = {"hidden_layer_sizes": (128,), "max_iter": 100, "random_state": 0}
    n_splits, repeats = 5, args.repeats
    if args.quick:
        params.update(max_iter=10, n_pruning_steps=2, finetune_iter=2)
        n_splits, repeats = 3, 1
    folds = StratifiedKFold(n_splits)

    def path_cv(selection):
        return lambda: PrunedMLPClassifierCV(
            **params, sparsities=SPARSITIES, cv=folds, selection=selection
        )

    def grid_search():
        return GridSearchCV(
            PrunedMLPClassifier(**params), {"sparsity": SPARSITIES}, cv=folds
        )

    times = {"path": [], "grid": []}
    for _ in range(repeats):
        seconds, cv_est = _timed(path_cv("best"), X_train, y_train)
        times["path"].append(seconds)
        seconds, search = _timed(grid_search, X_train, y_train)
        times["grid"].append(seconds)
        print(f"path {times['path'][-1]:.1f} s, GridSearchCV {times['grid'][-1]:.1f} s")
    _, cv_1se = _timed(path_cv("1se"), X_train, y_train)

    path_s = statistics.median(times["path"])
    grid_s = statistics.median(times["grid"])
    print()
    print("| sparsity | path CV mean accuracy | GridSearchCV mean accuracy |")
    print("|---|---|---|")
    for i, sparsity in enumerate(SPARSITIES):
        print(
            f"| {sparsity:g} | {cv_est.cv_results_['mean_test_score'][i]:.4f} | "
            f"{search.cv_results_['mean_test_score'][i]:.4f} |"
        )
    print()
    print("| method | chosen sparsity | test accuracy | median s |")
    print("|---|---|---|---|")
    rows = [
        (
            "PrunedMLPClassifierCV, best",
            cv_est.best_params_["sparsity"],
            cv_est,
            path_s,
        ),
        ("PrunedMLPClassifierCV, 1se", cv_1se.best_params_["sparsity"], cv_1se, ""),
        ("GridSearchCV", search.best_params_["sparsity"], search, grid_s),
    ]
    for name, chosen, estimator, seconds in rows:
        seconds = f"{seconds:.1f}" if seconds != "" else ""
        print(
            f"| {name} | {chosen:g} | {estimator.score(X_test, y_test):.4f} "
            f"| {seconds} |"
        )
    print(f"\nratio GridSearchCV / path CV: {grid_s / path_s:.2f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
