"""GDClassifierCV and GDRegressorCV: the search GridSearchCV makes, fitted side by side."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    make_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold, check_cv
from sklearn.preprocessing import scale

from skgd import (
    DivergenceError,
    GDClassifier,
    GDClassifierCV,
    GDRegressor,
    GDRegressorCV,
    SearchLossCurveDisplay,
)
from skgd import _curvature as curvature

# Searches over a rate that diverges warn of it; these tests are about other things.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")


def _binary():
    X, y = load_breast_cancer(return_X_y=True)
    return scale(X), y


def _multiclass():
    X, y = load_iris(return_X_y=True)
    return scale(X), y


def _regression():
    X, y = load_diabetes(return_X_y=True)
    return scale(X), y


def _grid_search(single, grid, X, y, **kwargs):
    """GridSearchCV over the same grid, its failed fits recorded as NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="One or more of the test scores")
        return GridSearchCV(single, grid, error_score=np.nan, **kwargs).fit(X, y)


def _split_scores(results, n_splits):
    return np.array([results[f"split{k}_test_score"] for k in range(n_splits)])


def _assert_same_search(search, reference, n_splits=5):
    assert search.best_params_ == reference.best_params_
    assert search.best_index_ == reference.best_index_
    assert_allclose(_split_scores(search.cv_results_, n_splits),
                    _split_scores(reference.cv_results_, n_splits), rtol=0, atol=1e-8)
    assert_array_equal(search.cv_results_["rank_test_score"],
                       reference.cv_results_["rank_test_score"])
    assert search.best_score_ == pytest.approx(reference.best_score_, abs=1e-8)
    for key in ("mean_test_score", "std_test_score"):
        assert_allclose(search.cv_results_[key], reference.cv_results_[key], rtol=0,
                        atol=1e-8, equal_nan=True, err_msg=key)
    for key in ("param_alpha", "param_learning_rate"):
        assert list(search.cv_results_[key]) == list(reference.cv_results_[key]), key


# Two rates around the step that cannot diverge and one far beyond it, which diverges on
# every fold (30 would diverge on some folds and bounce on others: a chaotic fit, whose
# rounding decides), and two alphas.
GRID = {"learning_rates": [0.3, 1.0, 1e3], "alphas": [1e-3, 1e-2]}


def _as_params(grid):
    return {"learning_rate": grid["learning_rates"], "alpha": grid["alphas"]}


