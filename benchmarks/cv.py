"""The CV estimators against scikit-learn's searches on the same alphas and folds.

Each task fits, in this one process and one run: skgd's CV estimator at its defaults
(``solver="auto"``: L-BFGS for these fits) and with ``solver="accelerated"``, each with
its alphas on a regularisation path and from zero (subclasses that force the one or the
other; "(chosen)" marks what the search itself does there); scikit-learn's own search
of the regularisation on the same alphas and folds (``LogisticRegressionCV`` with
``Cs = 1 / (n_train * alpha)``, ``RidgeCV`` with ``alphas = n_train * alpha``, the
equivalences of API.md); and
``GridSearchCV`` over skgd's single estimator on the same grid. Every search is given the
same list of ``(train, test)`` index arrays and refits its best setting on all the rows,
as each does by default. Times are the best of ``--repeat`` fits, taken in rounds over
the contenders so that each sees the machine's load alike (``GridSearchCV``: one fit, it
takes the longest), under one and two BLAS threads (threadpoolctl). The tasks:

- ``digits``: the digits (1797 x 64, 10 classes, standardised), cv=3, four alphas;
- ``readme``: the README's example on the digits, learning rates [0.5, 1.0, "auto"] x
  alphas [1e-4, 1e-3], cv=3 (``LogisticRegressionCV`` searches the two alphas);
- ``binary``, ``multiclass``: ``make_classification`` 60 000 x 60 (20 informative),
  2 and 5 classes, standardised, cv=5, four alphas;
- ``onehot``: a sparse one-hot table (two Zipf-skewed high-cardinality columns, one of
  20 levels, 8 numeric columns; 20 000 rows, about 2 000 CSR columns), 2 classes, cv=5;
- ``rates``: the binary table, learning rates [0.01, 0.1, 1.0, "auto"] x three alphas,
  against ``GridSearchCV`` only (scikit-learn's searches have no learning rate);
- ``regression``: ``make_regression`` 60 000 x 60 (20 informative, noise 10),
  standardised, cv=5, ``GDRegressorCV`` against ``RidgeCV``.

Columns: the wall time; its ratio to scikit-learn's search of the task
(``LogisticRegressionCV`` or ``RidgeCV``), and the same ratio of process (CPU) times,
which other processes on a shared machine move less; the ratio to ``GridSearchCV``'s;
the alpha chosen; the largest difference of a split score from ``GridSearchCV``'s; the
epochs (iterations for scikit-learn) summed over all (setting, fold) fits, ``*`` where
a fit ended with a ``ConvergenceWarning``. With ``--profile`` the skgd search at its
defaults is profiled once per task: the functions that took the most time.

Examples
--------
::

    python -m benchmarks.cv                          # every task, 1 and 2 BLAS threads
    python -m benchmarks.cv --only digits readme --threads 1
    python -m benchmarks.cv --quick --repeat 1       # 20x fewer generated rows
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import time
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skgd import GDClassifier, GDClassifierCV, GDRegressor, GDRegressorCV
from skgd._cv import _alphas_alone

SEED = 0
# The alphas of the path tasks (the issue's), and of the learning-rate grid.
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2)
RATES_ALPHAS = (1e-5, 1e-4, 1e-3)
RATES = (0.01, 0.1, 1.0, "auto")
README_GRID = ((0.5, 1.0, "auto"), (1e-4, 1e-3))
N_ROWS, N_FEATURES = 60_000, 60
N_ONEHOT = 20_000
# --quick divides the generated tables' rows by this (the digits keep theirs).
QUICK_SHRINK = 20


class Task(NamedTuple):
    name: str
    title: str
    X: object
    y: np.ndarray
    splits: list
    rates: tuple
    alphas: tuple
    regression: bool = False
    # Whether scikit-learn has a search of this grid (it has none of learning rates).
    reference: bool = True


class Row(NamedTuple):
    contender: str
    seconds: float
    # Process (CPU) time: on a shared machine, less moved by other processes' load.
    cpu: float
    alpha: float
    # Largest |split score - GridSearchCV's| (NaN for GridSearchCV itself).
    difference: float
    # Epochs (iterations) summed over all fits, and whether any fit warned.
    work: int
    warned: bool


def _standardised(X):
    return StandardScaler().fit_transform(X)


def _onehot(n, rng):
    """Two Zipf-skewed categoricals of ``n / 12`` levels each, one of 20 levels and 8
    numeric columns, one-hot encoded to CSR; y from a logistic model of them."""
    levels = max(n // 12, 2)
    codes = [np.minimum(rng.zipf(1.3, n), levels) - 1 for _ in range(2)]
    codes.append(rng.integers(0, 20, n))
    onehot = OneHotEncoder(handle_unknown="ignore").fit_transform(np.column_stack(codes))
    numeric = _standardised(rng.standard_normal((n, 8)))
    X = sp.hstack([onehot, sp.csr_matrix(numeric)], format="csr")
    score = X @ rng.standard_normal(X.shape[1])
    return X, (score + rng.logistic(size=n) > 0).astype(np.int64)


def tasks(quick):
    """The tasks, each generated on demand: ``(name, make)``."""
    shrink = QUICK_SHRINK if quick else 1
    n = N_ROWS // shrink

    def digits(name, rates, alphas):
        X, y = load_digits(return_X_y=True)
        if quick:
            X, y = X[:600], y[:600]
        X = _standardised(X)
        return Task(name, f"digits {X.shape[0]} x {X.shape[1]}, 10 classes", X, y,
                    list(StratifiedKFold(3).split(X, y)), rates, alphas)

    def classification(name, n_classes, rates=("auto",), alphas=ALPHAS, reference=True):
        X, y = make_classification(n, N_FEATURES, n_informative=20, n_classes=n_classes,
                                   random_state=SEED)
        X = _standardised(X)
        return Task(name, f"dense {n} x {N_FEATURES}, {n_classes} classes", X, y,
                    list(StratifiedKFold(5).split(X, y)), rates, alphas,
                    reference=reference)

    def onehot():
        X, y = _onehot(N_ONEHOT // shrink, np.random.default_rng(SEED))
        return Task("onehot", f"one-hot CSR {X.shape[0]} x {X.shape[1]}, 2 classes", X, y,
                    list(StratifiedKFold(5).split(X, y)), ("auto",), ALPHAS)

    def regression():
        X, y = make_regression(n, N_FEATURES, n_informative=20, noise=10,
                               random_state=SEED)
        X = _standardised(X)
        return Task("regression", f"dense {n} x {N_FEATURES}, regression", X, y,
                    list(KFold(5).split(X)), ("auto",), ALPHAS, regression=True)

    return {
        "digits": lambda: digits("digits", ("auto",), ALPHAS),
        "readme": lambda: digits("readme", *README_GRID),
        "binary": lambda: classification("binary", 2),
        "multiclass": lambda: classification("multiclass", 5),
        "onehot": onehot,
        "rates": lambda: classification("rates", 2, RATES, RATES_ALPHAS, reference=False),
        "regression": regression,
    }


def _timed_fits(contenders, X, y, repeat):
    """Fit each ``(label, make, n_fits)`` up to ``n_fits`` times (at most ``repeat``), in
    rounds over the contenders, so that each sees the machine's load alike: per label the
    last model, the best wall and process (CPU) times, and whether a fit warned of not
    converging."""
    models, wall, cpu, warned = {}, {}, {}, {}
    for round_ in range(repeat):
        for label, make, n_fits in contenders:
            if round_ >= n_fits:
                continue
            model = make()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start, start_cpu = time.perf_counter(), time.process_time()
                model.fit(X, y)
                seconds, cpu_seconds = (time.perf_counter() - start,
                                        time.process_time() - start_cpu)
            models[label] = model
            wall[label] = min(wall.get(label, math.inf), seconds)
            cpu[label] = min(cpu.get(label, math.inf), cpu_seconds)
            warned[label] = warned.get(label, False) or any(
                issubclass(w.category, ConvergenceWarning) for w in caught)
    return models, wall, cpu, warned


def _split_scores(results, n_splits):
    return np.array([results[f"split{k}_test_score"] for k in range(n_splits)])


def _epochs(search):
    return int(sum(len(curve) for curves in search.loss_curves_ for curve in curves))


def _path_forced(cv_class, on):
    """``cv_class`` with each fold's alphas on a regularisation path (``on``) wherever the
    search is of alpha alone, or every fit from zero: what the path saves or costs where
    the search would not take it (a benchmark's look inside, not an option)."""
    rule = _alphas_alone if on else (lambda fits: False)
    return type(f"{cv_class.__name__}{'Path' if on else 'FromZero'}", (cv_class,),
                {"_follows_path": staticmethod(rule)})


def _takes_path(search, X, y):
    """Whether ``search`` (unfitted) runs its alphas as a path here: after three epochs per
    fit (L-BFGS moves at its second), a fit on a path starts below the objective at zero,
    which all others start at."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = clone(search).set_params(max_iter=3, refit=False).fit(X, y)
    starts = np.array([[curve[0] for curve in curves] for curves in search.loss_curves_])
    return bool(np.any(starts < starts.max(axis=0)))


def _searches(task):
    """``(label, make)`` of the skgd searches, scikit-learn's own (or None) and
    GridSearchCV's. A search of alpha alone is timed both on a path and from zero, for
    the default solver and the accelerated gradient, the one the search takes marked
    "(chosen)"."""
    n_train = len(task.splits[0][0])
    grid = {"learning_rates": list(task.rates), "alphas": list(task.alphas)}
    cv_class, single = ((GDRegressorCV, GDRegressor) if task.regression
                        else (GDClassifierCV, GDClassifier))
    if task.rates != ("auto",):
        skgd = [(cv_class.__name__, lambda: cv_class(**grid, cv=task.splits))]
    else:
        skgd = []
        for settings in ({}, {"solver": "accelerated"}):
            name = cv_class.__name__ + "".join(f"({key}={value!r})"
                                                for key, value in settings.items())
            chosen = _takes_path(cv_class(**grid, cv=task.splits, **settings), task.X,
                                 task.y)
            for on in (True, False):
                forced = _path_forced(cv_class, on)
                skgd.append((f"{name}, {'path' if on else 'from zero'}"
                             + (" (chosen)" if on == chosen else ""),
                             lambda forced=forced, settings=settings: forced(
                                 **grid, cv=task.splits, **settings)))
    reference = None
    if task.reference and task.regression:
        reference = ("RidgeCV", lambda: RidgeCV(
            alphas=[n_train * alpha for alpha in task.alphas], cv=task.splits))
    elif task.reference:
        reference = ("LogisticRegressionCV", lambda: LogisticRegressionCV(
            Cs=[1 / (n_train * alpha) for alpha in task.alphas], cv=task.splits))
    grid_search = (f"GridSearchCV({single.__name__})", lambda: GridSearchCV(
        single(), {"learning_rate": list(task.rates), "alpha": list(task.alphas)},
        cv=task.splits, error_score=np.nan))
    return skgd, reference, grid_search


def run_task(task, repeat):
    """The rows of one task, in this thread setting: the skgd searches, scikit-learn's
    search, GridSearchCV (fitted once: it takes the longest)."""
    n_train, n_splits = len(task.splits[0][0]), len(task.splits)
    skgd, reference, grid_search = _searches(task)
    contenders = [(label, make, repeat) for label, make in skgd]
    if reference is not None:
        contenders.append((*reference, repeat))
    contenders.append((*grid_search, 1))
    models, wall, cpu, warned = _timed_fits(contenders, task.X, task.y, repeat)
    grid = models[grid_search[0]]
    expected = _split_scores(grid.cv_results_, n_splits)
    rows = []
    for label, _ in skgd:
        search = models[label]
        difference = float(np.nanmax(np.abs(_split_scores(search.cv_results_, n_splits)
                                            - expected)))
        rows.append(Row(label, wall[label], cpu[label], search.alpha_, difference,
                        _epochs(search), warned[label]))
    if reference is not None:
        label = reference[0]
        model = models[label]
        alpha = (model.alpha_ / n_train if task.regression
                 else 1 / (n_train * float(np.ravel(model.C_)[0])))
        work = 0 if task.regression else int(np.sum(np.max(model.n_iter_, axis=0)))
        rows.append(Row(label, wall[label], cpu[label], alpha, math.nan, work,
                        warned[label]))
    label = grid_search[0]
    rows.append(Row(label, wall[label], cpu[label], grid.best_params_["alpha"], math.nan,
                    0, warned[label]))
    return rows


def _format(task, threads, rows):
    reference = next((row for row in rows if row.contender in ("LogisticRegressionCV",
                                                                "RidgeCV")), None)
    grid = rows[-1]
    head = (f"{task.name}: {task.title}, cv={len(task.splits)}, learning_rates="
            f"{list(task.rates)}, alphas={list(task.alphas)}; {threads} BLAS thread"
            + ("s" if threads > 1 else ""))
    lines = [head, f"  {'contender':<50} {'time':>9} {'vs sklearn':>10} "
             f"{'(cpu)':>6} {'vs GridSearchCV':>15} {'alpha':>8} {'|score diff|':>12} "
             f"{'work':>8}"]
    for row in rows:
        versus = cpu = "-"
        if reference is not None:
            versus = f"{row.seconds / reference.seconds:.2f}"
            cpu = f"{row.cpu / reference.cpu:.2f}"
        difference = "-" if math.isnan(row.difference) else f"{row.difference:.1e}"
        work = "-" if not row.work else f"{row.work}" + ("*" if row.warned else "")
        lines.append(f"  {row.contender:<50} {row.seconds:>8.3f}s {versus:>10} {cpu:>6} "
                     f"{row.seconds / grid.seconds:>15.3f} {row.alpha:>8.2g} "
                     f"{difference:>12} {work:>8}")
    return "\n".join(lines)


def _profile(task, top=12):
    """The functions that took the most time in one fit of skgd's search at its
    defaults (as the search chooses, on a path or from zero)."""
    skgd = _searches(task)[0]
    label, make = next((row for row in skgd if "(chosen)" in row[0]), skgd[0])
    search = make()
    profiler = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profiler.runcall(search.fit, task.X, task.y)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    body = [line for line in out.getvalue().splitlines() if line.strip()]
    return "\n".join([f"  profile of {label} (tottime):", *("    " + line
                                                              for line in body[-top - 1:])])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cv",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SHRINK}x fewer generated rows, 600 digits")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed fits per search, the best kept (GridSearchCV: one)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="BLAS thread counts to run under (default: 1 2)")
    parser.add_argument("--only", nargs="+", choices=list(tasks(False)), metavar="TASK",
                        help=f"run only these tasks, among {', '.join(tasks(False))}")
    parser.add_argument("--profile", action="store_true",
                        help="profile the skgd search at its defaults once per task")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: need at least one timed fit.")
    makers = tasks(args.quick)
    print(f"CV searches: repeat={args.repeat}, BLAS threads={args.threads}, "
          f"{'quick' if args.quick else 'full'} sizes")
    for name in args.only or makers:
        task = makers[name]()
        for threads in args.threads:
            with threadpool_limits(limits=threads):
                rows = run_task(task, args.repeat)
            print()
            print(_format(task, threads, rows), flush=True)
        if args.profile:
            with threadpool_limits(limits=args.threads[0]):
                print(_profile(task), flush=True)


if __name__ == "__main__":
    main()
