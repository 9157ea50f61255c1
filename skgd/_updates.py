"""Update rules: how one gradient turns into new parameters.

Each rule is an :class:`UpdateRule` of three plain functions, in the spirit of optax's
``(init, update)`` pairs: ``init(params) -> state``; ``query(params, state) -> point``
where the next gradient must be evaluated (the look-ahead point for Nesterov methods,
the parameters themselves otherwise); and
``update(step, params, state, learning_rate, metric, prox) -> (params, state)``; and
``model(params, state) -> point``, the point the fit stands for (the parameters, except
for :func:`averaged`). States are NamedTuples that are returned, never mutated.

The engine hands each rule a :class:`Step`: the gradient at the query point, that gradient
in the metric (``direction = M^-1 grad``, see :mod:`skgd._curvature`; the gradient itself
in the Euclidean metric) and the forward-backward point ``prox(point - lr * direction)``
that plain and accelerated descent move to. ``prox(w, step, start=None)`` is the proximal
step of the non-smooth penalty in the metric (the identity without L1; ``start``, a guess
of the result where the metric's prox is solved, see
:func:`skgd._curvature.quadratic_l1`), applied after every update so that L1 gives exact
zeros; ``metric.inner(u, v)`` is ``u^T M v``. The rules use array
operators only, so the parameters may live in any Array API namespace and on any device.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.linalg.blas

from ._array_api import get_namespace


class Step(NamedTuple):
    """What the engine computed at the query point for the rule."""

    point: object
    grad: object
    direction: object
    # prox(point - learning_rate * direction, learning_rate)
    forward: object
    # The objective at the point (a float or a 0-d array), for rules that search a line.
    value: object = None


def _params(params, state):
    return params


def xp_sum_abs(array):
    """``sum |array|`` in the array's namespace."""
    xp = get_namespace(array)[0]
    return xp.sum(xp.abs(array))


def _never(state):
    return False


def _none(state, point):
    return None


class UpdateRule(NamedTuple):
    init: Callable
    query: Callable
    update: Callable
    # model(params, state): the point the fit stands for (scored, returned): the
    # parameters themselves, or their running average.
    model: Callable = _params
    # rejected(state): the rule searches a line and turned down the point it queried
    # last, staying where it was (that epoch's objective is no rise, and no stop).
    rejected: Callable = _never
    # decrement(state, point): the rule's own estimate of Newton's decrement
    # ``grad^T H^-1 grad`` at ``point`` (None where it has none); the engine's optimality
    # measure takes the larger of it and the metric's.
    decrement: Callable = _none
    # finish(state, metric): once the stopping rule is met, the state that goes on with
    # Newton's steps to the optimum to rounding, where the rule can take them cheaply;
    # None (the default) to stop there.
    finish: Callable = _none


class MomentumState(NamedTuple):
    velocity: object
    # The rate of the step that made it (0 before any).
    rate: float = 0.0


def gd(momentum=0.0, nesterov=False, **_):
    """Gradient descent ``x <- x - lr * M^-1 grad``, with optional heavy-ball momentum.

    With momentum ``mu``: ``x_{k+1} = prox(x_k - lr_k * M^-1 grad + mu (lr_k / lr_{k-1})
    (x_k - x_{k-1}))``; with ``nesterov=True`` the gradient is taken at the look-ahead
    ``x_k + mu (x_k - x_{k-1})``. The last step counts in units of its rate, as PyTorch's
    and optax's momentum, kept in gradient units, counts it: a decay that cuts the rate
    cuts the coasting too. At its last velocity the point coasted ``mu / (1 - mu)`` of it
    past a cut: ``"auto"`` with ``momentum=0.9`` and ``decay="plateau"``, whose cuts
    follow heavy ball's rises, ended 1.9 times above the zero model's objective.
    """
    if momentum == 0:
        return UpdateRule(
            init=lambda params: None,
            query=_params,
            update=lambda step, params, state, learning_rate, metric, prox: (
                step.forward, None),
        )

    def init(params):
        return MomentumState(get_namespace(params)[0].zeros_like(params))

    def query(params, state):
        return params + momentum * state.velocity if nesterov else params

    def update(step, params, state, learning_rate, metric, prox):
        carried = momentum * (learning_rate / state.rate) if state.rate > 0 else momentum
        new = prox(params + carried * state.velocity - learning_rate * step.direction,
                   learning_rate)
        return new, MomentumState(new - params, learning_rate)

    return UpdateRule(init, query, update)


