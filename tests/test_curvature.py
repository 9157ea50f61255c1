"""Tests of skgd._curvature: the curvature bound, the metrics and what "auto" picks."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.optimize import approx_fprime
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import Lasso
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skgd._curvature as curvature
from skgd import GDClassifier, GDRegressor
from skgd.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    LinearObjective,
    SquaredError,
)


def _problem(loss_name, weighted=True, fit_intercept=True, alpha=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 5)) * np.array([1.0, 10.0, 0.1, 1.0, 3.0])
    weight = rng.uniform(0.2, 2.0, 60) if weighted else None
    if loss_name == "binary":
        loss, y = BinaryCrossEntropy(), rng.integers(0, 2, 60).astype(float)
    elif loss_name == "softmax":
        loss, y = CategoricalCrossEntropy(3), rng.integers(0, 3, 60)
    else:
        loss, y = SquaredError(), rng.normal(size=60)
    return LinearObjective(loss, X, y, weight, alpha=alpha, fit_intercept=fit_intercept)


def _block_bound(objective):
    """``B`` over the whole flat vector: the same block for every output."""
    block = curvature.bound(objective)
    n_outputs, n_features = objective.n_outputs, objective.n_features
    full = np.zeros((objective.n_params, objective.n_params))
    for k in range(n_outputs):
        index = np.r_[k * n_features:(k + 1) * n_features,
                      [objective.n_coef + k] if objective.fit_intercept else []].astype(int)
        full[np.ix_(index, index)] = block
    return full


@pytest.mark.parametrize("loss_name", ["binary", "softmax"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_local_hessian_is_the_derivative_of_the_gradient(loss_name, fit_intercept):
    objective = _problem(loss_name, fit_intercept=fit_intercept)
    w = np.random.default_rng(1).normal(size=objective.n_params)
    numeric = np.array([approx_fprime(w, lambda v, i=i: objective.gradient(v)[i], 1e-7)
                        for i in range(objective.n_params)])
    assert_allclose(objective.local_hessian(w), numeric, atol=1e-6)


@pytest.mark.parametrize("loss_name", ["binary", "softmax", "squared"])
def test_the_bound_majorises_the_hessian_everywhere(loss_name):
    objective = _problem(loss_name)
    bound = _block_bound(objective)
    for seed in range(5):
        w = np.random.default_rng(seed).normal(scale=3.0, size=objective.n_params)
        hessian = (objective.local_hessian(w) if loss_name != "squared" else
                   _block_bound(objective))
        assert np.linalg.eigvalsh(bound - hessian)[0] >= -1e-10


def test_the_diagonal_metric_majorises_the_bound():
    objective = _problem("binary")
    metric = curvature.diagonal(objective)
    gap = np.diag(metric.weights) - _block_bound(objective)
    assert np.linalg.eigvalsh(gap)[0] >= -1e-10


@pytest.mark.parametrize("loss_name", ["binary", "softmax", "squared"])
def test_full_metric_steps_by_the_bound_and_measures_in_it(loss_name):
    objective = _problem(loss_name)
    metric = curvature.full(objective)
    g = np.random.default_rng(2).normal(size=objective.n_params)
    bound = _block_bound(objective)
    assert_allclose(metric.direction(g), np.linalg.solve(bound, g), rtol=1e-8)
    u, v = g, np.arange(objective.n_params, dtype=float)
    assert_allclose(metric.inner(u, v), u @ bound @ v, rtol=1e-10)


def test_collinear_columns_leave_the_null_directions_alone():
    # A full one-hot block beside the intercept: the bound is singular along "one more
    # for every level, one less for the intercept", along which nothing changes.
    levels = np.random.default_rng(0).integers(0, 4, 200)
    X = OneHotEncoder(sparse_output=False).fit_transform(levels[:, None])
    y = levels + np.random.default_rng(1).normal(size=200)
    objective = LinearObjective(SquaredError(), X, y)
    step = curvature.full(objective).direction(objective.gradient(np.zeros(5)))
    assert np.all(np.isfinite(step)) and np.linalg.norm(step) < 1e3
    # The fit is the least-squares one, each level's mean, in one step.
    model = GDRegressor(alpha=0.0).fit(X, y)
    assert_allclose(model.predict(X), [y[levels == k].mean() for k in levels], rtol=1e-10)
    assert model.n_iter_ == 2


@pytest.mark.parametrize("name, batch_size, penalty, solver, expected", [
    ("auto", None, None, "accelerated", "full"),
    ("auto", 16, None, "accelerated", None),
    ("auto", None, "l1", "accelerated", "diagonal"),
    ("auto", None, None, "adam", None),
    ("full", None, "l1", "gd", "diagonal"),
    (None, None, None, "gd", None),
])
def test_what_auto_picks(name, batch_size, penalty, solver, expected):
    X, y = load_diabetes(return_X_y=True)
    model = GDRegressor(preconditioner=name, batch_size=batch_size, solver=solver,
                        penalty=penalty or "l2", alpha=0.1 if penalty else 0.0,
                        max_iter=3, tol=None).fit(X, y)
    assert model.preconditioner_ == expected


def test_partial_fit_keeps_the_plain_metric_under_auto():
    X, y = load_diabetes(return_X_y=True)
    model = GDRegressor().partial_fit(X, y)
    assert model.preconditioner_ is None


def test_wide_sparse_X_never_builds_a_square_matrix(monkeypatch):
    rng = np.random.default_rng(0)
    X = sp.random(300, 20_000, density=1e-3, format="csr", random_state=0)
    y = (X @ rng.normal(size=20_000) > 0).astype(int)
    y[:2] = [0, 1]

    def refuse(*args, **kwargs):
        raise AssertionError("a p x p matrix was built")

    monkeypatch.setattr(curvature, "gram", refuse)
    model = GDClassifier(alpha=1e-3, max_iter=20, tol=None).fit(X, y)
    assert model.preconditioner_ == "diagonal"


def test_l1_in_the_diagonal_metric_is_exact_and_gives_zeros():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    lasso = Lasso(alpha=0.5, tol=1e-12, max_iter=100_000).fit(X, y)
    model = GDRegressor(alpha=0.5, penalty="l1", tol=1e-9, max_iter=5000).fit(X, y)
    assert model.preconditioner_ == "diagonal"
    assert_allclose(model.coef_, lasso.coef_, atol=1e-5)
    np.testing.assert_array_equal(model.coef_ == 0, lasso.coef_ == 0)


@pytest.mark.parametrize("preconditioner", ["full", "diagonal", None])
def test_every_metric_reaches_the_same_solution(preconditioner):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    reference = GDClassifier(alpha=1e-2, tol=1e-12, max_iter=3000).fit(X, y)
    model = GDClassifier(alpha=1e-2, preconditioner=preconditioner, tol=1e-9,
                         max_iter=20_000).fit(X, y)
    assert_allclose(model.coef_, reference.coef_, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("preconditioner", ["full", "diagonal"])
def test_an_explicit_metric_in_mini_batches_descends(preconditioner):
    X, y = load_diabetes(return_X_y=True)
    model = GDRegressor(preconditioner=preconditioner, batch_size=32, random_state=0,
                        max_iter=20, tol=None).fit(X, y)
    assert model.preconditioner_ == preconditioner
    # Constant steps in mini-batches settle in a noisy band below the start.
    assert max(model.loss_curve_[5:]) < 0.8 * model.loss_curve_[0]


def test_a_preconditioned_float_learning_rate_scales_the_safe_step():
    X, y = load_diabetes(return_X_y=True)
    model = GDRegressor(learning_rate=0.5, max_iter=3, tol=None).fit(X, y)
    auto = GDRegressor(max_iter=3, tol=None).fit(X, y)
    assert model.learning_rate_curve_ == [0.5] * 3
    assert auto.learning_rate_curve_ == [1.0] * 3


def test_float32_metrics_stay_float32():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    model = GDClassifier(alpha=1e-2).fit(X, y)
    assert model.coef_.dtype == np.float32
    assert model._metric._inverse.dtype == np.float32
    reference = GDClassifier(alpha=1e-2).fit(X.astype(np.float64), y)
    assert_allclose(model.coef_, reference.coef_, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e160), (np.float32, 1e20)])
def test_X_whose_squares_overflow_gets_a_clear_error(dtype, scale):
    X, y = load_diabetes(return_X_y=True)
    X = (StandardScaler().fit_transform(X)[:60] * scale).astype(dtype)
    with pytest.raises(ValueError, match="Rescale X"):
        GDRegressor().fit(X, y[:60])


def test_no_refits_where_the_hessian_over_all_parameters_would_be_too_large(monkeypatch):
    monkeypatch.setattr(curvature, "REFIT_MAX_PARAMS", 10)
    objective = _problem("softmax")
    assert objective.n_params > 10
    assert curvature.full(objective).refresh is None
    assert curvature.full(_problem("binary", fit_intercept=False, alpha=0.1)).refresh \
        is not None
