"""The benchmark tasks: their data, their contenders, and one function per task.

A task function takes a :class:`Config` and returns a :class:`TaskResult` whose ``rows``
are NamedTuples (:class:`FitRow`, :class:`PassRow` or :class:`AutoRow`); each row type
knows its column ``headers`` and its formatted ``cells()``, and ``benchmarks.run`` lays
them out. Data are generated once per size and shared by the tasks that use them (the
binary data serve five tasks), as is each problem's exact objective ``F*``.

How a fit is measured (:func:`_measure`): one fit under :mod:`tracemalloc` gives the peak
memory allocated during the fit (numpy reports its buffers to tracemalloc; memory that
compiled code takes with a bare ``malloc`` is not seen) and doubles as a warm-up; then
``Config.repeat`` fits run untraced and the best wall time is kept. Every fit starts from
a fresh :func:`~sklearn.base.clone`.
"""

from __future__ import annotations

import functools
import math
import time
import tracemalloc
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor
from skgd.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    LinearObjective,
    SquaredError,
)

SEED = 0
TEST_SIZE = 0.2
# --quick divides every task's row count by this.
QUICK_SHRINK = 50
MIB = float(2**20)
# The mini-batch epoch uses a fixed step, so that it times the epoch, not the
# Lipschitz estimate of learning_rate="auto".
MINIBATCH_LEARNING_RATE = 0.01
MINIBATCH_SIZE = 256
# loss_gradient and X @ w take milliseconds: the median of this many calls is stable.
N_PASS_REPEATS = 21
# Exact solvers are fitted once, untimed, to this tolerance.
EXACT_TOL = 1e-10

# Full-size row counts and shapes.
N_REGRESSION = 200_000
N_BINARY = 200_000
N_MULTICLASS = 100_000
N_SPARSE = 100_000
N_SPARSE_FEATURES = 20_000
SPARSE_DENSITY = 1e-3


class Config(NamedTuple):
    """How big the data are and how many timed fits each contender gets."""

    quick: bool = False
    repeat: int = 3

    def rows(self, full):
        """The number of rows of a task whose full size is ``full``."""
        return full // QUICK_SHRINK if self.quick else full


class Split(NamedTuple):
    """A train/test split; dense X is standardised with the training rows' statistics."""

    X_train: object
    X_test: object
    y_train: np.ndarray
    y_test: np.ndarray


class Problem(NamedTuple):
    """A split, the skgd objective the gaps are measured on, and its exact minimum."""

    split: Split
    objective: LinearObjective
    # What the objective is, for the table's caption.
    label: str
    f_star: float
    # The exact solver that reached f_star.
    f_star_solver: str


class TaskResult(NamedTuple):
    """What a task prints: a title line, caption lines and the rows of its table."""

    name: str
    title: str
    notes: list
    rows: list


def _seconds(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.{2 if seconds < 0.01 else 1}f} ms"


class FitRow(NamedTuple):
    """One contender's fit: ``ratio`` is its time over the skgd row's (the first one)."""

    contender: str
    seconds: float
    ratio: float
    gap: float
    score: float
    n_iter: int | None
    converged: bool
    peak_mib: float
    coef_dtype: str

    headers = ("contender", "time", "vs skgd", "rel. gap", "score", "iter", "peak MiB",
               "coef_")

    def cells(self):
        n_iter = "-" if self.n_iter is None else f"{self.n_iter}{'' if self.converged else '*'}"
        return (self.contender, _seconds(self.seconds), f"{self.ratio:.2f}", f"{self.gap:+.1e}",
                f"{self.score:.4f}", n_iter, f"{self.peak_mib:.1f}", self.coef_dtype)


class PassRow(NamedTuple):
    """One ``loss_gradient(w)`` against one streaming pass ``X @ coef`` (median times)."""

    dtype: str
    loss_gradient_seconds: float
    matvec_seconds: float
    ratio: float
    peak_mib: float

    headers = ("X dtype", "loss_gradient", "X @ coef", "ratio", "peak MiB")

    def cells(self):
        return (self.dtype, _seconds(self.loss_gradient_seconds), _seconds(self.matvec_seconds),
                f"{self.ratio:.2f}", f"{self.peak_mib:.1f}")


class AutoRow(NamedTuple):
    """The Lipschitz estimate of ``learning_rate="auto"`` against the whole fit."""

    dtype: str
    lipschitz_seconds: float
    fit_seconds: float
    percent: float
    n_iter: int

    headers = ("X dtype", "lipschitz()", "fit", "share of fit", "fit iter")

    def cells(self):
        return (self.dtype, _seconds(self.lipschitz_seconds), _seconds(self.fit_seconds),
                f"{self.percent:.1f}%", str(self.n_iter))


