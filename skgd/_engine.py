"""The descent engine: minimises any ``loss_gradient`` it is given.

It knows nothing of scikit-learn, of X or of estimators. It receives a function
``loss_gradient(w, rows)`` returning ``(objective, gradient)`` (``rows`` is None for the
full batch, else a slice or index array of a mini-batch), a step size, a decay, an update
rule, optionally the proximal operator of a non-smooth penalty and per-epoch hooks, and it
returns a :class:`DescentResult`.

The parameters may be any Array API array: they stay in their namespace and on their
device. The objective may come back as a 0-d array there; the engine sums it over the
epoch and reads it on the host once per epoch. The mini-batch order is drawn on the host
and moved to the parameters' device once per epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._array_api import get_namespace
from ._decays import Decay, make_decay
from ._updates import UPDATE_RULES, UpdateRule

# An objective that grows this many times over its first value (or over 1, when that is
# smaller) is diverging: with a convex objective and a stable step it never rises far above
# its start. The cross-entropy grows only linearly in the weights, so a too-large step
# makes it bounce at a huge value rather than overflow; this catches that too.
_EXPLOSION = 1e4
# "plateau" stops once it has cut the rate by this factor in all.
_MIN_PLATEAU_FACTOR = 1e-6


class DivergenceError(FloatingPointError, ValueError):
    """The objective became non-finite or exploded: the learning rate is too large."""


class EngineState(NamedTuple):
    """Everything needed to resume descent where it stopped (warm start, partial_fit)."""

    params: object
    rule_state: object
    epoch: int
    n_updates: int
    n_plateaus: int


class DescentResult(NamedTuple):
    params: object
    state: EngineState
    n_iter: int
    converged: bool
    # An on_epoch_end hook asked to stop.
    stopped: bool
    loss_curve: list
    learning_rate_curve: list
    validation_scores: list | None
    best_validation_score: float | None


def _identity_prox(w, step):
    return w


def _batches(n_samples, batch_size, shuffle, rng, xp, device):
    if batch_size is None or batch_size >= n_samples:
        yield None, 1.0
        return
    order = xp.asarray(rng.permutation(n_samples), device=device) if shuffle else None
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        rows = slice(start, stop) if order is None else order[start:stop]
        yield rows, (stop - start) / n_samples


def _diverged(learning_rate, epoch, value):
    return DivergenceError(
        f"learning_rate={learning_rate:.6g} made the objective diverge at epoch {epoch} "
        f"(objective={value:.6g}); try a smaller learning_rate or learning_rate='auto'."
    )


def minimize(
    loss_gradient: Callable,
    params,
    *,
    n_samples: int,
    learning_rate: float,
    decay: Decay | None = None,
    rule: UpdateRule | None = None,
    penalty=None,
    max_iter: int = 1000,
    tol: float | None = 1e-4,
    n_iter_no_change: int = 5,
    batch_size: int | None = None,
    shuffle: bool = True,
    rng=None,
    validation: Callable | None = None,
    state: EngineState | None = None,
    verbose: int = 0,
    on_epoch_begin: Callable | None = None,
    on_epoch_end: Callable | None = None,
) -> DescentResult:
    """Run up to ``max_iter`` epochs of descent on ``loss_gradient``.

    Parameters
    ----------
    loss_gradient : callable ``(w, rows) -> (objective, gradient)``
        Smooth objective (a float or a 0-d array) and its gradient; ``rows`` is None
        (full batch), a slice, or an index array on the device of ``params``.
    params : array
        Starting point (any Array API array); ignored when ``state`` is given.
    n_samples : int
        Number of samples ``rows`` index into.
    learning_rate : float
        Base step size, scaled each epoch by ``decay.factor``.
    decay : Decay, default=constant
    rule : UpdateRule, default=accelerated
    penalty : object with ``value(w)`` and ``prox(w, step)``, optional
        Non-smooth penalty, added to the monitored objective and applied by its prox.
    max_iter, tol, n_iter_no_change :
        Stop once the monitored value has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (``tol=None``: run ``max_iter`` epochs).
    batch_size, shuffle, rng :
        Mini-batches of ``batch_size`` rows, reshuffled each epoch with ``rng``.
    validation : callable ``w -> score``, optional
        When given, the monitored value is this score (higher is better) after each
        epoch, and the best parameters seen are returned.
    state : EngineState, optional
        Resume from a previous result's state (parameters, rule state, schedule).
    verbose : int
        Print one line per epoch when positive.
    on_epoch_begin : callable ``(epoch, params) -> None``, optional
        Called before each epoch with its number (counted across resumes) and the
        parameters it starts from.
    on_epoch_end : callable ``(epoch, params) -> bool``, optional
        Called after each epoch with its number and the parameters it reached; returning
        True stops the descent there.
    """
    decay = make_decay("constant") if decay is None else decay
    rule = UPDATE_RULES["accelerated"]() if rule is None else rule
    prox = _identity_prox if penalty is None else penalty.prox
    rng = np.random.default_rng() if rng is None else rng
    if state is None:
        state = EngineState(params, rule.init(params), 0, 0, 0)
    params, rule_state, epoch, n_updates, n_plateaus = state
    xp, device = get_namespace(params)

    loss_curve, rate_curve = [], []
    scores = [] if validation is not None else None
    best_monitored, best_params, stalled = math.inf, params, 0
    reference = None
    deterministic = validation is None and (batch_size is None or batch_size >= n_samples)
    converged = stopped = False
    start = time.perf_counter()

    # Overflow in a diverging run is reported by DivergenceError, not by warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            if on_epoch_begin is not None:
                on_epoch_begin(epoch, params)
            rate = learning_rate * decay.factor(epoch, n_plateaus)
            objective = 0.0
            for rows, fraction in _batches(n_samples, batch_size, shuffle, rng, xp, device):
                point = rule.query(params, rule_state)
                value, grad = loss_gradient(point, rows)
                if penalty is not None:
                    value = value + penalty.value(point)
                objective = objective + fraction * value
                params, rule_state = rule.update(grad, params, rule_state, rate, prox)
                n_updates += 1
            # The one read of the objective on the host in this epoch.
            objective = float(objective)
            if not math.isfinite(objective):
                raise _diverged(learning_rate, epoch, objective)
            epoch += 1
            if reference is None:
                reference = max(abs(objective), 1.0)
            if objective > _EXPLOSION * reference:
                raise _diverged(learning_rate, epoch - 1, objective)
            loss_curve.append(objective)
            rate_curve.append(rate)

            if validation is not None:
                score = float(validation(params))
                scores.append(score)
                monitored = -score
            else:
                monitored = objective
            if verbose:
                print(f"epoch {epoch:>5}  objective {objective:.10g}  "
                      f"learning_rate {rate:.4g}  {time.perf_counter() - start:.3f}s"
                      + (f"  validation score {scores[-1]:.6g}" if scores else ""))

            # A stall is an epoch not better than the best by tol, as in scikit-learn's
            # SGD, except that full-batch training loss rising by more than tol is the
            # overshoot of momentum, which passes, not a plateau.
            if tol is None or monitored < best_monitored - tol or (
                    deterministic and monitored > best_monitored + tol):
                stalled = 0
            else:
                stalled += 1
            if monitored < best_monitored:
                best_monitored, best_params = monitored, params
            if on_epoch_end is not None and on_epoch_end(epoch - 1, params):
                stopped = True
                break
            if tol is not None and stalled >= n_iter_no_change:
                stalled = 0
                if (decay.reduces_on_plateau
                        and decay.factor(epoch, n_plateaus + 1) >= _MIN_PLATEAU_FACTOR):
                    n_plateaus += 1
                    continue
                converged = True
                break

    if not bool(xp.all(xp.isfinite(params))):
        raise _diverged(learning_rate, epoch - 1, math.inf)
    best_score = None
    if validation is not None:
        params = best_params
        best_score = max(scores)
    return DescentResult(
        params=params,
        state=EngineState(params, rule_state, epoch, n_updates, n_plateaus),
        n_iter=len(loss_curve),
        converged=converged,
        stopped=stopped,
        loss_curve=loss_curve,
        learning_rate_curve=rate_curve,
        validation_scores=scores,
        best_validation_score=best_score,
    )
