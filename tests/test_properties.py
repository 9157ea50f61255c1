"""Properties that must hold on every dataset, checked on a few hundred random small ones.

Shapes, feature scales up to 1e6, duplicated rows, constant columns, 2 to 6 classes (with
class weights) and regression targets up to 1e6 are drawn by hypothesis, and fits run
under the default or a strict ``np.errstate(all="raise")``; the values come from a seeded
NumPy generator, so a failing example is reproducible from what hypothesis prints. One
more property takes the data to huge and tiny scales.
"""

import contextlib
import re
import warnings
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import log_expit, logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skgd import DivergenceError, GDClassifier, GDRegressor
from skgd.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    LinearObjective,
    SquaredError,
)

# Tolerance of "probabilities sum to one", by the dtype they are computed in.
SUM_TOL = {np.float64: 1e-6, np.float32: 1e-5}


class DataSpec(NamedTuple):
    """What hypothesis draws for a dataset; :func:`make_X` turns it into the data."""

    n_samples: int
    n_features: int
    seed: int
    n_constant: int
    n_duplicates: int
    exponents: tuple
    dtype: type


@st.composite
def data_specs(draw, max_samples=60, max_exponent=6):
    """A dataset spec: shape, seed, constant columns, duplicated rows, column scales
    10**k up to ``10**max_exponent``, dtype."""
    n_samples = draw(st.integers(2, max_samples))
    n_features = draw(st.integers(1, 8))
    return DataSpec(
        n_samples, n_features,
        seed=draw(st.integers(0, 2**32 - 1)),
        n_constant=draw(st.integers(0, n_features)),
        n_duplicates=draw(st.integers(0, n_samples - 1)),
        exponents=tuple(draw(st.lists(st.integers(-3, max_exponent), min_size=n_features,
                                      max_size=n_features))),
        dtype=draw(st.sampled_from([np.float64, np.float32])),
    )


def make_X(spec):
    """``X`` with awkward structure: per-column scales 10**k, duplicated rows, constant
    columns; also returns the generator, to draw ``y`` from."""
    rng = np.random.default_rng(spec.seed)
    X = rng.standard_normal((spec.n_samples, spec.n_features))
    X[:, :spec.n_constant] = rng.uniform(-3, 3, size=spec.n_constant)
    rows = rng.integers(0, spec.n_samples, (2, spec.n_duplicates))
    X[rows[0]] = X[rows[1]]
    X *= 10.0 ** np.array(spec.exponents)
    return X.astype(spec.dtype), rng


@st.composite
def descent_params(draw):
    """Settings of either estimator: "auto" or fixed rates (some too large), mini-batches."""
    batch_size = draw(st.none() | st.integers(1, 16))
    return {
        "learning_rate": draw(st.sampled_from(["auto", "auto", 1e-3, 0.1, 10.0])),
        "solver": draw(st.sampled_from(["accelerated", "gd", "adam"])),
        "alpha": draw(st.sampled_from([0.0, 1e-3, 1.0])),
        "penalty": draw(st.sampled_from(["l2", "l1", "elasticnet"])),
        "fit_intercept": draw(st.booleans()),
        "batch_size": batch_size,
        "shuffle": draw(st.booleans()),
        "random_state": draw(st.integers(0, 1000)),
        # Mini-batch epochs cost n_samples / batch_size updates each.
        "max_iter": 200 if batch_size is None else 20,
    }


def _error_state(strict):
    """Every floating-point error raising, as some users run; or NumPy's default."""
    return np.errstate(all="raise") if strict else contextlib.nullcontext()


def _fit_or_diverge(model, X, y, strict=False):
    """Fit; return the model, or None when it raised the documented DivergenceError.

    With ``strict``, under ``np.errstate(all="raise")``: harmless underflow must not
    raise, and neither must anything else in a fit that does not diverge.
    """
    with warnings.catch_warnings(), _error_state(strict):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            model.fit(X, y)
        except DivergenceError as error:
            assert "learning_rate" in str(error)
            event("raised DivergenceError")
            return None
    event("fitted")
    return model


