"""When a descent has diverged: the engine's divergence rules, one unit.

The objective at the starting point (or at the engine's ``reference_point``: the origin,
for a warm start and each ``partial_fit`` call) is the reference, kept in the engine's
state across resumes. With a convex objective and a stable step the objective stays below
it (up to the noise of mini-batches); one that is not finite, or rises above it by
``_EXPLOSION`` times its size, or stays above twice its value for ``_RISE_EPOCHS`` epochs
running, is diverging, and :class:`DivergenceError` is raised; so is a run that ends
rising slowly (``_RISING_END``), with or without ``tol``, and one whose returned point,
measured by one more pass where no epoch measured it, is far above its start (see
:meth:`Watch.final`). A reference of exactly 0 measured elsewhere than the start takes
the first epoch's objective as its unit; a stream (``streaming``) measures in its own
units, and counts no rise below the model it was handed (see :meth:`Watch.began`). An
objective that is not finite at the starting point, before any step, is the data's fault
and raises a plain ``ValueError``; a finite one whose optimality measure is not, where
the step's direction is finite, is the step's (see :meth:`Watch.overflow`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# An objective that rises above its starting value by this many times its size has
# diverged at once; one that stays above twice its start for _RISE_EPOCHS epochs running
# is diverging too (a bounded loss such as the cross-entropy grows only linearly in the
# weights, so a too-large step makes it bounce at a high value instead of overflowing).
# A descent step never leaves the objective there; a transient overshoot of momentum
# passes.
_EXPLOSION = 1e4
_RISE_EPOCHS = 3
# A run that ends with this many epochs in a row that each raised the objective more than
# the last, having lost more than half its progress from the start to its best, is
# diverging slowly (a step just above 2/L), whatever the stopping rule.
_RISING_END = 5
# A mini-batch run's last iterate may end at most this many times its last epoch's
# objective (see Watch.final).
_NOISE_END = 5


class DivergenceError(FloatingPointError, ValueError):
    """The objective became non-finite or exploded: the step is too large.

    Its ``loss_curve`` attribute holds the objective of each epoch before the error.
    """

    loss_curve: list = []


class References(NamedTuple):
    """The scale of the problem at its starting point: what divergence and optimality are
    measured against."""

    objective: float
    # |objective|, or the smallest normal number when it is 0: a rise of the objective
    # is measured in this unit.
    scale: float
    # Squared optimality measure ||G||_M^2 at the starting point.
    optimality: float


def references(objective, squared):
    """The references of a starting point; a clear error where they are not finite."""
    if not (math.isfinite(objective) and math.isfinite(squared)):
        raise ValueError(
            f"The objective is {objective} at the starting point, before any step: the "
            "data are too large for their dtype (their squares or products overflow). "
            "Rescale X and y, e.g. with sklearn.preprocessing.StandardScaler.")
    return References(objective, max(abs(objective), float(np.finfo(np.float64).tiny)),
                      squared)


class Watch:
    """The divergence rules of one run, and what they carry across resumes: the
    references, the epochs running above twice them (``n_rises``) and a stream's record.

    ``loss_curve`` is the run's record, which the engine appends to and a
    :class:`DivergenceError` carries.
    """

    def __init__(self, state_references, n_rises, stream, *, streaming, advice,
                 loss_curve, elsewhere=False):
        self.references, self.n_rises, self.stream = state_references, n_rises, stream
        self.streaming, self.advice, self.loss_curve = streaming, advice, loss_curve
        # The references are the zero model's, not the run's start (a warm start, a
        # stream's later calls): the messages say so.
        self.elsewhere = elsewhere
        # A stream's unit of objective (see _stream_rise), for the check at the end.
        self.unit = 0.0

    def error(self, epoch, value, rate, reason=None):
        """The :class:`DivergenceError` of the step of ``epoch`` at ``rate``."""
        if reason is None:
            reference = self.references.objective
            reason = ("became non-finite" if not math.isfinite(value) else
                      f"rose to {value:.6g}, where the zero model's is {reference:.6g}"
                      if self.elsewhere else
                      f"rose from {reference:.6g} at the start to {value:.6g}")
        error = DivergenceError(
            f"learning_rate={rate:.6g} (the step of epoch {epoch}) made the objective "
            f"diverge: it {reason}; {self.advice}")
        # The record up to the divergence, for a search that draws its candidates.
        error.loss_curve = list(self.loss_curve)
        return error

    def overflow(self, epoch, objective, rate, dtype):
        """The :class:`DivergenceError` of a ``rate`` whose step overflows ``dtype`` from
        the start (the zero model where the references are measured there), where the
        objective, ``objective``, is finite (a rate above the dtype's largest number,
        3.4e38 in float32): the optimality measure, which takes that step, is not finite
        there, and the references cannot be taken. The data are not at fault, as
        :func:`references` would say."""
        start = "the zero model" if self.elsewhere else "the start"
        return self.error(epoch, objective, rate, (
            f"became non-finite a step from {start}, where it is {objective:.6g}: the "
            f"step overflows {dtype}"))

    def first(self, objective, squared):
        """Take the first epoch's reads: the references where the run has none yet;
        where they were measured elsewhere and are exactly 0 (a zero model that fits the
        data exactly, as on a batch of zero targets, measured at a warm start or for a
        stream), rises are measured in units of the first epoch's objective instead,
        the size of where the descent goes from."""
        if self.references is None:
            self.references = references(objective, squared)
        elif self.references.objective == 0:
            self.references = self.references._replace(
                scale=max(self.references.scale, abs(objective)))

    def began(self, objective):
        """Take the objective at the model a stream was handed (by ``fit``), on its
        first batch. A model worse there than the zero model (a fit on data whose labels
        have since flipped) descends from there with a stable step, and one that diverges
        rises above it: rises count only above it, until the stream first comes within
        twice the zero model's objective."""
        if self.streaming and self.stream[0] == 0:
            rise = (objective - self.references.objective) / self.references.scale
            self.stream = self.stream[:3] + (max(rise, 0.0),)

    def epoch(self, epoch, objective, squared, rate, n_samples):
        """Raise where the objective of ``epoch`` (0-based), a point the rule accepted,
        is not finite or has exploded, or has stayed above twice the reference for
        ``_RISE_EPOCHS`` epochs running."""
        if not (math.isfinite(objective) and math.isfinite(squared)):
            raise self.error(epoch, math.inf, rate)
        references = self.references
        rise = counted = (objective - references.objective) / references.scale
        if self.streaming:
            # Measured in the stream's units: a batch whose zero model fits it almost
            # exactly is no unit for the model's loss there. A rise counts where this
            # batch rose and the stream's means did (a mean alone stays up long after a
            # transient of its first batches has passed).
            self.stream, mean_rise, self.unit = _stream_rise(self.stream, n_samples,
                                                             references, objective)
            rise = (objective - references.objective) / max(references.scale, self.unit)
            counted = min(rise, mean_rise)
            # Below where a stream began (see began), no rise counts until it has come
            # within twice the zero model's objective.
            ceiling = self.stream[3]
            self.stream = self.stream[:3] + (0.0 if counted <= 1 else ceiling,)
            counted = counted if counted > ceiling else 0.0
        self.n_rises = self.n_rises + 1 if counted > 1 else 0
        if rise > _EXPLOSION or self.n_rises >= _RISE_EPOCHS:
            raise self.error(epoch, objective, rate)

    def end(self, epoch, rate):
        """Raise where a run that neither converged nor was stopped ends rising slowly
        (see ``_RISING_END``)."""
        if _rising_end(self.loss_curve, self.references):
            raise self.error(epoch, self.loss_curve[-1], rate, (
                f"rose in each of the last {_RISING_END} epochs, from its best "
                f"{min(self.loss_curve):.6g} to {self.loss_curve[-1]:.6g} ("
                + ("the zero model's is {:.6g})" if self.elsewhere else
                   "it was {:.6g} at the start)").format(self.references.objective)))

    def final(self, epoch, value, squared, rate, full_batch):
        """Raise where the point a run returns, measured by one more pass after its last
        epoch, is far above where it started.

        The steps after the last objective an epoch read (the last full-batch step too,
        where the fit did not stop at a checked point) are checked here: a model more
        than twice as bad as the start is returned by no fit. Mini-batches: the last
        iterate is one draw of the noise the epoch averaged, which near an optimum no
        better than the start reaches twice their mean 3 standard deviations out (a batch
        of one moves the intercept towards its row's target): unless the last epoch
        already rose, the bound is ``_NOISE_END`` times its objective (about 5.5
        deviations). A stream's batch is such a draw too, which the model may fit worse
        than zero does before the call (a few new rows), and the momentum of earlier
        batches moves the point on it: the bound is ``_NOISE_END`` times the larger of
        the two, or of the stream's unit.
        """
        references, last = self.references, self.loss_curve[-1]
        settled = self.streaming or (not full_batch and (last - references.objective)
                                     / references.scale <= 1)
        before = max(references.objective, last) if settled else references.objective
        factor = _NOISE_END if settled else 2
        rose = value - before > (factor - 1) * max(abs(before), references.scale,
                                                   self.unit)
        if not (math.isfinite(value) and math.isfinite(squared)) or rose:
            raise self.error(epoch, value, rate)


