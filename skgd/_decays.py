"""Learning-rate decays: small factories that return ``factor(epoch, n_plateaus)``.

The learning rate of epoch ``t`` is ``learning_rate * factor(t, n_plateaus)``, where
``n_plateaus`` counts the times the monitored loss stopped improving. Only ``"plateau"``
reads it; every other decay is a pure function of the epoch, as optax's schedules are.
A factory takes the estimator's decay settings as keywords and ignores those it does
not use; ``None`` means the default that suits that decay.

Schedules that rise as well as fall (``"cyclic"``, ``"one_cycle"``) peak at factor 1: the
base learning rate is their largest, as torch's ``max_lr`` is. :func:`warmup` chains a
linear warm-up before any decay, as optax's ``join_schedules`` and torch's
``SequentialLR`` chain schedules: the decay's clock starts when the warm-up ends.
"""

import math
from collections.abc import Callable
from typing import NamedTuple


class Decay(NamedTuple):
    factor: Callable[[float, int], float]
    # When True, a plateau of the monitored loss lowers the rate instead of stopping.
    reduces_on_plateau: bool = False
    # When True, mini-batch descent sets the rate of each update, at the fractional epoch
    # it falls on (see within_epoch); else one rate serves a whole epoch.
    per_update: bool = False


def within_epoch(decay: Decay, epoch: int, n_plateaus: int, n_batches: int) -> list:
    """The factors of the ``n_batches`` updates of ``epoch`` for a per-update decay: the
    factor at the fractional epoch ``epoch + b / n_batches`` of update ``b``, so that the
    first is the epoch's own and the schedule's parameters stay in epochs."""
    return [decay.factor(epoch + batch / n_batches, n_plateaus) for batch in range(n_batches)]


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


def cosine_restarts(decay_steps=100, **_):
    # SGDR (Loshchilov & Hutter, 2017): torch's CosineAnnealingWarmRestarts with
    # T_0=decay_steps, T_mult=1, eta_min=0.
    return Decay(lambda t, n_plateaus:
                 0.5 * (1.0 + math.cos(math.pi * (t % decay_steps) / decay_steps)))


def cyclic(decay_rate=None, decay_steps=100, **_):
    # torch's CyclicLR(mode="triangular") with base_lr/max_lr = decay_rate and
    # step_size_up = step_size_down = decay_steps: from the base up to the peak and back
    # every 2 * decay_steps epochs.
    low = 0.1 if decay_rate is None else decay_rate

    def factor(t, n_plateaus):
        distance = abs(t / decay_steps % 2.0 - 1.0)
        return low + (1.0 - low) * (1.0 - distance)

    return Decay(factor)


# torch's OneCycleLR defaults: the rise takes this share of the epochs, and the end is
# the start divided by this.
_ONE_CYCLE_PCT_START = 0.3
_ONE_CYCLE_FINAL_DIV_FACTOR = 1e4


def _cosine_between(start, end, fraction):
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * fraction))


def one_cycle(decay_rate=None, max_iter=1000, **_):
    # torch's OneCycleLR(total_steps=max_iter, pct_start=0.3, anneal_strategy="cos",
    # div_factor=1/decay_rate, final_div_factor=1e4, three_phase=False), step for step;
    # past max_iter it stays at its end (torch raises there).
    start = 1.0 / 25.0 if decay_rate is None else decay_rate
    end = start / _ONE_CYCLE_FINAL_DIV_FACTOR
    # torch's phase boundaries, in steps counted from 0.
    peak = _ONE_CYCLE_PCT_START * max_iter - 1.0
    last = max_iter - 1.0

    def factor(t, n_plateaus):
        if t <= peak:
            return _cosine_between(start, 1.0, t / peak)
        if t >= last:
            return end
        return _cosine_between(1.0, end, (t - peak) / (last - peak))

    return Decay(factor)


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
    "cosine_restarts": cosine_restarts,
    "cyclic": cyclic,
    "one_cycle": one_cycle,
}


def warmup(warmup_steps, then: Decay) -> Decay:
    """A linear warm-up over ``warmup_steps`` epochs, then ``then`` with its clock started
    at the end of the warm-up: ``(t + 1) / (warmup_steps + 1)`` for ``t < warmup_steps``
    (never 0, so no epoch is wasted; optax's ``warmup_steps``, torch's ``LinearLR``),
    ``then(t - warmup_steps)`` after."""
    if warmup_steps == 0:
        return then

    def factor(t, n_plateaus):
        if t < warmup_steps:
            return (t + 1.0) / (warmup_steps + 1.0)
        return then.factor(t - warmup_steps, n_plateaus)

    return Decay(factor, then.reduces_on_plateau)


def make_decay(decay, *, warmup_steps=0, max_iter=1000, per_update=False,
               **settings) -> Decay:
    """Resolve a decay name or a callable ``f(epoch) -> factor`` into a :class:`Decay`,
    after a linear warm-up of ``warmup_steps`` epochs (see :func:`warmup`); with
    ``per_update``, evaluated at every update (see :func:`within_epoch`).

    Decays that span ``max_iter`` epochs (``"cosine"``, ``"one_cycle"``) span those left
    after the warm-up. A callable's factor is checked each epoch: NaN, infinite or
    negative factors would otherwise surface later as a "diverging" learning rate, which
    is not the cause.
    """
    resolved = warmup(warmup_steps, _resolve(decay, max_iter=max(1, max_iter - warmup_steps),
                                             **settings))
    return resolved._replace(per_update=per_update)


def _resolve(decay, **settings):
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
