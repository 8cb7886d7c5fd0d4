"""Bad and edge-case inputs: a clear error naming what was wrong, or a right answer.

Every public estimator and function is fed the inputs a demanding user tries
(NaN and infinity, empty data, wrong shapes and dtypes, wrong feature counts or
names, unseen labels, bad sample weights, out-of-range parameters). Each case
expects an error whose message names the culprit, or checks the answer.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.base import clone
from sklearn.model_selection import KFold, LeaveOneOut
from sklearn.tree import DecisionTreeRegressor

from skprune.ensemble import EnsemblePruner
from skprune.model_selection import PruningCurveDisplay, register_cv_estimator
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skprune.neural import (
    LayerwiseRefit,
    MLPPruner,
    OBSCriterion,
    WandaCriterion,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    PrunedMLPClassifier,
    PrunedMLPClassifierCV,
    PrunedMLPRegressor,
    PrunedMLPRegressorCV,
    PruningCriterion,
    from_sklearn,
    oneshot_path,
    register_criterion,
    sparsity_path,
    sparsity_schedule,
    to_sklearn,
)
from skprune.tree import (
    PrunedTreeClassifier,
    PrunedTreeClassifierCV,
    PrunedTreeRegressor,
    PrunedTreeRegressorCV,
    cost_complexity_path,
    prune_tree,
)

X, Y = make_classification(60, 4, random_state=0)
XR, YR = make_regression(60, 4, random_state=0)
SMALL = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
SMALL_CV = dict(SMALL, sparsities=[0.0, 0.5], cv=3, finetune_iter=2, n_pruning_steps=1)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _estimators(kind):
    if kind == "classifier":
        return [
            PrunableMLPClassifier(**SMALL),
            PrunedMLPClassifier(**SMALL, n_pruning_steps=1, finetune_iter=2),
            PrunedMLPClassifierCV(**SMALL_CV),
            PrunedTreeClassifier(random_state=0),
            PrunedTreeClassifierCV(cv=3, random_state=0),
            MLPPruner(MLPClassifier(**SMALL), n_pruning_steps=1, finetune_iter=2),
        ]
    return [
        PrunableMLPRegressor(**SMALL),
        PrunedMLPRegressor(**SMALL, n_pruning_steps=1, finetune_iter=2),
        PrunedMLPRegressorCV(**SMALL_CV),
        PrunedTreeRegressor(random_state=0),
        PrunedTreeRegressorCV(cv=3, random_state=0),
        MLPPruner(MLPRegressor(**SMALL), n_pruning_steps=1, finetune_iter=2),
    ]


ALL_ESTIMATORS = _estimators("classifier") + _estimators("regressor")


def _data(estimator):
    from sklearn.base import is_classifier

    return (X, Y) if is_classifier(estimator) else (XR, YR)


def _name(estimator):
    return type(estimator).__name__


@pytest.mark.parametrize("estimator", ALL_ESTIMATORS, ids=_name)
@pytest.mark.parametrize(
    "bad_x, message",
    [
        (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), "NaN"),
        (
            lambda x: np.where(np.arange(x.size).reshape(x.shape) == 5, np.inf, x),
            "infinity",
        ),
        (lambda x: x[:, 0], "2D array"),
        (lambda x: x.astype(str).astype(object) + "x", "could not convert|numeric"),
    ],
    ids=["nan", "inf", "1d", "strings"],
)
def test_bad_X_in_fit(estimator, bad_x, message):
    x, y = _data(estimator)
    if message == "NaN" and _name(estimator).startswith("PrunedTree"):
        _assert_nan_handled_as_scikit_learn(estimator, bad_x(x), y)
        return
    with pytest.raises(ValueError, match=message):
        estimator.fit(bad_x(x), y)


def _assert_nan_handled_as_scikit_learn(estimator, x, y):
    # scikit-learn's trees learn where missing values go; so do the pruned ones.
    from sklearn.base import clone, is_classifier
    from sklearn.tree import DecisionTreeClassifier

    fitted = clone(estimator).fit(x, y)
    reference_class = (
        DecisionTreeClassifier if is_classifier(fitted) else DecisionTreeRegressor
    )
    reference = reference_class(
        ccp_alpha=fitted.ccp_alpha_ if hasattr(fitted, "ccp_alpha_") else 0.0,
        random_state=0,
    )
    np.testing.assert_allclose(fitted.predict(x), reference.fit(x, y).predict(x))


@pytest.mark.parametrize("estimator", ALL_ESTIMATORS, ids=_name)
def test_empty_and_mismatched_data(estimator):
    x, y = _data(estimator)
    with pytest.raises(ValueError, match="0 sample"):
        estimator.fit(x[:0], y[:0])
    with pytest.raises(
        ValueError,
        match="inconsistent numbers of samples|does not match number of samples",
    ):
        estimator.fit(x, y[:-1])


@pytest.mark.parametrize("estimator", ALL_ESTIMATORS, ids=_name)
def test_wrong_feature_count_and_names_at_predict(estimator):
    x, y = _data(estimator)
    df = pd.DataFrame(x, columns=list("abcd"))
    fitted = estimator.fit(df, y)
    np.testing.assert_array_equal(fitted.feature_names_in_, list("abcd"))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(x[:, :3])
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        fitted.predict(df[list("dcba")])


@pytest.mark.parametrize("estimator", ALL_ESTIMATORS, ids=_name)
@pytest.mark.parametrize(
    "weight, message",
    [
        (np.full(60, np.nan), "sample_weight"),
        (np.where(np.arange(60) == 7, np.inf, 1.0), "sample_weight"),
        (np.ones(59), "sample_weight"),
        (np.ones((60, 2)), "sample_weight|Sample weights"),
        (np.array(["a"] * 60), "sample_weight"),
        (np.zeros(60), "non-zero"),
    ],
    ids=["nan", "inf", "short", "2d", "strings", "all-zero"],
)
def test_bad_sample_weight(estimator, weight, message):
    x, y = _data(estimator)
    with pytest.raises(ValueError, match=message):
        estimator.fit(x, y, sample_weight=weight)


@pytest.mark.parametrize(
    "weight, message",
    [(np.array(["a"] * 60), "sample_weight"), (np.zeros(60), "non-zero")],
    ids=["strings", "all-zero"],
)
def test_bad_sample_weight_for_the_ensemble_pruner(weight, message):
    pruner = EnsemblePruner(RandomForestClassifier(5, random_state=0), cv=3)
    with pytest.raises(ValueError, match=message):
        pruner.fit(X, Y, sample_weight=weight)


@pytest.mark.parametrize("estimator", ALL_ESTIMATORS, ids=_name)
def test_scalar_sample_weight_is_a_uniform_weight(estimator):
    # Every estimator accepts a scalar weight, the same as no weight at all.
    x, y = _data(estimator)
    weighted = estimator.fit(x, y, sample_weight=2.0).predict(x)
    np.testing.assert_allclose(weighted, estimator.fit(x, y).predict(x))


@pytest.mark.parametrize(
    "estimator",
    [PrunedTreeRegressor(random_state=0), PrunedTreeRegressorCV(cv=3)],
    ids=_name,
)
def test_negative_sample_weight_is_refused_by_trees(estimator):
    weight = np.ones(60)
    weight[:5] = -1
    with pytest.raises(ValueError, match="sample_weight"):
        estimator.fit(XR, YR, sample_weight=weight)


@pytest.mark.parametrize(
    "estimator",
    [
        PrunedTreeRegressorCV(cv=LeaveOneOut()),
        PrunedMLPRegressorCV(**{**SMALL_CV, "cv": LeaveOneOut()}),
    ],
    ids=_name,
)
def test_all_nan_fold_scores_give_a_clear_error(estimator):
    # R2 of a single sample is undefined: every fold scores NaN.
    with pytest.raises(ValueError, match="Every cross-validated score is NaN"):
        estimator.fit(XR[:12], YR[:12])


def test_nan_fold_scores_rank_last():
    from skprune.model_selection._search import select_index

    means = np.array([np.nan, 0.5, 0.7, np.nan])
    sems = np.array([np.nan, 0.1, 0.3, np.nan])
    assert select_index(means, sems, one_standard_error=False) == 2
    assert select_index(means, sems, one_standard_error=True) == 2


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.where(Y == 1, 7, 0), r"not fitted with: \[7\]"),
        (np.arange(60) % 3, r"not fitted with: \[2\]"),
    ],
)
@pytest.mark.parametrize("criterion", ["taylor", "obd", "obs"])
def test_prune_refuses_unseen_labels(labels, message, criterion):
    network = PrunableMLPClassifier(**SMALL).fit(X, Y)
    coefs = [c.copy() for c in network.coefs_]
    with pytest.raises(ValueError, match=message):
        network.prune(X, labels, amount=0.5, criterion=criterion)
    with pytest.raises(ValueError, match=message):
        network.loss_gradient(X, labels)
    for before, after in zip(coefs, network.coefs_):
        np.testing.assert_array_equal(before, after)


def test_prune_refuses_wrong_regression_targets():
    network = PrunableMLPRegressor(**SMALL).fit(XR, YR)
    with pytest.raises(ValueError, match="2 outputs"):
        network.prune(XR, np.c_[YR, YR], amount=0.5, criterion="taylor")
    with pytest.raises(ValueError, match="y"):
        network.prune(
            XR, np.where(np.arange(60) == 3, np.nan, YR), amount=0.5, criterion="taylor"
        )


@pytest.mark.parametrize(
    "returned, error",
    [(None, TypeError), (["a", "b"], TypeError), ([np.ones(3)], ValueError)],
)
def test_custom_criterion_returning_garbage(returned, error):
    class Garbage(PruningCriterion):
        def score(self, context):
            return returned

    network = PrunableMLPClassifier(**SMALL).fit(X, Y)
    with pytest.raises(error, match="A criterion must return one"):
        network.prune(X, Y, amount=0.5, criterion=Garbage())
    assert network.sparsity_ == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(schedule="gradual", sparsity=1.5, n_steps=3), "'sparsity' parameter"),
        (dict(schedule="gradual", sparsity=0.5, n_steps=2.5), "'n_steps' parameter"),
        (dict(schedule="gradual", sparsity=0.5, n_steps=0), "'n_steps' parameter"),
        (dict(schedule="cubic", sparsity=0.5, n_steps=3), "'schedule' parameter"),
        (
            dict(schedule="gradual", sparsity=0.5, n_steps=3, initial_sparsity=0.9),
            "initial_sparsity=0.9 must not exceed",
        ),
    ],
)
def test_sparsity_schedule_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sparsity_schedule(**kwargs)


@pytest.mark.parametrize("schedule", ["oneshot", "iterative", "gradual"])
def test_sparsity_schedule_targets_never_decrease(schedule):
    targets = sparsity_schedule(schedule, 0.8, 5, initial_sparsity=0.3)
    assert np.all(np.diff(targets) >= 0) and targets[-1] == 0.8
    assert np.all((targets >= 0) & (targets <= 0.8))


@pytest.mark.parametrize(
    "estimator_class, factory, error",
    [
        ("not a class", lambda *a, **k: None, ValueError),
        ((DecisionTreeRegressor, "x"), lambda *a, **k: None, TypeError),
        (DecisionTreeRegressor, None, ValueError),
    ],
)
def test_register_cv_estimator_validates(estimator_class, factory, error):
    with pytest.raises(error, match="estimator_class|factory"):
        register_cv_estimator(estimator_class, factory)
    # The registry is unharmed: a display of an unknown estimator fails clearly.
    with pytest.raises(TypeError, match="LogisticRegression"):
        PruningCurveDisplay.from_estimator(LogisticRegression(), X, Y)


@pytest.mark.parametrize(
    "function", [cost_complexity_path, lambda e, **k: prune_tree(e, 0.1, **k)]
)
def test_tree_functions_reject_bad_estimators_and_risk(function):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(TypeError, match="estimator must be a fitted"):
        function(LogisticRegression().fit(X, Y))
    with pytest.raises(NotFittedError):
        function(PrunedTreeClassifier())
    with pytest.raises(ValueError, match="risk"):
        function(PrunedTreeClassifier(random_state=0).fit(X, Y), risk="entropy")


def test_prune_tree_rejects_bad_alpha():
    tree = PrunedTreeClassifier(random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="alpha"):
        prune_tree(tree, -1.0)


def _display(**changes):
    params = dict(
        param_values=[0.0, 0.1, 0.2],
        test_scores=np.array([[0.8, 0.7], [0.9, 0.8], [0.6, 0.5]]),
        train_scores=None,
        complexity=[9, 5, 1],
        chosen_value=0.1,
        sem=[0.05, 0.05, 0.05],
    )
    return PruningCurveDisplay(**{**params, **changes})


@pytest.mark.parametrize(
    "changes, plot_kw, message",
    [
        ({}, {"xscale": "foo"}, "xscale must be one of"),
        ({"param_values": [0.0, 0.1]}, {}, "test_scores must have shape"),
        ({"param_values": []}, {}, "param_values must be a non-empty"),
        ({"train_scores": np.ones((2, 2))}, {}, "train_scores must have shape"),
        ({"test_scores": np.ones(3)}, {}, "test_scores must have shape"),
        ({"complexity": [1, 2]}, {}, "complexity must have one value"),
        ({"sem": [0.1]}, {}, "sem must have one value"),
    ],
)
def test_display_plot_checks_its_arrays(changes, plot_kw, message):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match=message):
        _display(**changes).plot(**plot_kw)


def test_display_plot_with_a_nan_score_marks_the_best_finite_one():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    scores = np.array([[np.nan, 0.7], [0.9, 0.8], [0.6, 0.5]])
    display = _display(test_scores=scores).plot()
    # The NaN row ranks last: the band runs from the best mean 0.85 down one SE.
    y0, y1 = display.ax_.transData.inverted().transform(
        display.sem_band_.get_window_extent()
    )[:, 1]
    np.testing.assert_allclose([y0, y1], [0.80, 0.85])


def _network():
    return PrunableMLPClassifier(**SMALL).fit(X, Y)


# (keyword arguments of prune, exception, what its message must name)
PRUNE_CASES = [
    (dict(amount=-0.1), ValueError, "amount"),
    (dict(amount=1.0), ValueError, "amount"),
    (dict(amount=np.nan), ValueError, "amount"),
    (dict(amount=10**6), ValueError, "amount"),
    (dict(amount="half"), TypeError, "amount"),
    (dict(amount=True), TypeError, "amount"),
    (dict(amount=None), ValueError, "amount"),
    (dict(amount=0.5, criterion="nope"), ValueError, "criterion"),
    (dict(amount=0.5, criterion=3), TypeError, "criterion"),
    (dict(amount=0.5, pattern="nope"), ValueError, "pattern"),
    (dict(amount=0.5, scope="nope"), ValueError, "scope"),
    (dict(pattern="n:m", n=5, m=4), ValueError, "n must not exceed m"),
    (dict(pattern="n:m", n=0, m=4), ValueError, "n must be"),
    (dict(pattern="n:m", amount=0.5), ValueError, "amount must be None"),
    (dict(amount=0.5, pattern="block", block_shape=(3, 3)), ValueError, "block_shape"),
    (
        dict(amount=0.5, pattern="block", block_shape=(2, 2, 2)),
        ValueError,
        "block_shape",
    ),
    (dict(amount=0.5, pattern="block", block_shape=(0, 4)), ValueError, "block_shape"),
    (dict(amount=0.5, criterion="taylor"), ValueError, "needs data"),
    (dict(amount=0.5, criterion=OBSCriterion(damp=-1)), ValueError, "damp"),
    (dict(amount=0.5, criterion=OBSCriterion(num_grads=0)), ValueError, "num_grads"),
    (dict(amount=0.5, criterion=OBSCriterion(fisher="x")), ValueError, "fisher"),
    (dict(amount=0.5, criterion=OBSCriterion(n_substeps=0)), ValueError, "n_substeps"),
    (
        dict(amount=0.5, criterion=WandaCriterion(num_samples=0)),
        ValueError,
        "num_samples",
    ),
    (dict(amount=0.5, criterion=LayerwiseRefit("nope")), ValueError, "criterion"),
]


@pytest.mark.parametrize("kwargs, error, message", PRUNE_CASES)
def test_prune_parameters_are_checked_before_anything_changes(kwargs, error, message):
    network = _network()
    coefs = [c.copy() for c in network.coefs_]
    needs_data = "criterion" in kwargs and kwargs["criterion"] != "taylor"
    data = (X, Y) if needs_data else ()
    with pytest.raises(error, match=message):
        network.prune(*data, **kwargs)
    assert network.sparsity_ == 0
    for before, after in zip(coefs, network.coefs_):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: _network().prune(X[:, :3], Y, amount=0.5, criterion="taylor"),
            ValueError,
            "features",
        ),
        (lambda: _network().prune(X, amount=0.5, criterion="taylor"), ValueError, "y"),
        (
            lambda: PrunableMLPClassifier().prune(amount=0.5),
            NotFittedError,
            "not fitted",
        ),
        (
            lambda: sparsity_path(PrunableMLPClassifier(), X, Y, sparsities=[0.5]),
            TypeError,
            "estimator",
        ),
        (
            lambda: sparsity_path(
                PrunedMLPClassifier(**SMALL), X, Y, sparsities=[0.5, 1.2]
            ),
            ValueError,
            "sparsities",
        ),
        (
            lambda: sparsity_path(PrunedMLPClassifier(**SMALL), X, Y, sparsities=[]),
            ValueError,
            "sparsities",
        ),
        (
            lambda: sparsity_path(PrunedMLPClassifier(**SMALL), X, Y, sparsities=1),
            ValueError,
            "sparsities",
        ),
        (lambda: oneshot_path(_network(), X, Y, [0.5, 1.2]), ValueError, "sparsities"),
        (
            lambda: oneshot_path(MLPClassifier(max_iter=5).fit(X, Y), X, Y, [0.5]),
            TypeError,
            "from_sklearn",
        ),
        (lambda: from_sklearn("x"), TypeError, "estimator"),
        (lambda: from_sklearn(MLPClassifier()), NotFittedError, "not fitted"),
        (lambda: to_sklearn("x"), TypeError, "model"),
        (lambda: register_criterion(3, lambda context: None), TypeError, "name"),
        (lambda: register_criterion("x", 3), TypeError, "criterion"),
        (lambda: register_criterion(" ", OBSCriterion()), ValueError, "name"),
        (
            lambda: _network().prune(X, Y, amount=0.5, reconstruct="no"),
            TypeError,
            "reconstruct",
        ),
        (
            lambda: PrunableMLPClassifier(hidden_layer_sizes=True).fit(X, Y),
            TypeError,
            "hidden_layer_sizes",
        ),
        (
            lambda: PrunedMLPRegressor(hidden_layer_sizes=(8, 2.5)).fit(XR, YR),
            TypeError,
            "hidden_layer_sizes",
        ),
        (
            lambda: MLPPruner(MLPClassifier(), prefit=True).fit(X, Y),
            NotFittedError,
            "prefit",
        ),
        (
            lambda: PrunedMLPClassifier(
                **SMALL, sparsity=0.3, initial_sparsity=0.6
            ).fit(X, Y),
            ValueError,
            "initial_sparsity",
        ),
        (
            lambda: PrunedMLPClassifier(**SMALL, pattern="n:m", sparsity=0.3).fit(X, Y),
            ValueError,
            "sparsity",
        ),
        (
            lambda: PrunedMLPClassifier(hidden_layer_sizes=(), sparsity=0.9).fit(X, Y),
            ValueError,
            "prunable",
        ),
        (
            lambda: PrunedMLPClassifier(
                **SMALL, pattern="block", block_shape=(100, 100), sparsity=0.5
            ).fit(X, Y),
            ValueError,
            "block_shape",
        ),
        (
            lambda: PrunedMLPClassifier(
                **SMALL, pattern="block", block_shape=(2, 2, 2), sparsity=0.5
            ).fit(X, Y),
            ValueError,
            "block_shape",
        ),
        (
            lambda: PrunedMLPClassifier(
                **SMALL, pattern="block", block_shape=(0, 4), sparsity=0.5
            ).fit(X, Y),
            ValueError,
            "block_shape",
        ),
        (
            lambda: PrunedMLPClassifierCV(**SMALL, sparsities=[0.5]).fit(X, Y),
            ValueError,
            "sparsities",
        ),
        (
            lambda: PrunedMLPClassifierCV(**SMALL, sparsities=[0.0, 0.5]).fit(
                X, Y, groups=np.ones(3)
            ),
            ValueError,
            "inconsistent",
        ),
        (
            lambda: PrunedTreeClassifier(random_state=0).fit(X, Y).prune(np.nan),
            ValueError,
            "ccp_alpha",
        ),
        (
            lambda: PrunedTreeClassifier(random_state=0).fit(X, Y).prune("a"),
            TypeError,
            "ccp_alpha",
        ),
    ],
)
def test_functions_and_fits_reject_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "sparsity, pattern_kw",
    [
        (0.9, dict(hidden_layer_sizes=())),
        (0.5, dict(pattern="block", block_shape=(100, 100))),
    ],
)
def test_impossible_pruning_fails_before_any_training(
    sparsity, pattern_kw, monkeypatch
):
    # The checks run before the dense network is trained.
    from skprune.neural._pruning_run import PruningRun

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(PruningRun, "train_dense", no_training)
    params = {**SMALL, **pattern_kw}
    with pytest.raises(ValueError):
        PrunedMLPClassifier(**params, sparsity=sparsity).fit(X, Y)


@pytest.mark.parametrize(
    "estimator",
    [e for e in _estimators("regressor") if "MLP" in _name(e)],
    ids=_name,
)
def test_mlp_regressors_read_numeric_strings_and_refuse_others(estimator):
    from sklearn.base import clone

    expected = clone(estimator).fit(XR, YR).predict(XR)
    np.testing.assert_allclose(
        clone(estimator).fit(XR, YR.astype(str)).predict(XR), expected
    )
    with pytest.raises(ValueError, match="y must hold numbers"):
        clone(estimator).fit(XR, np.array(["a"] * 60))


def test_display_from_estimator_checks_xscale_before_cross_validating(monkeypatch):
    pytest.importorskip("matplotlib")

    def no_fit(*args, **kwargs):
        raise AssertionError("cross-validation started")

    monkeypatch.setattr(PrunedTreeClassifierCV, "fit", no_fit)
    with pytest.raises(ValueError, match="xscale must be one of"):
        PruningCurveDisplay.from_estimator(
            PrunedTreeClassifier(), X, Y, xscale="foo"
        )


@pytest.mark.parametrize(
    "estimator, param_values",
    [
        (PrunedTreeClassifier(random_state=0), []),
        (PrunedTreeClassifier(random_state=0), [-1.0, 0.0]),
        (PrunedMLPClassifier(**SMALL), [0.0, 1.5]),
    ],
)
def test_display_names_param_values(estimator, param_values):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="^param_values, passed as"):
        PruningCurveDisplay.from_estimator(
            estimator, X, Y, param_values=param_values, cv=3
        )


@pytest.mark.parametrize(
    "estimator",
    [PrunedTreeClassifierCV(random_state=0), PrunedTreeRegressorCV(random_state=0),
     PrunedMLPClassifierCV(**SMALL_CV), PrunedMLPRegressorCV(**SMALL_CV)],
    ids=_name,
)
@pytest.mark.parametrize(
    "cv, message",
    [
        ([1, 2], "cv must be"),
        ((), "cv yields no split"),
        ([(np.arange(30), np.arange(30, 90))], "cv must yield integer indices"),
        ([(np.arange(30), np.arange(30.0, 60.0))], "cv must yield integer indices"),
    ],
    ids=["ints", "empty", "out-of-range", "floats"],
)
def test_cv_given_as_bad_splits_is_named(estimator, cv, message):
    x, y = _data(estimator)
    with pytest.raises(ValueError, match=message):
        clone(estimator).set_params(cv=cv).fit(x, y)


@pytest.mark.parametrize(
    "estimator",
    [PrunedTreeClassifierCV(random_state=0), PrunedMLPRegressorCV(**SMALL_CV)],
    ids=_name,
)
def test_cv_given_as_splits_equals_the_splitter(estimator):
    # Index arrays, boolean masks and a one-shot generator of them give the
    # same fit as the splitter they came from.
    x, y = _data(estimator)
    splitter = KFold(3)
    reference = clone(estimator).set_params(cv=splitter).fit(x, y)
    indices = list(splitter.split(x))
    masks = [
        (np.isin(np.arange(60), tr), np.isin(np.arange(60), te)) for tr, te in indices
    ]
    for cv in (indices, masks, iter(indices)):
        fitted = clone(estimator).set_params(cv=cv).fit(x, y)
        np.testing.assert_array_equal(
            fitted.cv_results_["mean_test_score"],
            reference.cv_results_["mean_test_score"],
        )