def _rising_end(loss_curve, references):
    """Whether the run ends diverging slowly (see ``_RISING_END``): each of the last
    epochs raised the objective by more than the one before (a growth that accelerates,
    as an unstable mode's does, unlike momentum's bounded swings) and it has lost more
    than half of its progress."""
    tail = loss_curve[-_RISING_END - 1:]
    rises = [after - before for before, after in zip(tail[:-1], tail[1:], strict=True)]
    best = min(loss_curve, default=math.inf)
    return (len(rises) == _RISING_END and 0 < rises[0]
            and all(map(float.__lt__, rises, rises[1:]))
            and tail[-1] - best > max(references.objective - best,
                                      1e-3 * references.scale) / 2)


def _stream_rise(stream, n_samples, references, objective):
    """``(stream, rise, unit)``: a stream's record with this batch added, how far the
    epochs' objective over all its batches so far rose above the zero model's, and the
    unit it is measured in, the size of the latter (as ``rise`` compares one run's
    objective with its reference).

    A batch of a few rows is a noisy sample: the model it meets may fit it worse than
    zero does although it fits the stream better (one row whose target is near 0). Its
    rows' share of the stream's means counts, not the batch alone."""
    rows, zero, seen, ceiling = stream
    stream = (rows + n_samples, zero + n_samples * references.objective,
              seen + n_samples * objective, ceiling)
    zero_mean, mean = stream[1] / stream[0], stream[2] / stream[0]
    scale = abs(zero_mean) if zero_mean else max(abs(mean), references.scale)
    return stream, (mean - zero_mean) / scale, scale
