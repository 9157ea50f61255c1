"""Displays of the loss curves of fits, after scikit-learn's Display API.

:class:`LossCurveDisplay` draws one fit (an estimator, a pipeline ending in one, or a
fitted search's best estimator); several calls on one ``ax`` overlay fits.
:class:`SearchLossCurveDisplay` draws one curve per candidate of a hyper-parameter search,
for instance a grid over ``learning_rate``, and marks the settings that diverged.

matplotlib is imported inside the plotting code only, so that ``import skgd`` works
without it.
"""

from __future__ import annotations

import numbers
import re
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from ._engine import DivergenceError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Labels that mark the twin axes a display made, so that the next display drawn on the
# same axes finds and reuses them instead of stacking a new twin per call.
_LEARNING_RATE_AXES = "skgd learning rate"
_VALIDATION_AXES = "skgd validation score"
# Marks the validation-objective lines, which share the loss curve's axes.
_VALIDATION_LOSS = "skgd validation objective"
# Line styles that tell the curves of one fit apart; its colour tells the fits apart.
_STYLES: dict[str, Any] = {"learning rate": "--", "validation score": ":",
                           "validation objective": "-."}
# The constant learning rate of a drawn loss line, named in its legend entry instead of
# drawn flat on an axis of its own.
_CONSTANT_RATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class LossCurveDisplay:
    """Loss curve of a gradient-descent fit: the training objective after each epoch.

    Optionally with the learning rate and the validation score of each epoch, each on
    its own y axis at the right, drawn dashed and dotted in the colour of the loss curve,
    and the validation objective, on the loss curve's axis (the same function of the
    weights on other rows), dash-dotted.
    Build it with :meth:`from_estimator`, or from the curves themselves, then call
    :meth:`plot`. All parameters are stored as attributes.

    Drawing several fits on one ``ax`` overlays them: each fit gets a colour and a legend
    entry (its ``name``), and all share one learning-rate axis and one validation axis.
    A figure the display makes itself uses matplotlib's constrained layout, so the right
    axes and their labels stay inside it when saved.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training objective after each epoch, as in ``loss_curve_``.
    learning_rate_curve : array-like of shape (n_epochs,), default=None
        Learning rate of each epoch, as in ``learning_rate_curve_``.
    validation_scores : array-like of shape (n_epochs,), default=None
        Score on the held-out split after each epoch, as in ``validation_scores_``.
    estimator_name : str, default=None
        Label of the loss curve in the legend; None labels it "training objective".
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        Objective on the held-out split after each epoch, as in
        ``validation_loss_curve_``.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The loss curve, against epochs 1 to n_epochs.
    learning_rate_line_ : matplotlib Line2D or None
        The learning rate, when plotted.
    validation_line_ : matplotlib Line2D or None
        The validation score, when plotted.
    validation_loss_line_ : matplotlib Line2D or None
        The validation objective, when plotted.
    ax_ : matplotlib Axes
        Axes of the loss curve.
    ax_learning_rate_ : matplotlib Axes or None
        Twin axes of the learning rate, when plotted (shared by the fits drawn on ``ax_``).
    ax_validation_ : matplotlib Axes or None
        Twin axes of the validation score, when plotted (shared likewise).
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LossCurveDisplay.from_estimator : Plot the curves of a fitted estimator.
    SearchLossCurveDisplay : One loss curve per candidate of a hyper-parameter search.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_diabetes
    >>> from skgd import GDRegressor, LossCurveDisplay
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = GDRegressor(decay="cosine", max_iter=50, tol=None).fit(X, y)
    >>> display = LossCurveDisplay.from_estimator(model, log_scale=True)
    >>> display.line_.get_xdata()[[0, -1]]
    array([ 1, 50])
    >>> display.ax_.get_yscale()
    'log'
    >>> plt.close(display.figure_)
    """

    def __init__(self, loss_curve: ArrayLike, learning_rate_curve: ArrayLike | None = None,
                 validation_scores: ArrayLike | None = None,
                 estimator_name: str | None = None, *,
                 validation_loss_curve: ArrayLike | None = None) -> None:
        self.loss_curve = loss_curve
        self.learning_rate_curve = learning_rate_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name
        self.validation_loss_curve = validation_loss_curve

    def plot(self, ax: Axes | None = None, *, name: str | None = None,
             log_scale: bool = False, show_learning_rate: bool = True,
             show_validation: bool = True, **line_kwargs: Any) -> LossCurveDisplay:
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot the loss curve on; None makes a new figure (constrained layout)
            and axes. Axes that already show a fit keep it: this one is overlaid, on
            the same twin axes.
        name : str, default=None
            Label of the loss curve in the legend; None uses ``estimator_name``.
        log_scale : bool, default=False
            Logarithmic y axis for the loss.
        show_learning_rate : bool, default=True
            Plot ``learning_rate_curve`` on a twin y axis, when there is one.
        show_validation : bool, default=True
            Plot ``validation_scores`` on a twin y axis and ``validation_loss_curve`` on
            the loss curve's, when there are some.
        **line_kwargs : dict
            Passed to matplotlib's ``plot`` for the loss curve.

        Returns
        -------
        display : LossCurveDisplay
            This display, holding the plotted artists in ``line_``, ``ax_`` and the
            other attributes.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        name = self.estimator_name if name is None else name
        loss_curve = np.asarray(self.loss_curve, dtype=float)
        epochs = np.arange(1, len(loss_curve) + 1)
        label = "training objective" if name is None else name
        rates = (None if self.learning_rate_curve is None
                 else np.asarray(self.learning_rate_curve, dtype=float))
        constant = rates is not None and len(rates) > 0 and bool(np.all(rates == rates[0]))
        (self.line_,) = ax.plot(epochs, loss_curve, **{"label": label, **line_kwargs})
        if show_learning_rate and rates is not None and constant:
            _CONSTANT_RATES[self.line_] = float(rates[0])
        color = self.line_.get_color()
        ax.set_xlabel("epoch")
        ax.set_ylabel("training objective")
        if log_scale:
            ax.set_yscale("log")

        self.ax_learning_rate_ = self.learning_rate_line_ = None
        # A constant rate is a number, in the legend: a flat line on an axis of its own
        # would only take room.
        if show_learning_rate and rates is not None and not constant:
            self.ax_learning_rate_ = _twin(ax, _LEARNING_RATE_AXES, "learning rate")
            (self.learning_rate_line_,) = self.ax_learning_rate_.plot(
                epochs, rates, color=color,
                linestyle=_STYLES["learning rate"], label=f"{label}: learning rate")
        self.ax_validation_ = self.validation_line_ = None
        if show_validation and self.validation_scores is not None:
            self.ax_validation_ = _twin(ax, _VALIDATION_AXES, "validation score")
            # Its own epochs: partial_fit after an early-stopped fit extends the
            # training curve alone (see the user guide's training page).
            (self.validation_line_,) = self.ax_validation_.plot(
                epochs[:np.size(self.validation_scores)], self.validation_scores, color=color,
                linestyle=_STYLES["validation score"], label=f"{label}: validation score")
        self.validation_loss_line_ = None
        if show_validation and self.validation_loss_curve is not None:
            (self.validation_loss_line_,) = ax.plot(
                epochs[:np.size(self.validation_loss_curve)], self.validation_loss_curve,
                color=color,
                linestyle=_STYLES["validation objective"],
                label=f"{label}: validation objective", gid=_VALIDATION_LOSS)

        twins = _twins(ax)
        if len(twins) == 2:
            # Two right-hand axes: move the validation one out, past the learning-rate
            # axis' ticks and label (the label's width is the tick labels').
            renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
            box = twins[0].get_tightbbox(renderer)
            inner = (0.0 if box is None else box.x1) - ax.get_window_extent(renderer).x1
            twins[1].spines["right"].set_position(
                ("axes", 1.0 + 1.1 * inner / ax.get_window_extent(renderer).width))
        _legend(ax, twins)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator: BaseEstimator, *, ax: Axes | None = None,
                       name: str | None = None, log_scale: bool = False,
                       show_learning_rate: bool = True, show_validation: bool = True,
                       **line_kwargs: Any) -> LossCurveDisplay:
        """Plot the curves of a fitted :class:`~skgd.GDRegressor` or :class:`~skgd.GDClassifier`.

        Reads ``loss_curve_``, ``learning_rate_curve_`` and, when the estimator was fitted
        with ``early_stopping=True``, ``validation_scores_`` and
        ``validation_loss_curve_``. Call it again with the same
        ``ax`` (and another ``name``) to overlay other fits.

        Parameters
        ----------
        estimator : estimator
            A fitted :class:`~skgd.GDRegressor` or :class:`~skgd.GDClassifier`, a fitted
            :class:`~sklearn.pipeline.Pipeline` whose final step is one, or a fitted
            search (such as :class:`~sklearn.model_selection.GridSearchCV`, with
            ``refit=True``), whose ``best_estimator_`` is drawn.
        ax : matplotlib Axes, default=None
            Axes to plot on; None makes a new figure and axes.
        name : str, default=None
            Label of the loss curve in the legend; None uses the class name of the
            gradient-descent estimator.
        log_scale : bool, default=False
            Logarithmic y axis for the loss.
        show_learning_rate : bool, default=True
            Plot the learning rate on a twin y axis.
        show_validation : bool, default=True
            Plot the validation scores on a twin y axis and the validation objective
            beside the loss, when the estimator has them.
        **line_kwargs : dict
            Passed to matplotlib's ``plot`` for the loss curve.

        Returns
        -------
        display : LossCurveDisplay
            The display, plotted.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        model = _descent_estimator(estimator)
        display = cls(
            model.loss_curve_,
            # Others' loss_curve_ (MLPClassifier's, SGD-free) may come without rates.
            learning_rate_curve=getattr(model, "learning_rate_curve_", None),
            validation_scores=getattr(model, "validation_scores_", None),
            estimator_name=type(model).__name__,
            validation_loss_curve=getattr(model, "validation_loss_curve_", None),
        )
        return display.plot(ax=ax, name=name, log_scale=log_scale,
                            show_learning_rate=show_learning_rate,
                            show_validation=show_validation, **line_kwargs)


class SearchLossCurveDisplay:
    """Loss curves of the candidates of a hyper-parameter search, one curve per setting.

    The figure of a learning-rate search: how fast each rate brings the training
    objective down, and which rates diverge. Build it with :meth:`from_search`, which
    refits every candidate of a fitted search on the data, or from the curves
    themselves, then call :meth:`plot`. All parameters are stored as attributes.

    Parameters
    ----------
    loss_curves : list of array-like of shape (n_epochs,) or None
        Training objective after each epoch, one curve per candidate; None marks a
        candidate whose fit diverged (raised :class:`~skgd.DivergenceError`) and left no
        curve.
    labels : list of str
        Legend label of each candidate, such as ``"learning_rate=0.1"``.
    scores : array-like of shape (n_candidates,), default=None
        Cross-validated score of each candidate (NaN where its fits failed), shown in
        the legend.
    diverged : array-like of bool of shape (n_candidates,), default=None
        Which candidates diverged; their curves (the epochs before the divergence) end in
        a red cross. None: those whose curve is None.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        One line per candidate. A diverged candidate's line has no data: it is its
        legend entry, a red cross.
    diverged_ : ndarray of bool of shape (n_candidates,)
        Whether each candidate diverged.
    ax_ : matplotlib Axes
        Axes of the curves.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LossCurveDisplay : The curves of one fit.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.preprocessing import scale
    >>> from skgd import GDRegressor, SearchLossCurveDisplay
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = scale(X)
    >>> search = GridSearchCV(GDRegressor(solver="gd", max_iter=30, tol=None),
    ...                       {"learning_rate": [0.01, 0.1]}, error_score=np.nan)
    >>> display = SearchLossCurveDisplay.from_search(search.fit(X, y), X, y)
    >>> display.labels
    ['learning_rate=0.01', 'learning_rate=0.1']
    >>> display.diverged_
    array([False, False])
    >>> plt.close(display.figure_)
    """

    def __init__(self, loss_curves: Sequence[ArrayLike | None], labels: Sequence[str],
                 scores: ArrayLike | None = None,
                 diverged: ArrayLike | None = None) -> None:
        self.loss_curves = loss_curves
        self.labels = labels
        self.scores = scores
        self.diverged = diverged

    def plot(self, ax: Axes | None = None, *, log_scale: bool = False,
             cmap: str = "viridis", **line_kwargs: Any) -> SearchLossCurveDisplay:
        """Plot one loss curve per candidate.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; None makes a new figure (constrained layout) and axes.
        log_scale : bool, default=False
            Logarithmic y axis for the loss.
        cmap : str or matplotlib Colormap, default="viridis"
            Colours of the candidates, in their order (for a grid over one parameter,
            from its smallest value to its largest).
        **line_kwargs : dict
            Passed to matplotlib's ``plot`` for every curve.

        Returns
        -------
        display : SearchLossCurveDisplay
            This display, holding the plotted artists.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
        n_candidates = len(self.loss_curves)
        colors = plt.get_cmap(cmap)(np.linspace(0.0, 0.85, n_candidates))
        scores = (np.full(n_candidates, np.nan) if self.scores is None
                  else np.asarray(self.scores, dtype=float))
        self.diverged_ = (np.array([curve is None for curve in self.loss_curves])
                          if self.diverged is None else np.asarray(self.diverged, dtype=bool))
        self.lines_ = []
        for curve, label, score, color, diverged in zip(
                self.loss_curves, self.labels, scores, colors, self.diverged_, strict=True):
            if diverged:
                # The epochs before the divergence, up to the last finite objective, and a
                # cross at its end (the cross alone where there is no curve).
                curve = np.asarray([] if curve is None else curve, dtype=float)
                epochs = np.arange(1, len(curve) + 1)[np.isfinite(curve)]
                (line,) = ax.plot(epochs, curve[np.isfinite(curve)],
                                  **{"color": "tab:red", "marker": "x", "markersize": 8,
                                     "markeredgewidth": 2,
                                     "markevery": [len(epochs) - 1] if len(epochs) else None,
                                     "linestyle": "-" if len(epochs) > 1 else "none",
                                     "label": f"{label}: diverged", **line_kwargs})
            else:
                if self.scores is not None:
                    label = f"{label} (CV score {score:.3g})"
                curve = np.asarray(curve, dtype=float)
                (line,) = ax.plot(np.arange(1, len(curve) + 1), curve,
                                  **{"color": color, "label": label, **line_kwargs})
            self.lines_.append(line)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training objective")
        if log_scale:
            ax.set_yscale("log")
        # Beside the axes, where it hides no curve; constrained layout makes room for it.
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_search(cls, search: BaseEstimator, X: ArrayLike, y: ArrayLike, *,
                    ax: Axes | None = None, log_scale: bool = False, cmap: str = "viridis",
                    **line_kwargs: Any) -> SearchLossCurveDisplay:
        """Refit every candidate of a fitted search on ``X, y`` and plot its loss curve.

        A search keeps only its best estimator, so each candidate, the search's
        estimator with that candidate's parameters, is fitted once more, on all of
        ``X, y``. A candidate whose fit raises :class:`~skgd.DivergenceError` is marked
        diverged. The legend names each candidate by the parameters that vary across
        the search (without their pipeline prefix) and gives its mean cross-validated
        score, NaN where some folds failed (``error_score=np.nan`` records a
        diverged fold so).

        Parameters
        ----------
        search : GridSearchCV or RandomizedSearchCV
            A fitted search whose estimator is a :class:`~skgd.GDRegressor`, a
            :class:`~skgd.GDClassifier`, or a :class:`~sklearn.pipeline.Pipeline`
            ending in one.
        X : array-like of shape (n_samples, n_features)
            Data to refit the candidates on, usually the data the search was fitted on.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        ax : matplotlib Axes, default=None
            Axes to plot on; None makes a new figure and axes.
        log_scale : bool, default=False
            Logarithmic y axis for the loss.
        cmap : str or matplotlib Colormap, default="viridis"
            Colours of the candidates, in the search's order.
        **line_kwargs : dict
            Passed to matplotlib's ``plot`` for every curve.

        Returns
        -------
        display : SearchLossCurveDisplay
            The display, plotted.
        """
        check_matplotlib_support(f"{cls.__name__}.from_search")
        check_is_fitted(search, "cv_results_")
        results = search.cv_results_
        candidates = results["params"]
        # GDClassifierCV and GDRegressorCV have no estimator parameter: the estimator
        # each of their fits is a copy of.
        estimator = (search.estimator if hasattr(search, "estimator")
                     else search._estimator())
        # Folds whose fit failed (error_score=np.nan scores them NaN), or diverged.
        splits = [results[key] for key in results
                  if re.fullmatch(r"split\d+_test_score", key)]
        failed = np.asarray(results["n_diverged"] if "n_diverged" in results
                            else np.isnan(np.array(splits, dtype=float)).sum(axis=0)
                            if splits else np.zeros(len(candidates), dtype=int))
        loss_curves: list[ArrayLike | None] = []
        diverged: list[bool] = []
        labels = _candidate_labels(candidates)
        for i, params in enumerate(candidates):
            model = clone(estimator).set_params(**params)
            try:
                model.fit(X, y)
            except DivergenceError:
                loss_curves.append(None)
                diverged.append(True)
            else:
                loss_curves.append(_descent_estimator(model).loss_curve_)
                # Diverged on some folds, not on all the data: drawn, but marked as
                # from_cv marks it.
                diverged.append(bool(failed[i]))
                if diverged[-1]:
                    labels[i] += f" (on {int(failed[i])} of {len(splits)} folds)"
        score_key = "mean_test_score" if "mean_test_score" in results else (
            f"mean_test_{search.refit}" if isinstance(search.refit, str) else None)
        display = cls(loss_curves, labels,
                      scores=None if score_key is None else results[score_key],
                      diverged=diverged)
        return display.plot(ax=ax, log_scale=log_scale, cmap=cmap, **line_kwargs)


    @classmethod
    def from_cv(cls, search: BaseEstimator, *, fold: int = 0, ax: Axes | None = None,
                log_scale: bool = False, cmap: str = "viridis",
                **line_kwargs: Any) -> SearchLossCurveDisplay:
        """Plot the loss curve of every candidate of a fitted
        :class:`~skgd.GDClassifierCV` or :class:`~skgd.GDRegressorCV` on one fold.

        The search keeps every fit's curve (``loss_curves_``), so nothing is refitted. A
        candidate that diverged on that fold is drawn up to its divergence and marked.

        Parameters
        ----------
        search : GDClassifierCV or GDRegressorCV
            A fitted search.
        fold : int, default=0
            The fold whose fits are drawn.
        ax, log_scale, cmap, **line_kwargs :
            As in :meth:`from_search`.

        Returns
        -------
        display : SearchLossCurveDisplay
            The display, plotted.
        """
        check_matplotlib_support(f"{cls.__name__}.from_cv")
        if hasattr(search, "cv_results_") and not hasattr(search, "loss_curves_"):
            raise TypeError(
                f"from_cv draws the curves that GDClassifierCV and GDRegressorCV keep; "
                f"{type(search).__name__} keeps none. Use SearchLossCurveDisplay."
                "from_search(search, X, y), which refits each candidate.")
        check_is_fitted(search, "loss_curves_")
        if isinstance(fold, bool) or not isinstance(fold, numbers.Integral):
            raise TypeError(f"fold must be an int, the index of one of the search's "
                            f"{search.n_splits_} folds; got {fold!r}.")
        if not 0 <= fold < search.n_splits_:
            raise ValueError(f"fold={fold} is not one of the search's {search.n_splits_} "
                             f"folds (0 to {search.n_splits_ - 1}).")
        candidates = search.cv_results_["params"]
        display = cls([curves[fold] for curves in search.loss_curves_],
                      _candidate_labels(candidates),
                      scores=search.cv_results_["mean_test_score"],
                      diverged=search.diverged_[:, fold])
        return display.plot(ax=ax, log_scale=log_scale, cmap=cmap, **line_kwargs)


