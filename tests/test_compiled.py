"""The compiled small-batch epochs (skgd._compiled, skgd._sgd_fast) take the Python path's
steps, keep the engine's contracts, and give way to the Python path where unsupported.

Each equality test fits twice from the same seed, once with the kernel and once with it
switched off, and compares coefficients, the rule's state, the loss and learning-rate
curves and the update count. float64 agrees to 1e-12 (relative); float32 to 1e-4, the
rounding of float32 steps whose sums the kernel takes in double and NumPy in float32.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler

from skgd import DivergenceError, GDClassifier, GDRegressor, _compiled, _kernel
from skgd._engine import minimize
from skgd.losses import BinaryCrossEntropy, CategoricalCrossEntropy, LinearObjective

pytestmark = pytest.mark.skipif(not _compiled.ENABLED, reason=(
    "the compiled kernel is not built, or SKGD_PURE_PYTHON switches it off"))

RTOL = {np.float64: 1e-12, np.float32: 1e-4}
RULES = {
    "gd": dict(solver="gd"),
    "momentum": dict(solver="gd", momentum=0.8),
    "nesterov": dict(solver="gd", momentum=0.8, nesterov=True),
    "accelerated": dict(solver="accelerated"),
    "adam": dict(solver="adam"),
}
PENALTIES = {
    "none": dict(alpha=0.0),
    "l2": dict(alpha=0.01),
    "l1": dict(alpha=0.01, penalty="l1"),
    "elasticnet": dict(alpha=0.01, penalty="elasticnet", l1_ratio=0.5),
}
N_SAMPLES, N_FEATURES = 120, 6


def _data(task, density=None):
    rng = np.random.default_rng(0)
    if task == "regression":
        X, y = make_regression(N_SAMPLES, N_FEATURES, noise=1.0, random_state=0)
        y = y / np.std(y)
    elif task == "multi-target":
        X, y = make_regression(N_SAMPLES, N_FEATURES, n_targets=3, noise=1.0, random_state=0)
        y = y / np.std(y, axis=0)
    else:
        X, y = make_classification(N_SAMPLES, N_FEATURES, n_informative=4,
                                   n_classes=2 if task == "binary" else 3, random_state=0)
    X = StandardScaler().fit_transform(X)
    if density is not None:
        X = sp.csr_matrix(X * (rng.random(X.shape) < density))
    return X, y, rng.uniform(0.2, 2.0, N_SAMPLES)


def _estimator(task, **params):
    Estimator = GDRegressor if task in ("regression", "multi-target") else GDClassifier
    settings = dict(learning_rate=0.05, preconditioner=None, max_iter=2, tol=None,
                    random_state=0)
    return Estimator(**{**settings, **params})


@pytest.fixture
def runs(monkeypatch):
    """Record whether each fit's engine got a compiled epoch."""
    used = []
    runner = _compiled.epoch_runner

    def recording(*args, **kwargs):
        run_epoch = runner(*args, **kwargs)
        used.append(run_epoch is not None)
        return run_epoch

    monkeypatch.setattr(_compiled, "epoch_runner", recording)
    return used


def _fit_both(monkeypatch, runs, estimator, X, y, **fit_params):
    compiled = estimator.fit(X, y, **fit_params)
    assert runs[-1], "the compiled epoch was not used"
    compiled_state = compiled._engine_state
    compiled = {name: getattr(compiled, name) for name in (
        "coef_", "intercept_", "loss_curve_", "learning_rate_curve_", "t_")}
    with monkeypatch.context() as patch:
        patch.setattr(_compiled, "ENABLED", False)
        python = estimator.fit(X, y, **fit_params)
    assert not runs[-1]
    return compiled, compiled_state, python


def _assert_same(compiled, compiled_state, python, rtol):
    scale = max(np.max(np.abs(python.coef_)), 1e-12)
    assert_allclose(compiled["coef_"], python.coef_, rtol=rtol, atol=rtol * scale)
    assert_allclose(compiled["intercept_"], python.intercept_, rtol=rtol, atol=rtol * scale)
    assert_allclose(compiled["loss_curve_"], python.loss_curve_, rtol=rtol)
    assert compiled["learning_rate_curve_"] == python.learning_rate_curve_
    assert compiled["t_"] == python.t_
    _assert_same_state(compiled_state.rule_state, python._engine_state.rule_state, rtol)


