"""The ``python -m skgd`` demo: it runs, and gradient descent reaches the exact solvers."""

import re
import subprocess
import sys

import pytest

from skgd.__main__ import (
    DATASETS,
    SETTINGS,
    compare,
    format_comparison,
    main,
    relative_gap,
)

CURVATURE_ROWS = ("default (auto: lbfgs)", "accelerated, lr=auto",
                  "accelerated, lr=auto, cosine")


@pytest.fixture(scope="module", params=list(DATASETS))
def comparison(request):
    return compare(request.param)


def _row(comparison, setting):
    (row,) = [row for row in comparison.rows if row.setting == setting]
    return row


def test_python_m_skgd_runs_every_dataset_against_both_reference_solvers():
    result = subprocess.run([sys.executable, "-m", "skgd"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    for name in DATASETS:
        assert re.search(rf"^{name}: \d+ train / \d+ test rows", result.stdout, re.MULTILINE)
    assert re.search(r"^  Ridge +exact", result.stdout, re.MULTILINE)
    assert re.search(r"^  LogisticRegression +exact", result.stdout, re.MULTILINE)
    assert "ConvergenceWarning" not in result.stderr
    gaps = [float(re.search(r" ([+-]\d\.\de[+-]\d+) ", line).group(1))
            for line in result.stdout.splitlines() if "accelerated, lr=auto " in line]
    assert len(gaps) == len(DATASETS)
    assert all(abs(gap) < 1e-5 for gap in gaps), gaps


@pytest.mark.parametrize("setting", CURVATURE_ROWS)
def test_the_curvature_metric_s_rows_reach_the_exact_objective(comparison, setting):
    row = _row(comparison, setting)
    reference = comparison.reference
    assert row.converged
    assert reference.converged
    # The reference is a minimiser, so a GD objective far below it would be a wrong objective.
    assert abs(relative_gap(row, reference)) < 1e-5
    # The same minimiser predicts (nearly) the same on held-out rows.
    assert row.score == pytest.approx(reference.score, abs=2 / comparison.n_test)


def test_plain_gd_and_a_tiny_fixed_rate_fall_behind_accelerated(comparison):
    reference = comparison.reference
    accelerated = _row(comparison, "accelerated, lr=auto")
    gd = _row(comparison, "gd, no precond., lr=auto")
    crawl = _row(comparison, "gd, no precond., lr=0.001 (crawl)")
    assert relative_gap(accelerated, reference) < relative_gap(gd, reference)
    assert relative_gap(gd, reference) < relative_gap(crawl, reference)
    assert not crawl.converged
    assert crawl.n_iter == 300
    assert relative_gap(crawl, reference) > 1.0


def test_table_has_a_header_line_and_one_line_per_model(comparison):
    lines = format_comparison(comparison).splitlines()
    assert lines[0].startswith(f"{comparison.name}: {comparison.n_train} train")
    body = lines[3:]
    assert len(body) == len(comparison.rows) + 1
    assert body[-1].split()[:2] == [comparison.reference.model, "exact"]
    # Rows that ran out of epochs, and only those, carry the "*" marker.
    for line, row in zip(body[:-1], comparison.rows, strict=True):
        assert (f"{row.n_iter}*" in line) == (not row.converged)


def test_unknown_dataset_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["iris"])
    assert exit_info.value.code == 2
    assert "unknown dataset(s) iris" in capsys.readouterr().err


def test_plot_saves_a_png_and_progress_goes_to_stderr(tmp_path, capsys):
    path = tmp_path / "curves.png"
    main(["diabetes", "--plot", str(path)])
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert path.stat().st_size > 1000
    captured = capsys.readouterr()
    # Progress on stderr, one line per fit; stdout keeps only the table.
    assert captured.err.splitlines() == [
        f"diabetes: fitting GDRegressor ({setting})" for setting, _ in SETTINGS
    ] + ["diabetes: fitting Ridge (exact)"]
    assert "fitting" not in captured.out


@pytest.mark.parametrize("plot, message", [
    ("", "--plot needs a file name"),
    ("{tmp}/missing/curves.png", "directory {tmp}/missing does not exist"),
    ("{tmp}/curves.xyz", "use one matplotlib writes: .*\\.png"),
    ("{tmp}/curves", "use one matplotlib writes"),
], ids=["empty", "missing-directory", "unknown-extension", "no-extension"])
def test_a_bad_plot_path_is_a_usage_error_before_any_fit(tmp_path, capsys, plot, message):
    plot = plot.format(tmp=tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["diabetes", f"--plot={plot}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message.format(tmp=re.escape(str(tmp_path))), err)
    assert "fitting" not in err
    assert "Traceback" not in err


def test_the_printed_code_repeats_its_row(comparison, capsys):
    from skgd.__main__ import code_for

    setting = SETTINGS[0][0]
    exec(code_for(comparison, setting), {})
    printed = float(capsys.readouterr().out)
    assert printed == pytest.approx(_row(comparison, setting).score, abs=1e-12)


def test_the_first_row_is_the_default_and_says_what_auto_picked(comparison):
    label, params = SETTINGS[0]
    assert params == {}
    assert "lbfgs" in label
    assert _row(comparison, label).converged


def test_every_gd_setting_says_it_runs_without_a_preconditioner():
    for label, params in SETTINGS:
        assert ("no precond." in label) == (params.get("preconditioner", "auto") is None)


def test_a_plot_path_that_is_a_directory_is_a_usage_error_before_any_fit(tmp_path, capsys):
    # Issue 23: a directory named like an image passed the extension check, and saving
    # the figure failed with IsADirectoryError after every fit had run.
    directory = tmp_path / "adir.png"
    directory.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["diabetes", f"--plot={directory}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--plot {directory} is a directory; name a file in it" in err
    assert "fitting" not in err
    assert "Traceback" not in err