def _check_fitted(model, params):
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.isfinite(model.intercept_))
    assert np.all(np.isfinite(model.loss_curve_))
    assert 1 <= model.n_iter_ <= params["max_iter"]
    if _auto_cannot_diverge(params):
        # A safe step never ends above where it started (up to rounding).
        first = model.loss_curve_[0]
        assert model.loss_curve_[-1] <= first + 1e-5 * abs(first)


def _check_same_fit_again(model, X, y):
    """A second fit with the same random_state gives bit-identical coefficients."""
    again = _fit_or_diverge(clone(model), X, y)
    assert again is not None
    np.testing.assert_array_equal(again.coef_, model.coef_)
    np.testing.assert_array_equal(again.intercept_, model.intercept_)


def _auto_cannot_diverge(params):
    return (params["learning_rate"] == "auto" and params["batch_size"] is None
            and params["solver"] != "adam")


@st.composite
def class_weights(draw, n_classes):
    """None, "balanced", or a weight per class index, zeros included (never all zero)."""
    kind = draw(st.sampled_from(["none", "balanced", "dict"]))
    if kind != "dict":
        return None if kind == "none" else kind
    weights = draw(st.lists(st.sampled_from([0.0, 0.01, 0.5, 1.0, 3.0, 100.0]),
                            min_size=n_classes, max_size=n_classes))
    weights[draw(st.integers(0, n_classes - 1))] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return weights


@settings(max_examples=200, deadline=None)
@given(spec=data_specs(), n_classes=st.integers(2, 6), string_labels=st.booleans(),
       params=descent_params(), data=st.data(), strict=st.booleans())
def test_classifier_fits_or_raises_divergence_and_predicts_probabilities(
        spec, n_classes, string_labels, params, data, strict):
    X, rng = make_X(spec)
    n_samples = X.shape[0]
    labels = (np.array([f"class {k}" for k in range(n_classes)]) if string_labels
              else np.sort(rng.choice(np.arange(-50, 50), n_classes, replace=False)))
    index = rng.integers(0, n_classes, n_samples)
    index[:2] = rng.choice(n_classes, 2, replace=False)
    y = labels[index]
    class_weight = data.draw(class_weights(n_classes))
    if isinstance(class_weight, list):
        class_weight = dict(zip(labels.tolist(), class_weight, strict=True))
        weighed = [label for label in np.unique(y).tolist() if class_weight[label]]
        if not weighed:
            # Every sample weighs zero: nothing to fit.
            with pytest.raises(ValueError, match=r"\(times class_weight\) sums to zero"):
                GDClassifier(class_weight=class_weight, **params).fit(X, y)
            return
        if len(weighed) == 1:
            # One class left: its intercept would grow without bound.
            with pytest.raises(ValueError, match="leaves samples of one class only"):
                GDClassifier(class_weight=class_weight, **params).fit(X, y)
            return

    model = _fit_or_diverge(GDClassifier(class_weight=class_weight, **params), X, y,
                            strict)
    if model is None:
        assert not _auto_cannot_diverge(params)
        return
    _check_fitted(model, params)
    n_seen = len(np.unique(y))
    np.testing.assert_array_equal(model.classes_, np.unique(y))
    assert model.coef_.shape == (1 if n_seen == 2 else n_seen, X.shape[1])
    assert model.intercept_.shape == (model.coef_.shape[0],)

    with warnings.catch_warnings(), _error_state(strict):
        warnings.simplefilter("error", RuntimeWarning)
        proba = model.predict_proba(X)
        log_proba = model.predict_log_proba(X)
        predicted = model.predict(X)
    assert proba.shape == (n_samples, n_seen)
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=SUM_TOL[X.dtype.type])
    assert np.all(np.isfinite(log_proba)) and np.all(log_proba <= 0)
    # Both are computed from the same raw predictions: they may differ by rounding only,
    # a few float32 epsilons, however large the raw predictions are.
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-4, atol=1e-6)
    assert predicted.shape == (n_samples,)
    assert np.all(np.isin(predicted, model.classes_))
    # The predicted class is a most probable one.
    chosen = proba[np.arange(n_samples), np.searchsorted(model.classes_, predicted)]
    np.testing.assert_array_equal(chosen, proba.max(axis=1))
    _check_same_fit_again(model, X, y)


