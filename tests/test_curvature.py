"""Tests of skgd._curvature: the curvature bound, the metrics and what "auto" picks."""

import copy
import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import approx_fprime
from scipy.special import logsumexp
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skgd._curvature as curvature
import skgd.losses as losses
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
    X = sp.random(300, 20_000, density=1e-2, format="csr", random_state=0)
    y = (X @ rng.normal(size=20_000) > 0).astype(int)
    y[:2] = [0, 1]

    gram = curvature.gram

    def refuse(X, *args, **kwargs):
        # The split metric's blocks over a few frequent columns are allowed.
        if X.shape[1] > curvature.HEAVY_MAX_COLUMNS:
            raise AssertionError("a p x p matrix was built")
        return gram(X, *args, **kwargs)

    monkeypatch.setattr(curvature, "gram", refuse)
    # Fewer rows than half the columns (and 200 nonzeros a row, so that a step in an
    # n x n factor costs a few passes): least squares takes the full metric, held
    # through X; the cross-entropy, which would refit its kernel, the diagonal.
    model = GDRegressor(alpha=1e-3, max_iter=20, tol=None).fit(X, X @ rng.normal(size=20_000))
    assert model.preconditioner_ == "full"
    model = GDClassifier(alpha=1e-3, max_iter=20, tol=None).fit(X, y)
    assert model.preconditioner_ == "diagonal"
    # More rows, beyond FULL_MAX_COLUMNS (made small here; text-like rows, whose Gram
    # matrix is not sparse): the diagonal.
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", 200)
    X = sp.random(600, 1000, density=0.05, format="csr", random_state=0)
    y = (X @ rng.normal(size=1000) > 0).astype(int)
    model = GDClassifier(alpha=1e-3, max_iter=20, tol=None).fit(X, y)
    assert model.preconditioner_ == "diagonal"


def test_l1_in_the_diagonal_metric_is_exact_and_gives_zeros():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    lasso = Lasso(alpha=0.5, tol=1e-12, max_iter=100_000).fit(X, y)
    model = GDRegressor(alpha=0.5, penalty="l1", preconditioner="diagonal", tol=1e-9,
                        max_iter=5000).fit(X, y)
    assert (model.solver_, model.preconditioner_) == ("accelerated", "diagonal")
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


def _constant_column_beside_the_intercept():
    """A constant column of about 10 beside the intercept and duplicated rows, weighted:
    a binary cross-entropy bound singular but for a tiny L2 term, far below float32's
    rounding of its Gram matrix (the example hypothesis found for the mini-batch
    property, built as ``tests/test_properties.py`` builds it)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((245, 2))
    X[:, 0] = rng.uniform(-3, 3, size=1)
    rows = rng.integers(0, 245, (2, 135))
    X[rows[0]] = X[rows[1]]
    X = X * [0.1, 1.0]
    X = (X.astype(np.float32).astype(np.float64) * 100.0).astype(np.float32)
    weight = rng.uniform(0.2, 3.0, 245)
    y = rng.integers(0, 2, 245)
    y[:2] = [0, 1]
    return X, y, weight


def test_a_mini_batch_fit_on_a_nearly_singular_float32_bound_measures_its_optimality():
    # The hypothesis example: optimality_ read 0.0 and the fit, 1e-3 above the optimum,
    # did not warn. Cholesky had accepted a pivot at float32's rounding; the inverse,
    # kept in float32 with entries of 1e7, gave a squared measure below zero.
    X, y, weight = _constant_column_beside_the_intercept()
    model = GDClassifier(batch_size=115, max_iter=20, solver="gd", momentum=0.9,
                         random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y, sample_weight=weight)
    assert model.optimality_ > 0
    if model.optimality_ > np.sqrt(model.tol):
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


@pytest.mark.parametrize("loss_name", ["squared", "binary", "softmax"])
def test_metrics_about_the_columns_centre_are_the_same_metrics(loss_name):
    # Columns off their centre (a mean of 300 spreads of a column's) take L-BFGS's
    # metrics about it: the same steps, inner products and top eigenvalue as the metric
    # taken about 0, where that one is accurate enough to tell.
    centred = _problem(loss_name)
    centred.X = centred.X + 300 * centred.X.std(axis=0)
    plain = LinearObjective(centred.loss_function, centred.X, centred.y,
                            centred.sample_weight, alpha=centred.alpha)
    plain.column_centre = None  # the cached property, set: no centre
    assert centred.column_centre is not None
    rng = np.random.default_rng(3)
    w, g, u, v = (rng.normal(size=centred.n_params) for _ in range(4))
    # A point where no class is sure of every row (whose Hessian would be singular along
    # that class's intercept, where metrics differ by what they cut).
    w *= 1e-4
    shift = curvature._class_shift(centred)
    if shift is not None:
        # The softmax's gradients and steps sum to 0 over the classes (the metrics lift
        # the direction in which they do not, each in its coordinates).
        g, u, v = shift.centre(g), shift.centre(u), shift.centre(v)
    pairs = [(curvature.full(centred, local=True), curvature.full(plain, local=True))]
    if loss_name != "squared":
        pairs.append((pairs[0][0].refresh(w), pairs[0][1].refresh(w)))
        pairs.append((curvature._exact_softmax(centred, 1)(w),
                      curvature._exact_softmax(plain, 1)(w)) if loss_name == "softmax"
                     else pairs[-1])
    for about_centre, about_zero in pairs:
        assert about_centre.centre is not None and about_zero.centre is None
        assert_allclose(about_centre.direction(g), about_zero.direction(g), rtol=1e-8,
                        atol=1e-10)
        assert_allclose(about_centre.inner(u, v), about_zero.inner(u, v), rtol=1e-8)
    assert_allclose(pairs[0][0].largest_eigenvalue(), pairs[0][1].largest_eigenvalue(),
                    rtol=1e-8)
    # The size of the terms that cancel in a raw prediction: |c|.|w_k| + |b_k| at most.
    n_coef = centred.n_coef
    coef = np.abs(w[:n_coef]).reshape(-1, centred.n_features)
    sizes = coef @ np.abs(centred.column_centre) + np.abs(w[n_coef:])
    for about_centre, about_zero in pairs:
        assert_allclose(about_centre.cancelled(w), sizes.max(), rtol=1e-12)
        assert about_zero.cancelled(w) == 0.0
    # A stream's bound in the metric takes the rows about the centre too.
    assert_allclose(curvature.step_bound(pairs[0][0], centred, 8),
                    curvature.step_bound(pairs[0][1], plain, 8), rtol=1e-8)


class _NotPlainNumPy(np.ndarray):
    """A NumPy array that is not exactly ``np.ndarray``: the metrics step it through
    their namespace-generic code (that of PyTorch or CuPy arrays), not NumPy's own."""


@pytest.mark.parametrize("loss_name", ["squared", "binary", "softmax"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_full_metric_s_numpy_step_is_its_generic_step(loss_name, fit_intercept, dtype,
                                                         monkeypatch):
    # Full.direction steps NumPy vectors in place on one block array; every layout (one
    # output or several, a matrix shared by the outputs or one each, with and without an
    # intercept, about the columns' centre or not, the softmax's class shift) gives the
    # step of the generic code. (The softmax's refits in blocks, not its exact Hessian.)
    monkeypatch.setattr(curvature, "EXACT_MAX_EPOCHS", 0)
    monkeypatch.setattr(curvature, "EXACT_OVER_BLOCKS", 0)
    objective = _problem(loss_name, fit_intercept=fit_intercept)
    objective.X = (objective.X + 300 * objective.X.std(axis=0)).astype(dtype)
    rng = np.random.default_rng(5)
    w = 1e-4 * rng.normal(size=objective.n_params)
    start = curvature.full(objective, local=True)
    metrics = [start, curvature.full(objective)]
    if loss_name != "squared":
        metrics.append(start.refresh(w))
    layouts = set()
    for metric in metrics:
        for grad in (rng.normal(size=objective.n_params).astype(dtype) for _ in range(3)):
            step = metric.direction(grad)
            generic = metric.direction(grad.view(_NotPlainNumPy))
            assert type(step) is np.ndarray and step.dtype == generic.dtype
            assert_allclose(step, np.asarray(generic),
                            rtol=1e-5 if dtype == np.float32 else 1e-12,
                            atol=1e-5 * float(np.abs(generic).max()) if dtype == np.float32
                            else 0.0)
        layouts.add((metric._inverse.ndim, metric.centre is not None,
                     metric.shift is not None))
    # The layouts meant: a centre with an intercept, a class shift for the softmax, and
    # the softmax's refit in blocks (one matrix each).
    assert any(centre for _, centre, _ in layouts) == fit_intercept
    assert any(shift for _, _, shift in layouts) == (loss_name == "softmax")
    if loss_name == "softmax":
        assert any(ndim == 3 for ndim, _, _ in layouts)


def test_no_centre_for_centred_sparse_or_intercept_free_columns():
    objective = _problem("binary")
    assert objective.column_centre is None  # means within their spread
    # Squared means 25 times the variance: within float64's reach, not float32's.
    assert LinearObjective(objective.loss_function, objective.X + 5 * objective.X.std(
        axis=0), objective.y).column_centre is None
    offset = objective.X + 300 * objective.X.std(axis=0)

    def centre(X, **settings):
        return LinearObjective(objective.loss_function, X, objective.y,
                               **settings).column_centre

    assert centre(offset, fit_intercept=False) is None
    assert centre(sp.csr_matrix(offset)) is None
    assert_allclose(centre(offset), offset.mean(axis=0), rtol=1e-12)
    # Weighted: the weighted means (any centre near the columns' serves).
    weight = objective.sample_weight
    assert_allclose(centre(offset, sample_weight=weight),
                    np.average(offset, axis=0, weights=weight), rtol=1e-12)
    assert centre(offset.astype(np.float32)).dtype == np.float32
    assert centre((objective.X + 10 * objective.X.std(axis=0)).astype(np.float32)) \
        is not None


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e160), (np.float32, 1e20)])
def test_X_whose_squares_overflow_gets_a_clear_error(dtype, scale):
    X, y = load_diabetes(return_X_y=True)
    X = (StandardScaler().fit_transform(X)[:60] * scale).astype(dtype)
    with pytest.raises(ValueError, match="Rescale X"):
        GDRegressor().fit(X, y[:60])


@pytest.mark.parametrize("limit, over_blocks, kind", [
    (0, 0, curvature.Full), (10**6, 0, curvature.Dense), (0, 10**6, curvature.Dense)])
def test_the_softmax_refits_its_exact_hessian_where_it_is_cheap_or_about_the_blocks(
        monkeypatch, limit, over_blocks, kind):
    # Exact where it costs at most EXACT_MAX_EPOCHS passes, or at most EXACT_OVER_BLOCKS
    # times its diagonal blocks (small problems, where both are mostly call overhead).
    monkeypatch.setattr(curvature, "EXACT_MAX_EPOCHS", limit)
    monkeypatch.setattr(curvature, "EXACT_OVER_BLOCKS", over_blocks)
    objective = _problem("softmax")
    w = np.random.default_rng(2).normal(size=objective.n_params)
    refitted = curvature.full(objective, local=True).refresh(w)
    assert isinstance(refitted, kind)
    assert refitted.exact == (kind is curvature.Dense)
    # Either way it can be refitted again, at the same cost.
    assert refitted.refresh is not None and refitted.refresh_epochs >= 1