def _descent_estimator(estimator: BaseEstimator) -> BaseEstimator:
    """The fitted gradient-descent estimator that ``estimator`` is or holds: a pipeline's
    final step, a fitted search's ``best_estimator_``, or the estimator itself."""
    if hasattr(estimator, "cv_results_") or hasattr(estimator, "best_estimator_"):
        check_is_fitted(estimator, "cv_results_")
        if not hasattr(estimator, "best_estimator_"):
            raise ValueError(
                f"{type(estimator).__name__} was fitted with refit=False and keeps no "
                "estimator: fit it with refit=True, or draw every candidate with "
                "SearchLossCurveDisplay.from_search(search, X, y).")
        return _descent_estimator(estimator.best_estimator_)
    if isinstance(estimator, Pipeline):
        return _descent_estimator(estimator[-1])
    check_is_fitted(estimator)
    if not hasattr(estimator, "loss_curve_"):
        raise TypeError(
            f"{type(estimator).__name__} has no loss_curve_: pass a fitted GDRegressor or "
            "GDClassifier, a Pipeline ending in one, or a search over one.")
    return estimator


def _candidate_labels(candidates: Sequence[dict]) -> list[str]:
    """``name=value`` for the parameters that differ across candidates, without the
    ``step__`` prefix of pipeline parameters."""
    keys = [key for key in candidates[0]
            if len(candidates) == 1 or len({repr(c[key]) for c in candidates}) > 1]
    return [", ".join(f"{key.rsplit('__', 1)[-1]}={_format(params[key])}" for key in keys)
            for params in candidates]


