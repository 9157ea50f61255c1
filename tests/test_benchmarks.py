"""``python -m benchmarks.run --quick``: every task runs and prints its table.

Timings are not asserted: they belong to the benchmark's output, not to the tests. The
benchmark runs in a subprocess from the repository root, where ``benchmarks`` imports.
"""

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


def _run(*args):
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def quick():
    return _run("--quick")


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
    assert "ConvergenceWarning" not in quick.stderr


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
    stdout = _run("--quick", "--markdown", "--only", "loss_gradient", "auto").stdout
    assert re.findall(r"^### (\w+)$", stdout, re.MULTILINE) == ["loss_gradient", "auto"]
    assert re.search(r"^\| X dtype \| loss_gradient \|", stdout, re.MULTILINE)
    assert re.search(r"^\| :--- \|( ---: \|)+$", stdout, re.MULTILINE)
    assert re.search(r"^\| float32 \|", stdout, re.MULTILINE)


def test_unknown_task_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", "--only", "nope"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "invalid choice: 'nope'" in result.stderr


def test_gpu_epoch_runs_its_tables_on_the_cpu():
    """The GPU script's timing part, on PyTorch's CPU device: it runs and reports."""
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_epoch", "--device", "cpu", "--rows", "3000",
         "--features", "8", "--repeat", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    for line in ("| gradient pass (loss_gradient) |", "| epoch of a GDClassifier fit |",
                 "gradient bandwidth on the device:", "plain X.sum() read bandwidth"):
        assert line in result.stdout


def test_averaging_benchmark_prints_its_tables():
    pytest.importorskip("sklearn.callback", reason="the gap table reads every epoch "
                        "through a callback (scikit-learn >= 1.9)")
    result = subprocess.run([sys.executable, "-m", "benchmarks.averaging", "--quick",
                             "--repeat", "1"], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    # Per problem: the timing table (2 batch sizes) and the gap table (2 averages each).
    for problem in ("dense binary", "sparse binary"):
        assert f"## {problem}:" in result.stdout
    rows = [line for line in result.stdout.splitlines() if re.match(r"\| (1|32)\b", line)]
    assert len(rows) == 2 * (2 + 4)
    gaps = [float(cell) for line in rows if "average=" in line
            for cell in line.strip("| ").split(" | ")[-2:]]
    assert len(gaps) == 16 and all(math.isfinite(gap) and gap > 0 for gap in gaps)