@pytest.mark.parametrize("loss_name", ["binary", "softmax"])
def test_a_warm_start_s_metric_is_the_curvature_before_with_its_own_l2_term(
        monkeypatch, loss_name):
    # A regularisation path's next fit starts in the curvature the fit before refitted
    # to (its data term, the same data), with its own alpha's L2 term: as if it had
    # refitted there itself, and refitted as its own metric from then on.
    monkeypatch.setattr(curvature, "EXACT_MAX_EPOCHS", 0)
    monkeypatch.setattr(curvature, "EXACT_OVER_BLOCKS", 0)
    before = _problem(loss_name, alpha=0.1)
    after = _problem(loss_name, alpha=1e-3)
    w = np.random.default_rng(3).normal(size=before.n_params)
    previous = curvature.full(before, local=True).refresh(w)
    start = curvature.full(after, local=True)
    carried = curvature.rebased(previous, start)
    expected = start.refresh(w)
    assert_allclose(carried.matrix, expected.matrix, rtol=1e-12, atol=1e-14)
    assert_allclose(carried.direction(w), expected.direction(w), rtol=1e-9)
    assert carried.refresh is start.refresh
    assert carried.refresh_epochs == start.refresh_epochs
    # Not a refitted metric (the origin's own, the bound): nothing to carry.
    assert curvature.rebased(start, start) is None
    assert curvature.rebased(curvature.full(before), start) is None


def test_the_exact_softmax_refit_steps_by_newton_s_step(monkeypatch):
    # The Hessian is singular along the same intercept for every class, which no gradient
    # has a part of: the step is the pseudo-inverse's, free of that direction.
    monkeypatch.setattr(curvature, "EXACT_MAX_EPOCHS", 10**6)
    objective = _problem("softmax")
    # A point whose classes sum to zero, as descent from zero keeps them (the solution
    # scikit-learn reports): there the gradient's classes sum to zero too.
    w = np.random.default_rng(3).normal(size=objective.n_params)
    w = curvature._ClassShift(objective).centre(w)
    grad = objective.gradient(w)
    newton = curvature.full(objective, local=True).refresh(w)
    hessian = objective.local_hessian(w)
    assert_allclose(newton.direction(grad), np.linalg.pinv(hessian) @ grad, rtol=1e-8,
                    atol=1e-10)


@pytest.mark.parametrize("loss_name", ["binary", "squared"])
def test_a_local_metric_of_one_output_is_the_hessian(loss_name):
    objective = _problem(loss_name)
    metric = curvature.full(objective, local=True)
    w = np.random.default_rng(4).normal(size=objective.n_params)
    if loss_name == "squared":
        # Least squares: the Hessian is the bound, and never needs a refit.
        assert metric.refresh is None and metric.exact
        assert_allclose(metric.matrix, curvature.bound(objective), rtol=1e-12)
        return
    refitted = metric.refresh(w)
    assert refitted.exact
    assert_allclose(refitted.matrix, objective.local_hessian(w), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cut", [0.0, None])
@pytest.mark.parametrize("loss_name", ["binary", "softmax"])
def test_the_hessian_blocks_are_the_blocks_on_the_diagonal_of_the_hessian(
        monkeypatch, loss_name, cut):
    # Exact without a cut. With the default one, a softmax block leaves out the rows
    # whose weight in it is below BLOCK_WEIGHT_CUT of the class's largest, and only them.
    if cut is not None:
        monkeypatch.setattr(losses, "BLOCK_WEIGHT_CUT", cut)
    objective = _problem(loss_name, alpha=0.0)
    w = 4 * np.random.default_rng(5).normal(size=objective.n_params)  # some sure rows
    hessian = objective.local_hessian(w)
    blocks = objective.hessian_blocks(w)
    n_features = objective.n_features
    assert blocks.shape == (objective.n_outputs, n_features + 1, n_features + 1)
    weights = objective._curvature_weights(w)
    X1 = np.column_stack([objective.X, np.ones(objective.n_samples)])
    for k, block in enumerate(blocks):
        index = np.r_[k * n_features:(k + 1) * n_features, objective.n_coef + k]
        if cut is None and objective.n_outputs > 1:
            kept = weights[:, k] > losses.BLOCK_WEIGHT_CUT * weights[:, k].max()
            assert 0 < np.count_nonzero(~kept)  # the cut is exercised
            expected = (X1[kept].T * weights[kept, k]) @ X1[kept] / objective.total_weight
        else:
            expected = hessian[np.ix_(index, index)]
        assert_allclose(block, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("loss_name", ["binary", "softmax"])
def test_the_hessian_block_diagonals_are_the_diagonals_of_the_blocks(container, loss_name):
    objective = _problem(loss_name)
    if container == "csr":
        objective = LinearObjective(objective.loss_function, sp.csr_matrix(objective.X),
                                    objective.y, objective.sample_weight, alpha=0.1)
    w = np.random.default_rng(6).normal(size=objective.n_params)
    expected = np.array([np.diag(block) for block in objective.hessian_blocks(w)])
    assert_allclose(objective.hessian_block_diagonals(w), expected, rtol=1e-12)


def test_the_softmax_refit_in_blocks_steps_each_class_by_its_block_centred(monkeypatch):
    # Where the exact Hessian does not pay: each class's block of the Hessian, the steps
    # centred over the classes (the softmax sees no common shift).
    monkeypatch.setattr(curvature, "EXACT_MAX_EPOCHS", 0)
    monkeypatch.setattr(curvature, "EXACT_OVER_BLOCKS", 0)
    objective = _problem("softmax")
    w = curvature._ClassShift(objective).centre(
        np.random.default_rng(7).normal(size=objective.n_params))
    refitted = curvature.full(objective, local=True).refresh(w)
    grad = objective.gradient(w)
    ridge = objective.l2_reg_strength * curvature._penalised(objective)
    blocks = np.column_stack([grad[: objective.n_coef].reshape(3, -1),
                              grad[objective.n_coef:]])
    steps = np.array([np.linalg.solve(block + np.diag(ridge), part)
                      for block, part in zip(objective.hessian_blocks(w), blocks, strict=True)])
    steps -= steps.mean(axis=0)
    expected = np.concatenate([steps[:, :-1].ravel(), steps[:, -1]])
    assert isinstance(refitted, curvature.Full) and not refitted.exact
    assert_allclose(refitted.direction(grad), expected, rtol=1e-8)


@pytest.mark.parametrize("alpha", [0.1, 0.0])
def test_the_positive_factorisation_inverts_the_metric(alpha):
    # With an L2 term by Cholesky; without one (a null direction: a column repeated) by
    # the pseudo-inverse of the eigendecompositions.
    objective = _problem("binary", alpha=alpha)
    gram = objective.gram()
    gram = np.block([[gram, gram[:, :1]], [gram[:1, :], gram[:1, :1]]]) if not alpha \
        else gram
    ridge = np.append(np.full(len(gram) - 1, alpha), 0.0)
    objective.n_features = len(gram) - 1
    matrix, inverse = curvature._factor_positive(objective, gram, ridge)
    assert_allclose(matrix, gram + np.diag(ridge), rtol=1e-12)
    assert_allclose(inverse, np.linalg.pinv(gram + np.diag(ridge), rcond=1e-10),
                    rtol=1e-6, atol=1e-8)


def test_without_an_l2_term_independent_columns_are_factored_by_cholesky(monkeypatch):
    """The curvature of independent columns is positive definite without an L2 term: it
    is factored by Cholesky (not the eigendecompositions), and its inverse is the
    pseudo-inverse the eigendecompositions give."""
    objective = _problem("squared", alpha=0.0)
    gram = objective.gram()
    ridge = np.zeros(len(gram))
    expected = curvature._factor(objective, gram, ridge)[1]

    def refused(*args, **kwargs):
        raise AssertionError("the eigendecompositions ran")

    monkeypatch.setattr(curvature, "_factor", refused)
    matrix, inverse = curvature._factor_positive(objective, gram, ridge)
    assert_allclose(matrix, gram, rtol=1e-12)
    assert_allclose(inverse, expected, rtol=1e-9)
    assert_allclose(inverse @ gram, np.eye(len(gram)), atol=1e-9)


def test_the_diagonal_metric_s_inner_product_is_weighted_by_its_diagonal():
    objective = _problem("softmax")
    metric = curvature.diagonal(objective)
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(2, objective.n_params))
    weights = np.asarray(metric.weights)
    assert np.ptp(weights) > 0
    assert_allclose(metric.inner(u, v), u @ np.diag(weights) @ v, rtol=1e-12)
    assert_allclose(metric.direction(u), np.linalg.solve(np.diag(weights), u), rtol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("metric", ["euclidean", "diagonal", "full"])
def test_largest_row_norm_is_the_largest_x1_A_x1(fit_intercept, container, metric):
    # Uncentred X: the cross terms of the intercept with the coefficients count.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)) + np.array([3.0, -2.0, 0.5, 1.0])
    X[rng.random(X.shape) < 0.3] = 0.0
    X1 = np.hstack([X, np.ones((40, 1))]) if fit_intercept else X
    n_cols = X1.shape[1]
    root = rng.normal(size=(n_cols, n_cols))
    A = {"euclidean": None, "diagonal": rng.uniform(0.5, 2.0, n_cols),
         "full": root @ root.T + np.eye(n_cols)}[metric]
    dense_A = np.eye(n_cols) if A is None else np.diag(A) if A.ndim == 1 else A
    expected = max(x1 @ dense_A @ x1 for x1 in X1)
    data = X if container == "dense" else sp.csr_matrix(X)
    assert_allclose(curvature.largest_row_norm(data, fit_intercept, A), expected,
                    rtol=1e-12)


@pytest.mark.parametrize("preconditioner", ["full", "diagonal"])
def test_a_curvature_beyond_the_dtype_of_X_gets_a_clear_error(preconditioner):
    # Unpenalised (an L2 term would bound the inverse): squares of 1e-20 are below
    # float32's smallest normal number, so the metric's inverse is beyond its largest.
    # The error says so, not a later step that blames large data.
    X, y = load_diabetes(return_X_y=True)
    X = (StandardScaler().fit_transform(X)[:100] * 1e-20).astype(np.float32)
    with pytest.raises(ValueError, match="curvature of the objective overflows the dtype"):
        GDRegressor(alpha=0.0, preconditioner=preconditioner).fit(X, y[:100])


@pytest.mark.parametrize("n_samples, n_features, n_classes, newton", [
    (15, 30, 3, True),      # scikit-learn's sample-weight check
    (150, 4, 3, True),      # iris
    (1797, 64, 10, False),  # digits: the exact Hessian costs tens of passes
    (20000, 50, 10, False),
])
def test_newton_s_steps_past_the_stopping_rule_only_where_the_hessian_is_cheap(
        n_samples, n_features, n_classes, newton):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n_samples, n_features)), np.arange(n_samples) % n_classes
    objective = LinearObjective(CategoricalCrossEntropy(n_classes), X, y, alpha=0.1)
    metric = curvature.full(objective, local=True)
    assert (metric.newton is not None) == newton
    if newton:
        assert metric.newton(objective.init_params()).exact
    # Digits' refits are its blocks, not the exact Hessian.
    assert metric.refresh(objective.init_params()).exact == curvature._exact_pays(objective)


