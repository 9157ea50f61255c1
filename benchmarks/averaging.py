"""Averaged SGD (``average=True``) against the last iterate and SGDClassifier(average=True).

On the data of the ``sgd`` task's classification problems (dense 200 000 x 100 binary and
CSR 100 000 x 20 000 at density 0.001, 80 % of the rows trained on), with batch sizes 1
and 32 on the compiled path, three tables:

- ``epoch``: the time of an epoch of plain descent (learning_rate=0.01, alpha=1/n) with
  and without averaging, against an epoch of SGDClassifier(log_loss, alpha=1/n,
  average=True) (each as the ``sgd`` task times it: the difference of fits of 3 and 1
  epochs, halved);
- ``fit to score``: the fewest epochs of GDClassifier(average=True, learning_rate='auto')
  whose held-out accuracy is within 1e-3 of SGDClassifier(log_loss, average=True)'s
  default fit, and the time of that fit against the default fit's; then the same at
  ``RATE_FACTORS`` times the rate "auto" chose (the step no row can make diverge, set by
  the largest row: typical rows take longer ones);
- ``epochs to gap``: the first epoch at which the relative gap ``(F - F*) / |F*|`` to the
  exact optimum of GDClassifier(alpha=1/n) (LogisticRegression(C=1)) falls to 1e-4 (and
  1e-3), for the last iterate and the average at the same rate and schedule, read at
  every epoch of one fit through a callback: the rate an averaged fit's "auto" chose
  (``1 / L_b``) and its half (a fit of the last iterate's "auto"), held constant and
  decayed as 1 / (1 + t) (``decay="inverse"``); averaging from the first update
  (``average=True``), from the first of the second epoch, and over the last two thirds
  of the run (suffix averaging, Rakhlin, Shamir and Sridharan, 2012: it leaves out the
  iterates still on their way); over ``GAP_EPOCHS`` epochs, more on the sparse table,
  whose last iterate is still on its way after 30.

Run ``python -m benchmarks.averaging`` (a few minutes) or ``--quick`` (50x fewer rows and
``QUICK_GAP_EPOCHS`` epochs in the gap table: a check that it runs).
"""

from __future__ import annotations

import argparse
import itertools
import math
import warnings

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

from skgd import GDClassifier, _compiled

from ._tasks import (
    MINIBATCH_LEARNING_RATE,
    N_BINARY,
    N_SPARSE,
    SEED,
    SGD_SCORE_SLACK,
    Config,
    _describe,
    _epoch_seconds,
    _fit_to_score,
    _measure,
    _objective_value,
    binary_problem,
    sparse_problem,
)

BATCH_SIZES = (1, 32)
GAPS = (1e-3, 1e-4)
GAP_EPOCHS = {"dense binary": 30, "sparse binary": 120}
# The Python path (no compiled kernel) takes tens of microseconds an update of batch 1.
QUICK_GAP_EPOCHS = 4
RATE_FACTORS = (2, 4)
SCHEDULES = {"constant": {}, "inverse": {"decay": "inverse", "decay_rate": 1.0}}


class _GapRecorder:
    """A scikit-learn callback: the relative gap of the model after each epoch."""

    def __init__(self, problem):
        self.problem = problem
        self.gaps = []

    def setup(self, estimator, context):
        self.gaps = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
        if context.task_name == "epoch":
            value = _objective_value(self.problem.objective, fitted_estimator)
            self.gaps.append((value - self.problem.f_star) / abs(self.problem.f_star))
        return False


def _first_epoch(gaps, gap):
    return next((epoch for epoch, reached in enumerate(gaps, 1) if reached <= gap), None)


def _epochs_to_gap(problem, batch_size, average, schedule, rate, epochs):
    recorder = _GapRecorder(problem)
    model = GDClassifier(solver="gd", batch_size=batch_size, alpha=problem.objective.alpha,
                         learning_rate=rate, tol=None, max_iter=epochs,
                         average=average, random_state=SEED, **schedule)
    model.set_callbacks(recorder).fit(problem.split.X_train, problem.split.y_train)
    return recorder.gaps


def _ratio(seconds, reference):
    # An epoch timed as a difference of fits can come out 0 on tiny (--quick) data.
    return f"{seconds / reference:.2f}" if reference > 0 else "-"


