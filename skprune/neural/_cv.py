"""Choosing the sparsity of a pruned MLP by cross-validation on the sparsity path.

On the model of :class:`~sklearn.linear_model.LassoCV`: a grid of sparsities
is fixed, the sparsity path (:func:`~skprune.neural.sparsity_path`) is walked
once per fold and every point scored on the held-out part, the sparsity is
chosen from the cross-validated scores, and the path is walked on all the
data up to the chosen sparsity.
"""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import get_scorer_names

from ..model_selection._plot import cv_estimator_factory, register_cv_estimator
from ..model_selection._search import (
    score_results,
    select_index,
    split_for_cv,
    weights_of,
)
from ..utils._sklearn import Interval, StrOptions, _fit_context
from ._multilayer_perceptron import _COMMON_ATTRIBUTES_DOC, _COMMON_PARAMETERS_DOC
from ._pruned import (
    _PRUNED_ATTRIBUTES_DOC,
    _PRUNED_PARAMETERS_DOC,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    _PrunedMLPMixin,
)
from ._sparsity_path import check_path_estimator, sparsity_grid, walk_sparsity_path


def _score_path_on_fold(
    template, X, y, sample_weight, weighted_scores, train, test, grid, scorer,
    return_train_score,
):
    """Walk the sparsity path on one fold and score it at every point."""
    n_points = grid.shape[0]
    test_scores = np.full(n_points, np.nan)
    train_scores = np.full(n_points, np.nan) if return_train_score else None
    n_nonzero = np.zeros(n_points, dtype=np.int64)
    score_weight = sample_weight if weighted_scores else None

    def score(index, snapshot):
        test_scores[index] = scorer(
            snapshot, X[test], y[test], **weights_of(score_weight, test)
        )
        if return_train_score:
            train_scores[index] = scorer(
                snapshot, X[train], y[train], **weights_of(score_weight, train)
            )
        n_nonzero[index] = snapshot.n_nonzero_

    weights = sample_weight[train] if sample_weight is not None else None
    walk_sparsity_path(
        clone(template), X[train], y[train], weights, grid, on_snapshot=score
    )
    return test_scores, train_scores, n_nonzero


def _without_sparsity(constraints):
    constraints = dict(constraints)
    del constraints["sparsity"]
    return constraints


class PrunedMLPCVMixin:
    """Cross-validated choice of the sparsity, shared by both CV estimators."""

    # the estimator walking the path on each fold
    _fold_estimator = None
    # for PruningCurveDisplay: the knob, and the model size shown next to it
    _curve_param = "sparsity"
    _curve_complexity = ("mean_n_nonzero", "Nonzero weights")

    _cv_parameter_constraints: dict = {
        "sparsities": [Interval(Integral, 2, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "selection": [StrOptions({"1se", "max"})],
        "n_jobs": [Integral, None],
        "return_train_score": ["boolean"],
    }

    def _fold_template(self):
        names = self._fold_estimator._parameter_constraints
        params = {k: v for k, v in self.get_params(deep=False).items() if k in names}
        return self._fold_estimator(**params, sparsity=0.0)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Choose the sparsity by cross-validation, then fit to it on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, used for training and, when the scoring accepts
            them, to weight the scores, as
            :class:`~sklearn.model_selection.GridSearchCV` does.
        groups : array-like of shape (n_samples,), default=None
            Group labels for splitters such as
            :class:`~sklearn.model_selection.GroupKFold`.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        grid = sparsity_grid(self.sparsities, min_points=2)
        template = self._fold_template()
        check_path_estimator(template, X, y, grid)
        X, y, sample_weight, folds, scorer, weighted_scores = split_for_cv(
            self, X, y, sample_weight, groups
        )
        results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_score_path_on_fold)(
                template,
                X,
                y,
                sample_weight,
                weighted_scores,
                train,
                test,
                grid,
                scorer,
                self.return_train_score,
            )
            for train, test in folds
        )
        self._store_results(grid, results)
        chosen = grid[self.best_index_]
        run = walk_sparsity_path(self, X, y, sample_weight, grid, until=chosen)
        return run.finish(chosen)

    def _store_results(self, grid, results):
        train_scores = None
        if self.return_train_score:
            train_scores = np.array([r[1] for r in results])
        cv_results = score_results(
            "sparsity", grid, np.array([r[0] for r in results]), train_scores
        )
        cv_results["mean_n_nonzero"] = np.mean([r[2] for r in results], axis=0)
        self.cv_results_ = cv_results
        self.sparsities_ = grid
        self.best_index_ = select_index(
            cv_results["mean_test_score"],
            cv_results["sem_test_score"],
            one_standard_error=self.selection == "1se",
        )
        self.best_score_ = float(cv_results["mean_test_score"][self.best_index_])
        self.n_splits_ = len(results)