CASES = {
    "binary": (_binary, GDClassifierCV, GDClassifier),
    "multiclass": (_multiclass, GDClassifierCV, GDClassifier),
    "regression": (_regression, GDRegressorCV, GDRegressor),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("settings", [
    {},
    {"preconditioner": None, "solver": "gd"},
    {"solver": "adam", "max_iter": 50},
    {"penalty": "elasticnet", "l1_ratio": 0.5},
], ids=["default", "textbook", "adam", "elasticnet"])
def test_equals_grid_search(case, settings):
    make_data, cv_class, single = CASES[case]
    X, y = make_data()
    # Textbook steps: too small, right, and diverging. (A rate at the edge of stability,
    # whose fit neither converges nor diverges, is chaotic: rounding, which differs
    # between one product for all fits and one per fit, grows, as it does between
    # machines.)
    grid = GRID if settings.get("solver") != "gd" else {
        "learning_rates": [0.01, 0.1, 1e3], "alphas": [1e-3, 1e-2]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = cv_class(**grid, **settings).fit(X, y)
    reference = _grid_search(single(**settings), _as_params(grid), X, y)
    # Each rate converges or diverges on every fold: none is at the edge of stability.
    assert set(search.cv_results_["n_diverged"]) <= {0, 5}
    _assert_same_search(search, reference)


@pytest.mark.parametrize("container", ["sparse", "float32"])
def test_equals_grid_search_on_sparse_and_float32(container):
    X, y = _binary()
    if container == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    else:
        X = X.astype(np.float32)
    search = GDClassifierCV(**GRID).fit(X, y)
    reference = _grid_search(GDClassifier(), _as_params(GRID), X, y)
    _assert_same_search(search, reference)
    assert search.best_estimator_.coef_.dtype == X.dtype


@pytest.mark.parametrize("scoring", [None, "neg_log_loss"])
def test_sparse_x_s_empty_columns_are_left_out_of_the_search_s_fits(monkeypatch, scoring):
    # Counts of Zipf-drawn words: 400 rows use about a tenth of 20 000 columns. The fits
    # and their scores run on those; GridSearchCV's are the same search.
    rng = np.random.default_rng(0)
    columns = np.minimum(rng.zipf(1.3, 400 * 60), 20_000) - 1
    X = sp.csr_matrix((np.ones(columns.size), (np.repeat(np.arange(400), 60), columns)),
                      shape=(400, 20_000))
    raw = X @ rng.normal(size=20_000) + rng.logistic(size=400)
    y = (raw > np.median(raw)).astype(int)
    widths = []
    without = curvature.without_empty_columns

    def spy(X):
        reduced = without(X)
        widths.append(reduced[0].shape[1])
        return reduced

    monkeypatch.setattr(curvature, "without_empty_columns", spy)
    grid = {"learning_rates": ["auto"], "alphas": [1e-3, 1e-2]}
    search = GDClassifierCV(**grid, scoring=scoring).fit(X, y)
    # The search's fits, then the refit (its own fit of the whole X).
    assert widths[0] == widths[-1] == np.unique(X.indices).size < 3000
    assert search.coef_.shape == (1, 20_000)
    reference = _grid_search(GDClassifier(), _as_params(grid), X, y, scoring=scoring)
    if scoring is None:
        _assert_same_search(search, reference)
    else:
        # The log loss of fits that each stop within tol of the optimum (the search's
        # on a path), with or without the empty columns (4e-6 apart either way).
        assert search.best_params_ == reference.best_params_
        assert_allclose(_split_scores(search.cv_results_, 5),
                        _split_scores(reference.cv_results_, 5), rtol=0, atol=1e-4)
    assert_allclose(search.coef_, reference.best_estimator_.coef_, rtol=1e-9, atol=1e-12)


def test_equals_grid_search_in_mini_batches():
    """Mini-batch fits draw their batches from the fold's training rows, as each fit of
    GridSearchCV does: with a seeded order, the same fits."""
    X, y = _binary()
    settings = {"batch_size": 64, "random_state": 0, "max_iter": 20}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GDClassifierCV(**GRID, **settings).fit(X, y)
    reference = _grid_search(GDClassifier(**settings), _as_params(GRID), X, y)
    _assert_same_search(search, reference)


def test_equals_grid_search_with_cv_splitter_scoring_and_class_weight():
    X, y = _multiclass()
    cv = KFold(3, shuffle=True, random_state=0)
    settings = {"class_weight": "balanced"}
    search = GDClassifierCV(**GRID, cv=cv, scoring="neg_log_loss", **settings).fit(X, y)
    reference = _grid_search(GDClassifier(**settings), _as_params(GRID), X, y, cv=cv,
                             scoring="neg_log_loss")
    _assert_same_search(search, reference, n_splits=3)


def test_n_jobs_gives_the_same_search():
    X, y = _binary()
    one = GDClassifierCV(**GRID).fit(X, y)
    two = GDClassifierCV(**GRID, n_jobs=2).fit(X, y)
    assert_array_equal(_split_scores(one.cv_results_, 5), _split_scores(two.cv_results_, 5))
    assert_array_equal(one.best_estimator_.coef_, two.best_estimator_.coef_)


def test_diverged_settings_are_recorded_not_raised():
    X, y = _regression()
    search = GDRegressorCV(learning_rates=[0.01, 0.1, 1e3], alphas=[1e-3],
                           preconditioner=None, solver="gd", max_iter=50, tol=None)
    search.fit(X, y)
    results = search.cv_results_
    assert_array_equal(results["n_diverged"], [0, 0, 5])
    assert np.isnan(_split_scores(results, 5)[:, 2]).all()
    assert np.isnan(results["mean_test_score"][2])
    assert results["rank_test_score"][2] == 3
    assert search.learning_rate_ == 0.1
    # The curve of a diverged fit goes up to where it was stopped; the others come down.
    for fold in range(5):
        diverged = search.loss_curves_[2][fold]
        assert 0 < len(diverged) < 50 and diverged[-1] > diverged[0]
        assert search.loss_curves_[1][fold][-1] < search.loss_curves_[1][fold][0]


def test_diverged_settings_warn_once_naming_them_and_their_folds():
    # The grid: n_diverged [0 0 3 5 5] and no warning, where GridSearchCV warns.
    X, y = _regression()
    search = GDRegressorCV(learning_rates=[0.01, 0.1, 0.5, 1.0, 3.0], alphas=[0.0],
                           solver="gd", preconditioner=None, max_iter=100, tol=None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search.fit(X, y)
    failed = [w for w in record if issubclass(w.category, FitFailedWarning)]
    assert len(failed) == 1
    message = str(failed[0].message)
    counts = search.cv_results_["n_diverged"]
    assert counts[0] == counts[1] == 0 and counts[3] == counts[4] == 5
    assert f"{counts.sum()} of the 25 fits of GDRegressorCV diverged" in message
    for rate, count in zip([0.5, 1.0, 3.0], counts[2:], strict=True):
        assert f"learning_rate={rate!r}, alpha=0.0 on {count} of 5 folds" in message
    assert "learning_rate=0.01," not in message and "learning_rate=0.1," not in message


def test_a_search_without_diverged_fits_does_not_warn_of_them():
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitFailedWarning)
        GDRegressorCV(alphas=[1e-3, 1e-2]).fit(X, y)


def test_all_diverged_raises():
    X, y = _regression()
    search = GDRegressorCV(learning_rates=[1e3], alphas=[0.0], preconditioner=None,
                           solver="gd")
    with pytest.raises(DivergenceError, match="All the 5 fits of GDRegressorCV diverged"):
        search.fit(X, y)
    assert not hasattr(search, "cv_results_")


def test_refit_is_the_estimator_at_the_best_setting():
    X, y = _binary()
    search = GDClassifierCV(**GRID).fit(X, y)
    single = GDClassifier(learning_rate=search.learning_rate_, alpha=search.alpha_).fit(X, y)
    assert_array_equal(search.coef_, single.coef_)
    assert_array_equal(search.intercept_, single.intercept_)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        assert_array_equal(getattr(search, method)(X), getattr(single, method)(X))
    assert search.score(X, y) == single.score(X, y)
    assert_array_equal(search.classes_, single.classes_)


def test_refit_false_keeps_no_model():
    X, y = _regression()
    search = GDRegressorCV(alphas=[1e-3, 1e-2], refit=False).fit(X, y)
    assert hasattr(search, "cv_results_") and not hasattr(search, "best_estimator_")
    with pytest.raises(AttributeError, match="no attribute 'predict'") as info:
        search.predict(X)
    assert "refit=False" in str(info.value.__cause__)


@pytest.mark.parametrize("refit", [True, False])
def test_refit_false_hides_the_prediction_methods_as_grid_search_does(refit):
    X, y = _binary()
    search = GDClassifierCV(alphas=[1e-2], refit=refit, cv=3)
    reference = GridSearchCV(GDClassifier(), {"alpha": [1e-2]}, refit=refit, cv=3)
    methods = ("predict", "predict_proba", "predict_log_proba", "decision_function")
    for model in (search, reference):
        model.fit(X, y)
    for method in methods:
        assert hasattr(search, method) == hasattr(reference, method) == refit, method
    # score stays, and says what is missing when called, as GridSearchCV's does.
    if not refit:
        for model in (search, reference):
            with pytest.raises(AttributeError):
                model.score(X, y)


def test_verbose_labels_each_fit_by_fold_and_setting(capsys):
    X, y = _binary()
    GDClassifierCV(alphas=[1e-3, 1e-2], learning_rates=["auto", 1e3], cv=3,
                   verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("GDClassifierCV: fitting 3 folds for each of 4 candidates, "
                        "totalling 12 fits, side by side")
    fits = lines[1:13]
    assert [line.split("]")[0] for line in fits] == [
        f"[CV {k}/3; {i}/4" for k in (1, 2, 3) for i in (1, 2, 3, 4)]
    assert all("alpha=0.01, learning_rate=1000.0: diverged after" in line
               for line in fits[3::4])
    assert all("alpha=0.001, learning_rate='auto': " in line and "converged" in line
               for line in fits[0::4])
    # Then the refit, named, and its own epochs.
    assert lines[13].startswith("GDClassifierCV: refitting GDClassifier(alpha=")
    assert all(line.startswith("epoch ") for line in lines[14:-1])
    assert "converged" in lines[-1]


def test_best_estimator_keeps_the_feature_names_of_a_data_frame():
    pandas = pytest.importorskip("pandas")
    X, y = _binary()
    columns = [f"f{j}" for j in range(X.shape[1])]
    frame = pandas.DataFrame(X, columns=columns)
    search = GDClassifierCV(alphas=[1e-2], cv=3).fit(frame, y)
    assert list(search.feature_names_in_) == columns
    assert list(search.best_estimator_.feature_names_in_) == columns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_array_equal(search.predict(frame), search.best_estimator_.predict(frame))
    reordered = frame[columns[::-1]]
    for model in (search, search.best_estimator_):
        with pytest.raises(ValueError, match="feature names"):
            model.predict(reordered)


@pytest.mark.parametrize("routing", [False, True], ids=["no-routing", "routing"])
def test_groups_reach_the_splitter_without_a_request(routing):
    # As LogisticRegressionCV: no set_fit_request(groups=True) is needed.
    from sklearn import config_context
    from sklearn.model_selection import GroupKFold, cross_validate

    X, y = _regression()
    groups = np.arange(len(y)) % 6
    search = GDRegressorCV(alphas=[1e-2], cv=GroupKFold(3))
    with config_context(enable_metadata_routing=routing):
        scores = cross_validate(search, X, y, params={"groups": groups}, cv=2)
    direct = [GDRegressorCV(alphas=[1e-2], cv=GroupKFold(3)).fit(
        X[train], y[train], groups=groups[train]).score(X[test], y[test])
        for train, test in KFold(2).split(X)]
    assert_allclose(scores["test_score"], direct)


def test_cv_results_layout_matches_grid_search():
    pandas = pytest.importorskip("pandas")
    X, y = _regression()
    search = GDRegressorCV(**GRID).fit(X, y)
    reference = _grid_search(GDRegressor(), _as_params(GRID), X, y)
    assert set(reference.cv_results_) <= set(search.cv_results_)
    for key, value in reference.cv_results_.items():
        assert type(search.cv_results_[key]) is type(value), key
        assert len(search.cv_results_[key]) == len(value), key
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    frame = pandas.DataFrame(search.cv_results_)
    assert frame.shape[0] == 6
    assert (frame["mean_fit_time"] > 0).all()


def test_scoring_loss_is_the_held_out_objective():
    X, y = _binary()
    search = GDClassifierCV(learning_rates=[1.0], alphas=[1e-2], scoring="loss",
                            cv=KFold(5)).fit(X, y)
    train, test = next(KFold(5).split(X))
    model = GDClassifier(alpha=1e-2).fit(X[train], y[train])
    from skgd.losses import BinaryCrossEntropy, LinearObjective
    objective = LinearObjective(BinaryCrossEntropy(), X[test], y[test].astype(float),
                                alpha=1e-2)
    w = np.append(model.coef_.ravel(), model.intercept_)
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(
        -objective.loss(w), rel=1e-10)


def test_folds_are_not_copied():
    """Full-batch fits weigh the rows of X instead of copying a fold's training rows
    (80 % of X with 5 folds): the search allocates less than that copy alone."""
    X, y = make_classification(100_000, 50, random_state=0)
    search = GDClassifierCV(learning_rates=[1.0], alphas=[1e-2], refit=False)
    tracemalloc.start()
    search.fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.75 * X.nbytes


def test_grid_values_are_checked():
    X, y = _regression()
    for bad in ([], [0.0], [-1.0], ["fast"], [np.inf]):
        with pytest.raises(ValueError, match="learning_rates"):
            GDRegressorCV(learning_rates=bad).fit(X, y)
    for bad in ([], [-1.0], [np.nan], ["big"]):
        with pytest.raises(ValueError, match="alphas"):
            GDRegressorCV(alphas=bad).fit(X, y)


def test_early_stopping_gets_a_clear_error():
    X, y = _regression()
    with pytest.raises(ValueError, match="early_stopping=True is not supported"):
        GDRegressorCV(early_stopping=True).fit(X, y)


def test_other_routes_get_a_clear_error():
    X, y = _regression()
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="dask-ml's GridSearchCV over GDRegressor"):
        GDRegressorCV().fit(da.from_array(X, chunks=100), da.from_array(y, chunks=100))


@pytest.mark.array_api_dispatch
def test_array_api_inputs_get_a_clear_error():
    xp = pytest.importorskip("array_api_strict")
    from sklearn import config_context

    X, y = _regression()
    with config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match="GridSearchCV over GDRegressor, which takes "
                                            "Array API inputs"):
            GDRegressorCV().fit(xp.asarray(X), xp.asarray(y))


def test_loss_curve_display_of_a_search():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = _regression()
    search = GDRegressorCV(learning_rates=[0.01, 0.1, 1e3], alphas=[0.0],
                           preconditioner=None, solver="gd", max_iter=30, tol=None).fit(X, y)
    display = SearchLossCurveDisplay.from_cv(search)
    assert_array_equal(display.diverged_, [False, False, True])
    assert display.labels == ["learning_rate=0.01", "learning_rate=0.1",
                              "learning_rate=1e+03"]
    # Every curve is drawn, the diverged one up to its divergence, ending in a cross.
    assert len(display.lines_[0].get_xdata()) == 30
    assert 0 < len(display.lines_[2].get_xdata()) < 30
    plt.close(display.figure_)



@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stacked_pass_is_each_objectives_pass(sparse, dtype):
    """One stacked pass gives every objective its own value and gradient: folds' weights
    (zeros on test rows), alphas, mini-batch rows."""
    from skgd.losses import (
        BinaryCrossEntropy,
        CategoricalCrossEntropy,
        LinearObjective,
        SquaredError,
        stacked_loss_gradient,
    )

    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(size=(n, 6)).astype(dtype)
    if sparse:
        X = sp.csr_matrix(np.where(X > 0.5, X, 0).astype(dtype))
    tolerance = 1e-4 if dtype == np.float32 else 1e-11
    for loss, y in [(SquaredError(), rng.normal(size=n)),
                    (SquaredError(2), rng.normal(size=(n, 2))),
                    (BinaryCrossEntropy(), (rng.random(n) < 0.5).astype(float)),
                    (CategoricalCrossEntropy(3), rng.integers(0, 3, n))]:
        y = y.astype(dtype) if y.dtype.kind == "f" else y
        folds = [(np.arange(n) % 3 != k).astype(dtype) for k in range(3)]
        objectives = [LinearObjective(loss, X, y, folds[j % 3], alpha=alpha)
                      for j, alpha in enumerate([0.0, 0.1, 1.0, 0.01])]
        objectives.append(LinearObjective(loss, X, y, alpha=0.3))
        points = [rng.normal(size=o.n_params).astype(dtype) for o in objectives]
        for rows in (None, slice(10, 90), np.arange(300, 40, -7)):
            stacked = stacked_loss_gradient(objectives, points, rows)
            for objective, w, (value, grad) in zip(objectives, points, stacked, strict=True):
                expected_value, expected_grad = objective.loss_gradient_array(w, rows)
                assert float(value) == pytest.approx(float(expected_value), rel=tolerance)
                assert grad.dtype == expected_grad.dtype
                assert_allclose(grad, expected_grad, rtol=tolerance,
                                atol=tolerance * np.abs(expected_grad).max())


def test_ranks_are_grid_searchs_with_ties_sharing_the_smallest():
    from scipy.stats import rankdata

    from skgd._cv import _min_rank

    rng = np.random.default_rng(0)
    for _ in range(100):
        values = rng.integers(0, 4, rng.integers(1, 10)).astype(float)
        assert_array_equal(_min_rank(values), rankdata(values, method="min"))


# -- issue 24: how the work is split and timed, weights of mini-batch folds, defaults ------
def _recording_search(monkeypatch):
    """Record the fold indices each ``_search`` run gets, the ``n_jobs`` of joblib and the
    BLAS threads the runs are limited to."""
    import skgd._cv as cv_module

    runs, n_jobs, blas_limits = [], [], []
    search = cv_module._BaseGDCV._search

    def recorded_search(self, base, candidates, folds, *args):
        runs.append(sorted(fold["index"] for fold in folds))
        return search(self, base, candidates, folds, *args)

    class RecordedParallel(cv_module.Parallel):
        def __init__(self, *args, **kwargs):
            n_jobs.append(kwargs["n_jobs"])
            super().__init__(*args, **kwargs)

    threadpool_limits = cv_module.threadpool_limits

    def recorded_limits(limits=None, user_api=None):
        blas_limits.append(limits)
        return threadpool_limits(limits=limits, user_api=user_api)

    monkeypatch.setattr(cv_module._BaseGDCV, "_search", recorded_search)
    monkeypatch.setattr(cv_module, "Parallel", RecordedParallel)
    monkeypatch.setattr(cv_module, "threadpool_limits", recorded_limits)
    return runs, n_jobs, blas_limits


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1])
def test_n_jobs_splits_the_folds_into_as_many_even_runs_in_threads(monkeypatch, n_jobs):
    """Each of the runs is fitted in its own thread, with its share of the cores for BLAS
    (one run: BLAS is left as it is)."""
    import os

    from joblib import effective_n_jobs

    X, y = _regression()
    runs, parallel_jobs, blas_limits = _recording_search(monkeypatch)
    GDRegressorCV(alphas=[1e-3], cv=5, n_jobs=n_jobs, refit=False).fit(X, y)
    expected = min(5, 1 if n_jobs is None else effective_n_jobs(n_jobs))
    assert parallel_jobs == [expected]
    assert blas_limits == [None if expected == 1
                           else max(1, (os.cpu_count() or 1) // expected)]
    assert len(runs) == expected
    assert sorted(fold for run in runs for fold in run) == list(range(5))
    assert max(map(len, runs)) - min(map(len, runs)) <= 1


def test_fit_times_share_out_the_time_of_each_run(monkeypatch):
    """Each fit of a run gets an equal share of its run's time: the fit times sum to the
    time the runs took. A clock that ticks once per pass over X makes that time exact."""
    import skgd._cv as cv_module

    clock = [0.0]
    answer = cv_module._answer

    def answer_and_tick(*args):
        clock[0] += 1.0
        return answer(*args)

    monkeypatch.setattr(cv_module, "time", type("Clock", (), {
        "perf_counter": staticmethod(lambda: clock[0])}))
    monkeypatch.setattr(cv_module, "_answer", answer_and_tick)
    X, y = _regression()
    search = GDRegressorCV(learning_rates=[0.3, 1.0], alphas=[1e-3, 1e-2], cv=3,
                           refit=False).fit(X, y)
    results = search.cv_results_
    assert np.all(results["mean_fit_time"] > 0)
    assert results["mean_fit_time"].sum() * 3 == pytest.approx(clock[0], rel=1e-12)


def test_mini_batch_folds_keep_their_training_weights():
    X, y = _regression()
    weight = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    settings = {"batch_size": 64, "random_state": 0, "max_iter": 8, "tol": None}
    cv = KFold(3)
    search = GDRegressorCV(alphas=[1e-3, 1e-1], cv=cv, refit=False, **settings).fit(
        X, y, sample_weight=weight)
    for i, alpha in enumerate([1e-3, 1e-1]):
        for k, (train, _) in enumerate(cv.split(X)):
            single = GDRegressor(alpha=alpha, **settings).fit(X[train], y[train],
                                                              sample_weight=weight[train])
            assert_allclose(search.loss_curves_[i][k], single.loss_curve_, rtol=1e-10)


def test_requests_for_different_rows_are_answered_each_from_its_own_rows():
    """Fits of one fold ask, side by side, for mini-batches that may differ (an unseeded
    order): only requests for the same rows of the same data share a stacked pass."""
    from skgd._cv import _answer
    from skgd.losses import LinearObjective, SquaredError

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    fits = [type("Fit", (), {"objective": LinearObjective(SquaredError(), X, y,
                                                           alpha=alpha)})
            for alpha in (0.0, 0.1, 1.0, 0.5, 0.2)]
    rows = [rng.permutation(50)[:10], slice(0, 10), rng.permutation(50)[:10], None,
            slice(0, 20)]
    requests = [(i, rng.normal(size=5), rows[i]) for i in range(5)]
    # The first row set again, as another array: same rows, one pass.
    requests.append((2, rng.normal(size=5), rows[0].copy()))
    for (index, point, request_rows), (value, grad) in zip(
            requests, _answer(fits, requests), strict=True):
        expected_value, expected_grad = fits[index].objective.loss_gradient_array(
            point, request_rows)
        assert float(value) == pytest.approx(float(expected_value), rel=1e-12)
        assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cv_class, single", [(GDRegressorCV, GDRegressor),
                                              (GDClassifierCV, GDClassifier)])