def test_a_refresh_costs_more_passes_the_more_columns_and_classes():
    rng = np.random.default_rng(0)
    epochs = {}
    for n_features in (10, 100, 400):
        for n_classes in (3, 20):
            X = rng.normal(size=(5000, n_features))
            objective = LinearObjective(CategoricalCrossEntropy(n_classes), X,
                                        np.arange(5000) % n_classes, alpha=0.1)
            epochs[n_features, n_classes] = (curvature._refresh_epochs(objective, False),
                                             curvature._refresh_epochs(objective, True))
    for n_classes in (3, 20):
        blocks = [epochs[n_features, n_classes][0] for n_features in (10, 100, 400)]
        assert blocks == sorted(blocks) and blocks[0] < blocks[-1]
    for n_features in (10, 100, 400):
        # The exact Hessian's size grows with the classes, its blocks' count only.
        assert epochs[n_features, 20][1] / epochs[n_features, 3][1] > \
            epochs[n_features, 20][0] / epochs[n_features, 3][0]


def test_refresh_epochs_counts_a_row_of_weight_2_as_two_rows():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(2000, 30)), rng.integers(0, 3, 2000)
    repeated = np.r_[np.arange(2000), np.arange(1000)]
    weight = np.r_[np.full(1000, 2.0), np.ones(1000)]
    weighted = LinearObjective(CategoricalCrossEntropy(3), X, y, weight, alpha=0.1)
    copies = LinearObjective(CategoricalCrossEntropy(3), X[repeated], y[repeated],
                             alpha=0.1)
    unit = LinearObjective(CategoricalCrossEntropy(3), X, y, alpha=0.1)
    epochs = curvature._refresh_epochs(weighted, exact=True)
    assert epochs == curvature._refresh_epochs(copies, exact=True)
    assert epochs != curvature._refresh_epochs(unit, exact=True)


# -- issue 24: the bounds of mini-batches and the limits that pick a computation ----------
def _unweighted_X1(objective):
    X = objective.X
    return np.hstack([X, np.ones((len(X), 1))]) if objective.fit_intercept else X


@pytest.mark.parametrize("batch_size", [1, 7, 60])
def test_the_mini_batch_lipschitz_constant_interpolates_full_and_per_sample(batch_size):
    """Gower et al.'s expected smoothness: ``(n (b - 1) L + (n - b) L_max) / (b (n - 1))``,
    with ``L`` the full batch's constant and ``L_max`` the largest per-sample one; the L2
    term adds alpha to both."""
    objective = _problem("squared", weighted=False)
    X1, n, alpha = _unweighted_X1(objective), 60, 0.1
    full = np.linalg.eigvalsh(X1.T @ X1 / n)[-1]
    largest = max(x1 @ x1 for x1 in X1)
    expected = (n * (batch_size - 1) * full + (n - batch_size) * largest) / (
        batch_size * (n - 1)) + alpha
    assert_allclose(curvature.lipschitz(objective, batch_size), expected, rtol=1e-12)
    endpoint = {1: largest + alpha, 60: full + alpha}.get(batch_size)
    if endpoint is not None:
        assert_allclose(curvature.lipschitz(objective, batch_size), endpoint, rtol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_the_full_batch_constant_is_computed_only_where_a_batch_needs_it(batch_size,
                                                                           monkeypatch):
    """A batch of one row is bounded by the per-sample constant alone: its step does not
    pay for the full batch's (a power iteration on wide X); a batch of two does."""
    objective = _problem("squared", weighted=False)
    calls = []
    top_eigenvalue = curvature._top_eigenvalue
    monkeypatch.setattr(curvature, "_top_eigenvalue",
                        lambda *args: calls.append(1) or top_eigenvalue(*args))
    lipschitz = curvature.lipschitz(objective, batch_size)
    X1 = _unweighted_X1(objective)
    if batch_size == 1:
        assert calls == []
        assert_allclose(lipschitz, max(x1 @ x1 for x1 in X1) + 0.1, rtol=1e-12)
    else:
        assert calls == [1]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_top_eigenvalue_s_bounds_hold_it(weighted, fit_intercept):
    rng = np.random.default_rng(3)
    X = sp.random(200, 50, density=0.1, format="csr", random_state=4,
                  data_rvs=rng.standard_normal)
    weight = rng.uniform(0.5, 2.0, 200) if weighted else None
    objective = LinearObjective(SquaredError(), X, rng.normal(size=200), weight,
                                fit_intercept=fit_intercept)
    X1 = np.hstack([X.toarray(), np.ones((200, 1))]) if fit_intercept else X.toarray()
    s = np.ones(200) if weight is None else weight
    exact = np.linalg.eigvalsh(X1.T @ (X1 * s[:, None]) / s.sum())[-1]
    for data in (X, X.toarray()):
        lower, upper = curvature.top_eigenvalue_bounds(
            data, weight, fit_intercept, s.sum(), objective.gram_product)
        assert lower <= exact * (1 + 1e-12) and exact <= upper * (1 + 1e-12)


def test_wide_sparse_x_takes_the_top_eigenvalue_s_upper_bound_where_it_is_tight(
        monkeypatch):
    """Columns each small beside the intercept: the bounds meet within 10 %, and the upper
    one serves (a step at most 10 % shorter, never longer) without a power iteration."""
    rng = np.random.default_rng(0)
    X = sp.random(4000, 3000, density=0.003, format="csr", random_state=1,
                  data_rvs=rng.standard_normal)
    y = (rng.random(4000) < 0.5) * 1.0
    iterations = []
    top_eigenvalue = curvature.top_eigenvalue
    monkeypatch.setattr(curvature, "top_eigenvalue",
                        lambda *args: iterations.append(1) or top_eigenvalue(*args))
    for fit_intercept, power in [(True, False), (False, True)]:
        objective = LinearObjective(BinaryCrossEntropy(), X, y, alpha=1e-4,
                                    fit_intercept=fit_intercept)
        iterations.clear()
        taken = curvature._top_eigenvalue(objective)
        assert bool(iterations) == power
        exact = top_eigenvalue(objective.gram_product,
                               X.shape[1] + fit_intercept, n_iter=200, rtol=1e-9)
        # (The power iteration stops at a relative change of 1e-3 from one round to the
        # next: within about 1 % of the top.)
        assert exact * (1 - 1e-2) <= taken <= 1.1 * exact


def test_the_mini_batch_step_bound_in_the_full_metric_uses_each_row_s_curvature():
    """In a metric ``M = B`` the full batch's constant is 1, a sample's ``c x1^T B^-1 x1``
    plus at most 1 for the L2 term; mini-batches interpolate as Gower et al. do."""
    objective = _problem("binary", weighted=False)
    metric = curvature.full(objective)
    X1, n, b = _unweighted_X1(objective), 60, 10
    bound = 0.25 * X1.T @ X1 / n + 0.1 * np.diag(np.r_[np.ones(5), 0.0])
    inverse = np.linalg.inv(bound)
    largest = 0.25 * max(x1 @ inverse @ x1 for x1 in X1) + 1.0
    expected = (n * (b - 1) * 1.0 + (n - b) * largest) / (b * (n - 1))
    assert_allclose(curvature.step_bound(metric, objective, b), expected, rtol=1e-8)
    assert curvature.step_bound(metric, objective) == 1.0


def test_the_lipschitz_constant_of_narrow_X_is_exact():
    # Narrower than GRAM_MAX_COLUMNS: the Gram matrix's top eigenvalue, not an estimate.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 30)) * rng.uniform(0.5, 2.0, 30)
    objective = LinearObjective(SquaredError(), X, rng.normal(size=200), alpha=0.0)
    X1 = np.hstack([X, np.ones((200, 1))])
    assert_allclose(curvature.lipschitz(objective), np.linalg.eigvalsh(X1.T @ X1 / 200)[-1],
                    rtol=1e-12)


def test_gram_max_columns_is_where_the_gauge_and_the_exact_eigenvalue_stop(monkeypatch):
    objective = _problem("squared")
    n_cols = objective.n_features + 1
    monkeypatch.setattr(curvature, "GRAM_MAX_COLUMNS", n_cols + 1)
    assert curvature.gauged(None, objective)
    monkeypatch.setattr(curvature, "GRAM_MAX_COLUMNS", n_cols)
    assert not curvature.gauged(None, objective)


def test_auto_factors_the_full_bound_up_to_full_max_columns(monkeypatch):
    objective = _problem("binary")
    n_cols = objective.n_features + 1
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", n_cols)
    assert curvature.resolve("auto", objective) == "full"
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", n_cols - 1)
    assert curvature.resolve("auto", objective) == "diagonal"


def test_auto_takes_a_batch_of_all_the_samples_as_the_full_batch():
    objective = _problem("binary")
    assert curvature.resolve("auto", objective, batch_size=objective.n_samples) == "full"
    assert curvature.resolve("auto", objective, batch_size=objective.n_samples - 1) is None


def test_the_diagonal_metric_of_wide_X_majorises_the_bound(monkeypatch):
    # Wide X estimates the Jacobi scale by power iteration, a lower bound of it: the
    # margin above the estimate keeps the metric a bound.
    monkeypatch.setattr(curvature, "GRAM_MAX_COLUMNS", 2)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40))
    objective = LinearObjective(SquaredError(), X, rng.normal(size=300), alpha=0.0)
    gap = np.diag(curvature.diagonal(objective).weights) - _block_bound(objective)
    assert np.linalg.eigvalsh(gap)[0] >= -1e-10 * np.abs(gap).max()


def test_a_refitted_diagonal_stays_finite_where_the_curvature_underflows():
    # Unpenalised, far along separable rows, p (1 - p) underflows to denormals: the
    # refitted diagonal keeps LOCAL_CURVATURE_FLOOR of its start, so its inverse stays
    # finite (it overflowed, and the fit raised "the curvature overflows the dtype of X").
    X, y = sp.eye(60, format="csr"), np.arange(60) % 2 * 1.0  # a category a row
    objective = LinearObjective(BinaryCrossEntropy(), X, y, alpha=0.0)
    metric = curvature.diagonal(objective, local=True)
    w = np.append(740.0 * (2 * y - 1), 0.0)  # margins of 740: p (1 - p) about 1e-322
    refitted = metric.refresh(w)
    assert np.all(np.isfinite(refitted.direction(objective.gradient(w))))
    start = np.asarray(metric.direction(np.ones(objective.n_params)))
    now = np.asarray(refitted.direction(np.ones(objective.n_params)))
    assert np.all(now <= start / curvature.LOCAL_CURVATURE_FLOOR * (1 + 1e-12))


# -- the sparse full metric of one-hot X ---------------------------------------------------
def _one_hot(n_samples=600, levels=(40, 25), seed=0):
    """Two categorical columns one-hot encoded, and a binary target."""
    rng = np.random.default_rng(seed)
    codes = np.column_stack([rng.integers(0, k, n_samples) for k in levels])
    X = OneHotEncoder().fit_transform(codes).tocsr()
    y = (X @ rng.normal(size=X.shape[1]) + rng.normal(size=n_samples) > 0).astype(float)
    return X, y