# -- data ------------------------------------------------------------------------------
def _split(X, y, *, stratify, scale=True):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED, stratify=y if stratify else None)
    if scale:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return Split(X_train, X_test, y_train, y_test)


@functools.cache
def regression_data(n_samples):
    """``make_regression(noise=10)``, 100 features, X standardised, y as generated."""
    X, y = make_regression(n_samples=n_samples, n_features=100, noise=10, random_state=SEED)
    return _split(X, y, stratify=False)


@functools.cache
def binary_data(n_samples):
    """``make_classification(n_informative=20)``, 100 features, standardised."""
    X, y = make_classification(n_samples=n_samples, n_features=100, n_informative=20,
                               random_state=SEED)
    return _split(X, y, stratify=True)


@functools.cache
def multiclass_data(n_samples):
    """``make_classification`` with 10 classes, 50 features (20 informative), standardised."""
    X, y = make_classification(n_samples=n_samples, n_features=50, n_informative=20,
                               n_classes=10, random_state=SEED)
    return _split(X, y, stratify=True)


@functools.cache
def sparse_data(n_samples):
    """CSR X at density 0.001 with a planted linear model; y is the sign of a noisy score.

    Nonzeros and planted coefficients are standard normal; the noise has half the
    score's standard deviation, so the classes overlap. X is never densified or scaled.
    """
    rng = np.random.default_rng(SEED)
    X = sp.random(n_samples, N_SPARSE_FEATURES, density=SPARSE_DENSITY, format="csr",
                  dtype=np.float64, random_state=rng, data_rvs=rng.standard_normal)
    score = X @ rng.standard_normal(N_SPARSE_FEATURES)
    score += rng.normal(scale=0.5 * score.std(), size=n_samples)
    return _split(X, (score > 0).astype(np.int64), stratify=True, scale=False)


def _nbytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def _describe(split):
    X = split.X_train
    kind = f"CSR, {X.nnz} nonzeros" if sp.issparse(X) else "dense"
    return (f"{X.shape[0]} train / {split.X_test.shape[0]} test rows x {X.shape[1]} features, "
            f"X_train {_nbytes(X) / MIB:.1f} MiB ({kind}, {X.dtype})")


# -- measuring -------------------------------------------------------------------------
def _fit(model, X, y):
    """Fit; return whether it ended without a ConvergenceWarning (recorded, not shown)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y)
    converged = True
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return converged


def _traced(function):
    """Call ``function``; return its result and the peak MiB it allocated meanwhile."""
    tracemalloc.start()
    try:
        result = function()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak / MIB


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


class Measurement(NamedTuple):
    model: object
    seconds: float
    peak_mib: float
    converged: bool


def _measure(estimator, X, y, repeat):
    """A traced fit (peak memory, warm-up), then the best time of ``repeat`` fits."""
    _, peak_mib = _traced(lambda: _fit(clone(estimator), X, y))
    best = math.inf
    for _ in range(repeat):
        model = clone(estimator)
        converged, seconds = _timed(functools.partial(_fit, model, X, y))
        best = min(best, seconds)
    return Measurement(model, best, peak_mib, converged)


def _median_seconds(function, repeat):
    return float(np.median([_timed(function)[1] for _ in range(repeat)]))


def _objective_value(objective, model):
    """The skgd objective at a fitted model's ``coef_`` and ``intercept_``, in float64."""
    params = np.concatenate([np.ravel(model.coef_), np.ravel(model.intercept_)])
    return objective.loss(params.astype(np.float64))


def _problem(split, objective, label, exact_solvers):
    """Fit every exact solver once, untimed; F* is the smallest objective they reach."""
    reached = []
    for name, solver in exact_solvers:
        converged = _fit(solver, split.X_train, split.y_train)
        reached.append((_objective_value(objective, solver),
                        name if converged else f"{name}, with a ConvergenceWarning"))
    f_star, f_star_solver = min(reached)
    return Problem(split, objective, label, f_star, f_star_solver)


@functools.cache
def regression_problem(n_samples):
    split = regression_data(n_samples)
    objective = LinearObjective(SquaredError(), split.X_train, split.y_train)
    exact = [("LinearRegression()", LinearRegression()),
             ("Ridge(alpha=0, solver='cholesky')", Ridge(alpha=0.0, solver="cholesky"))]
    return _problem(split, objective, "GDRegressor(alpha=0), half mean squared error", exact)