def test_the_cv_estimators_defaults_are_the_single_estimators(cv_class, single):
    shared = {name: value for name, value in single().get_params().items()
              if name not in ("alpha", "learning_rate")}
    cv_params = cv_class().get_params()
    assert {name: cv_params[name] for name in shared} == shared


def test_a_test_label_the_fold_did_not_train_on_is_never_predicted():
    X, y = _multiclass()
    rng = np.random.default_rng(0)
    splits = []
    for missing in (0, 1, 2):
        # The training rows lack one class (below, between, above the others); the test
        # rows hold that class and a few of each other.
        others = rng.permutation(np.flatnonzero(y != missing))
        test = np.sort(np.r_[np.flatnonzero(y == missing), others[:20]])
        splits.append((np.sort(others[20:]), test))
    search = GDClassifierCV(alphas=[1e-2], cv=splits, refit=False).fit(X, y)
    for k, (train, test) in enumerate(splits):
        single = GDClassifier(alpha=1e-2).fit(X[train], y[train])
        assert search.cv_results_[f"split{k}_test_score"][0] == pytest.approx(
            single.score(X[test], y[test]), abs=1e-12)
        assert search.cv_results_[f"split{k}_test_score"][0] < 0.5


@pytest.mark.parametrize("penalty", ["l2", "elasticnet", "l1"])
def test_scoring_loss_is_the_negated_test_objective_with_its_penalty(penalty):
    """The test rows' F of API.md, weighted by their sample weights, at each fold's fit:
    the data term plus alpha R(W), L1 part included."""
    X, y = _regression()
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    alpha, l1_ratio = 0.05, {"l2": 0.0, "elasticnet": 0.5, "l1": 1.0}[penalty]
    cv = KFold(3)
    search = GDRegressorCV(alphas=[alpha], cv=cv, scoring="loss", penalty=penalty,
                           l1_ratio=0.5, max_iter=30, tol=None, refit=False).fit(
        X, y, sample_weight=weight)
    for k, (train, test) in enumerate(cv.split(X)):
        model = GDRegressor(alpha=alpha, penalty=penalty, l1_ratio=0.5, max_iter=30,
                            tol=None).fit(X[train], y[train], sample_weight=weight[train])
        residual = X[test] @ model.coef_ + model.intercept_ - y[test]
        coef = model.coef_
        expected = (np.average(0.5 * residual**2, weights=weight[test])
                    + alpha * ((1 - l1_ratio) / 2 * coef @ coef
                               + l1_ratio * np.abs(coef).sum()))
        assert search.cv_results_[f"split{k}_test_score"][0] == pytest.approx(
            -expected, rel=1e-9)


