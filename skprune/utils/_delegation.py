"""Meta-estimators that predict through the estimator they pruned."""

from sklearn.base import is_classifier
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted


def _classifier_estimator(pruner):
    return is_classifier(pruner.estimator)


def delegated_attribute(name, doc):
    """A read-only fitted attribute of ``pruned_estimator_``."""

    def get(self):
        check_is_fitted(self)
        return getattr(self.pruned_estimator_, name)

    return property(get, doc=doc)


class PrunedEstimatorDelegateMixin:
    """Predict, score and describe the data through ``pruned_estimator_``.

    For a meta-estimator that fits ``pruned_estimator_`` from its parameter
    ``estimator``; the probability methods exist when ``estimator`` is a
    classifier.
    """

    def predict(self, X):
        """Predict with the pruned estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted classes or values.
        """
        check_is_fitted(self)
        return self.pruned_estimator_.predict(X)

    @available_if(_classifier_estimator)
    def predict_proba(self, X):
        """Probability estimates of the pruned classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.pruned_estimator_.predict_proba(X)

    @available_if(_classifier_estimator)
    def predict_log_proba(self, X):
        """Logarithm of the probability estimates of the pruned classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.pruned_estimator_.predict_log_proba(X)

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