_CV_DOC = """
    sparsities : int or array-like of float, default=6
        The sparsities to choose from, in ``[0, 1)``, ``0`` being the dense
        network. An int ``k`` takes ``k`` values from 0 to 0.98 whose
        densities ``1 - sparsity`` are evenly spread on a log scale (6 gives
        0, 0.54, 0.79, 0.90, 0.96, 0.98). An array must hold at least 2
        distinct values.
    cv : int, cross-validation generator or iterable, default=None
        Determines the cross-validation splitting strategy, as in
        :func:`~sklearn.model_selection.check_cv`: ``None`` for 5 folds,
        stratified for classifiers.
    scoring : str, callable or None, default=None
        Scoring of the pruned networks on the held-out folds; ``None`` uses
        the estimator's ``score`` method. Higher is better.
    selection : {"1se", "max"}, default="1se"
        ``"1se"`` chooses the highest sparsity whose mean score is within one
        standard error of the best mean score; ``"max"`` chooses the best
        mean score (the lowest sparsity among ties), the choice of
        :class:`~sklearn.model_selection.GridSearchCV`.
    n_jobs : int, default=None
        Number of folds processed in parallel through joblib. ``None`` means 1
        unless in a :obj:`joblib.parallel_backend` context, which also lets
        the folds run on a cluster.
    return_train_score : bool, default=False
        Also score every network of the path on its training fold, as needed
        to plot a pruning curve.
"""

_CV_ATTRIBUTES_DOC = """
    sparsities_ : ndarray of shape (n_points,)
        The grid of sparsities, increasing.
    cv_results_ : dict of ndarrays
        Per sparsity of the grid: ``param_sparsity``,
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score`` (as
        in GridSearchCV), ``sem_test_score`` (standard error of the mean over
        the folds: sample standard deviation over the square root of the
        number of folds), ``mean_n_nonzero`` (nonzero weights of the fold
        networks); the train scores too if ``return_train_score``.
    best_index_ : int
        Index of the chosen sparsity in ``sparsities_``.
    best_score_ : float
        Mean cross-validated score at the chosen sparsity.
    n_splits_ : int
        Number of folds.
    sparsity_ : float
        Sparsity achieved by the network fitted on all the data, that of
        ``sparsities_[best_index_]`` up to whole groups of the pattern.
"""


def _cv_class_doc(kind, fold_estimator, example):
    parameters = _PRUNED_PARAMETERS_DOC.split("    criterion :", 1)[1]
    return (
        f"""Multilayer perceptron {kind} whose sparsity is chosen by cross-validation.

    The grid of sparsities is walked as a path (see :func:`sparsity_path`):
    on each fold the dense network is trained once and pruned through the
    increasing sparsities, the network at each being scored on the held-out
    part. The sparsity is chosen by the one-standard-error rule or the best
    mean score, and the path is walked on all the data up to it, so the
    fitted network is trained, pruned and fine-tuned exactly as the ones
    that were scored. This costs one dense training per fold instead of one
    per fold and sparsity with
    :class:`~sklearn.model_selection.GridSearchCV`.
"""
        + _COMMON_PARAMETERS_DOC
        + "    criterion :"
        + parameters
        + _CV_DOC
        + """
    Attributes
    ----------"""
        + _CV_ATTRIBUTES_DOC
        + _COMMON_ATTRIBUTES_DOC
        + _PRUNED_ATTRIBUTES_DOC
        + f"""
    See Also
    --------
    {fold_estimator} : The pruned network at a given sparsity.
    sparsity_path : The fitted networks along the path.
    skprune.model_selection.PruningCurveDisplay : Plots the scores against
        the sparsity.

    Examples
    --------
{example}"""
    )


