"""
=======================================
Deploying a pruned network with ONNX
=======================================

A pruned network can run outside Python: :func:`~skprune.neural.to_sklearn`
turns it into a scikit-learn perceptron, `skl2onnx
<https://onnx.ai/sklearn-onnx/>`_ converts that to ONNX, and `onnxruntime
<https://onnxruntime.ai>`_ (or any ONNX runtime) runs it. Install both with
``pip install "skprune[onnx]"``.

onnxruntime multiplies weight matrices densely, so what makes the ONNX model
faster is fewer hidden units: prune whole neurons with ``pattern="neuron"``
and the converted network is compacted.
"""

# %%
# Prune whole neurons
# -------------------
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skprune.neural import PrunedMLPClassifier, to_sklearn

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)  # ONNX computes in float32
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

networks = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, sparsity in [("dense", 0.0), ("neuron-pruned", 0.75)]:
        networks[name] = PrunedMLPClassifier(
            hidden_layer_sizes=(512,), pattern="neuron",
            sparsity=sparsity, max_iter=30, n_pruning_steps=3, finetune_iter=5,
            random_state=0,
        ).fit(X_train, y_train)
for name, network in networks.items():
    print(f"{name}: widths {network.n_units_}, "
          f"test accuracy {network.score(X_test, y_test):.4f}")

# %%
# Convert and run
# ---------------
try:
    import onnxruntime as rt
    from skl2onnx import to_onnx
except ImportError:
    rt = None
    print("Install skl2onnx and onnxruntime to run the rest of this example.")

if rt is not None:
    sessions = {}
    for name, network in networks.items():
        onx = to_onnx(to_sklearn(network), X_train[:1], options={"zipmap": False})
        data = onx.SerializeToString()  # what one writes to model.onnx
        sessions[name] = rt.InferenceSession(data, providers=["CPUExecutionProvider"])
        labels, probabilities = sessions[name].run(None, {"X": X_test})
        difference = np.abs(probabilities - network.predict_proba(X_test)).max()
        print(f"{name}: {len(data) / 1024:.0f} KB, largest difference from "
              f"predict_proba {difference:.1e}")

    def median_time(session, repeats=30):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            session.run(None, {"X": X_test})
            times.append(time.perf_counter() - start)
        return np.median(times)

    dense, pruned = (median_time(sessions[name]) for name in ("dense", "neuron-pruned"))
    print(f"onnxruntime on {len(X_test)} samples: dense {1e3 * dense:.2f} ms, "
          f"neuron-pruned {1e3 * pruned:.2f} ms ({dense / pruned:.1f}x faster)")

# %%
# ``benchmarks/bench_onnx.py`` measures the same on a larger network and
# data set; see ``benchmarks/RESULTS.md``.