def test_a_batch_as_large_as_a_fold_s_training_rows_fits_it_in_full_batch():
    # 400 rows in a batch: more than the 353 or 354 training rows of a fold of diabetes,
    # fewer than X's rows, which a fold's weighted full-batch fit passes over.
    X, y = _regression()
    grid = {"learning_rates": ["auto"], "alphas": [1e-3, 1e-2]}
    settings = {"batch_size": 400, "random_state": 0, "max_iter": 20, "tol": None}
    search = GDRegressorCV(**grid, **settings).fit(X, y)
    reference = _grid_search(GDRegressor(**settings), _as_params(grid), X, y)
    _assert_same_search(search, reference)
    full = GDRegressorCV(**grid, **{**settings, "batch_size": None}).fit(X, y)
    assert search.loss_curves_ == full.loss_curves_


def test_a_search_refitted_without_refit_keeps_no_model_of_before():
    X, y = _regression()
    search = GDRegressorCV(alphas=[1e-3]).fit(X, y)
    assert hasattr(search, "best_estimator_")
    search.set_params(refit=False).fit(X, y)
    for attribute in ("best_estimator_", "coef_", "intercept_", "n_iter_"):
        assert not hasattr(search, attribute), attribute


def test_fits_that_did_not_converge_are_named_in_one_warning():
    # Textbook steps, two epochs: no fit gets near tol. With the full metric, a unit step
    # solves least squares at once: those fits converge and go unnamed.
    X, y = _regression()
    with pytest.warns(ConvergenceWarning) as record:
        GDRegressorCV(learning_rates=[0.01, 0.02], alphas=[1e-3], cv=3, max_iter=2,
                      tol=1e-12, preconditioner=None, solver="gd", refit=False).fit(X, y)
    with pytest.warns(ConvergenceWarning) as mixed:
        GDRegressorCV(learning_rates=[0.5, 1.0], alphas=[1e-3], cv=3, max_iter=2,
                      tol=1e-12, solver="gd", refit=False).fit(X, y)
    assert len(record) == len(mixed) == 1
    assert str(record[0].message).startswith(
        "6 of the 6 fits of GDRegressorCV did not converge (learning_rate=0.01, "
        "alpha=0.001; learning_rate=0.02, alpha=0.001). The first said: GDRegressor "
        "stopped after 2 epochs")
    assert str(mixed[0].message).startswith(
        "3 of the 6 fits of GDRegressorCV did not converge (learning_rate=0.5, "
        "alpha=0.001). The first said:")


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_scoring_loss_of_a_test_label_the_fold_did_not_train_on_is_nan(missing):
    """The fold's fits have no loss for such a label (not another class's, nor a negative
    one): NaN, as GridSearchCV(error_score=np.nan) scores the log loss there; the rows
    of weight 0 do not count."""
    X, y = _multiclass()
    others = np.random.default_rng(0).permutation(np.flatnonzero(y != missing))
    unseen = np.flatnonzero(y == missing)[:5]
    splits = [(np.sort(others[20:]), np.sort(np.r_[unseen, others[:20]])),
              (np.arange(0, 150, 2), np.arange(1, 150, 2))]
    search = GDClassifierCV(alphas=[1e-2], cv=splits, scoring="loss", refit=False).fit(X, y)
    assert np.isnan(search.cv_results_["split0_test_score"][0])
    # The other fold saw every class: a finite held-out loss.
    assert np.isfinite(search.cv_results_["split1_test_score"][0])
    reference = _grid_search(GDClassifier(alpha=1e-2), {"alpha": [1e-2]}, X, y, cv=splits,
                             scoring="neg_log_loss")
    assert np.isnan(reference.cv_results_["split0_test_score"][0])
    weight = np.ones(len(y))
    weight[unseen] = 0.0
    weighted = GDClassifierCV(alphas=[1e-2], cv=splits, scoring="loss", refit=False).fit(
        X, y, sample_weight=weight)
    assert np.isfinite(weighted.cv_results_["split0_test_score"][0])


