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
that plain and accelerated descent move to. ``prox(w, step)`` is the proximal step of the
non-smooth penalty in the metric (the identity without L1), applied after every update so
that L1 gives exact zeros; ``metric.inner(u, v)`` is ``u^T M v``. The rules use array
operators only, so the parameters may live in any Array API namespace and on any device.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

from ._array_api import get_namespace


class Step(NamedTuple):
    """What the engine computed at the query point for the rule."""

    point: object
    grad: object
    direction: object
    # prox(point - learning_rate * direction, learning_rate)
    forward: object


def _params(params, state):
    return params


class UpdateRule(NamedTuple):
    init: Callable
    query: Callable
    update: Callable
    # model(params, state): the point the fit stands for (scored, returned): the
    # parameters themselves, or their running average.
    model: Callable = _params


class MomentumState(NamedTuple):
    velocity: object


def gd(momentum=0.0, nesterov=False, **_):
    """Gradient descent ``x <- x - lr * M^-1 grad``, with optional heavy-ball momentum.

    With momentum ``mu``: ``x_{k+1} = prox(x_k - lr * M^-1 grad + mu (x_k - x_{k-1}))``;
    with ``nesterov=True`` the gradient is taken at the look-ahead
    ``x_k + mu (x_k - x_{k-1})``.
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
        new = prox(params + momentum * state.velocity - learning_rate * step.direction,
                   learning_rate)
        return new, MomentumState(new - params)

    return UpdateRule(init, query, update)


class AcceleratedState(NamedTuple):
    query: object
    theta: float


def accelerated(**_):
    """Nesterov's accelerated (proximal) gradient, FISTA, with adaptive restart.

    The gradient is taken at ``y``, ``x_{k+1} = prox(y - lr * M^-1 grad)`` and
    ``y = x_{k+1} + (theta_k - 1) / theta_{k+1} (x_{k+1} - x_k)``. Momentum restarts
    (O'Donoghue & Candès, 2015, gradient scheme, in the metric) whenever the step points
    against it, which keeps the fast rate on strongly convex problems without knowing
    their strong convexity, and needs no momentum setting.
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
        return new, AcceleratedState(new + ((state.theta - 1.0) / theta) * moved, theta)

    return UpdateRule(init, query, update)


class AdamState(NamedTuple):
    mean: object
    second_moment: object
    count: int


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
        count = state.count + 1
        mean = beta1 * state.mean + (1 - beta1) * grad
        second = beta2 * state.second_moment + (1 - beta2) * (grad * grad)
        step = learning_rate * math.sqrt(1 - beta2 ** count) / (1 - beta1 ** count)
        new = prox(params - step * mean / (second ** 0.5 + epsilon), learning_rate)
        return new, AdamState(mean, second, count)

    return UpdateRule(init, _params, update)


UPDATE_RULES = {"gd": gd, "accelerated": accelerated, "adam": adam}


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
        average = state.average + (new - state.average) / n_averaged
        return new, AveragedState(inner, average, n_updates, n_averaged)

    def model(params, state):
        return state.average if state.n_averaged else params

    return UpdateRule(init, query, update, model)
