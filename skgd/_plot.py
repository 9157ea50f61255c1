"""LossCurveDisplay: the loss curve of a fit, after scikit-learn's Display API.

matplotlib is imported inside the plotting code only, so that ``import skgd`` works
without it.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted


class LossCurveDisplay:
    """Loss curve of a gradient-descent fit: the training objective after each epoch.

    Optionally with the learning rate and the validation score of each epoch, each on
    its own y axis at the right. Build it with :meth:`from_estimator`, or from the curves
    themselves, then call :meth:`plot`. All parameters are stored as attributes.

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

    Attributes
    ----------
    line_ : matplotlib Line2D
        The loss curve, against epochs 1 to n_epochs.
    learning_rate_line_ : matplotlib Line2D or None
        The learning rate, when plotted.
    validation_line_ : matplotlib Line2D or None
        The validation score, when plotted.
    ax_ : matplotlib Axes
        Axes of the loss curve.
    ax_learning_rate_ : matplotlib Axes or None
        Twin axes of the learning rate, when plotted.
    ax_validation_ : matplotlib Axes or None
        Twin axes of the validation score, when plotted.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    LossCurveDisplay.from_estimator : Plot the curves of a fitted estimator.

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

    def __init__(self, loss_curve, learning_rate_curve=None, validation_scores=None,
                 estimator_name=None):
        self.loss_curve = loss_curve
        self.learning_rate_curve = learning_rate_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, log_scale=False, show_learning_rate=True,
             show_validation=True, **line_kwargs):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot the loss curve on; None makes a new figure and axes.
        log_scale : bool, default=False
            Logarithmic y axis for the loss.
        show_learning_rate : bool, default=True
            Plot ``learning_rate_curve`` on a twin y axis, when there is one.
        show_validation : bool, default=True
            Plot ``validation_scores`` on a twin y axis, when there are some.
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
            _, ax = plt.subplots()
        epochs = np.arange(1, len(self.loss_curve) + 1)
        label = "training objective" if self.estimator_name is None else self.estimator_name
        (self.line_,) = ax.plot(epochs, self.loss_curve, **{"label": label, **line_kwargs})
        ax.set_xlabel("epoch")
        ax.set_ylabel("training objective")
        if log_scale:
            ax.set_yscale("log")

        twins = []
        self.ax_learning_rate_ = self.learning_rate_line_ = None
        if show_learning_rate and self.learning_rate_curve is not None:
            self.ax_learning_rate_, self.learning_rate_line_ = _twin_plot(
                ax, epochs, self.learning_rate_curve, "learning rate", "tab:gray", "--")
            twins.append(self.ax_learning_rate_)
        self.ax_validation_ = self.validation_line_ = None
        if show_validation and self.validation_scores is not None:
            self.ax_validation_, self.validation_line_ = _twin_plot(
                ax, epochs, self.validation_scores, "validation score", "tab:green", ":")
            if twins:
                # Two right-hand axes: move the second one out so their ticks don't overlap.
                self.ax_validation_.spines["right"].set_position(("axes", 1.15))
            twins.append(self.ax_validation_)

        # One legend for the lines of every axes, drawn on the topmost so nothing hides it.
        handles = [handle for axes in [ax, *twins]
                   for handle in axes.get_legend_handles_labels()[0]]
        (twins[-1] if twins else ax).legend(handles=handles)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, log_scale=False, show_learning_rate=True,
                       show_validation=True, name=None, **line_kwargs):
        """Plot the curves of a fitted :class:`~skgd.GDRegressor` or :class:`~skgd.GDClassifier`.

        Reads ``loss_curve_``, ``learning_rate_curve_`` and, when the estimator was fitted
        with ``early_stopping=True``, ``validation_scores_``.

        Parameters
        ----------
        estimator : GDRegressor or GDClassifier
            A fitted estimator.
        ax : matplotlib Axes, default=None
            Axes to plot on; None makes a new figure and axes.
        log_scale : bool, default=False
            Logarithmic y axis for the loss.
        show_learning_rate : bool, default=True
            Plot the learning rate on a twin y axis.
        show_validation : bool, default=True
            Plot the validation scores on a twin y axis, when the estimator has them.
        name : str, default=None
            Label of the loss curve; None uses the estimator's class name.
        **line_kwargs : dict
            Passed to matplotlib's ``plot`` for the loss curve.

        Returns
        -------
        display : LossCurveDisplay
            The display, plotted.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        display = cls(
            estimator.loss_curve_,
            learning_rate_curve=estimator.learning_rate_curve_,
            validation_scores=getattr(estimator, "validation_scores_", None),
            estimator_name=type(estimator).__name__ if name is None else name,
        )
        return display.plot(ax=ax, log_scale=log_scale,
                            show_learning_rate=show_learning_rate,
                            show_validation=show_validation, **line_kwargs)


def _twin_plot(ax, epochs, values, label, color, linestyle):
    """Plot ``values`` on a new y axis at the right of ``ax``, labelled in the line's colour."""
    twin = ax.twinx()
    (line,) = twin.plot(epochs, values, label=label, color=color, linestyle=linestyle)
    twin.set_ylabel(label, color=color)
    return twin, line
