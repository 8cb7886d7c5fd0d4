"""
======================================================
Pruning a neural network: accuracy and prediction time
======================================================

:class:`~skprune.neural.PrunedMLPClassifier` trains a dense multilayer
perceptron, removes the weights of smallest magnitude in a few steps, and
trains the remaining ones again after every step. This example prunes a
network on the digits data to increasing sparsities and shows, against the
sparsity, the test accuracy and the time ``predict_proba`` takes.
"""

# %%
# The data
# --------
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skprune.neural import sparsity_path

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# One dense training, many sparsities
# -----------------------------------
# :func:`~skprune.neural.sparsity_path` trains the dense network once and
# returns a fitted network at each requested sparsity, pruning gradually and
# fine-tuning in between. The sparsity is the fraction of hidden-layer
# weights removed; ``compression_ratio_`` counts every weight.
from skprune.neural import PrunedMLPClassifier

sparsities = [0.0, 0.5, 0.8, 0.9, 0.95, 0.98]
network = PrunedMLPClassifier(
    hidden_layer_sizes=(256,), max_iter=60, n_pruning_steps=3, finetune_iter=5,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    path = sparsity_path(network, X_train, y_train, sparsities=sparsities)
networks = path.estimators

# %%
# Accuracy and prediction time
# ----------------------------
# Each network predicts through sparse or compacted layers, whichever is
# faster. The time is the median of several calls on the whole test set.


def median_time(model, X, repeats=15):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(X)
        times.append(time.perf_counter() - start)
    return np.median(times)


accuracy = [model.score(X_test, y_test) for model in networks]
milliseconds = [1e3 * median_time(model, X_test) for model in networks]
for model, acc, ms in zip(networks, accuracy, milliseconds):
    print(
        f"sparsity {model.sparsity_:.2f}: "
        f"compression {model.compression_ratio_:5.2f}x, "
        f"test accuracy {acc:.4f}, predict_proba {ms:.3f} ms"
    )

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.plot(sparsities, accuracy, marker="o")
left.axhline(accuracy[0], color="k", linestyle="--", label="dense network")
left.set_xlabel("sparsity of the hidden weights")
left.set_ylabel("test accuracy")
left.legend()
right.plot(sparsities, milliseconds, marker="o")
right.set_xlabel("sparsity of the hidden weights")
right.set_ylabel(f"predict_proba on {len(X_test)} samples (ms)")
fig.tight_layout()
plt.show()

# %%
# Up to 90% of the hidden weights can be removed here with no loss of
# accuracy beyond the noise of a 450-sample test set (one sample is 0.0022).
