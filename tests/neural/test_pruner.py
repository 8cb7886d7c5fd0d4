"""Tests of MLPPruner, the pruning meta-estimator around scikit-learn's MLPs."""

import copy
import inspect
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skprune.neural import (
    MLPPruner,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    to_sklearn,
)
from skprune.neural._criteria import resolve_criterion

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MLP = {"hidden_layer_sizes": (16, 8), "max_iter": 30, "random_state": 0}
FAST = {"n_pruning_steps": 3, "finetune_iter": 3}
# A learning rate so small that fine-tuning leaves the weights in place.
FROZEN = {"solver": "sgd", "learning_rate_init": 1e-12, "momentum": 0.0}


@pytest.fixture(scope="module")
def regression():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 8))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2]


def _hidden_coefs(coefs):
    return np.concatenate([coef.ravel() for coef in coefs[:-1]])


def _magnitude_pruned(coefs, sparsity):
    """Global magnitude pruning of all but the output layer, by sorting."""
    weights = _hidden_coefs(coefs)
    n_pruned = int(np.floor(sparsity * weights.size + 0.5))
    threshold = np.sort(np.abs(weights))[n_pruned - 1]
    return [np.where(np.abs(coef) <= threshold, 0.0, coef) for coef in coefs[:-1]] + [
        coefs[-1]
    ]


# ----------------------------------------------------------------------
# Where pruning starts from
# ----------------------------------------------------------------------


@pytest.mark.parametrize("sparsity", [0.3, 0.8])
def test_prefit_prunes_the_given_weights(three_classes, sparsity):
    X, y = three_classes
    mlp = MLPClassifier(**MLP).fit(X, y)
    # Fine-tuning with a vanishing step: the result is the given network
    # with its smallest hidden weights zeroed.
    mlp.set_params(**FROZEN)
    pruner = MLPPruner(
        mlp, sparsity=sparsity, schedule="oneshot", prefit=True, finetune_iter=2
    ).fit(X, y)
    expected = _magnitude_pruned(mlp.coefs_, sparsity)
    for coef, reference in zip(pruner.pruned_estimator_.coefs_, expected):
        assert_allclose(coef, reference, rtol=0, atol=1e-9)
    for intercept, reference in zip(
        pruner.pruned_estimator_.intercepts_, mlp.intercepts_
    ):
        assert_allclose(intercept, reference, rtol=0, atol=1e-9)


def test_step_zero_is_the_given_network_on_the_data(three_classes):
    X, y = three_classes
    mlp = MLPClassifier(alpha=0.01, **MLP).fit(X[:60], y[:60])
    pruner = MLPPruner(mlp, sparsity=0.5, prefit=True, **FAST).fit(X[60:], y[60:])
    # The training objective of the given network on the data given to fit,
    # computed from scikit-learn's predictions: log-loss plus the L2 term.
    penalty = 0.5 * mlp.alpha * sum((coef**2).sum() for coef in mlp.coefs_)
    objective = log_loss(y[60:], mlp.predict_proba(X[60:])) + penalty / len(y[60:])
    history = pruner.pruning_history_
    assert history["loss"][0] == pytest.approx(objective, rel=1e-10)
    assert history["sparsity"][0] == 0.0
    assert history["n_iter"][0] == mlp.n_iter_


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_distillation_teacher_is_the_given_network(kind, three_classes, regression):
    X, y = three_classes if kind == "classifier" else regression
    cls = MLPClassifier if kind == "classifier" else MLPRegressor
    mlp = cls(alpha=0.0, **MLP).fit(X, y).set_params(**FROZEN)
    # A sparsity below one weight prunes nothing, so the student stays the
    # given network; with pure distillation its loss is the distance to the
    # teacher, which is zero only if the teacher is the given network.
    pruner = MLPPruner(
        mlp,
        sparsity=1e-9,
        schedule="oneshot",
        distillation_weight=1.0,
        finetune_iter=1,
        prefit=True,
    ).fit(X, y)
    loss = pruner.pruning_history_["loss"]
    assert loss[0] > 0.01  # the task loss of the given network
    assert loss[1] == pytest.approx(0.0, abs=1e-12)
    assert pruner.sparsity_ == 0.0


