"""Learning-rate decays: small factories that return ``factor(epoch, n_plateaus)``.

The learning rate of epoch ``t`` is ``learning_rate * factor(t, n_plateaus)``, where
``n_plateaus`` counts the times the monitored loss stopped improving. Only ``"plateau"``
reads it; every other decay is a pure function of the epoch, as optax's schedules are.
A factory takes the estimator's decay settings as keywords and ignores those it does
not use; ``None`` means the default that suits that decay.
"""

import math
from collections.abc import Callable
from typing import NamedTuple


class Decay(NamedTuple):
    factor: Callable[[int, int], float]
    # When True, a plateau of the monitored loss lowers the rate instead of stopping.
    reduces_on_plateau: bool = False


def constant(**_):
    return Decay(lambda t, n_plateaus: 1.0)


def inverse(decay_rate=None, **_):
    rate = 0.01 if decay_rate is None else decay_rate
    return Decay(lambda t, n_plateaus: 1.0 / (1.0 + rate * t))


def invscaling(power_t=0.25, **_):
    # A negative power underflows to 0.0 where 1 / (t + 1)**power_t would raise
    # OverflowError (Python floats raise on overflow, not on underflow).
    return Decay(lambda t, n_plateaus: (t + 1.0) ** -power_t)


def exponential(decay_rate=None, **_):
    rate = 0.99 if decay_rate is None else decay_rate
    return Decay(lambda t, n_plateaus: rate ** t)


def step(decay_rate=None, decay_steps=100, **_):
    rate = 0.5 if decay_rate is None else decay_rate
    return Decay(lambda t, n_plateaus: rate ** (t // decay_steps))


def cosine(max_iter=1000, **_):
    # Restarts every max_iter epochs (as SGDR does) so that a warm start or partial_fit
    # past max_iter begins a new cycle instead of a zero rate.
    return Decay(lambda t, n_plateaus:
                 0.5 * (1.0 + math.cos(math.pi * (t % max_iter) / max_iter)))


def plateau(decay_rate=None, **_):
    rate = 0.5 if decay_rate is None else decay_rate
    return Decay(lambda t, n_plateaus: rate ** n_plateaus, reduces_on_plateau=True)


DECAYS = {
    "constant": constant,
    "inverse": inverse,
    "invscaling": invscaling,
    "exponential": exponential,
    "step": step,
    "cosine": cosine,
    "plateau": plateau,
}


def make_decay(decay, **settings) -> Decay:
    """Resolve a decay name or a callable ``f(epoch) -> factor`` into a :class:`Decay`.

    A callable's factor is checked each epoch: NaN, infinite or negative factors would
    otherwise surface later as a "diverging" learning rate, which is not the cause.
    """
    if not callable(decay):
        return DECAYS[decay](**settings)

    def factor(t, n_plateaus):
        returned = decay(t)
        try:
            value = float(returned)
        except (TypeError, ValueError):
            raise TypeError(
                f"decay={decay!r} returned {returned!r} at epoch {t}; a decay must return "
                "a number, the factor of the learning rate (the learning rate of epoch t "
                "is learning_rate * decay(t)).") from None
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"decay={decay!r} returned {value} at epoch {t}; a decay must return a "
                "finite factor >= 0 (the learning rate of epoch t is learning_rate * "
                "decay(t)).")
        return value

    return Decay(factor)