def test_one_hot_x_under_lbfgs_gets_the_full_metric_kept_sparse(monkeypatch):
    # Beyond FULL_MAX_COLUMNS (made small here) a dense matrix is too large, but the Gram
    # matrix of one-hot columns has fewer nonzeros than X: its sparse factors are the
    # full metric. Text-like rows, with many nonzeros, keep the diagonal.
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", 20)
    monkeypatch.setattr(curvature, "SEED_MIN_COLUMNS", 10)
    X, y = _one_hot()
    objective = LinearObjective(BinaryCrossEntropy(), X, y, alpha=0.01)
    assert objective.sparse_gram().nnz <= X.nnz
    assert curvature.resolve("auto", objective, learned=True) == "full"
    assert curvature.resolve("auto", objective, learned=False) == "diagonal"
    metric = curvature.full(objective, local=True)
    assert isinstance(metric, curvature.SparseFull)
    dense = curvature.full(LinearObjective(BinaryCrossEntropy(), X.toarray(), y,
                                           alpha=0.01), local=True)
    grad = objective.gradient(np.random.default_rng(1).normal(size=objective.n_params))
    assert_allclose(metric.direction(grad), dense.direction(grad), rtol=1e-8, atol=1e-10)
    rng = np.random.default_rng(2)
    text = sp.random(300, 200, density=0.2, random_state=3, format="csr")
    words = LinearObjective(BinaryCrossEntropy(), text, (rng.random(300) < 0.5) * 1.0,
                            alpha=0.01)
    assert curvature.resolve("auto", words, learned=True) == "diagonal"


def test_one_hot_x_of_hundreds_of_columns_takes_the_sparse_metric():
    # Beyond GRAM_MAX_COLUMNS and up to FULL_MAX_COLUMNS, L-BFGS on one-hot X (a sparse
    # Gram matrix) takes its metric as sparse factors: least squares its Hessian, the
    # cross-entropy the curvature at the start (the dense metric's refits to Newton's
    # cost a 400-square factorisation each); X whose Gram matrix fills keeps the dense.
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 400, 3000)
    X = sp.hstack([sp.csr_matrix((np.ones(3000), (np.arange(3000), codes)),
                                 shape=(3000, 400)),
                   sp.csr_matrix(rng.normal(size=(3000, 3)))], format="csr")
    y = X @ rng.normal(size=403) + rng.normal(size=3000)
    least_squares = LinearObjective(SquaredError(), X, y, alpha=1e-3)
    assert isinstance(curvature.full(least_squares, local=True), curvature.SparseFull)
    classes = LinearObjective(BinaryCrossEntropy(), X, (y > 0) * 1.0, alpha=1e-3)
    assert isinstance(curvature.full(classes, local=True), curvature.SparseFull)
    assert not isinstance(curvature.full(classes), curvature.SparseFull)  # the bound
    classifier = GDClassifier(alpha=1e-3).fit(X, y > 0)
    exact = LogisticRegression(C=1 / (3000 * 1e-3), tol=1e-12, max_iter=10_000,
                               solver="newton-cholesky").fit(X, y > 0)

    def objective(model):
        raw = X @ model.coef_.ravel() + model.intercept_[0]
        return (np.mean(np.logaddexp(0, raw) - (y > 0) * raw)
                + 1e-3 / 2 * np.sum(model.coef_ ** 2))

    assert objective(classifier) <= objective(exact) * (1 + 1e-8)
    # With many rows a column the cross-entropy's refits pay: it keeps the dense metric.
    many = sp.vstack([X] * 9, format="csr")
    rows = LinearObjective(BinaryCrossEntropy(), many, np.tile(y > 0, 9) * 1.0, alpha=1e-3)
    assert many.shape[0] > curvature.SPARSE_SEED_MAX_ROWS_PER_COLUMN * 404
    assert not isinstance(curvature.full(rows, local=True), curvature.SparseFull)
    filled = sp.random(3000, 400, density=0.2, format="csr", random_state=1)
    dense_gram = LinearObjective(SquaredError(), filled, y, alpha=1e-3)
    assert not isinstance(curvature.full(dense_gram, local=True), curvature.SparseFull)
    model = GDRegressor(alpha=1e-3).fit(X, y)
    from sklearn.linear_model import Ridge

    reference = Ridge(alpha=3000 * 1e-3, solver="sparse_cg", tol=1e-12).fit(X, y)
    assert model.n_iter_ <= 3
    assert_allclose(model.predict(X), reference.predict(X), rtol=1e-6, atol=1e-6)


def test_lbfgs_on_wide_classes_of_few_rows_a_column_is_seeded_by_the_diagonal(
        monkeypatch):
    # Beyond SEED_MIN_COLUMNS (made small here) the cross-entropy takes the full seed only
    # with SEED_MIN_ROWS_PER_COLUMN rows a column, 3 with one output (whose refits are
    # Newton's); least squares, whose full metric is its Hessian, whatever the rows.
    monkeypatch.setattr(curvature, "SEED_MIN_COLUMNS", 10)
    rng = np.random.default_rng(0)
    for rows, softmax, binary in [(3 * 31 - 1, "diagonal", "diagonal"),
                                  (3 * 31, "diagonal", "full"),
                                  (4 * 31 - 1, "diagonal", "full"),
                                  (4 * 31, "full", "full")]:
        X = rng.normal(size=(rows, 30))
        classes = LinearObjective(BinaryCrossEntropy(), X, (X[:, 0] > 0) * 1.0, alpha=0.01)
        assert curvature.resolve("auto", classes, learned=True) == binary
        three = LinearObjective(CategoricalCrossEntropy(3), X, np.arange(rows) % 3,
                                alpha=0.01)
        assert curvature.resolve("auto", three, learned=True) == softmax
        least_squares = LinearObjective(SquaredError(), X, X[:, 0], alpha=0.01)
        assert curvature.resolve("auto", least_squares, learned=True) == "full"


def test_one_hot_x_without_l2_keeps_the_diagonal(monkeypatch):
    # A categorical's columns sum to the intercept's: without an L2 term the Gram matrix
    # is singular, and its factors failed ("Factor is exactly singular").
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", 20)
    monkeypatch.setattr(curvature, "SEED_MIN_COLUMNS", 10)
    X, y = _one_hot()
    objective = LinearObjective(BinaryCrossEntropy(), X, y, alpha=0.0)
    assert curvature.resolve("auto", objective, learned=True) == "diagonal"
    assert not isinstance(curvature.full(objective, local=True), curvature.SparseFull)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # separable: no minimiser
        model = GDClassifier(alpha=0.0, max_iter=50).fit(X, y)
    assert model.preconditioner_ == "diagonal" and np.all(np.isfinite(model.coef_))


def _independent_and_maximal(matrix, chosen):
    """Whether no two chosen columns share a nonzero, and every other column of positive
    diagonal shares one with a chosen column (or has none: a zero diagonal)."""
    pattern = (matrix != 0).astype(int).tocsc()
    among = pattern[chosen][:, chosen]
    independent = (among - sp.diags(among.diagonal())).count_nonzero() == 0
    reached = np.asarray(pattern[:, chosen].sum(axis=1)).ravel() > 0
    return independent and bool(np.all(reached | chosen | (matrix.diagonal() <= 0)))


def test_the_independent_columns_are_the_larger_greedy_set_of_two_orders():
    # Columns 0-3 (one categorical's levels) each meet 4 and 5 (another's, with fewer
    # nonzeros) and 6 and 7, which meet each other. Ascending nonzeros takes 4 and 5,
    # which exclude 0-3, then 6: three columns. The columns' own order takes 0-3: four.
    edges = [(a, b) for a in range(4) for b in (4 + a // 2, 6, 7)] + [(6, 7)]
    rows, cols = zip(*edges, strict=True)
    upper = sp.coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(8, 8))
    matrix = (upper + upper.T + sp.eye(8) * 10).tocsc()
    chosen = curvature._independent_columns(matrix)
    assert_array_equal(np.flatnonzero(chosen), [0, 1, 2, 3])
    assert _independent_and_maximal(matrix, chosen)
    # Columns 0 and 1 (a categorical of two levels) meet 2-4 and 5-7 (rare levels that
    # never meet): the columns' own order takes 0 and 1 and no more, ascending nonzeros
    # takes 2-7.
    edges = [(0, 2), (0, 3), (0, 4), (1, 5), (1, 6), (1, 7)]
    rows, cols = zip(*edges, strict=True)
    upper = sp.coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(8, 8))
    skewed = (upper + upper.T + sp.eye(8) * 10).tocsc()
    chosen = curvature._independent_columns(skewed)
    assert_array_equal(np.flatnonzero(chosen), [2, 3, 4, 5, 6, 7])
    assert _independent_and_maximal(skewed, chosen)
    # A column of zero diagonal is never chosen.
    matrix = matrix.tolil()
    matrix[0, 0] = 0.0
    chosen = curvature._independent_columns(matrix.tocsc())
    assert not chosen[0] and _independent_and_maximal(matrix.tocsc(), chosen)


