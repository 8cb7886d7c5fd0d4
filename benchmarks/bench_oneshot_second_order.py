"""One-shot pruning without fine-tuning: magnitude, OBD and OBS.

For each seed, trains a network with the library's defaults (Adam,
``alpha=1e-4``) on a 75/25 stratified split, prunes a copy of it once at each
sparsity with each criterion (global scope unless the name says "layer"),
and prints the median test accuracy over the seeds, then the loss of
accuracy against the dense network in points.

Data sets (``--dataset``):

- ``digits``: ``load_digits``, a (256, 128) network, 200 epochs.
- ``synthetic``: ``make_classification(n_samples=20000, n_features=784,
  n_informative=100, n_redundant=684, n_classes=10, n_clusters_per_class=2,
  class_sep=2.0)`` (every feature carries signal, as pixels do), a
  784-300-100-10 network, 10 epochs.

The samples given to ``prune`` (whose first ``num_grads`` make the Fisher)
are the training samples in a seeded random order.

Run: ``PYTHONPATH=. python benchmarks/bench_oneshot_second_order.py
--dataset digits`` (about 8 minutes), ``--dataset synthetic`` (about 10
minutes; 18 with ``--extra``), ``--quick`` for a smoke run.
"""

import argparse
import copy
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skprune.neural import OBSCriterion, PrunableMLPClassifier

SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.93, 0.95)
QUICK_SPARSITIES = (0.9, 0.95)


def synthetic_problem(n_samples, seed):
    """784 features that all carry signal (as pixels do), 10 classes."""
    return make_classification(
        n_samples=n_samples,
        n_features=784,
        n_informative=100,
        n_redundant=684,
        n_classes=10,
        n_clusters_per_class=2,
        class_sep=2.0,
        random_state=seed,
    )


def load(dataset, seed):
    """Scaled train/test split and the network to train on it."""
    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
        network = {"hidden_layer_sizes": (256, 128), "max_iter": 200}
    else:
        X, y = synthetic_problem(20000, seed)
        network = {"hidden_layer_sizes": (300, 100), "max_iter": 10}
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test, network


def criteria(dataset, quick, extra=False):
    """Name -> (criterion, scope). The OBS defaults: the Kronecker-factored
    Fisher of 512 samples, damp=0.1 relative to the mean Fisher diagonal,
    4 sub-steps; "empirical": the empirical Fisher in blocks of 64."""
    compared = {
        "magnitude": ("magnitude", "global"),
        "obd": ("obd", "global"),
        "obs (defaults)": (OBSCriterion(), "global"),
        "obs empirical, 64 grads": (
            OBSCriterion(num_grads=64, fisher="empirical"),
            "global",
        ),
    }
    if quick:
        return compared
    compared.update(
        {
            "obs 1 step": (OBSCriterion(n_substeps=1), "global"),
            "obs layer scope": (OBSCriterion(), "layer"),
            "obs damp=0.01": (OBSCriterion(damp=0.01), "global"),
            "obs damp=1": (OBSCriterion(damp=1.0), "global"),
            "obs 8 sub-steps": (OBSCriterion(n_substeps=8), "global"),
        }
    )
    if dataset == "digits" or extra:
        compared.update(
            {
                "obs 128 samples": (OBSCriterion(num_grads=128), "global"),
                "obs empirical, 256 grads, 8 sub-steps": (
                    OBSCriterion(num_grads=256, n_substeps=8, fisher="empirical"),
                    "global",
                ),
            }
        )
    return compared


def timed_prune_score(
    base, X_prune, y_prune, X_test, y_test, clock=time.perf_counter, **prune_params
):
    """Seconds of one prune of a copy of ``base``, and the copy's test score."""
    model = copy.deepcopy(base)
    start = clock()
    model.prune(X_prune, y_prune, **prune_params)
    elapsed = clock() - start
    return elapsed, model.score(X_test, y_test)


def run(dataset, seeds, sparsities, quick, extra):
    compared = criteria(dataset, quick, extra)
    accuracy = {name: {s: [] for s in sparsities} for name in compared}
    seconds = {name: [] for name in compared}
    dense = []
    for seed in seeds:
        X_train, X_test, y_train, y_test, network = load(dataset, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            base = PrunableMLPClassifier(random_state=seed, **network).fit(
                X_train, y_train
            )
        dense.append(base.score(X_test, y_test))
        order = np.random.RandomState(seed).permutation(X_train.shape[0])
        X_prune, y_prune = X_train[order], y_train[order]
        for name, (criterion, scope) in compared.items():
            for sparsity in sparsities:
                elapsed, score = timed_prune_score(
                    base, X_prune, y_prune, X_test, y_test,
                    amount=sparsity, criterion=criterion, scope=scope,
                )
                seconds[name].append(elapsed)
                accuracy[name][sparsity].append(score)
            print(f"  seed {seed} {name} done", flush=True)
    return float(np.median(dense)), accuracy, seconds


def table(dense, accuracy, sparsities, seconds):
    header = " | ".join(f"{round(s * 100)}%" for s in sparsities)
    lines = [
        f"| criterion | {header} | median s per prune |",
        "|---|" + "---|" * (len(sparsities) + 1),
    ]
    for name, by_sparsity in accuracy.items():
        cells = " | ".join(f"{np.median(by_sparsity[s]):.4f}" for s in sparsities)
        lines.append(f"| {name} | {cells} | {np.median(seconds[name]):.2f} |")
    lines += [
        "",
        "Loss of accuracy against the dense network, in points (median):",
        "",
        f"| criterion | {header} |",
        "|---|" + "---|" * len(sparsities),
    ]
    for name, by_sparsity in accuracy.items():
        cells = " | ".join(
            f"{100 * (dense - np.median(by_sparsity[s])):.1f}" for s in sparsities
        )
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=("digits", "synthetic"), default="digits")
    parser.add_argument("--seeds", type=int, default=None, help="3 digits, 2 synthetic")
    parser.add_argument("--quick", action="store_true", help="one seed, two sparsities")
    parser.add_argument(
        "--extra",
        action="store_true",
        help="synthetic: also 128 samples and the empirical Fisher with 256 gradients",
    )
    args = parser.parse_args()
    n_seeds = args.seeds or (3 if args.dataset == "digits" else 2)
    seeds = range(1 if args.quick else n_seeds)
    sparsities = QUICK_SPARSITIES if args.quick else SPARSITIES
    start = time.perf_counter()
    dense, accuracy, seconds = run(
        args.dataset, seeds, sparsities, args.quick, args.extra
    )
    print(
        f"\n{args.dataset}: dense test accuracy (median of {len(seeds)} seeds): "
        f"{dense:.4f}\n"
    )
    print(table(dense, accuracy, sparsities, seconds))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
