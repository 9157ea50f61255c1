"""The benchmark tasks: their data, their contenders, and one function per task.

A task function takes a :class:`Config` and returns a :class:`TaskResult` whose ``rows``
are NamedTuples (:class:`FitRow`, :class:`PassRow`, :class:`AutoRow` or, for a task that
cannot run here, :class:`SkipRow`), followed by any further :class:`Table` (the
:class:`EpochsRow` tables of the curvature tasks); each row type knows its column
``headers`` and its formatted ``cells()``, and ``benchmarks.run`` lays them out. Data are
generated once per size and shared by the tasks that use them (the binary data serve five
tasks, the one-hot table two), as is each problem's exact objective ``F*``.

The curvature tasks (``onehot_binary``, ``onehot_multiclass``, ``collinear``, ``real``,
``real_regression``) pit skgd's default, curvature-aware fit against scikit-learn's
solvers and against skgd without its metric (``preconditioner=None``), on data as users
prepare it (a ``ColumnTransformer`` of one-hot categories and standardised numbers) or
not at all (unscaled collinear columns). Their epochs tables follow each skgd fit's
trajectory to the gaps 1e-4, 1e-6 and 1e-10, and time it to 1e-6 (classification) or 1e-10
(regression). ``real`` and ``real_regression`` read tables statsmodels ships (``fair``,
``randhie``), and are skipped, with a note row, where statsmodels is not installed.

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
from scipy.linalg import LinAlgWarning
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
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
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skgd import GDClassifier, GDRegressor, _compiled, _curvature
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
N_ONEHOT = 200_000
# Levels of the one-hot tasks' categorical columns, and their numeric columns: independent
# ones, then near-copies (the column plus 1e-2 noise) of the first few.
ONEHOT_LEVELS = (5, 12, 25, 40)
N_ONEHOT_NUMERIC = 16
N_ONEHOT_COPIES = 4
ONEHOT_CLASSES = 4
N_COLLINEAR = 200_000
N_COLLINEAR_FEATURES = 50
N_COLLINEAR_FACTORS = 5
COLLINEAR_NOISE = 1e-3
# The epochs tables: the relative gaps whose first epoch is reported, and how many epochs
# the trajectory (tol=None) is followed for.
CURVE_GAPS = (1e-4, 1e-6, 1e-10)
CURVE_EPOCHS = 100


class Config(NamedTuple):
    """How big the data are and how many timed fits each contender gets."""

    quick: bool = False
    repeat: int = 3
    # How many times fewer rows quick mode has; the tests' smoke run shrinks further.
    shrink: int = QUICK_SHRINK

    def rows(self, full):
        """The number of rows of a task whose full size is ``full``."""
        return full // self.shrink if self.quick else full


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


class Table(NamedTuple):
    """A further table of a task, printed below its main one."""

    title: str
    notes: list
    rows: list


class TaskResult(NamedTuple):
    """What a task prints: a title line, caption lines and the rows of its table, then any
    further :class:`Table`."""

    name: str
    title: str
    notes: list
    rows: list
    tables: tuple = ()


def _seconds(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.{2 if seconds < 0.01 else 1}f} ms"


class FitRow(NamedTuple):
    """One contender's fit: ``ratio`` is its time over the skgd row's (the first one).
    A contender whose fit raised has NaN everywhere (its error is in the task's notes)."""

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
        if math.isnan(self.seconds):
            return (self.contender, "failed", *("-" * (len(self.headers) - 2)))
        n_iter = "-" if self.n_iter is None else f"{self.n_iter}{'' if self.converged else '*'}"
        # A diverged fit's score can be astronomically negative.
        score = f"{self.score:.4f}" if abs(self.score) < 1e4 else f"{self.score:.1e}"
        return (self.contender, _seconds(self.seconds), f"{self.ratio:.2f}", f"{self.gap:+.1e}",
                score, n_iter, f"{self.peak_mib:.1f}", self.coef_dtype)


def _power(gap):
    """1e-06 as "1e-6"."""
    mantissa, exponent = f"{gap:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


class EpochsRow(NamedTuple):
    """An skgd contender's trajectory: the first epoch at which its objective (at the point
    where the gradient was taken) is within each of :data:`CURVE_GAPS` of F*, and the time
    a fit stopped there takes, against the reference contenders' times."""

    contender: str
    epochs: tuple
    max_epochs: int
    target: float
    seconds: float
    gap: float
    # (label, reference time) pairs.
    references: tuple

    @property
    def headers(self):
        return ("contender", *(f"epochs to {_power(gap)}" for gap in CURVE_GAPS),
                f"time to {_power(self.target)}", "gap there",
                *(f"vs {label}" for label, _ in self.references))

    def cells(self):
        reached = not math.isnan(self.seconds)
        return (self.contender,
                *(f">{self.max_epochs}" if epoch is None else str(epoch)
                  for epoch in self.epochs),
                _seconds(self.seconds) if reached else "-",
                f"{self.gap:+.1e}" if reached else "-",
                *(f"{self.seconds / seconds:.2f}" if reached else "-"
                  for _, seconds in self.references))


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
    """The build of ``preconditioner="auto"``'s metric against the whole default fit."""

    dtype: str
    metric: str
    build_seconds: float
    fit_seconds: float
    percent: float
    n_iter: int

    headers = ("X dtype", "metric", "metric build", "fit", "share of fit", "fit iter")

    def cells(self):
        return (self.dtype, self.metric, _seconds(self.build_seconds),
                _seconds(self.fit_seconds), f"{self.percent:.1f}%", str(self.n_iter))


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
def _sparse_scores(n_samples):
    """CSR X at density 0.001 and a noisy score from a planted linear model.

    Nonzeros and planted coefficients are standard normal; the noise has half the
    score's standard deviation. X is never densified or scaled.
    """
    rng = np.random.default_rng(SEED)
    X = sp.random(n_samples, N_SPARSE_FEATURES, density=SPARSE_DENSITY, format="csr",
                  dtype=np.float64, random_state=rng, data_rvs=rng.standard_normal)
    score = X @ rng.standard_normal(N_SPARSE_FEATURES)
    score += rng.normal(scale=0.5 * score.std(), size=n_samples)
    return X, score


@functools.cache
def sparse_data(n_samples):
    """:func:`_sparse_scores`' X; y is the sign of the score, so the classes overlap."""
    X, score = _sparse_scores(n_samples)
    return _split(X, (score > 0).astype(np.int64), stratify=True, scale=False)


@functools.cache
def sparse_regression_data(n_samples):
    """:func:`_sparse_scores`' X; y is the score."""
    return _split(*_sparse_scores(n_samples), stratify=False, scale=False)


def _transformed_split(X, y, *, stratify, categorical, numeric):
    """Split, then what users put before a linear model, fitted on the training rows:
    categories one-hot encoded, numbers standardised. The output is dense, so that
    ``LogisticRegression(solver="newton-cholesky")`` runs on it too."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED, stratify=y if stratify else None)
    transformer = ColumnTransformer([
        ("categories", OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
         categorical),
        ("numbers", StandardScaler(), numeric),
    ]).fit(X_train)
    return Split(np.asarray(transformer.transform(X_train), dtype=np.float64),
                 np.asarray(transformer.transform(X_test), dtype=np.float64), y_train, y_test)


@functools.cache
def onehot_table(n_samples):
    """A table of categorical and numeric columns, and the planted scores of its classes.

    The categorical columns hold integer codes, ``ONEHOT_LEVELS`` levels each. The numeric
    ones are standard normal, then near-copies of the first ``N_ONEHOT_COPIES`` (the
    column plus 1e-2 noise), each at its own scale between 1e-3 and 1e3. The scores of
    ``ONEHOT_CLASSES`` classes are linear: a normal effect per level and a normal
    coefficient per (unscaled) numeric column.
    """
    rng = np.random.default_rng(SEED)
    codes = np.column_stack([rng.integers(levels, size=n_samples) for levels in ONEHOT_LEVELS])
    independent = rng.standard_normal((n_samples, N_ONEHOT_NUMERIC))
    copies = (independent[:, :N_ONEHOT_COPIES]
              + 1e-2 * rng.standard_normal((n_samples, N_ONEHOT_COPIES)))
    numeric = np.hstack([independent, copies])
    scores = sum(rng.normal(scale=0.5, size=(levels, ONEHOT_CLASSES))[codes[:, column]]
                 for column, levels in enumerate(ONEHOT_LEVELS))
    scores += numeric @ rng.normal(scale=0.3, size=(numeric.shape[1], ONEHOT_CLASSES))
    numeric *= 10.0 ** rng.uniform(-3, 3, size=numeric.shape[1])
    return np.hstack([codes, numeric]).astype(np.float64), scores


def _onehot_split(n_samples, y):
    X = onehot_table(n_samples)[0]
    n_categorical = len(ONEHOT_LEVELS)
    return _transformed_split(X, y, stratify=True, categorical=list(range(n_categorical)),
                              numeric=list(range(n_categorical, X.shape[1])))


@functools.cache
def onehot_binary_data(n_samples):
    """:func:`onehot_table` through the transformer; y drawn from the logistic model of
    the first class's score."""
    scores = onehot_table(n_samples)[1][:, 0]
    rng = np.random.default_rng(SEED + 1)
    y = (rng.random(n_samples) < 1 / (1 + np.exp(-scores))).astype(np.int64)
    return _onehot_split(n_samples, y)


@functools.cache
def onehot_multiclass_data(n_samples):
    """:func:`onehot_table` through the transformer; y drawn from the softmax of the
    scores (the Gumbel trick)."""
    scores = onehot_table(n_samples)[1]
    rng = np.random.default_rng(SEED + 1)
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    return _onehot_split(n_samples, y)


@functools.cache
def collinear_data(n_samples):
    """``N_COLLINEAR_FEATURES`` columns mixed from ``N_COLLINEAR_FACTORS`` latent factors,
    plus noise of ``COLLINEAR_NOISE``, each then at its own scale between 1e-2 and 1e3;
    y is linear in the factors plus unit noise. X is not scaled: the hard case."""
    rng = np.random.default_rng(SEED)
    factors = rng.standard_normal((n_samples, N_COLLINEAR_FACTORS))
    X = factors @ rng.standard_normal((N_COLLINEAR_FACTORS, N_COLLINEAR_FEATURES))
    X += COLLINEAR_NOISE * rng.standard_normal(X.shape)
    X *= 10.0 ** rng.uniform(-2, 3, size=N_COLLINEAR_FEATURES)
    y = factors @ rng.standard_normal(N_COLLINEAR_FACTORS) + rng.standard_normal(n_samples)
    return _split(X, y, stratify=False, scale=False)


def _statsmodels_frame(name, config):
    """A table statsmodels ships (all of it, or a random ``1/QUICK_SHRINK`` of its rows in
    quick mode), or None where statsmodels is not installed."""
    try:
        from statsmodels import datasets
    except ImportError:
        return None
    frame = getattr(datasets, name).load_pandas().data
    return frame.sample(n=config.rows(len(frame)), random_state=SEED) if config.quick else frame


# statsmodels' fair: 6 366 women surveyed in 1974; had an affair (affairs > 0).
FAIR_CATEGORICAL = ["rate_marriage", "religious", "occupation", "occupation_husb"]
FAIR_NUMERIC = ["age", "yrs_married", "children", "educ"]
# statsmodels' randhie: 20 190 people of the RAND health insurance experiment; log(1 + the
# number of visits to a doctor).
RANDHIE_CATEGORICAL = ["idp", "physlm", "hlthg", "hlthf", "hlthp"]
RANDHIE_NUMERIC = ["lncoins", "lpi", "fmde", "disea"]


@functools.cache
def real_binary_data(config):
    """statsmodels' ``fair`` through the transformer, y = affairs > 0; None without
    statsmodels."""
    frame = _statsmodels_frame("fair", config)
    if frame is None:
        return None
    y = (frame["affairs"] > 0).to_numpy().astype(np.int64)
    return _transformed_split(frame[FAIR_CATEGORICAL + FAIR_NUMERIC], y, stratify=True,
                              categorical=FAIR_CATEGORICAL, numeric=FAIR_NUMERIC)


@functools.cache
def real_regression_data(config):
    """statsmodels' ``randhie`` through the transformer, y = log(1 + mdvis); None without
    statsmodels."""
    frame = _statsmodels_frame("randhie", config)
    if frame is None:
        return None
    y = np.log1p(frame["mdvis"].to_numpy().astype(np.float64))
    return _transformed_split(frame[RANDHIE_CATEGORICAL + RANDHIE_NUMERIC], y,
                              stratify=False, categorical=RANDHIE_CATEGORICAL,
                              numeric=RANDHIE_NUMERIC)


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


def _measure_once(estimator, X, y, repeat):
    """One traced fit, which gives both the peak memory and the time (``repeat`` unused)."""
    model = clone(estimator)
    (converged, seconds), peak_mib = _traced(lambda: _timed(functools.partial(_fit, model, X,
                                                                              y)))
    return Measurement(model, seconds, peak_mib, converged)


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
        with warnings.catch_warnings():
            # Ridge's cholesky warns of the ill-conditioned Gram of collinear X; its
            # objective, next to the others', says whether it mattered.
            warnings.simplefilter("ignore", LinAlgWarning)
            converged = _fit(solver, split.X_train, split.y_train)
        reached.append((_objective_value(objective, solver),
                        name if converged else f"{name}, with a ConvergenceWarning"))
    f_star, f_star_solver = min(reached)
    return Problem(split, objective, label, f_star, f_star_solver)


def _regression_problem(split):
    objective = LinearObjective(SquaredError(), split.X_train, split.y_train)
    exact = [("LinearRegression()", LinearRegression()),
             ("Ridge(alpha=0, solver='cholesky')", Ridge(alpha=0.0, solver="cholesky")),
             ("Ridge(alpha=0, solver='svd')", Ridge(alpha=0.0, solver="svd"))]
    return _problem(split, objective, "GDRegressor(alpha=0), half mean squared error", exact)


@functools.cache
def regression_problem(n_samples):
    return _regression_problem(regression_data(n_samples))


@functools.cache
def collinear_problem(n_samples):
    return _regression_problem(collinear_data(n_samples))


# The exact solver of the one-hot tasks: lbfgs, at tol=1e-10 on their near-collinear
# columns, runs for many minutes (the multiclass one did not finish in ten).
NEWTON_ONLY = ("newton-cholesky",)


@functools.cache
def onehot_binary_problem(n_samples):
    return _classification_problem(onehot_binary_data(n_samples), NEWTON_ONLY)


@functools.cache
def onehot_multiclass_problem(n_samples):
    return _classification_problem(onehot_multiclass_data(n_samples), NEWTON_ONLY)


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
    # A contender that takes many seconds is timed once, on its traced fit: warm-up and
    # tracing are noise next to its time, and a repeat would double the task's.
    slow: bool = False


def _failed(label):
    nan = math.nan
    return FitRow(label, nan, nan, nan, nan, None, False, nan, "-")


def _fit_rows(problem, contenders, repeat, notes):
    """Measure every contender on the problem's split; the first one is skgd's row. A fit
    that raises gets a row of NaN and a line in ``notes``."""
    split = problem.split
    rows = []
    for contender in contenders:
        X_train = split.X_train.astype(contender.dtype, copy=False)
        X_test = split.X_test.astype(contender.dtype, copy=False)
        try:
            fit = (_measure_once if contender.slow else _measure)(
                contender.estimator, X_train, split.y_train, repeat)
        except (ValueError, FloatingPointError) as error:
            notes.append(f"{contender.label} raised {type(error).__name__}: {error}")
            rows.append(_failed(contender.label))
            continue
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


def _fit_task(name, problem, contenders, repeat, notes=(), epochs=None):
    """The fit table of the contenders; with ``epochs=(target, reference labels)``, also
    the table of :func:`_epochs_table`."""
    notes = [f"objective: {problem.label}",
             f"F* = {problem.f_star:.10g}, from {problem.f_star_solver}", *notes]
    rows = _fit_rows(problem, contenders, repeat, notes)
    tables = () if epochs is None else (_epochs_table(problem, contenders, rows, *epochs,
                                                      repeat),)
    return TaskResult(name, _describe(problem.split), notes, rows, tables)


def _first_epoch(gaps, gap):
    """The 1-based epoch of the first entry of ``gaps`` at most ``gap``, or None."""
    reached = np.flatnonzero(gaps <= gap)
    return int(reached[0]) + 1 if reached.size else None


def _epochs_table(problem, contenders, rows, target, references, repeat):
    """How many epochs each skgd contender's fit needs to reach each relative gap of
    :data:`CURVE_GAPS`, and how long a fit takes to reach ``target``.

    One fit with ``tol=None, max_iter=CURVE_EPOCHS`` follows the default fit's trajectory
    (its schedule does not depend on ``tol`` or ``max_iter``) past where it stops; the gap
    of epoch k is that of ``loss_curve_[k]``, the objective where that epoch took its
    gradient. The time to ``target`` is the best of ``repeat`` fits with ``tol=None`` and
    ``max_iter`` that epoch, next to the ``references`` contenders' times in ``rows``
    (each at its own default stopping point, whose gap the fit table shows).
    """
    split, f_star = problem.split, problem.f_star
    times = {row.contender: row.seconds for row in rows}
    reference_times = tuple((label, times[label]) for label in references)
    epoch_rows = []
    for contender in contenders:
        if not isinstance(contender.estimator, (GDClassifier, GDRegressor)):
            continue
        curve = clone(contender.estimator).set_params(tol=None, max_iter=CURVE_EPOCHS)
        _fit(curve, split.X_train, split.y_train)
        gaps = (np.asarray(curve.loss_curve_) - f_star) / abs(f_star)
        epochs = tuple(_first_epoch(gaps, gap) for gap in CURVE_GAPS)
        seconds = gap = math.nan
        if (epoch := epochs[CURVE_GAPS.index(target)]) is not None:
            estimator = clone(contender.estimator).set_params(tol=None, max_iter=epoch)
            seconds = math.inf
            for _ in range(repeat):
                model = clone(estimator)
                seconds = min(seconds, _timed(functools.partial(
                    _fit, model, split.X_train, split.y_train))[1])
            gap = (_objective_value(problem.objective, model) - f_star) / abs(f_star)
        epoch_rows.append(EpochsRow(contender.label, epochs, CURVE_EPOCHS, target, seconds,
                                    gap, reference_times))
    return Table("epochs to gap", [
        f"epochs to g: the first epoch whose objective (loss_curve_, at the point where the "
        f"gradient was taken) is within g of F*, on the trajectory of a fit with tol=None, "
        f"max_iter={CURVE_EPOCHS}; >{CURVE_EPOCHS}: not within it",
        f"time to {_power(target)}: best of {repeat} fits with tol=None and max_iter that epoch; "
        "gap there: of the coef_ such a fit returns (its last step taken)",
        "vs X: that time over X's time in the table above (X at its own defaults)",
    ], epoch_rows)


def _classifier_contenders(n_train):
    alpha = 1.0 / n_train
    return [
        Contender("GDClassifier(alpha=1/n)", GDClassifier(alpha=alpha)),
        Contender("LogisticRegression()", LogisticRegression()),
        Contender("SGDClassifier(log_loss, alpha=1/n)",
                  SGDClassifier(loss="log_loss", alpha=alpha, random_state=SEED)),
    ]


# The curvature contenders: skgd's default, scikit-learn's default and its Newton solver,
# and skgd without its metric. The epochs tables compare skgd's time to the target gap
# with the references'.
NEWTON = "LogisticRegression(newton-cholesky)"
CLASSIFICATION_TARGET = (1e-6, (NEWTON, "LogisticRegression()"))
REGRESSION_TARGET = (1e-10, ("Ridge()", "SGDRegressor()"))


def _curvature_classifiers(n_train):
    alpha = 1.0 / n_train
    return [
        Contender("GDClassifier(alpha=1/n)", GDClassifier(alpha=alpha)),
        Contender("LogisticRegression()", LogisticRegression()),
        Contender(NEWTON, LogisticRegression(solver="newton-cholesky")),
        Contender("GDClassifier(alpha=1/n, preconditioner=None)",
                  GDClassifier(alpha=alpha, preconditioner=None), slow=True),
    ]


def _curvature_regressors():
    return [
        # alpha=0: the tasks' objective (the default is 1e-4).
        Contender("GDRegressor(alpha=0)", GDRegressor(alpha=0.0)),
        Contender("GDRegressor(alpha=0, preconditioner=None)",
                  GDRegressor(alpha=0.0, preconditioner=None), slow=True),
        Contender("Ridge()", Ridge()),
        Contender("SGDRegressor()", SGDRegressor(random_state=SEED), slow=True),
    ]


class SkipRow(NamedTuple):
    """The row of a task that could not run here."""

    reason: str

    headers = ("skipped",)

    def cells(self):
        return (self.reason,)


def _skipped(name, package):
    reason = (f"{package} is not installed; pip install {package} (or skgd's "
              "'bench' extra) to run this task")
    return TaskResult(name, "skipped", [], [SkipRow(reason)])


# -- tasks -----------------------------------------------------------------------------
def regression(config):
    """GDRegressor(alpha=0) against SGDRegressor(penalty=None) and Ridge()."""
    problem = regression_problem(config.rows(N_REGRESSION))
    return _fit_task("regression", problem, [
        Contender("GDRegressor(alpha=0)", GDRegressor(alpha=0.0)),
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


def onehot_binary(config):
    """One-hot categories and numbers of mixed scales through a ColumnTransformer, binary."""
    problem = onehot_binary_problem(config.rows(N_ONEHOT))
    return _fit_task("onehot_binary", problem,
                     _curvature_classifiers(problem.split.X_train.shape[0]), config.repeat,
                     notes=[_onehot_note()], epochs=CLASSIFICATION_TARGET)


def onehot_multiclass(config):
    """The one-hot table with ``ONEHOT_CLASSES`` softmax classes."""
    problem = onehot_multiclass_problem(config.rows(N_ONEHOT))
    return _fit_task("onehot_multiclass", problem,
                     _curvature_classifiers(problem.split.X_train.shape[0]), config.repeat,
                     notes=[_onehot_note()], epochs=CLASSIFICATION_TARGET)


def _onehot_note():
    return (f"X: ColumnTransformer(OneHotEncoder(sparse_output=False), StandardScaler()) of "
            f"{len(ONEHOT_LEVELS)} categorical columns ({', '.join(map(str, ONEHOT_LEVELS))} "
            f"levels) and {N_ONEHOT_NUMERIC + N_ONEHOT_COPIES} numeric ones of scales 1e-3 to "
            f"1e3, {N_ONEHOT_COPIES} of them a column plus 1e-2 noise; fitted on the training "
            "rows, outside the timing")


def collinear(config):
    """Unscaled, strongly collinear regression: columns mixed from a few latent factors."""
    problem = collinear_problem(config.rows(N_COLLINEAR))
    return _fit_task("collinear", problem, _curvature_regressors(), config.repeat, notes=[
        f"X: {N_COLLINEAR_FEATURES} columns mixed from {N_COLLINEAR_FACTORS} latent factors "
        f"plus noise of {COLLINEAR_NOISE:g}, scales 1e-2 to 1e3, not standardised",
    ], epochs=REGRESSION_TARGET)


def real(config):
    """statsmodels' ``fair`` table (affairs > 0) through a ColumnTransformer."""
    split = real_binary_data(config)
    if split is None:
        return _skipped("real", "statsmodels")
    problem = _classification_problem(split, NEWTON_ONLY)
    return _fit_task("real", problem, _curvature_classifiers(split.X_train.shape[0]),
                     config.repeat, notes=[
                         "data: statsmodels.datasets.fair (6 366 women, 1974), y = affairs > 0; "
                         f"one-hot: {', '.join(FAIR_CATEGORICAL)}; standardised: "
                         f"{', '.join(FAIR_NUMERIC)}"], epochs=CLASSIFICATION_TARGET)


def real_regression(config):
    """statsmodels' ``randhie`` table, log(1 + doctor visits), through a ColumnTransformer."""
    split = real_regression_data(config)
    if split is None:
        return _skipped("real_regression", "statsmodels")
    problem = _regression_problem(split)
    return _fit_task("real_regression", problem, _curvature_regressors(), config.repeat,
                     notes=[
                         "data: statsmodels.datasets.randhie (20 190 people of the RAND health "
                         "insurance experiment), y = log(1 + mdvis); one-hot: "
                         f"{', '.join(RANDHIE_CATEGORICAL)}; standardised: "
                         f"{', '.join(RANDHIE_NUMERIC)}"], epochs=REGRESSION_TARGET)


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


class SGDRow(NamedTuple):
    """skgd's compiled small-batch descent against scikit-learn's SGD on one measure."""

    data: str
    measure: str
    skgd_seconds: float
    sklearn_seconds: float
    # skgd on its Python path (SKGD_PURE_PYTHON), where measured.
    python_seconds: float
    detail: str

    headers = ("data", "measure", "skgd", "scikit-learn", "skgd / scikit-learn",
               "skgd, Python path", "held-out score")

    def cells(self):
        # An epoch of tiny data can time at 0 (the difference of two fits' times).
        ratio = (f"{self.skgd_seconds / self.sklearn_seconds:.2f}" if self.sklearn_seconds > 0
                 else "-")
        return (self.data, self.measure, _seconds(self.skgd_seconds),
                _seconds(self.sklearn_seconds), ratio,
                "-" if math.isnan(self.python_seconds) else _seconds(self.python_seconds),
                self.detail)


# The sgd task: epochs are timed as the difference of fits of 1 and 1 + SGD_EPOCHS epochs
# (what a fit costs once, validation and set-up, cancels); the full fit is the fewest
# epochs, up to SGD_MAX_EPOCHS, whose held-out score is within SGD_SCORE_SLACK of
# scikit-learn's default fit's.
SGD_BATCH_SIZES = (1, 32)
SGD_EPOCHS = 2
SGD_MAX_EPOCHS = 20
SGD_SCORE_SLACK = 1e-3


def _epoch_seconds(estimator, X, y, repeat):
    def best(max_iter):
        model = clone(estimator).set_params(max_iter=max_iter)
        return min(_timed(functools.partial(_fit, clone(model), X, y))[1]
                   for _ in range(repeat))

    best(1)
    return max(best(1 + SGD_EPOCHS) - best(1), 0.0) / SGD_EPOCHS


def _python_path(function):
    """``function()`` with the compiled kernel switched off."""
    enabled = _compiled.ENABLED
    _compiled.ENABLED = False
    try:
        return function()
    finally:
        _compiled.ENABLED = enabled


def _fit_to_score(estimator, split, target, repeat):
    """The fewest epochs whose fit scores ``target`` on the held-out rows (or the last
    tried), the best time of that fit and its score."""
    for max_iter in range(1, SGD_MAX_EPOCHS + 1):
        model = clone(estimator).set_params(max_iter=max_iter)
        _fit(model, split.X_train, split.y_train)
        score = model.score(split.X_test, split.y_test)
        if score >= target:
            break
    seconds = _measure(model, split.X_train, split.y_train, repeat).seconds
    return seconds, max_iter, score


def sgd(config):
    """Stochastic (batch_size=1) and small-batch (32) descent, compiled, against
    SGDClassifier(log_loss) and SGDRegressor: an epoch each, and a whole fit."""
    problems = [("dense binary", binary_data(config.rows(N_BINARY)), False),
                ("dense regression", regression_data(config.rows(N_REGRESSION)), True),
                ("sparse binary", sparse_data(config.rows(N_SPARSE)), False),
                ("sparse regression", sparse_regression_data(config.rows(N_SPARSE)), True)]
    rows = []
    for label, split, regression in problems:
        X, y = split.X_train, split.y_train
        alpha = 1.0 / X.shape[0]
        GD = GDRegressor if regression else GDClassifier
        SGD = (SGDRegressor() if regression
               else SGDClassifier(loss="log_loss")).set_params(random_state=SEED)
        sklearn_epoch = _epoch_seconds(SGD.set_params(alpha=alpha, tol=None), X, y,
                                       config.repeat)
        for batch_size in SGD_BATCH_SIZES:
            model = GD(solver="gd", batch_size=batch_size, alpha=alpha, tol=None,
                       learning_rate=MINIBATCH_LEARNING_RATE, random_state=SEED)
            python = (_python_path(lambda model=model, X=X, y=y: _epoch_seconds(model, X, y, 1))
                      if batch_size > 1 else math.nan)
            rows.append(SGDRow(label, f"epoch, batch_size={batch_size}",
                               _epoch_seconds(model, X, y, config.repeat), sklearn_epoch,
                               python, "-"))
        reference = _measure(clone(SGD).set_params(alpha=1e-4, tol=1e-3), X, y, config.repeat)
        target = reference.model.score(split.X_test, split.y_test)
        seconds, epochs, score = _fit_to_score(
            GD(solver="gd", batch_size=32, learning_rate="auto", decay="plateau", tol=1e-3,
               n_iter_no_change=1, random_state=SEED), split, target - SGD_SCORE_SLACK,
            config.repeat)
        rows.append(SGDRow(label, "fit to scikit-learn's score", seconds, reference.seconds,
                           math.nan, f"{score:.4f} in {epochs} epochs / {target:.4f} in "
                           f"{reference.model.n_iter_}"))
    return TaskResult("sgd", _describe(problems[0][1]), [
        "skgd: solver='gd', preconditioner None (what 'auto' is for mini-batches); "
        "epochs: learning_rate=0.01, alpha=1/n, against SGDClassifier(loss='log_loss') / "
        "SGDRegressor() with alpha=1/n and their default schedules, tol=None; an epoch's "
        f"time is (fit of {1 + SGD_EPOCHS} epochs - fit of 1) / {SGD_EPOCHS}",
        "fit: GDClassifier/GDRegressor(batch_size=32, learning_rate='auto', "
        "decay='plateau', tol=1e-3, n_iter_no_change=1, alpha=1e-4) for the fewest epochs "
        f"whose held-out score (accuracy, R^2) is within {SGD_SCORE_SLACK:g} of scikit-learn's "
        "default fit (alpha=1e-4, tol=1e-3), against that default fit",
        "the Python path (SKGD_PURE_PYTHON) is timed on one fit per size, batch_size=32 only "
        "(batch_size=1 takes about 45 us a step there)",
        f"sparse: {_describe(problems[2][1])}",
    ], rows)


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
    """The cost of building preconditioner="auto"'s metric within a default fit."""
    split = binary_data(config.rows(N_BINARY))
    alpha = 1.0 / split.X_train.shape[0]
    y = split.y_train.astype(np.float64)
    objective = LinearObjective(BinaryCrossEntropy(), split.X_train, y, alpha=alpha)
    name = _curvature.resolve("auto", objective)

    def build():
        return _curvature.make_metric(name, objective)

    build()
    build_seconds = min(_timed(build)[1] for _ in range(config.repeat))
    fit = _measure(GDClassifier(alpha=alpha), split.X_train, split.y_train, config.repeat)
    return TaskResult("auto", _describe(split), [
        "metric build: skgd._curvature.make_metric(resolve('auto', objective), objective) "
        "for LinearObjective(BinaryCrossEntropy(), X, y, alpha=1/n); fit: a default "
        "GDClassifier(alpha=1/n) fit, which builds it once (and may refit it to the local "
        "Hessian later, not counted here)",
    ], [AutoRow(str(split.X_train.dtype), str(name), build_seconds, fit.seconds,
                100 * build_seconds / fit.seconds, fit.model.n_iter_)])


class SearchRow(NamedTuple):
    """One search over the grid: its time against GridSearchCV's with the same n_jobs,
    its peak memory against X's size, and how its split scores compare with
    GridSearchCV's (n_jobs=1)."""

    contender: str
    seconds: float
    ratio: float
    peak_mib: float
    x_mib: float
    best: str
    score_difference: float
    n_diverged: int

    headers = ("contender", "time", "vs GridSearchCV", "peak MiB", "peak / X", "best",
               "max |score diff|", "diverged fits")

    def cells(self):
        ratio = "-" if math.isnan(self.ratio) else f"{self.ratio:.3f}"
        difference = ("-" if math.isnan(self.score_difference)
                      else f"{self.score_difference:.1e}")
        return (self.contender, _seconds(self.seconds), ratio, f"{self.peak_mib:.1f}",
                f"{self.peak_mib / self.x_mib:.2f}", self.best, difference,
                str(self.n_diverged))


# The grids of the search tasks: 4 learning rates x 3 alphas, cv=5. With the default
# preconditioner a rate multiplies the step that cannot diverge; the textbook grid takes
# plain steps (the largest diverges) and a budget of epochs, as the seed's experiment.
CV_ALPHAS = (1e-4, 1e-3, 1e-2)
CV_GRIDS = {
    "default": ({}, (0.25, 0.5, 1.0, 2.0)),
    "textbook": ({"preconditioner": None, "solver": "gd", "max_iter": 100, "tol": None},
                 (0.01, 0.1, 1.0, 100.0)),
}
CV_FOLDS = 5


def _search_rows(X, y, single, searcher, grid_name):
    """The CV estimator and GridSearchCV over one grid, n_jobs 1 and 2, in this run."""
    from sklearn.model_selection import GridSearchCV

    settings, rates = CV_GRIDS[grid_name]
    x_mib = _nbytes(X) / MIB
    rows, reference = [], {}
    for n_jobs in (1, 2):
        search = searcher(learning_rates=list(rates), alphas=list(CV_ALPHAS), cv=CV_FOLDS,
                          n_jobs=n_jobs, **settings)
        grid = GridSearchCV(single(**settings),
                            {"learning_rate": list(rates), "alpha": list(CV_ALPHAS)},
                            cv=CV_FOLDS, n_jobs=n_jobs, error_score=np.nan)
        measured = {}
        for label, model in ((type(search).__name__, search), ("GridSearchCV", grid)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # tracemalloc sees this process only: GridSearchCV(n_jobs=2)'s workers
                # are processes of their own.
                _, peak = _traced(lambda model=model: model.fit(X, y))
                seconds = _timed(lambda model=model: model.fit(X, y))[1]
            measured[label] = (model, seconds, peak)
        (search, search_seconds, search_peak) = measured[type(search).__name__]
        (grid, grid_seconds, grid_peak) = measured["GridSearchCV"]
        if n_jobs == 1:
            reference = grid.cv_results_
        scores = np.array([search.cv_results_[f"split{k}_test_score"] for k in range(CV_FOLDS)])
        expected = np.array([reference[f"split{k}_test_score"] for k in range(CV_FOLDS)])
        difference = float(np.nanmax(np.abs(scores - expected)))
        best = f"lr={search.learning_rate_:g}, alpha={search.alpha_:g}"
        grid_best = (f"lr={grid.best_params_['learning_rate']:g}, "
                     f"alpha={grid.best_params_['alpha']:g}")
        rows.append(SearchRow(f"{grid_name}: {type(search).__name__}(n_jobs={n_jobs})",
                              search_seconds, search_seconds / grid_seconds, search_peak,
                              x_mib, best, difference, int(search.cv_results_["n_diverged"]
                                                            .sum())))
        rows.append(SearchRow(f"{grid_name}: GridSearchCV(n_jobs={n_jobs})", grid_seconds,
                              math.nan, grid_peak, x_mib, grid_best, math.nan,
                              int(np.isnan(np.array([grid.cv_results_[f"split{k}_test_score"]
                                                     for k in range(CV_FOLDS)])).sum())))
    return rows


def _search_task(name, split, single, searcher):
    X = np.vstack([split.X_train, split.X_test])
    y = np.concatenate([split.y_train, split.y_test])
    rows = [row for grid_name in CV_GRIDS for row in _search_rows(X, y, single, searcher,
                                                                   grid_name)]
    grids = "; ".join(f"{grid_name}: learning_rates={list(rates)}"
                      + (f" with {settings}" if settings else "")
                      for grid_name, (settings, rates) in CV_GRIDS.items())
    return TaskResult(name, f"dense {X.shape[0]} x {X.shape[1]}, {X.dtype}, "
                      f"{_nbytes(X) / MIB:.1f} MiB", [
                          f"{single.__name__} over alphas={list(CV_ALPHAS)} and the "
                          f"learning rates of each grid, cv={CV_FOLDS}; {grids}",
                          "time: one fit of the search after a traced one; vs GridSearchCV: "
                          "over GridSearchCV's time with the same n_jobs; peak: tracemalloc "
                          "peak of this process during the fit, X excluded (GridSearchCV's "
                          "n_jobs=2 workers are other processes, unseen)",
                          "max |score diff|: the largest difference of a split score from "
                          "GridSearchCV(n_jobs=1)'s (diverged fits are NaN in both)",
                      ], rows)


def cv_binary(config):
    """GDClassifierCV against GridSearchCV(GDClassifier) on the binary task's data."""
    from skgd import GDClassifierCV

    return _search_task("cv_binary", binary_data(config.rows(N_BINARY)), GDClassifier,
                        GDClassifierCV)


def cv_multiclass(config):
    """GDClassifierCV against GridSearchCV(GDClassifier) on the 10-class task's data."""
    from skgd import GDClassifierCV

    return _search_task("cv_multiclass", multiclass_data(config.rows(N_MULTICLASS)),
                        GDClassifier, GDClassifierCV)


TASKS = {
    "regression": regression,
    "binary": binary,
    "multiclass": multiclass,
    "sparse": sparse,
    "minibatch": minibatch,
    "sgd": sgd,
    "loss_gradient": loss_gradient,
    "float32": float32,
    "auto": auto,
    "onehot_binary": onehot_binary,
    "onehot_multiclass": onehot_multiclass,
    "collinear": collinear,
    "real": real,
    "real_regression": real_regression,
    "cv_binary": cv_binary,
    "cv_multiclass": cv_multiclass,
}