class AcceleratedState(NamedTuple):
    query: object
    theta: float


def accelerated(max_momentum=1.0, **_):
    """Nesterov's accelerated (proximal) gradient, FISTA, with adaptive restart.

    The gradient is taken at ``y``, ``x_{k+1} = prox(y - lr * M^-1 grad)`` and
    ``y = x_{k+1} + mu_k (x_{k+1} - x_k)`` with ``mu_k = min((theta_k - 1) / theta_{k+1},
    max_momentum)``. Momentum restarts (O'Donoghue & Candès, 2015, gradient scheme, in
    the metric) whenever the step points against it, which keeps the fast rate on
    strongly convex problems without knowing their strong convexity, and needs no
    momentum setting.

    ``max_momentum`` below 1 bounds the momentum where the gradients are noisy. FISTA's
    momentum tends to 1, and a step's noise then keeps moving the point for ``1 / (1 -
    mu)`` steps: with mini-batches the iterates wander ever further (or diverge).
    Acceleration needs an effective step ``lr / (1 - mu)`` above ``1 / L``, which is what
    amplifies the noise, and at the effective step of plain stochastic descent momentum
    gains nothing (Kidambi et al., 2018): the estimators pass 0 for mini-batches and
    ``partial_fit``, where the rule is then proximal stochastic gradient descent.
    """

    def init(params):
        return AcceleratedState(params, 1.0)

    def query(params, state):
        return state.query

    def update(step, params, state, learning_rate, metric, prox):
        new = step.forward
        moved = new - params
        # The one number a step reads on the host: whether the step turned back.
        if float(metric.inner(state.query - new, moved)) > 0:
            return new, AcceleratedState(new, 1.0)
        theta = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * state.theta ** 2))
        shift = min((state.theta - 1.0) / theta, max_momentum)
        return new, AcceleratedState(new + shift * moved, theta)

    return UpdateRule(init, query, update)


class AdamState(NamedTuple):
    mean: object
    second_moment: object
    n_steps: int


# Adam's defaults, shared with the compiled kernel (skgd._compiled).
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


def adam(beta1=BETA1, beta2=BETA2, epsilon=EPSILON, **_):
    """Adam (Kingma & Ba, 2015) with bias correction; prox with the base step for L1.

    Adam scales each coordinate by its own gradient history, so it steps in the
    Euclidean metric, on the raw gradient.
    """

    def init(params):
        zeros = get_namespace(params)[0].zeros_like
        return AdamState(zeros(params), zeros(params), 0)

    def update(step, params, state, learning_rate, metric, prox):
        grad = step.grad
        count = state.n_steps + 1
        mean = beta1 * state.mean + (1 - beta1) * grad
        second = beta2 * state.second_moment + (1 - beta2) * (grad * grad)
        step = learning_rate * math.sqrt(1 - beta2 ** count) / (1 - beta1 ** count)
        new = prox(params - step * mean / (second ** 0.5 + epsilon), learning_rate)
        return new, AdamState(mean, second, count)

    return UpdateRule(init, _params, update)


class QuasiNewtonState(NamedTuple):
    # The accepted point, its objective and gradient (None before the first answer).
    point: object
    value: float
    grad: object
    # The search direction from the point, grad . direction (< 0), and the step length
    # along it that the query tries.
    direction: object
    slope: float
    length: float
    # The most recent (s, y, s . y) pairs, oldest first.
    pairs: tuple
    # The last query's trial point was rejected (the engine reads this).
    rejected: bool
    # The metric the memory is seeded with (None: the one the engine gives), and the
    # passes since it was fitted to the local curvature.
    metric: object = None
    since_refresh: int = 0
    # Past the stopping rule, taking Newton's steps (see ``finish``).
    polishing: bool = False
    # The optimality ``g . M0^-1 g`` at the start (M0: the engine's metric), and its
    # share at the last accepted points since the last refit, relative to it (see
    # ``_ends_before_a_refit_pays``).
    reference: float = 0.0
    history: tuple = ()
    # Whether ``-slope`` estimates Newton's decrement: the direction came from the
    # memory or a curvature metric, not from the plain metric alone (see ``decrement``).
    curved: bool = True


