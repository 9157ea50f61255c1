"""LossCurveDisplay and SearchLossCurveDisplay draw the fitted curves, and ``import skgd``
does not need matplotlib."""

import io
import subprocess
import sys
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, scale

from skgd import (
    GDClassifier,
    GDClassifierCV,
    GDRegressor,
    LossCurveDisplay,
    SearchLossCurveDisplay,
)

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
    model = GDClassifier(early_stopping=True, max_iter=20, tol=None, decay="inverse",
                         decay_rate=0.1, random_state=0).fit(scale(X), y)
    display = LossCurveDisplay.from_estimator(model)
    epochs = np.arange(1, model.n_iter_ + 1)
    assert_array_equal(display.validation_line_.get_xdata(), epochs)
    assert_array_equal(display.validation_line_.get_ydata(), model.validation_scores_)
    assert display.ax_validation_.get_ylabel() == "validation score"
    assert len({display.ax_, display.ax_learning_rate_, display.ax_validation_}) == 3
    # The validation objective is drawn beside the training objective, on its axes.
    assert display.validation_loss_line_.axes is display.ax_
    assert_array_equal(display.validation_loss_line_.get_xdata(), epochs)
    assert_array_equal(display.validation_loss_line_.get_ydata(),
                       model.validation_loss_curve_)
    # One legend names all four lines.
    legend = display.ax_validation_.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "GDClassifier", "validation objective", "learning rate", "validation score"]

    # The learning rate's label and the validation axis' tick labels do not overlap.
    figure = display.figure_
    figure.savefig(io.BytesIO(), format="png")
    renderer = figure.canvas.get_renderer()
    label = display.ax_learning_rate_.yaxis.label.get_window_extent(renderer)
    ticks = [tick.get_window_extent(renderer)
             for tick in display.ax_validation_.get_yticklabels() if tick.get_text()]
    assert ticks and all(box.x0 >= label.x1 for box in ticks)

    hidden = LossCurveDisplay.from_estimator(model, show_validation=False)
    assert hidden.ax_validation_ is None
    assert hidden.validation_loss_line_ is None


def test_a_constant_learning_rate_is_named_in_the_legend_not_drawn(classification):
    X, y = scale(classification[0]), classification[1]
    model = GDClassifier(solver="gd", preconditioner=None, learning_rate=0.1, max_iter=10,
                         tol=None).fit(X, y)
    display = LossCurveDisplay.from_estimator(model)
    assert display.ax_learning_rate_ is None and display.learning_rate_line_ is None
    assert display.figure_.axes == [display.ax_]
    assert display.line_.get_label() == "GDClassifier"
    assert [text.get_text() for text in display.ax_.get_legend().get_texts()] == [
        "GDClassifier (learning rate 0.1)"]


