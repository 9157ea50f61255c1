"""Tests of skgd.losses: per-sample losses and LinearObjective.

Every expected value is computed here from the formulas of API.md, independently of
skgd's code: objectives with ``scipy.special.logsumexp``, curvature bounds with
``numpy.linalg.eigvalsh``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import check_grad
from scipy.special import log_softmax, logsumexp, softmax

from skgd import _kernel
from skgd.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    LinearObjective,
    SquaredError,
)

N_SAMPLES, N_FEATURES = 30, 5

# name -> (loss factory, n_outputs, bound on the second derivative of the loss with
# respect to the raw prediction: 1 for squared error, max sigmoid' = 1/4, and 1/2 for the
# softmax Hessian diag(p) - p p^T).
LOSSES = {
    "squared": (SquaredError, 1, 1.0),
    "squared-3targets": (lambda: SquaredError(n_targets=3), 3, 1.0),
    "binary": (BinaryCrossEntropy, 1, 0.25),
    "categorical-4": (lambda: CategoricalCrossEntropy(n_classes=4), 4, 0.5),
}

# id -> (alpha, l1_ratio); l1_ratio only scales the L2 part of the smooth objective.
PENALTIES = {
    "unpenalised": (0.0, 0.0),
    "l2": (0.3, 0.0),
    "elasticnet": (0.3, 0.5),
}


def make_data(loss_name, seed=0, dtype=np.float64, sparse=False):
    """X (with about a third of zeros), y as the loss expects it and positive weights."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    if loss_name == "squared":
        y = rng.normal(size=N_SAMPLES)
    elif loss_name == "squared-3targets":
        y = rng.normal(size=(N_SAMPLES, 3))
    elif loss_name == "binary":
        y = rng.integers(0, 2, size=N_SAMPLES).astype(np.float64)
    else:
        y = rng.integers(0, 4, size=N_SAMPLES)
    sample_weight = rng.uniform(0.1, 3.0, size=N_SAMPLES)
    X = X.astype(dtype)
    if y.dtype.kind == "f":
        y = y.astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), y, sample_weight.astype(dtype)


def make_objective(loss_name, X, y, **kwargs):
    return LinearObjective(LOSSES[loss_name][0](), X, y, **kwargs)


def random_params(objective, seed=1, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=objective.n_params)).astype(dtype)