@settings(max_examples=200, deadline=None)
@given(spec=data_specs(), y_exponent=st.integers(0, 6), n_targets=st.sampled_from([None, 2]),
       params=descent_params(), strict=st.booleans())
def test_regressor_fits_or_raises_divergence_and_predicts_finite_values(
        spec, y_exponent, n_targets, params, strict):
    X, rng = make_X(spec)
    n_samples, n_features = X.shape
    shape = (n_features,) if n_targets is None else (n_features, n_targets)
    # Coefficients that keep every feature's contribution of order one.
    scale = np.maximum(np.abs(X.astype(np.float64)).max(axis=0), 1.0)
    true_coef = rng.standard_normal(shape) / (scale if n_targets is None else scale[:, None])
    noise = rng.standard_normal((n_samples,) if n_targets is None else (n_samples, n_targets))
    y = (X.astype(np.float64) @ true_coef + noise + 3.0) * 10.0**y_exponent

    model = _fit_or_diverge(GDRegressor(**params), X, y, strict)
    if model is None:
        assert not _auto_cannot_diverge(params)
        return
    _check_fitted(model, params)
    assert model.coef_.shape == (shape if n_targets is None else shape[::-1])
    with warnings.catch_warnings(), _error_state(strict):
        warnings.simplefilter("error", RuntimeWarning)
        predicted = model.predict(X)
    assert predicted.shape == y.shape
    assert np.all(np.isfinite(predicted))
    _check_same_fit_again(model, X, y)


# A ValueError's message says what to change: it names an input or a setting.
CLEAR_MESSAGE = re.compile(r"\b(X|y|sample_weight|learning_rate)\b")


@settings(max_examples=100, deadline=None)
@given(spec=data_specs(), x_exponent=st.integers(-300, 150), y_exponent=st.integers(-300, 300),
       classify=st.booleans(), params=descent_params(), strict=st.booleans())
def test_huge_or_tiny_scales_fit_finite_coefficients_or_raise_a_clear_value_error(
        spec, x_exponent, y_exponent, classify, params, strict):
    X, rng = make_X(spec)
    # Features (up to 1e6 times 10**x_exponent) within the dtype's range, their squares
    # not always: the Gram matrix of the largest overflows, and must say so.
    x_exponent = min(x_exponent, int(np.log10(np.finfo(spec.dtype).max)) - 7)
    with np.errstate(over="ignore", under="ignore"):
        X = (X.astype(np.float64) * 10.0**x_exponent).astype(spec.dtype)
    if classify:
        y = rng.integers(0, 2, X.shape[0])
        y[:2] = [0, 1]
        model = GDClassifier(**params)
    else:
        y = (rng.standard_normal(X.shape[0]) + 3.0) * 10.0**y_exponent
        model = GDRegressor(**params)
    with warnings.catch_warnings(), _error_state(strict):
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X, y)
        except ValueError as error:
            event(f"raised {type(error).__name__}")
            assert CLEAR_MESSAGE.search(str(error)), repr(error)
            return
    event("fitted")
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.isfinite(model.intercept_))


@settings(max_examples=50, deadline=None)
@given(spec=data_specs(), label=st.sampled_from([0, 7, "only"]))
def test_classifier_rejects_a_single_class(spec, label):
    X, _ = make_X(spec)
    y = np.full(X.shape[0], label)
    with pytest.raises(ValueError, match="class"):
        GDClassifier(max_iter=5).fit(X, y)


logits = arrays(np.float64, st.integers(1, 40),
                elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False))


