"""Tests of the learning-rate decays (skgd._decays) and of their use by GDRegressor.

Expected learning rates come from the table of API.md, epoch t = 0, 1, 2, ...
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skgd import GDRegressor
from skgd._decays import DECAYS, Decay, make_decay

LEARNING_RATE = 0.05
MAX_ITER = 30

# name -> (settings passed to the estimator / make_decay, factor f with eta_t = eta * f(t)).
# With tol=None the loss is never monitored, so "plateau" never lowers the rate.
FORMULAS = {
    "constant": ({}, lambda t: 1.0),
    "inverse": ({"decay_rate": 0.3}, lambda t: 1.0 / (1.0 + 0.3 * t)),
    "invscaling": ({"power_t": 0.5}, lambda t: 1.0 / (t + 1.0) ** 0.5),
    "exponential": ({"decay_rate": 0.9}, lambda t: 0.9**t),
    "step": ({"decay_rate": 0.5, "decay_steps": 7}, lambda t: 0.5 ** math.floor(t / 7)),
    # Within max_iter epochs the API formula; past it, a new cycle (warm restarts).
    "cosine": ({}, lambda t: 0.5 * (1.0 + math.cos(math.pi * (t % MAX_ITER) / MAX_ITER))),
    "plateau": ({"decay_rate": 0.5}, lambda t: 1.0),
    "cosine_restarts": ({"decay_steps": 7},
                        lambda t: 0.5 * (1.0 + math.cos(math.pi * (t % 7) / 7))),
    # torch's CyclicLR(mode="triangular"): cycle = floor(1 + t / 2s), x = |t/s - 2 cycle + 1|.
    "cyclic": ({"decay_rate": 0.2, "decay_steps": 4},
               lambda t: 0.2 + 0.8 * max(0.0, 1.0 - abs(
                   t / 4 - 2 * math.floor(1 + t / 8) + 1))),
    "one_cycle": ({"decay_rate": 0.04}, lambda t: torch_one_cycle(t, MAX_ITER, 0.04)),
}


def torch_one_cycle(t, total_steps, start, pct_start=0.3, final_div_factor=1e4):
    """torch.optim.lr_scheduler.OneCycleLR's factor (cos, two phases) at step t, as its
    get_lr computes it; past the last step, the end value."""
    def cos(a, b, pct):
        return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)

    end = start / final_div_factor
    phases = [(float(pct_start * total_steps) - 1, start, 1.0),
              (float(total_steps - 1), 1.0, end)]
    if t > total_steps - 1:
        return end
    start_step = 0.0
    for i, (end_step, a, b) in enumerate(phases):
        if t <= end_step or i == len(phases) - 1:
            return cos(a, b, (t - start_step) / (end_step - start_step))
        start_step = end_step

# Documented defaults (decay_rate=None, decay_steps=100, power_t=0.25).
DEFAULT_FORMULAS = {
    "inverse": ({}, lambda t: 1.0 / (1.0 + 0.01 * t)),
    "invscaling": ({}, lambda t: 1.0 / (t + 1.0) ** 0.25),
    "exponential": ({}, lambda t: 0.99**t),
    "step": ({"decay_steps": 4}, lambda t: 0.5 ** math.floor(t / 4)),
}


def callable_decay(t):
    return 1.0 / (1.0 + t) ** 2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=40)
    return X, (y - y.mean()) / y.std()


def expected_curve(factor, n_epochs):
    return [LEARNING_RATE * factor(t) for t in range(n_epochs)]


def test_every_decay_has_a_formula():
    assert set(FORMULAS) == set(DECAYS)


@pytest.mark.parametrize("solver, batch_size", [("accelerated", None), ("gd", 8)],
                         ids=["accelerated-full-batch", "gd-mini-batch"])
@pytest.mark.parametrize("name", sorted(DECAYS))
def test_learning_rate_curve_follows_formula(data, name, solver, batch_size):
    settings, factor = FORMULAS[name]
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=name, tol=None, max_iter=MAX_ITER,
                        solver=solver, batch_size=batch_size, random_state=0, **settings)
    model.fit(*data)
    assert model.n_iter_ == MAX_ITER
    assert_allclose(model.learning_rate_curve_, expected_curve(factor, MAX_ITER),
                    rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(DEFAULT_FORMULAS))
def test_learning_rate_curve_default_settings(data, name):
    settings, factor = DEFAULT_FORMULAS[name]
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=name, tol=None, max_iter=MAX_ITER,
                        **settings).fit(*data)
    assert_allclose(model.learning_rate_curve_, expected_curve(factor, MAX_ITER),
                    rtol=1e-12, atol=0)


def test_learning_rate_curve_callable(data):
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=callable_decay, tol=None,
                        max_iter=MAX_ITER).fit(*data)
    assert_allclose(model.learning_rate_curve_, expected_curve(callable_decay, MAX_ITER),
                    rtol=1e-12, atol=0)


def test_partial_fit_continues_the_schedule(data):
    X, y = data
    model = GDRegressor(learning_rate=LEARNING_RATE, decay="exponential", decay_rate=0.9)
    for _ in range(4):
        model.partial_fit(X, y)
    assert_allclose(model.learning_rate_curve_, expected_curve(lambda t: 0.9**t, 4),
                    rtol=1e-12, atol=0)


# -- "plateau" ----------------------------------------------------------------------------
@pytest.mark.parametrize("decay_rate, n_iter_no_change", [(0.5, 2), (0.1, 3)])
def test_plateau_drops_by_decay_rate_until_one_millionth(data, decay_rate, n_iter_no_change):
    # A step so small that no epoch improves the loss by tol (relative): every epoch after
    # the first is a stall, and the fit stays far from optimal.
    learning_rate = 1e-9
    model = GDRegressor(learning_rate=learning_rate, decay="plateau", decay_rate=decay_rate,
                        preconditioner=None, tol=1e-3, n_iter_no_change=n_iter_no_change,
                        max_iter=1000)
    # The rate bottoms out far from the optimum: the fit says so.
    with pytest.warns(ConvergenceWarning, match="optimality"):
        model.fit(*data)
    LEARNING_RATE = learning_rate
    rates = np.array(model.learning_rate_curve_)
    assert rates[0] == LEARNING_RATE
    drops = np.flatnonzero(np.diff(rates) != 0)
    n_drops = len(drops)
    assert n_drops >= 1
    # Each drop multiplies the rate by exactly decay_rate ...
    assert_allclose(rates[drops + 1] / rates[drops], decay_rate, rtol=1e-12)
    assert_allclose(rates[drops + 1], LEARNING_RATE * decay_rate ** np.arange(1, n_drops + 1),
                    rtol=1e-12)
    # ... after n_iter_no_change stalls (the first epoch, with nothing to compare to,
    # is not one) ...
    assert_array_equal(drops + 1, 1 + n_iter_no_change * np.arange(1, n_drops + 1))
    # ... and the fit stops at the first plateau that would take it below 1e-6 * eta.
    assert rates[-1] >= 1e-6 * LEARNING_RATE * (1 - 1e-12)
    assert rates[-1] * decay_rate < 1e-6 * LEARNING_RATE
    assert model.n_iter_ == 1 + n_iter_no_change * (n_drops + 1)


def improved(loss_curve, epoch, tol):
    """Whether the loss of ``epoch`` beat the best of the earlier epochs by ``tol``, relative."""
    best = min(loss_curve[:epoch]) if epoch else None
    return epoch == 0 or loss_curve[epoch] < best - tol * abs(best)


@pytest.mark.parametrize("solver", ["gd", "accelerated", "adam"])
def test_plateau_on_a_normal_problem(data, solver):
    tol, n_iter_no_change, decay_rate, max_iter = 1e-3, 3, 0.5, 2000
    model = GDRegressor(learning_rate=LEARNING_RATE, decay="plateau", decay_rate=decay_rate,
                        tol=tol, n_iter_no_change=n_iter_no_change, solver=solver,
                        preconditioner=None, max_iter=max_iter).fit(*data)
    rates = np.array(model.learning_rate_curve_)
    losses = model.loss_curve_
    assert rates[0] == LEARNING_RATE
    assert np.all(np.diff(rates) <= 0)
    # Every rate is eta * decay_rate^k for a whole number k of plateaus, one at a time.
    exponents = np.log(rates / LEARNING_RATE) / np.log(decay_rate)
    assert_allclose(exponents, np.round(exponents), atol=1e-9)
    assert set(np.diff(np.round(exponents))) <= {0.0, 1.0}
    drops = np.flatnonzero(np.diff(rates) != 0)
    assert len(drops) >= 1
    # A drop follows n_iter_no_change epochs in a row without an improvement by tol.
    for drop in drops:
        window = range(drop - n_iter_no_change + 1, drop + 1)
        assert not any(improved(losses, epoch, tol) for epoch in window)
    assert np.all(np.diff(drops) >= n_iter_no_change)
    # It stops only once the next drop would fall below 1e-6 * eta.
    assert model.n_iter_ < max_iter
    assert rates[-1] * decay_rate < 1e-6 * LEARNING_RATE


# -- make_decay ---------------------------------------------------------------------------
EPOCHS = range(0, 60)


@pytest.mark.parametrize("name", sorted(DECAYS))
def test_make_decay_factor_follows_formula(name):
    settings, factor = FORMULAS[name]
    decay = make_decay(name, max_iter=MAX_ITER, **settings)
    assert isinstance(decay, Decay)
    assert_allclose([decay.factor(t, 0) for t in EPOCHS], [factor(t) for t in EPOCHS],
                    rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(set(DECAYS) - {"plateau"}))
def test_make_decay_ignores_plateaus_except_for_plateau(name):
    settings, _ = FORMULAS[name]
    decay = make_decay(name, max_iter=MAX_ITER, **settings)
    assert not decay.reduces_on_plateau
    for n_plateaus in (1, 5):
        assert [decay.factor(t, n_plateaus) for t in EPOCHS] == [
            decay.factor(t, 0) for t in EPOCHS]


def test_make_decay_plateau_counts_plateaus():
    decay = make_decay("plateau", decay_rate=0.3)
    assert decay.reduces_on_plateau
    for n_plateaus in range(6):
        expected = 0.3**n_plateaus
        assert {decay.factor(t, n_plateaus) for t in (0, 7, 100)} == {expected}
    assert make_decay("plateau").factor(0, 3) == 0.5**3


@pytest.mark.parametrize("name", sorted(DEFAULT_FORMULAS))
def test_make_decay_defaults(name):
    settings, factor = DEFAULT_FORMULAS[name]
    # The estimators pass decay_rate=None to mean "the default of this decay".
    decay = make_decay(name, decay_rate=None, **settings)
    assert_allclose([decay.factor(t, 0) for t in EPOCHS], [factor(t) for t in EPOCHS],
                    rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", sorted(DECAYS))
def test_make_decay_accepts_every_estimator_setting(name):
    settings = dict(decay_rate=0.7, decay_steps=3, power_t=0.4, max_iter=50)
    decay = make_decay(name, **settings)
    assert decay.factor(0, 0) == (1.0 if name not in ("cyclic", "one_cycle") else 0.7)
    assert 0 < decay.factor(10, 0) <= 1.0


def test_make_decay_callable():
    decay = make_decay(callable_decay)
    assert not decay.reduces_on_plateau
    for t in EPOCHS:
        assert decay.factor(t, 0) == callable_decay(t)
        assert decay.factor(t, 4) == callable_decay(t)
    assert type(make_decay(lambda t: np.float32(0.5)).factor(3, 0)) is float


def test_make_decay_unknown_name():
    with pytest.raises((KeyError, ValueError), match="linear"):
        make_decay("linear")


def test_one_cycle_and_cyclic_peak_at_the_learning_rate():
    one_cycle = make_decay("one_cycle", max_iter=100)
    factors = [one_cycle.factor(t, 0) for t in range(100)]
    # torch's defaults: from 1/25 up to 1 at epoch 29 (0.3 * 100 - 1), down to 1/25e4.
    assert factors[0] == pytest.approx(1 / 25, rel=1e-14)
    assert max(factors) == factors[29] == 1.0
    assert factors[-1] == pytest.approx(1 / 25 / 1e4, rel=1e-14)
    assert one_cycle.factor(150, 0) == factors[-1]
    cyclic = make_decay("cyclic", decay_steps=5)
    assert [cyclic.factor(t, 0) for t in (0, 5, 10, 15)] == [0.1, 1.0, 0.1, 1.0]


# -- warm-up, chained before any decay -----------------------------------------------------
def warmed_up(factor, warmup_steps):
    return lambda t: (t + 1) / (warmup_steps + 1) if t < warmup_steps else factor(
        t - warmup_steps)


@pytest.mark.parametrize("name", sorted(DECAYS))
def test_warmup_then_decay_follows_formula(data, name):
    warmup_steps = 6
    settings, _ = FORMULAS[name]
    # Decays that span max_iter span the epochs left after the warm-up.
    span = {"cosine": lambda t: 0.5 * (1.0 + math.cos(
                math.pi * (t % (MAX_ITER - warmup_steps)) / (MAX_ITER - warmup_steps))),
            "one_cycle": lambda t: torch_one_cycle(t, MAX_ITER - warmup_steps, 0.04)}
    factor = warmed_up(span.get(name, FORMULAS[name][1]), warmup_steps)
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=name, warmup_steps=warmup_steps,
                        tol=None, max_iter=MAX_ITER, solver="gd", batch_size=8,
                        random_state=0, **settings).fit(*data)
    assert_allclose(model.learning_rate_curve_, expected_curve(factor, MAX_ITER),
                    rtol=1e-12, atol=0)
    # The ramp rises in equal steps to the full rate, which the decay starts from.
    assert_allclose(np.diff(model.learning_rate_curve_[:warmup_steps]),
                    LEARNING_RATE / (warmup_steps + 1), rtol=1e-12)


def test_warmup_then_callable_shifts_its_clock(data):
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=callable_decay, warmup_steps=3,
                        tol=None, max_iter=MAX_ITER).fit(*data)
    assert_allclose(model.learning_rate_curve_,
                    expected_curve(warmed_up(callable_decay, 3), MAX_ITER), rtol=1e-12)


def test_warmup_zero_is_the_decay_itself():
    decay = make_decay("cyclic", decay_steps=3)
    assert [make_decay("cyclic", decay_steps=3, warmup_steps=0).factor(t, 0)
            for t in EPOCHS] == [decay.factor(t, 0) for t in EPOCHS]


def test_warmup_keeps_plateau_reducing():
    decay = make_decay("plateau", warmup_steps=4, decay_rate=0.5)
    assert decay.reduces_on_plateau
    assert decay.factor(2, 1) == 3 / 5
    assert decay.factor(4, 2) == 0.25


@pytest.mark.parametrize("name, settings", [
    ("cosine_restarts", {"decay_steps": 4}),
    ("cyclic", {"decay_steps": 3}),
    ("one_cycle", {}),
])
def test_partial_fit_continues_warmup_and_schedule(data, name, settings):
    X, y = data
    n_calls, max_iter = 12, 10
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=name, warmup_steps=2,
                        max_iter=max_iter, **settings)
    for _ in range(n_calls):
        model.partial_fit(X, y)
    decay = make_decay(name, warmup_steps=2, max_iter=max_iter, **settings)
    assert_allclose(model.learning_rate_curve_,
                    [LEARNING_RATE * decay.factor(t, 0) for t in range(n_calls)],
                    rtol=1e-12)


@pytest.mark.parametrize("name", ["cyclic", "one_cycle"])
def test_rising_decays_take_decay_rate_at_most_one(data, name):
    with pytest.raises(ValueError, match="decay_rate=1.5"):
        GDRegressor(decay=name, decay_rate=1.5).fit(*data)


def test_grid_search_over_schedules_and_warmup(data):
    from sklearn.model_selection import GridSearchCV

    grid = {"decay": ["cosine_restarts", "cyclic", "one_cycle"], "warmup_steps": [0, 3],
            "decay_steps": [5]}
    search = GridSearchCV(
        GDRegressor(learning_rate=LEARNING_RATE, solver="gd", batch_size=8, tol=None,
                    max_iter=MAX_ITER, random_state=0), grid, cv=3).fit(*data)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert len(search.cv_results_["params"]) == 6
    best = search.best_estimator_
    decay = make_decay(best.decay, warmup_steps=best.warmup_steps, decay_steps=5,
                       max_iter=MAX_ITER)
    assert_allclose(best.learning_rate_curve_,
                    [LEARNING_RATE * decay.factor(t, 0) for t in range(MAX_ITER)],
                    rtol=1e-12)


@pytest.mark.parametrize("power_t", [250.0, 1e4])
def test_invscaling_with_a_huge_power_underflows_to_zero_instead_of_overflowing(
        data, power_t):
    factors = [make_decay("invscaling", power_t=power_t).factor(t, 0) for t in range(30)]
    assert factors[0] == 1.0
    assert all(0.0 <= factor <= 1.0 for factor in factors)
    assert factors[-1] == 0.0
    model = GDRegressor(learning_rate=LEARNING_RATE, decay="invscaling", power_t=power_t,
                        tol=None, max_iter=MAX_ITER).fit(*data)
    assert model.learning_rate_curve_[0] == LEARNING_RATE
    assert np.all(np.isfinite(model.coef_))


# -- per update ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DECAYS))
def test_per_update_decays_record_the_first_rate_of_each_epoch(data, name):
    settings, factor = FORMULAS[name]
    model = GDRegressor(learning_rate=LEARNING_RATE, decay=name, decay_per_update=True,
                        tol=None, max_iter=MAX_ITER, solver="gd", batch_size=8,
                        random_state=0, **settings).fit(*data)
    assert_allclose(model.learning_rate_curve_, expected_curve(factor, MAX_ITER),
                    rtol=1e-12, atol=0)


def test_per_update_decay_changes_the_steps_not_only_the_record(data):
    settings = dict(learning_rate=LEARNING_RATE, decay="cosine", tol=None, max_iter=10,
                    solver="gd", batch_size=8, random_state=0)
    per_epoch = GDRegressor(**settings).fit(*data)
    per_update = GDRegressor(decay_per_update=True, **settings).fit(*data)
    assert per_update.learning_rate_curve_ == per_epoch.learning_rate_curve_
    assert not np.allclose(per_update.coef_, per_epoch.coef_, rtol=1e-6)


def test_a_per_update_callable_gets_fractional_epochs(data):
    seen = []

    def decay(t):
        seen.append(t)
        return 1.0

    GDRegressor(learning_rate=LEARNING_RATE, decay=decay, decay_per_update=True, tol=None,
                max_iter=2, solver="gd", batch_size=8).fit(*data)
    # 40 rows in batches of 8: 5 updates an epoch, at t + b/5.
    assert set(seen) == {t + b / 5 for t in range(2) for b in range(5)}


def test_partial_fit_continues_a_per_update_schedule(data):
    X, y = data
    model = GDRegressor(learning_rate=LEARNING_RATE, decay="one_cycle", max_iter=6,
                        decay_per_update=True, batch_size=8, warmup_steps=1)
    for _ in range(6):
        model.partial_fit(X, y)
    decay = make_decay("one_cycle", max_iter=6, warmup_steps=1)
    assert_allclose(model.learning_rate_curve_,
                    [LEARNING_RATE * decay.factor(t, 0) for t in range(6)], rtol=1e-12)
    assert model.t_ == 30
