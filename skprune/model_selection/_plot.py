"""Pruning curve: score against the pruning knob, with the model size beside it."""

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._curve_results import best_row, curve_rows, resolve_knob, sem_of, split_scores
from ._search import make_cv_estimator


_XSCALES = frozenset({"auto", "linear", "log", "symlog"})


def _check_xscale(xscale):
    if xscale not in _XSCALES:
        raise ValueError(f"xscale must be one of {sorted(_XSCALES)}, got {xscale!r}.")


def _import_matplotlib(caller):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib; install it with `pip install matplotlib`."
        ) from exc
    return plt


class PruningCurveDisplay:
    """Score against a pruning knob, with the chosen value and model size.

    It shows, against the knob (``ccp_alpha`` for trees, the sparsity for
    neural networks), the mean cross-validated score with its spread, the
    train score if known, the chosen value, the one-standard-error band under
    the best mean score, and on a second axis the size of the model (number of
    leaves, number of nonzero weights).

    Create it with :meth:`from_estimator`, :meth:`from_cv_estimator` or
    :meth:`from_cv_results`; the constructor only stores the arrays.

    Parameters
    ----------
    param_values : ndarray of shape (n_values,)
        Values of the knob, increasing.
    test_scores : ndarray of shape (n_values, n_splits)
        Cross-validated scores.
    train_scores : ndarray of shape (n_values, n_splits), default=None
        Scores on the training folds.
    complexity : ndarray of shape (n_values,), default=None
        Size of the model at each value (leaves, nonzero weights).
    chosen_value : float, default=None
        The value chosen by the cross-validated estimator.
    sem : ndarray of shape (n_values,), default=None
        Standard error of the mean test score, for the one-standard-error band.
    param_name : str, default="ccp_alpha"
        Name of the knob, the x-axis label.
    score_name : str, default="Score"
        The y-axis label.
    complexity_name : str, default="Number of leaves"
        The label of the second axis.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the scores.
    ax_complexity_ : matplotlib Axes or None
        The second axes, with the model size.
    figure_ : matplotlib Figure
        The figure holding the axes.
    lines_ : list of matplotlib Line2D
        The mean score lines.

    Examples
    --------
    Scores computed elsewhere, two folds at three alphas, plotted as they are:

    >>> import matplotlib.pyplot as plt
    >>> from skprune.model_selection import PruningCurveDisplay
    >>> display = PruningCurveDisplay(
    ...     param_values=[0.0, 0.01, 0.02],
    ...     test_scores=[[0.91, 0.93], [0.94, 0.95], [0.90, 0.89]],
    ...     complexity=[20, 8, 3],
    ... ).plot()
    >>> display.ax_.get_xlabel(), display.ax_complexity_.get_ylabel()
    ('ccp_alpha', 'Number of leaves')
    >>> plt.show()
    """

    def __init__(
        self,
        *,
        param_values,
        test_scores,
        train_scores=None,
        complexity=None,
        chosen_value=None,
        sem=None,
        param_name="ccp_alpha",
        score_name="Score",
        complexity_name="Number of leaves",
    ):
        self.param_values = param_values
        self.test_scores = test_scores
        self.train_scores = train_scores
        self.complexity = complexity
        self.chosen_value = chosen_value
        self.sem = sem
        self.param_name = param_name
        self.score_name = score_name
        self.complexity_name = complexity_name

    def plot(self, ax=None, *, xscale="auto", show_complexity=True, line_kw=None):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made if None.
        xscale : {"auto", "linear", "log", "symlog"}, default="auto"
            Scale of the x-axis. ``"auto"`` uses a symmetric log scale when the
            positive values span more than two decades (a zero alpha then
            stays visible), and a linear one otherwise.
        show_complexity : bool, default=True
            Draw the model size on a second y-axis.
        line_kw : dict, default=None
            Keyword arguments passed to ``Axes.plot`` for the score lines.

        Returns
        -------
        display : PruningCurveDisplay
            The display, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        _check_xscale(xscale)
        x = self._checked_param_values()
        plt = _import_matplotlib(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        line_kw = {} if line_kw is None else line_kw

        self.lines_ = []
        self.fill_between_ = []
        curves = {"Cross-validation": self.test_scores}
        if self.train_scores is not None:
            curves = {"Train": self.train_scores, **curves}
        for label, scores in curves.items():
            scores = np.asarray(scores, dtype=float)
            mean, std = scores.mean(axis=1), scores.std(axis=1)
            (line,) = ax.plot(x, mean, marker=".", label=label, **line_kw)
            self.lines_.append(line)
            self.fill_between_.append(
                ax.fill_between(
                    x, mean - std, mean + std, alpha=0.2, color=line.get_color()
                )
            )
        self._mark_choice(ax)

        ax.set_xscale(**self._xscale_kwargs(x, xscale))
        ax.set_xlabel(self.param_name)
        ax.set_ylabel(self.score_name)
        self.ax_complexity_ = None
        if show_complexity and self.complexity is not None:
            self.ax_complexity_ = ax.twinx()
            self.ax_complexity_.step(
                x, self.complexity, where="post", color="0.5", linestyle=":",
                label=self.complexity_name,
            )
            self.ax_complexity_.set_ylabel(self.complexity_name)
        handles, labels = ax.get_legend_handles_labels()
        if self.ax_complexity_ is not None:
            more_handles, more_labels = self.ax_complexity_.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        ax.legend(handles, labels, loc="best", fontsize="small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _checked_param_values(self):
        """``param_values`` as floats, once every array is checked against it."""
        x = np.asarray(self.param_values, dtype=float)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(
                f"param_values must be a non-empty 1-D array, got shape {x.shape}."
            )
        for name in ("test_scores", "train_scores"):
            scores = getattr(self, name)
            if scores is not None and (
                np.ndim(scores) != 2 or np.shape(scores)[0] != x.size
            ):
                raise ValueError(
                    f"{name} must have shape (n_param_values, n_splits) = "
                    f"({x.size}, n_splits), got {np.shape(scores)}."
                )
        for name in ("complexity", "sem"):
            values = getattr(self, name)
            if values is not None and np.shape(values) != x.shape:
                raise ValueError(
                    f"{name} must have one value per param_value, shape "
                    f"{x.shape}, got {np.shape(values)}."
                )
        return x

    def _mark_choice(self, ax):
        """The chosen value as a vertical line, and the 1-SE band."""
        self.chosen_line_ = None
        self.sem_band_ = None
        mean_test = np.asarray(self.test_scores, dtype=float).mean(axis=1)
        if self.sem is not None:
            best = int(np.nanargmax(mean_test))
            low = mean_test[best] - np.asarray(self.sem)[best]
            self.sem_band_ = ax.axhspan(
                low, mean_test[best], color="tab:green", alpha=0.15,
                label="Within 1 SE of the best",
            )
        if self.chosen_value is not None:
            self.chosen_line_ = ax.axvline(
                self.chosen_value, color="k", linestyle="--",
                label=f"Chosen {self.param_name} = {self.chosen_value:.3g}",
            )

    @staticmethod
    def _xscale_kwargs(x, xscale):
        if xscale != "auto":
            if xscale == "symlog":
                return {"value": "symlog", "linthresh": _linthresh(x)}
            return {"value": xscale}
        positive = x[x > 0]
        if positive.size > 1 and positive.max() / positive.min() > 100:
            if np.any(x <= 0):
                return {"value": "symlog", "linthresh": _linthresh(x)}
            return {"value": "log"}
        return {"value": "linear"}

    @classmethod
    def from_cv_estimator(cls, cv_estimator, *, ax=None, score_name=None, **plot_kw):
        """Plot the curve of a fitted cross-validated pruning estimator.

        Parameters
        ----------
        cv_estimator : fitted estimator
            A fitted skprune CV estimator, a fitted
            :class:`~sklearn.model_selection.GridSearchCV` or
            :class:`~sklearn.model_selection.RandomizedSearchCV` over a pruning
            knob (see :meth:`from_cv_results`), a fitted
            :class:`~sklearn.pipeline.Pipeline` ending with one of them, or
            any estimator with
            ``cv_results_`` (``param_<knob>`` and ``split{k}_test_score``,
            optionally ``split{k}_train_score`` and ``sem_test_score``) and
            ``best_index_``. The knob is the class attribute
            ``_curve_param``, or else the one ``param_`` key of
            ``cv_results_``; the model size drawn on the second axis is named
            by ``_curve_complexity``, a pair (key of ``cv_results_``, label),
            if the class has it. Train scores are drawn if present.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        score_name : str, default=None
            The y-axis label; the scoring's name if None.
        **plot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : PruningCurveDisplay
        """
        cv_estimator = _last_step(cv_estimator)
        check_is_fitted(cv_estimator, "cv_results_")
        complexity_key, complexity_name = getattr(
            cv_estimator, "_curve_complexity", (None, None)
        )
        return cls.from_cv_results(
            cv_estimator.cv_results_,
            param=getattr(cv_estimator, "_curve_param", None),
            best_index=cv_estimator.best_index_,
            complexity_key=complexity_key,
            complexity_name=complexity_name,
            ax=ax,
            score_name=score_name or _score_name(cv_estimator),
            **plot_kw,
        )

    @classmethod
    def from_cv_results(
        cls,
        cv_results,
        *,
        param=None,
        best_index=None,
        complexity_key=None,
        complexity_name=None,
        ax=None,
        score_name="Score",
        **plot_kw,
    ):
        """Plot the curve of a pruning knob from the results of a search.

        The candidates drawn are those whose other searched parameters are at
        their value in the best candidate, ordered by the knob.

        Parameters
        ----------
        cv_results : dict
            The ``cv_results_`` of :class:`~sklearn.model_selection.GridSearchCV`,
            :class:`~sklearn.model_selection.RandomizedSearchCV` or a skprune
            CV estimator: ``param_<name>`` entries and ``split{k}_test_score``
            (``split{k}_train_score`` are drawn when present).
        param : str, default=None
            The knob, as searched (``"prunedmlpclassifier__sparsity"``) or
            without its Pipeline step prefix (``"sparsity"``). If None, the one
            searched parameter named ``sparsity``, ``ccp_alpha`` or
            ``max_score_loss``, or the only searched parameter.
        best_index : int, default=None
            Row of the chosen candidate (the search's ``best_index_``); the
            first candidate of rank 1 if None.
        complexity_key : str, default=None
            Key of ``cv_results`` holding the model size of every candidate,
            drawn on a second axis.
        complexity_name : str, default=None
            Label of the second axis.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        score_name : str, default="Score"
            The y-axis label.
        **plot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : PruningCurveDisplay

        Examples
        --------
        A search over two parameters: the curve of ``ccp_alpha`` is drawn
        among the candidates with the best candidate's ``criterion``.

        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.model_selection import GridSearchCV
        >>> from skprune.model_selection import PruningCurveDisplay
        >>> from skprune.tree import PrunedTreeClassifier
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> search = GridSearchCV(
        ...     PrunedTreeClassifier(random_state=0),
        ...     {
        ...         "ccp_alpha": [0.0, 0.005, 0.01, 0.05],
        ...         "criterion": ["gini", "entropy"],
        ...     },
        ... ).fit(X, y)
        >>> display = PruningCurveDisplay.from_cv_results(search.cv_results_)
        >>> display.param_name, len(display.param_values)
        ('ccp_alpha', 4)
        >>> bool(display.chosen_value == search.best_params_["ccp_alpha"])
        True
        """
        if not isinstance(cv_results, dict):
            raise TypeError(
                "cv_results must be the dict cv_results_ of a fitted search, got "
                f"{type(cv_results).__name__}; from a fitted search, use "
                "from_cv_estimator(search) or from_cv_results(search.cv_results_)."
            )
        knob = resolve_knob(cv_results, param)
        best = best_row(cv_results, best_index)
        rows, values = curve_rows(cv_results, knob, best)
        test_scores = split_scores(cv_results, "test", rows)
        if test_scores is None:
            raise ValueError(
                "cv_results holds no split{k}_test_score entries (a search with "
                "several metrics names them split{k}_test_<metric>); pass the "
                "results of a search with one scoring."
            )
        complexity = cv_results.get(complexity_key)
        display = cls(
            param_values=values,
            test_scores=test_scores,
            train_scores=split_scores(cv_results, "train", rows),
            complexity=None if complexity is None else np.asarray(complexity)[rows],
            chosen_value=_value_at(cv_results[f"param_{knob}"], best),
            sem=sem_of(cv_results, rows, test_scores),
            param_name=knob.rsplit("__", 1)[-1],
            score_name=score_name,
            complexity_name=complexity_name,
        )
        return display.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        param_values=None,
        cv=None,
        scoring=None,
        selection="1se",
        n_jobs=None,
        ax=None,
        score_name=None,
        **plot_kw,
    ):
        """Cross-validate the pruning knob of ``estimator`` and plot the curve.

        Parameters
        ----------
        estimator : estimator
            A pruned estimator (such as
            :class:`~skprune.tree.PrunedTreeClassifier` or a scikit-learn
            decision tree, whose parameters are kept), an unfitted
            cross-validated one, or a :class:`~sklearn.pipeline.Pipeline`
            ending with one of them: its last step is replaced by the
            cross-validated estimator, so its other steps are fitted once on
            ``X`` (to fit them within every fold, run a
            :class:`~sklearn.model_selection.GridSearchCV` over the pipeline
            and pass it to :meth:`from_cv_estimator`). An unfitted
            :class:`~sklearn.model_selection.GridSearchCV` or
            :class:`~sklearn.model_selection.RandomizedSearchCV` is fitted as
            it is; ``param_values``, ``cv``, ``scoring`` and ``n_jobs`` must
            then be left at None.
        X : array-like of shape (n_samples, n_features)
            Input samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        param_values : int, array-like or None, default=None
            The values of the knob, passed to the cross-validated estimator
            (``ccp_alphas`` for trees).
        cv, scoring, selection, n_jobs
            Passed to the cross-validated estimator.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        score_name : str, default=None
            The y-axis label.
        **plot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : PruningCurveDisplay
        """
        _import_matplotlib(f"{cls.__name__}.from_estimator")
        # Before the cross-validation, which may take long.
        _check_xscale(plot_kw.get("xscale", "auto"))
        cv_params = dict(
            param_values=param_values, cv=cv, scoring=scoring, n_jobs=n_jobs
        )
        if isinstance(estimator, (GridSearchCV, RandomizedSearchCV)):
            given = sorted(k for k, value in cv_params.items() if value is not None)
            if given:
                raise ValueError(
                    f"{', '.join(given)} cannot be given with a "
                    f"{type(estimator).__name__}, which is fitted as it is; set "
                    "them on the search."
                )
            fitted = clone(estimator).fit(X, y)
        else:
            cv_params.update(selection=selection, return_train_score=True)
            cv_estimator = _with_cv_last_step(estimator, cv_params)
            try:
                fitted = cv_estimator.fit(X, y)
            except ValueError as exc:
                grid = getattr(_last_step(cv_estimator), "_grid_parameter", None)
                if (param_values is None or grid is None
                        or not str(exc).startswith(grid)):
                    raise
                raise ValueError(f"param_values, passed as {grid}: {exc}") from exc
        return cls.from_cv_estimator(fitted, ax=ax, score_name=score_name, **plot_kw)


def _with_cv_last_step(estimator, cv_params):
    """The CV estimator of ``estimator``, or ``estimator``'s pipeline ending with it."""
    if not isinstance(estimator, Pipeline):
        return make_cv_estimator(estimator, **cv_params)
    name, last = estimator.steps[-1]
    pipeline = clone(estimator)
    return pipeline.set_params(**{name: make_cv_estimator(last, **cv_params)})


def _value_at(column, row):
    """The number in row ``row`` of a ``param_`` column (a masked object array)."""
    return float(np.asarray(column, dtype=object)[row])


def _last_step(estimator):
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _score_name(cv_estimator):
    scoring = getattr(cv_estimator, "scoring", None)
    if isinstance(scoring, str):
        return scoring.replace("_", " ").capitalize()
    return "Accuracy" if is_classifier(cv_estimator) else "R2 score"


def _linthresh(x):
    positive = x[x > 0]
    return float(positive.min()) if positive.size else 1.0
