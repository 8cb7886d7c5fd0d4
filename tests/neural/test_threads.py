"""Fine-tuning is silent without touching the process-wide warning filters."""

import warnings
from concurrent.futures import ThreadPoolExecutor

from joblib import parallel_backend
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score

from skprune.neural import PrunedMLPClassifier, PrunedMLPClassifierCV

X, Y = make_classification(80, 5, random_state=0)
# tol=1 stops the dense phase early, so only fine-tuning could warn.
QUIET_DENSE = dict(
    hidden_layer_sizes=(6,), max_iter=50, tol=1.0, n_iter_no_change=2,
    n_pruning_steps=3, finetune_iter=2, sparsity=0.5,
)


class FilterSpy(PrunedMLPClassifier):
    """Records the warning filters seen during every forward pass of training."""

    def _see_output_preactivation(self, z):
        self.__dict__.setdefault("seen_filters", []).append(list(warnings.filters))


def test_fine_tuning_leaves_the_warning_filters_alone():
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        filters = list(warnings.filters)
        spy = FilterSpy(**QUIET_DENSE, random_state=0).fit(X, Y)
    assert all(seen == filters for seen in spy.seen_filters)


def _convergence_warnings(run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_no_convergence_warning_from_fine_tuning_in_threads():
    def fit(seed):
        return PrunedMLPClassifier(**QUIET_DENSE, random_state=seed).fit(X, Y)

    def run():
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fit, range(8)))

    assert _convergence_warnings(run) == []


def test_no_convergence_warning_under_the_threading_backend():
    estimator = PrunedMLPClassifierCV(
        **{k: v for k, v in QUIET_DENSE.items() if k != "sparsity"},
        sparsities=[0.0, 0.5], cv=3, n_jobs=2, random_state=0,
    )

    def run():
        with parallel_backend("threading", n_jobs=2):
            cross_val_score(estimator, X, Y, cv=2, n_jobs=2)

    assert _convergence_warnings(run) == []
