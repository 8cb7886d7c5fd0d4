"""Meta-estimators that predict through the estimator they pruned."""

import copy

from sklearn.base import is_classifier
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._docstrings import (
    INPUT_DOC,
    PREDICT_LOG_PROBA_RETURNS_DOC,
    PREDICT_PROBA_RETURNS_DOC,
    fill_doc,
)


def _classifier_estimator(pruner):
    return is_classifier(pruner.estimator)


def delegated_attribute(name, doc):
    """A read-only fitted attribute of ``pruned_estimator_``."""

    def get(self):
        check_is_fitted(self)
        return getattr(self.pruned_estimator_, name)

    return property(get, doc=doc)


def delegated_method(name, doc, **fragments):
    """A method calling the method ``name`` of ``pruned_estimator_`` on ``X``.

    ``doc`` is its docstring, in which ``{input}`` stands for the
    description of ``X`` and the other placeholders for ``fragments``.
    """

    def method(self, X):
        check_is_fitted(self)
        return getattr(self.pruned_estimator_, name)(X)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return fill_doc(input=INPUT_DOC, **fragments)(method)


class PrunedEstimatorDelegateMixin:
    """Predict, score and describe the data through ``pruned_estimator_``.

    For a meta-estimator that fits ``pruned_estimator_`` from its parameter
    ``estimator``; the probability methods exist when ``estimator`` is a
    classifier, and the tags follow those of ``estimator``.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            estimator_tags = get_tags(self.estimator)
        except (AttributeError, TypeError, ValueError):
            # Not an estimator: fit reports it.
            return tags
        tags.estimator_type = estimator_tags.estimator_type
        tags.classifier_tags = copy.deepcopy(estimator_tags.classifier_tags)
        tags.regressor_tags = copy.deepcopy(estimator_tags.regressor_tags)
        tags.input_tags.sparse = estimator_tags.input_tags.sparse
        self._follow_estimator_tags(tags, estimator_tags)
        return tags

    def _follow_estimator_tags(self, tags, estimator_tags):
        """Set the tags of ``tags`` that depend on the meta-estimator."""

    predict = delegated_method(
        "predict",
        """Predict with the pruned estimator.

        {input}

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted classes or values.
        """,
    )
    predict_proba = available_if(_classifier_estimator)(
        delegated_method(
            "predict_proba",
            """Probability estimates of the pruned classifier.

            {input}

            {returns}
            """,
            returns=PREDICT_PROBA_RETURNS_DOC,
        )
    )
    predict_log_proba = available_if(_classifier_estimator)(
        delegated_method(
            "predict_log_proba",
            """Logarithm of the probability estimates of the pruned classifier.

            {input}

            {returns}
            """,
            returns=PREDICT_LOG_PROBA_RETURNS_DOC,
        )
    )

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier) or R^2 (regressor) of the pruned estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels or values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.pruned_estimator_.score(X, y, sample_weight=sample_weight)

    classes_ = delegated_attribute("classes_", "Class labels, for classifiers.")
    n_features_in_ = delegated_attribute(
        "n_features_in_", "Number of features seen in fit."
    )
    feature_names_in_ = delegated_attribute(
        "feature_names_in_", "Names of the features seen in fit, when strings."
    )