@pytest.mark.parametrize("schur_max", [10**6, 0])
def test_the_sparse_metric_solves_by_the_schur_complement_of_a_one_hot_group(
        monkeypatch, schur_max):
    # One categorical's columns never meet in a row: the Gram matrix is diagonal on them,
    # and the rest is solved through its Schur complement (SuperLU beyond
    # SCHUR_MAX_COLUMNS). Either way the solve is M^-1's, to rounding.
    monkeypatch.setattr(curvature, "SCHUR_MAX_COLUMNS", schur_max)
    X, _ = _one_hot(levels=(40, 25, 6))
    X1 = sp.hstack([X, np.ones((X.shape[0], 1))]).tocsc()
    matrix = (X1.T @ X1 / X.shape[0] * 0.25 + sp.diags(np.r_[np.full(X.shape[1], 0.01),
                                                             0.0])).tocsc()
    independent = curvature._independent_columns(matrix)
    assert np.count_nonzero(independent) >= 40  # the largest categorical's columns
    assert _independent_and_maximal(matrix, independent)
    factor = curvature._sparse_factor(matrix)
    assert isinstance(factor, curvature._SchurFactor) == (schur_max > 0)
    rhs = np.random.default_rng(5).normal(size=(matrix.shape[0], 2))
    assert_allclose(factor.solve(rhs), np.linalg.solve(matrix.toarray(), rhs),
                    rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_default_fit_in_the_sparse_full_metric_is_logistic_regression(monkeypatch,
                                                                          n_classes):
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", 20)
    monkeypatch.setattr(curvature, "SEED_MIN_COLUMNS", 10)
    X, y = _one_hot()
    if n_classes == 3:
        y = (X @ np.random.default_rng(4).normal(size=(X.shape[1], 3))).argmax(axis=1)
    n = X.shape[0]
    model = GDClassifier(alpha=0.01).fit(X, y)
    from sklearn.linear_model import LogisticRegression

    reference = LogisticRegression(C=1 / (n * 0.01), tol=1e-12, max_iter=10_000).fit(X, y)
    assert model.preconditioner_ == "full"
    assert isinstance(model._metric, curvature.Diagonal)
    assert_allclose(model.decision_function(X), reference.decision_function(X),
                    rtol=1e-5, atol=1e-5)
    # Its model keeps the metric's diagonal for partial_fit (a stream's bound needs each
    # row's x1^T M^-1 x1), not SuperLU's factors, which do not pickle.
    import pickle

    copy = pickle.loads(pickle.dumps(model))
    assert_allclose(copy.decision_function(X), model.decision_function(X), rtol=0)
    copy.partial_fit(X, y)
    assert np.all(np.isfinite(copy.coef_))


# -- the split metric: sparse X's frequent columns in a dense block ------------------------
def _text_like(n=3000, p=2000, k=3, seed=0, per_row=12):
    """Non-negative CSR rows with Zipf column frequencies (a few columns in most rows),
    y from a softmax of a linear score."""
    rng = np.random.default_rng(seed)
    cols = np.minimum(rng.zipf(1.2, (n, per_row)), p) - 1
    X = sp.csr_matrix((rng.random(n * per_row), (np.repeat(np.arange(n), per_row),
                                                 cols.ravel())), shape=(n, p))
    X.sum_duplicates()
    scores = X @ rng.normal(size=(p, k)) * 2
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


def test_heavy_columns_are_the_frequent_ones_of_sparse_X_only():
    X, y = _text_like()
    objective = LinearObjective(CategoricalCrossEntropy(3), X, y, alpha=1e-3)
    heavy, passes = curvature._heavy_columns(objective)
    counts = np.bincount(X.indices, minlength=X.shape[1])
    assert 0 < len(heavy) <= curvature.HEAVY_MAX_COLUMNS and passes >= 1
    assert counts[heavy].min() >= max(curvature.HEAVY_MIN_SHARE * X.shape[0],
                                       curvature.HEAVY_MIN_ROWS)
    assert counts[heavy].min() >= np.delete(counts, heavy).max()
    # Dense X, and sparse X of no frequent column (a category a row), have none.
    dense = LinearObjective(CategoricalCrossEntropy(3), X.toarray(), y, alpha=1e-3)
    assert curvature._heavy_columns(dense) == (None, 0)
    eye = LinearObjective(BinaryCrossEntropy(), sp.eye(60, format="csr"),
                          np.arange(60) % 2 * 1.0)
    assert curvature._heavy_columns(eye) == (None, 0)


@pytest.mark.parametrize("k, weighted", [(2, False), (3, True)])
def test_the_split_metric_is_its_matrix_and_its_steps_its_inverse(k, weighted):
    X, y = _text_like(k=k)
    rng = np.random.default_rng(1)
    weight = rng.uniform(0.5, 2.0, X.shape[0]) if weighted else None
    loss = BinaryCrossEntropy() if k == 2 else CategoricalCrossEntropy(k)
    objective = LinearObjective(loss, X, y * 1.0 if k == 2 else y, weight, alpha=1e-3)
    start = curvature.diagonal(objective, local=True)
    w = rng.normal(size=objective.n_params) * 0.1
    heavy, _ = curvature._heavy_columns(objective)
    for metric in (start, start.refresh(w)):
        assert isinstance(metric, curvature.Split)
        u, v, g = rng.normal(size=(3, objective.n_params))
        assert metric.inner(u, v) == pytest.approx(metric.inner(v, u), rel=1e-12)
        assert metric.inner(u, u) > 0
        # The step is M^-1 g (before the softmax's centring over the classes).
        plain = copy.copy(metric)
        plain.shift = None
        assert metric.inner(plain.direction(g), v) == pytest.approx(g @ v, rel=1e-8)
        if metric is start:
            continue
        # Refitted, the blocks are the Hessian's over the heavy columns and the
        # intercept (each class's diagonal block for the softmax), the diagonal its own.
        hessian = (objective.local_hessian(w) if k == 2
                   else objective.hessian_blocks(w)[0])
        index = np.append(heavy, objective.n_features)
        block = hessian[np.ix_(index, index)]
        if k > 2:
            block[:-1, :-1] += objective.l2_reg_strength * np.eye(len(heavy))
        assert_allclose(np.asarray(metric.matrix)[0], block, rtol=1e-10)
        rest = np.setdiff1d(np.arange(objective.n_features), heavy)[:5]
        e = np.zeros(objective.n_params)
        e[rest[0]] = 1.0
        assert metric.inner(e, e) == pytest.approx(
            hessian[rest[0], rest[0]] + (objective.l2_reg_strength if k > 2 else 0),
            rel=1e-10)


def test_a_default_fit_of_text_like_X_reaches_the_exact_objective_in_the_split_metric():
    X, y = _text_like(k=3)
    alpha = 1 / X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier(alpha=alpha).fit(X, y)
    objective = LinearObjective(CategoricalCrossEntropy(3), X, y, alpha=alpha)
    assert curvature._heavy_columns(objective)[0] is not None
    assert (model.solver_, model.preconditioner_) == ("lbfgs", "diagonal")
    exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
    loss = objective.loss(np.append(model.coef_.ravel(), model.intercept_))
    best = objective.loss(np.append(exact.coef_.ravel(), exact.intercept_))
    assert loss <= best * (1 + 1e-9)
    # float32 X keeps float32, at its rounding of the same optimum.
    single = GDClassifier(alpha=alpha).fit(X.astype(np.float32), y)
    assert single.coef_.dtype == np.float32
    loss32 = objective.loss(np.append(single.coef_.ravel(), single.intercept_)
                            .astype(np.float64))
    assert loss32 <= best * (1 + 1e-5)
    # partial_fit continues from the fit in its diagonal.
    model.partial_fit(X[:100], y[:100])
    assert np.all(np.isfinite(model.coef_))


def test_wide_dense_X_of_mostly_zeros_is_fitted_as_csr():
    # Dense one-hot columns (pandas.get_dummies) beyond GRAM_MAX_COLUMNS: the fit is the
    # CSR fit's, in its metric, whatever the container.
    rng = np.random.default_rng(0)
    codes = np.column_stack([np.minimum(rng.zipf(1.2, 2000), 400) - 1,
                             rng.integers(0, 450, (2000, 2))])
    sparse = OneHotEncoder().fit_transform(codes).tocsr()
    assert sparse.shape[1] > curvature.FULL_MAX_COLUMNS
    dense = sparse.toarray()
    y = (sparse @ rng.normal(size=sparse.shape[1]) + rng.normal(size=2000) > 0).astype(int)
    assert sp.issparse(curvature.sparse_where_it_pays(dense))
    assert not sp.issparse(curvature.sparse_where_it_pays(dense[:, :200]))
    assert not sp.issparse(curvature.sparse_where_it_pays(dense + 1.0))
    from_dense = GDClassifier(alpha=1e-3).fit(dense, y)
    from_sparse = GDClassifier(alpha=1e-3).fit(sparse, y)
    assert from_dense.n_iter_ == from_sparse.n_iter_
    assert from_dense.preconditioner_ == from_sparse.preconditioner_
    assert_allclose(from_dense.coef_, from_sparse.coef_, rtol=1e-10, atol=1e-12)
    # The textbook path keeps dense X as it came (and reaches the same optimum).
    plain = GDClassifier(alpha=1e-3, preconditioner=None, max_iter=5000).fit(dense, y)
    assert plain.preconditioner_ is None
    assert_allclose(plain.predict_proba(dense), from_dense.predict_proba(dense), atol=1e-4)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("centred", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_many_classes_of_few_columns_get_their_grams_from_one_product(monkeypatch,
                                                                      fit_intercept,
                                                                      centred, dtype):
    # 40 classes of 5 columns: the rows' outer products times the weights, every class's
    # matrix at once, are each class's own Gram pass (rows of weight 0 included).
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 5)) * [1, 10, 0.1, 1, 1] + 3).astype(dtype)
    weights = rng.random((3000, 40)) * (rng.random((3000, 40)) > 0.3)
    centre = X.mean(axis=0).astype(np.float64) if centred else None
    assert 5 + fit_intercept <= curvature.OUTER_GRAMS_MAX_COLUMNS
    assert 40 >= curvature.OUTER_GRAMS_MIN_OUTPUTS
    with monkeypatch.context() as patch:
        # No Gram pass of a class: one product for all.
        patch.setattr(curvature, "gram", None)
        together = curvature.grams(X, weights, fit_intercept, 2500.0, centre)
    each = np.stack([curvature.gram(X, weights[:, k], fit_intercept, 2500.0, centre)
                     for k in range(40)])
    assert together.shape == each.shape == (40, 5 + fit_intercept, 5 + fit_intercept)
    assert_allclose(together, each, rtol=1e-5 if dtype == np.float32 else 1e-12,
                    atol=1e-12 * np.abs(each).max())
    with pytest.raises(ValueError, match="Gram matrix of X overflows"):
        curvature.grams(np.full((10, 3), 1e200), np.ones((10, 20)), True, 10.0)


def _zipf_words(n_rows, n_cols, per_row, rng):
    """Counts of words drawn by Zipf's law from a vocabulary of ``n_cols``, as CSR: most
    columns never occur (a vectoriser fitted on more documents than the training rows)."""
    columns = np.minimum(rng.zipf(1.3, n_rows * per_row), n_cols) - 1
    X = sp.csr_matrix((np.ones(n_rows * per_row), (np.repeat(np.arange(n_rows), per_row),
                                                   columns)), shape=(n_rows, n_cols))
    X.sum_duplicates()
    return X


def test_only_csr_x_with_enough_empty_columns_loses_them():
    rng = np.random.default_rng(0)
    X = _zipf_words(300, 20_000, 80, rng)
    reduced, columns = curvature.without_empty_columns(X)
    assert_array_equal(columns, np.unique(X.indices))
    assert curvature.FULL_MAX_COLUMNS < len(columns) < 20_000 * (1 - curvature.EMPTY_MIN_SHARE)
    assert reduced.shape == (300, len(columns))
    assert_array_equal(reduced.toarray(), X.toarray()[:, columns])
    # The values and row pointers are X's own: only the column indices are new.
    assert np.shares_memory(reduced.data, X.data)
    assert reduced.has_sorted_indices
    few = columns[:curvature.FULL_MAX_COLUMNS]
    for kept in (X.tocsc(), X.toarray(), sp.csr_matrix((300, 20_000)),
                 # Fewer than EMPTY_MIN_SHARE of the columns empty.
                 X[:, np.r_[columns, 0:int(len(columns) * curvature.EMPTY_MIN_SHARE) - 2]],
                 # Columns kept few enough for the full metric, where X's is another.
                 sp.hstack([X[:, few], sp.csr_matrix((300, 2000))]).tocsr(),
                 # Fewer than twice the rows kept, of more in X.
                 sp.vstack([X] * 4).tocsr()):
        same, none = curvature.without_empty_columns(kept)
        assert same is kept and none is None


@pytest.mark.parametrize("Estimator, n_classes", [(GDClassifier, 2), (GDClassifier, 3),
                                                  (GDRegressor, None)])
