"""Pruning of a scikit-learn perceptron the user already has.

:class:`MLPPruner` wraps a scikit-learn ``MLPClassifier`` or ``MLPRegressor``.
Its ``fit`` obtains the fitted dense network (the given one with
``prefit=True``, otherwise a clone fitted on the data), converts it into a
:class:`PrunedMLPClassifier` or :class:`PrunedMLPRegressor` with the same
training parameters, and prunes and fine-tunes that along the schedule
exactly as :meth:`PrunedMLPClassifier.fit` does after its dense phase.
Prediction goes through the pruned estimator.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from ..utils._delegation import PrunedEstimatorDelegateMixin
from ..utils._delegation import delegated_attribute as _delegated
from ..utils._estimators import DocLinkMixin
from ..utils._docstrings import FIT_DATA_DOC, RETURNS_SELF_DOC, fill_doc
from ..utils._sklearn import _fit_context, check_sample_weight
from ._convert import _shared_params, copy_fit_to_sklearn, copy_fit_to_skprune
from ._multilayer_perceptron import (
    BasePrunableMLP,
    _as_numbers,
    PrunableMLPClassifier,
    PrunableMLPRegressor,
)
from ._pruning_run import (
    PruningRun,
    check_pruning_parameters,
    planned_coef_shapes,
    schedule_targets,
)
from ._pruned import (
    _DISTILLATION_PARAMETERS_DOC,
    _PRUNING_PARAMETERS_DOC,
    _SPARSITY_PARAMETER_DOC,
    PrunedMLPClassifier,
    PrunedMLPRegressor,
    _PrunedMLPMixin,
)
from ._storage import loaded_state, stored_state

# Seeds drawn for the wrapped network are below this, as in scikit-learn.
_MAX_SEED = np.iinfo(np.int32).max

# Parameters handed to the pruned estimator as they are.
_PRUNING_PARAMETERS = (*_PrunedMLPMixin._pruning_constraints, "prunable_layers")


class MLPPruner(
    DocLinkMixin, PrunedEstimatorDelegateMixin, MetaEstimatorMixin, BaseEstimator
):
    __doc__ = (
        """Prune a scikit-learn multilayer perceptron to a target sparsity.

    A meta-estimator around a scikit-learn ``MLPClassifier`` or
    ``MLPRegressor``: it behaves as a classifier or a regressor like the
    estimator it wraps. ``fit`` starts from the fitted dense network (the
    given one with ``prefit=True``, otherwise a clone of ``estimator`` fitted
    on the data), then prunes it along ``schedule`` in ``n_pruning_steps``
    steps and fine-tunes it for ``finetune_iter`` epochs after each, with the
    estimator's solver, learning rate, penalty and batch settings. The result,
    ``pruned_estimator_``, is a :class:`PrunedMLPClassifier` or
    :class:`PrunedMLPRegressor` through which every prediction goes.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The perceptron to prune. It is never modified: with ``prefit=False``
        it is cloned, with ``prefit=True`` it is copied.