def _assert_same_state(ours, theirs, rtol):
    """The rule states agree field by field (an averaged rule's holds its rule's)."""
    assert type(ours) is type(theirs)
    if isinstance(theirs, tuple):
        for mine, other in zip(ours, theirs, strict=True):
            _assert_same_state(mine, other, rtol)
    elif theirs is not None:
        assert_allclose(ours, theirs, rtol=rtol, atol=rtol * np.max(np.abs(theirs)))


@pytest.mark.parametrize("batch_size", [1, 7, 32])
@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_and_penalty_takes_the_python_steps(monkeypatch, runs, rule, penalty,
                                                       batch_size):
    X, y, sample_weight = _data("binary")
    estimator = _estimator("binary", batch_size=batch_size, **RULES[rule],
                           **PENALTIES[penalty])
    _assert_same(*_fit_both(monkeypatch, runs, estimator, X, y,
                            sample_weight=sample_weight), RTOL[np.float64])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("density", [None, 0.4], ids=["dense", "csr"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression", "multi-target"])
@pytest.mark.parametrize("rule", RULES)
def test_every_loss_layout_and_dtype_takes_the_python_steps(
        monkeypatch, runs, rule, task, density, dtype, fit_intercept, weighted):
    X, y, sample_weight = _data(task, density)
    estimator = _estimator(task, batch_size=7, fit_intercept=fit_intercept, **RULES[rule],
                           **PENALTIES["elasticnet"])
    _assert_same(*_fit_both(monkeypatch, runs, estimator, X.astype(dtype), y,
                            sample_weight=sample_weight if weighted else None), RTOL[dtype])


@pytest.mark.parametrize("average", [False, True, 1000], ids=["last", "average",
                                                               "average-from-1000"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("penalty", ["none", "l2"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multi-target"])
def test_plain_descent_on_csr_touches_only_nonzero_columns_with_the_same_steps(
        monkeypatch, runs, task, penalty, dtype, average):
    # Plain descent on CSR without L1 keeps L2's shrink in a scale factor, and the average
    # as a sum and a weight of the unscaled coefficients: other arithmetic, the same
    # iterates and average to rounding. Many rows and a sparse X make the scale run down.
    X, y, _ = _data(task, density=0.2)
    X, y = sp.vstack([X] * 20).tocsr(), np.concatenate([y] * 20)
    estimator = _estimator(task, batch_size=1, solver="gd", learning_rate=0.1, alpha=0.05,
                           max_iter=3, average=average)
    _assert_same(*_fit_both(monkeypatch, runs, estimator.set_params(**PENALTIES[penalty]),
                            X.astype(dtype), y), RTOL[dtype])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("decay", ["inverse", "invscaling", "exponential", "step", "cosine",
                                   "plateau"])
def test_decays_set_each_epochs_rate_on_the_compiled_path(monkeypatch, runs, decay):
    X, y, _ = _data("regression")
    # "plateau" lowers the rate where an epoch improves by less than tol (these targets
    # have no noise: each epoch improves on the last by more than half).
    estimator = _estimator("regression", batch_size=7, decay=decay, decay_rate=0.5,
                           decay_steps=2, max_iter=6, n_iter_no_change=1,
                           tol=0.9 if decay == "plateau" else None, solver="accelerated")
    compiled, state, python = _fit_both(monkeypatch, runs, estimator, X, y)
    _assert_same(compiled, state, python, RTOL[np.float64])
    assert len(set(python.learning_rate_curve_)) > 1


def test_unshuffled_epochs_take_the_rows_in_turn(monkeypatch, runs):
    X, y, _ = _data("binary")
    estimator = _estimator("binary", batch_size=7, shuffle=False, solver="adam")
    _assert_same(*_fit_both(monkeypatch, runs, estimator, X, y), RTOL[np.float64])


@pytest.mark.parametrize("switch", [False, True], ids=["compiled", "python-then-compiled"])
def test_partial_fit_continues_the_schedule_and_rule_state(monkeypatch, runs, switch):
    X, y, _ = _data("multiclass")
    chunks = np.array_split(np.arange(N_SAMPLES), 3)

    def fit(compiled_after_first):
        model = _estimator("multiclass", batch_size=5, solver="accelerated", decay="inverse",
                           decay_rate=0.5)
        for index, rows in enumerate(chunks):
            monkeypatch.setattr(_compiled, "ENABLED", compiled_after_first and (
                index > 0 or not switch))
            model.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        return model

    compiled = fit(True)
    assert runs[-1]
    python = fit(False)
    _assert_same({name: getattr(compiled, name) for name in (
        "coef_", "intercept_", "loss_curve_", "learning_rate_curve_", "t_")},
        compiled._engine_state, python, RTOL[np.float64])
    assert compiled.learning_rate_curve_ == [0.05 / (1 + 0.5 * t) for t in range(3)]


def test_the_engines_per_epoch_hooks_run_on_the_compiled_path(runs):
    X, y, _ = _data("binary")
    estimator = _estimator("binary", batch_size=7, max_iter=4)
    estimator.fit(X, y)
    assert runs[-1]
    assert len(estimator.loss_curve_) == len(estimator.learning_rate_curve_) == 4
    assert estimator.t_ == 4 * -(-N_SAMPLES // 7)
    seen = []
    objective = LinearObjective(BinaryCrossEntropy(), X, y.astype(float))
    run_epoch = _compiled.epoch_runner(objective, "gd", batch_size=7)
    minimize(objective.loss_gradient_array, objective.init_params(),
             n_samples=N_SAMPLES, learning_rate=0.1, batch_size=7, max_iter=3, tol=None,
             rule=None, rng=np.random.default_rng(0), run_epoch=run_epoch,
             on_epoch_begin=lambda epoch, params: seen.append(("begin", epoch)),
             on_epoch_end=lambda epoch, params: seen.append(("end", epoch)))
    assert seen == [(kind, epoch) for epoch in range(3) for kind in ("begin", "end")]


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_divergence_raises_and_rolls_back_on_the_compiled_path(runs, Estimator):
    X, y, _ = _data("regression" if Estimator is GDRegressor else "binary")
    model = Estimator(learning_rate=0.01, batch_size=4, preconditioner=None, max_iter=3,
                      tol=None, random_state=0).fit(X, y)
    snapshot = {key: np.copy(value) if isinstance(value, np.ndarray) else value
                for key, value in model.__dict__.items()}
    with pytest.raises(DivergenceError, match="diverge"):
        model.set_params(learning_rate=1e4, solver="gd").fit(X * 1e3, y)
    assert runs[-1]
    assert model.__dict__.keys() == snapshot.keys()
    assert_array_equal(model.coef_, snapshot["coef_"])
    assert model.loss_curve_ == snapshot["loss_curve_"]


def test_unsupported_settings_run_on_the_python_path():
    X, y, _ = _data("binary")
    objective = LinearObjective(BinaryCrossEntropy(), X, y.astype(float))
    csc = LinearObjective(BinaryCrossEntropy(), sp.csc_matrix(X), y.astype(float))

    class Diagonal:
        name = "diagonal"

    assert _compiled.epoch_runner(objective, "gd", batch_size=7) is not None
    assert _compiled.epoch_runner(objective, "gd", batch_size=None) is None
    assert _compiled.epoch_runner(objective, "gd", batch_size=N_SAMPLES) is None
    largest = _compiled.MAX_DENSE_BATCH_SIZE
    assert _compiled.epoch_runner(objective, "gd", batch_size=largest) is not None
    assert _compiled.epoch_runner(objective, "gd", batch_size=largest + 1) is None
    assert _compiled.epoch_runner(objective, "gd", batch_size=7, metric=Diagonal()) is None
    assert _compiled.epoch_runner(csc, "gd", batch_size=7) is None


def test_array_api_arrays_run_on_the_python_path(runs):
    xp = pytest.importorskip("array_api_strict")
    X, y, _ = _data("regression")
    objective = LinearObjective(BinaryCrossEntropy(), xp.asarray(X), xp.asarray(y))
    assert _compiled.epoch_runner(objective, "gd", batch_size=7) is None


@pytest.mark.parametrize("value, enabled", [("1", False), ("0", True), ("", True)])
def test_the_environment_variable_switches_the_kernel_off(value, enabled):
    code = "from skgd import _compiled; print(_compiled.ENABLED)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "SKGD_PURE_PYTHON": value}, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == str(enabled)


@pytest.mark.parametrize("state", ["built", "off", "missing"])
def test_show_versions_says_whether_the_kernel_runs(monkeypatch, capsys, state):
    import skgd
    from skgd import _compiled

    if state == "missing":
        monkeypatch.setattr(_compiled, "_sgd_fast", None)
    if state != "built":
        monkeypatch.setattr(_compiled, "ENABLED", False)
    elif _compiled._sgd_fast is None:
        pytest.skip("the kernel is not built here")
    skgd.show_versions()
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("compiled kernel: "))
    expected = {"built": "built, on", "off": "built, off (SKGD_PURE_PYTHON",
                "missing": "not built (no C compiler at install)"}[state]
    assert line.startswith(f"compiled kernel: {expected}")


@pytest.mark.parametrize("average", [True, 100], ids=["average-all", "average-from-100"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("density", [None, 0.4], ids=["dense", "csr"])
@pytest.mark.parametrize("rule", RULES)
def test_averaging_takes_the_python_steps(monkeypatch, runs, rule, density, dtype, average):
    X, y, sample_weight = _data("binary", density)
    # Plain descent on CSR averages on the general kernel, not the scaled one.
    estimator = _estimator("binary", batch_size=3, average=average, max_iter=3,
                           **RULES[rule], **PENALTIES["l2"])
    compiled, state, python = _fit_both(monkeypatch, runs, estimator, X.astype(dtype), y,
                                        sample_weight=sample_weight)
    _assert_same(compiled, state, python, RTOL[dtype])
    # 3 epochs of 40 updates: averaging started where asked, and the model is the mean.
    assert state.rule_state.n_averaged == 120 - (0 if average is True else 99)
    assert_allclose(compiled["coef_"].ravel(), state.rule_state.average[:N_FEATURES],
                    rtol=0, atol=0)


@pytest.mark.parametrize("switch", [False, True], ids=["compiled", "python-then-compiled"])
def test_partial_fit_continues_the_average(monkeypatch, runs, switch):
    X, y, _ = _data("regression")
    chunks = np.array_split(np.arange(N_SAMPLES), 3)

    def fit(compiled_after_first):
        model = _estimator("regression", batch_size=4, solver="gd", momentum=0.5,
                           average=10)
        for index, rows in enumerate(chunks):
            monkeypatch.setattr(_compiled, "ENABLED", compiled_after_first and (
                index > 0 or not switch))
            model.partial_fit(X[rows], y[rows])
        return model

    compiled = fit(True)
    assert runs[-1]
    python = fit(False)
    _assert_same({name: getattr(compiled, name) for name in (
        "coef_", "intercept_", "loss_curve_", "learning_rate_curve_", "t_")},
        compiled._engine_state, python, RTOL[np.float64])
    assert compiled._engine_state.rule_state.n_averaged == compiled.t_ - 9


@pytest.mark.parametrize("density", [None, 0.4], ids=["dense", "csr"])
@pytest.mark.parametrize("rule", ["gd", "momentum", "accelerated", "adam"])
@pytest.mark.parametrize("decay", ["cosine", "one_cycle", "cyclic"])
def test_per_update_decays_take_the_python_steps(monkeypatch, runs, decay, rule, density):
    X, y, _ = _data("binary", density)
    estimator = _estimator("binary", batch_size=7, decay=decay, decay_per_update=True,
                           decay_steps=2, max_iter=4, average=rule == "gd", **RULES[rule],
                           **PENALTIES["l2" if rule == "gd" else "elasticnet"])
    compiled, state, python = _fit_both(monkeypatch, runs, estimator, X, y)
    _assert_same(compiled, state, python, RTOL[np.float64])
    per_epoch = _estimator("binary", batch_size=7, decay=decay, decay_steps=2, max_iter=4,
                           average=rule == "gd", **RULES[rule],
                           **PENALTIES["l2" if rule == "gd" else "elasticnet"]).fit(X, y)
    assert not np.allclose(compiled["coef_"], per_epoch.coef_, rtol=1e-6)


@pytest.mark.parametrize("max_momentum", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_accelerated_rule_s_bound_on_its_momentum_is_the_kernel_s_too(max_momentum,
                                                                          dtype):
    # Issue 23: the estimators pass 0 for mini-batches; the bound itself is the rule's.
    from skgd._updates import UPDATE_RULES

    X, y, _ = _data("binary")
    objective = LinearObjective(BinaryCrossEntropy(), X.astype(dtype), y.astype(dtype),
                                alpha=0.01)
    results = []
    for run_epoch in (None, _compiled.epoch_runner(objective, "accelerated", batch_size=7,
                                                   max_momentum=max_momentum)):
        results.append(minimize(
            objective.loss_gradient_array, objective.init_params(), n_samples=N_SAMPLES,
            learning_rate=0.1, batch_size=7, max_iter=4, tol=None,
            rule=UPDATE_RULES["accelerated"](max_momentum=max_momentum),
            rng=np.random.default_rng(0), run_epoch=run_epoch))
    assert results[1].state.rule_state.theta == results[0].state.rule_state.theta
    assert_allclose(results[1].params, results[0].params, rtol=RTOL[dtype],
                    atol=RTOL[dtype] * np.abs(results[0].params).max())
    assert_allclose(results[1].loss_curve, results[0].loss_curve, rtol=RTOL[dtype])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_classes", [2, 5], ids=["sigmoid", "softmax"])
def test_compiled_losses_are_numpys(monkeypatch, n_classes, weighted):
    # The cross-entropy's loss and gradient (and the softmax's probabilities) of float64
    # NumPy raw predictions come from the kernel's one pass over the samples: NumPy's to
    # rounding, also where a raw prediction is infinite (the limits), and a sample of
    # weight 0 counts 0.
    rng = np.random.default_rng(0)
    n = 300
    shape = (n,) if n_classes == 2 else (n, n_classes)
    raw = rng.standard_normal(shape) * 20
    raw[0], raw[1], raw[2] = np.inf, -np.inf, -np.inf
    y = rng.integers(0, n_classes, n).astype(np.float64)
    weight = None
    if weighted:
        weight = rng.uniform(0.2, 2.0, n)
        weight[10:20] = 0.0
    loss = BinaryCrossEntropy() if n_classes == 2 else CategoricalCrossEntropy(n_classes)
    built, calls = _kernel.BUILT, []

    class Counted:  # the kernel, counting its calls: the first results are its own
        def __getattr__(self, name):
            def call(*args):
                calls.append(name)
                return getattr(built, name)(*args)
            return call

    monkeypatch.setattr(_kernel, "BUILT", Counted())
    compiled = [*loss.loss_gradient(y, raw, weight), loss.predict_proba(raw)]
    assert calls[0] == ("sigmoid" if n_classes == 2 else "softmax") + "_loss_gradient"
    monkeypatch.setattr(_kernel, "ENABLED", False)
    numpy = [*loss.loss_gradient(y, raw, weight), loss.predict_proba(raw)]
    for got, expected in zip(compiled, numpy, strict=True):
        assert got.dtype == np.float64
        assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    if n_classes > 2:  # a row of infinitely unlikely classes: the limit's uniform softmax
        assert_array_equal(compiled[2][2], np.full(n_classes, 1 / n_classes))


@pytest.mark.parametrize("label", [3.0, -1.0, 1.5, np.nan])
def test_compiled_softmax_rejects_a_label_that_is_no_class(label):
    # The kernel indexes each row by its label: one beyond the classes raises, and
    # writes nothing outside the row.
    y = np.array([0.0, 1.0, label, 2.0])
    with pytest.raises(ValueError, match=r"y_true\[2\] = .* is not a class index"):
        CategoricalCrossEntropy(3).loss_gradient(y, np.zeros((4, 3)))


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_the_compiled_greedy_independent_set_is_the_python_one(monkeypatch, index_dtype):
    # The Schur complement's independent columns: the kernel's loop and the Python one
    # choose the same columns, in both orders, whatever the sparse index dtype.
    from skgd import _curvature

    rng = np.random.default_rng(3)
    for density in (0.005, 0.02, 0.1):
        upper = sp.random(300, 300, density=density, random_state=rng, format="csr")
        matrix = (upper + upper.T + sp.diags(rng.uniform(0, 1, 300)
                                             * (rng.random(300) < 0.9))).tocsc()
        matrix.indices = matrix.indices.astype(index_dtype)
        matrix.indptr = matrix.indptr.astype(index_dtype)
        compiled = _curvature._independent_columns(matrix)
        monkeypatch.setattr(_kernel, "ENABLED", False)
        python = _curvature._independent_columns(matrix)
        monkeypatch.setattr(_kernel, "ENABLED", True)
        assert_array_equal(compiled, python)
        assert 0 < np.count_nonzero(compiled) < 300