def _format(value: object) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool | numbers.Integral):
        return f"{value:.3g}"
    return str(value)


def _twin(ax: Axes, role: str, ylabel: str) -> Axes:
    """The twin y axis of ``ax`` labelled ``role``, made on the first call."""
    for twin in _twins(ax):
        if twin.get_label() == role:
            return twin
    twin = ax.twinx()
    twin.set_label(role)
    twin.set_ylabel(ylabel)
    return twin


def _twins(ax: Axes) -> list[Axes]:
    """The display's twin axes of ``ax``: learning rate first, then validation score."""
    twins = {other.get_label(): other for other in ax.figure.axes
             if other is not ax and ax.get_shared_x_axes().joined(ax, other)}
    return [twins[role] for role in (_LEARNING_RATE_AXES, _VALIDATION_AXES) if role in twins]


def _legend(ax: Axes, twins: list[Axes]) -> None:
    """One legend for every axes: a fit per loss curve (its colour), then the style of
    each twin's curves. Drawn on the topmost axes, so no curve hides it."""
    import matplotlib.lines

    entries = [(handle, label) for handle, label in zip(*ax.get_legend_handles_labels(),
                                                        strict=True)
               if handle.get_gid() != _VALIDATION_LOSS]
    handles = [handle for handle, _ in entries]
    labels = [label if handle not in _CONSTANT_RATES else
              f"{label} (learning rate {_CONSTANT_RATES[handle]:.3g})"
              for handle, label in entries]
    validation_losses = [line for line in ax.get_lines() if line.get_gid() == _VALIDATION_LOSS]
    if validation_losses:
        color = validation_losses[0].get_color() if len(validation_losses) == 1 else "0.35"
        handles.append(matplotlib.lines.Line2D(
            [], [], color=color, linestyle=_STYLES["validation objective"]))
        labels.append("validation objective")
    for twin in twins:
        lines = twin.get_lines()
        kind = twin.get_ylabel()
        # One fit: the entry is in its colour; several: in grey, standing for them all.
        color = lines[0].get_color() if len(lines) == 1 else "0.35"
        handles.append(matplotlib.lines.Line2D([], [], color=color, linestyle=_STYLES[kind]))
        labels.append(kind)
    for axes in [ax, *twins]:
        legend = axes.get_legend()
        if legend is not None:
            legend.remove()
    # Above the axes, where it covers no curve of any of them, however many fits.
    (twins[-1] if twins else ax).legend(
        handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.02, 1.0, 0.1),
        mode="expand", ncols=2, fontsize="small", borderaxespad=0.0)