# Pairs L-BFGS remembers (scikit-learn's lbfgs and SciPy's default).
LBFGS_MEMORY = 10
# A metric that can be refitted is refitted once the passes since its last fit have cost
# this share of a refit (so refits take at most about two thirds of the work): the first
# refit, away from the start's uniform probabilities, pays most. Against refitting at the
# full cost, it took 0.56x the CPU time on 20 000 x 50 with 50 classes, 0.8x with 10, as
# much on the digits and the bundled tables (one run each, a busy machine).
_REFIT_AFTER = 0.5
# Armijo's sufficient-decrease constant, and the shortest step length tried along a
# quasi-Newton direction before falling back to the metric's own step.
_ARMIJO = 1e-4
_SHORTEST = 1e-10
# The accepted points whose optimality gives the rate at which a fit converges.
_RATE_POINTS = 4
# The optimality, relative to the start's, at which Newton's steps past the stopping rule
# end (see ``finish`` and skgd._stopping): two take 1e-5 to the rounding of float64
# gradients.
POLISHED = 1e-12


def _ends_before_a_refit_pays(history, tol, refresh_epochs):
    """Whether, at the rate of its last accepted points, the fit meets ``tol`` within the
    passes a refit costs: then the refit cannot pay for itself (after it, a step and a
    measure still come), and the fit goes on in the metric it has. On the digits the
    second refit (of two) came three passes before the stop and took 5 of its 25 ms.

    ``history``: the relative optimality at the last accepted points, oldest first. A
    rate of 1 or more (L-BFGS's gradient norm is not monotone) predicts nothing."""
    if not tol or len(history) < _RATE_POINTS:  # None, or 0: never met before the end
        return False
    first, last = history[-_RATE_POINTS], history[-1]
    if not 0 < last < first:
        return False
    if last <= tol:
        return True
    rate = (last / first) ** (1 / (_RATE_POINTS - 1))
    if not rate < 1.0:  # last within rounding of first: the root rounds to 1
        return False
    return math.log(tol / last) / math.log(rate) <= refresh_epochs


def _relative_rounding(dtype):
    """The relative rounding of a sum of many losses in ``dtype`` (any namespace's; its
    name tells single precision): about 1e-6 of their size in float32, 1e-15 in float64.
    Cached: formatting a dtype's name took 10 us, a tenth of an epoch of small fits."""
    # Keyed by the dtype's type too: a cache keyed by the dtype alone compared another
    # namespace's dtype with NumPy's (array_api_strict warns of such comparisons).
    return _rounding_of(type(dtype), dtype)


@functools.cache
def _rounding_of(kind, dtype):
    return 1e-6 if str(dtype).endswith(("float32", "float16")) else 1e-15


def _axpy(vector):
    """BLAS's in-place ``y += a x`` for a contiguous NumPy float vector like ``vector``
    (None for other arrays): the two-loop recursion's updates without temporaries, half
    the memory traffic on the long vectors of wide or many-class fits."""
    if not (isinstance(vector, np.ndarray) and vector.dtype in (np.float32, np.float64)
            and vector.flags.c_contiguous):
        return None
    return scipy.linalg.blas.get_blas_funcs("axpy", (vector,))