"""
        + _SPARSITY_PARAMETER_DOC
        + _PRUNING_PARAMETERS_DOC
        + _DISTILLATION_PARAMETERS_DOC.format(
            teacher="the dense network the pruning starts from"
        )
        + """
    prunable_layers : {"hidden", "all"} or array-like of int, default="hidden"
        Weight matrices that may be pruned: ``"hidden"`` is every matrix but
        the output layer's, ``"all"`` every matrix, or a list of indices into
        ``coefs_``.
    prefit : bool, default=False
        Whether ``estimator`` is already fitted. If True, pruning starts from
        its weights, and ``fit`` only prunes and fine-tunes on the data it is
        given, which must have the features (and, for a classifier, the
        classes) ``estimator`` was fitted with. If False, a clone of
        ``estimator`` is first fitted on the data, exactly as
        ``clone(estimator).fit(X, y)`` would.
    verbose : bool or int, default=False
        Whether to print progress: one line per pruning step (step, target
        and achieved sparsity, training loss, epochs), and the epochs of
        fine-tuning too from ``verbose=2``. The dense fit with
        ``prefit=False`` prints as ``estimator`` is set to.
    random_state : int, RandomState instance or None, default=None
        Seeds the wrapped network, as scikit-learn's ensembles seed the
        estimators they clone. When not None, an int drawn from it replaces
        the ``random_state`` of the network that is fitted (with
        ``prefit=False``) and fine-tuned, so that the result is reproducible
        whatever ``estimator.random_state`` is; ``estimator`` itself is not
        changed. None leaves the network's own ``random_state`` in charge.

    Attributes
    ----------
    estimator_ : MLPClassifier or MLPRegressor
        The fitted dense network pruning started from. It is not pickled: a
        loaded pruner holds the pruned network (and ``estimator``) only.
    pruned_estimator_ : PrunedMLPClassifier or PrunedMLPRegressor
        The pruned and fine-tuned network. Step 0 of its
        ``pruning_history_`` is ``estimator_``, its loss being the training
        objective of ``estimator_`` on the data passed to ``fit``.
    classes_ : ndarray or list of ndarray
        Class labels, for classifiers.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when all are strings.
    sparsity_ : float
        Fraction of the prunable weights that are pruned.
    layer_sparsity_ : ndarray
        Fraction of pruned weights of each weight matrix.
    n_nonzero_ : int
        Number of nonzero weights.
    compression_ratio_ : float
        Weights of the dense network over nonzero weights.
    theoretical_speedup_ : float
        Multiply-adds of the dense network over the remaining ones.
    pruning_history_ : dict of ndarray
        The pruning history of ``pruned_estimator_``.
    n_epochs_total_ : int
        Epochs (iterations with lbfgs) of the given network's training and of
        every fine-tuning step, see ``pruning_history_``.

    See Also
    --------
    PrunedMLPClassifier : Train, prune and fine-tune in one estimator.
    from_sklearn : Convert a fitted scikit-learn perceptron to prune it by
        hand.
    to_sklearn : Convert the pruned network back to scikit-learn.

    Notes
    -----
    With ``prefit=False`` the result is the same as fitting ``estimator``
    first and passing it with ``prefit=True``. The dense network is trained
    by scikit-learn, so with several outputs and the squared error it follows
    scikit-learn's gradient, while fine-tuning follows skprune's (see
    :class:`PrunableMLPRegressor`).

    A pickled ``MLPPruner`` holds what prediction needs, its parameters and
    ``pruned_estimator_``; the dense ``estimator_`` is left out.

    Examples
    --------
    A network trained by scikit-learn, pruned to 90% sparsity in three steps
    with fine-tuning; ``prefit=True`` keeps its training:

    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from skprune.neural import MLPPruner
    >>> X, y = load_digits(return_X_y=True)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(32,), solver="lbfgs",
    ...                     random_state=0).fit(X / 16, y)
    >>> pruner = MLPPruner(mlp, sparsity=0.9, n_pruning_steps=3,
    ...                    finetune_iter=5, prefit=True).fit(X / 16, y)
    >>> round(pruner.sparsity_, 2)
    0.9
    >>> bool(pruner.score(X / 16, y) > 0.9)
    True
    """
    )

    _parameter_constraints: dict = {
        "estimator": [MLPClassifier, MLPRegressor],
        **_PrunedMLPMixin._pruning_constraints,
        "prunable_layers": BasePrunableMLP._parameter_constraints["prunable_layers"],
        "prefit": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        sparsity=0.5,
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
        prunable_layers="hidden",
        prefit=False,
        verbose=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.sparsity = sparsity
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
        self.prunable_layers = prunable_layers
        self.prefit = prefit
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    @fill_doc(fit_data=FIT_DATA_DOC, returns_self=RETURNS_SELF_DOC)
    def fit(self, X, y, sample_weight=None):
        """Fit the dense network if needed, then prune and fine-tune it.

        Parameters
        ----------
        {fit_data}
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, for the dense fit and for fine-tuning.

        {returns_self}
        """
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        if y is not None and not is_classifier(self.estimator):
            # scikit-learn's perceptrons do not read targets given as strings.
            y = _as_numbers(y, "y")
        pruned = self._unfitted_pruned_estimator()
        check_pruning_parameters(
            pruned.get_params(deep=False), self._coef_shapes(pruned, X, y),
            self.sparsity,
        )
        seed = self._network_seed()
        self.estimator_ = self._fitted_dense_estimator(X, y, sample_weight, seed)
        # The training parameters of the network as trained (a random state
        # object goes on from where the dense training left it).
        pruned.set_params(
            **{**_shared_params(self.estimator_, type(pruned)), "verbose": self.verbose}
        )
        if seed is not None:
            pruned.set_params(random_state=seed)
        copy_fit_to_skprune(pruned, self.estimator_)
        # Step 0 of the history is the starting network on the data given.
        pruned.loss_ = float(pruned.loss_gradient(X, y, sample_weight)[0])
        run = PruningRun(pruned, X, y, sample_weight)
        run.start_from_trained()
        run.prune_along(schedule_targets(pruned, self.sparsity))
        self.pruned_estimator_ = run.finish(self.sparsity)
        return self

    def _coef_shapes(self, pruned, X, y):
        """Shapes of the weight matrices of the dense network, before training it."""
        if self.prefit:
            self._check_prefit()
            return [np.shape(coef) for coef in self.estimator.coefs_]
        return planned_coef_shapes(pruned, X, y)

    def _check_prefit(self):
        check_is_fitted(
            self.estimator,
            "coefs_",
            msg=(
                "prefit=True, but this %(name)s is not fitted: fit it first or "
                "use prefit=False."
            ),
        )

    def _network_seed(self):
        """The int that seeds the wrapped network, or None to keep its own."""
        if self.random_state is None:
            return None
        return int(check_random_state(self.random_state).randint(_MAX_SEED))

    def _fitted_dense_estimator(self, X, y, sample_weight, seed):
        """The fitted scikit-learn network that pruning starts from."""
        if not self.prefit:
            return self._fit_clone(X, y, sample_weight, seed)
        if is_classifier(self.estimator):
            self._check_prefit_classes(y)
        return copy.deepcopy(self.estimator)

    def _fit_clone(self, X, y, sample_weight, seed):
        estimator = clone(self.estimator)
        if seed is not None:
            estimator.set_params(random_state=seed)
        if sample_weight is None:
            return estimator.fit(X, y)
        if has_fit_parameter(estimator, "sample_weight"):
            return estimator.fit(X, y, sample_weight=sample_weight)
        # scikit-learn before 1.7 trains its perceptrons without sample
        # weights; skprune's follow the weighted training of later versions.
        cls = (
            PrunableMLPClassifier if is_classifier(estimator) else PrunableMLPRegressor
        )
        dense = cls(**_shared_params(estimator, cls))
        return copy_fit_to_sklearn(estimator, dense.fit(X, y, sample_weight))

    def _check_prefit_classes(self, y):
        classes = unique_labels(y)
        known = self.estimator.classes_
        if set(classes.tolist()) != set(np.asarray(known).tolist()):
            raise ValueError(
                "prefit=True needs y to have the classes the estimator was "
                f"fitted with: the estimator has {known}, y has {classes}."
            )

    def _unfitted_pruned_estimator(self):
        """The pruned estimator to be, with the pruning parameters only."""
        if is_classifier(self.estimator):
            cls = PrunedMLPClassifier
        else:
            cls = PrunedMLPRegressor
        params = {name: getattr(self, name) for name in _PRUNING_PARAMETERS}
        return cls(**params, **_shared_params(self.estimator, cls))

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("estimator_", None)
        return stored_state(state)

    def __setstate__(self, state):
        super().__setstate__(loaded_state(state))

    def _held_network(self):
        """The fitted pruned network, for :func:`to_sklearn`."""
        check_is_fitted(self)
        return self.pruned_estimator_

    sparsity_ = _delegated("sparsity_", "Fraction of prunable weights pruned.")
    layer_sparsity_ = _delegated(
        "layer_sparsity_", "Fraction of pruned weights of each weight matrix."
    )
    n_nonzero_ = _delegated("n_nonzero_", "Number of nonzero weights.")
    compression_ratio_ = _delegated(
        "compression_ratio_", "Weights of the dense network over nonzero weights."
    )
    theoretical_speedup_ = _delegated(
        "theoretical_speedup_", "Dense multiply-adds over remaining ones."
    )
    pruning_history_ = _delegated(
        "pruning_history_", "Pruning history of ``pruned_estimator_``."
    )
    n_epochs_total_ = _delegated(
        "n_epochs_total_", "Epochs of the given network and of all fine-tuning."
    )

    def _follow_estimator_tags(self, tags, estimator_tags):
        tags.target_tags = copy.deepcopy(estimator_tags.target_tags)
