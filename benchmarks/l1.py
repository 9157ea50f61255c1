"""L1 and elastic-net fits: skgd's default against scikit-learn's coordinate descent and saga.

Each cell is one table and one objective: least squares plus ``alpha (l1_ratio ||coef||_1
+ (1 - l1_ratio)/2 ||coef||^2)`` (``Lasso``'s and ``ElasticNet``'s, against which
``GDRegressor(penalty="l1" / "elasticnet")`` is timed), or the cross-entropy plus
``alpha ||coef||_1`` (``LogisticRegression(C=1/(n alpha))`` with the L1 penalty, timed with
liblinear for two classes and saga). In one process each contender fits ``--repeat``
times and keeps its best time; its gap is ``(F - F*) / |F*|``, ``F*`` the least objective
any contender or an exact reference (the same solver at a tolerance of 1e-13) reached.
The line per cell names the fastest scikit-learn fit (whatever gap it stopped at), skgd's
time over it, and what skgd's ``"auto"`` chose: proximal Newton in the full metric
(``lbfgs/full``) where its prox pays, the accelerated gradient in the diagonal metric
elsewhere (wide X, many classes).

Examples
--------
::

    python -m benchmarks.l1                 # every cell, full sizes
    python -m benchmarks.l1 --quick         # 10x fewer generated rows
    python -m benchmarks.l1 --only diabetes breast
"""

from __future__ import annotations

import warnings

import numpy as np
import sklearn
from scipy.special import log_softmax
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.linear_model import ElasticNet, LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

from skgd import GDClassifier, GDRegressor

from .regimes import Result, _fit, background_load, print_contenders, sweep_arguments

SEED = 0
# scikit-learn 1.8 turned LogisticRegression's L1 penalty from penalty="l1" into l1_ratio=1.
L1_LOGISTIC = ({"l1_ratio": 1.0} if parse_version(sklearn.__version__) >= parse_version("1.8")
               else {"penalty": "l1"})


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _generated(make, n, p, **kwargs):
    X, y = make(n_samples=n, n_features=p, n_informative=max(p // 5, 2),
                random_state=SEED, **kwargs)
    return StandardScaler().fit_transform(X), y


def cells(quick):
    """``(name, task, make_data, alpha, l1_ratio)``: task "regression" or "classification";
    ``alpha`` None is ``1/n`` (``LogisticRegression(C=1)``'s strength)."""
    rows = 2_000 if quick else 20_000
    wide_rows = 500 if quick else 2_000
    return [
        ("diabetes lasso", "regression", lambda: _standardised(load_diabetes), 0.5, 1.0),
        ("diabetes enet", "regression", lambda: _standardised(load_diabetes), 2.0, 0.5),
        (f"lasso {rows}x100", "regression",
         lambda: _generated(make_regression, rows, 100, noise=5.0), 0.1, 1.0),
        (f"lasso {wide_rows}x300", "regression",
         lambda: _generated(make_regression, wide_rows, 300, noise=5.0), 0.1, 1.0),
        ("breast_cancer", "classification", lambda: _standardised(load_breast_cancer),
         None, 1.0),
        ("breast_cancer C=.1", "classification",
         lambda: _standardised(load_breast_cancer), 10.0 / 569, 1.0),
        (f"binary {rows}x50", "classification",
         lambda: _generated(make_classification, rows, 50), None, 1.0),
        (f"binary {rows}x50 .01", "classification",
         lambda: _generated(make_classification, rows, 50), 1e-2, 1.0),
        ("wine (K=3)", "classification", lambda: _standardised(load_wine), None, 1.0),
        ("digits (K=10)", "classification", lambda: _standardised(load_digits), 1e-2, 1.0),
    ]


def objective(model, X, y, alpha, l1_ratio, task):
    """The cell's objective at a fitted model's coefficients."""
    coef = np.atleast_2d(model.coef_)
    penalty = alpha * (l1_ratio * np.abs(coef).sum()
                       + 0.5 * (1 - l1_ratio) * np.sum(coef ** 2))
    if task == "regression":
        residual = X @ coef.ravel() + model.intercept_ - y
        return 0.5 * np.mean(residual ** 2) + penalty
    scores = X @ coef.T + model.intercept_
    if coef.shape[0] == 1:
        scores = np.column_stack([np.zeros(len(y)), scores[:, 0]])
    classes = np.searchsorted(model.classes_, y)
    return -np.mean(log_softmax(scores, axis=1)[np.arange(len(y)), classes]) + penalty


def contenders(task, n, k, alpha, l1_ratio):
    """``{label: make}``: skgd's default and scikit-learn's solvers at their defaults."""
    if task == "regression":
        penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
        return {
            "skgd": lambda: GDRegressor(alpha=alpha, penalty=penalty, l1_ratio=l1_ratio),
            "coordinate descent": lambda: ElasticNet(alpha=alpha, l1_ratio=l1_ratio),
        }
    C = 1.0 / (n * alpha)
    solvers = ("liblinear", "saga") if k == 2 else ("saga",)
    made = {"skgd": lambda: GDClassifier(alpha=alpha, penalty="l1")}
    for solver in solvers:
        made[solver] = lambda solver=solver: LogisticRegression(
            C=C, solver=solver, **L1_LOGISTIC)
    return made


def exact_reference(task, alpha, l1_ratio, n):
    if task == "regression":
        return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-13, max_iter=1_000_000)
    return LogisticRegression(C=1.0 / (n * alpha), solver="saga", **L1_LOGISTIC,
                              tol=1e-13, max_iter=100_000)


