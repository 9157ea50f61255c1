"""The descent engine: minimises any ``loss_gradient`` it is given.

It knows nothing of scikit-learn, of X or of estimators. It receives a function
``loss_gradient(w, rows)`` returning ``(objective, gradient)`` (``rows`` is None for the
full batch, else a slice or index array of a mini-batch), a step size, a decay, an update
rule, a metric to step in (see :mod:`skgd._curvature`), optionally the proximal operator of
a non-smooth penalty and per-epoch hooks, and it returns a :class:`DescentResult`.

**The units.** How a step is taken is the update rule's (:mod:`skgd._updates`; a rule
that refits its metric to the local curvature does so itself, through the metric's
``refresh``), the metric's (:mod:`skgd._curvature`); when the run stops is
:mod:`skgd._stopping`'s; when it has diverged, :mod:`skgd._divergence`'s. This module
runs the epochs between them: the batches, the reads of each epoch on the host, the
optimality measure, the validation score, the hooks and the verbose output.

**The optimality measure.** A full-batch run measures the norm of the gradient mapping
``G(w) = (w - prox_M(w - lr M^-1 grad F(w))) / lr`` in the metric, ``||G||_{M}``,
relative to its value at the starting point (for a smooth objective ``||G||_M^2 =
grad^T M^-1 grad``). ``G = 0`` exactly at a minimiser, the measure is free (each step
computes ``G`` at the point where it takes the gradient) and, being relative, it does not
depend on the scale of X, y or the loss. Runs that see the data in mini-batches, or that
score a validation set, measure it once, after the last epoch, by one more full pass (as
does a full-batch run that ends without converging: the point its last step reached is
checked there). A rule that steps in a curvature bound may be given a ``certificate``,
the exact Hessian's metric: where the bound's measure meets ``tol``, the stop also asks
the Hessian's, which a bound far above the curvature (sure predictions) cannot fool.

**Drivers.** :func:`descent` is a generator: it yields each request for the objective
and gradient ``(w, rows)`` and is sent the answer. :func:`minimize` answers with one
``loss_gradient``; :func:`run_many` advances many descents in lockstep and answers the
requests of an epoch together, so that one pass over the data serves the fits of a
search (skgd's CV estimators). A mini-batch epoch may instead be run whole by a
``run_epoch`` the caller provides (the compiled kernel, :mod:`skgd._compiled`).

The parameters may be any Array API array: they stay in their namespace and on their
device. The objective may come back as a 0-d array there; the engine sums it over the
epoch and reads it on the host once per epoch (with the optimality measure, for a full
batch). The mini-batch order is drawn on the host and moved to the parameters' device
once per epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import numpy as np

from ._array_api import get_namespace
from ._curvature import Euclidean, one_blas_thread
from ._decays import Decay, make_decay, within_epoch
from ._divergence import DivergenceError, References, Watch, references
from ._stopping import Certificate, Stop, relative_optimality
from ._updates import UPDATE_RULES, Step, UpdateRule

__all__ = ["DivergenceError", "DescentResult", "EngineState", "descent", "minimize", "run",
           "run_many"]

class EngineState(NamedTuple):
    """Everything needed to resume descent where it stopped (warm start, partial_fit)."""

    params: object
    rule_state: object
    epoch: int
    n_updates: int
    n_plateaus: int
    references: References | None = None
    # Consecutive epochs whose objective was above twice the reference.
    n_rises: int = 0
    # A stream's record (see ``streaming``): rows seen, the sums over its batches of rows
    # times the zero model's objective and rows times the epoch's objective, and the rise
    # it began at while it has not yet come within twice the zero model's (see Watch).
    stream: tuple = (0, 0.0, 0.0, 0.0)


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
    # The relative optimality measure at the end (None when it was not measured).
    optimality: float | None
    # The objective at ``params`` (None when it was not measured).
    objective: float | None = None


def _no_prox(w, step, start=None):
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


def minimize(loss_gradient: Callable, params, **settings) -> DescentResult:
    """Run up to ``max_iter`` epochs of descent on ``loss_gradient``.

    ``loss_gradient(w, rows) -> (objective, gradient)`` gives the smooth objective (a
    float or a 0-d array) and its gradient; ``rows`` is None (full batch), a slice, or an
    index array on the device of ``params``. The keyword arguments are those of
    :func:`descent`.
    """
    return run(descent(params, **settings), loss_gradient)


# Overflow in a diverging run is reported by DivergenceError, not by warnings; an
# exponential that underflows to 0 is exact enough. The drivers below set this state
# around every resumption of a descent, so that descents run side by side never leave
# each other's error state behind. They also run the descent's products on one BLAS
# thread (see skgd._curvature.one_blas_thread): a fit makes many small ones.
def _quiet():
    return np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore")


def run(descent: Generator[Any, Any, Any], loss_gradient: Callable):
    """Drive one :func:`descent`, answering its requests with ``loss_gradient``; return
    its :class:`DescentResult`."""
    reply = None
    with _quiet(), one_blas_thread():
        try:
            while True:
                try:
                    point, rows = descent.send(reply)
                except StopIteration as stop:
                    return stop.value
                reply = loss_gradient(point, rows)
        finally:
            descent.close()


def run_many(descents: list, loss_gradients: Callable, catch=(), on_done=None) -> list:
    """Drive several :func:`descent` generators in lockstep, answering their requests
    together: ``loss_gradients([(index, point, rows), ...])`` returns the list of
    ``(objective, gradient)`` in the same order. Descents of the same length of epoch ask
    at the same time, so one pass over the data can serve them all.

    A descent that raises one of the exception types ``catch`` is dropped and the
    exception is its outcome; any other exception ends the run. Returns the outcome of
    each descent, a :class:`DescentResult` or an exception, in order; ``on_done(index,
    outcome)`` is called as each ends.
    """
    outcomes = [None] * len(descents)
    replies = dict.fromkeys(range(len(descents)))
    with _quiet(), one_blas_thread():
        try:
            while replies:
                requests = []
                for index, reply in replies.items():
                    try:
                        point, rows = descents[index].send(reply)
                    except StopIteration as stop:
                        outcomes[index] = stop.value
                    except catch as error:
                        outcomes[index] = error
                    else:
                        requests.append((index, point, rows))
                        continue
                    if on_done is not None:
                        on_done(index, outcomes[index])
                answers = loss_gradients(requests) if requests else []
                replies = {index: answer for (index, _, _), answer
                           in zip(requests, answers, strict=True)}
        finally:
            for descent in descents:
                descent.close()
    return outcomes


def descent(
    params,
    *,
    n_samples: int,
    learning_rate: float,
    decay: Decay | None = None,
    rule: UpdateRule | None = None,
    penalty=None,
    metric=None,
    gauge=None,
    certificate=None,
    max_iter: int = 1000,
    tol: float | None = 1e-5,
    n_iter_no_change: int = 5,
    batch_size: int | None = None,
    shuffle: bool = True,
    rng=None,
    validation: Callable | None = None,
    state: EngineState | None = None,
    reference_point=None,
    null_point=None,
    last_batch: float = 1.0,
    streaming: bool = False,
    advice: str = "try a smaller learning rate.",
    verbose: int = 0,
    on_epoch_begin: Callable | None = None,
    on_epoch_end: Callable | None = None,
    run_epoch: Callable | None = None,
) -> Generator[tuple, tuple, DescentResult]:
    """Descent as a generator: it yields each request ``(w, rows)`` for the objective
    and its gradient and is sent back ``(objective, gradient)`` (see :func:`minimize`);
    it returns a :class:`DescentResult`. Run it with :func:`run` or :func:`run_many`,
    which also set the floating-point error state it expects.

    Parameters
    ----------
    params : array
        Starting point (any Array API array); ignored when ``state`` is given.
    n_samples : int
        Number of samples ``rows`` index into.
    learning_rate : float
        Base step size, scaled each epoch by ``decay.factor``.
    decay : Decay, default=constant
    rule : UpdateRule, default=accelerated
    penalty : object with ``value(w)``, ``prox(w, step)`` and ``n_coef``, optional
        Non-smooth penalty, added to the monitored objective and applied by its prox.
    metric : object from :mod:`skgd._curvature`, default=Euclidean
        The metric the rule steps in (``direction``, ``inner``, ``prox``).
    gauge : metric, optional
        The metric optimality is measured in, where not ``metric`` (a curvature bound for
        a Euclidean step); only without a penalty.
    certificate : callable ``w -> metric``, optional
        The exact Hessian's metric at ``w`` (see ``skgd._curvature.certificate``): a full
        batch that meets ``tol`` in a bound stops only where it meets it there too (see
        :class:`skgd._stopping.Certificate`).
    max_iter, tol, n_iter_no_change :
        Stop on optimality (full batch) or the epoch-level rule (mini-batches,
        validation), as the module docstring says; ``tol=None`` runs ``max_iter`` epochs.
    batch_size, shuffle, rng :
        Mini-batches of ``batch_size`` rows, reshuffled each epoch with ``rng``.
    validation : callable ``w -> score``, optional
        When given, the monitored value is this score (higher is better) after each
        epoch, and the best parameters seen are returned.
    state : EngineState, optional
        Resume from a previous result's state (parameters, rule state, schedule, and the
        references unless they are None).
    reference_point : array, optional
        Where to measure the references when the state has none (default: the starting
        point). A warm start passes the origin, the scale of the problem, rather than a
        starting point that is already nearly optimal.
    null_point : array, optional
        A point whose optimality is measured too, by one more pass before the first
        epoch, where the run has no references yet: the reference optimality is the
        smaller of the two. Least squares' null model (the targets' mean as intercept)
        where the targets lie far off zero: from the origin, the intercept's share of
        the gradient dwarfs the coefficients', and once the intercept fitted, a fit
        stood within tol of the start's optimality far from its optimum (targets 1e6
        +- 5: plain descent stopped with coefficients 0.39 off, no warning).
    last_batch : float, default=1.0
        The factor of the step of an epoch's last mini-batch where it holds fewer rows
        than the others (a step fitted to the batch size would be too large for it).
    streaming : bool, default=False
        The run is one call of a stream (``partial_fit``): its references are its own
        batch's, rises and explosions are measured in the stream's unit, and a rise
        counts towards ``_RISE_EPOCHS`` where the stream's objective over all its
        batches so far is above twice the zero model's too (see :func:`_stream_rise`);
        the run's result may not end far above its batch's objective.
    advice : str
        What a :class:`DivergenceError` recommends.
    verbose : int
        Print one line per epoch, and a summary, when positive.
    on_epoch_begin : callable ``(epoch, params) -> None``, optional
        Called before each epoch with its number (counted across resumes) and the
        parameters it starts from.
    on_epoch_end : callable ``(epoch, params) -> bool``, optional
        Called after each epoch with its number and the point it reached (the rule's
        ``model``: the parameters, or their average); returning True stops the descent
        there.
    run_epoch : callable ``(params, rule_state, learning_rate, order) -> (params,
    rule_state, objective)``, optional
        Runs a whole mini-batch epoch in place of the engine's loop over its batches,
        taking the same steps (``learning_rate``: a float, or the list of each update's
        rate for a per-update decay; ``order``: the epoch's permutation of the rows on the
        host, None without ``shuffle``; ``objective``: the sum of the batches' objectives
        weighted by their share of the rows). The per-epoch rules stay the engine's.
    """
    decay = make_decay("constant") if decay is None else decay
    rule = UPDATE_RULES["accelerated"]() if rule is None else rule
    metric = Euclidean() if metric is None else metric
    # ``start``: the point the step is taken from, a guess of the result (a full
    # metric's prox is solved, see skgd._curvature.quadratic_l1).
    prox = _no_prox if penalty is None else (
        lambda w, step, start=None: metric.prox(penalty, w, step, start))
    rng = np.random.default_rng() if rng is None else rng
    if state is None:
        state = EngineState(params, rule.init(params), 0, 0, 0)
    params, rule_state, epoch, n_updates, n_plateaus, state_references, n_rises, \
        stream = state
    xp, device = get_namespace(params)
    full_batch = batch_size is None or batch_size >= n_samples
    n_batches = -(-n_samples // (batch_size or n_samples))
    loss_curve: list[float] = []
    watch = Watch(state_references, n_rises, stream, streaming=streaming, advice=advice,
                  loss_curve=loss_curve, elsewhere=reference_point is not None)
    stop = Stop(tol, n_iter_no_change, full_batch=full_batch,
                epoch_rule=validation is not None or not full_batch, decay=decay, rule=rule,
                dtype=params.dtype)

    def optimality(step, rate):
        """``||G||_M^2`` at ``step.point``, a 0-d array (no host read); where the rule has
        its own estimate of Newton's decrement ``grad^T H^-1 grad`` (about twice the gap
        ``F - F*``; L-BFGS), the larger of the two: a bound ``B >= H`` underestimates
        Newton's, so the larger is the stricter stop."""
        if penalty is None:
            if gauge is None:
                squared = step.grad @ step.direction
            else:
                squared = step.grad @ gauge.direction(step.grad)
            decrement = rule.decrement(rule_state, step.point)
            if decrement is not None:
                squared = max(float(squared), decrement)
            return squared
        forward = step.forward
        if rate != learning_rate:
            # At the decayed rate the mapping shrank with it, to exactly 0 once the
            # step fell below the rounding of the point: L1 fits "converged" at 4.4
            # times Lasso's objective. It is measured at the fit's own rate.
            rate = learning_rate
            forward = prox(step.point - rate * step.direction, rate, step.point)
        mapping = (step.point - forward) / rate
        return metric.inner(mapping, mapping)

    def measure(point, rate):
        """``(F, ||G||_M^2)`` at ``point`` from one full pass, read on the host (a
        sub-generator: its pass is a request)."""
        value, grad = yield point, None
        if penalty is not None:
            value = value + penalty.value(point)
        direction = metric.direction(grad)
        step = Step(point, grad, direction, prox(point - rate * direction, rate, point))
        return float(value), float(optimality(step, rate)), step

    def check_start(value, squared, step, rate):
        """Raise :meth:`Watch.overflow` where the gradient mapping's measure at the start
        is not finite where the objective and the step's direction are: the step it
        takes, ``rate`` times the direction, overflowed the parameters' dtype. (Without a
        penalty the measure takes no step: a non-finite one is the data's.)"""
        if (penalty is not None and math.isfinite(value) and not math.isfinite(squared)
                and bool(xp.all(xp.isfinite(step.direction)))):
            raise watch.overflow(epoch, value, rate, params.dtype)

    def epoch_rates(epoch):
        """The epoch's rate, and each update's where they differ (a per-update decay, a
        short last batch; None where they do not)."""
        rate = learning_rate * decay.factor(epoch, n_plateaus)
        rates = None if full_batch or not decay.per_update else [
            learning_rate * factor for factor in within_epoch(
                decay, epoch, n_plateaus, n_batches)]
        if not full_batch and last_batch != 1.0:
            rates = [rate] * n_batches if rates is None else rates
            rates[-1] *= last_batch
        return rate, rates

    null_squared = math.inf
    if watch.references is None and null_point is not None:
        _, null_squared, _ = yield from measure(null_point, learning_rate)
    if watch.references is None and (not full_batch or reference_point is not None):
        value, squared, measured = yield from measure(
            params if reference_point is None else reference_point, learning_rate)
        check_start(value, squared, measured, learning_rate)
        watch.references = references(value, min(squared, null_squared))
        if reference_point is not None and not full_batch:
            # A mini-batch warm start worse than the zero model starts afresh there, as a
            # full batch's does after its first epoch (below), whose objective is its
            # start's; a mini-batch epoch's is the mean over its moving points: one pass
            # more measures the start. A stream continues from it.
            start = (yield from measure(params, learning_rate))[0]
            if streaming:
                watch.began(start)
            elif start > value:
                params = reference_point
                rule_state = rule.init(params)

    rate_curve: list[float] = []
    scores: list[float] | None = [] if validation is not None else None
    origin = params
    best_params = params
    relative = None
    converged = stopped = reverted = False
    certify = None if certificate is None else Certificate(certificate, tol)
    start = time.perf_counter()

    for _ in range(max_iter):
        if on_epoch_begin is not None:
            on_epoch_begin(epoch, params)
        rate, rates = epoch_rates(epoch)
        objective = 0.0
        if run_epoch is not None and not full_batch:
            # The permutation is drawn as _batches draws it: same rng, same batches.
            order = rng.permutation(n_samples) if shuffle else None
            params, rule_state, objective = run_epoch(
                params, rule_state, rate if rates is None else rates, order)
            n_updates += n_batches
            step = None
        else:
            batches = _batches(n_samples, batch_size, shuffle, rng, xp, device)
            for index, (rows, fraction) in enumerate(batches):
                step_rate = rate if rates is None else rates[index]
                point = rule.query(params, rule_state)
                value, grad = yield point, rows
                if penalty is not None:
                    value = value + penalty.value(point)
                objective = objective + fraction * value
                direction = metric.direction(grad)
                step = Step(point, grad, direction,
                            prox(point - step_rate * direction, step_rate, point), value)
                params, rule_state = rule.update(step, params, rule_state, step_rate,
                                                 metric, prox)
                n_updates += 1
        # The reads of the epoch on the host: the objective and, for a full batch,
        # the optimality at the point where the gradient was taken.
        objective = float(objective)
        squared = float(optimality(step, rate)) if full_batch else 0.0
        restarted = False
        if not loss_curve:
            if full_batch:
                check_start(objective, squared, step, rate)
            watch.first(objective, min(squared, null_squared))
            if full_batch and reference_point is not None:
                watch.began(objective)
            if (full_batch and not streaming and reference_point is not None
                    and objective > watch.references.objective):
                # A warm start from a point worse than the zero model (a model of data
                # that have since moved, of labels that flipped) starts afresh there:
                # from its start, the descent ran above twice the zero model's for
                # epochs and was reported as diverging, or crawled out of saturated
                # predictions to max_iter, the objective 1 000 times the zero model's.
                params = origin = reference_point
                rule_state, restarted = rule.init(params), True
        epoch += 1
        loss_curve.append(objective)
        rate_curve.append(rate)
        # A line search that turned down this epoch's trial point stays where it was: the
        # epoch stays in the record, and is neither a rise nor a stop (as the start a
        # warm start left).
        reverted = restarted or rule.rejected(rule_state)
        if not reverted:
            watch.epoch(epoch - 1, objective, squared, rate, n_samples)
            if full_batch:
                relative = relative_optimality(squared, watch.references)
                if certify is not None:
                    relative = certify.measure(relative, step, watch.references, epoch)

        if validation is not None:
            assert scores is not None
            model = rule.model(params, rule_state)
            score = float(validation(model))
            scores.append(score)
            # The starting point is no candidate for the best: L-BFGS's first epoch only
            # measures it (its first step is the next epoch's), and where no later epoch
            # beat its score by tol (an accuracy of 1 on imbalanced classes), the fit
            # returned the untrained start, every coefficient and intercept 0. Nor is it
            # a stall (with n_iter_no_change=1 that stopped the fit there).
            monitored = None if model is origin else math.inf if math.isnan(score) \
                else -score
        else:
            monitored = objective
        if verbose:
            print(f"epoch {epoch:>5}  objective {objective:.10g}  "
                  f"learning_rate {rate:.4g}"
                  + (f"  optimality {relative:.3g}" if full_batch and relative is not None
                     else "")
                  + ("  (above the zero model: restarted from it)" if restarted
                     else "  (step rejected: the objective rose)" if reverted else "")
                  + f"  {time.perf_counter() - start:.3f}s"
                  + (f"  validation score {scores[-1]:.6g}" if scores else ""))

        if monitored is not None and stop.monitor(monitored):
            best_params = rule.model(params, rule_state)
        if on_epoch_end is not None and on_epoch_end(epoch - 1,
                                                     rule.model(params, rule_state)):
            stopped = True
            break
        verdict = stop.verdict(epoch, n_plateaus, relative, reverted, rule_state, metric,
                               objective)
        if verdict.rule_state is not None:
            rule_state = verdict.rule_state
        n_plateaus += verdict.cut_rate
        if verdict.stop:
            converged = verdict.converged
            if converged and full_batch and validation is None and not reverted:
                # The certificate is for the point where the gradient was taken: that
                # is the point returned, not the step from it (which no one has checked).
                # (A turned-down trial point is not: the rule is back at the one before.)
                assert step is not None  # a full batch takes its steps here
                params = step.point
            break

    # The point the fit stands for: the parameters, or the rule's average of them.
    model = rule.model(params, rule_state)
    if not bool(xp.all(xp.isfinite(params)) and (model is params
                                                  or xp.all(xp.isfinite(model)))):
        raise watch.error(epoch - 1, math.inf, rate)
    # The first epoch (max_iter >= 1) measured the references, where the start had not.
    assert watch.references is not None
    if not (converged or stopped):
        watch.end(epoch - 1, rate)
    best_score = None
    if validation is not None:
        assert scores is not None
        params = model = best_params
        best_score = max(scores, key=lambda s: -math.inf if math.isnan(s) else s)
    final = (loss_curve[-1] if converged and full_batch and validation is None
             and not reverted else None)
    if loss_curve and (validation is not None or not full_batch or not converged
                       or reverted):
        value, squared, end = yield from measure(model, learning_rate)
        watch.final(epoch - 1, value, squared, rate, full_batch)
        relative, final = relative_optimality(squared, watch.references), value
        if certify is not None and validation is None:
            relative = certify.measure(relative, end, watch.references)
    if verbose:
        print(f"{len(loss_curve)} epochs, objective "
              f"{loss_curve[-1] if final is None else final:.10g}, "
              + (f"optimality {relative:.3g} (tol={tol}), " if relative is not None else "")
              + ("converged" if converged else "stopped" if stopped else "not converged")
              + f", {time.perf_counter() - start:.3f}s")
    return DescentResult(
        params=model,
        state=EngineState(params, rule_state, epoch, n_updates, n_plateaus,
                          watch.references, watch.n_rises, watch.stream),
        n_iter=len(loss_curve),
        converged=converged,
        stopped=stopped,
        loss_curve=loss_curve,
        learning_rate_curve=rate_curve,
        validation_scores=scores,
        best_validation_score=best_score,
        optimality=relative,
        objective=final,
    )

