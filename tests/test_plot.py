"""LossCurveDisplay draws the fitted curves, and ``import skgd`` does not need matplotlib."""

import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import scale

from skgd import GDClassifier, GDRegressor, LossCurveDisplay

# No window: figures are only drawn in memory. pyplot picks its backend at the first
# figure, so this still applies after the import above.
matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def regressor():
    X, y = load_diabetes(return_X_y=True)
    return GDRegressor(decay="cosine", max_iter=30, tol=None).fit(X, y)


def test_import_skgd_does_not_import_matplotlib():
    subprocess.run([sys.executable, "-c",
                    "import skgd, sys; assert 'matplotlib' not in sys.modules"], check=True)


def test_loss_line_is_the_loss_curve_against_epochs_from_one(regressor):
    display = LossCurveDisplay.from_estimator(regressor)
    assert_array_equal(display.line_.get_xdata(), np.arange(1, regressor.n_iter_ + 1))
    assert_array_equal(display.line_.get_ydata(), regressor.loss_curve_)
    assert display.ax_.get_yscale() == "linear"
    assert display.figure_ is display.ax_.figure
    assert display.line_.get_label() == "GDRegressor"


def test_log_scale_sets_the_loss_axis_to_log(regressor):
    display = LossCurveDisplay.from_estimator(regressor, log_scale=True)
    assert display.ax_.get_yscale() == "log"


def test_learning_rate_on_a_twin_axis(regressor):
    display = LossCurveDisplay.from_estimator(regressor)
    assert display.ax_learning_rate_ is not None
    assert display.ax_learning_rate_.get_shared_x_axes().joined(display.ax_,
                                                               display.ax_learning_rate_)
    assert_array_equal(display.learning_rate_line_.get_ydata(),
                       regressor.learning_rate_curve_)
    assert display.ax_learning_rate_.get_ylabel() == "learning rate"
    # No early stopping: no validation scores to draw.
    assert display.ax_validation_ is None
    assert display.validation_line_ is None


def test_learning_rate_can_be_left_out(regressor):
    display = LossCurveDisplay.from_estimator(regressor, show_learning_rate=False)
    assert display.ax_learning_rate_ is None
    assert display.learning_rate_line_ is None
    assert display.figure_.axes == [display.ax_]


def test_validation_scores_on_their_own_axis_with_early_stopping():
    X, y = load_breast_cancer(return_X_y=True)
    model = GDClassifier(early_stopping=True, max_iter=20, tol=None,
                         random_state=0).fit(scale(X), y)
    display = LossCurveDisplay.from_estimator(model)
    epochs = np.arange(1, model.n_iter_ + 1)
    assert_array_equal(display.validation_line_.get_xdata(), epochs)
    assert_array_equal(display.validation_line_.get_ydata(), model.validation_scores_)
    assert display.ax_validation_.get_ylabel() == "validation score"
    assert len({display.ax_, display.ax_learning_rate_, display.ax_validation_}) == 3
    # One legend names all three lines.
    legend = display.ax_validation_.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "GDClassifier", "learning rate", "validation score"]

    hidden = LossCurveDisplay.from_estimator(model, show_validation=False)
    assert hidden.ax_validation_ is None


def test_from_curves_without_optional_curves():
    display = LossCurveDisplay([3.0, 2.0, 1.5]).plot()
    assert_array_equal(display.line_.get_xdata(), [1, 2, 3])
    assert display.ax_learning_rate_ is None
    assert display.ax_validation_ is None
    assert display.line_.get_label() == "training objective"


def test_ax_is_reused_and_line_kwargs_reach_the_loss_line(regressor):
    _, ax = plt.subplots()
    first = LossCurveDisplay.from_estimator(regressor, ax=ax, show_learning_rate=False,
                                            name="first")
    second = LossCurveDisplay.from_estimator(regressor, ax=ax, show_learning_rate=False,
                                             name="second", color="red", linestyle="--")
    assert first.ax_ is second.ax_ is ax
    assert len(ax.get_lines()) == 2
    assert second.line_.get_color() == "red"
    assert second.line_.get_linestyle() == "--"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["first", "second"]


def test_unfitted_estimator_raises_not_fitted_error():
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(GDRegressor())