# -- the regularisation path: a search of alphas alone warm-starts each from the last ------
PATH_ALPHAS = [1e-4, 1e-3, 1e-2, 1e-1]


def _sparse_binary():
    X, y = _binary()
    return sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0)), y


def _float32_binary():
    X, y = _binary()
    return X.astype(np.float32), y


PATH_CASES = {**CASES,
              "sparse": (_sparse_binary, GDClassifierCV, GDClassifier),
              "float32": (_float32_binary, GDClassifierCV, GDClassifier)}


def _from_zero(search):
    """Which fits of a search started from zero: those whose first objective is F(0),
    the same for every alpha of a fold (the L2 term vanishes at zero) and the highest."""
    starts = np.array([[curve[0] for curve in curves] for curves in search.loss_curves_])
    return np.isclose(starts, starts.max(axis=0), rtol=1e-12, atol=0)


@pytest.fixture
def every_alpha_search_on_a_path(monkeypatch):
    """Every search of alpha alone on a path, whatever its fits' metric (the search takes
    it only where L-BFGS refits a softmax's class blocks): the path itself, for any
    rule."""
    import skgd._cv as cv_module

    monkeypatch.setattr(cv_module._BaseGDCV, "_follows_path",
                        staticmethod(cv_module._alphas_alone))


def _fit_or_divergence(estimator, X, y):
    """The loss curve of ``estimator`` fitted on X, y, and whether it diverged."""
    try:
        return estimator.fit(X, y).loss_curve_, False
    except DivergenceError as error:
        return error.loss_curve, True