@settings(max_examples=200, deadline=None)
@given(raw=logits, seed=st.integers(0, 2**32 - 1), alpha=st.sampled_from([0.0, 0.5]))
def test_binary_cross_entropy_objective_is_finite_and_nonnegative(raw, seed, alpha):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, raw.size).astype(np.float64)
    sample_weight = rng.uniform(0.1, 2.0, raw.size)
    # With X the identity and no intercept, the parameters are the raw predictions.
    objective = LinearObjective(BinaryCrossEntropy(), np.eye(raw.size), y, sample_weight,
                                alpha=alpha, fit_intercept=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loss, gradient = objective.loss_gradient(raw)
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(gradient))
    per_sample = -np.where(y == 1, log_expit(raw), log_expit(-raw))
    expected = per_sample @ sample_weight / sample_weight.sum() + 0.5 * alpha * raw @ raw
    assert loss == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(n_classes=st.integers(2, 6), data=st.data(), seed=st.integers(0, 2**32 - 1),
       alpha=st.sampled_from([0.0, 0.5]))
def test_categorical_cross_entropy_objective_is_finite_and_nonnegative(
        n_classes, data, seed, alpha):
    raw = data.draw(arrays(np.float64, st.tuples(st.integers(1, 20), st.just(n_classes)),
                           elements=st.floats(-1e4, 1e4, allow_nan=False,
                                              allow_infinity=False)))
    n_samples = raw.shape[0]
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_samples)
    sample_weight = rng.uniform(0.1, 2.0, n_samples)
    # With X the identity and no intercept, coef (row-major, one row per class) is raw.T.
    objective = LinearObjective(CategoricalCrossEntropy(n_classes), np.eye(n_samples), y,
                                sample_weight, alpha=alpha, fit_intercept=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loss, gradient = objective.loss_gradient(raw.T.ravel())
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(gradient))
    per_sample = logsumexp(raw, axis=1) - raw[np.arange(n_samples), y]
    expected = per_sample @ sample_weight / sample_weight.sum() + 0.5 * alpha * np.sum(raw**2)
    assert loss == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(loss=st.sampled_from([BinaryCrossEntropy(), CategoricalCrossEntropy(2),
                             CategoricalCrossEntropy(5)]),
       n_samples=st.integers(1, 20), offset=st.floats(-1e4, 1e4),
       seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float64, np.float32]))
def test_log_proba_is_the_log_of_proba_for_large_raw_predictions(
        loss, n_samples, offset, seed, dtype):
    # A large common offset with moderate differences between classes: the raw predictions
    # of a model with a large intercept or a large-scale feature.
    rng = np.random.default_rng(seed)
    shape = (n_samples,) if loss.raw_ndim == 1 else (n_samples, loss.n_outputs)
    raw = (offset + rng.uniform(-20, 20, shape)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        proba = loss.predict_proba(raw)
        log_proba = loss.predict_log_proba(raw)
    assert np.all(np.isfinite(log_proba)) and np.all(log_proba <= 0)
    # Both come from the same raw predictions, so they may differ by rounding only.
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-4, atol=1e-6)


@st.composite
def truth_params(draw):
    """Any rule, batch mode, penalty and rate, fixed rates included that are far too large."""
    batch_size = draw(st.none() | st.none() | st.integers(1, 16))
    return {
        "learning_rate": draw(st.sampled_from(["auto", "auto", 1e-2, 1.0, 1e3])),
        "solver": draw(st.sampled_from(["accelerated", "gd", "adam"])),
        "preconditioner": draw(st.sampled_from(["auto", "auto", None, "diagonal"])),
        "alpha": draw(st.sampled_from([1e-3, 1e-1])),
        "penalty": draw(st.sampled_from(["l2", "l2", "l1"])),
        "batch_size": batch_size,
        "random_state": 0,
        "max_iter": 300 if batch_size is None else 10,
    }


@settings(max_examples=150, deadline=None)
@given(spec=data_specs(), x_exponent=st.integers(-8, 8), y_exponent=st.integers(-8, 8),
       classify=st.booleans(), weighted=st.booleans(), params=truth_params())