def test_prefit_false_equals_fitting_first(three_classes):
    X, y = three_classes
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    estimator = MLPClassifier(**MLP)
    direct = MLPPruner(estimator, sparsity=0.6, **FAST)
    direct.fit(X, y, sample_weight=sample_weight)
    fitted = clone(estimator).fit(X, y, sample_weight=sample_weight)
    for coef, reference in zip(direct.estimator_.coefs_, fitted.coefs_):
        assert_array_equal(coef, reference)
    prefit = MLPPruner(fitted, sparsity=0.6, prefit=True, **FAST)
    prefit.fit(X, y, sample_weight=sample_weight)
    for coef, reference in zip(
        direct.pruned_estimator_.coefs_, prefit.pruned_estimator_.coefs_
    ):
        assert_array_equal(coef, reference)
    assert_array_equal(direct.pruning_history_["loss"], prefit.pruning_history_["loss"])


def test_fine_tuning_uses_the_estimators_settings(three_classes):
    X, y = three_classes
    mlp = MLPClassifier(
        solver="sgd", learning_rate_init=0.05, alpha=0.003, batch_size=17, **MLP
    ).fit(X, y)
    pruner = MLPPruner(mlp, prefit=True, **FAST).fit(X, y)
    pruned = pruner.pruned_estimator_
    assert isinstance(pruned, PrunedMLPClassifier)
    for name, value in mlp.get_params().items():
        assert pruned.get_params()[name] == value, name
    # random_state=None leaves the network's own random_state in charge.
    for name, value in pruner.get_params(deep=False).items():
        if name not in ("estimator", "prefit", "random_state"):
            assert pruned.get_params()[name] == value, name


@pytest.mark.parametrize("prefit", [False, True])
def test_random_state_seeds_an_unseeded_network(three_classes, prefit):
    X, y = three_classes
    estimator = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30)
    if prefit:
        estimator.set_params(random_state=0).fit(X, y).set_params(random_state=None)

    def fit(random_state):
        pruner = MLPPruner(
            estimator, prefit=prefit, random_state=random_state, **FAST
        )
        return pruner.fit(X, y).pruned_estimator_.coefs_

    for a, b in zip(fit(3), fit(3)):
        assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(fit(3), fit(4)))
    assert estimator.random_state is None


@pytest.mark.parametrize("prefit", [False, True])
def test_wrapped_estimator_is_not_modified(three_classes, prefit):
    X, y = three_classes
    estimator = MLPClassifier(**MLP)
    if prefit:
        estimator.fit(X, y)
    before = pickle.dumps(estimator)
    pruner = MLPPruner(estimator, sparsity=0.7, prefit=prefit, **FAST).fit(X, y)
    assert pickle.dumps(estimator) == before
    assert pruner.estimator_ is not estimator
    assert not any(
        np.shares_memory(a, b)
        for a in pruner.pruned_estimator_.coefs_
        for b in getattr(estimator, "coefs_", [])
    )
    # Fitting again changes nothing either.
    pruner.set_params(sparsity=0.3).fit(X, y)
    assert pickle.dumps(estimator) == before


