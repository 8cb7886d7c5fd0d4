"""PruningCurveDisplay."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from skprune.model_selection import PruningCurveDisplay
from skprune.tree import (
    PrunedTreeClassifier,
    PrunedTreeClassifierCV,
    PrunedTreeRegressorCV,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True)


def test_from_cv_estimator_draws_its_results(data):
    X, y = data
    cv_tree = PrunedTreeClassifierCV(
        ccp_alphas=12, cv=4, return_train_score=True, random_state=0
    ).fit(X, y)
    display = PruningCurveDisplay.from_cv_estimator(cv_tree)
    results = cv_tree.cv_results_

    train_line, test_line = display.lines_
    np.testing.assert_allclose(train_line.get_xdata(), cv_tree.ccp_alphas_)
    np.testing.assert_allclose(test_line.get_ydata(), results["mean_test_score"])
    np.testing.assert_allclose(train_line.get_ydata(), results["mean_train_score"])
    assert display.chosen_line_.get_xdata()[0] == cv_tree.ccp_alpha_
    # the 1-SE band spans from the best mean score down one standard error
    best = np.argmax(results["mean_test_score"])
    band = (
        display.sem_band_.get_y(),
        display.sem_band_.get_y() + display.sem_band_.get_height(),
    )
    np.testing.assert_allclose(
        sorted(band),
        [results["mean_test_score"][best] - results["sem_test_score"][best],
         results["mean_test_score"][best]],
    )
    (leaves_line,) = display.ax_complexity_.get_lines()
    np.testing.assert_array_equal(leaves_line.get_ydata(), results["n_leaves"])
    assert display.ax_complexity_.get_ylabel() == "Number of leaves"
    assert display.ax_.get_xlabel() == "ccp_alpha"
    assert display.ax_.get_xscale() == "symlog"
    assert display.figure_ is display.ax_.figure


def test_from_estimator_uses_the_estimator_parameters(data):
    X, y = data
    display = PruningCurveDisplay.from_estimator(
        PrunedTreeClassifier(risk="misclassification", max_depth=5, random_state=0),
        X, y, param_values=8, cv=3, selection="best",
    )
    reference = PrunedTreeClassifierCV(
        risk="misclassification", max_depth=5, random_state=0, ccp_alphas=8, cv=3,
        selection="best",
    ).fit(X, y)
    np.testing.assert_allclose(
        display.lines_[1].get_ydata(), reference.cv_results_["mean_test_score"]
    )
    assert display.chosen_value == reference.ccp_alpha_
    assert len(display.lines_) == 2  # train scores are computed for the curve


def test_from_estimator_takes_scikit_learn_trees_and_cv_estimators(data):
    X, y = data
    _, (left, right) = plt.subplots(1, 2)
    from_tree = PruningCurveDisplay.from_estimator(
        DecisionTreeClassifier(random_state=0),
        X,
        y,
        param_values=[0.0, 0.01, 0.05],
        ax=left,
    )
    from_cv = PruningCurveDisplay.from_estimator(
        PrunedTreeClassifierCV(random_state=0),
        X,
        y,
        param_values=[0.0, 0.01, 0.05],
        ax=right,
    )
    assert from_tree.ax_ is left and from_cv.ax_ is right
    np.testing.assert_allclose(
        from_tree.lines_[1].get_ydata(), from_cv.lines_[1].get_ydata()
    )


def test_regressor_curve():
    X, y = load_diabetes(return_X_y=True)
    cv_tree = PrunedTreeRegressorCV(ccp_alphas=6, cv=3, random_state=0).fit(X, y)
    display = PruningCurveDisplay.from_cv_estimator(cv_tree, show_complexity=False)
    assert len(display.lines_) == 1  # no train scores were kept
    assert display.ax_complexity_ is None
    assert display.ax_.get_ylabel() == "R2 score"


def test_unknown_estimator_is_rejected(data):
    X, y = data
    with pytest.raises(TypeError, match="LogisticRegression"):
        PruningCurveDisplay.from_estimator(LogisticRegression(), X, y)


class _PathOfAnotherKind(ClassifierMixin, BaseEstimator):
    """An estimator of no skprune family that exposes only the path protocol."""

    def __init__(self, fitted=False):
        self.fitted = fitted
        if fitted:
            self.cv_results_ = {
                "param_n_members": np.array([1.0, 2.0, 4.0, 8.0]),
                "split0_test_score": np.array([0.70, 0.80, 0.85, 0.86]),
                "split1_test_score": np.array([0.72, 0.82, 0.84, 0.88]),
                "sem_test_score": np.array([0.01, 0.01, 0.005, 0.01]),
            }
            self.best_index_ = 2

    def _pruning_curve_cv(self, *, param_values=None, **cv_params):
        self.asked_for = dict(cv_params, param_values=param_values)
        return self

    def fit(self, X, y):
        self.__init__(fitted=True)
        return self


def test_any_estimator_with_the_path_protocol_is_drawn(data):
    X, y = data
    display = PruningCurveDisplay.from_cv_estimator(_PathOfAnotherKind(fitted=True))
    assert display.ax_.get_xlabel() == "n_members"
    assert display.chosen_value == 4.0
    np.testing.assert_allclose(display.lines_[0].get_ydata(), [0.71, 0.81, 0.845, 0.87])
    assert display.ax_complexity_ is None

    # from_estimator asks the estimator itself for its CV estimator.
    estimator = _PathOfAnotherKind()
    display = PruningCurveDisplay.from_estimator(estimator, X, y, param_values=[1, 2])
    assert estimator.asked_for["param_values"] == [1, 2]
    assert estimator.asked_for["return_train_score"] is True
    assert display.chosen_value == 4.0


def _curve_reference(search, knob):
    """Rows of the search whose other parameters equal the best ones, by the knob."""
    results, best = search.cv_results_, search.best_params_
    rows = [
        i for i, params in enumerate(results["params"])
        if all(params[k] == v for k, v in best.items() if k != knob)
    ]
    return sorted(rows, key=lambda i: results["params"][i][knob])


def test_from_cv_results_of_a_grid_search_over_a_pipeline(data):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    pipeline = make_pipeline(StandardScaler(), PrunedTreeClassifier(random_state=0))
    search = GridSearchCV(
        pipeline,
        {
            "prunedtreeclassifier__ccp_alpha": [0.02, 0.0, 0.005],
            "prunedtreeclassifier__max_depth": [2, 4],
        },
        cv=3, return_train_score=True,
    ).fit(X, y)
    knob = "prunedtreeclassifier__ccp_alpha"
    rows = _curve_reference(search, knob)
    results = search.cv_results_

    for param in ("ccp_alpha", knob, None):
        display = PruningCurveDisplay.from_cv_results(results, param=param)
        train_line, test_line = display.lines_
        np.testing.assert_allclose(test_line.get_xdata(), [0.0, 0.005, 0.02])
        np.testing.assert_allclose(
            test_line.get_ydata(), results["mean_test_score"][rows]
        )
        np.testing.assert_allclose(
            train_line.get_ydata(), results["mean_train_score"][rows]
        )
        assert display.chosen_value == search.best_params_[knob]
        assert display.param_name == "ccp_alpha"
        plt.close("all")

    from_search = PruningCurveDisplay.from_cv_estimator(search)
    np.testing.assert_allclose(
        from_search.lines_[1].get_ydata(), results["mean_test_score"][rows]
    )
    splits = [results[f"split{k}_test_score"][rows] for k in range(3)]
    std = np.column_stack(splits).std(axis=1, ddof=1)
    np.testing.assert_allclose(from_search.sem, std / np.sqrt(3))
    assert from_search.ax_.get_ylabel() == "Accuracy"


def test_from_cv_results_errors_say_what_to_pass(data):
    results = {
        "param_a__sparsity": np.array([0.1, 0.5]),
        "param_b__sparsity": np.array([0.1, 0.5]),
        "param_alpha": np.array([1.0, 2.0]),
        "split0_test_score": np.array([0.5, 0.6]),
    }
    with pytest.raises(ValueError, match="pass param= one of them"):
        PruningCurveDisplay.from_cv_results(results)
    with pytest.raises(ValueError, match="param='gamma' is not one of them"):
        PruningCurveDisplay.from_cv_results(results, param="gamma")
    with pytest.raises(ValueError, match="pass best_index="):
        PruningCurveDisplay.from_cv_results(results, param="alpha")
    display = PruningCurveDisplay.from_cv_results(
        results, param="a__sparsity", best_index=1
    )
    assert display.chosen_value == 0.5
    with pytest.raises(TypeError, match="from_cv_estimator"):
        PruningCurveDisplay.from_cv_results(object())
    with pytest.raises(ValueError, match="no 'param_<name>' entry"):
        PruningCurveDisplay.from_cv_results({"split0_test_score": [1.0]})


def test_from_cv_results_of_a_randomized_search_over_max_score_loss():
    results = {  # as a search over an ensemble pruner's max_score_loss stores them
        "param_max_score_loss": np.ma.MaskedArray([0.05, 0.0, 0.01], dtype=object),
        "split0_test_score": np.array([0.80, 0.90, 0.88]),
        "split1_test_score": np.array([0.82, 0.92, 0.86]),
        "rank_test_score": np.array([3, 1, 2]),
    }
    display = PruningCurveDisplay.from_cv_results(results)
    np.testing.assert_allclose(display.lines_[0].get_xdata(), [0.0, 0.01, 0.05])
    np.testing.assert_allclose(display.lines_[0].get_ydata(), [0.91, 0.87, 0.81])
    assert display.chosen_value == 0.0


def test_from_estimator_and_from_cv_estimator_take_pipelines(data):
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    scaled = StandardScaler().fit_transform(X)
    pipeline = make_pipeline(
        StandardScaler(), PrunedTreeClassifier(max_depth=4, random_state=0)
    )
    display = PruningCurveDisplay.from_estimator(
        pipeline, X, y, param_values=[0.0, 0.01, 0.05], cv=3
    )
    reference = PrunedTreeClassifierCV(
        max_depth=4, random_state=0, ccp_alphas=[0.0, 0.01, 0.05], cv=3
    ).fit(scaled, y)
    np.testing.assert_allclose(
        display.lines_[1].get_ydata(), reference.cv_results_["mean_test_score"]
    )
    assert display.chosen_value == reference.ccp_alpha_

    fitted = make_pipeline(
        StandardScaler(), PrunedTreeClassifierCV(ccp_alphas=5, cv=3)
    ).fit(X, y)
    display = PruningCurveDisplay.from_cv_estimator(fitted)
    np.testing.assert_allclose(
        display.lines_[0].get_ydata(), fitted[-1].cv_results_["mean_test_score"]
    )

    search = RandomizedSearchCV(
        PrunedTreeClassifier(random_state=0),
        {"ccp_alpha": [0.0, 0.003, 0.01, 0.03]}, n_iter=3, cv=3, random_state=0,
    )
    display = PruningCurveDisplay.from_estimator(search, X, y)
    fitted_search = search.fit(X, y)
    rows = np.argsort(fitted_search.cv_results_["param_ccp_alpha"].astype(float))
    mean_test = fitted_search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(display.lines_[0].get_ydata(), mean_test[rows])
    with pytest.raises(ValueError, match="param_values cannot be given"):
        PruningCurveDisplay.from_estimator(search, X, y, param_values=[0.0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_over_the_sparsity_of_a_network_pipeline():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skprune.neural import PrunedMLPClassifier

    X, y = load_iris(return_X_y=True)
    network = PrunedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=10, n_pruning_steps=1, finetune_iter=2,
        random_state=0,
    )
    search = GridSearchCV(
        make_pipeline(StandardScaler(), network),
        {"prunedmlpclassifier__sparsity": [0.8, 0.0, 0.5]},
        cv=2,
    ).fit(X, y)
    display = PruningCurveDisplay.from_cv_estimator(search)
    rows = _curve_reference(search, "prunedmlpclassifier__sparsity")
    np.testing.assert_allclose(display.lines_[0].get_xdata(), [0.0, 0.5, 0.8])
    np.testing.assert_allclose(
        display.lines_[0].get_ydata(), search.cv_results_["mean_test_score"][rows]
    )
    assert display.ax_.get_xlabel() == "sparsity"
    assert display.chosen_value == search.best_params_["prunedmlpclassifier__sparsity"]


def test_tree_cv_prints_one_line_per_fold_and_alpha(data, capsys):
    X, y = data
    PrunedTreeClassifierCV(ccp_alphas=[0.0, 0.01], cv=3, verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if " fold " in line]
    assert len(lines) == 3 * 2
    assert lines[0].startswith("[PrunedTreeClassifierCV] fold 1 of 3, ccp_alpha=0:")


def test_scikit_learn_trees_are_drawn_with_only_the_display_imported():
    # A fresh interpreter: this session has imported skprune.tree already.
    script = """
import matplotlib
matplotlib.use("Agg")
from sklearn.datasets import load_breast_cancer
from sklearn.tree import DecisionTreeClassifier
from skprune.model_selection import PruningCurveDisplay
X, y = load_breast_cancer(return_X_y=True)
display = PruningCurveDisplay.from_estimator(
    DecisionTreeClassifier(random_state=0), X, y, param_values=4, cv=2
)
print(display.param_name, len(display.param_values))
"""
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ccp_alpha", "4"]