def reference_loss_gradient(loss_name, X, y, w, sample_weight, alpha, l1_ratio,
                            fit_intercept):
    """F and dF/dw from the API formulas, on dense float64 arrays."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    X, w = X.astype(np.float64), np.asarray(w, dtype=np.float64)
    n_outputs = LOSSES[loss_name][1]
    n_coef = n_outputs * X.shape[1]
    W = w[:n_coef].reshape(n_outputs, X.shape[1])
    b = w[n_coef:] if fit_intercept else np.zeros(n_outputs)
    Z = X @ W.T + b
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    if loss_name.startswith("squared"):
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
        per_sample = 0.5 * ((Z - Y) ** 2).sum(axis=1)
        residual = Z - Y
    elif loss_name == "binary":
        z, y = Z[:, 0], np.asarray(y, dtype=np.float64)
        per_sample = np.log1p(np.exp(z)) - y * z
        residual = (1.0 / (1.0 + np.exp(-z)) - y)[:, None]
    else:
        rows = np.arange(X.shape[0])
        per_sample = logsumexp(Z, axis=1) - Z[rows, y]
        residual = softmax(Z, axis=1)
        residual[rows, y] -= 1.0
    l2 = alpha * (1.0 - l1_ratio)
    loss = np.sum(s * per_sample) / s.sum() + l2 / 2 * np.sum(W**2)
    grad_W = (s[:, None] * residual).T @ X / s.sum() + l2 * W
    grad_b = (s[:, None] * residual).sum(axis=0) / s.sum()
    grad = np.concatenate([grad_W.ravel(), grad_b if fit_intercept else []])
    return loss, grad


# -- gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_check_grad(loss_name, fit_intercept, weighted, penalty, sparse):
    X, y, sample_weight = make_data(loss_name, sparse=sparse)
    alpha, l1_ratio = PENALTIES[penalty]
    objective = make_objective(loss_name, X, y, alpha=alpha, l1_ratio=l1_ratio,
                               sample_weight=sample_weight if weighted else None,
                               fit_intercept=fit_intercept)
    w0 = random_params(objective)
    gradient = objective.gradient(w0)
    assert gradient.shape == (objective.n_params,)
    error = check_grad(objective.loss, objective.gradient, w0)
    assert error <= 1e-5 * np.linalg.norm(gradient)

    loss, grad = objective.loss_gradient(w0)
    assert isinstance(loss, float)
    assert loss == objective.loss(w0)
    assert_array_equal(grad, gradient)


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_objective_matches_api_formula(loss_name, fit_intercept, weighted, penalty):
    X, y, sample_weight = make_data(loss_name)
    sample_weight = sample_weight if weighted else None
    alpha, l1_ratio = PENALTIES[penalty]
    objective = make_objective(loss_name, X, y, alpha=alpha, l1_ratio=l1_ratio,
                               sample_weight=sample_weight, fit_intercept=fit_intercept)
    w = random_params(objective)
    expected_loss, expected_grad = reference_loss_gradient(
        loss_name, X, y, w, sample_weight, alpha, l1_ratio, fit_intercept)
    loss, grad = objective.loss_gradient(w)
    assert_allclose(loss, expected_loss, rtol=1e-12)
    assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss_name", LOSSES)
def test_raw_prediction_reuses_the_last_full_pass_at_the_same_point(loss_name):
    # A refit asks for the raw prediction where the gradient was just taken: the pass's
    # own, read-only; anywhere else (another point, a mini-batch pass) a fresh one.
    X, y, _ = make_data(loss_name)
    objective = make_objective(loss_name, X, y)
    w = random_params(objective)
    coef, intercept = objective.unpack(w)
    expected = X @ coef.T + intercept
    objective.loss_gradient_array(w)
    kept = objective.raw_prediction(w.copy())
    assert_allclose(kept, expected, rtol=1e-12)
    assert not kept.flags.writeable
    assert objective.raw_prediction(w) is kept
    other = w + 1.0
    assert objective.raw_prediction(other) is not kept
    assert_allclose(objective.raw_prediction(other), objective.raw_prediction(other, X))
    objective.loss_gradient_array(w, rows=slice(0, 10))
    assert objective.raw_prediction(w) is not kept


class _CountedProducts(np.ndarray):
    """An ndarray that counts the products it is the left operand of (its views too)."""

    products = 0

    def __matmul__(self, other):
        _CountedProducts.products += 1
        return np.asarray(self) @ other


@pytest.mark.parametrize("loss_name", LOSSES)
def test_a_pass_at_zero_coefficients_makes_no_product_with_X(loss_name):
    # Every fit starts there: the raw prediction is the intercept alone. The pass's
    # objective and gradient are the formula's, its gradient product still taken.
    X, y, sample_weight = make_data(loss_name)
    objective = make_objective(loss_name, X.view(_CountedProducts), y,
                               sample_weight=sample_weight, alpha=0.1)
    w = random_params(objective)
    w[: objective.n_coef] = 0.0
    before = _CountedProducts.products
    loss, grad = objective.loss_gradient(w)
    assert _CountedProducts.products == before
    expected = reference_loss_gradient(loss_name, X, y, w, sample_weight, 0.1, 0.0, True)
    assert_allclose(loss, expected[0], rtol=1e-12)
    assert_allclose(grad, expected[1], rtol=1e-10, atol=1e-13)
    w[0] = 1e-3
    objective.loss_gradient(w)
    assert _CountedProducts.products > before


@pytest.mark.parametrize("loss_name", LOSSES)
def test_intercept_is_not_penalised(loss_name):
    X, y, _ = make_data(loss_name)
    plain = make_objective(loss_name, X, y)
    penalised = make_objective(loss_name, X, y, alpha=0.3)
    w = random_params(plain)
    n_coef = plain.n_coef
    expected_penalty = 0.3 / 2 * np.sum(w[:n_coef] ** 2)
    assert_allclose(penalised.loss(w) - plain.loss(w), expected_penalty, rtol=1e-10)
    grad_difference = penalised.gradient(w) - plain.gradient(w)
    assert_allclose(grad_difference[:n_coef], 0.3 * w[:n_coef], rtol=1e-10)
    assert_array_equal(grad_difference[n_coef:], 0.0)


@pytest.mark.parametrize("loss_name", LOSSES)
def test_integer_sample_weights_repeat_samples(loss_name):
    X, y, _ = make_data(loss_name)
    repeats = np.random.default_rng(3).integers(1, 4, size=N_SAMPLES)
    weighted = make_objective(loss_name, X, y, sample_weight=repeats.astype(float))
    repeated = make_objective(loss_name, np.repeat(X, repeats, axis=0),
                              np.repeat(y, repeats, axis=0))
    w = random_params(weighted)
    assert_allclose(weighted.loss(w), repeated.loss(w), rtol=1e-12)
    assert_allclose(weighted.gradient(w), repeated.gradient(w), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_sparse_equals_dense(loss_name, fit_intercept, weighted):
    X, y, sample_weight = make_data(loss_name)
    kwargs = dict(alpha=0.3, l1_ratio=0.5, fit_intercept=fit_intercept,
                  sample_weight=sample_weight if weighted else None)
    dense = make_objective(loss_name, X, y, **kwargs)
    w = random_params(dense)
    for sparse_X in (sp.csr_matrix(X), sp.csr_array(X)):
        sparse = make_objective(loss_name, sparse_X, y, **kwargs)
        loss, grad = sparse.loss_gradient(w)
        assert_allclose(loss, dense.loss(w), rtol=1e-12)
        assert_allclose(grad, dense.gradient(w), rtol=1e-12, atol=1e-15)
        assert type(grad) is np.ndarray


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_float32_in_float32_out(loss_name, weighted, sparse):
    X32, y32, sw32 = make_data(loss_name, dtype=np.float32, sparse=sparse)
    X64, y64, sw64 = make_data(loss_name, sparse=sparse)
    kwargs = dict(alpha=0.3, l1_ratio=0.5)
    objective32 = make_objective(loss_name, X32, y32, sample_weight=sw32 if weighted else None,
                                 **kwargs)
    objective64 = make_objective(loss_name, X64, y64, sample_weight=sw64 if weighted else None,
                                 **kwargs)
    w64 = random_params(objective64)
    w32 = w64.astype(np.float32)
    assert objective32.init_params().dtype == np.float32
    assert objective32.raw_prediction(w32).dtype == np.float32

    loss, grad = objective32.loss_gradient(w32)
    assert grad.dtype == np.float32
    assert objective32.gradient(w32).dtype == np.float32
    assert np.isfinite(loss)
    loss64, grad64 = objective64.loss_gradient(w32.astype(np.float64))
    assert_allclose(loss, loss64, rtol=1e-5)
    assert_allclose(grad, grad64, rtol=1e-4, atol=1e-5 * np.abs(grad64).max())


# -- per-sample losses: stability for large raw predictions --------------------------------
LARGE = 1e4


def stable_log1pexp(z):
    """log(1 + e^z) without overflow: max(z, 0) + log1p(e^-|z|)."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def test_binary_cross_entropy_large_raw_prediction():
    z = np.array([LARGE, -LARGE, LARGE, -LARGE, 0.0, 30.0, -30.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    loss = BinaryCrossEntropy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_sample = loss.loss(y, z)
        gradient = loss.gradient(y, z)
        both = loss.loss_gradient(y, z)
    expected = stable_log1pexp(z) - y * z
    assert_allclose(per_sample, expected, rtol=1e-12)
    # No clipping of probabilities: a confident wrong prediction costs |z|, not log(1/eps).
    assert_allclose(per_sample[:2], LARGE, rtol=1e-12)
    assert np.all(np.isfinite(gradient))
    assert np.all((gradient >= -1) & (gradient <= 1))
    # d/dz [log(1 + e^z) - y z] = e^z / (1 + e^z) - y = exp(z - log(1 + e^z)) - y
    assert_allclose(gradient, np.exp(z - stable_log1pexp(z)) - y, rtol=1e-12, atol=1e-300)
    assert_array_equal(both[0], per_sample)
    assert_array_equal(both[1], gradient)


def test_categorical_cross_entropy_large_raw_prediction():
    Z = np.array([
        [LARGE, -LARGE, 0.0, 0.5 * LARGE],
        [LARGE, -LARGE, 0.0, 0.5 * LARGE],
        [-LARGE, -LARGE, -LARGE, -LARGE],
        [LARGE, LARGE, -LARGE, 0.0],
    ])
    y = np.array([1, 0, 2, 3])
    loss = CategoricalCrossEntropy(n_classes=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_sample, gradient = loss.loss_gradient(y, Z)
        assert_array_equal(loss.loss(y, Z), per_sample)
        assert_array_equal(loss.gradient(y, Z), gradient)
    rows = np.arange(len(y))
    assert_allclose(per_sample, logsumexp(Z, axis=1) - Z[rows, y], rtol=1e-12)
    assert_allclose(per_sample[0], 2 * LARGE, rtol=1e-12)
    assert np.all(np.isfinite(gradient))
    assert np.all((gradient >= -1) & (gradient <= 1))
    expected_gradient = softmax(Z, axis=1)
    expected_gradient[rows, y] -= 1
    assert_allclose(gradient, expected_gradient, atol=1e-12)
    assert_allclose(gradient.sum(axis=1), 0.0, atol=1e-12)


def test_squared_error_large_raw_prediction():
    z = np.array([LARGE, -LARGE, 0.0])
    y = np.array([-1.0, 2.0, 0.5])
    loss = SquaredError()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_sample, gradient = loss.loss_gradient(y, z)
    assert_allclose(per_sample, 0.5 * (z - y) ** 2, rtol=1e-15)
    assert_allclose(gradient, z - y, rtol=1e-15)


@pytest.mark.parametrize("loss_name", ["squared-3targets", "binary", "categorical-4"])
def test_per_sample_sample_weight_multiplies(loss_name):
    X, y, sample_weight = make_data(loss_name)
    objective = make_objective(loss_name, X, y)
    raw = objective.raw_prediction(random_params(objective))
    loss = objective.loss_function
    plain_loss, plain_grad = loss.loss_gradient(y, raw)
    weighted_loss, weighted_grad = loss.loss_gradient(y, raw, sample_weight)
    assert plain_loss.shape == (N_SAMPLES,)
    assert plain_grad.shape == raw.shape
    assert_allclose(weighted_loss, sample_weight * plain_loss, rtol=1e-15)
    per_row = sample_weight.reshape(-1, *[1] * (raw.ndim - 1))
    assert_allclose(weighted_grad, per_row * plain_grad, rtol=1e-15)


@pytest.mark.parametrize("loss_name", LOSSES)
def test_objective_stable_for_large_raw_prediction(loss_name):
    X, y, sample_weight = make_data(loss_name)
    objective = make_objective(loss_name, X, y, sample_weight=sample_weight)
    w = random_params(objective)
    # Scale the parameters until the largest |raw prediction| is LARGE.
    w *= LARGE / np.abs(objective.raw_prediction(w)).max()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = objective.loss_gradient(w)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(grad))
    if not loss_name.startswith("squared"):
        expected_loss, expected_grad = reference_stable_cross_entropy(
            loss_name, objective, y, w, sample_weight)
        assert_allclose(loss, expected_loss, rtol=1e-12)
        assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-12)


def reference_stable_cross_entropy(loss_name, objective, y, w, sample_weight):
    X = objective.X
    Z = objective.raw_prediction(w).reshape(N_SAMPLES, -1)
    s = sample_weight / sample_weight.sum()
    if loss_name == "binary":
        z = Z[:, 0]
        per_sample = stable_log1pexp(z) - y * z
        residual = (np.exp(z - stable_log1pexp(z)) - y)[:, None]
    else:
        rows = np.arange(N_SAMPLES)
        per_sample = logsumexp(Z, axis=1) - Z[rows, y]
        residual = softmax(Z, axis=1)
        residual[rows, y] -= 1
    grad_W = (s[:, None] * residual).T @ X
    grad_b = (s[:, None] * residual).sum(axis=0)
    return np.sum(s * per_sample), np.concatenate([grad_W.ravel(), grad_b])


def test_predict_log_proba_is_stable():
    z = np.array([LARGE, -LARGE, 0.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_proba = BinaryCrossEntropy.predict_log_proba(z)
        proba = BinaryCrossEntropy.predict_proba(z)
    expected = log_softmax(np.column_stack([np.zeros_like(z), z]), axis=1)
    assert_allclose(log_proba, expected, rtol=1e-12)
    assert_allclose(proba, np.exp(expected), rtol=1e-12)

    Z = np.array([[LARGE, -LARGE, 0.0], [-LARGE, -LARGE, -LARGE], [1.0, 2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_proba = CategoricalCrossEntropy.predict_log_proba(Z)
        proba = CategoricalCrossEntropy.predict_proba(Z)
    assert_allclose(log_proba, log_softmax(Z, axis=1), rtol=1e-12)
    assert_allclose(proba, softmax(Z, axis=1), rtol=1e-12)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)


@pytest.mark.parametrize("z", [np.inf, -np.inf], ids=["+inf", "-inf"])
def test_categorical_and_binary_cross_entropy_agree_on_infinite_raw_predictions(z):
    # Two classes with raw predictions [0, z] are the binary model with raw prediction z.
    y = np.array([0.0, 1.0])
    raw = np.array([z, z])
    Z = np.column_stack([np.zeros(2), raw])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        binary_loss, binary_gradient = BinaryCrossEntropy().loss_gradient(y, raw)
        loss, gradient = CategoricalCrossEntropy(2).loss_gradient(y.astype(int), Z)
        proba = CategoricalCrossEntropy.predict_proba(Z)
        log_proba = CategoricalCrossEntropy.predict_log_proba(Z)
    assert_array_equal(loss, binary_loss)
    # The softmax gradient of class 1 is the sigmoid gradient; class 0's is its negative.
    assert_array_equal(gradient, np.column_stack([-binary_gradient, binary_gradient]))
    assert_array_equal(proba, BinaryCrossEntropy.predict_proba(raw))
    assert_array_equal(log_proba, BinaryCrossEntropy.predict_log_proba(raw))


def test_categorical_cross_entropy_infinite_rows_are_the_limits_of_finite_ones():
    Z = np.array([[np.inf, 0.0, 1.0], [np.inf, np.inf, 0.0], [-np.inf, -np.inf, -np.inf],
                  [0.0, -np.inf, 2.0], [np.nan, 0.0, 1.0]])
    y = np.array([0, 2, 1, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, gradient = CategoricalCrossEntropy(3).loss_gradient(y, Z)
    # All the mass on the entries that reach an infinite maximum, split evenly; a row of
    # -inf is uniform; a -inf entry gets none; NaN (a diverged fit) stays NaN.
    expected_proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3],
                               softmax([0.0, -np.inf, 2.0])])
    expected_gradient = expected_proba.copy()
    expected_gradient[np.arange(4), y[:4]] -= 1
    assert_allclose(gradient[:4], expected_gradient, rtol=1e-15)
    assert_allclose(loss[:4], [0.0, np.inf, np.log(3), np.inf], rtol=1e-15)
    assert np.isnan(loss[4]) and np.all(np.isnan(gradient[4]))


@pytest.mark.parametrize("loss_name", LOSSES)
def test_losses_run_under_strict_floating_point_error_states(loss_name):
    # exp(-|z|) for |z| = 800 and the square of a residual of 1e-200 underflow to 0; with
    # every floating-point error raising, that harmless underflow must not.
    X, y, _ = make_data(loss_name)
    objective = make_objective(loss_name, X, y)
    loss = objective.loss_function
    raw = objective.raw_prediction(random_params(objective))
    if loss_name.startswith("squared"):
        y, raw = np.zeros_like(raw), np.full_like(raw, 1e-200)
    else:
        raw *= 800 / np.abs(raw).max()
    expected = loss.loss_gradient(y, raw)
    with np.errstate(all="raise"):
        actual = loss.loss_gradient(y, raw)
        if hasattr(loss, "predict_proba"):
            assert np.all(np.isfinite(loss.predict_proba(raw)))
            assert np.all(np.isfinite(loss.predict_log_proba(raw)))
    assert_array_equal(actual[0], expected[0])
    assert_array_equal(actual[1], expected[1])


@pytest.mark.parametrize("sample_weight", [np.zeros(N_SAMPLES), np.full(N_SAMPLES, np.nan),
                                           np.full(N_SAMPLES, np.inf)],
                         ids=["zeros", "nan", "inf"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_objective_rejects_weights_without_a_positive_finite_sum(loss_name, sample_weight):
    X, y, _ = make_data(loss_name)
    with pytest.raises(ValueError, match="sample_weight sums to"):
        make_objective(loss_name, X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_categorical_gradient_without_a_scatter_equals_the_scatter(monkeypatch, weighted):
    # Namespaces without an integer-array scatter (array-api-strict) take the one-hot
    # column loop; NumPy takes the scatter. Both give the same gradient. (NumPy's path:
    # not the compiled kernel's, which takes neither.)
    monkeypatch.setattr(_kernel, "ENABLED", False)
    X, y, sample_weight = make_data("categorical-4")
    objective = make_objective("categorical-4", X, y,
                               sample_weight=sample_weight if weighted else None)
    w = random_params(objective)
    expected = objective.loss_gradient(w)
    calls = []

    def no_scatter(*args):
        calls.append(args)
        return False

    monkeypatch.setattr("skgd.losses.subtract_at", no_scatter)
    loss, gradient = objective.loss_gradient(w)
    assert calls
    assert loss == expected[0]
    assert_allclose(gradient, expected[1], rtol=1e-14, atol=1e-16)


# -- Lipschitz constant of the gradient ---------------------------------------------------
def exact_lipschitz(X, sample_weight, fit_intercept, curvature, l2):
    """curvature * lambda_max(X1^T D X1 / S) + l2, with an exact eigendecomposition."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    X1 = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    s = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    hessian = X1.T @ (s[:, None] * X1) / s.sum()
    return curvature * np.linalg.eigvalsh(hessian)[-1] + l2


# id -> (fit_intercept, weighted, how X is shifted, alpha, l1_ratio). An offset makes the
# intercept column matter (non-centred features); standardised features, the usual input,
# have nearly equal top eigenvalues, the hard case for power iteration.
DESIGNS = {
    "no-intercept": (False, False, 0.0, 0.0, 0.0),
    "intercept-offset": (True, False, 2.0, 0.0, 0.0),
    "intercept-weighted": (True, True, 0.0, 0.0, 0.0),
    "intercept-weighted-offset-elasticnet": (True, True, -1.5, 0.3, 0.5),
    "intercept-standardised": (True, False, "standardise", 0.0, 0.0),
}


def lipschitz_case(loss_name, design, seed):
    fit_intercept, weighted, shift, alpha, l1_ratio = DESIGNS[design]
    X, y, sample_weight = make_data(loss_name, seed=seed)
    if shift == "standardise":
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    else:
        X = X + shift
    sample_weight = sample_weight if weighted else None
    objective = make_objective(loss_name, X, y, sample_weight=sample_weight, alpha=alpha,
                               l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    exact = exact_lipschitz(X, sample_weight, fit_intercept, LOSSES[loss_name][2],
                            alpha * (1 - l1_ratio))
    return objective, exact


@pytest.fixture(params=["gram", "power-iteration"])
def lipschitz_method(request, monkeypatch):
    """Run a test with each of lipschitz()'s two ways to find lambda_max."""
    import skgd.losses

    if request.param == "power-iteration":
        monkeypatch.setattr(skgd._curvature, "GRAM_MAX_COLUMNS", 0)
    return request.param


@pytest.mark.parametrize("seed", range(5), ids=lambda seed: f"seed{seed}")
@pytest.mark.parametrize("design", DESIGNS)
def test_lipschitz_is_upper_bound_on_random_data(design, seed, lipschitz_method):
    objective, exact = lipschitz_case("squared", design, seed)
    estimate = objective.lipschitz()
    assert estimate >= 0.99 * exact
    # A loose bound would make learning_rate="auto" needlessly small.
    assert estimate <= 1.1 * exact


@pytest.mark.parametrize("seed", range(10), ids=lambda seed: f"seed{seed}")
def test_lipschitz_is_upper_bound_on_standardised_data(seed, lipschitz_method):
    # What a StandardScaler pipeline feeds the estimators: the top eigenvalues of
    # X1^T X1 / n are close together, so power iteration converges slowly.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 10))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    objective = LinearObjective(SquaredError(), X, rng.normal(size=200))
    exact = exact_lipschitz(X, None, True, 1.0, 0.0)
    assert objective.lipschitz() >= 0.99 * exact


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("loss_name", LOSSES)
def test_lipschitz_uses_the_loss_curvature(loss_name, design):
    objective, exact = lipschitz_case(loss_name, design, seed=0)
    estimate = objective.lipschitz()
    assert 0.99 * exact <= estimate <= 1.1 * exact


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("loss_name", LOSSES)
def test_gradient_is_lipschitz(loss_name, design):
    objective, _ = lipschitz_case(loss_name, design, seed=0)
    lipschitz = objective.lipschitz()
    rng = np.random.default_rng(7)
    for _ in range(20):
        a = rng.normal(scale=2.0, size=objective.n_params)
        b = a + rng.normal(scale=rng.choice([1e-3, 1.0]), size=objective.n_params)
        change = np.linalg.norm(objective.gradient(a) - objective.gradient(b))
        assert change <= lipschitz * np.linalg.norm(a - b) * (1 + 1e-6)


@pytest.mark.parametrize("batch_size", [None, 1, 7], ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("sparse_format", [sp.csr_matrix, sp.csr_array],
                         ids=["csr_matrix", "csr_array"])
def test_lipschitz_sparse_equals_dense(sparse_format, batch_size):
    X, y, sample_weight = make_data("squared")
    dense = make_objective("squared", X, y, sample_weight=sample_weight)
    sparse = make_objective("squared", sparse_format(X), y, sample_weight=sample_weight)
    assert_allclose(sparse.lipschitz(batch_size), dense.lipschitz(batch_size), rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_mini_batch_lipschitz(loss_name, fit_intercept):
    X, y, _ = make_data(loss_name)
    objective = make_objective(loss_name, X, y, alpha=0.3, l1_ratio=0.5,
                               fit_intercept=fit_intercept)
    curvature, l2 = LOSSES[loss_name][2], 0.15
    full = objective.lipschitz()
    assert objective.lipschitz(N_SAMPLES) == full
    # One sample per step: the largest per-sample constant curvature * ||x1_i||^2.
    largest = np.max(np.sum(X**2, axis=1) + (1.0 if fit_intercept else 0.0))
    assert_allclose(objective.lipschitz(1), curvature * largest + l2, rtol=1e-12)
    constants = [objective.lipschitz(b) for b in range(1, N_SAMPLES + 1)]
    assert np.all(np.diff(constants) <= 1e-12 * full)
    assert constants[-1] == full


@pytest.mark.parametrize("loss_name", LOSSES)
def test_lipschitz_float32(loss_name):
    X32, y32, sw32 = make_data(loss_name, dtype=np.float32)
    X64, y64, sw64 = make_data(loss_name)
    estimate32 = make_objective(loss_name, X32, y32, sample_weight=sw32).lipschitz()
    estimate64 = make_objective(loss_name, X64, y64, sample_weight=sw64).lipschitz()
    assert isinstance(estimate32, float)
    assert_allclose(estimate32, estimate64, rtol=1e-4)


# -- L1 penalty -----------------------------------------------------------------------------
@pytest.mark.parametrize("alpha, l1_ratio", [(0.0, 0.0), (0.0, 1.0), (0.3, 0.0)],
                         ids=["no-penalty", "l1-alpha0", "l2-only"])
def test_l1_penalty_none_without_l1(alpha, l1_ratio):
    X, y, _ = make_data("squared")
    objective = make_objective("squared", X, y, alpha=alpha, l1_ratio=l1_ratio)
    assert objective.l1_penalty() is None


@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("loss_name", LOSSES)
def test_l1_penalty_prox_is_soft_thresholding(loss_name, fit_intercept):
    alpha, l1_ratio, step = 0.4, 0.5, 0.7
    X, y, _ = make_data(loss_name)
    objective = make_objective(loss_name, X, y, alpha=alpha, l1_ratio=l1_ratio,
                               fit_intercept=fit_intercept)
    penalty = objective.l1_penalty()
    n_coef = objective.n_coef
    threshold = step * alpha * l1_ratio
    w = random_params(objective, scale=threshold * 2)
    # Intercepts below the threshold would be zeroed if they were (wrongly) penalised.
    w[n_coef:] = threshold / 3
    coef = w[:n_coef]
    assert_allclose(penalty.value(w), alpha * l1_ratio * np.abs(coef).sum(), rtol=1e-12)

    shrunk = penalty.prox(w.copy(), step)
    expected = np.sign(coef) * np.maximum(np.abs(coef) - threshold, 0.0)
    assert_allclose(shrunk[:n_coef], expected, rtol=1e-12, atol=0)
    small = np.abs(coef) <= threshold
    assert small.any() and not small.all()
    assert np.all(shrunk[:n_coef][small] == 0.0)
    assert np.all(shrunk[:n_coef][~small] != 0.0)
    assert_array_equal(shrunk[n_coef:], w[n_coef:])
    # A proximal step of size 0 changes nothing.
    assert_array_equal(penalty.prox(w.copy(), 0.0), w)


# -- row blocks and mini-batches ------------------------------------------------------------
def _large_data(loss_name, n_samples=1000, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, N_FEATURES))
    y = {"squared": lambda: rng.normal(size=n_samples),
         "squared-3targets": lambda: rng.normal(size=(n_samples, 3)),
         "binary": lambda: rng.integers(0, 2, size=n_samples).astype(np.float64),
         "categorical-4": lambda: rng.integers(0, 4, size=n_samples)}[loss_name]()
    return X, y, rng.uniform(0.1, 3.0, size=n_samples)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_row_blocked_pass_equals_one_block(monkeypatch, loss_name, weighted):
    import skgd.losses

    X, y, sample_weight = _large_data(loss_name)
    make_loss = LOSSES[loss_name][0]
    objective = LinearObjective(make_loss(), X, y, sample_weight if weighted else None,
                                alpha=0.2)
    w = np.random.default_rng(0).normal(size=objective.n_params)
    whole = objective.loss_gradient(w)
    # Blocks of 256 rows: 1000 rows make four blocks, the last one partial.
    monkeypatch.setattr(skgd._curvature, "BLOCK_BYTES", 1)
    assert len(list(skgd.losses._row_blocks(X))) == 4
    blocked = objective.loss_gradient(w)
    assert_allclose(blocked[0], whole[0], rtol=1e-13)
    assert_allclose(blocked[1], whole[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_rows_evaluate_the_objective_of_the_mini_batch(loss_name):
    X, y, sample_weight = _large_data(loss_name, n_samples=60)
    make_loss = LOSSES[loss_name][0]
    rows = np.array([5, 17, 2, 40, 33])
    for weights in (None, sample_weight):
        full = LinearObjective(make_loss(), X, y, weights, alpha=0.2)
        w = np.random.default_rng(1).normal(size=full.n_params)
        for part in (rows, slice(10, 20)):
            # The batch's objective, its data term scaled by its mean weight relative
            # to the whole's: weighted batches estimate F without bias.
            batch = LinearObjective(make_loss(), X[part], y[part],
                                    None if weights is None else weights[part], alpha=0.2)
            expected_loss, expected_grad = batch.loss_gradient(w)
            data = LinearObjective(make_loss(), X[part], y[part],
                                   None if weights is None else weights[part])
            ratio = 1.0 if weights is None else weights[part].mean() / weights.mean()
            data_loss, data_grad = data.loss_gradient(w)
            loss, grad = full.loss_gradient(w, part)
            assert_allclose(loss, expected_loss + (ratio - 1) * data_loss, rtol=1e-12)
            assert_allclose(grad, expected_grad + (ratio - 1) * data_grad, rtol=1e-12,
                            atol=1e-14)