@pytest.mark.usefixtures("every_alpha_search_on_a_path")
@pytest.mark.parametrize("solver", ["accelerated", "lbfgs"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_path_fit_that_converges_is_the_fit_from_zero_within_tol(case, solver):
    """Each alpha after the largest starts from the solution of the one before (its
    first objective is below the fit from zero's), and ends where the fit from zero
    ends: both reach the optimum to within tol (relative gap), whatever the rule."""
    make_data, cv_class, single = CASES[case]
    X, y = make_data()
    tol, cv = 1e-5, check_cv(3, y, classifier=cv_class is GDClassifierCV)
    search = cv_class(alphas=PATH_ALPHAS, solver=solver, tol=tol, cv=cv,
                      refit=False).fit(X, y)
    assert not search.diverged_.any()
    for k, (train, _) in enumerate(cv.split(X, y)):
        for i, alpha in enumerate(PATH_ALPHAS):
            cold = single(alpha=alpha, solver=solver, tol=tol).fit(X[train], y[train])
            exact = single(alpha=alpha, solver=solver, tol=1e-10, max_iter=10_000).fit(
                X[train], y[train])
            path = search.loss_curves_[i][k]
            start, best = cold.loss_curve_[0], min(exact.loss_curve_[-1], path[-1],
                                                   cold.loss_curve_[-1])
            assert path[-1] - best <= tol * (start - best)
            assert cold.loss_curve_[-1] - best <= tol * (start - best)
            if alpha < max(PATH_ALPHAS):
                assert path[0] < start


@pytest.mark.usefixtures("every_alpha_search_on_a_path")
@pytest.mark.parametrize("case", list(PATH_CASES))
def test_a_path_chooses_what_grid_search_chooses(case):
    make_data, cv_class, single = PATH_CASES[case]
    X, y = make_data()
    grid = {"learning_rates": ["auto"], "alphas": PATH_ALPHAS}
    search = cv_class(**grid).fit(X, y)
    reference = _grid_search(single(), _as_params(grid), X, y)
    assert search.best_params_ == reference.best_params_
    assert_array_equal(search.cv_results_["rank_test_score"],
                       reference.cv_results_["rank_test_score"])
    # The fits converged to within tol: their scores agree to far less than a test row.
    assert_allclose(_split_scores(search.cv_results_, 5),
                    _split_scores(reference.cv_results_, 5), rtol=0, atol=1e-6)
    assert not _from_zero(search)[:-1].any()
    if case == "float32":
        assert search.best_estimator_.coef_.dtype == np.float32


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return scale(X[:900]), y[:900]


@pytest.mark.parametrize("make_data, cv_class, settings, on_path", [
    (_digits, GDClassifierCV, {}, True),
    (_digits, GDClassifierCV, {"solver": "accelerated"}, False),
    (_digits, GDClassifierCV, {"preconditioner": "diagonal"}, False),
    (_binary, GDClassifierCV, {}, False),
    (_multiclass, GDClassifierCV, {}, False),
    (_multiclass, GDClassifierCV, {"blocks": True}, True),
    (_regression, GDRegressorCV, {}, False),
], ids=["softmax-blocks", "accelerated", "diagonal", "binary-newton", "three-classes-newton",
        "three-classes-blocks", "least-squares"])
def test_a_search_of_alpha_takes_the_path_where_l_bfgs_learns_the_class_coupling(
        monkeypatch, make_data, cv_class, settings, on_path):
    """The path where L-BFGS refits the blocks of a softmax's Hessian, one class each: a
    warm start shortens the epochs it takes to learn their coupling. Newton's steps on
    the whole Hessian (two classes, or a small softmax such as iris's, whose whole
    Hessian costs about its blocks), the bound of the accelerated gradient, the diagonal
    metric and least squares are fitted from zero: there a path was measured to cost
    more rounds than it saved."""
    if settings.get("blocks"):
        # Iris's softmax refitted by its blocks, as a larger problem's would be.
        monkeypatch.setattr(curvature, "EXACT_OVER_BLOCKS", 0)
        settings = {}
    X, y = make_data()
    search = cv_class(alphas=[1e-3, 1e-2, 1e-1], cv=3, refit=False, max_iter=3000,
                      **settings).fit(X, y)
    # The largest alpha starts the path from zero.
    assert _from_zero(search)[2].all()
    assert_array_equal(_from_zero(search)[:2], not on_path)


@pytest.mark.parametrize("grid", [
    {"learning_rates": [0.5, "auto"], "alphas": [1e-3, 1e-2]},
    {"learning_rates": ["auto"], "alphas": [1e-3, 1e-2], "tol": None, "max_iter": 30},
], ids=["learning-rates", "tol-none"])
def test_a_search_of_learning_rates_or_without_tol_fits_each_from_zero(grid):
    """Learning rates are compared fit for fit as GridSearchCV fits them (a path would
    start the "auto" fits nearer their optimum than the others), and without a stopping
    rule a path would save no epoch: every fit starts from zero."""
    X, y = _binary()
    search = GDClassifierCV(**grid).fit(X, y)
    settings = {key: value for key, value in grid.items() if key not in GRID}
    reference = _grid_search(GDClassifier(**settings), _as_params(grid), X, y)
    _assert_same_search(search, reference)
    # The binary cross-entropy at zero coefficients and intercept is log 2.
    assert all(curve[0] == pytest.approx(np.log(2), rel=1e-12)
               for curves in search.loss_curves_ for curve in curves)


@pytest.mark.usefixtures("every_alpha_search_on_a_path")
def test_a_path_restarts_from_zero_after_a_diverged_fit():
    """A fit on the path that diverges scores NaN, as any; the next alpha starts from zero,
    not from the diverged point: it is the fit from zero."""
    X, y = _regression()
    jump_epoch = 60

    def jump(epoch):
        # The step that cannot diverge, then ten times it: a fit not done by then
        # diverges.
        return 1.0 if epoch < jump_epoch else 10.0

    settings = {"preconditioner": None, "solver": "gd", "decay": jump}
    cv = KFold(3)
    # The largest alpha converges before the jump; the next, from its solution, does not.
    # The third (the same alpha again) comes after the diverged one.
    search = GDRegressorCV(alphas=[1.0, 0.1, 0.1], cv=cv, **settings).fit(X, y)
    assert not search.diverged_[0].any() and search.diverged_[1].all()
    results = search.cv_results_
    assert np.isnan(results["split0_test_score"][1])
    assert np.isnan(results["mean_test_score"][1])
    # Ranked last, as GridSearchCV(error_score=np.nan) ranks a NaN mean.
    assert results["rank_test_score"][1] == max(results["rank_test_score"]) > 1
    for k, (train, _) in enumerate(cv.split(X)):
        cold, _ = _fit_or_divergence(GDRegressor(alpha=0.1, **settings), X[train],
                                     y[train])
        assert search.loss_curves_[1][k][0] < cold[0]
        # Epoch for epoch up to the jump, which amplifies rounding (the modes it makes
        # unstable are the ones the step 1/L had converged first).
        assert len(search.loss_curves_[2][k]) > jump_epoch
        assert_allclose(search.loss_curves_[2][k][:jump_epoch], cold[:jump_epoch],
                        rtol=1e-9)


@pytest.mark.usefixtures("every_alpha_search_on_a_path")
def test_the_folds_of_a_path_are_not_copied():
    """On a path too, the fits weigh the rows of X instead of copying a fold's."""
    X, y = make_classification(100_000, 50, random_state=0)
    search = GDClassifierCV(alphas=[1e-1, 1e-2, 1e-3], refit=False)
    tracemalloc.start()
    search.fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 0.75 * X.nbytes
    assert not _from_zero(search)[1:].any()


@pytest.mark.usefixtures("every_alpha_search_on_a_path")
def test_n_jobs_gives_the_same_path():
    X, y = _multiclass()
    one = GDClassifierCV(alphas=PATH_ALPHAS, scoring="loss").fit(X, y)
    two = GDClassifierCV(alphas=PATH_ALPHAS, scoring="loss", n_jobs=2).fit(X, y)
    # Threads split the folds, not a path: the same fits, to the rounding of BLAS, which
    # each thread runs on fewer cores.
    assert_allclose(_split_scores(one.cv_results_, 5), _split_scores(two.cv_results_, 5),
                    rtol=1e-10)
    for curves_one, curves_two in zip(one.loss_curves_, two.loss_curves_, strict=True):
        for curve_one, curve_two in zip(curves_one, curves_two, strict=True):
            assert_allclose(curve_one, curve_two, rtol=1e-10)


@pytest.mark.usefixtures("every_alpha_search_on_a_path")
def test_verbose_says_where_a_path_fit_started(capsys):
    X, y = _binary()
    GDClassifierCV(alphas=[1e-3, 1e-2], cv=2, verbose=1, refit=False).fit(X, y)
    lines = capsys.readouterr().out.splitlines()[1:]
    # Candidates in GridSearchCV's order; the path runs alpha=0.01 first.
    assert all("from the solution" not in line for line in lines[1::2])
    assert all("from the solution at alpha=0.01, converged" in line
               for line in lines[0::2])


# -- alphas=n: a grid down from the alpha at which the solution is zero -----------------------
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("case", ["regression", "binary", "multiclass"])
def test_alphas_int_starts_where_the_l1_solution_becomes_zero(case):
    """alphas_[0] is the smallest alpha whose L1 solution (intercept fitted) has no
    non-zero coefficient: just above it every coefficient is zero, just below some are
    not. For least squares, Lasso(alpha) is the same objective."""
    from sklearn.linear_model import Lasso

    make_data, cv_class, single = CASES[case]
    X, y = make_data()
    search = cv_class(alphas=3, penalty="l1", cv=2, refit=False).fit(X, y)
    alpha_max = search.alphas_[0]

    def coef(alpha):
        if case == "regression":
            return Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y).coef_
        return single(alpha=alpha, penalty="l1", tol=1e-8, max_iter=2000).fit(X, y).coef_

    assert np.all(coef(alpha_max * 1.01) == 0)
    assert np.any(coef(alpha_max * 0.9) != 0)


def test_alphas_int_is_a_log_spaced_grid_of_that_many():
    X, y = _binary()
    grids = {penalty: GDClassifierCV(alphas=5, penalty=penalty, l1_ratio=0.25, cv=2,
                                     max_iter=5, tol=None, refit=False).fit(X, y).alphas_
             for penalty in ("l1", "l2", "elasticnet")}
    for grid in grids.values():
        assert len(grid) == 5
        assert_allclose(grid[1:] / grid[:-1], (1e-4) ** 0.25, rtol=1e-12)
    # The L2 grid starts where the L1 one does; the elastic net's, where its L1 part,
    # a quarter of alpha, zeroes the solution.
    assert_allclose(grids["l2"], grids["l1"], rtol=1e-12)
    assert_allclose(grids["elasticnet"], 4 * grids["l1"], rtol=1e-12)


def test_alphas_int_weighs_rows_as_repeating_them():
    X, y = _multiclass()
    weight = np.arange(len(y)) % 3
    settings = {"alphas": 4, "cv": 2, "max_iter": 5, "tol": None, "refit": False}
    weighted = GDClassifierCV(**settings).fit(X, y, sample_weight=weight)
    repeated = GDClassifierCV(**settings).fit(np.repeat(X, weight, axis=0),
                                              np.repeat(y, weight))
    assert_allclose(weighted.alphas_, repeated.alphas_, rtol=1e-12)


def test_alphas_int_on_constant_targets_gets_a_clear_error():
    X, _ = _regression()
    with pytest.raises(ValueError, match="Pass alphas as a list"):
        GDRegressorCV(alphas=5).fit(X, np.full(len(X), 3.0))
    with pytest.raises(ValueError, match="alphas"):
        GDRegressorCV(alphas=0).fit(X, np.arange(len(X), dtype=float))


# -- issue 23: ranking where every mean is NaN, empty folds, scoring, divergence advice -----
def test_among_nan_means_the_candidate_that_failed_on_every_fold_ranks_last():
    # Issue 23: every mean NaN ranked every candidate 1, and best_params_ was the first,
    # which had diverged on every fold.
    from skgd._cv import _rank

    nan = np.nan
    scores = np.array([[nan, nan, nan],     # failed on every fold
                       [0.9, nan, 0.8],     # two folds scored, a mean of 0.85 over them
                       [0.95, nan, nan],    # one, however good
                       [0.7, 0.9, nan]])    # two, a mean of 0.8
    assert_array_equal(_rank(scores), [4, 1, 3, 2])
    # Finite means rank first, by their value, as GridSearchCV ranks them.
    finite = np.array([[0.1, 0.2], [nan, 0.9], [0.3, 0.3], [0.1, 0.2]])
    assert_array_equal(_rank(finite), [2, 4, 1, 2])


def test_a_search_where_every_mean_is_nan_picks_a_candidate_that_scored(monkeypatch):
    from skgd import _cv

    X, y = _regression()
    real = _cv._BaseGDCV._score

    def score(self, fold, fits, *args):
        # Every candidate fails on fold 0; the first also on fold 1.
        scores = real(self, fold, fits, *args)
        return [np.nan if fold["index"] == 0 or (fold["index"] == 1 and fit.candidate == 0)
                else value for value, fit in zip(scores, fits, strict=True)]

    monkeypatch.setattr(_cv._BaseGDCV, "_score", score)
    search = GDRegressorCV(learning_rates=[1e-3, "auto"], alphas=[1e-3], cv=3,
                           refit=False).fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["learning_rate"] == "auto"


@pytest.mark.parametrize("empty", ["training", "test"])
def test_a_fold_without_training_or_test_rows_is_a_clear_error(empty):
    # Issue 23: ZeroDivisionError (empty test fold), IndexError (empty training fold).
    X, y = _regression()
    rows, none = np.arange(len(y)), np.array([], dtype=int)
    fold = (none, rows) if empty == "training" else (rows, none)
    splits = [(rows[: len(y) // 2], rows[len(y) // 2:]), fold]
    with pytest.raises(ValueError, match=f"cv gave fold 1 no {empty} rows"):
        GDRegressorCV(cv=splits).fit(X, y)


@pytest.mark.parametrize("cv, match", [
    ([], "cv gave no folds"),
    ([(np.arange(20.0), np.arange(20.0, 30.0))], "fold 0 training rows that are not rows"),
    ([(np.arange(20), np.arange(20, 31))], "fold 0 test rows .* indices from 20 to 30"),
    ([(np.ones(29, bool), np.ones(30, bool))], "a boolean mask of 29 rows"),
    ([(np.ones(30, bool), np.zeros(30, bool))], "fold 0 no test rows"),
])
def test_folds_that_are_not_rows_of_X_are_a_clear_error(cv, match):
    # An empty cv, float indices and indices past the last row raised NumPy's bare
    # "number sections must be larger than 0" and IndexErrors.
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    y = X @ [1.0, 2.0, 3.0] + rng.randn(30)
    with pytest.raises(ValueError, match=match):
        GDRegressorCV(cv=cv).fit(X, y)


@pytest.mark.parametrize("Search", [GDRegressorCV, GDClassifierCV])
def test_score_without_a_refit_says_why(Search):
    X, y = _regression()
    if Search is GDClassifierCV:
        y = (y > np.median(y)).astype(int)
    search = Search(refit=False).fit(X, y)
    with pytest.raises(AttributeError, match="made with refit=False"):
        search.score(X, y)
    assert Search().fit(X, y).score(X, y) > 0.5


def test_an_unknown_scoring_is_reported_before_the_search(monkeypatch):
    from skgd import _cv

    def search(*args):
        raise AssertionError("the search ran")

    monkeypatch.setattr(_cv._BaseGDCV, "_search", search)
    X, y = _regression()
    with pytest.raises(ValueError, match="'nonsense' is not a valid scoring value"):
        GDRegressorCV(scoring="nonsense").fit(X, y)


def test_when_auto_diverged_too_the_advice_is_not_auto():
    # A decay that raises the rate makes every rate diverge, "auto" included.
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        with pytest.raises(DivergenceError, match="add smaller float rates, or check the "
                                                  "decay and momentum") as info:
            GDRegressorCV(learning_rates=[1.0, "auto"], alphas=[1e-3], cv=2,
                          decay=lambda epoch: 1e3 ** epoch, max_iter=20,
                          tol=None).fit(X, y)
    assert "or 'auto'" not in str(info.value)


@pytest.mark.parametrize("Search", [GDClassifierCV, GDRegressorCV])
def test_a_search_that_raises_leaves_a_fitted_search_as_it_was(Search):
    # validate_data set n_features_in_ before the search failed: predict on the data of
    # the first fit then raised "X has 4 features, but ... is expecting 3".
    X, y = _multiclass()
    search = Search(alphas=[1e-2]).fit(X, y)
    before = dict(search.__dict__)
    with pytest.raises(ValueError):
        search.fit(X[:, :3] * 1e300, y)
    assert search.__dict__.keys() == before.keys()
    assert all(search.__dict__[name] is value for name, value in before.items())
    assert_array_equal(search.predict(X), search.best_estimator_.predict(X))


@pytest.mark.parametrize("Search, scoring, problem", [
    (GDRegressorCV, "neg_log_loss", "regression"), (GDClassifierCV, "roc_auc", "3-class")])
def test_a_scoring_that_cannot_score_the_test_folds_says_which_would(Search, scoring,
                                                                     problem):
    # The regressor's scorer raised a bare AttributeError (no predict_proba), the
    # 3-class roc_auc scikit-learn's "multi_class must be in ('ovo', 'ovr')".
    X, y = _regression() if Search is GDRegressorCV else _multiclass()
    with pytest.raises(ValueError, match=rf"scoring='{scoring}' cannot score the test "
                                         rf"rows of every cv fold of this {problem} "
                                         r"problem .* e\.g\. '(r2|accuracy)'"):
        Search(alphas=[1e-2], scoring=scoring).fit(X, y)


def test_a_fold_whose_training_rows_cannot_be_fitted_names_the_fold():
    # The whole data have two classes and a positive weight; a fold's training rows had
    # neither, and the error blamed the data ("got only one class", "sample_weight sums
    # to zero").
    X, y = _binary()
    single = np.r_[np.zeros(len(y) - 1, dtype=int), 1]
    with pytest.raises(ValueError, match=r"training rows of cv fold \d+ cannot be fitted: "
                                         r".*only one class"):
        GDClassifierCV(alphas=[1e-2], cv=KFold(3)).fit(X, single)
    X, y = _regression()
    weight = np.zeros(len(y))
    weight[0] = 1.0
    with pytest.raises(ValueError, match=r"training rows of cv fold 0 cannot be fitted: "
                                         r"sample_weight sums to zero"):
        GDRegressorCV(alphas=[1e-2], cv=KFold(3)).fit(X, y, sample_weight=weight)


@pytest.mark.parametrize("Search", [GDClassifierCV, GDRegressorCV])
def test_a_fold_whose_test_rows_weigh_nothing_names_the_fold(Search):
    # Its scores divided by a zero weight: a bare ZeroDivisionError (the classifier) or
    # r2_score's "Sample weights must contain at least one non-zero number".
    X, y = _regression() if Search is GDRegressorCV else _binary()
    weight = np.ones(len(y))
    weight[next(KFold(3).split(X))[1]] = 0.0
    with pytest.raises(ValueError, match=r"test rows of cv fold 0 all have zero "
                                         r"sample_weight"):
        Search(alphas=[1e-2], cv=KFold(3)).fit(X, y, sample_weight=weight)


def test_a_column_far_off_zero_is_searched_as_centred():
    # The folds' fits of sparse X with a column of 1e7 + N(0, 1) left its coefficient at
    # 0 (see the estimator's test): their scores are those of the centred data's fits.
    rng = np.random.RandomState(0)
    X = rng.randn(90, 3)
    y = X @ [1.0, 2.0, 3.0] + 0.5 * rng.randn(90)
    far = X.copy()
    far[:, 0] += 1e7
    centred = GDRegressorCV(alphas=[1e-3, 1e-1], cv=3).fit(X, y)
    search = GDRegressorCV(alphas=[1e-3, 1e-1], cv=3).fit(sp.csr_matrix(far), y)
    assert_allclose(search.cv_results_["mean_test_score"],
                    centred.cv_results_["mean_test_score"], rtol=1e-6)
    assert_allclose(search.best_estimator_.coef_, centred.best_estimator_.coef_, rtol=1e-6)
    # The grid of alphas=n too: its alpha_max summed X^T r over the column of 1e7 (with
    # targets of 1e11, 1.65 where it is 0.43), and the scores followed it.
    grid = GDRegressorCV(alphas=4, cv=3).fit(X, y + 1e11)
    far_grid = GDRegressorCV(alphas=4, cv=3).fit(sp.csr_matrix(far), y + 1e11)
    assert_allclose(far_grid.alphas_, grid.alphas_, rtol=1e-6)
    assert_allclose(far_grid.cv_results_["mean_test_score"],
                    grid.cv_results_["mean_test_score"], rtol=1e-5)


def test_a_scorer_sees_the_rows_and_a_model_of_the_data_as_given():
    # A column far off zero is centred for the fits, and an empty column of sparse X
    # dropped: the scorer was handed the centred rows without it, and a fold model of
    # those, whose predictions of the rows as given were 25 000 off.
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=90), 1e6 + rng.normal(size=90)]
    y = X[:, 0] + 0.5 * (X[:, 1] - 1e6) + 0.1 * rng.normal(size=90)
    seen = {"GridSearchCV": [], "GDRegressorCV": []}

    def scorer(name):
        def score(estimator, X_test, y_test):
            seen[name].append((X_test.copy(), estimator.predict(X[:5])))
            return estimator.score(X_test, y_test)
        return score

    grid = GridSearchCV(GDRegressor(), {"alpha": [1e-3]}, cv=KFold(3),
                        scoring=scorer("GridSearchCV")).fit(X, y)
    search = GDRegressorCV(alphas=[1e-3], cv=KFold(3),
                           scoring=scorer("GDRegressorCV")).fit(X, y)
    for (rows, predicted), (given, expected) in zip(seen["GDRegressorCV"],
                                                    seen["GridSearchCV"][:3], strict=True):
        assert_array_equal(rows, given)
        assert_allclose(predicted, expected, rtol=1e-6)
    assert_allclose(search.cv_results_["mean_test_score"],
                    grid.cv_results_["mean_test_score"], rtol=1e-8)
    # Sparse X with empty columns: the scorer's rows and model have all the columns.
    X_sparse = sp.random(200, 3000, density=0.002, format="csr", random_state=0)
    target = np.asarray(X_sparse.sum(axis=1)).ravel() + 0.1 * rng.normal(size=200)
    shapes = []

    def widths(estimator, X_test, y_test):
        shapes.append((X_test.shape[1], estimator.coef_.shape[-1],
                       estimator.n_features_in_))
        return estimator.score(X_test, y_test)

    GDRegressorCV(alphas=[1e-3], cv=3, scoring=widths).fit(X_sparse, target)
    assert set(shapes) == {(3000, 3000, 3000)}


def test_targets_far_off_zero_are_fitted_and_scored_as_grid_search_does():
    # Least squares' targets 1e12 off zero: the search's fits did not centre them, as the
    # estimator's do, and its scores were up to 4e-5 off GridSearchCV's.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 1e12 + X @ [0.05, 0.02, 0.01] + 0.02 * rng.normal(size=300)
    grid = GridSearchCV(GDRegressor(), {"alpha": [1e-4, 1e-2, 1.0]}, cv=KFold(3)).fit(X, y)
    search = GDRegressorCV(alphas=[1e-4, 1e-2, 1.0], cv=KFold(3)).fit(X, y)
    assert_allclose(search.cv_results_["mean_test_score"],
                    grid.cv_results_["mean_test_score"], rtol=1e-6)


def test_a_scorer_that_fails_on_some_fits_scores_them_nan_as_grid_search_does():
    # It aborted the whole search; GridSearchCV(error_score=np.nan) scores them NaN, warns
    # and goes on. (One that fails on every fit cannot score the problem: it raises.)
    X, y = _binary()

    def scorer(estimator, X_test, y_test):
        if estimator.alpha > 1e-2:
            raise ZeroDivisionError("undefined here")
        return estimator.score(X_test, y_test)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        grid = _grid_search(GDClassifier(), {"alpha": [1e-3, 1e-1]}, X, y, cv=3,
                            scoring=scorer)
    with pytest.warns(UserWarning, match="failed on 3 of the 6 fits .*ZeroDivisionError"):
        search = GDClassifierCV(alphas=[1e-3, 1e-1], cv=3, scoring=scorer).fit(X, y)
    assert_allclose(search.cv_results_["mean_test_score"],
                    grid.cv_results_["mean_test_score"], rtol=1e-8)
    assert search.best_params_["alpha"] == 1e-3

    def always(estimator, X_test, y_test):
        raise ZeroDivisionError("undefined")

    with pytest.raises(ZeroDivisionError):
        GDClassifierCV(alphas=[1e-3], cv=3, scoring=always).fit(X, y)


def test_a_scorer_without_sample_weight_scores_unweighted_and_says_so():
    # A plain callable (estimator, X, y) was passed sample_weight=: a TypeError.
    X, y = _binary()
    weight = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))

    def scorer(estimator, X_test, y_test):
        return estimator.score(X_test, y_test)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        grid = GridSearchCV(GDClassifier(), {"alpha": [1e-3, 1e-1]}, cv=3,
                            scoring=scorer).fit(X, y, sample_weight=weight)
    with pytest.warns(UserWarning, match="takes no sample_weight argument"):
        search = GDClassifierCV(alphas=[1e-3, 1e-1], cv=3, scoring=scorer).fit(
            X, y, sample_weight=weight)
    assert_allclose(search.cv_results_["mean_test_score"],
                    grid.cv_results_["mean_test_score"], rtol=1e-8)


