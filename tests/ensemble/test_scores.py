"""The vectorised scores against scikit-learn's metrics."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from skprune.ensemble._scores import (
    CLASSIFICATION_SCORES,
    REGRESSION_SCORES,
    most_probable_class,
    score_function,
)

REFERENCES = {
    "accuracy": lambda y, p, w: accuracy_score(y, p.argmax(axis=1), sample_weight=w),
    "balanced_accuracy": lambda y, p, w: balanced_accuracy_score(
        y, p.argmax(axis=1), sample_weight=w
    ),
    "neg_log_loss": lambda y, p, w: -log_loss(y, p, sample_weight=w, labels=[0, 1, 2]),
    "r2": lambda y, p, w: r2_score(y, p, sample_weight=w),
    "neg_mean_squared_error": lambda y, p, w: -mean_squared_error(
        y, p, sample_weight=w
    ),
    "neg_mean_absolute_error": lambda y, p, w: -mean_absolute_error(
        y, p, sample_weight=w
    ),
}


@pytest.mark.parametrize(
    "name", sorted(CLASSIFICATION_SCORES) + sorted(REGRESSION_SCORES)
)
def test_scores_of_many_candidates_are_scikit_learns(name):
    rng = np.random.default_rng(0)
    n = 50
    classifier = name in CLASSIFICATION_SCORES
    y = rng.integers(0, 3, n) if classifier else rng.normal(size=n)
    if classifier:
        predictions = rng.dirichlet(np.ones(3), size=(4, n))
    else:
        predictions = y + rng.normal(size=(4, n))
    # per-candidate weights, some samples left out as a missing OOB tree does
    weights = rng.uniform(0.5, 2.0, (4, n)) * (rng.random((4, n)) > 0.2)
    scores = score_function(name, classifier)(y, predictions, weights)
    for candidate in range(4):
        kept = weights[candidate] > 0
        expected = REFERENCES[name](
            y[kept], predictions[candidate][kept], weights[candidate][kept]
        )
        assert scores[candidate] == pytest.approx(expected, rel=1e-10)


def test_most_probable_class_is_argmax_with_first_maximum_on_ties():
    proba = np.random.default_rng(1).integers(0, 3, (5, 40, 4)).astype(float)
    np.testing.assert_array_equal(most_probable_class(proba), proba.argmax(axis=-1))


def test_a_score_of_the_other_task_is_refused():
    with pytest.raises(ValueError, match="scoring='r2'"):
        score_function("r2", classifier=True)
    with pytest.raises(ValueError, match="accuracy"):
        score_function("accuracy", classifier=False)