def _classification_problem(split, exact_solvers):
    """The objective of ``GDClassifier(alpha=1/n)``, the same as LogisticRegression(C=1)."""
    classes = np.unique(split.y_train)
    y = np.searchsorted(classes, split.y_train)
    if len(classes) == 2:
        loss, y = BinaryCrossEntropy(), y.astype(np.float64)
    else:
        loss = CategoricalCrossEntropy(len(classes))
    objective = LinearObjective(loss, split.X_train, y, alpha=1.0 / split.X_train.shape[0])
    exact = [(f"LogisticRegression(solver={solver!r}, tol={EXACT_TOL:g})",
              LogisticRegression(solver=solver, tol=EXACT_TOL, max_iter=10_000))
             for solver in exact_solvers]
    return _problem(split, objective,
                    "GDClassifier(alpha=1/n) = LogisticRegression(C=1), n = training rows",
                    exact)


@functools.cache
def binary_problem(n_samples):
    return _classification_problem(binary_data(n_samples), ("newton-cholesky", "lbfgs"))


@functools.cache
def multiclass_problem(n_samples):
    return _classification_problem(multiclass_data(n_samples), ("newton-cholesky", "lbfgs"))


@functools.cache
def sparse_problem(n_samples):
    # newton-cholesky would form a dense 20 000 x 20 000 Hessian.
    return _classification_problem(sparse_data(n_samples), ("newton-cg", "lbfgs"))


class Contender(NamedTuple):
    label: str
    estimator: object
    # The dtype X is cast to (outside the timing) before the fit.
    dtype: type = np.float64


def _fit_rows(problem, contenders, repeat):
    """Measure every contender on the problem's split; the first one is skgd's row."""
    split = problem.split
    rows = []
    for contender in contenders:
        X_train = split.X_train.astype(contender.dtype, copy=False)
        X_test = split.X_test.astype(contender.dtype, copy=False)
        fit = _measure(contender.estimator, X_train, split.y_train, repeat)
        n_iter = getattr(fit.model, "n_iter_", None)
        rows.append(FitRow(
            contender=contender.label,
            seconds=fit.seconds,
            ratio=fit.seconds / rows[0].seconds if rows else 1.0,
            gap=(_objective_value(problem.objective, fit.model) - problem.f_star)
            / abs(problem.f_star),
            score=fit.model.score(X_test, split.y_test),
            n_iter=None if n_iter is None else int(np.max(n_iter)),
            converged=fit.converged,
            peak_mib=fit.peak_mib,
            coef_dtype=str(fit.model.coef_.dtype),
        ))
    return rows


def _fit_task(name, problem, contenders, repeat, notes=()):
    notes = [f"objective: {problem.label}",
             f"F* = {problem.f_star:.10g}, from {problem.f_star_solver}", *notes]
    return TaskResult(name, _describe(problem.split), notes,
                      _fit_rows(problem, contenders, repeat))


def _classifier_contenders(n_train):
    alpha = 1.0 / n_train
    return [
        Contender("GDClassifier(alpha=1/n)", GDClassifier(alpha=alpha)),
        Contender("LogisticRegression()", LogisticRegression()),
        Contender("SGDClassifier(log_loss, alpha=1/n)",
                  SGDClassifier(loss="log_loss", alpha=alpha, random_state=SEED)),
    ]


# -- tasks -----------------------------------------------------------------------------
def regression(config):
    """Default GDRegressor against SGDRegressor(penalty=None) and Ridge()."""
    problem = regression_problem(config.rows(N_REGRESSION))
    return _fit_task("regression", problem, [
        Contender("GDRegressor()", GDRegressor()),
        Contender("SGDRegressor(penalty=None)",
                  SGDRegressor(penalty=None, random_state=SEED)),
        Contender("Ridge()", Ridge()),
    ], config.repeat)


def binary(config):
    """GDClassifier(alpha=1/n) against LogisticRegression() and SGDClassifier, dense."""
    problem = binary_problem(config.rows(N_BINARY))
    return _fit_task("binary", problem,
                     _classifier_contenders(problem.split.X_train.shape[0]), config.repeat)


def multiclass(config):
    """The binary contenders on 10 classes (SGDClassifier is one-vs-rest)."""
    problem = multiclass_problem(config.rows(N_MULTICLASS))
    return _fit_task("multiclass", problem,
                     _classifier_contenders(problem.split.X_train.shape[0]), config.repeat,
                     notes=["SGDClassifier fits one-vs-rest, not this softmax objective"])


