"""Update rules: how one gradient turns into new parameters.

Each rule is an :class:`UpdateRule` of three plain functions, in the spirit of optax's
``(init, update)`` pairs: ``init(params) -> state``; ``query(params, state) -> point``
where the next gradient must be evaluated (the look-ahead point for Nesterov methods,
the parameters themselves otherwise); and
``update(grad, params, state, learning_rate, prox) -> (params, state)``. States are
NamedTuples that are returned, never mutated. ``prox(w, step)`` is the proximal step of
the non-smooth penalty (the identity without L1), applied after every update so that L1
gives exact zeros. The rules use array operators only, so the parameters may live in any
Array API namespace and on any device.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

from ._array_api import get_namespace


class UpdateRule(NamedTuple):
    init: Callable
    query: Callable
    update: Callable


def _params(params, state):
    return params


class MomentumState(NamedTuple):
    velocity: object


def gd(momentum=0.0, nesterov=False, **_):
    """Gradient descent ``x <- x - lr * grad``, with optional heavy-ball momentum.

    With momentum ``mu``: ``x_{k+1} = prox(x_k - lr * grad + mu (x_k - x_{k-1}))``; with
    ``nesterov=True`` the gradient is taken at the look-ahead ``x_k + mu (x_k - x_{k-1})``.
    """
    if momentum == 0:
        return UpdateRule(
            init=lambda params: None,
            query=_params,
            update=lambda grad, params, state, learning_rate, prox: (
                prox(params - learning_rate * grad, learning_rate), None),
        )

    def init(params):
        return MomentumState(get_namespace(params)[0].zeros_like(params))

    def query(params, state):
        return params + momentum * state.velocity if nesterov else params

    def update(grad, params, state, learning_rate, prox):
        new = prox(params + momentum * state.velocity - learning_rate * grad, learning_rate)
        return new, MomentumState(new - params)

    return UpdateRule(init, query, update)


class AcceleratedState(NamedTuple):
    query: object
    theta: float


def accelerated(**_):
    """Nesterov's accelerated (proximal) gradient, FISTA, with adaptive restart.

    The gradient is taken at ``y``, ``x_{k+1} = prox(y - lr * grad)`` and
    ``y = x_{k+1} + (theta_k - 1) / theta_{k+1} (x_{k+1} - x_k)``. Momentum restarts
    (O'Donoghue & Candès, 2015, gradient scheme) whenever the step points against it,
    which keeps the fast rate on strongly convex problems without knowing their
    strong convexity, and needs no momentum setting.
    """

    def init(params):
        return AcceleratedState(params, 1.0)

    def query(params, state):
        return state.query

    def update(grad, params, state, learning_rate, prox):
        new = prox(state.query - learning_rate * grad, learning_rate)
        step = new - params
        # The one number a step reads on the host: whether the step turned back.
        if float((state.query - new) @ step) > 0:
            return new, AcceleratedState(new, 1.0)
        theta = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * state.theta ** 2))
        return new, AcceleratedState(new + ((state.theta - 1.0) / theta) * step, theta)

    return UpdateRule(init, query, update)


class AdamState(NamedTuple):
    mean: object
    second_moment: object
    count: int


def adam(beta1=0.9, beta2=0.999, epsilon=1e-8, **_):
    """Adam (Kingma & Ba, 2015) with bias correction; prox with the base step for L1."""

    def init(params):
        zeros = get_namespace(params)[0].zeros_like
        return AdamState(zeros(params), zeros(params), 0)

    def update(grad, params, state, learning_rate, prox):
        count = state.count + 1
        mean = beta1 * state.mean + (1 - beta1) * grad
        second = beta2 * state.second_moment + (1 - beta2) * (grad * grad)
        step = learning_rate * math.sqrt(1 - beta2 ** count) / (1 - beta1 ** count)
        new = prox(params - step * mean / (second ** 0.5 + epsilon), learning_rate)
        return new, AdamState(mean, second, count)

    return UpdateRule(init, _params, update)


UPDATE_RULES = {"gd": gd, "accelerated": accelerated, "adam": adam}