def test_mlp_loss_curve_is_drawn_alone(classification):
    from sklearn.neural_network import MLPClassifier

    X, y = scale(classification[0]), classification[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    display = LossCurveDisplay.from_estimator(model)
    assert_array_equal(display.line_.get_ydata(), model.loss_curve_)
    assert display.ax_learning_rate_ is None and display.ax_validation_ is None


def test_from_curves_without_optional_curves():
    display = LossCurveDisplay([3.0, 2.0, 1.5]).plot()
    assert_array_equal(display.line_.get_xdata(), [1, 2, 3])
    assert display.ax_learning_rate_ is None
    assert display.ax_validation_ is None
    assert display.validation_loss_line_ is None
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


@pytest.fixture(scope="module")
def classification():
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


def test_pipeline_is_drawn_through_its_final_step(classification):
    X, y = classification
    pipe = make_pipeline(StandardScaler(), GDClassifier(max_iter=20, tol=None)).fit(X, y)
    display = LossCurveDisplay.from_estimator(pipe)
    assert_array_equal(display.line_.get_ydata(), pipe[-1].loss_curve_)
    assert display.line_.get_label() == "GDClassifier"


def test_fitted_search_draws_its_best_estimator(classification):
    X, y = classification
    pipe = make_pipeline(StandardScaler(), GDClassifier(max_iter=10, tol=None))
    search = GridSearchCV(pipe, {"gdclassifier__alpha": [0.0, 0.1]}, cv=2).fit(X, y)
    display = LossCurveDisplay.from_estimator(search, name="best")
    assert_array_equal(display.line_.get_ydata(), search.best_estimator_[-1].loss_curve_)
    assert display.line_.get_label() == "best"


def test_search_without_refit_keeps_no_estimator_to_draw(classification):
    X, y = classification
    search = GridSearchCV(GDClassifier(max_iter=5, tol=None), {"alpha": [0.0, 0.1]}, cv=2,
                          refit=False).fit(scale(X), y)
    with pytest.raises(ValueError, match="refit=False.*SearchLossCurveDisplay"):
        LossCurveDisplay.from_estimator(search)


def test_an_estimator_without_loss_curve_raises_type_error(classification):
    X, y = classification
    with pytest.raises(TypeError, match="LogisticRegression has no loss_curve_"):
        LossCurveDisplay.from_estimator(LogisticRegression().fit(scale(X), y))


def test_overlaid_fits_share_one_twin_axis_per_curve_kind(classification):
    X, y = scale(classification[0]), classification[1]
    _, ax = plt.subplots()
    displays = [
        LossCurveDisplay.from_estimator(
            GDClassifier(solver="gd", learning_rate=rate, early_stopping=True, max_iter=10,
                         tol=None, decay="inverse", decay_rate=0.1,
                         random_state=0).fit(X, y), ax=ax, name=f"rate {rate}")
        for rate in (0.01, 0.1, 1.0, 0.5)]
    # The loss axes, one learning-rate axes and one validation axes, whatever the count.
    assert len(ax.figure.axes) == 3
    assert len({display.ax_learning_rate_ for display in displays}) == 1
    assert len({display.ax_validation_ for display in displays}) == 1
    assert len(displays[0].ax_learning_rate_.get_lines()) == 4
    # Each fit's curves are drawn in its colour.
    for display in displays:
        assert display.learning_rate_line_.get_color() == display.line_.get_color()
        assert display.validation_line_.get_color() == display.line_.get_color()
    assert len({display.line_.get_color() for display in displays}) == 4
    # One legend in the figure: a fit per entry, then the style of the twin curves.
    legends = [axes.get_legend() for axes in ax.figure.axes if axes.get_legend()]
    assert len(legends) == 1
    assert [text.get_text() for text in legends[0].get_texts()] == [
        "rate 0.01", "rate 0.1", "rate 1.0", "rate 0.5", "validation objective",
        "learning rate", "validation score"]
    # Above the axes: it covers none of the curves.
    ax.figure.savefig(io.BytesIO(), format="png")
    renderer = ax.figure.canvas.get_renderer()
    assert legends[0].get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1


def test_name_in_plot_overrides_the_estimator_name():
    display = LossCurveDisplay([3.0, 2.0], estimator_name="model").plot(name="other")
    assert display.line_.get_label() == "other"


@pytest.mark.parametrize("early_stopping", [False, True])
def test_own_figure_holds_every_axis_and_label_when_saved(classification, early_stopping):
    X, y = scale(classification[0]), classification[1]
    model = GDClassifier(early_stopping=early_stopping, max_iter=10, tol=None,
                         decay="inverse", decay_rate=0.1, random_state=0).fit(X, y)
    display = LossCurveDisplay.from_estimator(model)
    figure = display.figure_
    figure.savefig(io.BytesIO(), format="png")
    renderer = figure.canvas.get_renderer()
    assert len(figure.axes) == (3 if early_stopping else 2)
    for axes in figure.axes:
        box = axes.get_tightbbox(renderer)
        assert box.x0 >= 0 and box.y0 >= 0
        assert box.x1 <= figure.bbox.width and box.y1 <= figure.bbox.height


@pytest.fixture(scope="module")
def learning_rate_search():
    X, y = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), GDRegressor(solver="gd", max_iter=20, tol=None))
    search = GridSearchCV(pipe, {"gdregressor__learning_rate": [0.01, 0.1, 100.0]}, cv=3,
                          error_score=np.nan)
    with warnings.catch_warnings():
        # The diverging rate's folds fail on purpose; their scores are NaN.
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return search, X, y


