"""Array API support: the same fits and predictions on array-api-strict and PyTorch.

scikit-learn's own Array API checks run in ``test_common.py`` (the estimators declare
``array_api_support``); they compare shapes, dtypes, namespaces and devices. These tests
add the values: every fit on another namespace equals the NumPy fit on the same data.
"""

import warnings

import numpy as np
import pytest
from array_api_compat import array_namespace
from array_api_compat import device as array_device
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.base import clone

from skgd import GDClassifier, GDRegressor
from skgd._array_api import to_numpy
from skgd.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    LinearObjective,
    SquaredError,
)

NAMESPACES = [
    pytest.param("array_api_strict", "CPU_DEVICE", id="strict-CPU_DEVICE"),
    pytest.param("array_api_strict", "device1", id="strict-device1"),
    pytest.param("torch", "cpu", id="torch-cpu"),
    pytest.param("torch", "cuda", id="torch-cuda"),
]


def _namespace(name, device_name):
    """``(to_xp, xp, device)``: a converter from NumPy and the namespace it targets."""
    module = pytest.importorskip(name)
    if name == "torch" and device_name == "cuda" and not module.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device here")
    device = module.Device(device_name) if name == "array_api_strict" else device_name

    def to_xp(array):
        return None if array is None else module.asarray(array, device=device)

    probe = to_xp(np.zeros(1))
    return to_xp, array_namespace(probe), array_device(probe)


def _data(n_samples=80, n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.standard_normal(n_features)
    raw = X @ coef
    return X, {
        "regression": raw + 0.1 * rng.standard_normal(n_samples),
        "two targets": np.column_stack([raw, -2 * raw + 1]),
        "binary": (raw > 0).astype(np.int64),
        "multiclass": np.digitize(raw, [-0.5, 0.5]),
    }, rng.uniform(0.5, 2.0, n_samples)


CASES = [
    pytest.param(GDRegressor(alpha=0.01, max_iter=40, tol=None), "regression", True,
                 id="regressor-weights"),
    pytest.param(GDRegressor(alpha=0.1, penalty="elasticnet", l1_ratio=0.5, max_iter=40,
                             tol=None), "two targets", False, id="regressor-2d-elasticnet"),
    pytest.param(GDRegressor(solver="gd", momentum=0.9, nesterov=True, decay="exponential",
                             batch_size=16, random_state=0, max_iter=8, tol=None,
                             learning_rate=0.01),
                 "regression", True, id="regressor-minibatch-nesterov"),
    pytest.param(GDRegressor(early_stopping=True, validation_fraction=0.25,
                             random_state=0, max_iter=60), "regression", False,
                 id="regressor-early-stopping"),
    pytest.param(GDClassifier(alpha=0.01, max_iter=40, tol=None), "binary", True,
                 id="binary-weights"),
    pytest.param(GDClassifier(alpha=0.05, penalty="l1", max_iter=40, tol=None), "binary",
                 False, id="binary-l1"),
    pytest.param(GDClassifier(alpha=0.01, class_weight="balanced", max_iter=40, tol=None),
                 "multiclass", True, id="multiclass-balanced"),
    # The softmax's Newton metric took its L1 prox with NumPy's methods on the device's
    # arrays (an AttributeError).
    pytest.param(GDClassifier(alpha=0.02, penalty="elasticnet", l1_ratio=0.5, max_iter=40,
                              tol=None), "multiclass", False, id="multiclass-elasticnet"),
    pytest.param(GDClassifier(solver="adam", learning_rate=0.05, batch_size=10,
                              random_state=0, max_iter=6, tol=None, decay="cosine"),
                 "multiclass", False, id="multiclass-minibatch-adam"),
    pytest.param(GDClassifier(early_stopping=True, validation_fraction=0.25,
                              random_state=0, max_iter=60), "multiclass", True,
                 id="multiclass-early-stopping"),
]
METHODS = ("predict", "decision_function", "predict_proba", "predict_log_proba")


def _assert_in(array, xp, device):
    assert array_namespace(array).__name__ == xp.__name__
    assert array_device(array) == device


@pytest.mark.array_api_dispatch
@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
@pytest.mark.parametrize(("estimator", "target", "weighted"), CASES)
def test_fit_and_predictions_equal_numpy(estimator, target, weighted, name, device_name):
    to_xp, xp, device = _namespace(name, device_name)
    X, targets, sample_weight = _data()
    y = targets[target]
    sample_weight = sample_weight if weighted else None
    with warnings.catch_warnings():
        # Short fits by design.
        warnings.simplefilter("ignore")
        reference = clone(estimator).fit(X, y, sample_weight=sample_weight)
        with config_context(array_api_dispatch=True):
            model = clone(estimator).fit(to_xp(X), to_xp(y),
                                         sample_weight=to_xp(sample_weight))

    assert model.n_iter_ == reference.n_iter_
    assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=1e-10)
    for attribute in ("coef_", "intercept_"):
        fitted = getattr(model, attribute)
        if getattr(fitted, "ndim", 0):
            _assert_in(fitted, xp, device)
        assert_allclose(to_numpy(fitted), getattr(reference, attribute), rtol=1e-8,
                        atol=1e-10)
    if hasattr(reference, "validation_scores_"):
        assert_allclose(model.validation_scores_, reference.validation_scores_)
    with config_context(array_api_dispatch=True):
        for method in METHODS:
            if not hasattr(reference, method):
                continue
            result = getattr(model, method)(to_xp(X))
            _assert_in(result, xp, device)
            assert_allclose(to_numpy(result), getattr(reference, method)(X), rtol=1e-8,
                            atol=1e-10)
        # scikit-learn's accuracy on torch sums in torch's default float32.
        assert model.score(to_xp(X), to_xp(y)) == pytest.approx(reference.score(X, y),
                                                                rel=1e-6)