def run_cell(X, y, task, alpha, l1_ratio, repeat):
    n, k = len(y), (0 if task == "regression" else len(np.unique(y)))
    results, models = [], {}
    for label, make in contenders(task, n, k, alpha, l1_ratio).items():
        model, seconds = _fit(make, X, y, repeat)
        models[label] = model
        results.append(Result(label, seconds,
                              objective(model, X, y, alpha, l1_ratio, task),
                              int(np.max(model.n_iter_))))
    reference, _ = _fit(lambda: exact_reference(task, alpha, l1_ratio, n), X, y, 1)
    f_star = min([objective(reference, X, y, alpha, l1_ratio, task)]
                 + [r.value for r in results])
    return f_star, results, models["skgd"]


def main(argv=None):
    args, limits = sweep_arguments(argv, "python -m benchmarks.l1",
                                   __doc__.split("\n\n")[0], "10x fewer generated rows",
                                   "cell", "cell")
    print(f"L1 fits: repeat={args.repeat}, BLAS threads={args.threads or 'default'}, "
          f"background load={args.load}, {'quick' if args.quick else 'full'} sizes")
    print(f"{'cell':<22} {'shape':>10} {'alpha':>8} {'fastest sklearn':>18} {'time':>9} "
          f"{'gap':>6} | {'skgd':>9} {'gap':>6} {'ratio':>6} {'ep.':>4} {'chose':>18} "
          f"{'nonzeros':>8}")
    with limits, background_load(args.load), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, task, make, alpha, l1_ratio in cells(args.quick):
            if args.only and not name.startswith(tuple(args.only)):
                continue
            X, y = make()
            alpha = 1.0 / len(y) if alpha is None else alpha
            f_star, results, model = run_cell(X, y, task, alpha, l1_ratio, args.repeat)
            skgd = results[0]
            fastest = min(results[1:], key=lambda r: r.seconds)
            chose = f"{model.solver_}/{model.preconditioner_}"
            print(f"{name:<22} {X.shape[0]:>5}x{X.shape[1]:<4} {alpha:>8.1e} "
                  f"{fastest.contender:>18} {fastest.seconds * 1e3:>7.1f}ms "
                  f"{(fastest.value - f_star) / abs(f_star):>6.0e} | "
                  f"{skgd.seconds * 1e3:>7.1f}ms {(skgd.value - f_star) / abs(f_star):>6.0e} "
                  f"{skgd.seconds / fastest.seconds:>6.2f} {skgd.n_iter:>4} {chose:>18} "
                  f"{int(np.count_nonzero(model.coef_)):>8}", flush=True)
            if args.all:
                print_contenders(results, f_star)


if __name__ == "__main__":
    main()
