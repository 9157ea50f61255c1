"""When a descent stops: the engine's stopping rules, one unit.

A full-batch run stops once its *optimality* is at most ``tol`` (see :mod:`skgd._engine`
for the measure); where the update rule can then take Newton's steps cheaply
(``UpdateRule.finish``, L-BFGS on small problems), it takes them first, to the optimum to
rounding; elsewhere the objective's last decrease must agree (:meth:`Stop.settled`);
where it steps in a curvature bound, the exact Hessian confirms the stop first
(:class:`Certificate`). Runs that see the data in mini-batches, or that score a
validation set, stop by an epoch-level rule instead: the monitored value (training
objective, or minus the validation score) has not improved by ``tol`` relative to its
best for ``n_iter_no_change`` epochs. A ``"plateau"`` decay cuts the rate at each such stall
instead, until it has cut it by ``_MIN_PLATEAU_FACTOR`` in all.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._updates import POLISHED, _relative_rounding

# Newton's steps past the stopping rule, at most (see UpdateRule.finish); they stop at
# the optimality POLISHED.
_POLISH_STEPS = 3
# A stop by the optimality, where no Newton's steps follow, also asks the objective: the
# gap it estimates (see Stop.settled) must be at most this many tol^2 of the objective
# (1e-7 of it at the default tol=1e-5).
_SETTLED = 1e3
# "plateau" stops once it has cut the rate by this factor in all.
_MIN_PLATEAU_FACTOR = 1e-6


class Verdict(NamedTuple):
    """What the stopping rules say after an epoch."""

    # Stop the run here.
    stop: bool
    # The stop is the rule's (optimality, or the epoch-level rule's stall), not the end
    # of a plateau decay.
    converged: bool = False
    # The rule state to go on from (Newton's steps past the stop), where it changed.
    rule_state: object = None
    # A plateau: the decay cuts the rate once more.
    cut_rate: bool = False


_GO_ON = Verdict(False)


class Stop:
    """The stopping rules of one run (``dtype``: the parameters', whose rounding the
    objective carries)."""

    def __init__(self, tol, n_iter_no_change, *, full_batch, epoch_rule, decay,
                 rule, dtype=None) -> None:
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.full_batch, self.epoch_rule = full_batch, epoch_rule
        self.decay, self.rule = decay, rule
        self.best, self.stalled = math.inf, 0
        # The optimality at each Newton step past the stopping rule.
        self.polished: list[float] | None = None
        # The last accepted full-batch point's (objective, optimality), the largest
        # objective seen, and the objective's relative rounding.
        self.previous: tuple[float, float] | None = None
        self.scale = 0.0
        self.rounding = _relative_rounding(np.dtype(np.float64) if dtype is None
                                           else dtype)

    def monitor(self, monitored):
        """Record an epoch's monitored value (lower is better); whether it is the best
        so far. An epoch not better than the best by ``tol`` (relative) stalls."""
        tol, best = self.tol, self.best
        if tol is None or monitored < best - (tol * abs(best) if math.isfinite(best)
                                              else 0.0):
            self.stalled = 0
        else:
            self.stalled += 1
        if monitored < best:
            self.best = monitored
            return True
        return False

    def settled(self, objective, relative):
        """Whether the objective agrees with a stop at the optimality ``relative``, at an
        accepted full-batch point of objective ``objective``.

        The optimality bounds the gap relative to the start's gap, up to the metric's
        condition number (see skgd._engine); where the metric is far from the Hessian and
        the optimum a small share of the start (classes that X of far more columns than
        rows nearly separates), a fit at ``tol`` stood 1e-6 to 6e-6 of the objective
        above the optimum. The objective's own record tells: the gap shrinks as the
        squared measure does, so the last epoch's decrease times ``c / (1 - c)``, for
        the measure's squared contraction ``c`` over it, estimates the gap left (the
        decreases to come at that contraction), and it must be at most ``_SETTLED
        tol^2`` of the objective (or within its rounding). A run's first
        epoch has no decrease to judge: the measure alone decides."""
        previous, self.previous = self.previous, (objective, relative)
        self.scale = max(self.scale, abs(objective))
        if previous is None:
            return True
        value, measure = previous
        # The decreases still to come, were they to shrink at this epoch's contraction:
        # a slow one leaves far more than its next decrease (n < p least squares in the
        # diagonal metric, alpha 1e-6: 0.29 off Ridge's coefficients where the next
        # decrease was within tol). A measure that did not shrink while the objective
        # fell leaves it unknown.
        decrease = value - objective
        contraction = (relative / measure) ** 2 if measure > 0 else 1.0
        left = (decrease * contraction / (1 - contraction) if contraction < 1
                else math.inf if decrease > 0 else decrease)
        return left <= _SETTLED * self.tol ** 2 * abs(objective) + 16 * self.rounding \
            * self.scale

    def verdict(self, epoch, n_plateaus, relative, reverted, rule_state, metric,
                objective=None):
        """The rules' verdict after ``epoch`` epochs (``n_plateaus`` rate cuts so far):
        ``relative`` is the optimality of the point the full batch accepted (None
        elsewhere) and ``objective`` its objective, ``reverted`` whether the rule turned
        its point down."""
        if self.tol is None:
            return _GO_ON
        if self.full_batch and reverted and self.polished is not None:
            # A Newton step past the stop that the line search turned down: the
            # objective cannot tell it from the point that met tol (its rounding: X
            # whose columns lie far off 0). The point that met tol ends the run.
            return Verdict(True, converged=True)
        if self.full_batch and not reverted and relative is not None:
            settled = objective is None or self.settled(objective, relative)
            if relative <= self.tol:
                if self.polished is None:
                    polish = self.rule.finish(rule_state, metric)
                    if polish is not None:
                        # Newton's steps take it to the optimum to rounding.
                        self.polished = [relative]
                        return Verdict(False, rule_state=polish)
                    if settled:
                        return Verdict(True, converged=True)
                elif _polishing(self.polished, relative):
                    self.polished.append(relative)
                    return _GO_ON
                elif relative <= POLISHED or settled:
                    return Verdict(True, converged=True)
                else:
                    # Newton's steps that did not cut the measure tenfold, while the
                    # objective still falls by more than the gap it may leave: not yet
                    # where they converge quadratically (classes that X nearly
                    # separates, alpha 1e-12: 5e-5 of the objective above the optimum).
                    # Descent goes on, and polishes again once the measure meets tol.
                    self.polished = None
                    return _GO_ON
        if self.stalled >= self.n_iter_no_change:
            self.stalled = 0
            decay = self.decay
            if (decay.reduces_on_plateau
                    and decay.factor(epoch, n_plateaus + 1) >= _MIN_PLATEAU_FACTOR):
                return Verdict(False, cut_rate=True)
            if self.epoch_rule:
                return Verdict(True, converged=True)
            if decay.reduces_on_plateau:
                # The rate is as low as "plateau" takes it: stop, optimal or not.
                return Verdict(True)
        return _GO_ON


# The relative rounding of a float64 objective.
_ROUNDING = float(np.finfo(np.float64).eps)


def relative_optimality(squared, references):
    """``||G||_M`` relative to its value at the starting point (0 where both are 0).

    ``||G||_M^2`` is about twice the gap in the objective's units: a start where it is
    within the rounding of the objective (``eps |F0|``) is optimal to that rounding (X
    carries no signal: columns of zeros, balanced classes), and its gradient is rounding
    noise. The measure is then taken relative to that rounding, not to the noise (which
    kept such a fit from ever stopping: it ran to ``max_iter`` and warned that it had not
    converged, at the optimum)."""
    unit = max(references.optimality, _ROUNDING * references.scale)
    return math.sqrt(max(squared, 0.0) / unit)


class Certificate:
    """The exact Hessian's word on a stop measured in a curvature bound.

    The bound's curvature exceeds the cross-entropy's ``p (1 - p)`` as much as the
    predictions are sure, so its measure can meet ``tol`` far from the optimum. Where it
    does, :meth:`measure` gives the larger of it and the measure in the exact Hessian's
    metric (``exact(w)``, see ``skgd._curvature.certificate``). During a run, a Hessian
    that says "go on" is asked again only 1, 2, 4, ... 16 epochs later: in between, the
    bound's measure does not stop the run.
    """

    def __init__(self, exact, tol) -> None:
        self.exact, self.tol = exact, tol
        # The epoch from which it may be asked again, and the wait after the next "go on".
        self.next, self.wait = 0, 1

    def measure(self, bound, step, references, epoch=None):
        """The optimality to stop on, given the bound's ``bound`` at ``step``; ``epoch``:
        during a run (asked on the schedule), None: at its end (asked if needed)."""
        if self.tol is None or bound > self.tol:
            return bound
        if epoch is not None:
            if epoch < self.next:
                return math.nextafter(self.tol, math.inf)
            self.next, self.wait = epoch + self.wait, min(2 * self.wait, 16)
        metric = self.exact(step.point)
        squared = float(step.grad @ metric.direction(step.grad))
        return max(bound, relative_optimality(squared, references))


def _polishing(polished, relative):
    """Whether Newton's steps past the stopping rule go on: at most ``_POLISH_STEPS`` of
    them, until the optimality is within ``POLISHED`` of the start's, while each still
    divides it by 10 or more (quadratic convergence; once rounding sets the gradient, a
    step gains nothing)."""
    return (len(polished) < _POLISH_STEPS and relative > POLISHED
            and relative <= polished[-1] / 10)