def test_sparse_x_s_empty_columns_are_left_out_of_the_fit_with_coefficients_of_zero(
        monkeypatch, Estimator, n_classes):
    # Of 20 000 columns, 300 rows use about 2 200: each step's vector work is over
    # those, and the fit is the fit of all the columns. (At alpha=1e-3 least squares
    # nearly interpolates, and its 190 epochs in the diagonal metric amplify the
    # rounding of sums over fewer columns: 195 epochs, to the same tol.)
    rng = np.random.default_rng(1)
    X = _zipf_words(300, 20_000, 80, rng)
    raw = X @ rng.normal(size=(20_000, n_classes or 1)) + rng.gumbel(size=(300, n_classes or 1))
    y = raw[:, 0] if n_classes is None else np.argmax(raw, axis=1) if n_classes > 2 else \
        (raw[:, 0] > np.median(raw[:, 0])).astype(int)
    used = np.unique(X.indices)
    seen = []
    without = curvature.without_empty_columns

    def spy(X):
        reduced, columns = without(X)
        seen.append(reduced.shape[1])
        return reduced, columns

    monkeypatch.setattr(curvature, "without_empty_columns", spy)
    model = Estimator(alpha=1e-2).fit(X, y)
    assert seen == [len(used)] and len(used) < 3000
    empty = np.setdiff1d(np.arange(20_000), used)
    assert model.coef_.shape[-1] == 20_000
    assert not np.any(model.coef_[..., empty])
    monkeypatch.setattr(curvature, "EMPTY_MIN_SHARE", 2.0)
    whole = Estimator(alpha=1e-2).fit(X, y)
    assert seen[-1] == 20_000
    assert model.n_iter_ == whole.n_iter_
    assert_allclose(model.coef_, whole.coef_, rtol=1e-9, atol=1e-12)
    assert_allclose(model.intercept_, whole.intercept_, rtol=1e-9, atol=1e-12)
    assert_allclose(model.loss_curve_, whole.loss_curve_, rtol=1e-12)
    # A warm start and partial_fit continue from the whole model, in all the columns.
    warm = copy.deepcopy(model).set_params(warm_start=True).fit(X, y)
    assert warm.n_iter_ <= 2
    assert_allclose(warm.coef_, whole.coef_, rtol=1e-6, atol=1e-9)
    model.partial_fit(X[:50], y[:50])
    assert model.coef_.shape == whole.coef_.shape and np.all(np.isfinite(model.coef_))
    assert not np.any(model.coef_[..., empty])


def test_sparse_X_of_dense_rows_sums_its_gram_matrix_over_dense_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    X = sp.random(400, 30, density=0.5, format="csr", random_state=0)
    weight = rng.uniform(0.0, 2.0, 400)
    assert curvature._dense_gram_pays(X)
    dense = curvature.gram(X, weight, True, 400.0)
    monkeypatch.setattr(curvature, "_dense_gram_pays", lambda X: False)
    assert_allclose(dense, curvature.gram(X, weight, True, 400.0), rtol=1e-12)
    assert_allclose(dense, curvature.gram(X.toarray(), weight, True, 400.0), rtol=1e-12)


def _table_of_numbers_and_one_hot(n=600, seed=0):
    """Sparse X as a table's: four numeric columns in most rows beside a one-hot
    categorical of 80 levels and a rare numeric column."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, 4)) * (rng.random((n, 4)) < 0.7)
    levels = sp.csr_matrix((np.ones(n), (np.arange(n), rng.integers(0, 80, n))),
                           shape=(n, 80))
    rare = rng.normal(size=(n, 1)) * (rng.random((n, 1)) < 0.03)
    return sp.hstack([sp.csr_matrix(numbers), levels, sp.csr_matrix(rare)]).tocsr()


def test_with_ones_column_is_hstack_with_a_column_of_ones():
    X = _table_of_numbers_and_one_hot().astype(np.float32)
    bordered = curvature.with_ones_column(X)
    expected = sp.csr_matrix(sp.hstack([X, np.ones((X.shape[0], 1))]))
    assert bordered.dtype == expected.dtype == np.float64
    assert bordered.has_canonical_format
    assert (bordered != expected).nnz == 0
    assert (curvature.with_ones_column(X.tocsc()) != expected).nnz == 0


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("block_rows", [None, 37])
def test_sparse_gram_is_the_sparse_product_with_its_frequent_columns_dense(
        weighted, block_rows, monkeypatch):
    """The frequent columns' blocks summed densely (a row block at a time) give the
    sparse product's matrix: the same nonzeros, the same values to rounding."""
    X1 = curvature.with_ones_column(_table_of_numbers_and_one_hot())
    monkeypatch.setattr(curvature, "_ASSEMBLY_PAIRS", 0)  # the split, wherever it applies
    n = X1.shape[0]
    weight = (np.random.default_rng(1).uniform(0.0, 2.0, n) * (np.arange(n) % 7 != 0)
              if weighted else None)
    total = n if weight is None else weight.sum()
    scaled = X1 if weight is None else sp.csr_matrix(X1.multiply(weight[:, None]))
    expected = (scaled.T @ X1).tocsc() / total
    if block_rows is not None:
        monkeypatch.setattr(curvature, "BLOCK_BYTES", 8 * 5 * block_rows)
    gram = curvature.sparse_gram(X1, weight, total)
    assert gram.format == "csc" and gram.nnz == expected.nnz
    assert_allclose(gram.toarray(), expected.toarray(), rtol=1e-12, atol=1e-15)


def _dense_columns(X1):
    """The split's columns of CSR ``X1`` by :func:`skgd._curvature._dense_columns`."""
    row_of = np.repeat(np.arange(X1.shape[0]), np.diff(X1.indptr))
    return curvature._dense_columns(X1, row_of)