def lbfgs(memory=LBFGS_MEMORY, tol=None, penalty=None, floor=None, first=1.0, **_):
    """Limited-memory BFGS in the metric, with a backtracking line search (full batch).

    The inverse Hessian is learnt from the last ``memory`` pairs of steps ``s`` and
    gradient changes ``y`` by the two-loop recursion (Nocedal & Wright, 2006, Alg. 7.4),
    seeded with the metric: ``H0 = gamma M^-1``, ``gamma = s.y / (y . M^-1 y)``, and with
    ``learning_rate * M^-1`` before any pair. Each trial point ``x + t d`` is one request;
    one that does not decrease the objective by Armijo's rule is rejected and ``t``
    shrinks (by the minimiser of the quadratic through the two values and the slope, kept
    within [0.1, 0.5] of ``t``), so accepted points never rise. Where the memory gives no
    descent direction, or ``t`` falls below ``_SHORTEST``, the memory is dropped and the
    metric's own step is taken.

    A metric with ``refresh(w)`` (see :mod:`skgd._curvature`) is refitted to the
    curvature at an accepted point once the passes since the last fit have cost
    ``_REFIT_AFTER`` of a refit (``metric.refresh_epochs`` passes), unless the fit is
    about to meet the stopping rule's ``tol`` anyway (:func:`_ends_before_a_refit_pays`,
    from the optimality in the engine's metric, relative to the start's, as the engine
    measures it where the rule gives no larger one). A
    refitted metric that is the Hessian there (``exact``) makes the next step Newton's
    (the memory, learnt in another metric, is dropped): where the Hessian is cheap, this
    is Newton's method with a line search, which ends in a few steps, at the optimum to
    rounding.

    With an L1 ``penalty`` (its ``value`` and the metric's ``prox`` of it) the step is
    proximal Newton's (Lee, Sun & Saunders, 2014): the direction ``d = prox_M(x - M^-1
    grad) - x`` in the metric refitted to the local curvature, whose prox is exact (see
    :func:`skgd._curvature.quadratic_l1`), and the same line search on the whole
    objective, with ``grad . d + penalty(x + d) - penalty(x)`` (< 0) as its slope. No
    memory: the prox in the metric of the two-loop recursion has no closed form. Between
    refits the steps are in the metric last fitted, which the line search keeps safe.

    ``floor``: a value the objective never goes below (0 for skgd's losses and
    penalties), where known: a step from the metric alone (no memory) starts no longer
    than one that its quadratic model says takes the objective to the floor.

    ``first``: the first step's length, in multiples of the rate the engine gives (the
    metric's own step): a learning rate the user set scales that step only.

    Once the engine's stopping rule is met, ``finish`` goes on with Newton's steps where
    the metric offers the Hessian at a small cost (``metric.newton(w)``, see
    :func:`skgd._curvature.full`): each takes the fit from an optimality of ``tol`` to
    about its square, so the point returned is the optimum to rounding, whatever path
    led there (L-BFGS's memory amplifies rounding: fits of weighted and of repeated rows
    would otherwise stop ``tol`` apart).
    """

    def init(params):
        return QuasiNewtonState(None, math.inf, None, None, 0.0, 1.0, (), False)

    def query(params, state):
        if state.point is None:
            return params
        return state.point + state.length * state.direction

    def two_loop(grad, pairs, metric):
        axpy = _axpy(grad)
        alphas, q = [], grad if axpy is None else grad.copy()
        for s, y, sy in reversed(pairs):
            alpha = float(s @ q) / sy
            alphas.append(alpha)
            q = q - alpha * y if axpy is None else axpy(y, q, a=-alpha)
        s, y, sy = pairs[-1]
        m_y = metric.direction(y)
        r = (sy / float(y @ m_y)) * metric.direction(q)
        # In place on r only where it has the pairs' dtype (a metric may promote it).
        axpy = _axpy(r) if r.dtype == grad.dtype else None
        for (s, y, sy), alpha in zip(pairs, reversed(alphas), strict=True):
            coefficient = alpha - float(y @ r) / sy
            r = r + coefficient * s if axpy is None else axpy(s, r, a=coefficient)
        return r

    def metric_step(state, grad, learning_rate, metric, rejected, forward=None, **fields):
        """A fresh start at the accepted point: the metric's own step, no memory.
        ``forward``: its prox point where the engine computed it already."""
        # The rate is the step's length along the metric's direction (not part of the
        # direction), so that the slope, hence the decrement the engine measures, and
        # the shortest length tried are the metric's whatever the rate: with the rate
        # in the direction, a rate of 1e10 divided the optimality by 1e10 (least
        # squares stopped at 0.12 from the optimum, no warning), and at 1e20 the
        # floor's length fell below the shortest, so every restart was turned down
        # again (1 000 epochs at the start).
        direction = -metric.direction(grad)
        slope = float(grad @ direction)
        length = learning_rate
        if penalty is not None:
            if forward is None:
                forward = metric.prox(penalty, state.point + learning_rate * direction,
                                      learning_rate, state.point)
            direction = forward - state.point
            slope = float(grad @ direction) + float(penalty.value(forward)
                                                    - penalty.value(state.point))
            length = 1.0
        # No step gains more than the value above the floor: where the metric's
        # quadratic model promises more at length 1 (-slope / 2), it underestimates the
        # curvature along the direction, and the step starts no longer than where a
        # model of just enough curvature reaches the floor. A bound never promises more;
        # the local diagonal does, on X of more columns than rows (its curvature at the
        # start about 1/17 of the Hessian's largest on 200 x 2 000): a unit step there
        # landed where the losses saturate, and the secant pair it left misled L-BFGS
        # for the ten steps it stayed in the memory (44 epochs, against 16 from the
        # shorter step).
        if floor is not None and 0 < 2 * (state.value - floor) < -slope * length:
            length = 2 * (state.value - floor) / -slope
        return state._replace(direction=direction, slope=slope, length=length, pairs=(),
                              rejected=rejected, curved=metric.name is not None, **fields)

    def update(step, params, state, learning_rate, metric, prox):
        value = float(step.value)
        pairs = state.pairs
        current = metric if state.metric is None else state.metric
        since = state.since_refresh + 1
        # The optimality the engine measures too (its gauge aside), for the history that
        # decides refits: one dot product an epoch, taken only where the metric can be
        # refitted.
        refresh = getattr(current, "refresh", None)
        squared = 0.0
        if tol is not None and refresh is not None:
            if penalty is None:
                squared = float(step.grad @ step.direction)
            else:
                mapping = (step.point - step.forward) / learning_rate
                squared = float(metric.inner(mapping, mapping))
        reference = squared if state.point is None else state.reference
        if state.point is not None:
            decrease = _ARMIJO * state.length * state.slope
            # A rise within the rounding of the summed objective is no rise: float32
            # losses sum to about 1e-6 of their size. Where the columns lie far off zero
            # (a metric taken about their centre), a raw prediction sums terms of that
            # size which cancel, each rounded at it: the objective rounds there, 1e-9 of
            # it with a column of 1e8 +- 1, and every step near the optimum was turned
            # down for rises of that rounding.
            cancelled = getattr(current, "cancelled", None)
            size = abs(state.value) + (0.0 if cancelled is None else cancelled(state.point))
            rounding = _relative_rounding(step.grad.dtype) * size
            # Where the objective cannot tell the points apart, near the optimum, the
            # gradient can: a smaller one is progress (as scikit-learn's Newton solver
            # judges it).
            # (Not with L1: the smooth part's gradient does not vanish at the optimum.)
            resolved = penalty is not None or not (
                abs(value - state.value) <= 16 * rounding
                and float(xp_sum_abs(step.grad)) < float(xp_sum_abs(state.grad)))
            if resolved and not value <= state.value + decrease + rounding:
                length = state.length
                if math.isfinite(value):
                    curve = value - state.value - state.slope * length
                    shrink = -state.slope * length / (2 * curve) if curve > 0 else 0.5
                    length *= min(max(shrink, 0.1), 0.5)
                else:
                    length *= 0.1
                if length >= _SHORTEST:
                    return state.point, state._replace(length=length, rejected=True,
                                                       since_refresh=since)
                # The memory leads nowhere: start afresh at the accepted point.
                return state.point, metric_step(state, state.grad, learning_rate, current,
                                                True, since_refresh=since)
            s, y = step.point - state.point, step.grad - state.grad
            sy = float(s @ y)
            # Only pairs of positive curvature keep the inverse positive definite.
            if penalty is None and sy > 1e-12 * math.sqrt(float(s @ s) * float(y @ y)):
                pairs = (*pairs, (s, y, sy))[-memory:]
        history = state.history
        if reference > 0:
            history = (*history, math.sqrt(max(squared, 0.0) / reference))[-_RATE_POINTS:]
        # Not at the start: the metric was fitted there. Nor at a point polished to
        # POLISHED (by this measure; the engine's is the larger of it and the rule's
        # decrement), optimal to rounding: past the stop it ends the fit, and the
        # Hessian there would go unused (on the bundled breast-cancer table, one of its
        # six, about 0.14 of its 3.1 ms).
        polished = bool(history) and history[-1] <= POLISHED
        if refresh is not None and state.point is not None and not polished and (
                state.polishing or (
                    since >= _REFIT_AFTER * current.refresh_epochs
                    and not _ends_before_a_refit_pays(history, tol,
                                                      current.refresh_epochs))):
            # The curvature met here: its own step is 1, whatever learning_rate scaled
            # the first metric's.
            current, since, learning_rate = refresh(step.point), 0, 1.0
            history = ()
            if current.exact:
                pairs = ()
        accepted = QuasiNewtonState(step.point, value, step.grad, None, 0.0, 1.0, pairs,
                                    False, None if current is metric else current, since,
                                    state.polishing, reference, history)
        if not pairs:
            # The first step's length is ``first`` times the rate (a learning rate set).
            rate = learning_rate * first if state.point is None else learning_rate
            # In the engine's metric at its rate, the engine's prox point is this step's
            # (with L1, a solved prox the fewer).
            same = current is metric and penalty is not None and rate == learning_rate
            return step.point, metric_step(accepted, step.grad, rate, current,
                                           False, step.forward if same else None)
        direction = -two_loop(step.grad, pairs, current)
        slope = float(step.grad @ direction)
        if not slope < 0:
            return step.point, metric_step(accepted, step.grad, learning_rate, current,
                                           False)
        return step.point, accepted._replace(direction=direction, slope=slope)

    def decrement(state, point):
        """``-grad . direction = grad^T H grad`` at the accepted point: the quasi-Newton
        estimate of Newton's decrement; None where the direction is the plain metric's
        alone, ``grad . grad``, in the units of X's squared scale: with features of 1e6
        it was the start's reference, 1e12 times the gauge's, and a fit stopped at once
        with the intercept still 0."""
        return -state.slope if state.point is point and state.curved else None

    def finish(state, metric):
        newton = getattr(metric, "newton", None)
        if newton is None or state.point is None or state.polishing:
            return None
        exact = newton(state.point)
        return metric_step(state._replace(metric=exact, since_refresh=0, polishing=True),
                           state.grad, 1.0, exact, False)

    return UpdateRule(init, query, update, rejected=lambda state: state.rejected,
                      decrement=decrement, finish=finish)