def test_a_fit_that_reports_no_trouble_is_optimal_and_never_exploded(
        spec, x_exponent, y_exponent, classify, weighted, params):
    X, rng = make_X(spec)
    X = (X.astype(np.float64) * 10.0**x_exponent).astype(spec.dtype)
    n_samples = X.shape[0]
    sample_weight = rng.uniform(0.2, 3.0, n_samples) if weighted else None
    if params["solver"] == "adam" and params["preconditioner"] == "diagonal":
        params["preconditioner"] = None
    if classify:
        y = rng.integers(0, 2, n_samples)
        y[:2] = [0, 1]
        model = GDClassifier(**params)
        loss, target = BinaryCrossEntropy(), y.astype(np.float64)
    else:
        y = (X.astype(np.float64) @ rng.standard_normal(X.shape[1])
             + rng.standard_normal(n_samples)) * 10.0**y_exponent
        model = GDRegressor(**params)
        loss, target = SquaredError(), y
    l1 = params["penalty"] == "l1"
    objective = LinearObjective(loss, X.astype(np.float64), target, sample_weight,
                                alpha=params["alpha"], l1_ratio=float(l1))

    def value(coef, intercept):
        w = np.concatenate([np.ravel(coef), np.ravel(intercept)]).astype(np.float64)
        penalty = params["alpha"] * np.abs(w[:-1]).sum() if l1 else 0.0
        return objective.loss(w) + penalty

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            model.fit(X, y, sample_weight=sample_weight)
        except ValueError as error:
            # DivergenceError, or the data's scale beyond the dtype: both say what to do.
            event(type(error).__name__)
            assert CLEAR_MESSAGE.search(str(error)), repr(error)
            return
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    event("warned" if warned else "no warning")
    if warned:
        return
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    start = value(np.zeros(X.shape[1]), 0.0)
    final = value(model.coef_, model.intercept_)
    # Never worse than the zero model by a factor: that is an exploded fit.
    assert final <= 2 * start + 1e-12 * abs(start), (final, start)
    if ((params["batch_size"] is None or params["batch_size"] >= n_samples)
            and params["preconditioner"] == "auto" and params["solver"] != "adam"
            and not l1 and X.dtype == np.float64):
        # A full-batch fit that reports convergence in the curvature metric is near the
        # exact optimum: the metric makes the measure blind to the conditioning of X. (In
        # the plain or diagonal metric, with L1, a small gradient mapping means a small
        # gap only up to the condition number: see the user guide. float32 descent resolves
        # the objective to float32's precision only.)
        reference = _exact_objective(X, y, sample_weight, params, classify, value)
        if reference is not None:
            # Optimality is relative to the start: where the optimum is a tiny fraction of
            # the start's objective (near-separable classes, near-interpolation), the gap
            # is resolved to about tol**2 of the start, not of the optimum.
            assert final - reference <= 1e-3 * abs(reference) + 1e-8 * abs(start), (
                final, reference, start)


def _exact_objective(X, y, sample_weight, params, classify, value):
    """The objective at scikit-learn's exact solution of the same problem (L2, or L1 for
    regression), or None where it has none at hand or it did not converge."""
    from sklearn.linear_model import Lasso, LogisticRegression, Ridge

    X = X.astype(np.float64)
    total = X.shape[0] if sample_weight is None else sample_weight.sum()
    alpha, l1 = params["alpha"], params["penalty"] == "l1"
    if classify:
        if l1:
            return None
        exact = LogisticRegression(C=1 / (total * alpha), solver="newton-cholesky",
                                   tol=1e-12, max_iter=500)
    else:
        exact = (Lasso(alpha=alpha, tol=1e-12, max_iter=100_000) if l1
                 else Ridge(alpha=total * alpha, solver="cholesky"))
    with warnings.catch_warnings(record=True) as caught:
        # Not converged, or an ill-conditioned solve (scipy's LinAlgWarning): no reference.
        warnings.simplefilter("always")
        exact.fit(X, y, sample_weight=sample_weight)
    if caught:
        return None
    return value(exact.coef_, exact.intercept_)


# -- issue 23: "auto" is safe and "converged" means optimal in mini-batches and streams ----
RULES = {"default": {}, "gd": {"solver": "gd"},
         "momentum": {"solver": "gd", "momentum": 0.9},
         "nesterov": {"solver": "gd", "momentum": 0.9, "nesterov": True}}


