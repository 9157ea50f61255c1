"""Demo: gradient descent against scikit-learn's exact solvers, run as ``python -m skgd``.

For three of scikit-learn's bundled datasets (they load offline) -- ``diabetes`` for
:class:`~skgd.GDRegressor`, ``breast_cancer`` and ``digits`` for
:class:`~skgd.GDClassifier` -- the demo makes one train/test split with a fixed seed
(stratified for classification), fits a ``StandardScaler`` on the training rows, and fits
a few settings of the gradient-descent estimator: the default (``solver="auto"``, which
takes L-BFGS in the curvature metric for these full-batch fits), ``learning_rate="auto"``
with the ``"accelerated"`` and ``"gd"`` solvers, the ``"cosine"`` and ``"inverse"``
decays, and a small fixed learning rate that crawls and runs out of epochs. Next to them
it fits the scikit-learn solver of the same objective, ``Ridge(alpha=n*a)`` for
``GDRegressor(alpha=a)`` and ``LogisticRegression(C=1/(n*a))`` for
``GDClassifier(alpha=a)`` (``n`` training rows), and evaluates that objective at the
solver's coefficients with
:class:`skgd.losses.LinearObjective`.

Each table row shows the iterations run (epochs for gradient descent, solver iterations
for ``LogisticRegression``, none for Ridge's closed form), the final training objective
(``loss_curve_[-1]`` for gradient descent), its relative gap to the exact solver's
objective, the held-out score (R^2 or accuracy) and the fit time. Rows marked ``*`` ended
at ``max_iter`` without converging; their ``ConvergenceWarning`` is recorded, not printed.
A line on stderr announces each fit as it starts. ``--plot FILE`` also saves the loss
curves: one subplot per dataset, one line per setting, the relative gap of the training
objective to the exact solver's after each epoch, on a log scale (needs matplotlib).

Examples
--------
::

    python -m skgd                          # all three datasets
    python -m skgd breast_cancer            # one of them
    python -m skgd --plot loss_curves.png   # and the loss curves
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils._optional_dependencies import check_matplotlib_support
from threadpoolctl import threadpool_limits

from skgd import GDClassifier, GDRegressor, LossCurveDisplay
from skgd.losses import (
    BinaryCrossEntropy,
    CategoricalCrossEntropy,
    LinearObjective,
    SquaredError,
)

SEED = 0
TEST_SIZE = 0.25
MAX_ITER = 1500

# (label, estimator parameters) of the gradient-descent rows, the same on every dataset.
# The first three step in the curvature metric of preconditioner="auto"; the "gd" rows
# are the textbook update w <- w - learning_rate * grad, without a preconditioner.
SETTINGS = [
    ("default (auto: lbfgs)", {}),
    ("accelerated, lr=auto", {"solver": "accelerated"}),
    ("accelerated, lr=auto, cosine", {"solver": "accelerated", "decay": "cosine"}),
    ("gd, no precond., lr=auto", {"solver": "gd", "preconditioner": None}),
    ("gd, no precond., lr=auto, inverse", {"solver": "gd", "decay": "inverse",
                                           "preconditioner": None}),
    ("gd, no precond., lr=0.001 (crawl)", {"solver": "gd", "learning_rate": 0.001,
                                           "preconditioner": None, "max_iter": 300}),
]


class Dataset(NamedTuple):
    """How to load, fit and score one demo dataset."""

    load: Callable
    estimator: type
    # Penalty strength a of the gradient-descent objective, from the training rows n.
    alpha: Callable[[int], float]


DATASETS = {
    "diabetes": Dataset(load_diabetes, GDRegressor, lambda n: 1e-3),
    # alpha = 1/n makes the matching LogisticRegression C = 1, its default.
    "breast_cancer": Dataset(load_breast_cancer, GDClassifier, lambda n: 1.0 / n),
    "digits": Dataset(load_digits, GDClassifier, lambda n: 1.0 / n),
}


class Row(NamedTuple):
    """One fitted model of the table."""

    model: str
    setting: str
    n_iter: int | None
    objective: float
    score: float
    fit_time: float
    converged: bool
    # Training objective after each epoch; None for the exact solver.
    loss_curve: list | None = None


class Comparison(NamedTuple):
    """The gradient-descent rows of one dataset and the exact solver's row."""

    name: str
    n_train: int
    n_test: int
    n_features: int
    alpha: float
    rows: list
    reference: Row


def relative_gap(row, reference):
    """``(row.objective - reference.objective) / |reference.objective|``."""
    return (row.objective - reference.objective) / abs(reference.objective)