@pytest.mark.array_api_dispatch
@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_float32_stays_float32_on_the_device(Estimator, name, device_name):
    to_xp, xp, device = _namespace(name, device_name)
    X, targets, _ = _data()
    y = targets["regression" if Estimator is GDRegressor else "multiclass"]
    # Penalised, so that float32 rounding, which differs between the libraries, is not
    # amplified along the directions an unpenalised separable fit barely constrains.
    reference = Estimator(max_iter=30, tol=None, alpha=1e-2).fit(X.astype(np.float32), y)
    with config_context(array_api_dispatch=True):
        model = Estimator(max_iter=30, tol=None, alpha=1e-2).fit(
            to_xp(X.astype(np.float32)), to_xp(y))
        prediction = model.predict(to_xp(X.astype(np.float32)))
    assert model.coef_.dtype == xp.float32
    _assert_in(model.coef_, xp, device)
    _assert_in(prediction, xp, device)
    assert_allclose(to_numpy(model.coef_), reference.coef_, rtol=1e-4, atol=1e-5)


@pytest.mark.array_api_dispatch
@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
def test_partial_fit_and_warm_start_continue_on_the_device(name, device_name):
    to_xp, xp, device = _namespace(name, device_name)
    X, targets, _ = _data()
    y = targets["multiclass"]
    reference = GDClassifier(learning_rate=0.1)
    model = GDClassifier(learning_rate=0.1)
    with config_context(array_api_dispatch=True):
        for rows in (slice(0, 40), slice(40, 80), slice(0, 80)):
            reference.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
            model.partial_fit(to_xp(X[rows]), to_xp(y[rows]), classes=[0, 1, 2])
        assert model.t_ == reference.t_ == 3
        _assert_in(model.coef_, xp, device)
        assert_allclose(to_numpy(model.coef_), reference.coef_, rtol=1e-8)

        warm = GDRegressor(warm_start=True, max_iter=5, tol=None)
        warm_reference = GDRegressor(warm_start=True, max_iter=5, tol=None)
        for _ in range(2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warm.fit(to_xp(X), to_xp(targets["regression"]))
                warm_reference.fit(X, targets["regression"])
        assert_allclose(to_numpy(warm.coef_), warm_reference.coef_, rtol=1e-8)


@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
@pytest.mark.parametrize(("loss", "target"), [
    (SquaredError(), "regression"), (SquaredError(n_targets=2), "two targets"),
    (BinaryCrossEntropy(), "binary"), (CategoricalCrossEntropy(n_classes=3), "multiclass"),
])
def test_objective_and_lipschitz_equal_numpy(loss, target, name, device_name):
    to_xp, xp, device = _namespace(name, device_name)
    X, targets, sample_weight = _data()
    y = targets[target].astype(np.float64 if target != "multiclass" else np.int64)
    reference = LinearObjective(loss, X, y, sample_weight, alpha=0.3, l1_ratio=0.5)
    objective = LinearObjective(loss, to_xp(X), to_xp(y), to_xp(sample_weight), alpha=0.3,
                                l1_ratio=0.5)
    w = np.random.default_rng(1).standard_normal(reference.n_params)
    value, grad = objective.loss_gradient(to_xp(w))
    expected_value, expected_grad = reference.loss_gradient(w)
    assert isinstance(value, float)
    assert value == pytest.approx(expected_value, rel=1e-12)
    _assert_in(grad, xp, device)
    assert_allclose(to_numpy(grad), expected_grad, rtol=1e-10, atol=1e-12)
    rows = np.array([3, 1, 4, 15, 9, 26])
    assert_allclose(to_numpy(objective.loss_gradient(to_xp(w), to_xp(rows))[1]),
                    reference.loss_gradient(w, rows)[1], rtol=1e-10, atol=1e-12)
    assert objective.lipschitz() == pytest.approx(reference.lipschitz(), rel=1e-12)
    assert objective.lipschitz(8) == pytest.approx(reference.lipschitz(8), rel=1e-12)


@pytest.mark.array_api_dispatch
def test_y_and_sample_weight_follow_the_namespace_of_X():
    """As in scikit-learn, ``y`` and ``sample_weight`` move to X's namespace and device."""
    to_xp, xp, device = _namespace("array_api_strict", "device1")
    X, targets, sample_weight = _data()
    reference = GDClassifier(max_iter=20, tol=None).fit(X, targets["binary"], sample_weight)
    with config_context(array_api_dispatch=True):
        model = GDClassifier(max_iter=20, tol=None).fit(to_xp(X), targets["binary"],
                                                        sample_weight=sample_weight)
    _assert_in(model.coef_, xp, device)
    assert_allclose(to_numpy(model.coef_), reference.coef_, rtol=1e-8)


@pytest.mark.array_api_dispatch
@pytest.mark.parametrize("method", METHODS)
def test_predicting_on_another_namespace_or_device_raises(method):
    to_xp, xp, device = _namespace("array_api_strict", "CPU_DEVICE")
    to_other, _, _ = _namespace("array_api_strict", "device1")
    X, targets, _ = _data()
    with config_context(array_api_dispatch=True):
        model = GDClassifier(max_iter=5, tol=None).fit(to_xp(X), to_xp(targets["binary"]))
        for other in (X, to_other(X)):
            with pytest.raises(ValueError, match=r"GDClassifier\.\w+\(\) must use the same "
                                                 r"namespace and the same device"):
                getattr(model, method)(other)
        with pytest.raises(ValueError, match="partial_fit"):
            model.partial_fit(X, targets["binary"])
    # Without dispatch, X is taken as NumPy, which the coefficients are not.
    with pytest.raises(ValueError, match="array_api_dispatch=True"):
        getattr(model, method)(X)


def test_without_dispatch_torch_input_is_converted_to_numpy():
    """scikit-learn's rule: with dispatch off, inputs become NumPy arrays."""
    torch = pytest.importorskip("torch")
    X, targets, _ = _data()
    model = GDRegressor(max_iter=20, tol=None).fit(torch.asarray(X),
                                                   torch.asarray(targets["regression"]))
    assert isinstance(model.coef_, np.ndarray)
    assert isinstance(model.predict(torch.asarray(X)), np.ndarray)


@pytest.mark.array_api_dispatch
@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
def test_other_dtypes_and_namespaces_of_x_are_taken_as_numpy_takes_them(name, device_name):
    # Predicting float32 X with a float64 model raised PyTorch's "expected m1 and m2 to
    # have the same dtype"; X_val in NumPy beside X on the device, a TypeError from
    # scikit-learn's validation.
    to_xp, xp, device = _namespace(name, device_name)
    X, targets, _ = _data()
    y = targets["multiclass"]
    reference = GDClassifier(alpha=0.01).fit(X, y)
    with config_context(array_api_dispatch=True):
        model = GDClassifier(alpha=0.01).fit(to_xp(X), to_xp(y))
        single = to_xp(X.astype(np.float32))
        assert_allclose(to_numpy(model.predict_proba(single)),
                        reference.predict_proba(X.astype(np.float32)), rtol=1e-6)
        stopped = GDClassifier(early_stopping=True, random_state=0, max_iter=30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stopped.fit(to_xp(X[:60]), to_xp(y[:60]), X_val=X[60:], y_val=y[60:])
            on_host = GDClassifier(early_stopping=True, random_state=0, max_iter=30).fit(
                X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    assert_allclose(stopped.validation_scores_, on_host.validation_scores_)


@pytest.mark.array_api_dispatch
@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
@pytest.mark.parametrize(("centre", "spread", "dtype"),
                         [(1013.0, 5.0, np.float32), (1e7, 1.0, np.float64)])
def test_columns_far_off_zero_fit_as_on_numpy(name, device_name, Estimator, centre,
                                              spread, dtype):
    # As on NumPy, they are centred: a metric blind to their spread stopped the fit as
    # converged with their coefficient 0 (an objective 96 times NumPy's; a helper's
    # audit). A column of air pressures in hPa, in float32, is that far off.
    to_xp, _, _ = _namespace(name, device_name)
    X, targets, _ = _data(n_samples=300, n_features=4)
    X[:, 0] = centre + spread * X[:, 0]
    X = X.astype(dtype)
    y = targets["regression" if Estimator is GDRegressor else "binary"]
    expected = Estimator().fit(X, y)
    with config_context(array_api_dispatch=True):
        model = Estimator().fit(to_xp(X), to_xp(y))
    assert_allclose(to_numpy(model.coef_), expected.coef_,
                    rtol=1e-3 if dtype == np.float32 else 1e-6)
    assert_allclose(to_numpy(model.intercept_), expected.intercept_,
                    rtol=1e-3 if dtype == np.float32 else 1e-6)
