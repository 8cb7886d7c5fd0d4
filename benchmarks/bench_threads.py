"""Threads of the compiled kernels, alone and right after a BLAS call.

The inference plan of a pruned 784-300-100-10 (float64, 90%) and
1024-1024-1024-10 (float32, 95%) network is timed with 1 and 2 threads at
batches of 256 and 4096 samples, in two settings:

- ``alone``: nothing else runs between two predictions;
- ``after BLAS``: a dense numpy forward pass over the same batch, with the
  same number of OpenBLAS threads, runs right before every prediction (it is
  not timed), as in a pipeline or in a benchmark that interleaves sides.

OpenBLAS's worker threads keep spinning for a while after a call; the
OpenMP threads of the kernels then share the cores with them. The ratio
``1 thread / 2 threads`` (above 1: two threads are faster) of medians is
printed for both settings. Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_threads.py
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from skprune.neural._inference import InferencePlan

NETWORKS = {
    "784-300-100-10 float64 90%": ((784, 300, 100, 10), np.float64, 0.90),
    "1024-1024-1024-10 float32 95%": ((1024, 1024, 1024, 10), np.float32, 0.95),
}


def random_network(sizes, dtype, sparsity, rng):
    """Gaussian weights, every matrix but the output layer's pruned at random."""
    coefs, intercepts = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        coef = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        if n_out != sizes[-1]:
            coef[rng.random_sample((n_in, n_out)) < sparsity] = 0.0
        coefs.append(coef.astype(dtype))
        intercepts.append(rng.standard_normal(n_out).astype(dtype))
    return coefs, intercepts


def dense_forward(X, coefs):
    for coef in coefs:
        X = np.maximum(X @ coef, 0)
    return X


def median_time(plan, X, coefs, after_blas, repeats):
    plan.predict(X)
    times = []
    for _ in range(repeats):
        if after_blas:
            dense_forward(X, coefs)
        start = time.perf_counter()
        plan.predict(X)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    print("| network | batch | setting | 1 thread ms | 2 threads ms | 1 / 2 |")
    print("|---|---:|---|---:|---:|---:|")
    for name, (sizes, dtype, sparsity) in NETWORKS.items():
        coefs, intercepts = random_network(sizes, dtype, sparsity, rng)
        X_all = rng.standard_normal((4096, sizes[0])).astype(dtype)
        for n_samples in (256, 4096):
            X = X_all[:n_samples]
            for after_blas in (False, True):
                times = {}
                for n_threads in (1, 2):
                    plan = InferencePlan(
                        coefs, intercepts, "relu", "softmax", n_threads=n_threads
                    )
                    with threadpool_limits(n_threads):
                        times[n_threads] = median_time(
                            plan, X, coefs, after_blas, args.repeats
                        )
                setting = "after BLAS" if after_blas else "alone"
                print(
                    f"| {name} | {n_samples} | {setting} | {times[1] * 1e3:.3f} "
                    f"| {times[2] * 1e3:.3f} | {times[1] / times[2]:.2f} |"
                )


if __name__ == "__main__":
    main()