def _split(dataset):
    X, y = dataset.load(return_X_y=True)
    stratify = None if dataset.estimator is GDRegressor else y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED, stratify=stratify)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _fit(model, X, y):
    """Fit; return the seconds taken and whether it ended without a ConvergenceWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    converged = True
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return seconds, converged


def _reference(dataset, X, y, alpha):
    """The exact solver of the objective that ``dataset.estimator(alpha=alpha)`` minimises.

    Returns the unfitted solver, the per-sample loss and ``y`` encoded for that loss.
    """
    n = X.shape[0]
    if dataset.estimator is GDRegressor:
        return Ridge(alpha=n * alpha), SquaredError(), y
    classes = np.unique(y)
    y_encoded = np.searchsorted(classes, y)
    if len(classes) == 2:
        loss, y_encoded = BinaryCrossEntropy(), y_encoded.astype(np.float64)
    else:
        loss = CategoricalCrossEntropy(len(classes))
    # A tight tol so that the reference objective is exact to many digits.
    model = LogisticRegression(C=1.0 / (n * alpha), tol=1e-8, max_iter=10_000)
    return model, loss, y_encoded


def compare(name, *, progress=False):
    """Fit every setting and the exact solver on dataset ``name``; return the rows.

    Parameters
    ----------
    name : {"diabetes", "breast_cancer", "digits"}
    progress : bool, default=False
        Print a line to stderr as each fit starts.

    Returns
    -------
    comparison : Comparison
    """
    # These problems are small: BLAS threads only add overhead (and much more of it on a
    # busy machine), so every model, ours and scikit-learn's, is timed on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        return _compare(name, DATASETS[name], progress)


def _compare(name, dataset, progress):
    X_train, X_test, y_train, y_test = _split(dataset)
    n_train = X_train.shape[0]
    alpha = dataset.alpha(n_train)
    estimator = dataset.estimator.__name__

    rows = []
    for setting, params in SETTINGS:
        model = dataset.estimator(**{"alpha": alpha,
                                     "max_iter": MAX_ITER, **params})
        if progress:
            print(f"{name}: fitting {estimator} ({setting})", file=sys.stderr, flush=True)
        seconds, converged = _fit(model, X_train, y_train)
        rows.append(Row(estimator, setting, model.n_iter_, model.loss_curve_[-1],
                        model.score(X_test, y_test), seconds, converged, model.loss_curve_))

    model, loss, y_encoded = _reference(dataset, X_train, y_train, alpha)
    if progress:
        print(f"{name}: fitting {type(model).__name__} (exact)", file=sys.stderr, flush=True)
    seconds, converged = _fit(model, X_train, y_train)
    objective = LinearObjective(loss, X_train, y_encoded, alpha=alpha)
    params = np.concatenate([np.ravel(model.coef_), np.ravel(model.intercept_)])
    n_iter = getattr(model, "n_iter_", None)
    reference = Row(type(model).__name__, "exact", None if n_iter is None else int(np.max(n_iter)),
                    objective.loss(params), model.score(X_test, y_test), seconds, converged)
    return Comparison(name, n_train, X_test.shape[0], X_train.shape[1], alpha, rows, reference)


def format_comparison(comparison):
    """The one-line header and the aligned table of a :class:`Comparison`, as text."""
    c = comparison
    ref = c.reference
    if ref.model == "Ridge":
        matching, score_name = f"Ridge(alpha={c.n_train * c.alpha:.4g})", "R^2"
    else:
        matching, score_name = f"LogisticRegression(C={1 / (c.n_train * c.alpha):.4g})", "accuracy"
    lines = [f"{c.name}: {c.n_train} train / {c.n_test} test rows, {c.n_features} features; "
             f"{c.rows[0].model}(alpha={c.alpha:.4g}) vs {matching}"]
    header = (f"  {'model':<18} {'setting':<34} {'iter':>6} {'objective':>16} "
              f"{'rel. gap':>9} {score_name:>8} {'fit time':>9}")
    lines += [header, "  " + "-" * (len(header) - 2)]
    for row in [*c.rows, ref]:
        n_iter = "-" if row.n_iter is None else f"{row.n_iter}{'' if row.converged else '*'}"
        gap = "(ref)" if row is ref else f"{relative_gap(row, ref):+.1e}"
        lines.append(f"  {row.model:<18} {row.setting:<34} {n_iter:>6} {row.objective:>16.10g} "
                     f"{gap:>9} {row.score:>8.4f} {row.fit_time * 1e3:>7.1f}ms")
    return "\n".join(lines)


def settings_legend():
    """What each setting of the tables is, as the keyword arguments to pass."""
    lines = ["settings (each row's estimator takes alpha=..., max_iter=1500 and these):"]
    for label, params in SETTINGS:
        arguments = ", ".join(f"{key}={value!r}" for key, value in params.items())
        lines.append(f"  {label + ':':<35} {arguments}")
    return "\n".join(lines)


def code_for(comparison, setting):
    """Python code that repeats one row of ``comparison``: copy it and go on from there."""
    dataset = DATASETS[comparison.name]
    estimator = dataset.estimator.__name__
    params = {"alpha": comparison.alpha, "max_iter": MAX_ITER,
              **dict(SETTINGS)[setting]}
    arguments = ", ".join(f"{key}={value!r}" for key, value in params.items())
    stratify = "" if dataset.estimator is GDRegressor else ", stratify=y"
    return "\n".join([
        f"from sklearn.datasets import {dataset.load.__name__}",
        "from sklearn.model_selection import train_test_split",
        "from sklearn.pipeline import make_pipeline",
        "from sklearn.preprocessing import StandardScaler",
        f"from skgd import {estimator}",
        "",
        f"X, y = {dataset.load.__name__}(return_X_y=True)",
        "X_train, X_test, y_train, y_test = train_test_split(",
        f"    X, y, test_size={TEST_SIZE}, random_state={SEED}{stratify})",
        f"model = make_pipeline(StandardScaler(), {estimator}({arguments}))",
        "print(model.fit(X_train, y_train).score(X_test, y_test))",
    ])


def plot_comparisons(comparisons, path):
    """Save the loss curves of the gradient-descent rows to the image file ``path``.

    One subplot per :class:`Comparison`, one line per setting: the relative gap of the
    training objective to the exact solver's objective after each epoch, on a log scale.

    Parameters
    ----------
    comparisons : list of Comparison
    path : str or path-like
        Where to save the figure; its extension picks the format (``.png``, ``.pdf``...).
    """
    # A bare Figure needs no pyplot, hence no GUI backend, to be saved.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * len(comparisons), 4.5), layout="constrained")
    for ax, comparison in zip(figure.subplots(1, len(comparisons), squeeze=False)[0],
                              comparisons, strict=True):
        reference = comparison.reference.objective
        for row in comparison.rows:
            gap = (np.asarray(row.loss_curve) - reference) / abs(reference)
            # Gaps below the float64 resolution are rounding noise around the optimum;
            # clipped there, they stay on the log scale.
            LossCurveDisplay(np.maximum(gap, np.finfo(np.float64).eps),
                             estimator_name=row.setting).plot(ax=ax, log_scale=True)
        ax.set_ylabel("relative gap to the exact objective")
        ax.set_title(f"{comparison.name} ({comparison.rows[0].model})")
    figure.savefig(path)


def _check_plot_path(parser, path):
    """Exit with a usage error unless the figure can be saved at ``path``.

    Checked before the fits, so that a typo costs no wait and ends in one line, not in
    a traceback after all the fits.
    """
    if not path:
        parser.error("--plot needs a file name, e.g. --plot curves.png.")
    if os.path.isdir(path):
        parser.error(f"--plot {path} is a directory; name a file in it, e.g. --plot "
                     f"{os.path.join(path, 'curves.png')}.")
    try:
        check_matplotlib_support("python -m skgd --plot")
    except ImportError as error:
        parser.error(str(error))
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if extension not in formats:
        parser.error(f"--plot {path}: the extension picks the image format; use one "
                     f"matplotlib writes: {', '.join('.' + name for name in sorted(formats))}.")
    directory = os.path.dirname(path) or os.curdir
    if not os.path.isdir(directory):
        parser.error(f"--plot {path}: directory {directory} does not exist.")


def main(argv=None):
    """Print the comparison tables of the datasets named in ``argv`` (default: all).

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m skgd",
        description="Fit skgd's gradient-descent estimators on scikit-learn's bundled "
                    "datasets next to the exact scikit-learn solver of the same objective.")
    parser.add_argument("datasets", nargs="*", metavar="dataset",
                        help=f"datasets to run, among {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--plot", metavar="FILE",
                        help="also save the loss curves to this image file, e.g. curves.png "
                             "(needs matplotlib)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.datasets if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose among "
                     f"{', '.join(DATASETS)}.")
    if args.plot is not None:
        _check_plot_path(parser, args.plot)
    comparisons = []
    for name in args.datasets or DATASETS:
        comparisons.append(compare(name, progress=True))
        print(format_comparison(comparisons[-1]))
        print()
    print("iter: epochs for gradient descent, solver iterations for LogisticRegression;\n"
          "      * = stopped at max_iter without converging (ConvergenceWarning not shown).\n"
          "rel. gap: (objective - exact solver's objective) / exact solver's objective.")
    print()
    print(settings_legend())
    print()
    last = comparisons[-1]
    print(f"The first {last.name} row as code, to copy:")
    print()
    print("\n".join("    " + line if line else "" for line in
                    code_for(last, SETTINGS[0][0]).splitlines()))
    if args.plot is not None:
        plot_comparisons(comparisons, args.plot)


if __name__ == "__main__":
    main()
