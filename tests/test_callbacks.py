"""scikit-learn's callbacks (``set_callbacks``): a fit is a task with one sub-task per epoch."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import scale

from skgd import DivergenceError, GDClassifier, GDRegressor

callback = pytest.importorskip(
    "sklearn.callback", reason="scikit-learn < 1.9 has no callback API")


class Recorder:
    """Records every hook call; its ``on_fit_task_end`` asks to stop after ``stop_after``
    epochs."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after
        self.calls = []

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.task_name))

    def on_fit_task_end(self, estimator, context):
        self.calls.append(("end", context.task_name))
        return (context.task_name == "epoch" and self.stop_after is not None
                and context.task_id + 1 >= self.stop_after)

    def count(self, hook, task_name):
        return self.calls.count((hook, task_name))


@pytest.fixture(scope="module")
def regression():
    X, y = load_diabetes(return_X_y=True)
    return scale(X), y


@pytest.fixture(scope="module")
def classification():
    X, y = load_breast_cancer(return_X_y=True)
    return scale(X), y


@pytest.fixture(params=["regressor", "classifier"])
def problem(request, regression, classification):
    if request.param == "regressor":
        return GDRegressor, regression
    return GDClassifier, classification


def test_one_fit_task_with_one_subtask_per_epoch(problem):
    Estimator, (X, y) = problem
    recorder = Recorder()
    model = Estimator(max_iter=500, alpha=1e-2).set_callbacks(recorder).fit(X, y)
    assert 1 < model.n_iter_ < 500
    for hook in ("begin", "end"):
        assert recorder.count(hook, "fit") == 1
        assert recorder.count(hook, "epoch") == model.n_iter_
    assert recorder.calls[:2] == [("setup", "fit"), ("begin", "fit")]
    assert recorder.calls[-2:] == [("end", "fit"), ("teardown", "fit")]
    # Every epoch ends before the next one begins.
    epochs = [call for call in recorder.calls if call[1] == "epoch"]
    assert epochs == [("begin", "epoch"), ("end", "epoch")] * model.n_iter_


@pytest.mark.parametrize("stop_after", [1, 4])
def test_a_callback_returning_true_stops_the_fit_at_that_epoch(problem, stop_after):
    Estimator, (X, y) = problem
    recorder = Recorder(stop_after=stop_after)
    with warnings.catch_warnings():
        # Stopped on request, not out of epochs: no ConvergenceWarning.
        warnings.simplefilter("error")
        # Without a preconditioner least squares takes more than 4 epochs.
        model = Estimator(max_iter=500, preconditioner=None).set_callbacks(recorder).fit(X, y)
    assert model.n_iter_ == stop_after
    assert len(model.loss_curve_) == stop_after
    assert recorder.count("end", "epoch") == stop_after
    assert recorder.calls[-2:] == [("end", "fit"), ("teardown", "fit")]
    # The stopped model is the one a fit of that many epochs gives.
    full = Estimator(max_iter=stop_after, tol=None, preconditioner=None).fit(X, y)
    assert_allclose(model.coef_, full.coef_)


def test_each_partial_fit_call_is_a_task_of_one_epoch(classification):
    X, y = classification
    recorder = Recorder()
    model = GDClassifier().set_callbacks(recorder)
    for _ in range(3):
        model.partial_fit(X, y, classes=[0, 1])
    assert model.n_iter_ == 3
    assert recorder.count("setup", "partial_fit") == 3
    assert recorder.count("end", "partial_fit") == 3
    assert recorder.count("end", "epoch") == 3


def test_callbacks_are_torn_down_when_the_fit_raises(regression):
    X, y = regression
    recorder = Recorder()
    model = GDRegressor(solver="gd", learning_rate=100.0).set_callbacks(recorder)
    with pytest.raises(DivergenceError):
        model.fit(X, y)
    assert recorder.calls[-1] == ("teardown", "fit")
    assert not hasattr(model, "_callback_fit_ctx")


def test_progress_bar_shows_the_fit_complete(regression, capsys):
    X, y = regression
    model = GDRegressor(max_iter=50, tol=None).set_callbacks(callback.ProgressBar()).fit(X, y)
    assert model.n_iter_ == 50
    output = capsys.readouterr().out
    assert "GDRegressor - fit" in output
    assert "100%" in output


