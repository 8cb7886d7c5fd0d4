"""Choosing the sparsity of a pruned MLP by cross-validation on the sparsity path.

On the model of :class:`~sklearn.linear_model.LassoCV`: a grid of sparsities
is fixed, the sparsity path (:func:`~skprune.neural.sparsity_path`) is walked
once per fold and every point scored on the held-out part, the sparsity is
chosen from the cross-validated scores, and the path is walked on all the
data up to the chosen sparsity.
"""

from sklearn.base import clone

from ..model_selection._search import (
    PathCVMixin,
    path_cv_constraints,
    path_cv_doc,
    register_cv_estimators,
)
from ..utils._docstrings import FIT_DATA_DOC, RETURNS_SELF_DOC, fill_doc
from ..utils._sklearn import _fit_context
from ._multilayer_perceptron import (
    PrunableMLPClassifier,
    PrunableMLPRegressor,
    network_class_doc,
)
from ._pruned import (
    _DISTILLATION_PARAMETERS_DOC,
    _PRUNED_ATTRIBUTES_DOC,
    _PRUNING_PARAMETERS_DOC,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    _PrunedMLPMixin,
)
from ._sparsity_path import check_path_estimator, sparsity_grid, walk_sparsity_path


def walk_network_path(template, X, y, sample_weight, grid, visit, from_dense=False):
    """Walk the sparsity path on one fold, visiting the snapshot at every point.

    See :func:`~skprune.model_selection._search.score_path_on_fold`.
    """

    def on_snapshot(index, snapshot):
        visit(index, snapshot, snapshot.n_nonzero_)

    walk_sparsity_path(
        clone(template),
        X,
        y,
        sample_weight,
        grid,
        on_snapshot=on_snapshot,
        from_dense=from_dense,
    )


class PrunedMLPCVMixin(PathCVMixin):
    """Cross-validated choice of the sparsity, shared by both CV estimators."""

    _curve_param = "sparsity"
    _grid_parameter = "sparsities"
    _size_name = "n_nonzero"
    _curve_complexity = ("mean_n_nonzero", "Nonzero weights")

    def _walk_path(self, template, X, y, sample_weight, grid, visit):
        walk_network_path(
            template, X, y, sample_weight, grid, visit, from_dense=self.from_dense
        )

    @_fit_context(prefer_skip_nested_validation=True)
    @fill_doc(fit_data=FIT_DATA_DOC, returns_self=RETURNS_SELF_DOC)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Choose the sparsity by cross-validation, then fit to it on all the data.

        Parameters
        ----------
        {fit_data}
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, used for training and, when the scoring accepts
            them, to weight the scores, as
            :class:`~sklearn.model_selection.GridSearchCV` does.
        groups : array-like of shape (n_samples,), default=None
            Group labels for splitters such as
            :class:`~sklearn.model_selection.GroupKFold`.

        {returns_self}
        """
        grid = sparsity_grid(self.sparsities, min_points=2)
        template = self._fold_template(sparsity=0.0)
        check_path_estimator(template, X, y, grid)
        _, y, sample_weight = self._cross_validate_path(
            template, X, y, sample_weight, groups, grid
        )
        # The data as given, so that the fit keeps its feature names.
        chosen = self.best_params_["sparsity"]
        run = walk_sparsity_path(
            self, X, y, sample_weight, grid, until=chosen, from_dense=self.from_dense
        )
        return run.finish(chosen)


def _cv_constraints(network):
    """Parameter constraints of a CV estimator: the network's, pruning's, the CV's."""
    single = {**network._parameter_constraints, **_PrunedMLPMixin._pruning_constraints}
    return path_cv_constraints(
        single, knob="sparsity", grid="sparsities", from_dense=["boolean"]
    )


_PATH_CV_PARAMETERS_DOC, _PATH_CV_ATTRIBUTES_DOC = path_cv_doc(
    model="network",
    value="sparsity",
    param="sparsity",
    grid="sparsities_",
    sizes="``mean_n_nonzero`` (nonzero weights of the fold networks)",
    most_pruned="highest sparsity",
    least_pruned="lowest sparsity",
)

_CV_DOC = (
    """
    sparsities : int or array-like of float, default=6
        The sparsities to choose from, in ``[0, 1)``, ``0`` being the dense
        network. An int ``k`` takes ``k`` values from 0 to 0.98 whose
        densities ``1 - sparsity`` are evenly spread on a log scale (6 gives
        0, 0.54, 0.79, 0.90, 0.96, 0.98). An array must hold at least 2
        distinct values.
    from_dense : bool, default=False
        Whether every sparsity is one prune of the dense network, fine-tuned
        on its own (each network is then the one ``schedule="oneshot"``
        fits), rather than a point of one walk along ``schedule``; a
        criterion that records traces (``"obc"``) is traced once per fold.
        See :func:`sparsity_path`."""
    + _PATH_CV_PARAMETERS_DOC
)

