"""
================================================
Choosing the sparsity with a grid search
================================================

The sparsity of a pruned network is a hyper-parameter like any other: a
:class:`~sklearn.model_selection.GridSearchCV` over a
:class:`~sklearn.pipeline.Pipeline` chooses it with the scaling fitted inside
every fold, and :class:`~skprune.model_selection.PruningCurveDisplay` draws
the cross-validated accuracy against it. The chosen model is then saved,
small, with pickle or skops.
"""

# %%
# The search
# ----------
# The pipeline names its last step ``prunedmlpclassifier``, so the grid
# parameter is ``prunedmlpclassifier__sparsity``. The number of hidden units
# is searched too.
import pickle
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skprune.model_selection import PruningCurveDisplay
from skprune.neural import PrunedMLPClassifier

X, y = load_digits(return_X_y=True)
pipeline = make_pipeline(
    StandardScaler(),
    PrunedMLPClassifier(
        max_iter=40, n_pruning_steps=3, finetune_iter=5, random_state=0
    ),
)
search = GridSearchCV(
    pipeline,
    {
        "prunedmlpclassifier__sparsity": [0.0, 0.5, 0.8, 0.9, 0.95],
        "prunedmlpclassifier__hidden_layer_sizes": [(32,), (64,)],
    },
    cv=3,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X, y)
print(search.best_params_, f"accuracy {search.best_score_:.4f}")

# %%
# The curve
# ---------
# :meth:`~skprune.model_selection.PruningCurveDisplay.from_cv_estimator`
# takes the fitted search (``from_cv_results(search.cv_results_)`` does the
# same). The other searched parameter is held at its best value; the band is
# one standard deviation over the folds, the green band one standard error
# under the best mean score.
display = PruningCurveDisplay.from_cv_estimator(search)
(width,) = search.best_params_["prunedmlpclassifier__hidden_layer_sizes"]
display.ax_.set_title(f"Digits, {width} hidden units")
plt.show()

# %%
# A small saved model
# -------------------
# The best pipeline pickles only what prediction needs: the nonzero weights
# and their positions, not the dense matrices. For files you may load from
# an untrusted source, skops checks the types first;
# :func:`skprune.utils.skops_trusted_types` lists the ones skprune needs.
best = search.best_estimator_
network = best[-1]
print(f"sparsity {network.sparsity_:.2f}, {network.n_nonzero_} nonzero weights, "
      f"pickle {len(pickle.dumps(best)) / 1024:.1f} KB")

try:
    import skops.io as sio
except ImportError:
    sio = None
if sio is not None:
    from skprune.utils import skops_trusted_types

    loaded = sio.loads(sio.dumps(best), trusted=skops_trusted_types())
    same = (loaded.predict(X) == best.predict(X)).all()
    print("skops round trip predicts the same:", same)