# ----------------------------------------------------------------------
# Sparsity and predictions
# ----------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_same_pruning_as_the_pruned_estimator(three_classes, solver):
    # skprune trains the dense network like scikit-learn, so pruning a
    # scikit-learn network reproduces PrunedMLPClassifier with the same
    # parameters, weight for weight.
    X, y = three_classes
    params = {**MLP, "solver": solver}
    pruner = MLPPruner(MLPClassifier(**params), sparsity=0.7, **FAST).fit(X, y)
    reference = PrunedMLPClassifier(sparsity=0.7, **params, **FAST).fit(X, y)
    for coef, expected in zip(pruner.pruned_estimator_.coefs_, reference.coefs_):
        assert_allclose(coef, expected, rtol=0, atol=1e-10)
    history, expected = pruner.pruning_history_, reference.pruning_history_
    assert_allclose(history["loss"][1:], expected["loss"][1:], rtol=1e-10)
    assert_array_equal(history["sparsity"], expected["sparsity"])


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_pruned_estimator_is_in_the_state_fit_leaves(three_classes, solver):
    # Same fitted state (inference plan included) as PrunedMLPClassifier.fit.
    X, y = three_classes
    params = {**MLP, "solver": solver}
    pruner = MLPPruner(MLPClassifier(**params), **FAST).fit(X, y)
    reference = PrunedMLPClassifier(**params, **FAST).fit(X, y)
    assert set(vars(pruner.pruned_estimator_)) == set(vars(reference))
    restored = pickle.loads(pickle.dumps(pruner))
    assert_array_equal(restored.predict_proba(X), pruner.predict_proba(X))


@pytest.mark.parametrize("sparsity", [0.0, 0.4, 0.9])
def test_fitted_sparsity_matches_the_knob(regression, sparsity):
    X, y = regression
    pruner = MLPPruner(MLPRegressor(**MLP), sparsity=sparsity, **FAST).fit(X, y)
    weights = _hidden_coefs(to_sklearn(pruner).coefs_)
    n_zero = np.count_nonzero(weights == 0)
    assert n_zero == np.floor(sparsity * weights.size + 0.5)
    assert pruner.sparsity_ == pytest.approx(n_zero / weights.size)
    assert pruner.n_nonzero_ == sum(
        np.count_nonzero(c) for c in pruner.pruned_estimator_.coefs_
    )
    assert pruner.compression_ratio_ == pruner.pruned_estimator_.compression_ratio_


def test_classifier_predictions_go_through_the_pruned_network(three_classes):
    X, y = three_classes
    pruner = MLPPruner(MLPClassifier(**MLP), sparsity=0.8, **FAST).fit(X, y)
    assert is_classifier(pruner)
    pruned = pruner.pruned_estimator_
    # scikit-learn's own forward pass over the pruned weights.
    reference = to_sklearn(pruned)
    assert_array_equal(pruner.predict(X), reference.predict(X))
    assert_allclose(pruner.predict_proba(X), reference.predict_proba(X), rtol=1e-12)
    assert_allclose(
        pruner.predict_log_proba(X), np.log(reference.predict_proba(X)), rtol=1e-12
    )
    assert pruner.score(X, y) == reference.score(X, y)
    assert_array_equal(pruner.classes_, np.unique(y))
    assert pruner.n_features_in_ == X.shape[1]
    # The pruned network differs from the dense one it started from.
    assert not np.allclose(pruner.predict_proba(X), pruner.estimator_.predict_proba(X))


def test_regressor_predictions_go_through_the_pruned_network(regression):
    X, y = regression
    pruner = MLPPruner(MLPRegressor(**MLP), sparsity=0.5, **FAST).fit(X, y)
    assert is_regressor(pruner)
    assert not hasattr(pruner, "predict_proba")
    assert not hasattr(pruner, "classes_")
    reference = to_sklearn(pruner)
    assert_allclose(pruner.predict(X), reference.predict(X), rtol=1e-12)
    assert pruner.score(X, y) == pytest.approx(reference.score(X, y), rel=1e-12)


@pytest.mark.parametrize("kind", ["multilabel", "multioutput"])
def test_multi_output_targets(kind):
    if kind == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=100, n_features=8, n_classes=3, random_state=0
        )
        estimator = MLPClassifier(**MLP)
    else:
        X = np.random.RandomState(0).normal(size=(100, 8))
        y = np.column_stack([X[:, 0] * X[:, 1], np.cos(X[:, 2])])
        estimator = MLPRegressor(**MLP)
    pruner = MLPPruner(estimator, sparsity=0.6, distillation_weight=0.5, **FAST)
    pruner.fit(X, y)
    assert pruner.predict(X).shape == y.shape
    reference = to_sklearn(pruner)
    assert_allclose(pruner.predict(X), reference.predict(X), rtol=1e-12)
    weights = _hidden_coefs(reference.coefs_)
    assert np.count_nonzero(weights == 0) == np.floor(0.6 * weights.size + 0.5)


