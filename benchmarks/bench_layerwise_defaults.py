"""PrunedMLPClassifier at 90% sparsity on real data: defaults and layer-wise criteria.

For each data set (Satellite, DNA, Vehicle from ``--data``, default
``../shared/data``) and seed: a stratified 75/25 split (``random_state=seed``),
standardised inputs, a (256, 128) network with the estimator's defaults
(gradual schedule, 10 steps of 10 epochs of fine-tuning, global
unstructured magnitude pruning) at ``sparsity=0`` (dense) and ``0.9``, then
the same with other criteria. Prints the median test accuracy over the seeds
and the median of the per-seed gap to the dense network, in points. With
``"obc"`` the estimators' default scope is per layer (the criterion's
``finetuning_scope``); "obc global" sets ``scope="global"``.

``--digits`` instead compares, on ``load_digits`` with the same split and
network, the default gradual schedule with the magnitude criterion against
``"obc"`` (per-layer scope, its default in the estimators, and global, also
with a per-layer floor on the kept weights of its global allocation,
:class:`FlooredOBC`, and its choice of weights without its re-fit) and
``LayerwiseRefit("obs")`` at 95% and 98% sparsity.

Run from the repository root, with the data sets in ``../shared/data``
(``--data DIR`` otherwise): ``OMP_NUM_THREADS=1 PYTHONPATH=. python
benchmarks/bench_layerwise_defaults.py`` (``--digits``).
"""

import argparse
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skprune.neural import (
    LayerwiseRefit,
    OBCCriterion,
    PrunedMLPClassifier,
    PruningCriterion,
)

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TARGETS = {"Satellite": "classes", "DNA": "Class", "Vehicle": "Class"}

CONFIGS = {
    "defaults (magnitude)": {},
    "magnitude + refit": {"criterion": LayerwiseRefit("magnitude")},
    "obc": {"criterion": "obc"},
    "obc global": {"criterion": "obc", "scope": "global"},
    "obs + refit": {"criterion": LayerwiseRefit("obs")},
    "oneshot obc, 100 epochs": {
        "criterion": "obc",
        "schedule": "oneshot",
        "finetune_iter": 100,
    },
}


def load(name, seed, data_dir):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        frame = pd.read_csv(pathlib.Path(data_dir) / f"{name}.csv")
        y = frame.pop(TARGETS[name]).to_numpy()
        X = frame.astype(float).to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def score(data, seed, sparsity, params):
    X_train, X_test, y_train, y_test = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = PrunedMLPClassifier(
            (256, 128), sparsity=sparsity, random_state=seed, **params
        ).fit(X_train, y_train)
    return model.score(X_test, y_test)


class _ScoresOnly(PruningCriterion):
    """OBC's choice of the weights without its re-fit of the kept ones."""

    def __init__(self):
        self.criterion = OBCCriterion()

    def score(self, context):
        return self.criterion.score(context)


class FlooredOBC(OBCCriterion):
    """OBC whose global allocation leaves every layer a floor of kept weights.

    After the step, no prunable layer keeps less than ``floor`` times the
    fraction of all prunable weights kept: the highest-scoring weights of a
    layer below it are moved above every other score, and the rest of the
    step falls on the other layers.
    """

    def __init__(self, floor=0.75, damp=0.01, num_samples=4096,
                 output_hessian="gauss-newton"):
        super().__init__(damp, num_samples, output_hessian)
        self.floor = floor

    def score(self, context):
        scores = [np.array(s, dtype=np.float64) for s in super().score(context)]
        step = context.step
        if step is None or step.scope != "global":
            return scores
        pattern, targets = step.pattern, step.targets
        alive = [pattern.alive(context.estimator, t) for t in targets]
        n_total = sum(a.size for a in alive)
        for _ in targets:
            flat = [scores[t].reshape(-1) for t in targets]
            selected = pattern.select(flat, alive, step.amount, "global")
            n_kept = sum(a.sum() for a in alive) - sum(len(s) for s in selected)
            top = max(f.max() for f in flat) + 1.0
            raised = False
            for a, chosen, f in zip(alive, selected, flat):
                need = int(np.ceil(self.floor * n_kept / n_total * a.size))
                if a.sum() - len(chosen) < need and not np.all(f[a] >= top):
                    candidates = np.flatnonzero(a)
                    best = np.argsort(-f[candidates], kind="stable")[:need]
                    f[candidates[best]] += top
                    raised = True
            if not raised:
                break
        return scores


DIGITS_CONFIGS = {
    "magnitude": {},
    "obc": {"criterion": "obc"},
    "obc global": {"criterion": "obc", "scope": "global"},
    "obc, floor 0.75": {"criterion": FlooredOBC(0.75), "scope": "global"},
    "obc, floor 1": {"criterion": FlooredOBC(1.0), "scope": "global"},
    "obc, masks only": {"criterion": _ScoresOnly()},
    "obs + refit": {"criterion": LayerwiseRefit("obs")},
}


def digits_finetuned(seeds, names=None):
    """Gradual schedule on digits: magnitude against the layer-wise criteria."""
    configs = {k: DIGITS_CONFIGS[k] for k in (names or DIGITS_CONFIGS)}
    sparsities = (0.95, 0.98)
    accuracy = {(k, s): [] for k in configs for s in sparsities}
    for seed in range(seeds):
        data = load("digits", seed, None)
        for label, params in configs.items():
            for sparsity in sparsities:
                accuracy[label, sparsity].append(score(data, seed, sparsity, params))
        print(f"  digits seed {seed} done", flush=True)
    print("\n| criterion | 95% | 98% |\n|---|---|---|")
    for label in configs:
        cells = " | ".join(
            f"{np.median(accuracy[label, s]):.4f}" for s in sparsities
        )
        print(f"| {label} | {cells} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=list(TARGETS))
    parser.add_argument("--only", nargs="*", help="configurations, by name")
    parser.add_argument("--digits", action="store_true", help="fine-tuned, digits")
    args = parser.parse_args()
    if args.digits:
        digits_finetuned(args.seeds, args.only)
        return
    configs = {k: CONFIGS[k] for k in (args.only or CONFIGS)}
    start = time.perf_counter()
    lines = ["| data set | dense | " + " | ".join(configs) + " |"]
    lines.append("|---|---|" + "---|" * len(configs))
    for name in args.datasets:
        dense, accuracy = [], {k: [] for k in configs}
        for seed in range(args.seeds):
            data = load(name, seed, args.data)
            dense.append(score(data, seed, 0.0, {}))
            for label, params in configs.items():
                accuracy[label].append(score(data, seed, 0.9, params))
            print(f"  {name} seed {seed} done", flush=True)
        cells = [
            f"{np.median(a):.4f} ({100 * np.median(np.subtract(a, dense)):+.1f})"
            for a in accuracy.values()
        ]
        lines.append(f"| {name} | {np.median(dense):.4f} | " + " | ".join(cells) + " |")
    print("\nMedian test accuracy at 90% sparsity (median gap to dense, points):\n")
    print("\n".join(lines))
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