@pytest.mark.parametrize("scoring", ["r2", "accuracy"])
def test_scoring_monitor_logs_the_score_after_each_epoch(regression, classification, scoring):
    if scoring == "r2":
        Estimator, (X, y) = GDRegressor, regression
    else:
        # String labels: the callbacks get the labels as given, not their encoding.
        Estimator, (X, y) = GDClassifier, (classification[0],
                                          np.array(["benign", "malignant"])[classification[1]])
    monitor = callback.ScoringMonitor(scoring=scoring)
    model = Estimator(max_iter=5, tol=None).set_callbacks(monitor).fit(X, y)
    log = monitor.get_logs().data
    epochs = [row for row in log if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2, 3, 4]
    # Full-batch descent is deterministic: epoch k ends where a (k+1)-epoch fit does.
    expected = [Estimator(max_iter=k + 1, tol=None).fit(X, y).score(X, y) for k in range(5)]
    assert_allclose([row[scoring] for row in epochs], expected)
    (fit,) = [row for row in log if row["task_name"] == "fit"]
    assert fit[scoring] == pytest.approx(model.score(X, y))


# -- the CV estimators: GridSearchCV's tasks ------------------------------------------

class PropagatedRecorder(Recorder):
    """A Recorder that the search hands on to its refitted estimator, as ProgressBar."""

    max_propagation_depth = None

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(("begin", context.task_name, type(estimator).__name__,
                           context.task_id))

    def on_fit_task_end(self, estimator, context):
        self.calls.append(("end", context.task_name, type(estimator).__name__,
                           context.task_id))


@pytest.mark.parametrize("refit", [True, False])
def test_a_search_is_a_task_per_setting_and_fold_then_the_refit(classification, refit):
    from skgd import GDClassifierCV

    X, y = classification
    recorder = PropagatedRecorder()
    search = GDClassifierCV(alphas=[1e-3, 1e-2], learning_rates=["auto", 0.5], cv=3,
                            refit=refit).set_callbacks(recorder).fit(X, y)
    calls = recorder.calls
    assert calls[0] == ("setup", "fit") and calls[-1] == ("teardown", "fit")
    evaluations = [call for call in calls if call[1] == "candidate-split-evaluation"]
    # GridSearchCV's numbering: candidate i on fold k is task i * n_splits + k.
    for hook in ("begin", "end"):
        assert sorted(call[3] for call in evaluations if call[0] == hook) == list(range(12))
    assert calls[1] == ("begin", "fit", "GDClassifierCV", 0)
    assert calls[-2] == ("end", "fit", "GDClassifierCV", 0)
    refit_epochs = [call for call in calls if call[1] == "epoch"]
    assert all(call[2] == "GDClassifier" for call in refit_epochs)
    if refit:
        assert len(refit_epochs) == 2 * search.best_estimator_.n_iter_
        # The refit task is the refitted estimator's fit, merged into the search's tree.
        assert ("begin", "fit", "GDClassifier", 1) in calls
    else:
        assert not refit_epochs
        assert not any(call[2:] == ("GDClassifier", 1) for call in calls)


def test_progress_bar_on_a_search(classification):
    pytest.importorskip("rich")
    from skgd import GDClassifierCV

    X, y = classification
    search = GDClassifierCV(alphas=[1e-3], cv=2).set_callbacks(callback.ProgressBar())
    assert search.fit(X, y).best_estimator_.n_iter_ > 0


def _held_out_rows(y, validation_fraction, random_state):
    """The stratified split an early-stopping ``fit`` makes, seeded as in fit."""
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    return train_test_split(np.arange(len(y)), test_size=validation_fraction,
                            random_state=check_random_state(random_state), stratify=y)


def _replay(X, y, n_epochs):
    return GDClassifier(learning_rate=0.5, solver="gd", preconditioner=None, penalty=None,
                        max_iter=n_epochs, tol=None).fit(X, y)


def test_a_callback_stopping_an_early_stopping_fit_restores_the_best_epoch(classification):
    X, y = classification
    stop_after = 30
    # Unpenalised, so the validation accuracy peaks early (at epoch 9) and then falls.
    model = GDClassifier(learning_rate=0.5, solver="gd", preconditioner=None, penalty=None,
                         early_stopping=True, validation_fraction=0.2, tol=None,
                         max_iter=500, random_state=3)
    model.set_callbacks(Recorder(stop_after=stop_after)).fit(X, y)
    assert model.n_iter_ == stop_after
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    assert best_epoch < stop_after
    train, _ = _held_out_rows(y, 0.2, 3)
    best = _replay(X[train], y[train], best_epoch)
    assert_allclose(model.coef_, best.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(model.intercept_, best.intercept_, rtol=1e-12, atol=1e-14)
    last = _replay(X[train], y[train], stop_after)
    assert not np.allclose(model.coef_, last.coef_)


def test_a_callback_stopping_a_fit_without_early_stopping_keeps_the_last_epoch(
        classification):
    X, y = classification
    model = GDClassifier(learning_rate=0.5, solver="gd", preconditioner=None, penalty=None,
                         tol=None, max_iter=500)
    model.set_callbacks(Recorder(stop_after=12)).fit(X, y)
    assert model.n_iter_ == 12
    assert_allclose(model.coef_, _replay(X, y, 12).coef_, rtol=1e-12, atol=1e-14)