UPDATE_RULES: dict[str, Callable[..., UpdateRule]] = {
    "gd": gd, "accelerated": accelerated, "adam": adam, "lbfgs": lbfgs}


class AveragedState(NamedTuple):
    inner: object
    # The running mean of the iterates after updates start, start + 1, ..., n_updates.
    average: object
    n_updates: int
    n_averaged: int


def averaged(rule: UpdateRule, start: int = 1) -> UpdateRule:
    """Polyak-Ruppert averaging of ``rule``'s iterates, as ``SGDClassifier(average=...)``.

    The rule runs unchanged; beside it the state keeps the mean of the parameters after
    each update from the ``start``-th on (1: all of them; scikit-learn's ``average=k``
    counts samples seen, which are updates at ``batch_size=1``), and that mean is the
    model (before any update is averaged, the parameters are). With a constant or slowly
    decaying rate the last iterate of stochastic descent jitters around the minimum at
    a noise floor set by the rate; the average converges past it.
    """

    def init(params):
        return AveragedState(rule.init(params), params, 0, 0)

    def query(params, state):
        return rule.query(params, state.inner)

    def update(step, params, state, learning_rate, metric, prox):
        new, inner = rule.update(step, params, state.inner, learning_rate, metric, prox)
        n_updates = state.n_updates + 1
        if n_updates < start:
            return new, AveragedState(inner, state.average, n_updates, 0)
        n_averaged = state.n_averaged + 1
        # A product by the count's inverse, as the compiled kernel takes it (where a
        # division per coefficient made averaged epochs 10 % slower).
        average = state.average + (new - state.average) * (1.0 / n_averaged)
        return new, AveragedState(inner, average, n_updates, n_averaged)

    def model(params, state):
        return state.average if state.n_averaged else params

    return UpdateRule(init, query, update, model, rejected=lambda state: rule.rejected(
        state.inner), decrement=lambda state, point: rule.decrement(state.inner, point))
