"""Benchmarks: skgd's estimators against scikit-learn's on the same generated data.

Each task generates its data once and fits every contender on it, in this one process, and
prints a table: the best wall time of ``--repeat`` fits, that time over the skgd row's, the
relative gap ``(F - F*) / |F*|`` of the training objective, the held-out score (R^2 or
accuracy), the epochs or iterations, and the peak memory allocated during the fit (from
:mod:`tracemalloc`; compare it with the size of X in each task's title). ``F`` is skgd's
objective of that task, evaluated with :class:`skgd.losses.LinearObjective` at each
contender's ``coef_`` and ``intercept_``; ``F*`` is the smallest value that exact solvers,
fitted once and untimed, reach. The tasks are:

- ``regression``: dense 200 000 x 100, GDRegressor(alpha=0) against SGDRegressor and Ridge;
- ``binary``: dense 200 000 x 100, GDClassifier(alpha=1/n) against LogisticRegression()
  and SGDClassifier(loss="log_loss", alpha=1/n);
- ``multiclass``: dense 100 000 x 50 with 10 classes, the same contenders;
- ``sparse``: CSR 100 000 x 20 000 at density 0.001, the same contenders;
- ``minibatch``: one epoch of GDClassifier(batch_size=256) and of SGDClassifier;
- ``loss_gradient``: one ``LinearObjective.loss_gradient(w)`` against one pass ``X @ coef``;
- ``float32``: a GDClassifier fit on float32 X against float64 X;
- ``auto``: the build of ``preconditioner="auto"``'s metric as a share of a fit;
- ``onehot_binary``: 200 000 rows of 4 categorical and 20 numeric columns (mixed scales,
  near-collinear copies) through ``ColumnTransformer(OneHotEncoder(), StandardScaler())``,
  GDClassifier(alpha=1/n) against LogisticRegression() (lbfgs), LogisticRegression
  (solver="newton-cholesky") and GDClassifier(alpha=1/n, preconditioner=None);
- ``onehot_multiclass``: the same table with 4 softmax classes, the same contenders;
- ``collinear``: unscaled 200 000 x 50 regression whose columns mix 5 latent factors,
  GDRegressor(alpha=0) against GDRegressor(alpha=0, preconditioner=None), Ridge() and
  SGDRegressor();
- ``real``: statsmodels' ``fair`` table through the ColumnTransformer, the one-hot
  contenders (skipped where statsmodels is not installed);
- ``real_regression``: statsmodels' ``randhie`` table, the collinear task's contenders.

The curvature tasks (the last five) add an "epochs to gap" table: the epochs each skgd
fit takes to reach the relative gaps 1e-4, 1e-6 and 1e-10, and its time to 1e-6
(classification) or 1e-10 (regression) next to scikit-learn's.

Examples
--------
::

    python -m benchmarks.run                        # full sizes: a few minutes
    python -m benchmarks.run --quick                # 50x fewer rows: seconds
    python -m benchmarks.run --only binary sparse --repeat 5
    python -m benchmarks.run --markdown > performance.md
    python -m benchmarks.run --only onehot_binary collinear real
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info, threadpool_limits

import skgd

from ._tasks import QUICK_SHRINK, TASKS, Config, TaskResult

__all__ = ["TASKS", "Config", "TaskResult", "format_result", "machine", "main"]

LEGEND = [
    "time: best of the timed fits; vs skgd: time / the skgd row's time.",
    "rel. gap: (F - F*) / |F*|, F = skgd's objective of the task at the contender's "
    "coef_ and intercept_.",
    "score: held-out R^2 (regression) or accuracy.",
    "iter: epochs or solver iterations (max over classes); * = ended with a "
    "ConvergenceWarning (recorded, not shown).",
    "peak MiB: tracemalloc peak of what the fit allocated (numpy buffers included).",
]


def _skgd_commit():
    """``git describe`` of the skgd checkout ("-dirty" when modified), or None."""
    try:
        result = subprocess.run(["git", "describe", "--always", "--dirty"],
                                cwd=Path(skgd.__file__).parent, capture_output=True,
                                text=True, timeout=10, check=False)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _describe_pool(pool):
    """One threadpoolctl entry: library, version, threads, architecture, origin."""
    threads = pool["num_threads"]
    details = [f"{threads} thread{'s' if threads != 1 else ''}", pool.get("architecture")]
    name = " ".join(filter(None, [pool["internal_api"], pool.get("version")]))
    return f"{name} ({', '.join(filter(None, details))}) from {pool['prefix']}"


def machine():
    """``(name, value)`` pairs describing the run: date, machine, versions and BLAS."""
    info = [
        ("date", datetime.datetime.now().isoformat(timespec="seconds")),
        ("machine", f"{platform.platform()}, {platform.machine()}, "
                    f"{os.cpu_count()} CPUs"),
        ("python", platform.python_version()),
        ("versions", f"numpy {np.__version__}, scipy {scipy.__version__}, "
                     f"scikit-learn {sklearn.__version__}, skgd {skgd.__version__}"
                     + (f" (git {commit})" if (commit := _skgd_commit()) else "")),
        ("thread pools", "; ".join(_describe_pool(pool) for pool in threadpool_info())),
    ]
    if "OPENBLAS_CORETYPE" in os.environ:
        info.append(("OPENBLAS_CORETYPE", os.environ["OPENBLAS_CORETYPE"]))
    return info


def _table(headers, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(headers) + " |",
                 "| :--- |" + " ---: |" * (len(headers) - 1)]
        # "*" (did not converge) would otherwise start emphasis.
        return lines + ["| " + " | ".join(cell.replace("*", r"\*") for cell in row) + " |"
                        for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        first, *rest = cells
        return "  " + "  ".join([first.ljust(widths[0]),
                                 *(cell.rjust(w) for cell, w in zip(rest, widths[1:],
                                                                    strict=True))])

    rule = "  " + "-" * (sum(widths) + 2 * (len(widths) - 1))
    return [line(headers), rule, *(line(row) for row in rows)]


def _format_table(heading, title, notes, rows, markdown):
    """A heading, the title (None: none), the notes and the table of ``rows``."""
    table = _table(rows[0].headers, [row.cells() for row in rows], markdown)
    if markdown:
        caption = [*([f"{title}.", ""] if title else []), *(f"- {note}" for note in notes), ""]
        return "\n".join([heading, "", *caption, *table])
    return "\n".join([f"{heading}: {title}" if title else heading,
                      *(f"  {note}" for note in notes), *table])


def format_result(result, markdown=False):
    """A :class:`TaskResult` as text: title, caption lines, then the aligned table, and the
    same for each further table (headed "TASK (TITLE)", a block of its own)."""
    blocks = [_format_table(f"### {result.name}" if markdown else result.name, result.title,
                            result.notes, result.rows, markdown)]
    for table in result.tables:
        blocks.append(_format_table(f"#### {result.name}: {table.title}" if markdown
                                    else f"{result.name} ({table.title})", None, table.notes,
                                    table.rows, markdown))
    return "\n\n".join(blocks)


def main(argv=None):
    """Run the tasks named in ``argv`` (default: all) and print their tables.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Time skgd's estimators against scikit-learn's on generated data and "
                    "measure how close each gets to the exact training objective.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SHRINK}x fewer rows, for a smoke test")
    parser.add_argument("--shrink", type=int, default=QUICK_SHRINK, metavar="N",
                        help=f"with --quick, N times fewer rows (default: {QUICK_SHRINK})")
    parser.add_argument("--only", nargs="+", choices=list(TASKS), metavar="TASK",
                        help=f"run only these tasks, among {', '.join(TASKS)}")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed fits per contender; the best is reported (default: 3)")
    parser.add_argument("--markdown", action="store_true",
                        help="print Markdown tables (for the docs)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: need at least one timed fit.")
    if args.shrink < 1:
        parser.error(f"--shrink {args.shrink}: need a positive factor.")
    config = Config(quick=args.quick, repeat=args.repeat, shrink=args.shrink)
    names = list(dict.fromkeys(args.only or TASKS))

    mode = (f"{'quick sizes, one thread' if args.quick else 'full sizes'}, "
            f"best of {args.repeat} timed fits")
    # Quick mode is a smoke test on tiny data, where a second thread only adds overhead and,
    # on a busy machine, waits for a core: one thread keeps it fast and steady.
    with threadpool_limits(limits=1) if args.quick else contextlib.nullcontext():
        _print_tasks(names, config, mode, args.markdown)


def _print_tasks(names, config, mode, markdown):
    if markdown:
        print("\n".join(["## skgd benchmarks", "", f"- mode: {mode}",
                         *(f"- {name}: {value}" for name, value in machine())]))
    else:
        print("\n".join([f"skgd benchmarks ({mode})",
                         *(f"  {name}: {value}" for name, value in machine())]))
    for name in names:
        print()
        print(format_result(TASKS[name](config), markdown), flush=True)
    print()
    print("\n".join(f"- {line}" if markdown else line for line in LEGEND))


if __name__ == "__main__":
    main()