def test_a_scorer_must_return_a_number():
    # An array or a dict raised a bare TypeError from float().
    X, y = _binary()
    for value in (np.array([0.5, 0.6]), {"a": 0.5}, "0.5"):
        with pytest.raises(ValueError, match="must return a number, got"):
            GDClassifierCV(alphas=[1e-3], cv=3,
                           scoring=lambda estimator, X, y, v=value: v).fit(X, y)


def test_boolean_mask_folds_of_wide_x_are_the_folds_as_indices():
    # Masks were sliced in blocks of 256 rows as if they were indices: an IndexError
    # where a block of X holds fewer rows than X (2 100 columns).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2100))
    y = X[:, 0] + rng.normal(size=600)
    indices = list(KFold(2).split(X))
    masks = [tuple(np.isin(np.arange(600), rows) for rows in split) for split in indices]
    by_mask = GDRegressorCV(alphas=[1e-1], cv=masks).fit(X, y)
    by_index = GDRegressorCV(alphas=[1e-1], cv=indices).fit(X, y)
    assert_array_equal(by_mask.cv_results_["mean_test_score"],
                       by_index.cv_results_["mean_test_score"])


def test_a_search_warns_of_non_finite_mean_scores_and_of_feature_names_once():
    X, y = _binary()
    with pytest.warns(UserWarning, match="One or more of the test scores are non-finite"):
        GDClassifierCV(learning_rates=["auto", 1e6], alphas=[1e-3], cv=3).fit(X, y)
    pd = pytest.importorskip("pandas")
    search = GDClassifierCV(alphas=[1e-3], cv=3).fit(
        pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]), y)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search.predict(X)
    assert len([w for w in record if "feature names" in str(w.message)]) == 1