@pytest.mark.filterwarnings("ignore:Requested sparsity")
def test_neuron_pattern_shrinks_the_pruned_network(three_classes):
    X, y = three_classes
    pruner = MLPPruner(
        MLPClassifier(**MLP), sparsity=0.5, pattern="neuron", **FAST
    ).fit(X, y)
    widths = pruner.pruned_estimator_.n_units_[1:-1]
    assert sum(widths) < 16 + 8
    assert [coef.shape[1] for coef in to_sklearn(pruner).coefs_[:-1]] == widths
    assert_allclose(
        pruner.predict_proba(X), to_sklearn(pruner).predict_proba(X), rtol=1e-12
    )


def test_feature_names_are_delegated(three_classes):
    pd = pytest.importorskip("pandas")
    X, y = three_classes
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    pruner = MLPPruner(MLPClassifier(**MLP), **FAST).fit(X, y)
    assert_array_equal(pruner.feature_names_in_, X.columns)
    assert_array_equal(pruner.predict(X), pruner.pruned_estimator_.predict(X))


# ----------------------------------------------------------------------
# Model selection
# ----------------------------------------------------------------------


def test_grid_search_over_sparsity(three_classes):
    X, y = three_classes
    grid = [0.2, 0.5, 0.9]
    search = GridSearchCV(
        MLPPruner(MLPClassifier(**MLP), **FAST),
        {"sparsity": grid},
        cv=2,
        # Scores each candidate by the sparsity it reached, so the scores
        # show that every candidate was fitted with its own knob.
        scoring=lambda estimator, X, y: estimator.sparsity_,
    ).fit(X, y)
    n_weights = 8 * 16 + 16 * 8
    reached = np.floor(np.array(grid) * n_weights + 0.5) / n_weights
    assert_array_equal(search.cv_results_["mean_test_score"], reached)
    assert search.best_params_ == {"sparsity": 0.9}
    assert search.best_estimator_.sparsity_ == reached[-1]


def test_grid_search_default_score_is_accuracy(three_classes):
    X, y = three_classes
    search = GridSearchCV(
        MLPPruner(MLPClassifier(**MLP), **FAST), {"sparsity": [0.3, 0.95]}, cv=2
    ).fit(X, y)
    # Stratified folds and accuracy, as for a classifier.
    fold_scores = search.cv_results_["split0_test_score"]
    assert len(set(fold_scores)) == 2
    best = search.best_estimator_
    assert search.score(X, y) == best.score(X, y) == np.mean(best.predict(X) == y)


def test_works_in_a_pipeline(three_classes):
    X, y = three_classes
    pipeline = make_pipeline(
        StandardScaler(), MLPPruner(MLPClassifier(**MLP), sparsity=0.5, **FAST)
    ).fit(X * 10 + 3, y)
    assert is_classifier(pipeline)
    pruner = pipeline[-1]
    Z = pipeline[0].transform(X * 10 + 3)
    assert_array_equal(pipeline.predict(X * 10 + 3), pruner.predict(Z))
    assert_allclose(pipeline.predict_proba(X * 10 + 3), pruner.predict_proba(Z))


# ----------------------------------------------------------------------
# Parameters and bad input
# ----------------------------------------------------------------------


def test_pruning_defaults_are_those_of_the_pruned_estimators():
    pruner = inspect.signature(MLPPruner).parameters
    for cls in (PrunedMLPClassifier, PrunedMLPRegressor):
        pruned = inspect.signature(cls).parameters
        for name in set(pruner) - {"estimator", "prefit"}:
            assert pruner[name].default == pruned[name].default, name


