"""Behaviour of GDRegressor and GDClassifier: fitting, prediction, state and input checks."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from skgd import DivergenceError, GDClassifier, GDClassifierCV, GDRegressor, GDRegressorCV
from skgd.losses import BinaryCrossEntropy, LinearObjective, SquaredError


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def cancer():
    return _standardised(load_breast_cancer)


@pytest.fixture(scope="module")
def iris():
    return _standardised(load_iris)


@pytest.fixture(scope="module")
def diabetes():
    return _standardised(load_diabetes)


FITTED_STATE = ("coef_", "intercept_", "n_iter_", "n_features_in_", "t_", "loss_curve_",
                "learning_rate_curve_")


def _snapshot(model):
    return {name: np.copy(getattr(model, name)) for name in FITTED_STATE}


def _assert_unchanged(model, snapshot):
    for name, value in snapshot.items():
        assert_array_equal(getattr(model, name), value, err_msg=name)


# -- update rules and batch modes -----------------------------------------------------

SOLVERS = {
    "accelerated": {"solver": "accelerated"},
    "gd": {"solver": "gd"},
    "gd-momentum": {"solver": "gd", "momentum": 0.9},
    "gd-nesterov": {"solver": "gd", "momentum": 0.9, "nesterov": True},
    "adam": {"solver": "adam"},
}
BATCHES = {"full-batch": None, "minibatch-32": 32, "sgd": 1}


@pytest.mark.parametrize("batch", list(BATCHES))
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_every_solver_and_batch_mode_fits_breast_cancer(cancer, solver, batch):
    X, y = cancer
    model = GDClassifier(batch_size=BATCHES[batch], random_state=0, **SOLVERS[solver])
    model.fit(X, y)
    assert model.score(X, y) > 0.97


# -- solver="auto" and L-BFGS -------------------------------------------------------------

@pytest.mark.parametrize("settings, chosen", [
    ({}, "lbfgs"),
    ({"batch_size": 32}, "accelerated"),
    ({"penalty": "l1", "alpha": 1e-3}, "lbfgs"),
    ({"penalty": "l1", "alpha": 1e-3, "preconditioner": "diagonal"}, "accelerated"),
    ({"learning_rate": 0.5}, "accelerated"),
    ({"learning_rate": 1.0}, "lbfgs"),
    ({"learning_rate": 1.0, "preconditioner": None}, "accelerated"),
    ({"decay": "inverse"}, "accelerated"),
    ({"solver": "gd"}, "gd"),
    ({"solver": "lbfgs", "learning_rate": 0.5}, "lbfgs"),
], ids=["full-batch", "minibatch", "l1-full-metric", "l1-diagonal", "float-rate",
        "the-auto-step", "raw-step", "decay", "gd", "lbfgs"])
def test_auto_solver_takes_lbfgs_only_for_a_smooth_full_batch_fit_at_the_auto_step(
        cancer, settings, chosen):
    X, y = cancer
    model = GDClassifier(**{"alpha": 1e-3, "random_state": 0, "solver": "auto",
                            **settings}).fit(X, y)
    assert model.solver_ == chosen
    assert model.score(X, y) > 0.97


def test_the_default_solver_is_lbfgs_for_a_full_batch_fit(cancer):
    X, y = cancer
    assert GDClassifier(alpha=1e-3).fit(X, y).solver_ == "lbfgs"


def test_partial_fit_under_auto_solver_is_accelerated(cancer):
    X, y = cancer
    model = GDClassifier(solver="auto").partial_fit(X, y, classes=[0, 1])
    assert model.solver_ == "accelerated"


@pytest.mark.parametrize("settings, call", [
    ({"batch_size": 32}, "fit"),
    ({"penalty": "l1", "alpha": 1e-3, "preconditioner": "diagonal"}, "fit"),
    ({}, "partial_fit"),
], ids=["minibatch", "l1-diagonal", "partial_fit"])
def test_lbfgs_outside_a_smooth_full_batch_fit_is_a_clear_error(cancer, settings, call):
    X, y = cancer
    model = GDClassifier(solver="lbfgs", **settings)
    kwargs = {"classes": [0, 1]} if call == "partial_fit" else {}
    if call == "partial_fit":
        # Hidden, as MLPClassifier hides it for lbfgs; the error's cause says why.
        with pytest.raises(AttributeError, match="no attribute 'partial_fit'") as info:
            getattr(model, call)(X, y, **kwargs)
        assert re.search("solver='lbfgs'.*solver='accelerated'", str(info.value.__cause__))
        return
    with pytest.raises(ValueError, match="solver='lbfgs' searches a line.*solver='accelerated'"):
        getattr(model, call)(X, y, **kwargs)


@pytest.mark.parametrize("Estimator, data", [(GDRegressor, "diabetes"),
                                             (GDClassifier, "cancer"),
                                             (GDClassifier, "iris")])
def test_lbfgs_and_accelerated_reach_the_same_optimum(request, Estimator, data):
    X, y = request.getfixturevalue(data)
    alpha = 1.0 / len(y)
    fits = [Estimator(alpha=alpha, solver=solver, tol=1e-10, max_iter=5000).fit(X, y)
            for solver in ("lbfgs", "accelerated")]
    assert_allclose(fits[0].coef_, fits[1].coef_, rtol=1e-6, atol=1e-6)
    assert_allclose(fits[0].intercept_, fits[1].intercept_, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 1e8])
def test_a_column_of_a_huge_scale_leaves_the_softmax_s_newton_steps_exact(scale):
    # The exact Hessian lifted the intercepts' null direction by the whole matrix's mean
    # curvature: a column of 1e8 made it 1e14 times theirs, and in the Jacobi scale their
    # own curvature fell below rounding: the fit stopped after 1000 epochs at 0.36
    # (optimality 0.2) where the optimum is 0.158.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(300, 8)), scale * rng.normal(size=300)])
    score = X[:, :3].sum(axis=1)
    y = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier().fit(X, y)
    reference = GDClassifier(preconditioner="diagonal", solver="accelerated", tol=1e-9,
                             max_iter=5000).fit(X, y)

    def objective(fitted):
        raw = X @ fitted.coef_.T + fitted.intercept_
        loss = -np.mean(log_softmax(raw, axis=1)[np.arange(len(y)), y])
        return loss + fitted.alpha / 2 * np.sum(fitted.coef_**2)

    assert model.optimality_ < 1e-10
    assert objective(model) <= objective(reference) + 1e-12


@pytest.mark.parametrize("n_classes", [0, 2, 3])
def test_a_column_far_off_its_centre_is_fitted_to_the_optimum(n_classes):
    # A column of 1e8 +- 1 beside the intercept: L-BFGS's metric, factored about 0,
    # lost the column's spread to rounding and cut its direction; the fit stopped as
    # converged 3e-3 above Ridge's objective (least squares). About the columns' centre
    # the fits end at the optimum of the same problem on centred X (an intercept takes
    # up the centre; the L2 term does not see it).
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(400, 5)), 1e8 + rng.normal(size=400)])
    centred = X - X.mean(axis=0)
    score = centred[:, 0] + centred[:, 5] + rng.normal(size=400)
    alpha = 1e-3
    y = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        if n_classes == 0:
            model = GDRegressor(alpha=alpha).fit(X, score)
            reference = GDRegressor(alpha=alpha).fit(centred, score)
        else:
            y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
            model = GDClassifier(alpha=alpha).fit(X, y)
            reference = GDClassifier(alpha=alpha).fit(centred, y)

    def objective(fitted, data):
        if n_classes == 0:
            loss = 0.5 * np.mean((fitted.predict(data) - score) ** 2)
        else:
            raw = fitted.decision_function(data)
            raw = np.column_stack([np.zeros_like(raw), raw]) if raw.ndim == 1 else raw
            loss = -np.mean(log_softmax(raw, axis=1)[np.arange(len(y)), y])
        return loss + alpha / 2 * np.sum(fitted.coef_**2)

    # Optimal to its tol (1e-5 on the optimality: about its square on the gap), as far as
    # predictions on X tell (a prediction rounds to 1e8 eps of the coefficient).
    assert objective(model, X) <= objective(reference, centred) * (1 + 1e-7)
    assert_allclose(model.coef_, reference.coef_, rtol=1e-4, atol=1e-6)
    # partial_fit goes on in that metric, its steps bounded about the centre too.
    if n_classes:
        model.partial_fit(X, y)
        assert model.score(X, y) >= reference.score(centred, y) - 0.01


def test_the_line_search_tells_the_rounding_of_a_prediction_far_off_zero():
    # A search's fold (a third of the rows at weight 0) on a column of 1e8 +- 1: the
    # objective rounds at 1e-9 of itself there (a raw prediction sums c w and b, each
    # about 1e8), and every step near the optimum was turned down for rises of that
    # size: 1 000 epochs at optimality 1.6e-5, one fit of GDClassifierCV warned.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=(600, 5)), 1e8 + rng.normal(size=600)])
    centred = X - X.mean(axis=0)
    score = centred[:, 0] + centred[:, 5] + rng.normal(size=600)
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    weight = np.ones(600)
    weight[2::3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier(alpha=1e-4).fit(X, y, sample_weight=weight)
        GDClassifierCV(alphas=[1e-4, 1e-3], cv=3).fit(X, y)
    reference = GDClassifier(alpha=1e-4).fit(centred, y, sample_weight=weight)
    assert model.n_iter_ < 30
    assert_allclose(model.coef_, reference.coef_, rtol=1e-4, atol=1e-6)


def test_lbfgs_cuts_a_huge_first_step_to_the_floor_and_never_accepts_a_rise(iris):
    """A first step 1000 times the safe one promises far more than the cross-entropy's
    value above its floor, 0: it starts where the metric's model reaches 0 instead, and
    does not rise. The fit converges, to the default rate's fit, and each epoch's
    objective is either a new best (within the rounding the line search cannot tell from
    it, where it judges by the gradient) or a rejected trial that the next accepted point
    improves on. (The backtracking of a step without a floor: tests/test_engine.py.)"""
    X, y = iris
    model = GDClassifier(alpha=1e-2, solver="lbfgs", learning_rate=1e3, tol=1e-9).fit(X, y)
    reference = GDClassifier(alpha=1e-2, solver="accelerated", tol=1e-10).fit(X, y)
    assert model.optimality_ <= model.tol
    curve = np.array(model.loss_curve_)
    accepted = np.minimum.accumulate(curve)
    assert 0 < curve[1] < curve[0]
    assert_allclose(accepted[-1], curve[-1], rtol=1e-14, atol=0)
    assert model.n_iter_ <= GDClassifier(alpha=1e-2, solver="lbfgs", tol=1e-9).fit(
        X, y).n_iter_ + 2
    assert_allclose(model.coef_, reference.coef_, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("batch_size", [1, 32], ids=["sgd", "minibatch-32"])
@pytest.mark.parametrize("solver", ["accelerated", "adam"])
def test_minibatch_runs_are_reproducible_and_depend_on_the_seed(cancer, solver, batch_size):
    X, y = cancer

    def fit(random_state, shuffle=True):
        return GDClassifier(solver=solver, batch_size=batch_size, shuffle=shuffle,
                            random_state=random_state, max_iter=2, tol=None).fit(X, y)

    assert_array_equal(fit(0).coef_, fit(0).coef_)
    assert_array_equal(fit(0).intercept_, fit(0).intercept_)
    assert not np.array_equal(fit(0).coef_, fit(1).coef_)
    # Without shuffling the batches come in order, so the seed plays no part.
    assert_array_equal(fit(0, shuffle=False).coef_, fit(1, shuffle=False).coef_)


def test_grid_search_over_learning_rate_in_a_pipeline():
    X, y = load_digits(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), GDClassifier(alpha=1e-3, tol=1e-3))
    grid = {"gdclassifier__learning_rate": [0.01, 0.1, "auto"]}
    with warnings.catch_warnings():
        # The smallest fixed rate may use up max_iter; that is the grid's business.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipeline, grid, cv=3).fit(X, y)

    assert search.best_params_["gdclassifier__learning_rate"] in grid[
        "gdclassifier__learning_rate"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.9
    assert search.best_estimator_.score(X, y) > 0.9


# -- divergence and failed fits -------------------------------------------------------

@pytest.mark.parametrize("Estimator, loader", [(GDRegressor, load_diabetes),
                                               (GDClassifier, load_breast_cancer)],
                         ids=["regressor", "classifier"])
def test_too_large_learning_rate_raises_divergence_error(Estimator, loader):
    X, y = loader(return_X_y=True)
    model = Estimator(learning_rate=1e3, solver="gd")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(DivergenceError) as info:
            model.fit(X, y)

    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert re.search(r"learning_rate\s*=\s*(1000(\.0*)?|1(\.0*)?e\+?0*3)\b", message)
    assert re.search(r"epoch \d+", message)
    assert "'auto'" in message
    assert not hasattr(model, "coef_")


def _nan_at(X, index):
    X = np.array(X, dtype=float)
    X.flat[index] = np.nan
    return X


_DIVERGE = {"learning_rate": 1e3, "solver": "gd"}

# (estimator, data, make, error): make(X, y) -> (parameters, X, y) of a fit that raises.
FAILING_FITS = {
    "regressor-divergence": (GDRegressor, "diabetes",
                             lambda X, y: (_DIVERGE, X * 10, y), DivergenceError),
    "regressor-nan-in-y": (GDRegressor, "diabetes",
                           lambda X, y: ({}, X, _nan_at(y, 3)), ValueError),
    # Penalised, so that the optimum is bounded: a warm start from the (near-separating)
    # unpenalised fit is far from it, and 1000 times the safe step overshoots it.
    "classifier-divergence": (GDClassifier, "cancer_unscaled",
                              lambda X, y: ({**_DIVERGE, "alpha": 1e-2}, X, y),
                              DivergenceError),
    "classifier-nan-in-X": (GDClassifier, "cancer",
                            lambda X, y: ({}, _nan_at(X, 7), y), ValueError),
    "classifier-other-n_features-and-nan": (
        GDClassifier, "cancer", lambda X, y: ({}, np.full((len(y), 3), np.nan), y),
        ValueError),
    "classifier-one-class": (GDClassifier, "cancer",
                             lambda X, y: ({}, X, np.zeros_like(y)), ValueError),
}


@pytest.fixture(scope="module")
def cancer_unscaled():
    return load_breast_cancer(return_X_y=True)


@pytest.mark.parametrize("failure", list(FAILING_FITS))
@pytest.mark.parametrize("warm_start", [True, False], ids=["warm", "cold"])
def test_failed_fit_leaves_the_fitted_model_untouched(request, failure, warm_start):
    Estimator, data, make, error = FAILING_FITS[failure]
    X, y = request.getfixturevalue(data)
    model = Estimator(warm_start=warm_start, tol=None, max_iter=200).fit(X, y)
    before = _snapshot(model)
    predictions = model.predict(X)

    params, X_bad, y_bad = make(X, y)
    model.set_params(**params)
    with pytest.raises(error):
        model.fit(X_bad, y_bad)

    _assert_unchanged(model, before)
    if Estimator is GDClassifier:
        assert_array_equal(model.classes_, np.unique(y))
    assert_array_equal(model.predict(X), predictions)


def test_failed_partial_fit_leaves_the_model_untouched(cancer):
    X, y = cancer
    model = GDClassifier().partial_fit(X, y, classes=[0, 1])
    before = _snapshot(model)
    with pytest.raises(ValueError):
        model.partial_fit(X, np.full_like(y, 2))
    _assert_unchanged(model, before)


# -- sparse input and dtypes ----------------------------------------------------------

def _sparsified(X):
    return np.where(np.abs(X) < 0.7, 0.0, X)


@pytest.mark.parametrize("batch_size", [None, 32], ids=["full-batch", "minibatch-32"])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
@pytest.mark.parametrize("Estimator, loader", [(GDRegressor, load_diabetes),
                                               (GDClassifier, load_breast_cancer),
                                               (GDClassifier, load_iris)],
                         ids=["regressor", "binary-classifier", "multiclass-classifier"])
def test_sparse_csr_input_gives_the_dense_result(Estimator, loader, penalty, batch_size):
    X, y = _standardised(loader)
    X = _sparsified(X)
    X_csr = sp.csr_matrix(X)
    assert X_csr.nnz < 0.6 * X.size
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))

    # Sparse and dense products round differently in the last bit. Full-batch descent
    # converges, so that never grows; with noisy mini-batch gradients the restarts of
    # accelerated descent amplify it over hundreds of epochs, so those runs stay short.
    max_iter = 200 if batch_size is None else 30

    def fit(data):
        return Estimator(alpha=0.01, penalty=penalty, batch_size=batch_size, random_state=0,
                         max_iter=max_iter, tol=None).fit(data, y, sample_weight)

    dense, sparse = fit(X), fit(X_csr)
    # At the optimum, a last-bit difference of the Hessians moves the coefficients by it
    # times the condition number (1e5 for the breast-cancer table's; proximal Newton's L1
    # fits land on it: 1.5e-10 apart on the minimum versions' BLAS).
    atol = 1e-9 if batch_size is None else 1e-10
    assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=atol)
    assert_allclose(sparse.intercept_, dense.intercept_, rtol=0, atol=atol)
    assert_allclose(sparse.predict(X_csr), dense.predict(X), rtol=1e-10, atol=1e-10)
    if penalty == "l1":
        assert_array_equal(sparse.coef_ == 0, dense.coef_ == 0)


CLASSIFIER_OUTPUTS = ["predict_proba", "predict_log_proba", "decision_function"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_classifier_keeps_the_input_float_dtype(cancer, iris, dtype, data):
    X, y = cancer if data == "binary" else iris
    X = X.astype(dtype)
    model = GDClassifier(max_iter=50, tol=None).fit(X, y)

    assert model.coef_.dtype == dtype
    assert np.asarray(model.intercept_).dtype == dtype
    for method in CLASSIFIER_OUTPUTS:
        assert getattr(model, method)(X).dtype == dtype, method
    assert_array_equal(np.unique(model.predict(X)), np.unique(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("targets", ["1d", "2d"])
def test_regressor_keeps_the_input_float_dtype(diabetes, dtype, targets):
    X, y = diabetes
    y = y if targets == "1d" else np.column_stack([y, -y])
    model = GDRegressor(max_iter=50, tol=None).fit(X.astype(dtype), y)

    assert model.coef_.dtype == dtype
    assert np.asarray(model.intercept_).dtype == dtype
    assert model.predict(X.astype(dtype)).dtype == dtype


def test_integer_input_is_fitted_in_float64():
    X, y = load_iris(return_X_y=True)
    model = GDClassifier(max_iter=20, tol=None).fit((X * 10).astype(np.int64), y)
    assert model.coef_.dtype == np.float64
    assert model.predict_proba(X).dtype == np.float64


# -- partial_fit and warm_start -------------------------------------------------------

def test_classifier_partial_fit_over_chunks_learns(cancer):
    X, y = cancer
    chunks = np.array_split(np.arange(len(y)), 6)
    model = GDClassifier(batch_size=32, random_state=0)
    n_updates = n_epochs = 0
    for _ in range(5):
        for rows in chunks:
            model.partial_fit(X[rows], y[rows], classes=np.array([0, 1]))
            n_updates += -(-len(rows) // 32)
            n_epochs += 1
            assert model.t_ == n_updates
            assert model.n_iter_ == len(model.loss_curve_) == n_epochs
            assert len(model.learning_rate_curve_) == n_epochs

    assert_array_equal(model.classes_, [0, 1])
    assert model.score(X, y) > 0.9


def test_partial_fit_accepts_chunks_missing_a_class(iris):
    X, y = iris
    model = GDClassifier()
    model.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    model.partial_fit(X[y == 2], y[y == 2])
    assert_array_equal(model.classes_, [0, 1, 2])
    assert model.coef_.shape == (3, X.shape[1])


def test_first_partial_fit_needs_classes(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="classes"):
        GDClassifier().partial_fit(X, y)


def test_partial_fit_with_labels_outside_classes_raises(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes"):
        GDClassifier().partial_fit(X, y, classes=[0, 1])


def test_partial_fit_after_fit_names_the_classes_fit_fixed(iris):
    # The error said "the classes of the first partial_fit call" after a fit.
    X, y = iris
    model = GDClassifier(max_iter=5, tol=None).fit(X, y)
    with pytest.raises(ValueError, match=r"differs from the model's classes_ .* fixed by "
                                         r"fit or the first partial_fit call"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])


@pytest.mark.parametrize("Estimator, data", [(GDRegressor, "diabetes"),
                                             (GDClassifier, "iris")],
                         ids=["regressor", "classifier"])
def test_repeated_partial_fit_equals_fit_for_as_many_epochs(request, Estimator, data):
    X, y = request.getfixturevalue(data)
    n_epochs = 25
    extra = {"classes": np.unique(y)} if Estimator is GDClassifier else {}
    # partial_fit steps in the plain metric under preconditioner="auto" (a stream's first
    # batch need not represent the rest) and without momentum (a stream's batches are
    # noisy): the fit compared with it does too, at the same rate.
    settings = {"decay": "inverse", "decay_rate": 0.1, "solver": "gd",
                "learning_rate": 0.1}
    model = Estimator(**settings)
    for _ in range(n_epochs):
        model.partial_fit(X, y, **extra)
    assert model.preconditioner_ is None
    reference = Estimator(**settings, max_iter=n_epochs, tol=None,
                          preconditioner=None).fit(X, y)

    assert_allclose(model.coef_, reference.coef_, rtol=1e-12, atol=1e-12)
    assert_allclose(model.intercept_, reference.intercept_, rtol=1e-12, atol=1e-12)
    assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=1e-12)
    assert_allclose(model.learning_rate_curve_, reference.learning_rate_curve_, rtol=1e-12)
    assert model.t_ == reference.t_ == n_epochs


def test_regressor_partial_fit_over_chunks_learns(diabetes):
    X, y = diabetes
    ols_r2 = GDRegressor(tol=None, max_iter=500).fit(X, y).score(X, y)
    chunks = np.array_split(np.arange(len(y)), 4)
    model = GDRegressor()
    for _ in range(20):
        for rows in chunks:
            model.partial_fit(X[rows], y[rows])
    assert model.score(X, y) > ols_r2 - 0.005
    assert model.n_iter_ == len(model.loss_curve_) == 80


def test_warm_start_starts_from_the_previous_solution(cancer):
    X, y = cancer
    model = GDClassifier(warm_start=True, alpha=1e-3, tol=1e-6, max_iter=5000).fit(X, y)
    first_epochs, first_loss = model.n_iter_, model.loss_curve_[-1]
    model.fit(X, y)
    assert model.n_iter_ < first_epochs
    assert model.loss_curve_[0] <= first_loss + 1e-6


def test_cold_refit_repeats_the_first_fit(cancer):
    X, y = cancer
    model = GDClassifier(decay="inverse", decay_rate=0.5, max_iter=20, tol=None).fit(X, y)
    first_coef, first_rates = model.coef_.copy(), list(model.learning_rate_curve_)
    model.fit(X, y)
    assert_array_equal(model.coef_, first_coef)
    assert model.learning_rate_curve_ == first_rates


def test_warm_start_continues_the_decay_schedule(cancer):
    X, y = cancer
    rate, decay_rate = 0.2, 0.5
    model = GDClassifier(learning_rate=rate, decay="inverse", decay_rate=decay_rate,
                         warm_start=True, max_iter=7, tol=None).fit(X, y)
    assert_allclose(model.learning_rate_curve_,
                    [rate / (1 + decay_rate * t) for t in range(7)], rtol=1e-12)
    model.set_params(max_iter=4)
    model.fit(X, y)
    assert_allclose(model.learning_rate_curve_,
                    [rate / (1 + decay_rate * t) for t in range(7, 11)], rtol=1e-12)


def test_partial_fit_continues_the_decay_schedule(cancer):
    X, y = cancer
    rate, decay_rate = 0.2, 0.5
    model = GDClassifier(learning_rate=rate, decay="inverse", decay_rate=decay_rate)
    for _ in range(5):
        model.partial_fit(X, y, classes=[0, 1])
    assert_allclose(model.learning_rate_curve_,
                    [rate / (1 + decay_rate * t) for t in range(5)], rtol=1e-12)


# -- early stopping -------------------------------------------------------------------

def _held_out_rows(y_encoded, validation_fraction, random_state, stratify):
    """The split ``fit`` makes: train_test_split of the row indices, seeded as in fit."""
    return train_test_split(np.arange(len(y_encoded)), test_size=validation_fraction,
                            random_state=check_random_state(random_state),
                            stratify=y_encoded if stratify else None)


def test_classifier_early_stopping_keeps_the_best_epoch(cancer):
    X, y = cancer
    labels = load_breast_cancer().target_names[y]
    # fit stratifies on the encoded labels, the indices into the sorted classes_.
    encoded = np.searchsorted(np.unique(labels), labels)
    model = GDClassifier(early_stopping=True, validation_fraction=0.2, learning_rate=0.05,
                         solver="gd", n_iter_no_change=10, random_state=3).fit(X, labels)

    scores = model.validation_scores_
    assert len(scores) == model.n_iter_
    assert model.best_validation_score_ == max(scores)
    train, val = _held_out_rows(encoded, 0.2, 3, stratify=True)
    assert model.score(X[val], labels[val]) == pytest.approx(model.best_validation_score_,
                                                             rel=1e-12)

    # The returned weights are those after the best epoch: plain descent on the training
    # rows for that many epochs gives the same model.
    best_epoch = int(np.argmax(scores)) + 1
    assert best_epoch < model.n_iter_
    replay = GDClassifier(learning_rate=0.05, solver="gd", max_iter=best_epoch,
                          tol=None).fit(X[train], labels[train])
    assert_allclose(model.coef_, replay.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(model.intercept_, replay.intercept_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("learning_rate", [1e3, 1e10, 1e20, 1e300])
def test_lbfgs_reaches_the_optimum_whatever_the_first_steps_rate(learning_rate):
    # Under L-BFGS the rate scales the first step only, which its line search shortens:
    # the fit is the default's. (With the rate inside the step's direction, the
    # optimality was divided by it, and least squares stopped 0.12 from the optimum
    # without a warning; at 1e20 every restart was turned down, 1 000 epochs at 0.)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = X @ [1.0, 2.0, 3.0, 4.0] + rng.normal(size=100)
    labels = (X[:, 0] + rng.normal(size=100) > 0).astype(int)
    # With L1 the optimality is the gradient mapping's, which shrank with the rate (at
    # 1e10 least squares stopped with coefficients 0.11 off, no warning): it is measured at
    # the metric's own step. Without a preconditioner that step is 1/L.
    settings = [{}, {"penalty": "l1", "alpha": 0.05}, {"preconditioner": None}]
    for Estimator, target in ((GDRegressor, y), (GDClassifier, labels)):
        for setting in settings:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                model = Estimator(solver="lbfgs", learning_rate=learning_rate,
                                  **setting).fit(X, target)
            reference = Estimator(solver="lbfgs", **setting).fit(X, target)
            assert model.n_iter_ < 30
            # (L-BFGS in the plain metric stops at tol, both fits within it.)
            tol = 1e-9 if setting.get("preconditioner", "auto") else 1e-4
            assert_allclose(model.coef_, reference.coef_, rtol=tol, atol=tol)
            assert_allclose(model.intercept_, reference.intercept_, rtol=tol, atol=tol)


def test_early_stopping_never_keeps_the_untrained_start():
    # L-BFGS's first epoch measures the start (its first step is the next epoch's). Two
    # positives in 100 rows: every epoch scores an accuracy of 1 on the held-out rows,
    # none beats the first by tol, and the start itself (every coefficient and the
    # intercept 0, probabilities of 1/2) was returned as the best.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = np.r_[np.ones(2, int), np.zeros(98, int)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GDClassifier(early_stopping=True, random_state=0).fit(X, y)
    assert model.solver_ == "lbfgs"
    assert np.all(np.asarray(model.validation_scores_) == 1.0)
    # The class prior at least: the intercept of the training rows' log-odds.
    assert model.intercept_[0] < -1.0
    assert model.predict_proba(X)[:, 1].mean() < 0.25


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_early_stopping_takes_a_step_before_a_stall_counts(Estimator):
    # The start's score is no stall either: with n_iter_no_change=1 the first epoch
    # (L-BFGS's measure of the start) counted as one, and the fit kept the zero model.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = X @ [1.0, 2.0, 3.0] + rng.randn(40)
    if Estimator is GDClassifier:
        y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Estimator(early_stopping=True, n_iter_no_change=1, random_state=0).fit(X, y)
    assert model.solver_ == "lbfgs"
    assert model.n_iter_ >= 2
    assert np.abs(model.coef_).max() > 0.2
    assert model.score(X, y) > 0.9


def test_regressor_early_stopping_scores_r2_on_the_held_out_rows(diabetes):
    X, y = diabetes
    model = GDRegressor(early_stopping=True, random_state=0, tol=1e-5).fit(X, y)

    assert model.best_validation_score_ == max(model.validation_scores_)
    _, val = _held_out_rows(y, 0.1, 0, stratify=False)
    assert model.score(X[val], y[val]) == pytest.approx(model.best_validation_score_,
                                                        rel=1e-12)
    assert r2_score(y[val], model.predict(X[val])) == pytest.approx(
        model.best_validation_score_, rel=1e-12)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_validation_attributes_only_with_early_stopping(cancer, Estimator):
    X, y = cancer
    model = Estimator(early_stopping=True, random_state=0).fit(X, y)
    assert hasattr(model, "validation_scores_")
    assert len(model.validation_loss_curve_) == model.n_iter_
    model.set_params(early_stopping=False).fit(X, y)
    assert not hasattr(model, "validation_scores_")
    assert not hasattr(model, "best_validation_score_")
    assert not hasattr(model, "validation_loss_curve_")


@pytest.mark.parametrize("scoring", [None, "loss", "neg_log_loss"])
def test_validation_loss_curve_is_the_held_out_objective_whatever_scoring(cancer, scoring):
    X, y = cancer
    model = GDClassifier(early_stopping=True, validation_fraction=0.2, learning_rate=0.05,
                         solver="gd", preconditioner=None, alpha=1e-3, penalty="elasticnet",
                         scoring=scoring, max_iter=15, tol=None, random_state=3).fit(X, y)
    train, val = _held_out_rows(y, 0.2, 3, stratify=True)
    # Replays of the first epochs on the training rows, scored on the validation rows by
    # the objective fit minimises (with its L1 part).
    losses = []
    for n_epochs in range(1, 16):
        replay = GDClassifier(learning_rate=0.05, solver="gd", preconditioner=None,
                              alpha=1e-3, penalty="elasticnet", max_iter=n_epochs,
                              tol=None).fit(X[train], y[train])
        w = np.concatenate([replay.coef_.ravel(), replay.intercept_])
        held_out = LinearObjective(BinaryCrossEntropy(), X[val], y[val].astype(float),
                                   alpha=1e-3, l1_ratio=0.15)
        losses.append(held_out.loss(w) + 1e-3 * 0.15 * np.abs(replay.coef_).sum())
    assert_allclose(model.validation_loss_curve_, losses, rtol=1e-10)
    if scoring == "loss":
        assert_allclose(model.validation_scores_, -np.array(losses), rtol=1e-10)
    else:
        # The stopping score is the scorer's, a curve of its own.
        assert not np.allclose(model.validation_scores_, -np.array(losses))


def test_partial_fit_keeps_the_validation_loss_curve(cancer):
    X, y = cancer
    model = GDClassifier(early_stopping=True, max_iter=5, tol=None, random_state=0).fit(X, y)
    curve = list(model.validation_loss_curve_)
    model.partial_fit(X, y)
    assert model.validation_loss_curve_ == curve


# -- predictions, attributes and options ----------------------------------------------

def test_l1_penalty_gives_exact_zeros(cancer):
    X, y = cancer
    l1 = GDClassifier(penalty="l1", alpha=0.02).fit(X, y)
    l2 = GDClassifier(penalty="l2", alpha=0.02).fit(X, y)
    assert np.sum(l1.coef_ == 0) >= 5
    assert np.all(l2.coef_ != 0)
    assert l1.score(X, y) > 0.9


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_probabilities_and_log_probabilities(cancer, iris, data):
    X, y = cancer if data == "binary" else iris
    model = GDClassifier(alpha=1e-3).fit(X, y)

    proba = model.predict_proba(X)
    assert proba.shape == (len(y), len(model.classes_))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))
    log_proba = model.predict_log_proba(X)
    # 1 - p, as scikit-learn computes the first column, is exact only in absolute terms,
    # so the logs agree tightly where the probability is not tiny.
    assert_allclose(np.exp(log_proba), proba, rtol=1e-10, atol=1e-15)
    usable = proba > 1e-6
    assert np.sum(usable) > len(y)
    assert_allclose(log_proba[usable], np.log(proba[usable]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_log_probabilities_stay_finite_for_huge_logits(cancer, iris, data):
    X, y = cancer if data == "binary" else iris
    model = GDClassifier(alpha=1e-3).fit(X, y)
    X_huge = X * 1e6

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        raw = model.decision_function(X_huge)
        log_proba = model.predict_log_proba(X_huge)
        proba = model.predict_proba(X_huge)

    assert np.all(np.isfinite(log_proba))
    assert np.max(np.abs(raw)) > 1e5
    expected = (np.column_stack([-np.logaddexp(0, raw), -np.logaddexp(0, -raw)])
                if raw.ndim == 1 else log_softmax(raw, axis=1))
    assert_allclose(log_proba, expected, rtol=1e-12)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_string_labels(cancer, iris, data):
    X, y = cancer if data == "binary" else iris
    names = np.array(["setosa", "versicolor", "virginica"] if data == "multiclass"
                     else ["benign", "malignant"])
    strings = names[y]
    by_string = GDClassifier(max_iter=100, tol=None).fit(X, strings)
    by_index = GDClassifier(max_iter=100, tol=None).fit(X, y)

    assert_array_equal(by_string.classes_, names)
    predicted = by_string.predict(X)
    assert set(predicted) <= set(names)
    assert_array_equal(predicted, names[by_index.predict(X)])
    assert_allclose(by_string.coef_, by_index.coef_, rtol=1e-12)
    assert by_string.score(X, strings) == by_index.score(X, y)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 1: 0.5, 2: 1.5}],
                         ids=["balanced", "dict"])
def test_class_weight_equals_the_equivalent_sample_weight(class_weight):
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if class_weight == "balanced":
        per_class = len(y) / (3 * np.bincount(y))
    else:
        per_class = np.array([class_weight[k] for k in range(3)])

    weighted = GDClassifier(class_weight=class_weight, max_iter=100, tol=None).fit(X, y)
    reference = GDClassifier(max_iter=100, tol=None).fit(X, y, sample_weight=per_class[y])
    unweighted = GDClassifier(max_iter=100, tol=None).fit(X, y)

    assert_allclose(weighted.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(weighted.intercept_, reference.intercept_, rtol=1e-12, atol=1e-14)
    assert not np.allclose(weighted.coef_, unweighted.coef_)


def test_class_weight_multiplies_sample_weight(cancer):
    X, y = cancer
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    class_weight = {0: 2.0, 1: 0.5}
    weighted = GDClassifier(class_weight=class_weight, max_iter=100, tol=None)
    weighted.fit(X, y, sample_weight)
    reference = GDClassifier(max_iter=100, tol=None).fit(
        X, y, sample_weight * np.array([2.0, 0.5])[y])
    assert_allclose(weighted.coef_, reference.coef_, rtol=1e-12, atol=1e-14)


def test_coef_shapes(cancer, iris, diabetes):
    X_bin, y_bin = cancer
    X_multi, y_multi = iris
    X_reg, y_reg = diabetes
    p_bin, p_multi, p_reg = X_bin.shape[1], X_multi.shape[1], X_reg.shape[1]

    binary = GDClassifier(max_iter=20, tol=None).fit(X_bin, y_bin)
    assert binary.coef_.shape == (1, p_bin)
    assert binary.intercept_.shape == (1,)
    assert binary.decision_function(X_bin).shape == (len(y_bin),)
    assert binary.predict_proba(X_bin).shape == (len(y_bin), 2)

    multi = GDClassifier(max_iter=20, tol=None).fit(X_multi, y_multi)
    assert multi.coef_.shape == (3, p_multi)
    assert multi.intercept_.shape == (3,)
    assert multi.decision_function(X_multi).shape == (len(y_multi), 3)

    one_target = GDRegressor(max_iter=20, tol=None).fit(X_reg, y_reg)
    assert one_target.coef_.shape == (p_reg,)
    assert np.ndim(one_target.intercept_) == 0
    assert one_target.predict(X_reg).shape == (len(y_reg),)

    two_targets = GDRegressor(max_iter=20, tol=None).fit(X_reg, np.column_stack([y_reg, -y_reg]))
    assert two_targets.coef_.shape == (2, p_reg)
    assert two_targets.intercept_.shape == (2,)
    assert two_targets.predict(X_reg).shape == (len(y_reg), 2)


@pytest.mark.parametrize("Estimator, loader", [(GDRegressor, load_diabetes),
                                               (GDClassifier, load_wine)],
                         ids=["regressor", "classifier"])
def test_feature_names_from_a_dataframe(Estimator, loader):
    frame, y = loader(return_X_y=True, as_frame=True)
    model = Estimator(max_iter=5, tol=None).fit(frame, y)
    assert model.n_features_in_ == frame.shape[1]
    assert_array_equal(model.feature_names_in_, frame.columns)
    assert_allclose(model.predict(frame), Estimator(max_iter=5, tol=None).fit(
        frame.to_numpy(), y).predict(frame.to_numpy()))


@pytest.mark.parametrize("decay", ["constant", "inverse", "plateau"])
@pytest.mark.parametrize("tol", [1e-4, None], ids=["tol", "no-tol"])
def test_curves_have_one_entry_per_epoch(cancer, decay, tol):
    X, y = cancer
    model = GDClassifier(decay=decay, tol=tol, max_iter=60 if tol is None else 5000)
    model.fit(X, y)
    assert model.n_iter_ == len(model.loss_curve_) == len(model.learning_rate_curve_)
    assert model.t_ == model.n_iter_
    if tol is None:
        assert model.n_iter_ == 60


def test_loss_curve_is_the_training_objective(cancer):
    X, y = cancer
    alpha = 0.01
    model = GDClassifier(alpha=alpha, solver="gd", max_iter=10, tol=None).fit(X, y)
    # With plain full-batch descent, epoch t's objective is taken at the weights of the
    # start of that epoch: the last entry is the objective before the final step.
    previous = GDClassifier(alpha=alpha, solver="gd", max_iter=9, tol=None).fit(X, y)
    z = X @ previous.coef_.ravel() + previous.intercept_[0]
    objective = np.mean(np.logaddexp(0, z) - y * z) + alpha / 2 * np.sum(previous.coef_ ** 2)
    assert model.loss_curve_[-1] == pytest.approx(objective, rel=1e-12)
    assert np.all(np.diff(model.loss_curve_) < 0)


def test_convergence_warning_when_max_iter_is_too_small(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        GDClassifier(max_iter=3, tol=1e-4).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GDClassifier(max_iter=3, tol=None).fit(X, y)
        GDClassifier(max_iter=1000, alpha=1e-2, tol=1e-4).fit(X, y)


@pytest.mark.parametrize("Estimator", [GDClassifier, GDRegressor])
def test_tol_zero_warns_that_the_exact_optimum_was_not_reached(Estimator, cancer):
    # tol=0 is allowed; the warning of a fit that stops short divided by it
    # (ZeroDivisionError) to say how many times tol the optimality is.
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match=r"tol=0.*set tol > 0"):
        model = Estimator(tol=0, max_iter=1).fit(X, y)
    assert np.all(np.isfinite(model.coef_))


def test_verbose_prints_one_line_per_epoch(capsys, cancer):
    X, y = cancer
    model = GDClassifier(verbose=1, max_iter=12, tol=None).fit(X, y)
    *lines, summary = capsys.readouterr().out.strip().splitlines()

    assert len(lines) == model.n_iter_ == 12
    # One summary line ends the output.
    assert summary.startswith("12 epochs") and "not converged" in summary
    for epoch, (line, objective) in enumerate(zip(lines, model.loss_curve_, strict=True),
                                                  start=1):
        match = re.search(r"epoch\D*(\d+).*objective\D*?([-+]?\d[\d.eE+-]*)", line)
        assert match, line
        assert int(match.group(1)) == epoch
        assert float(match.group(2)) == pytest.approx(objective, rel=1e-8)


def test_silent_by_default(capsys, cancer):
    X, y = cancer
    GDClassifier(max_iter=5, tol=None).fit(X, y)
    assert capsys.readouterr().out == ""


# -- bad input ------------------------------------------------------------------------

def _with(array, index, value):
    array = np.array(array, dtype=float)
    array.flat[index] = value
    return array


BAD_CLASSIFIER_INPUT = {
    "nan-in-X": (lambda X, y: (_with(X, 5, np.nan), y, None), "NaN"),
    "inf-in-X": (lambda X, y: (_with(X, 5, np.inf), y, None), "infinity"),
    "nan-in-y": (lambda X, y: (X, _with(y, 4, np.nan), None), "NaN"),
    "nan-in-sample_weight": (lambda X, y: (X, y, _with(np.ones(len(y)), 3, np.nan)), "NaN"),
    "inf-in-sample_weight": (lambda X, y: (X, y, _with(np.ones(len(y)), 3, np.inf)),
                             "infinity"),
    "negative-sample_weight": (lambda X, y: (X, y, _with(np.ones(len(y)), 3, -1.0)),
                               "[Nn]egative"),
    "zero-sample_weight": (lambda X, y: (X, y, np.zeros(len(y))), "[Ss]ample.weight"),
    "empty-X": (lambda X, y: (X[:0], y[:0], None), "0 sample"),
    "one-class": (lambda X, y: (X, np.ones_like(y), None), "class"),
    "X-y-lengths": (lambda X, y: (X, y[:-1], None), "inconsistent numbers of samples"),
    "sample_weight-length": (lambda X, y: (X, y, np.ones(len(y) - 1)), "sample_weight"),
    "3d-X": (lambda X, y: (X.reshape(len(y), -1, 1), y, None), "dim"),
    "continuous-y": (lambda X, y: (X, y + 0.5, None), "[Uu]nknown label type"),
}


@pytest.mark.parametrize("case", list(BAD_CLASSIFIER_INPUT))
def test_classifier_rejects_bad_input(iris, case):
    X, y = iris
    make, pattern = BAD_CLASSIFIER_INPUT[case]
    X_bad, y_bad, sample_weight = make(X, y)
    with pytest.raises(ValueError, match=pattern):
        GDClassifier().fit(X_bad, y_bad, sample_weight)


BAD_REGRESSOR_INPUT = {
    "nan-in-y": (lambda X, y: (X, _with(y, 2, np.nan)), "NaN"),
    "inf-in-y": (lambda X, y: (X, _with(y, 2, np.inf)), "infinity"),
    "nan-in-X": (lambda X, y: (_with(X, 2, np.nan), y), "NaN"),
    "X-y-lengths": (lambda X, y: (X[1:], y), "inconsistent numbers of samples"),
    "3d-X": (lambda X, y: (X.reshape(len(y), -1, 2), y), "dim"),
    "y-beyond-float32-X": (lambda X, y: (X.astype(np.float32), y * 1e37),
                           "y has values beyond the range of float32"),
    # Squares that underflow: the fit stopped at once, every coefficient 0.
    "y-whose-squares-underflow": (lambda X, y: (X, y * 1e-170),
                                  r"largest magnitude is .* squares underflow float64"),
    "y-whose-squares-underflow-float32": (lambda X, y: (X.astype(np.float32), y * 1e-25),
                                          r"underflow float32 .* or pass X as float64"),
}


@pytest.mark.parametrize("case", list(BAD_REGRESSOR_INPUT))
def test_regressor_rejects_bad_input(diabetes, case):
    X, y = diabetes
    make, pattern = BAD_REGRESSOR_INPUT[case]
    with pytest.raises(ValueError, match=pattern):
        GDRegressor().fit(*make(X, y))


def test_predict_rejects_the_wrong_number_of_features(iris):
    X, y = iris
    model = GDClassifier(max_iter=10, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :3])


BAD_PARAMS = {
    "negative-learning_rate": ({"learning_rate": -1}, "learning_rate"),
    "zero-learning_rate": ({"learning_rate": 0.0}, "learning_rate"),
    "unknown-learning_rate": ({"learning_rate": "fast"}, "learning_rate"),
    "unknown-decay": ({"decay": "nope"}, "decay"),
    "unknown-solver": ({"solver": "newton"}, "solver"),
    "momentum-of-one": ({"solver": "gd", "momentum": 1.0}, "momentum"),
    "growing-exponential-decay": ({"decay": "exponential", "decay_rate": 1.5}, "decay_rate"),
    # Its cuts changed nothing: the fit ran to max_iter, "without settling".
    "plateau-that-never-cuts": ({"decay": "plateau", "decay_rate": 1.0}, "never lowers"),
    "zero-batch_size": ({"batch_size": 0}, "batch_size"),
    "zero-max_iter": ({"max_iter": 0}, "max_iter"),
    "negative-tol": ({"tol": -1e-3}, "tol"),
    "negative-alpha": ({"alpha": -0.1}, "alpha"),
    "unknown-penalty": ({"penalty": "l3"}, "penalty"),
    "l1_ratio-above-one": ({"penalty": "elasticnet", "l1_ratio": 1.5}, "l1_ratio"),
    "validation_fraction-of-one": ({"early_stopping": True, "validation_fraction": 1.0},
                                   "validation_fraction"),
}


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_invalid_parameters_raise_value_error(iris, Estimator, case):
    X, y = iris
    params, pattern = BAD_PARAMS[case]
    with pytest.raises(ValueError, match=pattern):
        Estimator(**params).fit(X, y)


def test_balanced_class_weight_has_no_partial_fit(iris):
    # It always raised there, and three of scikit-learn's checks call any partial_fit
    # they find: hidden, as with solver="lbfgs"; the error's cause says why.
    X, y = iris
    with pytest.raises(AttributeError, match="partial_fit") as info:
        GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    assert "balanced" in str(info.value.__cause__)


# -- hardening: early stopping on small or user-given validation data ------------------

def test_early_stopping_on_a_split_too_small_to_score_raises_before_fitting(diabetes):
    X, y = diabetes
    # 10 rows hold out one: its R^2 is NaN, and the fit used to return the zero model.
    with pytest.raises(ValueError, match=r"early_stopping=True: .* 1 row\(s\).*X_val"):
        GDRegressor(early_stopping=True, random_state=0).fit(X[:10], y[:10])
    model = GDRegressor(early_stopping=True, validation_fraction=0.2,
                        random_state=0).fit(X[:10], y[:10])
    assert np.all(np.isfinite(model.validation_scores_))
    assert np.any(model.coef_ != 0)


def test_classifier_early_stopping_needs_a_row_of_each_class_on_each_side(iris):
    X, y = iris
    rows = np.r_[0:4, 50:54, 100:104]
    with pytest.raises(ValueError, match="early_stopping=True: .*stratified.*3 classes"):
        GDClassifier(early_stopping=True, random_state=0).fit(X[rows], y[rows])


def test_early_stopping_rejects_validation_rows_of_zero_weight(iris):
    X, y = iris
    # Class weights can zero the weights of validation rows that all share a class.
    with pytest.raises(ValueError, match="validation rows' sample weights sum to zero"):
        GDClassifier(early_stopping=True, class_weight={0: 0.0, 1: 1.0, 2: 1.0}).fit(
            X, y, X_val=X[:5], y_val=y[:5])


def test_early_stopping_rejects_a_split_that_holds_out_every_weighted_row(diabetes):
    # The held-out rows are the estimator's own split (same seed); weighting only them
    # left the training objective dividing by zero, whose error blamed sample_weight.
    X, y = diabetes
    _, held_out = train_test_split(np.arange(len(y)), test_size=0.1,
                                   random_state=check_random_state(0))
    sample_weight = np.zeros(len(y))
    sample_weight[held_out] = 1.0
    model = GDRegressor(early_stopping=True, random_state=0).fit(X, y)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="held out every row of positive sample weight"):
        model.fit(X, y, sample_weight)
    _assert_unchanged(model, before)


def _nan_for_the_first_epochs(n_nan):
    """A scorer (R^2) that returns NaN for its first ``n_nan`` calls."""
    calls = []

    def scorer(estimator, X, y, sample_weight=None):
        calls.append(None)
        return np.nan if len(calls) <= n_nan else estimator.score(X, y, sample_weight)
    return scorer


def test_a_nan_validation_score_is_never_the_best_epoch(diabetes):
    X, y = diabetes
    # Without a preconditioner least squares takes many epochs: early stopping decides.
    model = GDRegressor(early_stopping=True, scoring=_nan_for_the_first_epochs(3),
                        preconditioner=None, n_iter_no_change=20, random_state=0).fit(X, y)
    assert model.validation_scores_[:3] == [-np.inf] * 3
    assert np.isfinite(model.best_validation_score_)
    assert model.best_validation_score_ == max(model.validation_scores_[3:])
    assert np.any(model.coef_ != 0)


def test_no_finite_validation_score_at_all_raises_and_keeps_the_model(diabetes):
    X, y = diabetes
    model = GDRegressor(max_iter=5, tol=None).fit(X, y)
    coef = model.coef_.copy()
    model.set_params(early_stopping=True, scoring=_nan_for_the_first_epochs(10**6))
    with pytest.raises(ValueError, match="no finite score"):
        model.fit(X, y)
    assert_array_equal(model.coef_, coef)
    assert not hasattr(model, "validation_scores_")


@pytest.mark.parametrize("Estimator, data", [(GDRegressor, "diabetes"),
                                             (GDClassifier, "iris")])
def test_early_stopping_scores_the_X_val_passed_to_fit(request, Estimator, data):
    X, y = request.getfixturevalue(data)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
    params = dict(learning_rate=0.05, solver="gd", n_iter_no_change=10)
    model = Estimator(early_stopping=True, **params).fit(X_train, y_train, X_val=X_val,
                                                          y_val=y_val)
    assert model.score(X_val, y_val) == pytest.approx(model.best_validation_score_,
                                                      rel=1e-12)
    # Every training row is trained on: the best epoch replays on all of X_train.
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    replay = Estimator(max_iter=best_epoch, tol=None, **params).fit(X_train, y_train)
    assert_allclose(model.coef_, replay.coef_, rtol=1e-12, atol=1e-14)


def test_sample_weight_val_and_class_weight_weigh_the_validation_score(iris):
    X, y = iris
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    sample_weight_val = np.random.default_rng(0).uniform(0.5, 2.0, len(y_val))
    model = GDClassifier(early_stopping=True, class_weight=class_weight, max_iter=30,
                         scoring="accuracy").fit(
        X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val)
    weights = sample_weight_val * np.array([1.0, 3.0, 0.5])[y_val]
    assert model.score(X_val, y_val, weights) == pytest.approx(
        model.best_validation_score_, rel=1e-12)


VALIDATION_DATA_MISUSE = {
    "without-early_stopping": ({"early_stopping": False}, ("X_val", "y_val"),
                               "early_stopping=False"),
    "X_val-alone": ({"early_stopping": True}, ("X_val",), "X_val and y_val go together"),
    "sample_weight_val-alone": ({"early_stopping": True}, ("sample_weight_val",),
                                "without X_val"),
}


@pytest.mark.parametrize("case", list(VALIDATION_DATA_MISUSE))
def test_validation_data_misuse_raises(iris, case):
    X, y = iris
    params, given, pattern = VALIDATION_DATA_MISUSE[case]
    data = {"X_val": X[:20], "y_val": y[:20], "sample_weight_val": np.ones(20)}
    with pytest.raises(ValueError, match=pattern):
        GDClassifier(**params).fit(X, y, **{name: data[name] for name in given})


def test_y_val_with_an_unknown_label_raises(iris):
    X, y = iris
    with pytest.raises(ValueError, match="y_val contains labels"):
        GDClassifier(early_stopping=True).fit(X[y < 2], y[y < 2], X_val=X[:20],
                                              y_val=np.r_[y[:19], 2])


def test_X_val_with_another_number_of_features_raises(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="features"):
        GDRegressor(early_stopping=True).fit(X, y, X_val=X[:20, :3], y_val=y[:20])


def test_scoring_loss_is_the_negated_validation_objective(iris):
    from skgd.losses import CategoricalCrossEntropy, LinearObjective

    X, y = iris
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
    model = GDClassifier(early_stopping=True, scoring="loss", alpha=0.01, penalty="l1",
                         max_iter=50, tol=None).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    objective = LinearObjective(CategoricalCrossEntropy(3), X_val, y_val, alpha=0.01,
                                l1_ratio=1.0)
    params = np.concatenate([model.coef_.ravel(), model.intercept_])
    expected = objective.loss(params) + 0.01 * np.abs(model.coef_).sum()
    assert model.best_validation_score_ == pytest.approx(-expected, rel=1e-12)


@pytest.mark.parametrize("scoring", ["neg_mean_absolute_error",
                                     lambda estimator, X, y: -np.max(
                                         np.abs(estimator.predict(X) - y))],
                         ids=["name", "callable"])
def test_scoring_takes_scikit_learn_scorers(diabetes, scoring):
    X, y = diabetes
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
    model = GDRegressor(early_stopping=True, scoring=scoring, max_iter=50, tol=None).fit(
        X_train, y_train, X_val=X_val, y_val=y_val)
    error = np.abs(model.predict(X_val) - y_val)
    expected = -(error.mean() if isinstance(scoring, str) else error.max())
    assert model.best_validation_score_ == pytest.approx(expected, rel=1e-12)
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_an_unknown_scoring_name_raises(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="nonsense"):
        GDRegressor(early_stopping=True, scoring="nonsense").fit(X, y)


def test_fit_requests_the_validation_data_through_metadata_routing():
    from sklearn import config_context

    with config_context(enable_metadata_routing=True):
        model = GDRegressor().set_fit_request(X_val=True, y_val=True,
                                              sample_weight_val=True)
        requests = model.get_metadata_routing().fit.requests
    assert {"X_val", "y_val", "sample_weight_val"} <= set(requests)
    assert requests["X_val"] is True


def test_early_stopping_split_by_the_non_numpy_row_selection(monkeypatch, cancer):
    # Off NumPy the split's rows are taken with xp.take (an Array API namespace has no
    # fancy indexing); here NumPy goes that way too, and must give the same fit.
    X, y = cancer
    params = dict(early_stopping=True, random_state=0, max_iter=30)
    expected = GDClassifier(**params).fit(X, y)
    monkeypatch.setattr("skgd._estimators.is_numpy", lambda xp: False)
    model = GDClassifier(**params).fit(X, y)
    assert_array_equal(model.coef_, expected.coef_)
    assert model.validation_scores_ == expected.validation_scores_


def test_partial_fit_after_early_stopping_keeps_the_validation_history(diabetes):
    X, y = diabetes
    model = GDRegressor(early_stopping=True, random_state=0).fit(X, y)
    scores, best, n_epochs = (list(model.validation_scores_),
                              model.best_validation_score_, model.n_iter_)
    model.partial_fit(X, y)
    # partial_fit scores nothing: the fit's scores describe its epochs, as in MLP.
    assert model.validation_scores_ == scores
    assert model.best_validation_score_ == best
    assert len(model.loss_curve_) == model.n_iter_ == n_epochs + 1


# -- hardening: weights ---------------------------------------------------------------

@pytest.mark.parametrize("class_weight", [{0: -0.1, 1: 1.0}, {0: -1.0, 1: 1.0},
                                          {0: np.nan, 1: 1.0}, {0: np.inf, 1: 1.0}],
                         ids=["small-negative", "negative", "nan", "inf"])
def test_class_weights_must_be_finite_and_non_negative(cancer, class_weight):
    X, y = cancer
    with pytest.raises(ValueError, match=r"class_weight=.* class 0 .*finite and "
                                         "non-negative"):
        GDClassifier(class_weight=class_weight).fit(X, y)


def test_class_weights_of_zero_everywhere_name_class_weight(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match=r"sample_weight \(times class_weight\) sums to "
                                         "zero"):
        GDClassifier(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


@pytest.mark.parametrize("setting", [
    {"solver": "gd", "preconditioner": None},
    {"solver": "accelerated", "preconditioner": "diagonal"},
    {"solver": "adam"},
], ids=["gd", "diagonal", "adam"])
def test_targets_far_off_zero_stop_as_near_the_optimum_as_centred_ones(diabetes, setting):
    # From the origin, the intercept's share of the gradient dwarfs the coefficients'
    # where the targets lie far off zero: once the intercept fitted, the optimality
    # relative to the start met tol far from the optimum (y + 1e6: plain descent 0.39
    # off, the diagonal 0.04, no warning). It is taken relative to the null model too.
    X, y = diabetes
    alpha = 1e-3
    for shift in (0.0, 1e6):
        target = y - y.mean() + shift
        ridge = Ridge(alpha=len(y) * alpha).fit(X, target).coef_
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            model = GDRegressor(alpha=alpha, max_iter=5000, **setting).fit(X, target)
        error = np.abs(model.coef_ - ridge).max() / np.abs(ridge).max()
        assert error < 5e-3, (shift, error)


@pytest.mark.parametrize("shift", [1e6, 1e12])
def test_least_squares_newton_step_from_the_null_model_keeps_every_digit(diabetes, shift):
    # The default fit (L-BFGS in least squares' Hessian) starts at the null model where
    # the targets lie far off zero: Newton's step then solves for their deviations, as
    # Ridge's centring does (from the origin, targets 1e12 off zero left the
    # coefficients 1e-5 off, relative to the largest).
    X, y = diabetes
    target = y - y.mean() + shift
    ridge = Ridge(alpha=len(y) * 1e-4).fit(X, target)
    model = GDRegressor().fit(X, target)
    assert model.n_iter_ == 2
    assert_allclose(model.coef_, ridge.coef_, rtol=1e-10, atol=1e-10 * np.abs(ridge.coef_).max())
    assert model.loss_curve_[0] < 0.5 * np.var(target) * 1.001


def test_mini_batches_on_targets_far_off_zero_still_warn(diabetes):
    # Their end is measured against the null model too: the warning that a mini-batch
    # fit ended far from its optimum went missing from targets 100 standard deviations
    # off zero (coefficients 0.4 off).
    X, y = diabetes
    for shift in (0.0, 1e4):
        with pytest.warns(ConvergenceWarning, match="optimality"):
            GDRegressor(batch_size=32, random_state=0).fit(X, y - y.mean() + shift)


def test_sample_weights_whose_sum_would_overflow_fit_as_unit_weights(diabetes):
    # Only the weights' ratios matter: they are scaled by a power of 2 before any sum.
    # (Converged fits: past its optimum, tol=None's L-BFGS steps on rounding noise, which
    # moved 50 epochs' coefficients 1e-7 apart along the diabetes' collinear columns.)
    X, y = diabetes
    expected = GDRegressor().fit(X, y)
    model = GDRegressor().fit(X, y, np.full(len(y), 1e308))
    assert model.n_iter_ == expected.n_iter_
    assert_allclose(model.coef_, expected.coef_, rtol=1e-10)


@pytest.mark.parametrize("Estimator", [GDClassifier, GDRegressor])
def test_weights_1e308_apart_fit_as_their_ratios(cancer, Estimator):
    # Weights 1e308 beside 1 are 1e308 rows and more to the cost model: capped (an
    # infinite count made its ratios NaN, and the classifier raised a bare ValueError).
    X, y = cancer
    weight = np.ones(len(y))
    weight[:2], weight[2] = 1e308, 1e-300
    model = Estimator(alpha=1e-2).fit(X, y, sample_weight=weight)
    scaled = Estimator(alpha=1e-2).fit(X, y, sample_weight=weight * 2.0 ** -900)
    assert np.all(np.isfinite(model.coef_))
    assert_allclose(model.coef_, scaled.coef_, rtol=0, atol=0)


@pytest.mark.parametrize("scale", [1.0 / 442, 1e-200], ids=["sum-one", "tiny"])
def test_positive_weights_with_a_small_sum_fit_as_unit_weights(diabetes, scale):
    # Only the weights' ratios matter: F divides by their sum.
    X, y = diabetes
    expected = GDRegressor(max_iter=50, tol=None).fit(X, y)
    model = GDRegressor(max_iter=50, tol=None).fit(X, y, np.full(len(y), scale))
    assert_allclose(model.coef_, expected.coef_, rtol=1e-10)


# -- hardening: messages, strict error states -----------------------------------------

def test_regressor_says_that_y_must_be_dense(diabetes):
    X, y = diabetes
    with pytest.raises(TypeError, match="dense data is required"):
        GDRegressor().fit(X, sp.csr_matrix(y[:, None]))


@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_fit_and_predict_under_strict_floating_point_error_states(cancer, iris, data):
    # Separable data drive the raw predictions far enough for exp(-|z|) to underflow.
    X, y = cancer if data == "binary" else iris
    # Newton's steps drive the weights of separable classes far in 30 epochs.
    params = dict(max_iter=30, tol=None)
    expected = GDClassifier(**params).fit(X, y)
    with np.errstate(all="raise"):
        model = GDClassifier(**params).fit(X, y)
        proba = model.predict_proba(100 * X)
        log_proba = model.predict_log_proba(100 * X)
        predicted = model.predict(X)
    assert_array_equal(model.coef_, expected.coef_)
    assert_array_equal(proba, expected.predict_proba(100 * X))
    assert np.any(proba == 0)
    assert np.all(np.isfinite(log_proba))
    assert_array_equal(predicted, expected.predict(X))


# -- hardening: warm starts and partial_fit on data of another shape ------------------

def _other_shapes(cancer, iris, diabetes):
    X_reg, y_reg = diabetes
    X_multi, y_multi = iris
    return {
        "features": (GDRegressor, (X_reg, y_reg), (X_reg[:, :4], y_reg)),
        "targets": (GDRegressor, (X_reg, y_reg), (X_reg, np.column_stack([y_reg, -y_reg]))),
        "classes": (GDClassifier, (X_multi, y_multi),
                    (X_multi[y_multi < 2], y_multi[y_multi < 2])),
    }


@pytest.mark.parametrize("change", ["features", "targets", "classes"])
def test_warm_start_on_data_of_another_shape_starts_afresh(cancer, iris, diabetes, change):
    Estimator, first, second = _other_shapes(cancer, iris, diabetes)[change]
    params = dict(decay="inverse", max_iter=20, tol=None)
    model = Estimator(warm_start=True, **params).fit(*first).fit(*second)
    cold = Estimator(**params).fit(*second)
    assert_array_equal(model.coef_, cold.coef_)
    assert model.learning_rate_curve_ == cold.learning_rate_curve_
    assert model.t_ == cold.t_


def test_partial_fit_with_another_number_of_targets_raises(diabetes):
    X, y = diabetes
    model = GDRegressor().partial_fit(X, np.column_stack([y, -y]))
    with pytest.raises(ValueError, match="3 targets but the model was fitted on 2"):
        model.partial_fit(X, np.column_stack([y, -y, y]))
    with pytest.raises(ValueError, match="1 dimension"):
        model.partial_fit(X, y)


# -- issue 13: penalty=None, densify/sparsify -----------------------------------------

def test_penalty_none_is_no_penalty_whatever_alpha(cancer):
    X, y = cancer
    params = dict(max_iter=30, tol=None)
    unpenalised = GDClassifier(alpha=0.0, **params).fit(X, y)
    model = GDClassifier(penalty=None, alpha=1.0, **params).fit(X, y)
    assert_array_equal(model.coef_, unpenalised.coef_)
    assert model.loss_curve_ == unpenalised.loss_curve_


@pytest.mark.parametrize("Estimator, data", [(GDRegressor, "diabetes"),
                                             (GDClassifier, "cancer"),
                                             (GDClassifier, "iris")],
                         ids=["regressor", "binary", "multiclass"])
@pytest.mark.parametrize("sparse_X", [False, True], ids=["dense-X", "csr-X"])
def test_sparsify_and_densify(request, Estimator, data, sparse_X):
    X, y = request.getfixturevalue(data)
    alpha = 10.0 if Estimator is GDRegressor else 0.05
    model = Estimator(alpha=alpha, penalty="l1", max_iter=50, tol=None).fit(X, y)
    coef = model.coef_.copy()
    X_predict = sp.csr_matrix(X) if sparse_X else X
    expected = {method: getattr(model, method)(X) for method in
                ("predict", "decision_function", "predict_proba") if hasattr(model, method)}

    assert model.sparsify() is model
    assert sp.issparse(model.coef_)
    assert model.coef_.nnz == np.count_nonzero(coef) < coef.size
    for method, value in expected.items():
        assert_allclose(getattr(model, method)(X_predict), value, rtol=1e-12, atol=1e-15)

    assert model.densify() is model
    assert isinstance(model.coef_, np.ndarray)
    assert_array_equal(model.coef_, coef)
    assert model.densify().coef_.shape == coef.shape


def test_partial_fit_after_sparsify_continues_with_a_dense_coef(diabetes):
    X, y = diabetes
    model = GDRegressor(max_iter=5, tol=None).fit(X, y).sparsify()
    model.partial_fit(X, y)
    assert isinstance(model.coef_, np.ndarray) and model.coef_.shape == (X.shape[1],)


def test_sparsify_needs_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GDClassifier().sparsify()


# -- issue 21: a regularised default; separable data; slow divergence -----------------

@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_alpha_defaults_to_sgds_1e_4(Estimator):
    assert Estimator().alpha == 1e-4


def test_default_fit_on_separable_digits_is_bounded_and_silent():
    X, y = _standardised(load_digits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier().fit(X, y)
    # Unpenalised, the weights pass 20 at tol=1e-5 and keep growing as tol shrinks.
    assert np.abs(model.coef_).max() < 5


def _blobs(n_classes):
    rng = np.random.default_rng(0)
    y = np.arange(60) % n_classes
    centres = 6.0 * np.eye(n_classes, 3)
    return centres[y] + rng.normal(size=(60, 3)), y


@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multiclass"])
@pytest.mark.parametrize("params", [{"alpha": 0.0}, {"penalty": None}],
                         ids=["alpha=0", "penalty=None"])
def test_unpenalised_fit_of_separable_classes_warns_that_no_minimiser_exists(
        n_classes, params):
    X, y = _blobs(n_classes)
    with pytest.warns(ConvergenceWarning, match="linearly separable") as record:
        model = GDClassifier(**params).fit(X, y)
    assert model.score(X, y) == 1.0
    message = str(record[0].message)
    assert next(iter(params.items()))[0] in message
    assert "alpha > 0" in message


def test_a_misclassified_row_of_zero_weight_does_not_hide_separability():
    X, y = _blobs(2)
    y = y.copy()
    y[0] = 1 - y[0]
    weight = np.ones(len(y))
    weight[0] = 0.0
    with pytest.warns(ConvergenceWarning, match="linearly separable"):
        GDClassifier(alpha=0.0).fit(X, y, sample_weight=weight)


@pytest.mark.parametrize("params", [{"alpha": 0.0}, {}], ids=["alpha=0", "default"])
def test_no_separability_warning_where_the_classes_overlap_or_alpha_is_positive(
        iris, params):
    # Iris' versicolor and virginica overlap; the blobs are separable, but penalised.
    X, y = iris if params else _blobs(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier(**params).fit(X, y)
    assert model.score(X, y) < 1.0 if params else model.score(X, y) == 1.0


@pytest.mark.parametrize("tol", [None, 1e-5], ids=["tol=None", "tol=1e-5"])
def test_slow_divergence_of_the_issue_raises_with_or_without_tol(diabetes, tol):
    # The objective fell from 14537 to 2486, then climbed to 11340 by epoch 100: below
    # its start, so no rule fired, and R^2 was -2.9 without an error or a warning.
    X, y = diabetes
    model = GDRegressor(solver="gd", preconditioner=None, learning_rate=0.5, max_iter=100,
                        tol=tol, alpha=0.0)
    with pytest.raises(DivergenceError, match=r"learning_rate=0\.5 .*rose in each"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("transform_input", [None, ["X_val"]], ids=["raw", "transformed"])
def test_X_val_in_a_pipeline_is_scaled_only_with_transform_input(transform_input):
    # As the user guide says: a scaler step scales X_val only with transform_input.
    import sklearn
    from sklearn.pipeline import Pipeline

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    direct = GDClassifier(early_stopping=True, max_iter=30).fit(
        scaler.transform(X_train), y_train, X_val=scaler.transform(X_val), y_val=y_val)
    with sklearn.config_context(enable_metadata_routing=True):
        model = GDClassifier(early_stopping=True, max_iter=30).set_fit_request(
            X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("gd", model)],
                        transform_input=transform_input)
        pipe.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    if transform_input:
        assert pipe[-1].validation_scores_ == direct.validation_scores_
        assert_array_equal(pipe[-1].coef_, direct.coef_)
    else:
        assert pipe[-1].best_validation_score_ < direct.best_validation_score_ - 0.2


# One policy, scikit-learn's: a parameter that does not apply is ignored (and documented).
# id -> (the settings it applies to, the parameter that does not apply there)
IGNORED = {
    "momentum-with-accelerated": ({}, {"momentum": 0.5, "nesterov": True}),
    "momentum-with-adam": ({"solver": "adam", "max_iter": 20}, {"momentum": 0.9}),
    "nesterov-without-momentum": ({"solver": "gd", "max_iter": 20}, {"nesterov": True}),
    "preconditioner-with-adam": ({"solver": "adam", "max_iter": 20},
                                 {"preconditioner": "full"}),
    "decay_rate-with-constant": ({}, {"decay_rate": 0.5, "decay_steps": 3}),
    "power_t-without-invscaling": ({"decay": "inverse"}, {"power_t": 0.9}),
    "l1_ratio-with-l2": ({}, {"l1_ratio": 0.9}),
    "alpha-with-penalty-none": ({"penalty": None}, {"alpha": 0.5}),
    "scoring-without-early-stopping": ({}, {"scoring": "neg_log_loss",
                                            "validation_fraction": 0.5}),
}


@pytest.mark.parametrize("case", list(IGNORED))
def test_parameters_that_do_not_apply_are_ignored(cancer, case):
    X, y = cancer
    settings, ignored = IGNORED[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = GDClassifier(**settings).fit(X, y)
        model = GDClassifier(**settings, **ignored).fit(X, y)
    assert_array_equal(model.coef_, reference.coef_)
    assert model.loss_curve_ == reference.loss_curve_
    assert model.preconditioner_ == reference.preconditioner_


def test_a_decay_that_returns_no_number_says_so(cancer):
    X, y = cancer
    with pytest.raises(TypeError, match=r"returned 'x' at epoch 0; a decay must return a "
                                        r"number"):
        GDClassifier(decay=lambda epoch: "x").fit(X, y)


def test_a_scoring_that_does_not_fit_the_task_says_which_would(iris):
    X, y = iris
    model = GDClassifier(early_stopping=True, scoring="roc_auc")
    with pytest.raises(ValueError, match=r"scoring='roc_auc' cannot score the validation "
                                         r"data of this 3-class problem .*'roc_auc_ovr'"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("scoring", ["neg_log_loss", "roc_auc"])
def test_a_probability_scoring_on_a_regressor_says_which_would_fit(diabetes, scoring):
    # The regressor has no predict_proba: scikit-learn's scorer raised a bare
    # AttributeError from inside the fit.
    X, y = diabetes
    model = GDRegressor().fit(X, y)
    before = _snapshot(model)
    model.set_params(early_stopping=True, scoring=scoring)
    with pytest.raises(ValueError, match=rf"scoring='{scoring}' cannot score the validation "
                                         r"data of this regression problem .*'r2'"):
        model.fit(X, y)
    _assert_unchanged(model, before)


# -- issue 24: steps chosen for degenerate data, validation edges, rises ----------------------
def _least_squares_at_the_origin(X, y):
    """``grad F(0)`` and ``L`` of least squares with an intercept (API.md's F, alpha=0)."""
    X1 = np.hstack([X, np.ones((len(X), 1))])
    return -X1.T @ y / len(X), np.linalg.eigvalsh(X1.T @ X1 / len(X))[-1]


def test_adam_auto_step_is_a_tenth_of_the_typical_safe_gradient_step(diabetes):
    X, y = diabetes
    # Columns of scale 3: L is about 9 times what the intercept's column alone gives,
    # so this step is far from 1/L.
    X = 3 * X
    grad, lipschitz = _least_squares_at_the_origin(X, y)
    expected = 0.1 * np.sqrt(np.mean(grad**2)) / lipschitz
    assert not np.isclose(expected, 1 / lipschitz, rtol=0.5)
    model = GDRegressor(alpha=0.0, solver="adam", max_iter=3, tol=None).fit(X, y)
    assert model.learning_rate_curve_ == pytest.approx([expected] * 3, rel=1e-10)


def test_adam_auto_step_falls_back_to_1e_3_where_the_start_is_optimal():
    # Columns of a Hadamard matrix: the first batch's targets are orthogonal to X and to
    # the intercept's column, exactly, so its gradient at the origin is exactly 0, and so
    # is the measured step. The stream keeps a positive step and learns from the
    # batches that follow (whose objective at the origin is of the first one's scale).
    hadamard = np.array([[1.0]])
    for _ in range(3):
        hadamard = np.block([[hadamard, hadamard], [hadamard, -hadamard]])
    X, orthogonal = hadamard[:, 1:3], hadamard[:, 3]
    model = GDRegressor(solver="adam").partial_fit(X, orthogonal)
    assert model.learning_rate_curve_ == [1e-3]
    assert_array_equal(model.coef_, 0)
    for _ in range(20):
        model.partial_fit(X, 0.9 * (X[:, 0] + X[:, 1]))
    assert model.learning_rate_curve_ == [1e-3] * 21
    assert np.all(np.diff(model.loss_curve_[1:]) < 0)
    assert np.all(model.coef_ > 0)


@pytest.mark.parametrize("solver", ["gd", "accelerated"])
@pytest.mark.parametrize("batch_size", [None, 8])
def test_a_zero_curvature_bound_gives_the_unit_step(solver, batch_size):
    # All-zero X without an intercept: no curvature, so 1/L has no meaning; any step
    # leaves the (constant) objective as it is.
    y = np.random.default_rng(0).normal(size=30)
    model = GDRegressor(alpha=0.0, solver=solver, preconditioner=None, fit_intercept=False,
                        batch_size=batch_size, random_state=0).fit(np.zeros((30, 4)), y)
    assert set(model.learning_rate_curve_) == {1.0}
    assert_array_equal(model.coef_, 0)
    assert_allclose(model.loss_curve_, 0.5 * np.mean(y**2), rtol=1e-14)


@pytest.mark.parametrize("Estimator, data", [(GDRegressor, "diabetes"),
                                             (GDClassifier, "cancer")])
def test_validation_data_of_two_rows_is_scored_and_of_one_row_is_an_error(request,
                                                                         Estimator, data):
    X, y = request.getfixturevalue(data)
    two = [0, int(np.flatnonzero(y != y[0])[0])]
    model = Estimator(early_stopping=True, max_iter=20).fit(X, y, X_val=X[two],
                                                            y_val=y[two])
    assert np.isfinite(model.best_validation_score_)
    assert len(model.validation_scores_) == model.n_iter_
    with pytest.raises(ValueError, match=r"1 validation row\(s\) cannot be scored"):
        Estimator(early_stopping=True).fit(X, y, X_val=X[:1], y_val=y[:1])


def _validation_objective(model, X, y, sample_weight, alpha, l1_ratio):
    """F of API.md on the validation rows, at the fitted coefficients."""
    coef = np.ravel(model.coef_)
    z = X @ coef + np.ravel(model.intercept_)[0]
    if isinstance(model, GDRegressor):
        data = 0.5 * (z - y) ** 2
    else:
        data = np.logaddexp(0.0, z) - (y == model.classes_[1]) * z
    penalty = (1 - l1_ratio) / 2 * coef @ coef + l1_ratio * np.abs(coef).sum()
    return np.average(data, weights=sample_weight) + alpha * penalty


@pytest.mark.parametrize("penalty, l1_ratio", [("l2", 0.0), ("elasticnet", 0.5),
                                               ("l1", 1.0)])
@pytest.mark.parametrize("Estimator, data", [(GDRegressor, "diabetes"),
                                             (GDClassifier, "cancer")])
def test_scoring_loss_scores_exactly_the_negated_validation_objective(
        request, Estimator, data, penalty, l1_ratio):
    X, y = request.getfixturevalue(data)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
    sample_weight_val = np.random.default_rng(0).uniform(0.5, 2.0, len(y_val))
    alpha = 0.05
    model = Estimator(early_stopping=True, scoring="loss", alpha=alpha, penalty=penalty,
                      l1_ratio=0.5, max_iter=30, tol=None).fit(
        X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=sample_weight_val)
    expected = _validation_objective(model, X_val, y_val, sample_weight_val, alpha,
                                     l1_ratio)
    assert model.best_validation_score_ == pytest.approx(-expected, rel=1e-10)


def test_partial_fit_counts_rises_above_twice_the_start_across_calls():
    # Steps about twice the exact least-squares one (learning_rate=2 in the full metric on a
    # stream of one batch repeated: the stream's bound is the batch's): each call lands
    # as far on the other side, at the same objective. On y, then -y, the stream's
    # objective over its calls climbs above twice the zero model's (4 times it a call
    # after the first), which the third such call in a row raises.
    X, y = make_regression(200, 5, noise=0.1, random_state=0)
    X = StandardScaler().fit_transform(X)
    model = GDRegressor(solver="gd", preconditioner="full", alpha=0.0, learning_rate=2.0,
                        fit_intercept=False)
    for targets in (y, -y, y):
        model.partial_fit(X, targets)
    assert model._engine_state.n_rises == 2
    with pytest.raises(DivergenceError, match="epoch 3"):
        model.partial_fit(X, -y)


def test_a_warm_start_counts_its_rises_from_zero():
    # As above, the stream leaves two rises counted; the warm-started fit on -y starts
    # above twice its own reference (the origin), which is one rise, not a third.
    X, y = make_regression(200, 5, noise=0.1, random_state=0)
    X = StandardScaler().fit_transform(X)
    model = GDRegressor(solver="gd", preconditioner="full", alpha=0.0, learning_rate=2.0,
                        fit_intercept=False)
    for targets in (y, -y, y):
        model.partial_fit(X, targets)
    model.set_params(warm_start=True, learning_rate="auto").fit(X, -y)
    assert model.loss_curve_[0] > 2 * 0.5 * np.mean(y**2)
    assert_allclose(model.predict(X), GDRegressor(alpha=0.0, fit_intercept=False)
                    .fit(X, -y).predict(X), rtol=1e-8)


@pytest.mark.parametrize("early_stopping, monitored", [(False, "training objective"),
                                                       (True, "validation score")])
def test_a_mini_batch_fit_that_does_not_settle_warns_by_its_epoch_rule(diabetes,
                                                                        early_stopping,
                                                                        monitored):
    X, y = diabetes
    model = GDRegressor(batch_size=32, random_state=0, max_iter=3, tol=1e-12,
                        early_stopping=early_stopping)
    with pytest.warns(ConvergenceWarning) as record:
        model.fit(X, y)
    assert str(record[0].message) == (
        f"GDRegressor ran max_iter=3 epochs without its {monitored} settling within "
        f"tol=1e-12 for n_iter_no_change=5 epochs (optimality at the end: "
        f"{model.optimality_:.3g}); increase max_iter or tol.")


def test_partial_fit_measures_its_optimality_at_the_end_of_each_call(diabetes):
    # Relative to the zero model on the call's data: the origin's gradient is the unit.
    X, y = diabetes
    for batch_size in (None, 32):
        model = GDRegressor(batch_size=batch_size, random_state=0).partial_fit(X, y)
        objective = LinearObjective(SquaredError(), X, y, alpha=model.alpha)
        w = np.r_[model.coef_, model.intercept_]
        expected = (np.linalg.norm(objective.gradient(w))
                    / np.linalg.norm(objective.gradient(np.zeros_like(w))))
        assert model.optimality_ == pytest.approx(expected, rel=1e-8)


def test_a_solver_changed_between_partial_fit_calls_starts_without_momentum(diabetes):
    # Adam, then heavy-ball momentum: the first step of the new rule is a plain gradient
    # step, with the step the stream's curvature gives the new rule.
    X, y = diabetes
    model = GDRegressor(alpha=0.0, solver="adam").partial_fit(X, y)
    coef, intercept = model.coef_.copy(), model.intercept_
    residual = X @ coef + intercept - y
    model.set_params(solver="gd", momentum=0.9).partial_fit(X, y)
    learning_rate = model.learning_rate_curve_[1]
    assert_allclose(model.coef_, coef - learning_rate * X.T @ residual / len(y), rtol=1e-12)
    assert model.intercept_ == pytest.approx(intercept - learning_rate * residual.mean(),
                                             rel=1e-12)


def test_the_held_out_share_rounds_up_as_train_test_split_does(diabetes):
    # 15 % of 10 rows: train_test_split holds out 2 rows, enough to score.
    X, y = diabetes
    model = GDRegressor(early_stopping=True, validation_fraction=0.15, random_state=0,
                        max_iter=5).fit(X[:10], y[:10])
    assert np.all(np.isfinite(model.validation_scores_))


# -- issue 23: "auto" is safe and "converged" means optimal in mini-batches and streams ----
def _issue_data(n_samples=2000):
    """The regression of issue 23's first report: 40 normal columns, a normal truth."""
    rng = np.random.default_rng
    X = rng(1).normal(size=(n_samples, 40))
    return X, X @ rng(2).normal(size=40) + rng(3).normal(size=n_samples)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("rule", [{}, {"solver": "gd"}, {"solver": "gd", "momentum": 0.9},
                                  {"solver": "gd", "momentum": 0.9, "nesterov": True}],
                         ids=["default", "gd", "heavy-ball", "nesterov"])
@pytest.mark.parametrize("batch_size", [1, 8, 32, 128])
def test_auto_does_not_diverge_on_small_mini_batches(rule, batch_size):
    # Each of these raised DivergenceError in epoch 0 to 5 with the full batch's 1/L_b
    # and the accelerated rule's momentum (heavy ball up to batch 128).
    X, y = _issue_data()
    model = GDRegressor(batch_size=batch_size, random_state=0, **rule).fit(X, y)
    assert model.score(X, y) > 0.95


@pytest.mark.parametrize("batch_size, decay, factor", [
    (16, "constant", 0.1), (None, "inverse", 0.1), (None, "constant", 1.0),
], ids=["mini-batch", "decay", "full-batch-constant-rate"])
def test_auto_with_momentum_takes_one_minus_momentum_of_the_safe_step(diabetes, batch_size,
                                                                      decay, factor):
    # Where the rate falls or the gradients are noisy, momentum would coast; a full batch
    # at a constant rate keeps 1/L, where the momentum accelerates.
    X, y = diabetes
    settings = {"solver": "gd", "preconditioner": None, "batch_size": batch_size,
                "decay": decay, "max_iter": 1, "tol": None, "random_state": 0}
    plain = GDRegressor(**settings).fit(X, y).learning_rate_curve_[0]
    heavy = GDRegressor(momentum=0.9, **settings).fit(X, y).learning_rate_curve_[0]
    assert heavy == pytest.approx(factor * plain, rel=1e-12)


def test_auto_on_mini_batches_is_half_gower_s_step(diabetes):
    X, y = diabetes
    objective = LinearObjective(SquaredError(), X, y, alpha=1e-4)
    model = GDRegressor(batch_size=16, solver="gd", max_iter=1, tol=None,
                        random_state=0).fit(X, y)
    assert model.learning_rate_curve_[0] == pytest.approx(
        1 / (2 * objective.lipschitz(16)), rel=1e-10)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_auto_of_an_averaged_fit_is_gower_s_whole_step_and_converges(diabetes, batch_size):
    # The average stands for the fit, not the iterates whose spread the half narrows:
    # averaged SGD takes the bound's whole step, in fit and partial_fit alike, and its
    # average still ends near the optimum.
    X, y = diabetes
    settings = {"batch_size": batch_size, "solver": "gd", "alpha": 1e-4,
                "random_state": 0}
    plain = GDRegressor(max_iter=1, tol=None, **settings).fit(X, y)
    averaged = GDRegressor(max_iter=1, tol=None, average=True, **settings).fit(X, y)
    assert averaged.learning_rate_curve_[0] == pytest.approx(
        2 * plain.learning_rate_curve_[0], rel=1e-12)
    streamed = [GDRegressor(average=average, **settings).partial_fit(X, y)
                for average in (False, True)]
    assert streamed[1].learning_rate_curve_[0] == pytest.approx(
        2 * streamed[0].learning_rate_curve_[0], rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = GDRegressor(max_iter=50, tol=None, average=True, **settings).fit(X, y)
    exact = GDRegressor(alpha=1e-4).fit(X, y)
    assert fitted.score(X, y) == pytest.approx(exact.score(X, y), abs=5e-3)


def test_a_row_that_sets_the_mini_batch_step_is_named_in_the_warning():
    # One row of 1e4 times the scale makes "auto" a millionth of the step the other rows
    # take: the fit stops where it started, and the advice about noise would be wrong.
    X, y = _issue_data()
    with pytest.warns(ConvergenceWarning, match="stall at the noise") as record:
        GDRegressor(batch_size=8, random_state=0).fit(X, y)
    assert "too short" not in str(record[0].message)
    X[0] *= 1e4
    with pytest.warns(ConvergenceWarning, match=r"too short .* set by the largest row, "
                      r"and one row's squared norm is 2e\+03 times"):
        GDRegressor(batch_size=8, random_state=0).fit(X, y)


def test_a_decay_that_cuts_the_rate_cuts_the_momentum_s_coasting():
    # Issue 23: with momentum 0.9 and a rate that decays 100-fold an epoch, the velocity
    # of the first, large steps carried the point away: a DivergenceError at the safe
    # step (learning_rate=1.0). The velocity now counts in units of its step's rate, as
    # PyTorch's momentum does: the fit descends, and the decay stops it short.
    X, y = _issue_data()
    settings = {"solver": "gd", "momentum": 0.9, "decay": "inverse", "decay_rate": 100,
                "preconditioner": "diagonal"}
    with pytest.warns(ConvergenceWarning, match="stopped after 1000 epochs"):
        model = GDRegressor(learning_rate=1.0, **settings).fit(X, y)
    assert model.loss_curve_[-1] < model.loss_curve_[0] / 10


@pytest.mark.parametrize("settings", [
    {"momentum": 0.9, "decay": "plateau", "n_iter_no_change": 1, "tol": 1e-3},
    {"momentum": 0.9, "decay": "plateau", "decay_rate": 0.1, "n_iter_no_change": 1,
     "tol": 1e-3},
    {"momentum": 0.99, "decay": "cosine", "warmup_steps": 3, "tol": None},
    {"momentum": 0.99, "decay": "one_cycle", "tol": None},
    {"momentum": 0.9, "nesterov": True, "decay": "plateau", "n_iter_no_change": 1,
     "tol": 1e-3},
])
def test_auto_with_momentum_and_a_decay_ends_below_the_zero_model(settings):
    # "plateau" cuts the rate at heavy ball's rises: the point coasted on at its last
    # velocity, to 1.9 times the zero model's objective or to a DivergenceError (a
    # helper's audit); so did cosine and one-cycle schedules at momentum 0.99.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5))
    y = 10 * X @ rng.normal(size=5) + rng.normal(size=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GDRegressor(solver="gd", max_iter=40, **settings).fit(X, y)
    objective = LinearObjective(SquaredError(), X, y, alpha=model.alpha)
    assert (objective.loss(np.r_[model.coef_, model.intercept_])
            < objective.loss(np.zeros(6)))


def _far_fit(scale):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=60)
    return X * scale, y


@pytest.mark.parametrize("scale, message", [
    (1e-3, "worse than predicting 0"),
    (1e153, r"optimality at the end is .*, above sqrt\(tol\)"),
], ids=["tiny-X", "huge-X"])
def test_a_mini_batch_fit_far_from_its_optimum_warns(scale, message):
    # Issue 23: R^2 -0.395 (optimality 5.17) and coef_ = 0 (optimality 1), no warning.
    X, y = _far_fit(scale)
    with pytest.warns(ConvergenceWarning, match=message):
        model = GDRegressor(batch_size=8, random_state=0).fit(X, y)
    assert model.optimality_ > np.sqrt(model.tol)


def test_a_mini_batch_fit_that_settles_near_its_optimum_does_not_warn(diabetes):
    # A decaying rate in the curvature's metric reaches the optimum: the epoch rule's
    # stop is then near it. (In the plain metric the collinear columns leave the fit
    # 0.08 from its optimum relative to the null model, and it warns: it passed here
    # only while the targets' mean, 2 standard deviations off zero, inflated the
    # start's optimality.)
    X, y = diabetes
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDRegressor(batch_size=64, decay="invscaling", power_t=0.5, tol=1e-3,
                            preconditioner="full", random_state=0).fit(X, y)
    assert model.optimality_ <= np.sqrt(1e-3)


def _stream(task):
    if task == "regression":
        return make_regression(500, 5, noise=1.0, random_state=0)
    return make_classification(500, 5, random_state=0)


@pytest.mark.parametrize("Estimator, task", [(GDRegressor, "regression"),
                                             (GDClassifier, "classification")],
                         ids=["regressor", "classifier"])
def test_partial_fit_one_row_per_call_works_at_the_defaults(Estimator, task):
    # Issue 23: DivergenceError at call 5 (regressor) and 51 (classifier).
    X, y = _stream(task)
    extra = {"classes": np.unique(y)} if Estimator is GDClassifier else {}
    model = Estimator()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for _ in range(3):
            for i in range(len(y)):
                model.partial_fit(X[i:i + 1], y[i:i + 1], **extra)
    reference = Estimator(batch_size=1, random_state=0, max_iter=3, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(X, y)
    assert model.score(X, y) > reference.score(X, y) - 0.05


def test_a_learning_rate_set_between_partial_fit_calls_takes_effect(diabetes):
    # Issue 23: 1e-12 and 1e12 gave bitwise equal coef_.
    X, y = diabetes
    model = GDRegressor(solver="gd").partial_fit(X, y)
    coef = model.coef_.copy()
    model.set_params(learning_rate=1e-12).partial_fit(X, y)
    assert_allclose(model.coef_, coef, rtol=1e-9)
    assert model.learning_rate_curve_[-1] == 1e-12
    with pytest.raises(DivergenceError, match="learning_rate=1e\\+12"):
        model.set_params(learning_rate=1e12).partial_fit(X, y)
    # The failed call left the model as it was.
    assert model.learning_rate_curve_[-1] == 1e-12


def test_a_batch_of_larger_rows_shrinks_the_auto_step_of_a_stream(diabetes):
    X, y = diabetes
    model = GDRegressor().partial_fit(X, y)
    first = model.learning_rate_curve_[-1]
    model.partial_fit(X * 10, y)
    assert model.learning_rate_curve_[-1] < first / 10


@pytest.mark.parametrize("name, value", [("preconditioner", "full"),
                                         ("fit_intercept", False)])
def test_a_parameter_that_fixed_the_stream_s_model_raises_when_changed(diabetes, name,
                                                                        value):
    X, y = diabetes
    model = GDRegressor().partial_fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match=f"made with {name}=.*; {name}={value!r} cannot"):
        model.set_params(**{name: value}).partial_fit(X, y)
    assert_array_equal(model.coef_, coef)


def test_a_partial_fit_call_that_ends_far_above_its_start_raises():
    # Issue 23: Adam at learning_rate=3 left a model 497 times worse than zero.
    rng = np.random.default_rng(0)
    X, y = np.full((118, 1), 3.0), 0.5 + 0.1 * rng.normal(size=118)
    with pytest.raises(DivergenceError, match="learning_rate=3"):
        GDRegressor(solver="adam", learning_rate=3.0).partial_fit(X, y)


def test_the_last_step_of_a_full_batch_fit_is_checked():
    # Issue 23: max_iter=1 returned R^2 -8.5e23 with only a ConvergenceWarning.
    X, y = _issue_data()
    for max_iter in (1, 2):
        with pytest.raises(DivergenceError, match="learning_rate=1e\\+12"):
            GDRegressor(learning_rate=1e12, preconditioner=None, solver="gd",
                        max_iter=max_iter).fit(X, y)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_tiny_weights_fit_as_unit_weights(Estimator):
    # Issue 23: OverflowError (classifier) and "too large for their dtype" (regressor).
    X, y = make_classification(60, 4, random_state=0)
    expected = Estimator().fit(X, y)
    model = Estimator().fit(X, y, sample_weight=np.full(60, 1e-320))
    assert_allclose(model.coef_, expected.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_float32_x_takes_weights_beyond_float32_s_range(Estimator, scale):
    # The weights were cast to X's float32 before their scale was taken out: 1e300
    # overflowed (a numpy RuntimeWarning, then "contains infinity"), 1e-300 underflowed
    # to "Sample weights must contain at least one non-zero number".
    X, y = make_classification(60, 4, random_state=0)
    X = X.astype(np.float32)
    weight = np.random.default_rng(0).uniform(1.0, 2.0, len(y))
    expected = Estimator().fit(X, y, sample_weight=weight)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = Estimator().fit(X, y, sample_weight=weight * scale)
    # Weights scaled by other than a power of 2 round differently, in float32.
    assert_allclose(model.coef_, expected.coef_, rtol=1e-3, atol=1e-4)


def test_the_classifier_s_schedule_does_not_depend_on_the_scale_of_the_weights():
    # Issue 23: unit weights 16 epochs, weights 1/n 37, times 1e-6 75 (refits scheduled
    # by the weights' sum, not by the rows they stand for).
    X, y = make_classification(2000, 20, n_informative=10, n_classes=3, random_state=0)
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    fits = [GDClassifier(alpha=1e-3).fit(X, y, sample_weight=weight * scale)
            for scale in (1.0, 1 / len(y), 1e-6, 1e-300)]
    assert len({fit.n_iter_ for fit in fits}) == 1
    for fit in fits[1:]:
        # Weights scaled by other than a power of 2 round differently.
        assert_allclose(fit.coef_, fits[0].coef_, rtol=1e-9)


@pytest.mark.parametrize("settings", [{"solver": "adam"}, {}, {"batch_size": 8}],
                         ids=["adam", "default", "mini-batch"])
def test_a_reference_objective_of_zero_is_no_divergence(settings):
    # Issue 23: partial_fit on y = 0 then on y raised "rose from 0 at the start to 3.17";
    # a warm start on new targets after a fit on y = 0 "rose from 0 ... to 2.61".
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stream = GDRegressor(random_state=0, **settings).partial_fit(X, np.zeros(60))
        for _ in range(5):
            stream.partial_fit(X, y)
        warm = GDRegressor(warm_start=True, random_state=0, **settings).fit(X, np.zeros(60))
        warm.fit(X, y)
    # The stream learns (Adam's "auto" step from a first batch of zero gradient is the
    # 1e-3 fallback: slowly).
    assert stream.loss_curve_[-1] < stream.loss_curve_[1]
    assert warm.score(X, y) > 0.9


def test_a_stream_meeting_zero_targets_after_learning_is_no_divergence():
    # The batch of zero targets has a zero model that fits it exactly: its reference
    # objective is 0, and the model's loss there is measured in its own units.
    X, y = make_regression(200, 5, noise=1.0, random_state=0)
    model = GDRegressor()
    for _ in range(20):
        model.partial_fit(X, y)
    model.partial_fit(X, np.zeros(200))
    assert np.all(np.isfinite(model.coef_))


def test_early_stopping_takes_about_as_much_memory_as_X():
    # The training and the held-out rows are copied once (see validation_fraction).
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 50), dtype=np.float32)
    y = X[:, :5].sum(axis=1) + rng.standard_normal(100_000, dtype=np.float32)
    peaks = {}
    for early_stopping in (False, True):
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GDRegressor(early_stopping=early_stopping, max_iter=2, tol=None,
                        random_state=0).fit(X, y)
        peaks[early_stopping] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[True] - peaks[False] <= 1.05 * X.nbytes


@pytest.mark.parametrize("batch_size", [1, 8, 64])
def test_weighted_mini_batches_reach_the_weighted_optimum(batch_size):
    # Batches normalised by their own weights leaned to the unweighted fit: a batch of
    # one ignored its weight. Weights that favour the rows of positive noise move the
    # intercept by about 10.
    rng = np.random.default_rng(0)
    X, noise = rng.normal(size=(300, 5)), 20 * rng.normal(size=300)
    y = X @ [3.0, -2.0, 1.0, 0.5, 4.0] + noise
    weight = np.where(noise > 0, 5.0, 1.0)
    exact = Ridge(alpha=1e-4 * weight.sum()).fit(X, y, sample_weight=weight)
    unweighted = Ridge(alpha=1e-4 * len(y)).fit(X, y)
    model = GDRegressor(batch_size=batch_size, decay="invscaling", power_t=0.5, max_iter=200,
                        tol=None, average=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=weight)
    bias = abs(unweighted.intercept_ - exact.intercept_)
    assert bias > 10
    assert abs(model.intercept_ - exact.intercept_) < 0.05 * bias
    assert_allclose(model.coef_, exact.coef_, rtol=0.02)


# -- a bound's measure is checked in the exact Hessian before a stop ---------------------
def _gap_share(model, X, y):
    """``(F - F*) / (F(0) - F*)`` of a fitted classifier, F* by newton-cholesky."""
    from sklearn.linear_model import LogisticRegression

    alpha = model.alpha
    objective = LinearObjective(BinaryCrossEntropy(), X, y.astype(np.float64), None,
                                alpha=alpha)
    exact = LogisticRegression(C=1 / (len(y) * alpha), solver="newton-cholesky",
                               tol=1e-12, max_iter=1000).fit(X, y)

    def value(m):
        return objective.loss(np.concatenate([np.ravel(m.coef_), np.ravel(m.intercept_)]))

    best, start = value(exact), objective.loss(np.zeros(X.shape[1] + 1))
    return (value(model) - best) / (start - best)


@pytest.mark.parametrize("params", [{"solver": "accelerated"}, {"learning_rate": 0.5},
                                    {"solver": "gd", "momentum": 0.9}])
def test_a_fit_in_the_bound_that_converges_is_within_tol_squared_of_its_start(cancer,
                                                                              params):
    # In the bound alone, the accelerated fit stopped after 97 epochs at 1e-8 of the
    # start's gap (the bound's curvature 1/4 far above p(1 - p) where the predictions
    # are sure); the exact Hessian's measure takes it to tol**2.
    X, y = cancer
    model = GDClassifier(alpha=1 / len(y), max_iter=5000, **params).fit(X, y)
    assert model.optimality_ <= model.tol
    assert _gap_share(model, X, y) <= 2 * model.tol**2


def test_a_large_rate_on_separable_rows_does_not_stop_far_above_the_optimum():
    # The hypothesis example: two separable rows scaled by 1e3, learning_rate=1000 (a
    # thousand times the bound's step) stopped "converged" at 28 times the optimum.
    X = np.array([[125.73022109], [-132.10486329]])
    y = np.array([0, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = GDClassifier(solver="accelerated", learning_rate=1000.0, alpha=1e-3,
                             max_iter=300).fit(X, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned or _gap_share(model, X, y) <= 2 * model.tol**2


@pytest.mark.parametrize("make", [lambda: GDClassifier(alpha=1e-3),
                                  lambda: GDClassifierCV(alphas=[1e-3], cv=2)])
def test_a_fit_builds_its_metric_on_one_blas_thread(make, monkeypatch):
    """The metric's Gram pass and factorisation run on one BLAS thread, as the engine's
    passes do: beside a busy core, each small multithreaded factorisation waits for the
    scheduler (the digits' fit took 7x as long)."""
    from threadpoolctl import threadpool_info

    import skgd._curvature as curvature

    threads = []
    make_metric = curvature.make_metric

    def recording(*args, **kwargs):
        threads.extend(info["num_threads"] for info in threadpool_info()
                       if info["user_api"] == "blas")
        return make_metric(*args, **kwargs)

    monkeypatch.setattr(curvature, "make_metric", recording)
    X, y = load_iris(return_X_y=True)
    make().fit(X, y)
    assert threads and set(threads) == {1}


@pytest.mark.parametrize("solver", ["auto", "accelerated"])
def test_a_start_optimal_to_rounding_converges_at_once(solver):
    """X of zeros and balanced classes: the zero model is the optimum and the start's
    gradient is rounding noise. The fit stops there, converged (it ran to max_iter and
    warned, measuring the noise relative to itself)."""
    X, y = np.zeros((150, 4)), np.arange(150) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier(solver=solver).fit(X, y)
    assert model.n_iter_ <= 2
    assert_allclose(model.predict_proba(X), 1 / 3, rtol=1e-12)


def test_one_blas_thread_nests_and_restores_the_threads():
    """A limit taken inside another in the same thread keeps BLAS at one thread until the
    outer one ends, which restores the threads as they were."""
    from threadpoolctl import threadpool_info

    from skgd._curvature import one_blas_thread

    def threads():
        return [info["num_threads"] for info in threadpool_info()
                if info["user_api"] == "blas"]

    before = threads()
    with one_blas_thread():
        with one_blas_thread():
            assert set(threads()) <= {1}
        assert set(threads()) <= {1}
    assert threads() == before


@pytest.mark.parametrize("label", [0, "spam"])
def test_a_single_class_is_named_as_the_user_wrote_it(label):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=rf"got only one class, {label!r}\.$"):
        GDClassifier().fit(X, np.array([label] * 4))


@pytest.mark.parametrize("estimator", [GDClassifier, GDClassifierCV])
@pytest.mark.parametrize("other, kinds", [(1, "int, str"), (None, "NoneType, str")])
def test_labels_of_mixed_types_are_named_with_the_fix(estimator, other, kinds):
    # NumPy cannot sort "a" beside 1 or None: scikit-learn's check says only that.
    X = np.arange(16.0).reshape(8, 2)
    y = np.array(["a", other] * 4, dtype=object)
    with pytest.raises(TypeError, match=rf"several types \({kinds}\).*y\.astype\(str\)"):
        estimator().fit(X, y)
    model = GDClassifier().fit(X, y.astype(str))
    with pytest.raises(TypeError, match="several types"):
        model.fit(X, y)
    assert list(model.classes_) == sorted({"a", str(other)})


@pytest.mark.parametrize("estimator", [GDClassifier, GDRegressor, GDClassifierCV,
                                       GDRegressorCV])
def test_a_subclass_has_its_own_parameters(estimator):
    # The parameter names are read once a class (see _ParamNamesOnce): a subclass's are
    # those of its own signature, clone keeps them, and the base class keeps its own.
    class Extended(estimator):
        def __init__(self, extra=1):
            super().__init__()
            self.extra = extra

    names = estimator().get_params()  # the base class's names, read first
    assert Extended(extra=3).get_params() == {"extra": 3}
    assert clone(Extended(extra=3)).extra == 3
    assert estimator().get_params() == names
    assert "extra" not in names and "tol" in names


def test_a_setting_is_validated_once_and_an_invalid_one_always(monkeypatch, iris):
    # scikit-learn's parameter validation depends on the values alone: a setting that
    # passed is not checked again (0.1 ms a fit); one that failed fails every time, and
    # equal values of another type (5 and 5.0) are another setting.
    import sklearn.base
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = iris
    checks = []
    validate = sklearn.base.validate_parameter_constraints
    monkeypatch.setattr(sklearn.base, "validate_parameter_constraints",
                        lambda *args, **kwargs: checks.append(1) or validate(*args,
                                                                             **kwargs))
    GDClassifier(alpha=0.123, max_iter=5, tol=None).fit(X, y)
    GDClassifier(alpha=0.123, max_iter=5, tol=None).fit(X, y)
    assert len(checks) == 1
    for _ in range(2):
        with pytest.raises(InvalidParameterError, match="max_iter"):
            GDClassifier(alpha=0.123, max_iter=5.0, tol=None).fit(X, y)
    # Unhashable values (a dict of class weights) are checked every time.
    for _ in range(2):
        GDClassifier(alpha=0.123, max_iter=5, tol=None, class_weight={0: 2.0}).fit(X, y)
    assert len(checks) == 5


def _validation_outcome(check, estimator, X, y, reset, y_numeric):
    """What ``check`` gives (arrays, n_features_in_, warnings) or raises (type, text)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = check(estimator, X, y, reset, y_numeric)
        except Exception as error:
            return type(error), str(error)
    out = out if isinstance(out, tuple) else (out,)
    names = getattr(estimator, "feature_names_in_", None)
    return ([np.asarray(a) for a in out], [a.dtype for a in out],
            getattr(estimator, "n_features_in_", None),
            None if names is None else names.tolist(),
            [(w.category, str(w.message)) for w in caught])


_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(6, 3))
_VALIDATION_INPUTS = {
    "float64": (_X, np.arange(6) % 2),
    "float32, float y": (_X.astype(np.float32), _X[:, 0]),
    "Fortran X, string y": (np.asfortranarray(_X), np.array(list("abcabc"))),
    "bool y": (_X, np.arange(6) % 2 == 0),
    "int X": (np.arange(18).reshape(6, 3), np.arange(6)),
    "float16 X": (_X.astype(np.float16), np.arange(6)),
    "NaN in X": (np.where(_X > 1, np.nan, _X), np.arange(6)),
    "inf in X": (np.where(_X > 1, np.inf, _X), np.arange(6)),
    "X whose sum overflows": (np.full((6, 3), 1e308), np.arange(6)),
    "NaN in y": (_X, np.where(np.arange(6) == 2, np.nan, 1.0)),
    "object y": (_X, np.array(["a", 1, "a", 1, "a", 1], dtype=object)),
    "column y": (_X, np.arange(6)[:, None]),
    "short y": (_X, np.arange(5)),
    "1-D X": (_X[:, 0], np.arange(6)),
    "no rows": (_X[:0], np.arange(0)),
    "no columns": (_X[:, :0], np.arange(6)),
    "list X": (_X.tolist(), list(range(6))),
    "big-endian X": (_X.astype(">f8"), np.arange(6)),
    "object y of strings": (_X, np.array(list("abcabc"), dtype=object)),
    "object y, None among strings": (_X, np.array(["a", None, "a", "b", "a", "b"],
                                                  dtype=object)),
}


def _frame_inputs():
    """pandas inputs, as a table's columns and target come (built when asked: pandas is
    a test dependency, not skgd's)."""
    import pandas as pd

    frame = pd.DataFrame(_X, columns=list("uvw"))
    labels = pd.Series(list("abcabc"), dtype=object)
    return {
        "DataFrame, Series of strings": (frame, labels),
        "DataFrame of float32, int Series": (frame.astype(np.float32),
                                             pd.Series(np.arange(6))),
        "DataFrame, float Series": (frame, pd.Series(_X[:, 0])),
        "DataFrame of mixed dtypes": (frame.astype({"u": np.float32}), labels),
        "DataFrame of int columns": (frame.astype(int), labels),
        "DataFrame of int, bool and float columns": (
            frame.astype({"u": np.int64, "v": bool}), labels),
        "DataFrame of int8 and float32 columns": (
            frame.astype({"u": np.int8, "v": np.float32, "w": np.float32}), labels),
        "DataFrame of uint64 columns": (frame.abs().astype(np.uint64), labels),
        "DataFrame of float16 columns": (frame.astype(np.float16), labels),
        "DataFrame of nullable floats": (frame.astype("Float64"), labels),
        "DataFrame named by integers": (pd.DataFrame(_X), labels),
        "DataFrame of other names": (pd.DataFrame(_X, columns=list("abc")), labels),
        "DataFrame with NaN": (frame.where(frame < 1), labels),
        "DataFrame, categorical Series": (frame, labels.astype("category")),
        "DataFrame, Series with None": (frame, pd.Series(["a", None] * 3, dtype=object)),
        "DataFrame, text Series": (frame, pd.Series(list("abcabc"), dtype="string")),
        "DataFrame, text Series with NA": (frame, pd.Series(["a", None] * 3,
                                                             dtype="string")),
        "DataFrame, Int64 Series": (frame, pd.Series(np.arange(6), dtype="Int64")),
        "DataFrame, Int64 Series with NA": (frame, pd.Series([1, None] * 3, dtype="Int64")),
        "DataFrame, boolean Series": (frame, pd.Series([True, False] * 3, dtype="boolean")),
    }


_FRAME_INPUTS = ["DataFrame, Series of strings", "DataFrame of float32, int Series",
                 "DataFrame, float Series", "DataFrame of mixed dtypes",
                 "DataFrame of int columns", "DataFrame of int, bool and float columns",
                 "DataFrame of int8 and float32 columns", "DataFrame of uint64 columns",
                 "DataFrame of float16 columns", "DataFrame of nullable floats",
                 "DataFrame named by integers", "DataFrame of other names",
                 "DataFrame with NaN", "DataFrame, categorical Series",
                 "DataFrame, Series with None", "DataFrame, text Series",
                 "DataFrame, text Series with NA", "DataFrame, Int64 Series",
                 "DataFrame, Int64 Series with NA", "DataFrame, boolean Series"]


@pytest.mark.parametrize("name", [*_VALIDATION_INPUTS, *_FRAME_INPUTS])
@pytest.mark.parametrize("Estimator, y_numeric", [(GDClassifier, False), (GDRegressor, True)])
@pytest.mark.parametrize("state", ["new", "fitted", "fitted on 2 columns", "fitted with names"])
def test_fast_validation_gives_what_validate_data_gives(name, Estimator, y_numeric, state):
    # skgd._validation.validated answers plain NumPy inputs and plain DataFrames itself:
    # every input, plain or not, gets what scikit-learn's validate_data gives or raises
    # (values, dtypes, n_features_in_, feature_names_in_, warnings).
    import pandas as pd
    from sklearn.utils.validation import validate_data

    from skgd._validation import validated

    X, y = {**_VALIDATION_INPUTS, **_frame_inputs()}[name]
    dtype = [np.float64, np.float32]

    def fast(estimator, X, y, reset, y_numeric):
        return validated(estimator, X, y, dtype=dtype, reset=reset, y_numeric=y_numeric)

    def reference(estimator, X, y, reset, y_numeric):
        return validate_data(estimator, X, y, accept_sparse="csr", dtype=dtype,
                             reset=reset, y_numeric=y_numeric, multi_output=False)

    def predict_fast(estimator, X, y, reset, y_numeric):
        return validated(estimator, X, dtype=dtype, reset=reset)

    def predict_reference(estimator, X, y, reset, y_numeric):
        return validate_data(estimator, X, accept_sparse="csr", dtype=dtype, reset=reset)

    def estimator():
        model = Estimator()
        if state != "new":
            fitted = {"fitted": _X, "fitted on 2 columns": _X[:, :2],
                      "fitted with names": pd.DataFrame(_X, columns=list("uvw"))}[state]
            validate_data(model, fitted, reset=True)
        return model

    for reset in (True, False):
        for ours, theirs in ((fast, reference), (predict_fast, predict_reference)):
            got = _validation_outcome(ours, estimator(), X, y, reset, y_numeric)
            expected = _validation_outcome(theirs, estimator(), X, y, reset, y_numeric)
            if isinstance(expected[0], type):
                assert got == expected
                continue
            for a, b in zip(got[0], expected[0], strict=True):
                assert_array_equal(a, b)
            assert got[1:] == expected[1:]


def test_plain_numpy_data_are_validated_without_validate_data(monkeypatch):
    import skgd._validation as validation

    def refuse(*args, **kwargs):
        raise AssertionError("validate_data called")

    monkeypatch.setattr(validation, "validate_data", refuse)
    X, y = _VALIDATION_INPUTS["float32, float y"]
    model = GDRegressor().fit(X, y)
    model.predict(X)
    GDClassifier().fit(*_VALIDATION_INPUTS["Fortran X, string y"]).predict_proba(X)
    with pytest.raises(AssertionError, match="validate_data called"):
        model.predict(X.tolist())
    # A table as pandas gives it: float columns named by strings, text labels.
    frame, labels = _frame_inputs()["DataFrame, Series of strings"]
    classifier = GDClassifier().fit(frame, labels)
    assert classifier.feature_names_in_.tolist() == ["u", "v", "w"]
    classifier.predict(frame)
    with pytest.raises(AssertionError, match="validate_data called"):
        classifier.predict(frame.to_numpy())  # scikit-learn warns of the missing names


@pytest.mark.parametrize("kind", ["object", "str", "int"])
def test_text_labels_are_the_classes_numpy_sorts(kind):
    # Object arrays of strings (pandas' text columns) are sorted and indexed by hashing,
    # not by NumPy's pairwise comparisons: the same classes_, in the same order, and the
    # same fit as the labels' codes.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    codes = rng.integers(0, 4, size=120)
    names = np.array(["b", "a", "ä", "B"], dtype=object)
    y = {"object": names[codes], "str": names[codes].astype(str), "int": codes}[kind]
    model = GDClassifier(alpha=1e-2).fit(X, y)
    assert_array_equal(model.classes_, np.unique(y))
    assert model.classes_.dtype == np.unique(y).dtype
    reference = GDClassifier(alpha=1e-2).fit(X, np.searchsorted(np.unique(y), y))
    assert_allclose(model.coef_, reference.coef_, rtol=0, atol=0)
    assert_array_equal(model.predict(X), model.classes_[reference.predict(X)])
    # Labels given to partial_fit as strings are indexed the same way.
    stream = GDClassifier(alpha=1e-2).partial_fit(X, y, classes=np.unique(y))
    assert_array_equal(stream.classes_, np.unique(y))


@pytest.mark.parametrize("kind", ["int", "object", "float"])
def test_labels_nearly_one_a_row_warn_as_scikit_learn_does(kind):
    # The label check skipped for integer and text labels also gave scikit-learn's
    # warning that such labels may be a regression target: it is given here, once.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    codes = np.arange(40) % 30
    y = {"int": codes, "object": codes.astype(str).astype(object),
         "float": codes.astype(float)}[kind]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        GDClassifier(max_iter=5).fit(X, y)
    assert sum("50% of the number" in str(w.message) for w in record) == 1
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*50% of the number")
        warnings.simplefilter("ignore", ConvergenceWarning)
        GDClassifier(max_iter=5).fit(X, codes % 20)  # half the rows: no warning


def test_lbfgs_in_the_plain_metric_is_free_of_the_features_scale():
    # Without a preconditioner the first step's decrement is grad . grad, in X's squared
    # units: as the reference of the optimality it was 1e12 times the gauge's on
    # features of 1e6, and the fit stopped after one step with the intercept still 0.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    y = X @ [1.0, 2.0, 0.0, 1.0] + 1.0 + 0.3 * rng.randn(40)
    labels = (X[:, 0] + 0.5 * rng.randn(40) > 0).astype(int)
    for scale in (1.0, 1e6):
        regressor = GDRegressor(alpha=0.0, preconditioner=None).fit(X * scale, y)
        assert regressor.solver_ == "lbfgs"
        exact = LinearRegression().fit(X * scale, y)
        assert_allclose(regressor.intercept_, exact.intercept_, atol=1e-4)
        classifier = GDClassifier(alpha=0.0, preconditioner=None).fit(X * scale, labels)
        reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(
            X * scale, labels)
        assert_allclose(classifier.predict_proba(X * scale),
                        reference.predict_proba(X * scale), atol=1e-3)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_an_l2_strength_near_the_float_limit_shrinks_without_overflow(Estimator, iris):
    # The Jacobi scale of the metric's factorisation multiplied two roots of the ridge:
    # at alpha=1e308 their product overflowed (a RuntimeWarning), and the coefficients
    # came out with the wrong signs.
    X, y = iris
    if Estimator is GDRegressor:
        y = X @ [1.0, -2.0, 0.5, 3.0] + 1.0
    huge = Estimator(alpha=1e308).fit(X, y)
    large = Estimator(alpha=1e300).fit(X, y)
    assert_allclose(np.ravel(huge.coef_) * 1e8, np.ravel(large.coef_), rtol=1e-3,
                    atol=1e-3 * np.abs(large.coef_).max())


def _far_off_column(offset, n=60):
    rng = np.random.RandomState(0)
    X = rng.randn(n, 3)
    y = X @ [1.0, 2.0, 3.0] + 0.5 * rng.randn(n)
    labels = (X @ [1.0, -1.0, 0.5] + 0.5 * rng.randn(n) > 0).astype(int)
    X[:, 0] += offset
    return X, y, labels


@pytest.mark.parametrize("sparse, settings", [
    (True, {}), (False, {"preconditioner": "diagonal"}), (False, {"solver": "gd"}),
    (False, {"solver": "accelerated"}), (True, {"solver": "accelerated"}),
    (False, {"dtype": np.float32}),
])
def test_a_column_far_off_zero_fits_as_centred(sparse, settings):
    # Beside the intercept a column of 1e7 + N(0, 1) is nearly collinear with it: the
    # metric's factorisation cut that direction out, and fits of sparse X, of the
    # diagonal metric or of the bound stopped "converged" with its coefficient 0 (0.82
    # in Ridge), no warning. The far columns are centred for the fit.
    dtype = settings.get("dtype", np.float64)
    offset = 1e3 if dtype == np.float32 else 1e5 if "preconditioner" in settings else 1e7
    # At their default tol: the paths other than the default's stop less close.
    rtol = 1e-6 if dtype == np.float64 and not settings else 1e-3
    settings = {key: value for key, value in settings.items() if key != "dtype"}
    X, y, labels = _far_off_column(offset)
    X = X.astype(dtype)
    data = sp.csr_matrix(X) if sparse else X
    before = data.copy()
    alpha = 0.01
    ridge = Ridge(alpha=alpha * len(y)).fit(X.astype(np.float64), y)
    model = GDRegressor(alpha=alpha, **settings).fit(data, y)
    assert model.coef_.dtype == dtype
    assert_allclose(model.coef_, ridge.coef_, rtol=rtol)
    assert_allclose(model.predict(data), ridge.predict(X.astype(np.float64)),
                    atol=rtol * np.abs(y).max())
    # (lbfgs itself needs the column centred: the same objective, the intercept aside.)
    centred = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    exact = LogisticRegression(C=1 / (alpha * len(y)), tol=1e-12, max_iter=10_000).fit(
        centred, labels)
    classifier = GDClassifier(alpha=alpha, **settings).fit(data, labels)
    assert_allclose(classifier.predict_proba(data), exact.predict_proba(centred),
                    atol=rtol)
    # X as given, untouched.
    assert_array_equal(data.toarray() if sparse else data,
                       before.toarray() if sparse else before)


@pytest.mark.parametrize("penalty, Exact", [("l1", "Lasso"), ("elasticnet", "ElasticNet")])
def test_l1_fits_of_targets_far_off_zero_fit_as_centred(penalty, Exact):
    # Lasso centres y; the fit from a far intercept stopped 1e-5 (targets 1e8 off zero)
    # to 1e-3 (1e10) off its coefficients, no warning.
    from sklearn import linear_model

    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    for offset in (1e8, 1e10):
        y = offset + X[:, 0] + 0.5 * X[:, 1]
        exact = getattr(linear_model, Exact)(alpha=0.05, l1_ratio=0.5, tol=1e-14,
                                             max_iter=100_000) if Exact == "ElasticNet" \
            else linear_model.Lasso(alpha=0.05, tol=1e-14, max_iter=100_000)
        exact.fit(X, y)
        model = GDRegressor(alpha=0.05, penalty=penalty, l1_ratio=0.5, tol=1e-10).fit(X, y)
        assert_allclose(model.coef_, exact.coef_, rtol=1e-8, atol=1e-10)
        assert_array_equal(model.coef_ == 0, exact.coef_ == 0)
        assert model.intercept_ == pytest.approx(exact.intercept_, rel=1e-14)


def test_a_centred_fit_continues_as_the_data_given():
    # The intercept and the point a warm start or partial_fit continues from are the
    # data's as given, not the centred data's.
    X, y, _ = _far_off_column(1e7)
    model = GDRegressor(alpha=0.01, warm_start=True).fit(X, y)
    coef, intercept = model.coef_.copy(), model.intercept_
    model.fit(X, y)
    assert model.n_iter_ <= 3
    assert_allclose(model.coef_, coef, rtol=1e-6)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-12)
    stream = GDRegressor(alpha=0.01).fit(X, y)
    before = stream.predict(X)
    stream.partial_fit(X, y)
    assert np.abs(stream.predict(X) - before).max() < 0.1 * np.std(y)


@pytest.mark.parametrize("settings", [{"average": True, "batch_size": 100},
                                      {"solver": "adam"}])
def test_fits_whose_state_partial_fit_continues_keep_far_columns_as_given(settings):
    # A running average and Adam's step length belong to the coordinates they were
    # built in: centred for the fit, they made the partial_fit that continued them on
    # the data as given diverge (a DivergenceError; predictions 1e6 off). These fits
    # take X as it is, and say where it is too far off to fit.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1000, 4))
    labels = (X @ [1.0, -2.0, 0.5, 1.0] + rng.logistic(size=1000) > 0).astype(int)
    X[:, 0] += 1e7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GDClassifier(alpha=1e-4, random_state=0, **settings).fit(X, labels)
        params = model._engine_state.params
        if not settings.get("average"):
            # The state partial_fit continues from is the model fit returned.
            assert_allclose(X @ params[:4] + params[4], model.decision_function(X),
                            rtol=1e-6, atol=1e-6)
        model.partial_fit(X, labels)
    assert np.all(np.isfinite(model.decision_function(X)))


def _moved(rng, n=1000):
    Z = rng.normal(size=(n, 4))
    X = Z.copy()
    X[:, 0] += 1e7
    X[:, 2] = 2000 + 10 * Z[:, 2]
    return X, Z


def test_a_warm_start_on_data_whose_far_columns_moved_fits_them():
    # The regressor's warm start took X as it was and stopped after one epoch at R^2
    # 0.988 (Ridge 0.9985), no warning; the classifier's started worse than the zero
    # model (its objective 21.6 against 0.69) and was reported as diverging.
    rng = np.random.default_rng(6)
    X, Z = _moved(rng)
    X2, Z2 = _moved(rng)
    X2[:, 0] += 50
    X2[:, 2] += 10
    coef = np.array([1.0, -2.0, 0.5, 1.0])
    regressor = GDRegressor(alpha=1e-4, warm_start=True).fit(X, Z @ coef + 1e6)
    target = Z2 @ coef + 0.1 * rng.normal(size=1000) + 1e6 + 50
    regressor.fit(X2, target)
    ridge = Ridge(alpha=1e-4 * 1000).fit(X2, target)
    assert_allclose(regressor.coef_, ridge.coef_, rtol=1e-6)
    labels = (Z @ coef + rng.logistic(size=1000) > 0).astype(int)
    labels2 = (Z2 @ coef + rng.logistic(size=1000) > 0).astype(int)
    classifier = GDClassifier(alpha=1e-4, warm_start=True).fit(X, labels)
    classifier.fit(X2, labels2)
    cold = GDClassifier(alpha=1e-4).fit(X2, labels2)
    assert_allclose(classifier.coef_, cold.coef_, rtol=1e-5)
    assert_allclose(classifier.predict_proba(X2), cold.predict_proba(X2), atol=1e-6)


def test_a_warm_start_worse_than_the_zero_model_starts_from_it(cancer):
    # A warm start on labels that flipped starts at 13 against the zero model's 0.69:
    # its descent from there ran above twice the zero model's for a few epochs and
    # raised DivergenceError; on columns moved by 1e4 its predictions were saturated,
    # and it crawled (1 000 epochs, the objective 1 000 times the zero model's). Such a
    # start is left for the zero model after its first epoch.
    X, y = cancer
    for data, labels in ((X, 1 - y), (X + 1e4, y)):
        model = GDClassifier(alpha=1e-4, warm_start=True).fit(X, y)
        model.fit(data, labels)
        cold = GDClassifier(alpha=1e-4).fit(data, labels)
        assert model.loss_curve_[0] > 10 * np.log(2)
        assert model.loss_curve_[1] == pytest.approx(np.log(2), rel=1e-12)
        assert_allclose(model.loss_curve_[-1], cold.loss_curve_[-1], rtol=1e-8)
    # A rate that diverges from zero still diverges from there.
    model = GDClassifier(alpha=1e-4, warm_start=True).fit(X, y)
    model.set_params(solver="gd", preconditioner=None, learning_rate=100)
    # It started elsewhere: the message said "rose from 0.693147 at the start".
    with pytest.raises(DivergenceError, match="where the zero model's is 0.693147;"):
        model.fit(X, 1 - y)


@pytest.mark.parametrize("batch_size", [50, 499])
def test_a_mini_batch_warm_start_worse_than_the_zero_model_starts_from_it(batch_size):
    # Its epochs' objective is the mean over moving points: measured at its start by
    # one more pass. From its start (the model of X, refitted on 10 X) it ran above twice
    # the zero model's and raised DivergenceError while the objective fell.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 4))
    y = X @ rng.normal(size=4) + 0.1 * rng.normal(size=500)
    settings = dict(alpha=1e-3, batch_size=batch_size, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GDRegressor(warm_start=True, **settings).fit(X, y)
        model.fit(10 * X, y)
        cold = GDRegressor(**settings).fit(10 * X, y)
    assert_allclose(model.coef_, cold.coef_, rtol=1e-12)
    assert model.n_iter_ == cold.n_iter_


@pytest.mark.parametrize("batch_size", [None, 64])
def test_partial_fit_descends_from_a_fitted_model_worse_than_the_zero_model(
        cancer, batch_size):
    # After a fit, partial_fit on labels that flipped starts 13 times the zero model's
    # objective above it: it stayed above twice the zero model's for three calls while
    # it fell, and raised DivergenceError.
    X, y = cancer
    settings = dict(alpha=1e-4, batch_size=batch_size, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GDClassifier(**settings).fit(X, y)
    n_fit = len(model.loss_curve_)
    for _ in range(30):
        model.partial_fit(X, 1 - y)
    stream = model.loss_curve_[n_fit:]
    assert stream[0] > 5 * np.log(2) > 2 * np.log(2) > stream[-1]
    assert model.score(X, 1 - y) > 0.9
    # A rate that diverges still raises, and leaves the model as it was.
    model = GDClassifier(solver="gd", preconditioner=None, learning_rate=1.0,
                         max_iter=50, tol=None, **settings).fit(X, y)
    model.set_params(learning_rate=1000)
    coef = model.coef_.copy()
    with pytest.raises(DivergenceError, match="where the zero model's is 0.693147;"), \
            warnings.catch_warnings():
        # Its calls before the error end worse than the zero model, and say so.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(10):
            coef = model.coef_.copy()
            model.partial_fit(X, 1 - y)
    assert_array_equal(model.coef_, coef)


def test_a_warm_start_after_adam_drops_the_offset_the_classes_share():
    # Adam's per-coordinate steps leave the classes' coefficients summing to non-zero,
    # which the softmax does not see and the penalty does: the warm-started default fit
    # kept that offset (0.23 off LogisticRegression's coefficients) and reported
    # optimality 2e-9.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = GDClassifier(alpha=1e-3, solver="adam", learning_rate=0.1, max_iter=300,
                         warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert np.abs(model.coef_.sum(axis=0)).max() > 0.1
    model.set_params(solver="auto", learning_rate="auto", max_iter=1000).fit(X, y)
    cold = GDClassifier(alpha=1e-3).fit(X, y)
    assert_allclose(model.coef_, cold.coef_, atol=1e-6)
    assert_allclose(model.coef_.sum(axis=0), 0, atol=1e-12)


def test_a_warm_start_of_another_shape_with_as_many_parameters_restarts():
    # Two classes of 5 features and three of 1 have 6 parameters each: the warm start
    # continued from the first model's, read as the second's, and ended 2.4 off.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    model = GDClassifier(alpha=1e-2, warm_start=True).fit(X, (X[:, 0] > 0).astype(int))
    X1 = X[:, :1]
    labels = np.digitize(X1[:, 0] + 0.3 * rng.normal(size=200), [-0.5, 0.5])
    model.fit(X1, labels)
    cold = GDClassifier(alpha=1e-2).fit(X1, labels)
    assert_allclose(model.coef_, cold.coef_, rtol=1e-6)


def test_float32_targets_far_off_zero_are_centred_before_their_cast():
    # Targets of 1e5 cast to float32 keep steps of 0.008: centred after the cast, a
    # signal of 0.05 a unit lost its third digit (coefficients 5e-3 off the float64
    # fit's); centred before it, the float32 fit is the float64 fit's to float32.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 1e5 + X @ [0.05, 0.02, 0.01] + 0.02 * rng.normal(size=300)
    single = GDRegressor(alpha=1e-4).fit(X.astype(np.float32), y)
    double = GDRegressor(alpha=1e-4).fit(X, y)
    assert single.coef_.dtype == np.float32
    assert_allclose(single.coef_, double.coef_, rtol=1e-4)


def test_numeric_string_targets_are_fitted_as_numbers():
    # As Ridge and SGDRegressor convert them; with an intercept the screen of targets far
    # off zero summed the strings (a TypeError from NumPy).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    as_strings = GDRegressor().fit(X, y.astype(str))
    assert_allclose(as_strings.coef_, GDRegressor().fit(X, y).coef_)
    search = GDRegressorCV(alphas=[1e-2], cv=3).fit(X, y.astype(str))
    assert search.best_score_ == GDRegressorCV(alphas=[1e-2], cv=3).fit(X, y).best_score_


@pytest.mark.parametrize("solver", ["gd", "accelerated", "lbfgs"])
def test_an_l1_fit_whose_decay_stalls_it_does_not_claim_convergence(solver):
    # Its gradient mapping was measured at the decayed rate, and rounded to exactly 0
    # once the steps fell below the coefficients' rounding: "converged" (optimality_ 0,
    # no warning) at 4.4 times Lasso's objective (a helper's audit).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = X @ [1.0, 0.0, 2.0, -0.5] + 0.1 * rng.normal(size=50)
    lasso = Lasso(alpha=0.01, tol=1e-12, max_iter=100000).fit(X, y)
    model = GDRegressor(alpha=0.01, penalty="l1", solver=solver,
                        preconditioner="full" if solver == "lbfgs" else None,
                        decay="exponential", decay_rate=0.01, max_iter=300)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in record)
    assert warned or np.allclose(model.coef_, lasso.coef_, atol=1e-5)
    assert warned or solver == "lbfgs"


def test_an_elastic_net_of_equal_columns_keeps_exact_zeros():
    # Of two equal columns, the full metric's L1 prox left one at -2.1e-16 (rounding of
    # its linear solve) where ElasticNet's solution, unique, is 0 in both.
    rng = np.random.default_rng(0)
    rng.normal(size=(60, 8)), rng.normal(size=60), rng.uniform(size=(2, 60))
    X = rng.normal(size=(60, 6))
    X = np.hstack([X, X[:, :2], X[:, :1] + 1e-3 * rng.normal(size=(60, 1))])
    y = 2 * X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=60)
    alpha = 1.01 * np.max(np.abs(X.T @ y)) / len(y)
    settings = dict(alpha=alpha, l1_ratio=0.5, fit_intercept=False)
    model = GDRegressor(penalty="elasticnet", tol=1e-10, **settings).fit(X, y)
    reference = ElasticNet(tol=1e-12, max_iter=1000000, **settings).fit(X, y)
    assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert_allclose(model.coef_, reference.coef_, atol=1e-8)


def test_a_step_that_overflows_the_full_metric_s_l1_prox_diverges():
    # The prox's search compared NaNs and ended at its start: a step of 0 that
    # "converged", no error (partial_fit at learning_rate=1e39 on float32 X).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    y = X @ [1.0, 2.0, 0.0, -1.0] + 0.1 * rng.normal(size=100)
    model = GDRegressor(penalty="l1", alpha=0.01, preconditioner="full").fit(X, y)
    coef = model.coef_.copy()
    model.set_params(learning_rate=1e39)
    # (NumPy before 2 promotes the step to float64: the objective's rise raises.)
    with pytest.raises(DivergenceError, match="overflows float32|rose to"):
        model.partial_fit(X, y)
    assert_array_equal(model.coef_, coef)


def test_lbfgs_has_no_partial_fit_and_says_when_it_takes_no_l1():
    # partial_fit was there and always raised (three of scikit-learn's checks called
    # it); the L1 refusal named 512 columns where the rows decided (4 rows, 10 columns).
    assert not hasattr(GDClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(GDClassifier(), "partial_fit")
    X = np.random.default_rng(0).normal(size=(4, 10))
    with pytest.raises(ValueError, match=r"sqrt\(24 n\) of them for n rows \(here 11 "
                                         r"columns, 1 output\(s\), 4 rows\)"):
        GDRegressor(solver="lbfgs", penalty="l1").fit(X, X[:, 0])


def test_balanced_class_weights_count_the_sample_weights():
    # The classes were counted by rows, as SGDClassifier counts them: integer weights
    # were not repeated rows (probabilities 0.008 apart), where LogisticRegression's
    # weighted counts make them so (scikit-learn's equivalence checks).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=40) > 0.4).astype(int)
    weight = rng.integers(0, 4, size=40)
    weighted = GDClassifier(class_weight="balanced").fit(X, y, sample_weight=weight)
    repeated = GDClassifier(class_weight="balanced").fit(np.repeat(X, weight, axis=0),
                                                         np.repeat(y, weight))
    assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-8)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_a_column_of_subnormal_squares_raises_without_a_numpy_warning(Estimator):
    # Its metric's inverse overflows: skgd's error says so, not NumPy's warning first.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    X[:, 1] *= 1e-155
    y = X[:, 0] + 3 * X[:, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="overflows the dtype of X"):
            Estimator(alpha=0).fit(X, y if Estimator is GDRegressor else y > 0)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_a_stream_of_columns_far_off_zero_warns_on_its_first_batch(Estimator):
    # partial_fit takes X as it comes: its steps, sized by the far column's curvature,
    # left every coefficient at 0 after ten passes, without a word (a helper's audit).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, 2.0, 3.0]
    y = y if Estimator is GDRegressor else y > 0
    extra = {} if Estimator is GDRegressor else {"classes": [False, True]}
    far = X.copy()
    far[:, 0] += 1e7
    with pytest.warns(UserWarning, match=r"Column\(s\) \[0\] of X lie far off zero"):
        Estimator().partial_fit(far, y, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Estimator().partial_fit(X, y, **extra)
        # Nor a stream of one row a call, whose first has no spread, nor a constant
        # column (a bias column of ones), which no spread measures.
        ones = np.c_[X, np.ones(len(X))]
        Estimator().partial_fit(ones, y, **extra)
        model = Estimator()
        for row in range(20):
            model.partial_fit(X[row:row + 1], y[row:row + 1], **extra)


@pytest.mark.parametrize("shape", [(50,), (50, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_without_r2_scores_checks_is_r2_score(shape, weighted):
    # The search scores a fit and fold with it: r2_score's formula (force_finite, the
    # outputs' mean) without its checks, to the last bit, constant targets included.
    rng = np.random.default_rng(0)
    y = rng.normal(size=shape)
    prediction = y + 0.3 * rng.normal(size=shape)
    weight = rng.uniform(0.5, 2.0, 50) if weighted else None
    for targets, raw in [(y, prediction), (np.ones(shape), prediction),
                         (np.ones(shape), np.ones(shape)), (y.astype(str), prediction)]:
        assert GDRegressor._score_raw(raw, targets, weight) == r2_score(
            targets.astype(float), raw, sample_weight=weight)