def _cell(epoch, epochs):
    return f">{epochs}" if epoch is None else str(epoch)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50x fewer rows")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per contender")
    args = parser.parse_args(argv)
    config = Config(quick=args.quick, repeat=args.repeat)
    print(f"compiled kernel: {_compiled.ENABLED}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    problems = [("dense binary", binary_problem(config.rows(N_BINARY))),
                ("sparse binary", sparse_problem(config.rows(N_SPARSE)))]
    for title, problem in problems:
        split = problem.split
        X, y = split.X_train, split.y_train
        alpha = 1.0 / X.shape[0]
        print(f"\n## {title}: {_describe(split)}\n")
        sgd = SGDClassifier(loss="log_loss", average=True, random_state=SEED)
        sgd_epoch = _epoch_seconds(clone(sgd).set_params(alpha=alpha, tol=None), X, y,
                                   config.repeat)
        reference = _measure(sgd, X, y, config.repeat)
        target = reference.model.score(split.X_test, split.y_test)
        print("| batch_size | epoch, last iterate / SGD(average) | epoch, average / "
              "SGD(average) | fit to score: skgd(average) | SGD(average) | ratio | "
              "score, epochs |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        autos = {}
        for batch_size in BATCH_SIZES:
            epochs = {}
            for average in (False, True):
                model = GDClassifier(solver="gd", batch_size=batch_size, alpha=alpha,
                                     tol=None, learning_rate=MINIBATCH_LEARNING_RATE,
                                     average=average, random_state=SEED)
                epochs[average] = _epoch_seconds(model, X, y, config.repeat)
            averaged = GDClassifier(solver="gd", batch_size=batch_size,
                                    learning_rate="auto", average=True, tol=None,
                                    random_state=SEED)
            auto = clone(averaged).set_params(max_iter=1).fit(X, y).learning_rate_curve_[0]
            autos[batch_size] = auto
            for factor in (None, *RATE_FACTORS):
                rate = "auto" if factor is None else factor * auto
                seconds, n_epochs, score = _fit_to_score(
                    clone(averaged).set_params(learning_rate=rate), split,
                    target - SGD_SCORE_SLACK, config.repeat)
                label = (f"{batch_size}" if factor is None
                         else f"{batch_size}, rate {factor}x auto ({rate:.3g})")
                cells = (f"{_ratio(epochs[False], sgd_epoch)} ({epochs[False] * 1e3:.1f} ms"
                         f" / {sgd_epoch * 1e3:.1f} ms) | {_ratio(epochs[True], sgd_epoch)} "
                         f"({epochs[True] * 1e3:.1f} ms)") if factor is None else "| "
                print(f"| {label} | {cells} | {seconds:.3f} s | {reference.seconds:.3f} s | "
                      f"{seconds / reference.seconds:.2f} | {score:.4f} in {n_epochs} / "
                      f"{target:.4f} in {reference.model.n_iter_} |")
        epochs = QUICK_GAP_EPOCHS if args.quick else GAP_EPOCHS[title]
        print(f"\nEpochs to the relative gap (F - F*)/|F*| (F* by {problem.f_star_solver}), "
              "alpha=1/n, at an averaged fit's 'auto' rate and its half:\n")
        print("| batch_size, schedule, rate | " + " | ".join(
            f"last iterate to {gap:g} | average to {gap:g}" for gap in GAPS)
            + " | gap after " + f"{epochs}: last | average |")
        print("| --- " * (2 + 2 * len(GAPS) + 1) + "|")
        for batch_size, (name, schedule), share in itertools.product(
                BATCH_SIZES, SCHEDULES.items(), (1.0, 0.5)):
            # Averaging from the first update, and from the first update of epoch 2
            # (average counts updates: n / batch_size of them an epoch).
            per_epoch = -(-X.shape[0] // batch_size)
            rate = share * autos[batch_size]
            last = _epochs_to_gap(problem, batch_size, False, schedule, rate, epochs)
            for average in (True, per_epoch + 1, per_epoch * (epochs // 3) + 1):
                curves = {False: last, True: _epochs_to_gap(problem, batch_size, average,
                                                            schedule, rate, epochs)}
                cells = [cell for gap in GAPS for cell in (
                    _cell(_first_epoch(curves[False], gap), epochs),
                    _cell(_first_epoch(curves[True], gap), epochs))]
                final = [curves[key][-1] if curves[key] else math.nan for key in (False, True)]
                print(f"| {batch_size}, {name}, {rate:.3g}, average={average} | "
                      + " | ".join(cells)
                      + f" | {final[0]:.2e} | {final[1]:.2e} |")


if __name__ == "__main__":
    main()