@settings(max_examples=60, deadline=None)
# Up to 300 rows: enough for batches of 1 to 128 to be mini-batches.
@given(spec=data_specs(max_samples=300, max_exponent=3), x_exponent=st.integers(-8, 8),
       y_exponent=st.integers(-8, 8), classify=st.booleans(), weighted=st.booleans(),
       rule=st.sampled_from(sorted(RULES)),
       batch_size=st.integers(1, 128), mode=st.sampled_from(["fit", "partial_fit", "stream"]),
       n_chunks=st.integers(2, 10))
def test_auto_is_safe_and_converged_means_optimal_in_mini_batches_and_streams(
        spec, x_exponent, y_exponent, classify, weighted, rule, batch_size, mode, n_chunks):
    """``learning_rate="auto"`` never diverges in mini-batches (batch sizes 1-128), one
    ``partial_fit`` call or a stream of them, for the default solver and gradient descent
    with or without momentum; a fit or a first ``partial_fit`` call whose model is worse
    than the zero model warns; a fit that reports convergence without a warning is near
    the exact solver's objective.

    "Near": ``F - F* <= 1e-3 |F*| + tol F(0)``. The epoch-level rule's fit warns unless
    its optimality is at most ``sqrt(tol)``, whose square is the gap left as a share of
    the gap at the start ``F(0) - F*`` (exactly for least squares in the curvature bound):
    where the optimum is a tiny share of the start's objective (near-interpolation) the
    gap is resolved to ``tol`` of the start, not of the optimum.
    """
    X, rng = make_X(spec)
    X = (X.astype(np.float64) * 10.0**x_exponent).astype(spec.dtype)
    n_samples = X.shape[0]
    sample_weight = rng.uniform(0.2, 3.0, n_samples) if weighted else None
    if classify:
        y = rng.integers(0, 2, n_samples)
        y[:2] = [0, 1]
        model = GDClassifier(batch_size=batch_size, random_state=0, max_iter=20,
                             **RULES[rule])
        loss, target, extra = BinaryCrossEntropy(), y.astype(np.float64), {"classes": [0, 1]}
    else:
        y = (X.astype(np.float64) @ rng.standard_normal(X.shape[1])
             + rng.standard_normal(n_samples)) * 10.0**y_exponent
        model = GDRegressor(batch_size=batch_size, random_state=0, max_iter=20,
                            **RULES[rule])
        loss, target, extra = SquaredError(), y, {}
    objective = LinearObjective(loss, X.astype(np.float64), target, sample_weight,
                                alpha=model.alpha)

    def value(coef, intercept):
        return objective.loss(np.concatenate([np.ravel(coef), np.ravel(intercept)]))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            if mode == "fit":
                model.fit(X, y, sample_weight=sample_weight)
            elif mode == "partial_fit":
                model.partial_fit(X, y, sample_weight=sample_weight, **extra)
            else:
                for _ in range(3):
                    for rows in np.array_split(rng.permutation(n_samples),
                                               min(n_chunks, n_samples)):
                        model.partial_fit(X[rows], y[rows], **extra, sample_weight=(
                            None if sample_weight is None else sample_weight[rows]))
        except DivergenceError as error:
            pytest.fail(f"learning_rate='auto' diverged: {error}")
        except ValueError as error:
            # The data's scale beyond the dtype: a clear message.
            event(type(error).__name__)
            assert CLEAR_MESSAGE.search(str(error)), repr(error)
            return
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    event(f"{mode}: {'warned' if warned else 'no warning'}")
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
    if mode == "stream":
        return
    start = value(np.zeros(X.shape[1]), 0.0)
    final = value(model.coef_, model.intercept_)
    if final > start + 1e-5 * abs(start):
        assert warned, ("worse than the zero model without a warning", final, start)
    # A float32 full batch (a batch of all the rows) resolves the objective to float32's
    # precision only, as the full-batch property above says.
    if mode == "fit" and not warned and not (X.dtype == np.float32
                                              and batch_size >= n_samples):
        reference = _exact_objective(X, y, sample_weight, {"alpha": model.alpha,
                                                          "penalty": "l2"},
                                     classify, value)
        if reference is not None:
            assert final - reference <= 1e-3 * abs(reference) + model.tol * abs(start), (
                final, reference, start)