@pytest.mark.parametrize("cls", [PrunableMLPClassifier, PrunableMLPRegressor])
def test_prune_method_defaults_are_those_of_the_pruner(cls):
    pruner = inspect.signature(MLPPruner).parameters
    prune = inspect.signature(cls.prune).parameters
    for name in ("criterion", "pattern", "block_shape", "n", "m"):
        assert prune[name].default == pruner[name].default, name
    # The pruner fine-tunes, so its scope is the criterion's choice for
    # fine-tuning, which is prune's one-shot "global" for its criterion.
    assert pruner["scope"].default is None
    assert prune["scope"].default == "global"
    criterion = resolve_criterion(pruner["criterion"].default)
    assert criterion.finetuning_scope == "global"


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression(), PrunedMLPClassifier(), "MLPClassifier"],
    ids=["LogisticRegression", "PrunedMLPClassifier", "str"],
)
def test_estimator_must_be_a_sklearn_mlp(three_classes, estimator):
    X, y = three_classes
    with pytest.raises(TypeError, match="'estimator' parameter"):
        MLPPruner(estimator).fit(X, y)


def test_prefit_needs_a_fitted_estimator(three_classes):
    X, y = three_classes
    with pytest.raises(NotFittedError, match="prefit=True"):
        MLPPruner(MLPClassifier(), prefit=True).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": -0.1}, "sparsity"),
        ({"pattern": "rows"}, "pattern"),
        ({"n_pruning_steps": 0}, "n_pruning_steps"),
        ({"distillation_weight": 2.0}, "distillation_weight"),
        ({"prunable_layers": "some"}, "prunable_layers"),
        ({"sparsity": 0.2, "initial_sparsity": 0.5}, "initial_sparsity"),
        ({"sparsity": 0.3, "pattern": "n:m"}, "n:m"),
    ],
)
def test_bad_pruning_parameters(three_classes, params, match):
    # Reported before the dense network is trained.
    X, y = three_classes
    with pytest.raises(ValueError, match=match):
        MLPPruner(_UnfittableMLPClassifier(**MLP), **params).fit(X, y)


class _UnfittableMLPClassifier(MLPClassifier):
    def fit(self, X, y, sample_weight=None):
        raise AssertionError("fit should not be reached")


def test_prefit_data_must_match_the_estimator(three_classes):
    X, y = three_classes
    mlp = MLPClassifier(**MLP).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        MLPPruner(mlp, prefit=True).fit(X[:, :5], y)
    keep = y != 2
    with pytest.raises(ValueError, match="classes"):
        MLPPruner(mlp, prefit=True).fit(X[keep], y[keep])
    with pytest.raises(NotFittedError):
        MLPPruner(mlp).predict(X)


def test_deep_params_reach_the_wrapped_estimator(three_classes):
    X, y = three_classes
    pruner = MLPPruner(MLPClassifier(**MLP), **FAST)
    pruner.set_params(estimator__alpha=0.5, sparsity=0.3).fit(X, y)
    assert pruner.estimator_.alpha == 0.5
    assert pruner.pruned_estimator_.alpha == 0.5
    clone_ = copy.deepcopy(pruner)
    assert_array_equal(clone_.predict(X), pruner.predict(X))


class _UnweightedMLPClassifier(MLPClassifier):
    """A perceptron whose fit takes no sample weights, like scikit-learn < 1.7."""

    def fit(self, X, y):
        return super().fit(X, y)


def test_sample_weight_without_support_in_the_estimator(three_classes):
    X, y = three_classes
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    estimator = _UnweightedMLPClassifier(solver="lbfgs", **MLP)
    pruner = MLPPruner(estimator, sparsity=0.5, **FAST)
    pruner.fit(X, y, sample_weight=sample_weight)
    assert type(pruner.estimator_) is _UnweightedMLPClassifier
    # The dense network is the weighted one scikit-learn >= 1.7 trains.
    weighted = MLPClassifier(solver="lbfgs", **MLP).fit(X, y, sample_weight)
    for coef, reference in zip(pruner.estimator_.coefs_, weighted.coefs_):
        assert_allclose(coef, reference, rtol=1e-6, atol=1e-9)
