"""Pickle a pruned network with one build of skprune and load it with another.

``dump PATH`` fits a small pruned classifier and writes it, with inputs and
its predictions, to PATH; ``load PATH`` reads them back and checks that the
loaded model predicts the same (to rounding: the builds may differ in their
kernels) and that the pickle stayed compact.
"""

import pickle
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits

from skprune.neural import PrunedMLPClassifier


def dump(path):
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PrunedMLPClassifier(
            hidden_layer_sizes=(64, 32), sparsity=0.9, max_iter=30, random_state=0
        ).fit(X, y)
    stored = {"model": model, "X": X[:50], "proba": model.predict_proba(X[:50])}
    with open(path, "wb") as f:
        pickle.dump(stored, f)


def load(path):
    with open(path, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # another scikit-learn version
        stored = pickle.load(f)
    proba = stored["model"].predict_proba(stored["X"])
    np.testing.assert_allclose(proba, stored["proba"], rtol=1e-10, atol=1e-12)
    size = len(pickle.dumps(stored["model"]))
    dense_bytes = 8 * (64 * 64 + 64 * 32 + 32 * 10)
    assert size < dense_bytes / 2, f"the pickled model takes {size} bytes"
    print(f"loaded a {size}-byte pickle; predictions agree")


if __name__ == "__main__":
    {"dump": dump, "load": load}[sys.argv[1]](sys.argv[2])