_CV_ATTRIBUTES_DOC = (
    """
    sparsities_ : ndarray of shape (n_points,)
        The grid of sparsities, increasing."""
    + _PATH_CV_ATTRIBUTES_DOC
    + """    sparsity_ : float
        Sparsity achieved by the network fitted on all the data, that of
        ``sparsities_[best_index_]`` up to whole groups of the pattern.
"""
)


def _cv_class_doc(kind, fold_estimator, example):
    return network_class_doc(
        kind,
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
""",
        f"""
    See Also
    --------
    {fold_estimator} : The pruned network at a given sparsity.
    sparsity_path : The fitted networks along the path.
    skprune.model_selection.PruningCurveDisplay : Plots the scores against
        the sparsity.

    Examples
    --------
{example}""",
        parameters=_PRUNING_PARAMETERS_DOC
        + _DISTILLATION_PARAMETERS_DOC.format(teacher="the dense network trained first")
        + _CV_DOC,
        attributes=_CV_ATTRIBUTES_DOC + _PRUNED_ATTRIBUTES_DOC,
    )


class PrunedMLPClassifierCV(PrunedMLPCVMixin, _PrunedMLPMixin, PrunableMLPClassifier):
    __doc__ = _cv_class_doc(
        "classifier",
        "PrunedMLPClassifier",
        """    Half the weights go at no cost in held-out accuracy, 90% cost three
    points; the one-standard-error rule chooses the sparser of the first two:

    >>> from sklearn.datasets import load_digits
    >>> from skprune.neural import PrunedMLPClassifierCV
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = PrunedMLPClassifierCV((32,), solver="lbfgs", finetune_iter=3,
    ...                             n_pruning_steps=3, sparsities=[0, 0.5, 0.9],
    ...                             cv=3, random_state=0).fit(X / 16, y)
    >>> clf.cv_results_["mean_test_score"].round(2).tolist()
    [0.93, 0.93, 0.9]
    >>> clf.best_params_
    {'sparsity': 0.5}
    """,
    )

    _fold_estimator = PrunedMLPClassifier
    _parameter_constraints: dict = _cv_constraints(PrunableMLPClassifier)

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
        scope=None,
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
        from_dense=False,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        return_train_score=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.prunable_layers = prunable_layers
        self.criterion = criterion
        self.pattern = pattern
        self.scope = scope
        self.block_shape = block_shape
        self.n = n
        self.m = m
        self.schedule = schedule
        self.n_pruning_steps = n_pruning_steps
        self.finetune_iter = finetune_iter
        self.initial_sparsity = initial_sparsity
        self.distillation_weight = distillation_weight
        self.temperature = temperature
        self.sparsities = sparsities
        self.from_dense = from_dense
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.return_train_score = return_train_score


class PrunedMLPRegressorCV(PrunedMLPCVMixin, _PrunedMLPMixin, PrunableMLPRegressor):
    __doc__ = _cv_class_doc(
        "regressor",
        "PrunedMLPRegressor",
        """    On 200 samples the held-out R² does not drop as 80% of the weights go,
    and the most pruned network is chosen:

    >>> from sklearn.datasets import make_friedman1
    >>> from skprune.neural import PrunedMLPRegressorCV
    >>> X, y = make_friedman1(n_samples=200, n_features=5, random_state=0)
    >>> reg = PrunedMLPRegressorCV(hidden_layer_sizes=(16,), solver="lbfgs",
    ...                            max_iter=1000, sparsities=[0, 0.5, 0.8], cv=3,
    ...                            random_state=0).fit(X, y)
    >>> reg.cv_results_["mean_test_score"].round(2).tolist()
    [0.84, 0.84, 0.87]
    >>> reg.best_params_
    {'sparsity': 0.8}
    """,
    )

    _fold_estimator = PrunedMLPRegressor
    _parameter_constraints: dict = _cv_constraints(PrunableMLPRegressor)

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
        scope=None,
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
        from_dense=False,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        return_train_score=False,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.prunable_layers = prunable_layers
        self.criterion = criterion
        self.pattern = pattern
        self.scope = scope
        self.block_shape = block_shape
        self.n = n
        self.m = m
        self.schedule = schedule
        self.n_pruning_steps = n_pruning_steps
        self.finetune_iter = finetune_iter
        self.initial_sparsity = initial_sparsity
        self.distillation_weight = distillation_weight
        self.temperature = temperature
        self.sparsities = sparsities
        self.from_dense = from_dense
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.n_jobs = n_jobs
        self.return_train_score = return_train_score


register_cv_estimators(
    (PrunedMLPClassifier, PrunedMLPRegressor),
    PrunedMLPClassifierCV,
    PrunedMLPRegressorCV,
)