def sparse(config):
    """The binary contenders on CSR data, never densified."""
    problem = sparse_problem(config.rows(N_SPARSE))
    return _fit_task("sparse", problem,
                     _classifier_contenders(problem.split.X_train.shape[0]), config.repeat)


def minibatch(config):
    """One epoch of mini-batch GDClassifier against one epoch of SGDClassifier."""
    problem = binary_problem(config.rows(N_BINARY))
    alpha = 1.0 / problem.split.X_train.shape[0]
    return _fit_task("minibatch", problem, [
        Contender(f"GDClassifier(batch_size={MINIBATCH_SIZE}, "
                  f"learning_rate={MINIBATCH_LEARNING_RATE:g})",
                  GDClassifier(alpha=alpha, batch_size=MINIBATCH_SIZE, max_iter=1, tol=None,
                               learning_rate=MINIBATCH_LEARNING_RATE, random_state=SEED)),
        Contender("SGDClassifier(log_loss, alpha=1/n)",
                  SGDClassifier(loss="log_loss", alpha=alpha, max_iter=1, tol=None,
                                random_state=SEED)),
    ], config.repeat, notes=["time is one epoch (max_iter=1, tol=None); both contenders have "
                             "alpha=1/n, so they descend the objective above"])


def loss_gradient(config):
    """One LinearObjective.loss_gradient(w) against one pass X @ coef, float64 and float32."""
    split = binary_data(config.rows(N_BINARY))
    rows = []
    for dtype in (np.float64, np.float32):
        X = split.X_train.astype(dtype, copy=False)
        objective = LinearObjective(BinaryCrossEntropy(), X, split.y_train.astype(dtype))
        w = np.random.default_rng(SEED).normal(scale=0.01, size=objective.n_params)
        w = w.astype(dtype)
        coef = w[:-1]
        gradient = functools.partial(objective.loss_gradient, w)
        _, peak_mib = _traced(gradient)
        gradient_seconds = _median_seconds(gradient, N_PASS_REPEATS)
        matvec_seconds = _median_seconds(functools.partial(np.matmul, X, coef), N_PASS_REPEATS)
        rows.append(PassRow(str(np.dtype(dtype)), gradient_seconds, matvec_seconds,
                            gradient_seconds / matvec_seconds, peak_mib))
    return TaskResult("loss_gradient", _describe(split), [
        f"LinearObjective(BinaryCrossEntropy(), X, y).loss_gradient(w) against X @ coef, "
        f"median of {N_PASS_REPEATS} calls each",
        "a gradient needs X @ coef and X.T @ g, so 2 passes over X is the floor of its ratio",
    ], rows)


def float32(config):
    """Default GDClassifier(alpha=1/n) on the binary X as float64 and as float32."""
    problem = binary_problem(config.rows(N_BINARY))
    alpha = 1.0 / problem.split.X_train.shape[0]
    return _fit_task("float32", problem, [
        Contender("GDClassifier(alpha=1/n), X float64", GDClassifier(alpha=alpha)),
        Contender("GDClassifier(alpha=1/n), X float32", GDClassifier(alpha=alpha),
                  np.float32),
    ], config.repeat, notes=["X is cast before the timing; the gap is evaluated in float64"])


def auto(config):
    """The cost of learning_rate="auto"'s Lipschitz estimate within a default fit."""
    split = binary_data(config.rows(N_BINARY))
    alpha = 1.0 / split.X_train.shape[0]
    y = split.y_train.astype(np.float64)
    objective = LinearObjective(BinaryCrossEntropy(), split.X_train, y, alpha=alpha)
    objective.lipschitz()
    lipschitz_seconds = min(_timed(objective.lipschitz)[1] for _ in range(config.repeat))
    fit = _measure(GDClassifier(alpha=alpha), split.X_train, split.y_train, config.repeat)
    return TaskResult("auto", _describe(split), [
        "lipschitz(): LinearObjective(BinaryCrossEntropy(), X, y, alpha=1/n).lipschitz(); "
        "fit: a default GDClassifier(alpha=1/n) fit, which calls it once",
    ], [AutoRow(str(split.X_train.dtype), lipschitz_seconds, fit.seconds,
                100 * lipschitz_seconds / fit.seconds, fit.model.n_iter_)])


TASKS = {
    "regression": regression,
    "binary": binary,
    "multiclass": multiclass,
    "sparse": sparse,
    "minibatch": minibatch,
    "loss_gradient": loss_gradient,
    "float32": float32,
    "auto": auto,
}
