"""Second-order pruning with fine-tuning, and the cost of one OBS step.

``--part finetune``: ``PrunedMLPClassifier`` on ``load_digits`` (75/25
stratified split, a (256, 128) network, 200 dense epochs, the default gradual
schedule of 10 pruning steps with 10 fine-tuning epochs after each), with
``criterion="magnitude"``, ``criterion="obs"`` (the defaults of
:class:`OBSCriterion`) and OBS with the empirical Fisher of 64 gradients side
by side for each seed and sparsity; prints the
median test accuracy. The training data are shuffled once per seed so that
the Fisher sees a random sample.

``--part cost``: one OBS pruning step (50% of the weights, global) on a
784-300-100-10 network trained for 5 epochs on 2000 samples of the synthetic
problem of ``bench_oneshot_second_order.py`` (266,200 weights, the two hidden
layers prunable),
blocks of 64 weights, 64 gradients; median seconds of repeated runs next to
magnitude pruning in the same run, and the peak of memory allocated during
one step (tracemalloc, numpy's allocations included).

Run: ``PYTHONPATH=. python benchmarks/bench_second_order.py --part finetune``
(about 6 minutes; ``--seeds 5 --sparsities 0.95,0.97,0.98,0.99`` for the
highest sparsities; ``--schedule oneshot`` prunes once, then fine-tunes for
``finetune_iter`` epochs), ``--part cost`` (about 1 minute), ``--quick`` for a smoke
run.
"""

import argparse
import copy
import time
import tracemalloc
import warnings

import numpy as np
from bench_oneshot_second_order import synthetic_problem
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skprune.neural import OBSCriterion, PrunableMLPClassifier, PrunedMLPClassifier

SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97)


def finetune(seeds, sparsities, schedule="gradual"):
    X, y = load_digits(return_X_y=True)
    compared = {
        "magnitude": "magnitude",
        "obs": "obs",
        "obs empirical, 64 gradients": OBSCriterion(num_grads=64, fisher="empirical"),
    }
    accuracy = {c: {s: [] for s in sparsities} for c in compared}
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        order = np.random.RandomState(seed).permutation(X_train.shape[0])
        X_train, y_train = X_train[order], y_train[order]
        for sparsity in sparsities:
            for criterion in accuracy:
                model = PrunedMLPClassifier(
                    hidden_layer_sizes=(256, 128),
                    max_iter=200,
                    sparsity=sparsity,
                    schedule=schedule,
                    criterion=compared[criterion],
                    random_state=seed,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X_train, y_train)
                accuracy[criterion][sparsity].append(model.score(X_test, y_test))
            print(f"  seed {seed} sparsity {sparsity} done", flush=True)
    header = " | ".join(f"{round(s * 100)}%" for s in sparsities)
    print(f"\n| criterion | {header} |")
    print("|---|" + "---|" * len(sparsities))
    for criterion, by_sparsity in accuracy.items():
        cells = " | ".join(f"{np.median(by_sparsity[s]):.4f}" for s in sparsities)
        print(f"| {criterion} | {cells} |")
    wins = [
        np.mean(np.array(accuracy["obs"][s]) - np.array(accuracy["magnitude"][s]))
        for s in sparsities
    ]
    cells = " | ".join(f"{100 * w:+.1f}" for w in wins)
    print(f"| obs - magnitude, mean points | {cells} |")


def cost(repeats):
    X, y = synthetic_problem(2000, 0)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        base = PrunableMLPClassifier(
            hidden_layer_sizes=(300, 100), max_iter=5, random_state=0
        ).fit(X, y)
    n_weights = sum(coef.size for coef in base.coefs_)
    step = OBSCriterion(
        num_grads=64, fisher_block_size=64, n_substeps=1, fisher="empirical"
    )
    kfac_step = OBSCriterion(n_substeps=1)
    criteria = {
        "magnitude": "magnitude",
        "obs empirical, block 64, 64 gradients, one step": step,
        "obs kfac (512 samples), one step": kfac_step,
        "obs defaults (kfac, 4 sub-steps)": OBSCriterion(),
    }
    times = {name: [] for name in criteria}
    for _ in range(repeats):
        for name, criterion in criteria.items():
            model = copy.deepcopy(base)
            start = time.perf_counter()
            model.prune(X, y, amount=0.5, criterion=criterion)
            times[name].append(time.perf_counter() - start)
    # (name, criterion, prune arguments); the structured steps run once each
    measured = [(name, criteria[name], {"amount": 0.5}) for name in list(criteria)[1:3]]
    structured = [
        ("obs kfac, one step, neuron pattern", {"amount": 0.5, "pattern": "neuron"}),
        ("obs kfac, one step, 2:4 pattern", {"pattern": "n:m", "n": 2, "m": 4}),
    ]
    measured += [(name, kfac_step, kwargs) for name, kwargs in structured]
    peaks = {}
    for name, criterion, kwargs in measured:
        model = copy.deepcopy(base)
        tracemalloc.start()
        start = time.perf_counter()
        model.prune(X, y, criterion=criterion, **kwargs)
        seconds = time.perf_counter() - start
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        times.setdefault(name, [seconds])
    print(
        f"\n784-300-100-10 network, {n_weights} weights, median of {repeats} runs "
        "(structured patterns: one run, under tracemalloc)\n"
    )
    print("| step | median s | ratio to magnitude |")
    print("|---|---:|---:|")
    for name, seconds in times.items():
        ratio = np.median(seconds) / np.median(times["magnitude"])
        print(f"| {name} | {np.median(seconds):.3f} | {ratio:.0f}x |")
    for name, peak in peaks.items():
        print(
            f"\npeak memory allocated during one step of {name}: {peak / 2**20:.0f} MiB"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("finetune", "cost"), default="cost")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--schedule",
        choices=("gradual", "oneshot"),
        default="gradual",
        help="pruning schedule of PrunedMLPClassifier for --part finetune",
    )
    parser.add_argument(
        "--sparsities",
        type=lambda text: tuple(float(v) for v in text.split(",")),
        default=SPARSITIES,
        help="comma-separated sparsities for --part finetune",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    if args.part == "finetune":
        seeds = range(1 if args.quick else args.seeds)
        sparsities = (0.9,) if args.quick else args.sparsities
        finetune(seeds, sparsities, args.schedule)
    else:
        cost(2 if args.quick else 5)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