def test_search_display_draws_one_refitted_curve_per_candidate(learning_rate_search):
    search, X, y = learning_rate_search
    display = SearchLossCurveDisplay.from_search(search, X, y, log_scale=True)
    assert display.labels == ["learning_rate=0.01", "learning_rate=0.1", "learning_rate=100"]
    assert_array_equal(display.diverged_, [False, False, True])
    for line, rate in zip(display.lines_[:2], [0.01, 0.1], strict=True):
        refit = clone(search.estimator).set_params(gdregressor__learning_rate=rate).fit(X, y)
        assert_array_equal(line.get_ydata(), refit[-1].loss_curve_)
        assert_array_equal(line.get_xdata(), np.arange(1, 21))
    assert display.ax_.get_yscale() == "log"
    # The diverged rate is a legend entry (a cross), not a curve.
    assert len(display.lines_[2].get_xdata()) == 0
    assert display.lines_[2].get_marker() == "x"
    scores = search.cv_results_["mean_test_score"]
    assert [text.get_text() for text in display.ax_.get_legend().get_texts()] == [
        f"learning_rate=0.01 (CV score {scores[0]:.3g})",
        f"learning_rate=0.1 (CV score {scores[1]:.3g})",
        "learning_rate=100: diverged"]


def test_search_display_names_only_the_parameters_that_vary(classification):
    X, y = classification
    pipe = make_pipeline(StandardScaler(), GDClassifier(max_iter=5, tol=None))
    grid = {"gdclassifier__learning_rate": [0.1, "auto"], "gdclassifier__alpha": [0.01]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    display = SearchLossCurveDisplay.from_search(search, X, y)
    assert display.labels == ["learning_rate=0.1", "learning_rate=auto"]
    assert not display.diverged_.any()


def test_search_display_needs_a_fitted_search(classification):
    X, y = classification
    with pytest.raises(NotFittedError):
        SearchLossCurveDisplay.from_search(GridSearchCV(GDClassifier(), {"alpha": [0.1]}),
                                           X, y)


# -- issue 21: the displays of searches ---------------------------------------------------

_EDGE = {"alpha": 0.0, "solver": "gd", "preconditioner": None, "max_iter": 50, "tol": None}


@pytest.fixture(scope="module")
def edge_searches():
    """learning_rate=0.5 diverges on 2 of 3 folds of diabetes, not on all of it."""
    from skgd import GDRegressorCV

    X, y = load_diabetes(return_X_y=True)
    X = scale(X)
    params = {key: value for key, value in _EDGE.items() if key != "alpha"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = GDRegressorCV(learning_rates=[0.1, 0.5], alphas=[0.0], cv=3, **params).fit(X, y)
        grid = GridSearchCV(GDRegressor(**_EDGE), {"learning_rate": [0.1, 0.5]}, cv=3,
                            error_score=np.nan).fit(X, y)
    return cv, grid, X, y


@pytest.mark.parametrize("kind", ["GDRegressorCV", "GridSearchCV"])
def test_from_search_marks_a_setting_that_diverged_on_some_folds(edge_searches, kind):
    cv, grid, X, y = edge_searches
    search = cv if kind == "GDRegressorCV" else grid
    assert np.isnan(search.cv_results_["split0_test_score"][1]) or np.isnan(
        search.cv_results_["split1_test_score"][1])
    display = SearchLossCurveDisplay.from_search(search, X, y)
    assert_array_equal(display.diverged_, [False, True])
    # Refitted on all the rows it converges: drawn, in red, marked, with its count.
    assert len(display.lines_[1].get_xdata()) == 50
    assert display.lines_[1].get_color() == "tab:red"
    assert display.lines_[1].get_label() == "learning_rate=0.5 (on 2 of 3 folds): diverged"


def test_from_cv_of_a_grid_search_says_to_use_from_search(edge_searches):
    _, grid, _, _ = edge_searches
    with pytest.raises(TypeError, match=r"GridSearchCV keeps none.*from_search"):
        SearchLossCurveDisplay.from_cv(grid)


def test_validation_curves_after_partial_fit_keep_their_own_epochs():
    # partial_fit after an early-stopped fit extends the training curve alone: the
    # validation curves were drawn against its epochs (matplotlib's "x and y must have
    # same first dimension").
    X, y = load_iris(return_X_y=True)
    model = GDClassifier(early_stopping=True, random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
        model.partial_fit(X, y)
    display = LossCurveDisplay.from_estimator(model)
    assert len(display.validation_line_.get_xdata()) == len(model.validation_scores_)
    assert len(display.line_.get_xdata()) == len(model.loss_curve_)


@pytest.mark.parametrize("fold", [1.5, "1", None, True])
def test_from_cv_names_a_fold_that_is_not_an_int(fold):
    X, y = load_iris(return_X_y=True)
    search = GDClassifierCV(alphas=[1e-3], cv=3).fit(X, y)
    with pytest.raises(TypeError, match="fold must be an int"):
        SearchLossCurveDisplay.from_cv(search, fold=fold)