def test_sparse_gram_splits_where_numbers_meet_in_most_rows_not_for_one_hot_levels():
    """The split is taken where the frequent columns meet in most rows (a table's
    numbers), not where they are one-hot levels that are merely frequent (Zipf-skewed
    categoricals, where assembling the blocks took 2.6x the product)."""
    rng = np.random.default_rng(2)
    n = 3000
    numbers = sp.csr_matrix(rng.normal(size=(n, 12)))

    def categorical():
        levels = np.minimum(rng.zipf(1.5, n) - 1, 199)
        return sp.csr_matrix((np.ones(n), (np.arange(n), levels)), shape=(n, 200))

    table = curvature.with_ones_column(sp.hstack([numbers, categorical()]).tocsr())
    dense = _dense_columns(table)
    assert dense is not None and set(np.r_[np.arange(12), 212]) <= set(dense)
    categoricals = curvature.with_ones_column(
        sp.hstack([categorical() for _ in range(8)]).tocsr())
    assert np.sum(np.bincount(categoricals.indices) >= n / 8) > 8  # frequent levels
    assert _dense_columns(categoricals) is None
    # Trailing empty rows count no pairs.
    empty = sp.vstack([table, sp.csr_matrix((5, table.shape[1]))]).tocsr()
    assert_array_equal(_dense_columns(empty), _dense_columns(table))
    # Wide X whose block between the numbers and the rest would outgrow X: no split.
    wide = sp.hstack([table, sp.csr_matrix((n, 20 * table.nnz // 13))]).tocsr()
    assert _dense_columns(wide) is None


@pytest.mark.parametrize("split", [True, False])
def test_sparse_gram_of_duplicate_entries_sums_them(split, monkeypatch):
    monkeypatch.setattr(curvature, "_ASSEMBLY_PAIRS", 0 if split else math.inf)
    X1 = curvature.with_ones_column(_table_of_numbers_and_one_hot(n=200))
    # The first row's first entry split in two halves (a CSR that is not canonical).
    first = X1.indptr[1]
    data = np.insert(X1.data, first, X1.data[0] / 2)
    data[0] /= 2
    duplicated = sp.csr_matrix((data, np.insert(X1.indices, first, X1.indices[0]),
                                np.r_[0, X1.indptr[1:] + 1]), shape=X1.shape)
    duplicated.has_canonical_format = False
    expected = (X1.T @ X1).toarray() / 200
    assert_allclose(curvature.sparse_gram(duplicated, None, 200).toarray(), expected,
                    rtol=1e-12, atol=1e-15)


# -- issue 23: mini-batch and stream bounds ---------------------------------------------------
def _gower(n, b, full, top):
    return (n * (b - 1) * full + (n - b) * top) / (b * (n - 1))


@pytest.mark.parametrize("batch_size", [7, 8, 16, 25, 50, 59])
def test_a_short_last_batch_steps_to_its_own_bound(batch_size):
    # 60 rows: the last batch holds 60 mod b rows, a uniform draw of that many; its step
    # is scaled by L_b / L_m where that is below 1, so it keeps to its own bound.
    objective = _problem("squared", weighted=False, alpha=0.0)
    X1 = _unweighted_X1(objective)
    full = np.linalg.eigvalsh(X1.T @ X1 / 60)[-1]
    top = max(x1 @ x1 for x1 in X1)
    step = curvature.step_size(objective, curvature.Euclidean(), None, "auto",
                               batch_size=batch_size)
    bound = _gower(60, batch_size, full, top)
    assert step.learning_rate == pytest.approx(1 / (2 * bound), rel=1e-12)
    short = 60 % batch_size
    expected = 1.0 if short == 0 else min(1.0, bound / _gower(60, short, full, top))
    assert step.last_batch == pytest.approx(expected, rel=1e-12)
    if short:
        assert step.last_batch < 1.0


def test_weighted_mini_batches_take_each_row_s_weight_relative_to_the_mean():
    # A batch weighs its rows by s_i / mean(s): the per-sample constants are
    # s_i / mean(s) ||x1_i||^2, and Gower's interpolation holds as it is.
    objective = _problem("squared", weighted=True, alpha=0.0)
    weight = objective.sample_weight
    X1 = _unweighted_X1(objective)
    full = np.linalg.eigvalsh((X1 * weight[:, None]).T @ X1 / weight.sum())[-1]
    top = max(weight / weight.mean() * np.sum(X1**2, axis=1))
    for b in (1, 2, 10, 30):
        assert_allclose(curvature.lipschitz(objective, b), _gower(60, b, full, top),
                        rtol=1e-12)


def test_a_weighted_batch_never_curves_more_than_the_largest_weighted_row():
    # Heavy rows of small norm, light rows of large norm: every batch's curvature, its
    # rows weighted relative to the mean weight, is below the batch-of-one bound.
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(10, 3)) * 0.1, rng.normal(size=(50, 3)) * 10]
    weight = np.r_[np.full(10, 1e4), np.ones(50)]
    objective = LinearObjective(SquaredError(), X, rng.normal(size=60), weight)
    X1 = np.hstack([X, np.ones((60, 1))])
    for rows in (np.arange(4), np.arange(8, 16), np.arange(20, 36), np.arange(60)):
        batch = X1[rows] * np.sqrt(weight[rows] / weight.mean())[:, None]
        assert (np.linalg.eigvalsh(batch.T @ batch / len(rows))[-1]
                <= curvature.lipschitz(objective, 1) * (1 + 1e-12))


def test_the_auto_step_of_mini_batches_is_half_of_one_over_the_bound_and_momentum_aware():
    objective = _problem("squared", weighted=False)
    metric = curvature.Euclidean()

    def step(learning_rate, **settings):
        return curvature.step_size(objective, metric, None, learning_rate,
                                   **settings).learning_rate

    bound = curvature.lipschitz(objective, 10)
    assert step("auto", batch_size=10) == pytest.approx(1 / (2 * bound), rel=1e-12)
    assert step("auto", batch_size=10, momentum=0.9) == pytest.approx(0.1 / (2 * bound),
                                                                      rel=1e-12)
    # The full batch: 1/L, times 1 - momentum.
    full = curvature.lipschitz(objective)
    assert step("auto", momentum=0.5) == pytest.approx(0.5 / full, rel=1e-12)
    # A float rate in the plain metric is the step itself, whatever the momentum.
    assert step(0.3, batch_size=10, momentum=0.9) == 0.3
    # An averaged fit takes the bound's whole step: the spread the half narrows is the
    # iterates', not their average's.
    assert step("auto", batch_size=10, averaged=True) == pytest.approx(1 / bound,
                                                                       rel=1e-12)
    assert step(0.3, batch_size=10, averaged=True) == 0.3


def test_the_mini_batch_step_from_the_gauge_equals_the_one_without():
    objective = _problem("binary", weighted=True)
    metric = curvature.Euclidean()
    gauge = curvature.gauge(metric, objective, None, 8)
    assert gauge is not None
    assert_allclose(curvature.step_size(objective, metric, gauge, "auto", batch_size=8),
                    curvature.step_size(objective, metric, None, "auto", batch_size=8),
                    rtol=1e-10)


def test_a_stream_s_step_follows_its_largest_rows_and_its_scale():
    objective = _problem("squared", weighted=False, alpha=0.0)
    metric = curvature.Euclidean()
    X1 = _unweighted_X1(objective)
    full = np.linalg.eigvalsh(X1.T @ X1 / 60)[-1]
    norms = np.sum(X1**2, axis=1)
    # A call of 60 rows, the first of the stream: batches of 60 from an unlimited
    # population, ((m - 1) L + max) / m, at half.
    step, stream = curvature.stream_step(objective, metric, "auto")
    assert step.learning_rate == pytest.approx(1 / (2 * (59 * full + norms.max()) / 60),
                                               rel=1e-12)
    # A later batch of rows 10 times as large: its trace scales L by 100, its rows the
    # largest per-sample constant.
    larger = LinearObjective(SquaredError(), objective.X * 10, objective.y)
    X1 = _unweighted_X1(larger)
    scale = np.mean(np.sum(X1**2, axis=1)) / norms.mean()
    step, stream = curvature.stream_step(larger, metric, "auto", stream=stream)
    top = np.sum(X1**2, axis=1).max()
    assert step.learning_rate == pytest.approx(1 / (2 * (59 * full * scale + top) / 60),
                                               rel=1e-12)
    # Batches of one row: the largest per-sample constant seen so far.
    one = LinearObjective(SquaredError(), objective.X[:1], objective.y[:1])
    step, _ = curvature.stream_step(one, metric, "auto", stream=stream)
    assert step.learning_rate == pytest.approx(1 / (2 * top), rel=1e-12)
    step, _ = curvature.stream_step(one, metric, "auto", averaged=True, stream=stream)
    assert step.learning_rate == pytest.approx(1 / top, rel=1e-12)
    # A float rate in the plain metric is the step itself, and needs no pass.
    assert curvature.stream_step(one, metric, 0.01, stream=None) == ((0.01, 1.0), None)


def _drifted_batches(seed=0, n_rows=60, n_features=5):
    """A stream's first batch, standard normal rows, and a later one whose rows have
    drifted along one direction: their curvature is concentrated there."""
    rng = np.random.default_rng(seed)
    first = rng.normal(size=(n_rows, n_features))
    later = rng.normal(size=(n_rows, n_features)) + 2.0 * rng.normal(size=n_features)
    return [LinearObjective(SquaredError(), X, X @ np.arange(n_features), alpha=0.0)
            for X in (first, later)]


@pytest.mark.parametrize("name", [None, "diagonal", "full"])
def test_a_stream_s_step_keeps_to_the_bound_of_a_batch_whose_curvature_concentrated(name):
    # The first batch fixes the metric and the stream's full-batch constant; the trace's
    # ratio saw nothing of the drift (in the full metric the first batch's curvature is
    # the identity: its top eigenvalue 1 / n_cols of its trace, the drifted batch's
    # most of it). The call's step is at most that of a fit on its rows alone, 1 / L.
    first, later = _drifted_batches()
    metric = curvature.make_metric(name, first)
    _, stream = curvature.stream_step(first, metric, "auto")
    step, _ = curvature.stream_step(later, metric, "auto", stream=stream)
    X1 = _unweighted_X1(later)
    if name is None:
        matrix = np.eye(X1.shape[1])
    elif name == "diagonal":
        matrix = np.diag(metric.weights)
    else:
        matrix = metric.matrix
    own = scipy.linalg.eigh(X1.T @ X1 / len(X1), matrix, eigvals_only=True)[-1]
    assert step.learning_rate <= 1 / own * (1 + 1e-12)
    # Batches of 10 of its rows: at most a mini-batch fit's step on them, 1 / (2 L_10).
    n = len(X1)
    largest = np.max(np.sum(X1 @ np.linalg.inv(matrix) * X1, axis=1))
    step, _ = curvature.stream_step(later, metric, "auto", batch_size=10, stream=stream)
    bound = (n * 9 * own + (n - 10) * largest) / (10 * (n - 1))
    assert step.learning_rate <= 1 / (2 * bound) * (1 + 1e-12)


@pytest.mark.parametrize("preconditioner", ["auto", "diagonal", "full"])
@pytest.mark.parametrize("stream", ["sorted by target", "drifting mean"])
def test_partial_fit_at_the_auto_rate_descends_on_a_stream_whose_batches_change(
        preconditioner, stream):
    # learning_rate="auto" is the step that cannot diverge, on every batch: on rows that
    # arrive sorted by their target, or whose mean drifts after the first batch, no call
    # raises a DivergenceError, and the stream learns: the model ends far better than
    # the zero model on all the rows.
    rng = np.random.default_rng(7)
    if stream == "sorted by target":
        X, rows = rng.normal(size=(200, 5)), 20
        y = X @ rng.normal(size=5) * 3 + 10
        order = np.argsort(y)
        X, y = X[order], y[order]
    else:
        X, rows = rng.normal(size=(400, 20)), 50
        X[rows:] += 1.0
        y = X @ rng.normal(size=20) + 1
    model = GDRegressor(preconditioner=preconditioner, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(5):
            for start in range(0, len(X), rows):
                model.partial_fit(X[start:start + rows], y[start:start + rows])
    assert np.mean((model.predict(X) - y) ** 2) < 0.25 * np.mean(y**2)


def test_the_rows_that_weights_stand_for_do_not_depend_on_their_scale():
    objective = _problem("binary", weighted=True)
    weight = objective.sample_weight
    rows = curvature._rows(objective)
    assert rows == pytest.approx(weight.sum() / weight.min(), rel=1e-12)
    scaled = LinearObjective(BinaryCrossEntropy(), objective.X, objective.y, weight * 1e-300)
    assert curvature._rows(scaled) == pytest.approx(rows, rel=1e-12)


# -- the full metric of X with more columns than rows (issue 23, item 3) ----------------------
def _dense_block(X, weights, l2, fit_intercept):
    X1 = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    ridge = np.append(np.full(X.shape[1], l2), [0.0] * fit_intercept)
    return X1.T @ (X1 * weights[:, None]) + np.diag(ridge)


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss_name", ["squared", "softmax"])
def test_the_low_rank_metric_is_the_full_one_through_woodbury(container, fit_intercept,
                                                              loss_name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 40))
    X[rng.random(X.shape) < 0.5] = 0.0
    weight = rng.uniform(0.5, 2.0, 12)
    weight[3] = 0.0  # a row a search's fold leaves out
    loss, y = ((SquaredError(), rng.normal(size=12)) if loss_name == "squared" else
               (CategoricalCrossEntropy(3), np.arange(12) % 3))
    data = X if container == "dense" else sp.csr_matrix(X)
    objective = LinearObjective(loss, data, y, weight, alpha=0.05,
                                fit_intercept=fit_intercept)
    w = np.random.default_rng(1).normal(size=objective.n_params)
    if loss_name == "softmax":
        w = curvature._ClassShift(objective).centre(w)
    metric = curvature._low_rank(objective, curvature._start_curvature(objective), True)
    if loss_name == "softmax":
        # Refitted: each class its block of the Hessian.
        metric = metric.refresh(w)
        weights = objective._curvature_weights(w).T / objective.total_weight
    else:
        weights = np.tile(weight / weight.sum(), (1, 1))
    blocks = [_dense_block(X, row, 0.05, fit_intercept) for row in weights]
    u, v = np.random.default_rng(2).normal(size=(2, objective.n_params))
    n_features = objective.n_features

    def dense(apply, vector):
        parts = np.column_stack([vector[: objective.n_coef].reshape(-1, n_features),
                                 vector[objective.n_coef:]]) if fit_intercept \
            else vector.reshape(-1, n_features)
        out = np.array([apply(blocks[k if len(blocks) > 1 else 0], part)
                        for k, part in enumerate(parts)])
        return np.concatenate([out[:, :n_features].ravel(), out[:, n_features]]) \
            if fit_intercept else out.ravel()

    expected = dense(np.linalg.solve, u)
    if loss_name == "softmax":
        expected = curvature._ClassShift(objective).centre(expected)
    assert_allclose(metric.direction(u), expected, rtol=1e-8, atol=1e-10)
    assert_allclose(metric.inner(u, v), u @ dense(lambda block, part: block @ part, v),
                    rtol=1e-10)


def test_x_with_more_columns_than_rows_takes_the_low_rank_full_metric(monkeypatch):
    monkeypatch.setattr(curvature, "FULL_MAX_COLUMNS", 20)
    rng = np.random.default_rng(0)
    objective = LinearObjective(SquaredError(), rng.normal(size=(15, 60)),
                                rng.normal(size=15), alpha=0.1)
    assert curvature.resolve("auto", objective) == "full"
    assert isinstance(curvature.make_metric("full", objective), curvature.LowRank)
    # Rows are not fewer than half the columns, or no L2 term: the diagonal.
    taller = LinearObjective(SquaredError(), rng.normal(size=(40, 60)),
                             rng.normal(size=40), alpha=0.1)
    assert curvature.resolve("auto", taller) == "diagonal"
    unpenalised = LinearObjective(SquaredError(), rng.normal(size=(15, 60)),
                                  rng.normal(size=15), alpha=0.0)
    assert curvature.resolve("auto", unpenalised) == "diagonal"
    # Text-like CSR X, whose n x n factor costs far more a step than a pass over its
    # few nonzeros: the diagonal (8 000 x 20 000 took 30 s in the full metric, 44 ms).
    text = sp.random(400, 2000, density=0.002, format="csr", random_state=0)
    sparse = LinearObjective(SquaredError(), text, rng.normal(size=400), alpha=0.1)
    assert text.shape[0] ** 2 > curvature.LOW_RANK_STEP_PASSES * text.nnz
    assert curvature.resolve("auto", sparse) == "diagonal"


def test_lbfgs_on_the_cross_entropy_takes_the_low_rank_metric_only_where_its_refits_are_cheap():
    """Its kernels, refitted along the way, cost ``n^2 p`` each: on 20 x 2 000 a few
    passes (the low-rank metric), on 200 x 2 000 more than LOW_RANK_REFIT_PASSES (the
    diagonal, 0.3x the time). Least squares, fitted once and exactly, keeps it; so does
    the bound of a rule that does not refit."""
    rng = np.random.default_rng(0)

    def resolved(n, loss, y, learned=True):
        objective = LinearObjective(loss, rng.normal(size=(n, 2000)), y(n), alpha=1 / n)
        return curvature.resolve("auto", objective, learned=learned)

    def labels(n):
        return np.arange(n) % 2

    assert resolved(20, BinaryCrossEntropy(), labels) == "full"
    assert resolved(200, BinaryCrossEntropy(), labels) == "diagonal"
    assert resolved(200, BinaryCrossEntropy(), labels, learned=False) == "full"
    assert resolved(200, SquaredError(), lambda n: rng.normal(size=n)) == "full"


def test_a_default_fit_of_far_more_columns_than_rows_ends_at_logistic_regression_s():
    # 200 x 2 000, separable: the diagonal metric, whose first step at length 1 left
    # L-BFGS 44 epochs (16 from the step its floor cuts; tests/test_engine.py).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2000))
    y = (X[:, :20].sum(axis=1) + rng.normal(size=200) > 0).astype(int)
    model = GDClassifier(alpha=1 / 200).fit(X, y)
    exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)

    def objective(coef, intercept):
        raw = X @ coef.ravel() + intercept[0]
        return np.mean(np.logaddexp(0, -np.where(y == 1, raw, -raw))) \
            + 0.5 / 200 * coef.ravel() @ coef.ravel()

    best = objective(exact.coef_, exact.intercept_)
    assert model.preconditioner_ == "diagonal"
    assert model.n_iter_ <= 30
    assert objective(model.coef_, model.intercept_) - best <= 1e-6 * best


@pytest.mark.parametrize("n_classes", [3, 10])
def test_a_default_fit_of_classes_that_many_columns_separate_ends_within_1e6_of_its_objective(
        n_classes):
    # 50 x 3 000: the optimum is 1/156 and 1/184 of the start's objective, and the
    # measure, far from the curvature there, met tol at 4.5e-7 and 6.1e-6 of the
    # objective above LogisticRegression's; the objective's own decrease now holds the
    # stop (skgd._stopping.Stop.settled): 1.5e-7 and 2.1e-7.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3000))
    scores = X @ rng.normal(size=(3000, n_classes)) * 2 / np.sqrt(3000)
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    model = GDClassifier(alpha=1 / 50).fit(X, y)
    exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)

    def objective(fitted):
        raw = X @ fitted.coef_.T + fitted.intercept_
        log_proba = raw - logsumexp(raw, axis=1, keepdims=True)
        return (-np.mean(log_proba[np.arange(50), y])
                + 0.5 / 50 * np.sum(fitted.coef_ ** 2))

    best = objective(exact)
    assert best < np.log(n_classes) / 50
    assert model.optimality_ <= model.tol
    assert objective(model) - best <= 1e-6 * best