def test_a_grid_of_alphas_is_spread_after_the_folds_are_checked():
    # alphas=int spread its grid first, and its "the gradient at zero is 0" came before
    # the folds' own errors (one sample: 5 splits; one class).
    X, y = _binary()
    with pytest.raises(ValueError, match="n_splits=5 greater than the number of samples"):
        GDRegressorCV(alphas=3).fit(X[:1], y[:1].astype(float))
    weight = (y == 0).astype(float)
    with pytest.raises(ValueError, match="class"):
        GDClassifierCV(alphas=3, cv=3).fit(X, y, sample_weight=weight)


def test_folds_weighting_rows_as_the_whole_data_share_its_gram_matrix(monkeypatch):
    # One Gram pass over X for the search, one over each fold's held-out rows: a fold's
    # fits give GridSearchCV's scores with it as with their own pass.
    X, y = make_regression(400, 8, noise=5.0, random_state=0)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, 400)
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    grid = dict(alphas=[1e-3, 1e-1], cv=folds)
    calls = []
    of = curvature.FoldGrams.of
    monkeypatch.setattr(curvature.FoldGrams, "of",
                        lambda self, *args: calls.append(of(self, *args)) or calls[-1])
    shared = GDRegressorCV(**grid).fit(X, y, sample_weight=weight)
    assert len(calls) == 4 and all(matrix is not None for matrix in calls)
    monkeypatch.setattr(curvature.FoldGrams, "of", lambda self, *args: None)
    own = GDRegressorCV(**grid).fit(X, y, sample_weight=weight)
    assert_allclose(shared.cv_results_["mean_test_score"],
                    own.cv_results_["mean_test_score"], rtol=1e-12)
    assert_allclose(shared.coef_, own.coef_, rtol=1e-10)


def test_training_rows_a_split_repeats_count_as_often_as_in_grid_search():
    # Bootstrap-style folds: GridSearchCV fits X[train], repeats included; the fold's
    # weights counted a repeated row once (a helper's audit).
    X, y = load_diabetes(return_X_y=True)
    rows = np.arange(len(y))
    train = np.r_[rows[rows % 3 != 0], rows[rows % 3 == 1]]
    folds = [(train, rows[rows % 3 == 0])]
    search = GDRegressorCV(alphas=[1e-2], cv=folds).fit(X, y)
    grid = GridSearchCV(GDRegressor(), {"alpha": [1e-2]}, cv=folds).fit(X, y)
    assert_allclose(search.cv_results_["split0_test_score"],
                    grid.cv_results_["split0_test_score"], rtol=1e-8)