class PrunedMLPClassifierCV(PrunedMLPCVMixin, PrunedMLPClassifier):
    __doc__ = _cv_class_doc(
        "classifier",
        "PrunedMLPClassifier",
        """    >>> from sklearn.datasets import load_digits
    >>> from skprune.neural import PrunedMLPClassifierCV
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PrunedMLPClassifierCV((32,), max_iter=30, finetune_iter=3,
    ...                             n_pruning_steps=3, sparsities=[0, 0.5, 0.9],
    ...                             cv=3, random_state=0).fit(X / 16, y)
    >>> clf.sparsities_[clf.best_index_] in (0.0, 0.5, 0.9)
    True
    """,
    )

    _fold_estimator = PrunedMLPClassifier
    _parameter_constraints: dict = {
        **_without_sparsity(PrunedMLPClassifier._parameter_constraints),
        **PrunedMLPCVMixin._cv_parameter_constraints,
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        prunable_layers="hidden",
        criterion="magnitude",
        pattern="unstructured",
        scope="global",
        block_shape=(4, 4),
        n=2,
        m=4,
        schedule="gradual",
        n_pruning_steps=10,
        finetune_iter=10,
        initial_sparsity=0.0,
        distillation_weight=0.0,
        temperature=2.0,
        sparsities=6,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        return_train_score=False,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            prunable_layers=prunable_layers,
            criterion=criterion,
            pattern=pattern,
            scope=scope,
            block_shape=block_shape,
            n=n,
            m=m,
            schedule=schedule,
            n_pruning_steps=n_pruning_steps,
            finetune_iter=finetune_iter,
            initial_sparsity=initial_sparsity,
            distillation_weight=distillation_weight,
            temperature=temperature,
        )
        # The sparsity is chosen by fit, not set.
        del self.sparsity
        self.sparsities = sparsities
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.return_train_score = return_train_score


class PrunedMLPRegressorCV(PrunedMLPCVMixin, PrunedMLPRegressor):
    __doc__ = _cv_class_doc(
        "regressor",
        "PrunedMLPRegressor",
        """    >>> from sklearn.datasets import make_regression
    >>> from skprune.neural import PrunedMLPRegressorCV
    >>> X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    >>> reg = PrunedMLPRegressorCV((16,), solver="lbfgs", max_iter=50,
    ...                            sparsities=[0, 0.5, 0.8], cv=3,
    ...                            random_state=0).fit(X, y)
    >>> reg.sparsities_[reg.best_index_] in (0.0, 0.5, 0.8)
    True
    """,
    )

    _fold_estimator = PrunedMLPRegressor
    _parameter_constraints: dict = {
        **_without_sparsity(PrunedMLPRegressor._parameter_constraints),
        **PrunedMLPCVMixin._cv_parameter_constraints,
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        prunable_layers="hidden",
        criterion="magnitude",
        pattern="unstructured",
        scope="global",
        block_shape=(4, 4),
        n=2,
        m=4,
        schedule="gradual",
        n_pruning_steps=10,
        finetune_iter=10,
        initial_sparsity=0.0,
        distillation_weight=0.0,
        temperature=2.0,
        sparsities=6,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        return_train_score=False,
    ):
        super().__init__(
            loss=loss,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            prunable_layers=prunable_layers,
            criterion=criterion,
            pattern=pattern,
            scope=scope,
            block_shape=block_shape,
            n=n,
            m=m,
            schedule=schedule,
            n_pruning_steps=n_pruning_steps,
            finetune_iter=finetune_iter,
            initial_sparsity=initial_sparsity,
            distillation_weight=distillation_weight,
            temperature=temperature,
        )
        # The sparsity is chosen by fit, not set.
        del self.sparsity
        self.sparsities = sparsities
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.return_train_score = return_train_score


register_cv_estimator(
    _PrunedMLPMixin,
    cv_estimator_factory(PrunedMLPClassifierCV, PrunedMLPRegressorCV, "sparsities"),
)