@pytest.mark.parametrize("solver", ["auto", "accelerated"])
def test_a_fit_of_far_more_columns_than_rows_ends_at_ridge_s_objective(solver):
    # Issue 23: 20 x 2000, the diagonal metric stopped after 7 epochs 18 % above Ridge's
    # objective at an optimality of 1e-5 relative to the start.
    rng = np.random.default_rng
    X = rng(0).normal(size=(20, 2000))
    y = X[:, :5] @ rng(1).normal(size=5)
    model = GDRegressor(alpha=1e-3, solver=solver).fit(X, y)
    from sklearn.linear_model import Ridge

    ridge = Ridge(alpha=1e-3 * 20).fit(X, y)

    def objective(coef, intercept):
        return 0.5 * np.mean((X @ coef + intercept - y) ** 2) + 0.5e-3 * coef @ coef

    best = objective(ridge.coef_, ridge.intercept_)
    assert model.preconditioner_ == "full"
    assert objective(model.coef_, model.intercept_) - best <= 1e-8 * best


# -- the L1 prox in a full metric ----------------------------------------------------------

def _coordinate_descent(matrix, v, tau, n_penalised, sweeps=20000):
    """The reference: ``argmin 1/2 (u - v)^T M (u - v) + tau ||u[:n_penalised]||_1`` by
    cyclic coordinate descent to its fixed point."""
    u = np.zeros_like(v)
    residual = matrix @ (u - v)
    for _ in range(sweeps):
        largest = 0.0
        for j in range(v.size):
            z = u[j] - residual[j] / matrix[j, j]
            new = (np.sign(z) * max(abs(z) - tau / matrix[j, j], 0.0)
                   if j < n_penalised else z)
            if new != u[j]:
                residual += (new - u[j]) * matrix[:, j]
                largest = max(largest, abs(new - u[j]))
                u[j] = new
        if largest < 1e-15:
            break
    return u


@pytest.mark.parametrize("seed", range(40))
def test_the_l1_prox_in_a_full_metric_is_the_minimiser(seed):
    # Columns of scales 1e-2 to 1e2, a near-duplicate pair, an unpenalised last one (the
    # intercept's), strengths from almost none to most coefficients at zero; from no
    # guess and from a guess of another problem's solution.
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 25))
    X = rng.normal(size=(int(rng.integers(size // 2 + 1, 60)), size))
    X *= 10.0 ** rng.uniform(-2, 2, size)
    X[:, -1] = 1.0
    if seed % 3 == 0 and size > 2:
        X[:, 1] = 2 * X[:, 0] + 1e-6 * rng.normal(size=X.shape[0])
    matrix = X.T @ X / X.shape[0]
    v = rng.normal(size=size) * 10.0 ** rng.uniform(-2, 2)
    tau = 10.0 ** rng.uniform(-3, 1)

    def value(u):
        return 0.5 * (u - v) @ matrix @ (u - v) + tau * np.abs(u[:-1]).sum()

    reference = _coordinate_descent(matrix, v, tau, size - 1)
    guess = curvature.quadratic_l1(matrix, 1.1 * v, tau, size - 1)
    for start in (None, guess):
        u = curvature.quadratic_l1(matrix, v, tau, size - 1, start)
        assert value(u) <= value(reference) + 1e-10 * abs(value(reference))
        if X.shape[0] > size:
            # M of full rank: the distance in the metric, which the objective's excess
            # bounds (strong convexity), as far as coordinate descent's rounding lets it.
            gap = u - reference
            assert 0.5 * gap @ matrix @ gap <= 1e-9 * abs(value(reference))


@pytest.mark.parametrize("loss_name", ["squared", "binary"])
def test_the_full_metric_s_prox_about_a_centre_is_the_metric_s_own(loss_name):
    # About a centre c the metric is T^T N T, applied through T; its prox is T^-1
    # prox_N(T v), the same point as the prox in the formed matrix.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    X[:, 2] = 40.0 + 1e-3 * X[:, 2]
    y = (rng.normal(size=80) if loss_name == "squared"
         else rng.integers(0, 2, 80).astype(float))
    loss = SquaredError() if loss_name == "squared" else BinaryCrossEntropy()
    objective = LinearObjective(loss, X, y, alpha=0.01, l1_ratio=1.0)
    metric = curvature.full(objective, local=True)
    assert metric.centre is not None
    lift = np.eye(5)
    lift[-1, :-1] = metric.centre
    formed = lift.T @ metric.matrix @ lift
    v = rng.normal(size=5)
    penalty = objective.l1_penalty()
    expected = curvature.quadratic_l1(formed, v, 0.5 * penalty.strength, 4)
    assert_allclose(metric.prox(penalty, v, 0.5), expected, rtol=1e-7, atol=1e-9)


def test_l1_fits_take_the_full_metric_where_its_prox_pays(monkeypatch):
    def objective(loss, n_features, rows=500):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(rows, n_features))
        y = rng.integers(0, 3, rows)
        return LinearObjective(loss, X, (y > 0).astype(float) if loss.n_outputs == 1
                               else y, alpha=0.01, l1_ratio=1.0)

    def resolved(obj, learned=True):
        return curvature.resolve("auto", obj, l1=True, learned=learned)

    assert resolved(objective(SquaredError(), 20)) == "full"
    assert resolved(objective(BinaryCrossEntropy(), 20)) == "full"
    # Rules that take the step they are given keep the diagonal's soft threshold.
    assert resolved(objective(BinaryCrossEntropy(), 20), learned=False) == "diagonal"
    # The softmax takes its whole Hessian, one system over every class, where that is as
    # cheap (its class blocks would leave the coupling to a memory a prox cannot keep).
    assert resolved(objective(CategoricalCrossEntropy(3), 20)) == "full"
    assert resolved(objective(CategoricalCrossEntropy(3), 60)) == "diagonal"
    # Systems of more columns than a few passes pay for keep the diagonal.
    assert resolved(objective(BinaryCrossEntropy(), 120)) == "diagonal"
    monkeypatch.setattr(curvature, "PROX_MAX_COLUMNS", 10)
    assert resolved(objective(SquaredError(), 20)) == "diagonal"


def test_the_l1_prox_of_a_strength_that_zeroes_everything_is_zero():
    # Without an intercept (no unpenalised coordinate) the support may be empty.
    matrix = np.array([[2.0, 0.5], [0.5, 1.0]])
    v = np.array([0.1, -0.2])
    assert_allclose(curvature.quadratic_l1(matrix, v, 10.0, 2), 0.0)
    assert_allclose(curvature.quadratic_l1(matrix, v, 10.0, 2, start=v), 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_folds_gram_matrix_is_the_whole_datas_less_its_rows_left_out(dtype, weighted,
                                                                      sparse):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 6)) * [1.0, 1e3, 1e-3, 1.0, 5.0, 1.0]).astype(dtype)
    if sparse:
        X[rng.random(X.shape) < 0.6] = 0
        X = sp.csr_matrix(X)
    whole = rng.uniform(0.5, 2.0, 300).astype(dtype) if weighted else None
    weight = np.ones(300, dtype) if whole is None else whole.copy()
    weight[rng.permutation(300)[:60]] = 0  # a fifth of the rows held out
    folds = curvature.FoldGrams(X, whole, True)
    total = float(weight.sum())
    expected = curvature.gram(X, weight, True, total)
    # float32 X sums its Gram matrices in float32, each to about 1e-7 of its size.
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    assert_allclose(folds.of(weight, total), expected, rtol=tolerance,
                    atol=tolerance * np.abs(expected).max())


def test_a_fold_takes_its_own_gram_matrix_where_the_difference_would_cancel():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    folds = curvature.FoldGrams(X, None, True)
    # Most rows held out: the fold's own pass is the cheaper.
    most = (np.arange(200) < 80).astype(float)
    assert folds.of(most, most.sum()) is None
    # A column of values in the held-out rows only (a level the training rows lack): its
    # difference would be rounding, where the training rows' own sum is exactly 0.
    X[:150, 3] = 0.0
    folds = curvature.FoldGrams(X, None, True)
    weight = (np.arange(200) < 150).astype(float)
    assert folds.of(weight, weight.sum()) is None
    assert folds.of(np.r_[np.zeros(20), np.ones(180)], 180.0) is not None


def test_least_squares_on_few_rows_a_level_beside_numbers_takes_the_schur_factors():
    # Three rows a level and numbers that meet every level: a Gram matrix of more
    # nonzeros than X, whose factors are still a Schur complement's on the few numbers
    # (a table of families: 56 ms dense, 3.7 ms sparse; a helper's survey).
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(800), 3)
    numbers = rng.normal(size=(2400, 8)) * (rng.random((2400, 8)) < 0.5)
    X = sp.hstack([sp.csr_matrix((np.ones(2400), (np.arange(2400), codes)),
                                 shape=(2400, 800)),
                   sp.csr_matrix(numbers)], format="csr")
    y = X @ rng.normal(size=808) + rng.normal(size=2400)
    least_squares = LinearObjective(SquaredError(), X, y, alpha=1e-3)
    assert least_squares.sparse_gram().nnz > X.nnz
    assert isinstance(curvature.full(least_squares, local=True), curvature.SparseFull)
    from sklearn.linear_model import Ridge

    model = GDRegressor(alpha=1e-3).fit(X, y)
    reference = Ridge(alpha=2400 * 1e-3, solver="sparse_cg", tol=1e-12).fit(X, y)
    assert model.n_iter_ <= 3
    assert_allclose(model.predict(X), reference.predict(X), rtol=1e-6, atol=1e-6)
