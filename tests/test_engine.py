"""Tests of the descent engine (skgd._engine.minimize) on plain functions.

The engine knows nothing of scikit-learn, so neither do these tests: the objectives are
quadratics and least-squares sums written here with numpy, with known minimisers.
"""

import math
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import skgd
from skgd._curvature import Euclidean
from skgd._decays import make_decay
from skgd._engine import DivergenceError, minimize
from skgd._updates import _REFIT_AFTER, UPDATE_RULES, Step, _ends_before_a_refit_pays
from skgd.losses import _L1Penalty

# id -> (update rule, its settings)
RULES = {
    "gd": ("gd", {}),
    "gd-momentum": ("gd", {"momentum": 0.5}),
    "gd-nesterov": ("gd", {"momentum": 0.5, "nesterov": True}),
    "accelerated": ("accelerated", {}),
    "adam": ("adam", {}),
    "lbfgs": ("lbfgs", {}),
}


def make_rule(rule_id):
    name, settings = RULES[rule_id]
    return UPDATE_RULES[name](**settings)


class Quadratic:
    """f(w) = 1/2 w^T A w - b^T w with A symmetric positive definite of given spectrum."""

    def __init__(self, eigenvalues, seed=0, rotate=True):
        rng = np.random.default_rng(seed)
        d = len(eigenvalues)
        Q = np.linalg.qr(rng.normal(size=(d, d)))[0] if rotate else np.eye(d)
        self.A = Q @ np.diag(eigenvalues) @ Q.T
        self.lipschitz = max(eigenvalues)
        if rotate:
            self.b = rng.normal(size=d)
            self.solution = np.linalg.solve(self.A, self.b)
        else:
            # Whole numbers: the minimiser is exact and the gradient there exactly zero.
            self.solution = rng.integers(-3, 4, size=d).astype(float)
            self.b = self.A @ self.solution
        self.minimum = self(self.solution)

    def __call__(self, w):
        return float(0.5 * w @ self.A @ w - self.b @ w)

    def loss_gradient(self, w, rows):
        assert rows is None, "full-batch runs must not ask for mini-batches"
        return self(w), self.A @ w - self.b


@pytest.fixture
def quadratic():
    return Quadratic(np.linspace(1.0, 10.0, 6))


def learning_rate_for(rule_id, quadratic):
    # 1/L for the gradient methods; Adam's steps are about learning_rate per coordinate.
    return 0.1 if rule_id == "adam" else 1.0 / quadratic.lipschitz


def run(quadratic, rule_id, **kwargs):
    kwargs.setdefault("learning_rate", learning_rate_for(rule_id, quadratic))
    kwargs.setdefault("params", np.zeros(len(quadratic.b)))
    return minimize(quadratic.loss_gradient, n_samples=1, rule=make_rule(rule_id), **kwargs)


def test_every_update_rule_is_tested():
    assert {name for name, _ in RULES.values()} == set(UPDATE_RULES)


def test_divergence_error_classes():
    assert issubclass(DivergenceError, ValueError)
    assert issubclass(DivergenceError, FloatingPointError)
    assert skgd.DivergenceError is DivergenceError


# -- convergence and stopping ---------------------------------------------------------------
@pytest.mark.parametrize("rule_id", RULES)
def test_converges_to_the_minimiser(quadratic, rule_id):
    max_iter = 1000
    result = run(quadratic, rule_id, max_iter=max_iter, tol=None)
    assert_allclose(result.params, quadratic.solution, rtol=1e-8,
                    atol=1e-8 * np.abs(quadratic.solution).max())
    assert result.n_iter == max_iter
    assert not result.converged
    for curve in (result.loss_curve, result.learning_rate_curve):
        assert len(curve) == result.n_iter
        assert np.all(np.isfinite(curve))
    # The first gradient is taken at the starting point, the last ones near the minimum.
    assert result.loss_curve[0] == quadratic(np.zeros(len(quadratic.b)))
    assert_allclose(result.loss_curve[-1], quadratic.minimum, rtol=1e-12)
    assert result.learning_rate_curve == [learning_rate_for(rule_id, quadratic)] * max_iter
    assert result.state.epoch == max_iter
    assert result.state.n_updates == max_iter
    assert_array_equal(result.state.params, result.params)
    assert result.validation_scores is None
    assert result.best_validation_score is None


def textbook_iterates(rule_id, gradient, start, learning_rate, n_steps):
    """The points where each rule takes its gradients, its final iterate and the number of
    momentum restarts, from the formulas of API.md and the update rules' docstrings."""
    momentum = RULES[rule_id][1].get("momentum", 0.0)
    x, previous = start.copy(), start.copy()
    queried, n_restarts = [], 0
    if rule_id.startswith("gd"):
        for _ in range(n_steps):
            look_ahead = x + momentum * (x - previous)
            query = look_ahead if rule_id == "gd-nesterov" else x
            queried.append(query)
            x, previous = look_ahead - learning_rate * gradient(query), x
    elif rule_id == "accelerated":
        y, theta = start.copy(), 1.0
        for _ in range(n_steps):
            queried.append(y)
            new = y - learning_rate * gradient(y)
            if np.dot(y - new, new - x) > 0:
                y, theta = new, 1.0
                n_restarts += 1
            else:
                next_theta = (1 + np.sqrt(1 + 4 * theta**2)) / 2
                y, theta = new + (theta - 1) / next_theta * (new - x), next_theta
            x = new
    else:
        beta1, beta2, epsilon = 0.9, 0.999, 1e-8
        mean, second = np.zeros_like(x), np.zeros_like(x)
        for t in range(1, n_steps + 1):
            queried.append(x)
            g = gradient(x)
            mean = beta1 * mean + (1 - beta1) * g
            second = beta2 * second + (1 - beta2) * g**2
            corrected_mean, corrected_second = mean / (1 - beta1**t), second / (1 - beta2**t)
            x = x - learning_rate * corrected_mean / (np.sqrt(corrected_second) + epsilon)
    return queried, x, n_restarts


@pytest.mark.parametrize("rule_id", [rule for rule in RULES if rule != "lbfgs"])
def test_iterates_follow_the_update_formula(rule_id):
    quadratic = Quadratic(np.geomspace(1.0, 100.0, 6))
    start = np.random.default_rng(5).normal(size=6)
    learning_rate = 0.5 / quadratic.lipschitz if rule_id != "adam" else 0.05
    n_steps = 60
    queried, expected, n_restarts = textbook_iterates(
        rule_id, lambda w: quadratic.A @ w - quadratic.b, start, learning_rate, n_steps)
    result = run(quadratic, rule_id, params=start, learning_rate=learning_rate,
                 max_iter=n_steps, tol=None)
    # Adam's bias correction folded into the step (as the Adam paper suggests) moves
    # epsilon by a factor sqrt(1 - beta2^t): equal up to about epsilon / |gradient|.
    rtol = 1e-6 if rule_id == "adam" else 1e-10
    expected_losses = [quadratic(w) for w in queried]
    assert_allclose(result.params, expected, rtol=rtol)
    assert_allclose(result.loss_curve, expected_losses, rtol=rtol,
                    atol=rtol * abs(expected_losses[0]))
    if rule_id == "accelerated":
        # Both branches of the adaptive restart were exercised.
        assert 0 < n_restarts < n_steps


@pytest.mark.parametrize("rule_id", RULES)
def test_tol_stops_when_no_longer_improving(quadratic, rule_id):
    tol, n_iter_no_change, max_iter = 1e-10, 5, 5000
    result = run(quadratic, rule_id, max_iter=max_iter, tol=tol,
                 n_iter_no_change=n_iter_no_change)
    assert result.converged
    assert result.n_iter < max_iter
    assert len(result.loss_curve) == len(result.learning_rate_curve) == result.n_iter
    assert np.all(np.isfinite(result.loss_curve))
    # Either the optimality met tol (L-BFGS does within a few epochs), or the last
    # n_iter_no_change epochs did not beat the best before them by tol ...
    losses = result.loss_curve
    if result.optimality > tol:
        for epoch in range(result.n_iter - n_iter_no_change, result.n_iter):
            assert losses[epoch] >= min(losses[:epoch]) - tol
    # ... which happens only close to the minimum.
    assert losses[-1] - quadratic.minimum < 1e-6 * abs(quadratic.minimum)


@pytest.mark.parametrize("rule_id", RULES)
def test_not_converged_when_max_iter_is_hit(quadratic, rule_id):
    result = run(quadratic, rule_id, max_iter=3, tol=1e-10)
    assert not result.converged
    assert result.n_iter == 3
    assert len(result.loss_curve) == len(result.learning_rate_curve) == 3


# -- L-BFGS -----------------------------------------------------------------------------

def test_lbfgs_first_step_is_the_metric_step_and_it_then_learns_the_hessian():
    """The first query is the start, the second the safe step ``x - lr grad``; with a
    memory as long as the dimension the iterates then reach the minimiser of an
    ill-conditioned quadratic in a few times d epochs, over ten times fewer than the
    accelerated gradient's."""
    quadratic = Quadratic(np.geomspace(1.0, 1e4, 6))
    start = np.random.default_rng(5).normal(size=6)
    rate = 1.0 / quadratic.lipschitz
    queried = []
    result = run(quadratic, "lbfgs", params=start, learning_rate=rate, max_iter=100, tol=1e-8,
                 on_epoch_begin=lambda epoch, params: queried.append(params))
    accelerated = run(quadratic, "accelerated", params=start, learning_rate=rate,
                      max_iter=10_000, tol=1e-8)
    assert result.converged and accelerated.converged
    assert 10 * result.n_iter < accelerated.n_iter
    first = quadratic.loss_gradient(start, None)[0]
    assert result.loss_curve[0] == first
    step = start - rate * (quadratic.A @ start - quadratic.b)
    assert_allclose(result.loss_curve[1], quadratic(step), rtol=1e-12)
    assert_array_equal(queried[0], start)
    assert_allclose(result.params, quadratic.solution, rtol=1e-6,
                    atol=1e-6 * np.abs(quadratic.solution).max())


def test_lbfgs_backtracks_a_too_large_step_and_accepted_points_never_rise(quadratic):
    rate = 1e3 / quadratic.lipschitz
    result = run(quadratic, "lbfgs", learning_rate=rate, max_iter=200, tol=1e-10)
    assert result.converged
    curve = np.array(result.loss_curve)
    # The first trial (1000 times the safe step) rose and was rejected ...
    assert curve[1] > curve[0]
    # ... and every epoch's value is a rejected trial or improves on the best so far by
    # Armijo's rule, so the point returned is the best one.
    best = np.minimum.accumulate(curve)
    assert best[-1] == curve[-1] or result.optimality <= 1e-10
    assert_allclose(result.params, quadratic.solution, rtol=1e-6,
                    atol=1e-6 * np.abs(quadratic.solution).max())


def test_lbfgs_metric_step_starts_no_longer_than_its_model_takes_to_the_floor():
    """Given a floor the objective never goes below, a step from the metric alone whose
    quadratic model promises more than the value above the floor (here a rate 1 000
    times the safe one) starts where a model of just enough curvature reaches the floor:
    at length ``2 (f - floor) / -slope``, not 1. One that promises less keeps length 1."""
    quadratic = Quadratic(np.linspace(1.0, 10.0, 6))
    floor = quadratic.minimum  # the least value, attained: a floor
    start = np.zeros(6)
    grad = quadratic.loss_gradient(start, None)[1]

    def second_value(rate):
        return minimize(quadratic.loss_gradient, n_samples=1, params=start,
                        learning_rate=rate, rule=UPDATE_RULES["lbfgs"](floor=floor),
                        max_iter=2, tol=None).loss_curve[1]

    rate = 1e3 / quadratic.lipschitz
    length = 2 * (quadratic(start) - floor) / float(grad @ grad * rate)
    assert length < 1e-2
    trial = second_value(rate)
    assert_allclose(trial, quadratic(start - length * rate * grad), rtol=1e-12)
    assert floor <= trial < quadratic(start)
    # At the safe rate the model promises no more than the gap to the floor: length 1.
    safe = 1.0 / quadratic.lipschitz
    assert_allclose(second_value(safe), quadratic(start - safe * grad), rtol=1e-12)


class _Refreshing(Euclidean):
    """A metric of a quadratic that can be refitted: to ``A`` itself (``exact``, Newton's
    metric) or to the identity again; every refit is recorded with the passes before it."""

    def __init__(self, quadratic, refresh_epochs, exact, calls, passes):
        self.quadratic, self.refresh_epochs, self.exact_refit = quadratic, refresh_epochs, exact
        self.calls, self.passes = calls, passes
        self.exact = False

    def refresh(self, w):
        self.calls.append((len(self.passes), self.quadratic(w)))
        if not self.exact_refit:
            return _Refreshing(self.quadratic, self.refresh_epochs, False, self.calls,
                               self.passes)
        newton = Euclidean()
        newton.direction = lambda grad: np.linalg.solve(self.quadratic.A, grad)
        newton.exact = True
        return newton


def _refreshed_lbfgs(quadratic, refresh_epochs, exact, max_iter, tol=None,
                     rule_tol=None):
    calls, passes = [], []

    def loss_gradient(w, rows):
        passes.append(quadratic(w))
        return quadratic.loss_gradient(w, rows)

    metric = _Refreshing(quadratic, refresh_epochs, exact, calls, passes)
    result = minimize(loss_gradient, np.zeros(len(quadratic.b)), n_samples=1,
                      learning_rate=1.0 / quadratic.lipschitz,
                      rule=UPDATE_RULES["lbfgs"](tol=rule_tol), metric=metric,
                      max_iter=max_iter, tol=tol)
    return calls, passes, result


def test_a_refit_that_cannot_pay_before_the_stop_is_not_taken():
    """At the rate of the last accepted points, a fit that meets tol within the passes
    a refit costs goes on without it."""
    tol, cost = 1e-5, 6
    # Halving each pass: from 4 tol, two passes to tol.
    assert _ends_before_a_refit_pays((32 * tol, 16 * tol, 8 * tol, 4 * tol), tol, cost)
    assert not _ends_before_a_refit_pays((32 * tol, 16 * tol, 8 * tol, 4 * tol), tol, 1)
    # Far from tol at that rate, rising, too few points, or no tol: the refit is taken.
    assert not _ends_before_a_refit_pays((8e-2, 4e-2, 2e-2, 1e-2), tol, cost)
    assert not _ends_before_a_refit_pays((1e-4, 2e-4, 1e-4, 4e-4), tol, cost)
    assert not _ends_before_a_refit_pays((16 * tol, 8 * tol, 4 * tol), tol, cost)
    for no_tol in (None, 0.0):
        assert not _ends_before_a_refit_pays((32 * tol, 16 * tol, 8 * tol, 4 * tol),
                                             no_tol, cost)
    # A stall one rounding below the first point: its rate's root rounds to 1, which
    # predicts nothing (it divided by log 1 = 0: a multi-class fit with a column of 1e10
    # raised ZeroDivisionError here).
    stalled = np.nextafter(0.211, 0.0)
    assert not _ends_before_a_refit_pays((0.211, 0.211, 0.211, stalled), tol, cost)


def test_lbfgs_told_the_stopping_rule_s_tol_skips_refits_that_cannot_pay():
    # Refits to the identity (no help) every 8 passes: without the stopping rule's tol
    # the rule refits up to the stop; with it, it skips those near the stop, and ends
    # where it would have.
    quadratic = Quadratic(np.geomspace(1.0, 1e2, 20))
    tol, refresh_epochs = 1e-6, 16
    blind, _, result = _refreshed_lbfgs(quadratic, refresh_epochs, False, 200, tol=tol)
    told, _, told_result = _refreshed_lbfgs(quadratic, refresh_epochs, False, 200,
                                            tol=tol, rule_tol=tol)
    assert result.converged and told_result.converged
    assert len(told) < len(blind)
    assert told_result.n_iter <= result.n_iter
    # Both at the optimum: a gap below tol of the start's.
    start, best = quadratic(np.zeros(20)), quadratic(quadratic.solution)
    for fit in (result, told_result):
        assert (quadratic(fit.params) - best) / (start - best) <= tol


@pytest.mark.parametrize("refresh_epochs", [1, 3, 7])
def test_lbfgs_refits_its_metric_at_accepted_points_once_passes_cost_part_of_a_refit(
        refresh_epochs):
    quadratic = Quadratic(np.geomspace(1.0, 1e3, 12))
    calls, passes, result = _refreshed_lbfgs(quadratic, refresh_epochs, False, 40)
    assert len(calls) >= 3
    counts = [count for count, _ in calls]
    interval = math.ceil(_REFIT_AFTER * refresh_epochs)
    assert counts[0] >= interval
    assert all(after - before >= interval
               for before, after in zip(counts[:-1], counts[1:], strict=True))
    # At accepted points as soon as the interval has passed: a refit is late only by
    # the trial points the line search turned down.
    assert counts[0] <= interval + 3
    # Refitted where the search stands: at the best point of the passes so far.
    for count, value in calls:
        assert value == min(passes[:count])


class _Polishable(Euclidean):
    """A metric of a quadratic with its Hessian at hand for Newton's steps past the stop
    (``newton``); every Hessian taken is recorded with the point it was taken at."""

    exact = False
    refresh_epochs = 10**6

    def __init__(self, quadratic, calls):
        self.quadratic, self.calls = quadratic, calls

    def refresh(self, w):
        return self

    def newton(self, w):
        self.calls.append(np.array(w, copy=True))
        hessian = Euclidean()
        hessian.direction = lambda grad: np.linalg.solve(self.quadratic.A, grad)
        hessian.exact, hessian.refresh_epochs, hessian.refresh = True, 1, self.newton
        return hessian


def test_newton_s_steps_past_the_stop_take_no_hessian_at_the_point_that_ends_them():
    # Whole-number optimum: Newton's first step past the stop lands on it, gradient 0,
    # which ends the polishing; the Hessian there would go unused, and is not taken.
    quadratic = Quadratic(np.geomspace(1.0, 1e3, 12), rotate=False)
    calls = []
    result = minimize(quadratic.loss_gradient, np.zeros(12), n_samples=1,
                      learning_rate=1.0 / quadratic.lipschitz,
                      rule=UPDATE_RULES["lbfgs"](tol=1e-6),
                      metric=_Polishable(quadratic, calls), max_iter=200, tol=1e-6)
    assert result.converged
    assert_allclose(result.params, quadratic.solution, rtol=1e-12, atol=1e-12)
    # One Hessian: where the stopping rule was met, for the step to the optimum.
    assert len(calls) == 1
    assert not np.allclose(calls[0], quadratic.solution, rtol=1e-12, atol=1e-12)


def test_after_an_exact_refit_lbfgs_takes_newton_s_step():
    # Ill-conditioned: L-BFGS alone needs tens of passes; the refit at pass 3 to the
    # Hessian makes the next step Newton's, which solves a quadratic.
    quadratic = Quadratic(np.geomspace(1.0, 1e6, 30))
    calls, passes, result = _refreshed_lbfgs(quadratic, 3, True, 100, tol=1e-8)
    assert result.converged
    assert len(calls) == 1
    assert result.n_iter <= calls[0][0] + 2
    assert_allclose(result.params, quadratic.solution, rtol=1e-8)
    _, _, alone = _refreshed_lbfgs(quadratic, 10**6, True, 100, tol=1e-8)
    assert alone.n_iter > 3 * result.n_iter


@pytest.mark.parametrize("shrink, rejected", [(0.1, False), (10.0, True)])
def test_lbfgs_judges_points_the_objective_cannot_tell_apart_by_their_gradient(
        shrink, rejected):
    """Near the optimum a step changes the objective by less than its rounding: there a
    smaller gradient is progress (as scikit-learn's Newton solver judges it), a larger one
    is not."""
    rule, metric = make_rule("lbfgs"), Euclidean()
    start, grad = np.zeros(3), np.array([1e-9, -2e-9, 0.0])
    _, state = rule.update(Step(start, grad, grad, start - grad, 1.0), start,
                           rule.init(start), 1.0, metric, None)
    trial = rule.query(start, state)
    # 1 + 4e-15: a rise within the rounding of a sum of many terms, above the slack that
    # Armijo's test allows for the rounding of one.
    _, state = rule.update(Step(trial, grad * shrink, grad * shrink, trial, 1.0 + 4e-15),
                           start, state, 1.0, metric, None)
    assert rule.rejected(state) == rejected


def test_only_lbfgs_refits_a_metric_that_can_be_refreshed():
    """Rules that take the step they are given (here the accelerated gradient) step in the
    bound they are given, never in a refit of it (a local metric is no bound: a step of 1
    in it can overshoot, and momentum carries the overshoot on)."""

    class Refreshing(Euclidean):
        refresh_epochs = 1

        def refresh(self, w):
            raise AssertionError("refit under a rule that takes its step as given")

    quadratic = Quadratic(np.linspace(1.0, 10.0, 6))
    result = run(quadratic, "accelerated", learning_rate=1.0 / quadratic.lipschitz,
                 metric=Refreshing(), max_iter=500, tol=1e-10)
    assert result.converged


def test_epoch_hooks_see_each_epoch_and_can_stop_the_descent(quadratic):
    calls = []

    def on_epoch_begin(epoch, params):
        calls.append(("begin", epoch, quadratic(params)))

    def on_epoch_end(epoch, params):
        calls.append(("end", epoch, quadratic(params)))
        return epoch == 3

    result = run(quadratic, "gd", max_iter=50, tol=None, on_epoch_begin=on_epoch_begin,
                 on_epoch_end=on_epoch_end)
    assert result.stopped
    assert not result.converged
    assert result.n_iter == len(result.loss_curve) == 4
    assert [call[:2] for call in calls] == [
        (hook, epoch) for epoch in range(4) for hook in ("begin", "end")]
    # Plain gradient descent evaluates each epoch's loss where that epoch begins.
    assert [value for hook, _, value in calls if hook == "begin"] == result.loss_curve
    # Each epoch ends where the next one begins.
    assert [call[2] for call in calls[1:-1:2]] == [call[2] for call in calls[2::2]]
    assert calls[-1][2] == quadratic(result.params)


@pytest.mark.parametrize("rule_id", RULES)
def test_tol_none_runs_max_iter_epochs_even_at_the_minimum(rule_id):
    # A diagonal quadratic started at its minimiser: the gradient is exactly zero, so
    # every rule stays put.
    quadratic = Quadratic(np.arange(1.0, 7.0), seed=0, rotate=False)
    stopped = run(quadratic, rule_id, params=quadratic.solution.copy(), max_iter=50,
                  tol=1e-10)
    # With a tol, the first epoch finds the optimality measure at 0 and stops.
    assert stopped.converged
    assert stopped.n_iter == 1
    assert stopped.optimality == 0
    full = run(quadratic, rule_id, params=quadratic.solution.copy(), max_iter=50, tol=None)
    assert not full.converged
    assert full.n_iter == full.state.epoch == full.state.n_updates == 50
    assert len(full.loss_curve) == len(full.learning_rate_curve) == 50
    assert_array_equal(full.params, quadratic.solution)


def test_accelerated_beats_gd_on_an_ill_conditioned_quadratic():
    # Condition number 1000: gradient descent needs O(kappa) epochs, Nesterov's method
    # O(sqrt(kappa)).
    quadratic = Quadratic(np.geomspace(1.0, 1000.0, 20), seed=1)
    start = np.zeros(20)
    threshold = 1e-8 * (quadratic(start) - quadratic.minimum)

    def epochs_to_reach_threshold(rule_id):
        result = run(quadratic, rule_id, learning_rate=1.0 / quadratic.lipschitz,
                     max_iter=10000, tol=None)
        gap = np.array(result.loss_curve) - quadratic.minimum
        assert gap.min() <= threshold, f"{rule_id} did not get within the threshold"
        return int(np.argmax(gap <= threshold))

    gd_epochs = epochs_to_reach_threshold("gd")
    accelerated_epochs = epochs_to_reach_threshold("accelerated")
    assert 5 * accelerated_epochs < gd_epochs


# -- divergence -----------------------------------------------------------------------------
# id -> learning rate far beyond what the rule tolerates on the quadratic (L = 10).
TOO_LARGE = {"gd": 2.5, "gd-momentum": 2.5, "gd-nesterov": 2.5, "accelerated": 2.5,
             "adam": 1e5}
# L-BFGS searches a line: a too large step is backtracked, not a divergence (its own test).
DIVERGING_RULES = [rule for rule in RULES if rule in TOO_LARGE]


def divergence_message(quadratic, rule_id, learning_rate, max_iter=100):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError) as excinfo:
            run(quadratic, rule_id, learning_rate=learning_rate, max_iter=max_iter, tol=None,
                advice="ADVICE")
    return str(excinfo.value)


def diverged_epoch(message):
    found = re.search(r"epoch (\d+)", message)
    assert found, message
    return int(found.group(1))


def names_learning_rate(message, learning_rate):
    return any(f"learning_rate={text}" in message
               for text in (f"{learning_rate:g}", repr(learning_rate)))


@pytest.mark.parametrize("rule_id", DIVERGING_RULES)
def test_too_large_learning_rate_raises_divergence_error(quadratic, rule_id):
    learning_rate = TOO_LARGE[rule_id]
    message = divergence_message(quadratic, rule_id, learning_rate)
    assert names_learning_rate(message, learning_rate), message
    # The caller's advice ends the message.
    assert message.endswith("ADVICE")
    # The epoch named (counted from 0, as the decay table counts them) is the first one
    # that blew up: the epochs before it run without an error.
    epoch = diverged_epoch(message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if epoch > 0:
            # A run of fewer epochs checks the point its last step reached, which is
            # where the objective blew up: it raises too, with the epochs before finite.
            with pytest.raises(DivergenceError) as info:
                run(quadratic, rule_id, learning_rate=learning_rate, max_iter=epoch,
                    tol=None)
            assert len(info.value.loss_curve) == epoch
            assert np.all(np.isfinite(info.value.loss_curve))
    assert diverged_epoch(divergence_message(quadratic, rule_id, learning_rate,
                                             max_iter=epoch + 1)) == epoch


@pytest.mark.parametrize("rule_id", ["gd", "adam"])
def test_overflowing_objective_raises_divergence_error(quadratic, rule_id):
    # Steps of 1e300 overflow the objective to inf or nan.
    message = divergence_message(quadratic, rule_id, 1e300)
    assert names_learning_rate(message, 1e300), message
    assert message.endswith("ADVICE")


def test_non_finite_final_parameters_raise_divergence_error():
    target = np.full(3, 10.0)

    def loss_gradient(w, rows):
        return float(0.5 * np.sum((w - target) ** 2)), w - target

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # One epoch: the objective at the start is finite, the step overflows to inf.
        with pytest.raises(DivergenceError, match="learning_rate=1e\\+308"):
            minimize(loss_gradient, np.zeros(3), n_samples=1, learning_rate=1e308,
                     rule=make_rule("gd"), max_iter=1, tol=None)


@pytest.mark.parametrize("batch_size", [None, 1], ids=["full-batch", "mini-batch"])
def test_a_rate_whose_step_overflows_the_dtype_at_a_finite_start_raises_divergence(
        batch_size):
    # An L1 fit's optimality measure, the gradient mapping, takes the step lr * grad: a
    # rate beyond float32's range overflows it at a start whose objective and gradient
    # are finite. The rate is at fault, not the data (the ValueError of a non-finite
    # start): a DivergenceError names it and the dtype.
    target = np.full(3, 10.0, dtype=np.float32)

    def loss_gradient(w, rows):
        return float(0.5 * np.sum((w - target) ** 2)), w - target

    # (NumPy before 2 promotes the step to float64 instead, by the rate's value: no
    # overflow, and the objective's rise raises.)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceError, match=r"learning_rate=1e\+39 \(the step of "
                           r"epoch [01]\).*(where it is 150: the step overflows float32|"
                           r"rose from 150 at the start to \S+); ADVICE$"):
            minimize(loss_gradient, np.zeros(3, dtype=np.float32), n_samples=1,
                     learning_rate=1e39, rule=make_rule("accelerated"),
                     penalty=_L1Penalty(0.1, 3, np), batch_size=batch_size, max_iter=5,
                     tol=None, advice="ADVICE")


@pytest.mark.parametrize("Estimator", [skgd.GDRegressor, skgd.GDClassifier])
def test_an_estimator_s_rate_beyond_float32_raises_divergence_and_keeps_the_model(
        Estimator):
    # The engine's rule above, through an estimator: an L1 fit of float32 X at a rate
    # above float32's largest number raises the DivergenceError naming it, and the model
    # fitted before stays as it was.
    rng = np.random.default_rng(8)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = X @ rng.normal(size=4) + 1
    y = (y > 1).astype(int) if Estimator is skgd.GDClassifier else y
    model = Estimator(max_iter=30).fit(X, y)
    coef, intercept = model.coef_.copy(), model.intercept_.copy()
    model.set_params(learning_rate=1e39, penalty="l1", solver="accelerated")
    # (NumPy before 2 promotes the step to float64: the objective's rise raises.)
    with pytest.raises(DivergenceError,
                       match=r"learning_rate=1e\+39 .*(overflows float32|rose from)"):
        model.fit(X, y)
    assert_array_equal(model.coef_, coef)
    assert_array_equal(model.intercept_, intercept)


@pytest.mark.parametrize("tol", [None, 1e-8], ids=["tol=None", "tol=1e-8"])
def test_slow_divergence_raises_whatever_the_stopping_rule(quadratic, tol):
    # 2/L = 0.2: the top mode grows by 1.1 per epoch, too slowly to pass twice the start
    # (100, by the offset) in 40 epochs, but it undoes the descent of the others.
    def loss_gradient(w, rows):
        value, grad = quadratic.loss_gradient(w, rows)
        return value + 100.0, grad

    for max_iter in (20, 40):
        with pytest.raises(DivergenceError, match="rose in each of the last 5 epochs"):
            minimize(loss_gradient, np.zeros(len(quadratic.b)), n_samples=1,
                     learning_rate=0.21, rule=make_rule("gd"), max_iter=max_iter, tol=tol)


@pytest.mark.parametrize("momentum", [0.9, 0.99])
@pytest.mark.parametrize("nesterov", [False, True], ids=["heavy-ball", "nesterov"])
def test_momentum_swings_are_not_divergence_at_any_epoch(quadratic, momentum, nesterov):
    # Heavy ball at 0.99 climbs back near the start in its first swing: stable all the
    # same, and no run of it, however long, may raise.
    rule = UPDATE_RULES["gd"](momentum=momentum, nesterov=nesterov)
    for max_iter in range(1, 80):
        minimize(quadratic.loss_gradient, np.zeros(len(quadratic.b)), n_samples=1,
                 learning_rate=1.0 / quadratic.lipschitz, rule=rule, max_iter=max_iter,
                 tol=None)


# -- resuming -------------------------------------------------------------------------------
@pytest.mark.parametrize("rule_id", RULES)
def test_resume_from_state_continues(quadratic, rule_id):
    decay = make_decay("exponential", decay_rate=0.9)
    learning_rate = learning_rate_for(rule_id, quadratic)
    whole = run(quadratic, rule_id, decay=decay, max_iter=20, tol=None)
    first = run(quadratic, rule_id, decay=decay, max_iter=12, tol=None)
    # params is ignored when resuming: the state holds the parameters.
    second = run(quadratic, rule_id, decay=decay, max_iter=8, tol=None, state=first.state,
                 params=np.full(len(quadratic.b), np.nan))
    assert second.state.epoch == 20
    assert second.state.n_updates == 20
    assert second.n_iter == 8
    assert_allclose(second.learning_rate_curve,
                    [learning_rate * 0.9**t for t in range(12, 20)], rtol=1e-12)
    assert first.loss_curve + second.loss_curve == whole.loss_curve
    assert first.learning_rate_curve + second.learning_rate_curve == whole.learning_rate_curve
    assert_array_equal(second.params, whole.params)


# -- mini-batches ---------------------------------------------------------------------------
class LeastSquares:
    """f(w) = mean_i 1/2 (m_i . w - t_i)^2, with t = M w_true, so that f(w_true) = 0."""

    def __init__(self, n_samples=23, n_features=4, seed=0):
        rng = np.random.default_rng(seed)
        self.M = rng.normal(size=(n_samples, n_features))
        self.solution = rng.normal(size=n_features)
        self.t = self.M @ self.solution
        self.calls, self.calls_values = [], []

    def loss_gradient(self, w, rows):
        index = np.arange(len(self.t)) if rows is None else np.arange(len(self.t))[rows]
        self.calls.append(index)
        residual = self.M[index] @ w - self.t[index]
        value = float(0.5 * np.mean(residual**2))
        self.calls_values.append(value)
        return value, self.M[index].T @ residual / len(index)

    def run(self, seed, **kwargs):
        self.calls, self.calls_values = [], []
        kwargs.setdefault("max_iter", 6)
        kwargs.setdefault("batch_size", 5)
        result = minimize(self.loss_gradient, np.zeros(self.M.shape[1]),
                          n_samples=len(self.t), learning_rate=0.05, rule=make_rule("gd"),
                          tol=None, rng=np.random.default_rng(seed), **kwargs)
        if kwargs["batch_size"] < len(self.t):
            # Mini-batch runs take one full pass before the first epoch (the references)
            # and one after the last (the optimality): set them apart.
            full = [i for i, rows in enumerate(self.calls) if len(rows) == len(self.t)]
            assert full == [0, len(self.calls) - 1]
            self.calls, self.calls_values = self.calls[1:-1], self.calls_values[1:-1]
        return result


@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffle", "no-shuffle"])
def test_mini_batches_cover_every_sample_once_per_epoch(shuffle):
    problem = LeastSquares()
    n_samples, batch_size, max_iter = len(problem.t), 5, 6
    result = problem.run(0, shuffle=shuffle)
    n_batches = -(-n_samples // batch_size)
    assert result.state.n_updates == max_iter * n_batches
    assert len(problem.calls) == max_iter * n_batches
    orders = []
    for epoch in range(max_iter):
        batches = problem.calls[epoch * n_batches:(epoch + 1) * n_batches]
        sizes = [len(rows) for rows in batches]
        assert sizes == [batch_size] * (n_batches - 1) + [n_samples - batch_size * (n_batches - 1)]
        order = np.concatenate(batches)
        assert_array_equal(np.sort(order), np.arange(n_samples))
        orders.append(order)
        # The epoch's objective is the mean of its batch objectives, weighted by size.
        values = problem.calls_values[epoch * n_batches:(epoch + 1) * n_batches]
        assert_allclose(result.loss_curve[epoch],
                        np.dot(values, sizes) / n_samples, rtol=1e-12)
    distinct_orders = {tuple(order) for order in orders}
    if shuffle:
        assert len(distinct_orders) == max_iter
    else:
        assert distinct_orders == {tuple(range(n_samples))}


def test_mini_batches_reproducible_for_a_seed():
    problem = LeastSquares()
    first = problem.run(42)
    first_calls = problem.calls
    again = problem.run(42)
    assert all(np.array_equal(a, b) for a, b in zip(first_calls, problem.calls, strict=True))
    assert_array_equal(again.params, first.params)
    assert again.loss_curve == first.loss_curve
    other = problem.run(43)
    assert not all(np.array_equal(a, b) for a, b in zip(first_calls, problem.calls,
                                                        strict=True))
    assert not np.array_equal(other.params, first.params)
    assert other.loss_curve != first.loss_curve


@pytest.mark.parametrize("batch_size", [1, 5])
def test_mini_batches_converge_when_every_sample_is_fitted(batch_size):
    # t = M w_true: every per-sample loss vanishes at w_true, so even SGD converges.
    problem = LeastSquares()
    result = problem.run(0, batch_size=batch_size, max_iter=400)
    assert_allclose(result.params, problem.solution, rtol=1e-6, atol=1e-8)


def test_resume_with_mini_batches_continues_the_shuffling():
    problem = LeastSquares()
    whole = problem.run(0, max_iter=8)
    rng = np.random.default_rng(0)
    common = dict(n_samples=len(problem.t), learning_rate=0.05, rule=make_rule("gd"),
                  tol=None, batch_size=5, rng=rng)
    first = minimize(problem.loss_gradient, np.zeros(4), max_iter=5, **common)
    second = minimize(problem.loss_gradient, None, max_iter=3, state=first.state, **common)
    assert second.state.n_updates == whole.state.n_updates
    assert first.loss_curve + second.loss_curve == whole.loss_curve
    assert_array_equal(second.params, whole.params)


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("rule_id", RULES)
def test_validation_returns_the_best_scoring_parameters(quadratic, rule_id):
    start = np.zeros(len(quadratic.b))
    # Highest when the iterate is halfway (in distance) from the start to the minimum,
    # which descent passes through and then leaves.
    radius = 0.5 * np.linalg.norm(start - quadratic.solution)
    seen = []

    def score(w):
        return -abs(np.linalg.norm(w - quadratic.solution) - radius)

    def validation(w):
        seen.append(w.copy())
        return score(w)

    n_iter_no_change = 4
    result = run(quadratic, rule_id, params=start, max_iter=500, tol=1e-6,
                 n_iter_no_change=n_iter_no_change, validation=validation)
    scores = result.validation_scores
    assert len(scores) == len(seen) == result.n_iter
    assert scores == [score(w) for w in seen]
    best = int(np.argmax(scores))
    assert result.best_validation_score == scores[best] == max(scores)
    assert_array_equal(result.params, seen[best])
    assert 0 < best < result.n_iter - 1
    # It stops once the score has not improved for n_iter_no_change epochs.
    assert result.converged
    assert result.n_iter <= best + 1 + n_iter_no_change
    assert not np.allclose(result.params, quadratic.solution, rtol=1e-3)


def _scored_run(scores, tol, n_iter_no_change=2, max_iter=20):
    """A run whose validation scores are ``scores`` (the last one after them); returns
    the result and the parameters each score was given."""
    seen = []

    def validation(w):
        seen.append(w.copy())
        return scores[min(len(seen), len(scores)) - 1]

    result = minimize(_Scripted([1.0]).loss_gradient, np.ones(3), n_samples=1,
                      learning_rate=0.1, rule=make_rule("gd"), max_iter=max_iter, tol=tol,
                      n_iter_no_change=n_iter_no_change, validation=validation)
    return result, seen


def test_a_validation_score_not_better_than_the_best_by_tol_of_its_size_stalls():
    # Scores rising by 5 % of their size each epoch, against tol = 10 %: every epoch
    # after the first stalls, so the run stops after 1 + n_iter_no_change epochs.
    result, _ = _scored_run([0.5 * 1.05**k for k in range(20)], tol=0.1)
    assert result.converged and result.n_iter == 3
    # By 20 %: every epoch improves, the run goes to max_iter.
    result, _ = _scored_run([0.5 * 1.2**k for k in range(20)], tol=0.1)
    assert not result.converged and result.n_iter == 20


def test_the_first_of_equal_best_validation_scores_is_kept():
    result, seen = _scored_run([0.5, 0.9, 0.9, 0.9], tol=1e-3)
    assert result.best_validation_score == 0.9
    assert result.n_iter == 4
    assert_array_equal(result.params, seen[1])


def test_a_nan_validation_score_is_never_the_best():
    result, seen = _scored_run([np.nan, 0.3, np.nan, 0.2], tol=1e-3, max_iter=6)
    assert result.best_validation_score == 0.3
    assert_array_equal(result.params, seen[1])


def test_a_batch_of_all_the_samples_is_the_full_batch():
    # One request per epoch, for all rows at once, and no passes around the epochs but
    # the one that checks the point the last step reached.
    problem = LeastSquares()
    problem.run(0, batch_size=len(problem.t), max_iter=4)
    assert len(problem.calls) == 5
    assert all(np.array_equal(rows, np.arange(len(problem.t))) for rows in problem.calls)
    requests = []
    minimize(lambda w, rows: requests.append(rows) or problem.loss_gradient(w, rows),
             np.zeros(4), n_samples=len(problem.t), batch_size=len(problem.t),
             learning_rate=0.05, rule=make_rule("gd"), max_iter=3, tol=None)
    assert requests == [None] * 4


# -- optimality, references and refits ------------------------------------------------------
def test_a_full_batch_run_stops_once_its_gradient_is_tol_of_its_start(quadratic):
    result = run(quadratic, "accelerated", learning_rate=1 / quadratic.lipschitz,
                 max_iter=10_000, tol=1e-6)
    assert result.converged
    start = np.linalg.norm(quadratic.loss_gradient(np.zeros(len(quadratic.b)), None)[1])
    # The point returned is the one the measure certified.
    end = np.linalg.norm(quadratic.loss_gradient(result.params, None)[1])
    assert end <= 1e-6 * start * (1 + 1e-9)
    assert result.optimality == pytest.approx(end / start, rel=1e-9)


def test_the_divergence_reference_is_carried_across_resumes(quadratic):
    # One epoch per call, as partial_fit runs: each call alone rises only a little, the
    # reference of the first call catches the sum.
    state, result = None, None
    with pytest.raises(DivergenceError):
        for _ in range(50):
            result = minimize(quadratic.loss_gradient, np.zeros(len(quadratic.b)),
                              n_samples=1, learning_rate=0.21, rule=make_rule("gd"),
                              max_iter=1, tol=None, state=state)
            state = result.state
    assert result is not None and result.state.references is not None


# -- divergence of a bounded objective: rises above twice the start -------------------------
class _Scripted:
    """An objective whose value at the k-th request is ``values[k]`` (the last one after
    them), with the gradient of ``1/2 |w|^2``: the engine judges divergence by the values
    alone, so a script of values tells when it must raise."""

    def __init__(self, values):
        self.values, self.calls = list(values), 0

    def loss_gradient(self, w, rows):
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return value, w.copy()


def _scripted_run(values, max_iter, state=None, end=None):
    """A run of ``max_iter`` epochs scripted by ``values``; the pass after its last epoch
    (which checks the point the last step reached) finds ``end`` (default: the first
    value, no rise)."""
    end = values[0] if end is None else end
    return minimize(_Scripted([*values[:max_iter], end]).loss_gradient, np.ones(3),
                    n_samples=1, learning_rate=0.1, rule=make_rule("gd"),
                    max_iter=max_iter, tol=None, state=state)


def test_an_objective_above_twice_its_start_raises_at_its_third_such_epoch_running():
    # The start (1.0) is the reference; 2.5 is above twice it, far below an explosion.
    values = [1.0, 2.5, 2.5, 2.5, 2.5]
    assert _scripted_run(values, max_iter=3).loss_curve == values[:3]
    with pytest.raises(DivergenceError, match="rose from 1 at the start to 2.5") as info:
        _scripted_run(values, max_iter=10)
    assert diverged_epoch(str(info.value)) == 3
    assert info.value.loss_curve == values[:4]


def test_an_epoch_not_above_twice_the_start_restarts_the_count_of_rises():
    # Exactly twice the start is not above it; 1.5 is below it.
    values = [1.0, 2.5, 2.5, 2.0, 2.5, 2.5, 1.5, 2.5, 2.5, 1.0]
    result = _scripted_run(values, max_iter=len(values))
    assert result.loss_curve == values
    assert result.state.n_rises == 0


def test_rises_are_counted_across_resumes_and_from_zero_in_a_fresh_descent():
    state = _scripted_run([1.0], max_iter=1).state
    assert state.n_rises == 0
    for n_rises in (1, 2):
        state = _scripted_run([2.5], max_iter=1, state=state, end=1.0).state
        assert state.n_rises == n_rises
    with pytest.raises(DivergenceError, match="epoch 3"):
        _scripted_run([2.5], max_iter=1, state=state)
    # A fresh descent counts from zero (its reference measured at another point, as a
    # warm start measures the origin).
    def fresh(max_iter):
        values = [1.0, 0.9, *[2.5] * (max_iter - 1), 1.0]
        return minimize(_Scripted(values).loss_gradient, np.ones(3), n_samples=1,
                        learning_rate=0.1, rule=make_rule("gd"), max_iter=max_iter,
                        tol=None, reference_point=np.zeros(3))

    assert fresh(3).state.n_rises == 2
    with pytest.raises(DivergenceError, match="epoch 3"):
        fresh(4)


def test_a_start_above_the_reference_measured_elsewhere_restarts_there():
    # A warm start worse than the zero model (labels that flipped) ran above twice it
    # for epochs and was reported as diverging: after its first epoch, which measured
    # the start, the descent starts afresh at the reference point, and that epoch is
    # neither a rise nor a stop.
    points = []

    def loss_gradient(w, rows):
        points.append(w.copy())
        return float(0.5 * (w - 3.0) @ (w - 3.0)), w - 3.0

    start = np.full(3, -10.0)
    result = minimize(loss_gradient, start, n_samples=1, learning_rate=0.5,
                      rule=make_rule("gd"), max_iter=3, tol=None,
                      reference_point=np.zeros(3))
    assert_allclose(points[0], 0.0)  # the reference
    assert_allclose(points[1], start)  # the first epoch, at the start
    assert_allclose(points[2], 0.0)  # restarted
    assert result.loss_curve[0] == pytest.approx(0.5 * 3 * 13.0**2)
    assert result.loss_curve[1] == pytest.approx(0.5 * 3 * 3.0**2)
    assert result.state.n_rises == 0


def test_an_objective_that_rises_by_more_than_1e4_times_its_size_raises_at_once():
    assert _scripted_run([1.0, 1.0 + 1e4], max_iter=2).state.n_rises == 1
    with pytest.raises(DivergenceError, match="epoch 1"):
        _scripted_run([1.0, 1.0 + 2e4], max_iter=2)


def test_a_rise_of_a_negative_objective_is_measured_in_units_of_its_size():
    # From -1: up to 0 is no rise, to 0.5 one (1.5 times the size), to 2e4 an explosion.
    assert _scripted_run([-1.0, 0.0, 0.0], max_iter=3).state.n_rises == 0
    assert _scripted_run([-1.0, 0.5, 0.5], max_iter=3).state.n_rises == 2
    with pytest.raises(DivergenceError, match="epoch 1"):
        _scripted_run([-1.0, 2e4], max_iter=2)


@pytest.mark.parametrize("epoch, final, raises", [
    (1.0, 4.9, False), (1.0, 5.1, True),
    (2.5, 1.9, False), (2.5, 2.1, True),
], ids=["settled-within", "settled-beyond", "rose-within", "rose-beyond"])
def test_a_mini_batch_run_that_ends_far_above_its_last_epoch_raises(epoch, final, raises):
    # Two batches an epoch: the reference pass (1.0), one epoch, the pass that measures
    # the end. The last iterate is one draw of the noise the epoch averaged: up to five
    # times the epoch's objective where that did not rise above twice the start; else
    # twice the start, as for a full batch.
    objective = _Scripted([1.0, epoch, epoch, final])

    def run_once():
        return minimize(objective.loss_gradient, np.ones(3), n_samples=2, batch_size=1,
                        learning_rate=0.1, rule=make_rule("gd"), max_iter=1, tol=None,
                        rng=np.random.default_rng(0))

    if raises:
        with pytest.raises(DivergenceError, match=f"to {final}"):
            run_once()
    else:
        assert run_once().loss_curve == [epoch]
    assert objective.calls == 4


def test_a_full_batch_run_stops_once_its_optimality_is_at_most_tol():
    # From w = 1 with steps of half the gradient w: the gradient halves each epoch, so the
    # optimality is exactly 0.5 after one step.
    def run_to(tol):
        return minimize(_Scripted([1.0]).loss_gradient, np.ones(3), n_samples=1,
                        learning_rate=0.5, rule=make_rule("gd"), max_iter=10, tol=tol)

    at_tol = run_to(0.5)
    assert at_tol.converged and at_tol.n_iter == 2 and at_tol.optimality == 0.5
    assert run_to(0.4999).n_iter == 3


# -- optimality relative to the start ---------------------------------------------------------
def test_a_point_with_positive_optimality_is_not_converged_where_the_start_had_none():
    # A warm start measures against the origin; at the exact optimum there (the
    # gradient w, 0 at 0) the measure of any other point is relative to the rounding of
    # the objective (eps |F0|), never within tol. (The value is 10 everywhere: a start
    # whose objective is above the origin's would restart there.)
    def loss_gradient(w, rows):
        return 10.0, w.copy()

    result = minimize(loss_gradient, np.ones(3), n_samples=1, learning_rate=0.5,
                      rule=make_rule("gd"), max_iter=4, tol=1e-5,
                      reference_point=np.zeros(3))
    assert result.state.references.optimality == 0
    assert not result.converged
    assert result.n_iter == 4
    assert result.optimality == pytest.approx(
        math.sqrt(float(result.params @ result.params) / (np.finfo(float).eps * 10.0)))
    assert result.optimality > 1e6
    # Once the point is exactly optimal too (a unit step lands on 0), it is converged.
    exact = minimize(loss_gradient, np.ones(3), n_samples=1, learning_rate=1.0,
                     rule=make_rule("gd"), max_iter=4, tol=1e-5,
                     reference_point=np.zeros(3))
    assert exact.converged
    assert exact.n_iter == 2
    assert exact.optimality == 0


def _rate_recording_gd():
    """Gradient descent that records the learning rate of every update, and the list."""
    rates = []
    gd = UPDATE_RULES["gd"]()

    def update(step, params, state, learning_rate, metric, prox):
        rates.append(learning_rate)
        return gd.update(step, params, state, learning_rate, metric, prox)

    return gd._replace(update=update), rates


@pytest.mark.parametrize("per_update", [False, True], ids=["per-epoch", "per-update"])
def test_a_per_update_decay_sets_the_rate_of_every_update(per_update):
    # 23 rows in batches of 5: 5 updates an epoch, the last of 3 rows.
    problem = LeastSquares()
    gd, rates = _rate_recording_gd()
    decay = make_decay("cosine", max_iter=4, per_update=per_update)
    result = minimize(problem.loss_gradient, np.zeros(problem.M.shape[1]),
                      n_samples=len(problem.t), learning_rate=0.1, decay=decay,
                      rule=gd, batch_size=5, max_iter=4, tol=None,
                      rng=np.random.default_rng(0))
    n_batches = -(-len(problem.t) // 5)
    expected = [0.1 * decay.factor(epoch + (batch / n_batches if per_update else 0), 0)
                for epoch in range(4) for batch in range(n_batches)]
    assert_allclose(rates, expected, rtol=1e-14)
    assert len(set(rates)) == (4 * n_batches if per_update else 4)
    # The record of each epoch is the rate of its first update.
    assert_allclose(result.learning_rate_curve, rates[::n_batches], rtol=0)


# -- issue 23: references of zero, streams, the last step -----------------------------------
def test_a_reference_of_zero_measured_elsewhere_takes_the_first_epoch_as_its_unit():
    # A warm start or a stream's batch whose zero model fits exactly (the reference 0),
    # met at an objective of 3 (the first epoch): rises are measured in units of 3, where
    # any positive value was an explosion in units of the smallest float.
    def fresh(values, max_iter):
        return minimize(_Scripted(values).loss_gradient, np.ones(3), n_samples=1,
                        learning_rate=0.1, rule=make_rule("gd"), max_iter=max_iter,
                        tol=None, reference_point=np.zeros(3))

    result = fresh([0.0, 3.0, 2.9, 2.9, 2.9, 1.0], max_iter=4)
    assert result.state.n_rises == 0
    assert result.state.references.scale == 3.0
    # Above the reference by more than the unit, three epochs running: a divergence.
    with pytest.raises(DivergenceError, match="epoch 3"):
        fresh([0.0, 3.0, 3.5, 3.5, 3.5], max_iter=5)


def test_a_fresh_run_from_an_objective_of_zero_still_catches_an_explosion(quadratic):
    # The quadratic is 0 at the origin, its start: no first epoch from elsewhere to take
    # the unit from, and a huge step explodes.
    with pytest.raises(DivergenceError):
        run(quadratic, "adam", learning_rate=1e5, max_iter=100, tol=None)


def _streamed(values_per_call, n_samples=1):
    """Resumed runs of one epoch each, as partial_fit calls, on a script per call: the
    zero model's objective (the reference pass), the epoch's, the end's."""
    state = None
    for values in values_per_call:
        result = minimize(_Scripted(values).loss_gradient, np.ones(3), n_samples=n_samples,
                          learning_rate=0.1, rule=make_rule("gd"), max_iter=1, tol=None,
                          state=state, reference_point=np.zeros(3), streaming=True)
        state = result.state._replace(references=None)
    return state


def test_a_stream_counts_rises_of_its_objective_over_all_its_batches():
    # The zero model's objective is 1 on every batch; the model's 1, then 4: over the
    # stream 2.5, 3, 3.25 times the zero model's: rises, the third raises.
    state = _streamed([[1.0, 1.0, 1.0], [1.0, 4.0, 1.0], [1.0, 4.0, 1.0]])
    assert state.n_rises == 2
    assert state.stream[:3] == (3, 3.0, 9.0)
    with pytest.raises(DivergenceError, match="epoch 3"):
        _streamed([[1.0, 1.0, 1.0], [1.0, 4.0, 1.0], [1.0, 4.0, 1.0], [1.0, 4.0, 1.0]])


def test_one_noisy_batch_of_a_stream_is_no_rise():
    # A batch the model fits 4 times worse than zero, among batches it fits well: the
    # stream's objective stays below its zero model's.
    state = _streamed([[1.0, 1.0, 0.2]] + [[1.0, 0.2, 0.2]] * 5 + [[0.1, 0.4, 0.4]] * 3)
    assert state.n_rises == 0


def test_a_stream_s_early_transient_is_no_rise_once_its_batches_are_fitted():
    # The second batch is fitted 10 times worse than by zero (a model of one batch), the
    # next ones well: the stream's mean stays above twice the zero model's for long, but
    # no batch rises again.
    state = _streamed([[1.0, 1.0, 0.5], [1.0, 10.0, 5.0]] + [[1.0, 0.5, 0.5]] * 4)
    assert state.stream[2] / state.stream[1] > 2
    assert state.n_rises == 0


def test_a_stream_handed_a_model_worse_than_zero_may_descend_from_it():
    # The model meets the stream's first batch 10 times worse than zero (a fit on labels
    # that have since flipped) and descends: five calls above twice the zero model's,
    # none a rise (the rule raised at the third).
    state = _streamed([[1.0, v, v] for v in (10.0, 8.0, 6.0, 4.0, 2.5)])
    assert state.n_rises == 0
    # One that rises above where it began diverges, at the third such call.
    with pytest.raises(DivergenceError, match="epoch 3"):
        _streamed([[1.0, v, v] for v in (10.0, 12.0, 13.0, 14.0)])
    # Once it has come within twice the zero model's, rises count from there again.
    with pytest.raises(DivergenceError, match="epoch 5"):
        _streamed([[1.0, v, v] for v in (10.0, 5.0, 1.5, 3.0, 3.0, 3.0)])


@pytest.mark.parametrize("end, raises", [(19.9, False), (20.1, True)])
def test_a_stream_call_may_not_end_far_above_its_batch_s_objective(end, raises):
    # The batch's zero model is at 1, the model meets it at 4: the call may end worse
    # than zero (a few new rows, the momentum of earlier batches), but not five times
    # worse than where it began.
    calls = [[1.0, 1.0, 1.0], [1.0, 4.0, end]]
    if raises:
        with pytest.raises(DivergenceError, match=f"to {end}"):
            _streamed(calls)
    else:
        _streamed(calls)


@pytest.mark.parametrize("rule_id", ["gd", "accelerated"])
def test_the_point_the_last_full_batch_step_reached_is_checked(quadratic, rule_id):
    # Issue 23: with max_iter=1 the step was never checked; one epoch of a huge step
    # raises as two do.
    for max_iter in (1, 2):
        with pytest.raises(DivergenceError, match=f"epoch {max_iter - 1}"):
            run(quadratic, rule_id, learning_rate=1e3, max_iter=max_iter, tol=None)
    # The check is the pass after the last epoch, where the run ends unconverged.
    result = run(quadratic, rule_id, max_iter=3, tol=None)
    assert result.objective == pytest.approx(quadratic(result.params), rel=1e-12)


@pytest.mark.parametrize("per_update", [False, True], ids=["per-epoch", "per-update"])
def test_an_epoch_s_short_last_batch_takes_its_factor_of_the_step(per_update):
    # 23 rows in batches of 5: the fifth update of each epoch is a batch of 3 rows.
    problem = LeastSquares()
    gd, rates = _rate_recording_gd()
    decay = make_decay("cosine", max_iter=2, per_update=per_update)
    minimize(problem.loss_gradient, np.zeros(problem.M.shape[1]), n_samples=len(problem.t),
             learning_rate=0.1, decay=decay, rule=gd, batch_size=5,
             max_iter=2, tol=None, rng=np.random.default_rng(0), last_batch=0.25)
    expected = [0.1 * decay.factor(epoch + (batch / 5 if per_update else 0), 0)
                * (0.25 if batch == 4 else 1.0) for epoch in range(2) for batch in range(5)]
    assert_allclose(rates, expected, rtol=1e-14)


def test_a_certificate_that_says_go_on_is_asked_again_after_1_2_4_up_to_16_epochs():
    from types import SimpleNamespace

    from skgd._divergence import References
    from skgd._stopping import Certificate

    asked = []

    def exact(point):
        asked.append(point)
        # The Hessian's curvature 1e-6 of the bound's: the measure 1e3 times larger.
        return SimpleNamespace(direction=lambda grad: 1e6 * grad)

    certificate = Certificate(exact, tol=1e-5)
    references = References(1.0, 1.0, optimality=1.0)
    # sqrt(grad^T (1e6 grad)) = 2e-5, twice tol.
    grad = np.array([2e-8])
    epochs = []
    for epoch in range(1, 61):
        step = SimpleNamespace(point=epoch, grad=grad)
        measured = certificate.measure(1e-8, step, references, epoch)
        # Never a stop: the Hessian's measure, or (between its answers) just above tol.
        assert measured > 1e-5
        if asked and asked[-1] == epoch:
            epochs.append(epoch)
            assert measured == pytest.approx(2e-5)
    assert epochs == [1, 2, 4, 8, 16, 32, 48]
    # A bound's measure above tol is the answer, without the Hessian.
    assert certificate.measure(1e-3, step, references, 61) == 1e-3
    # At the end of a run, the Hessian is asked whatever the schedule.
    assert certificate.measure(1e-8, step, references) == pytest.approx(2e-5)
    assert len(asked) == 8


def test_a_stop_at_tol_waits_for_the_objective_where_no_newton_steps_follow():
    from types import SimpleNamespace

    from skgd._stopping import Stop

    def stop_rule(finish=None, dtype=None):
        rule = SimpleNamespace(finish=lambda state, metric: finish)
        return Stop(1e-5, 5, full_batch=True, epoch_rule=False,
                    decay=make_decay("constant"), rule=rule, dtype=dtype)

    def verdicts(stop, trace):
        return [stop.verdict(epoch, 0, relative, False, "state", None, objective).stop
                for epoch, (objective, relative) in enumerate(trace, 1)]

    # The optimality meets tol at epoch 3, where the last epoch still took 1e-6 off an
    # objective of 1e-2 (the estimated gap: 1e-6 * (5e-6 / 2e-5)^2 = 6e-8, above
    # 1e3 tol^2 of it, 1e-9); at epoch 4 the estimate is 1e-9 * 1/4 (below).
    trace = [(1.6, 1.0), (0.010001, 2e-5), (0.010000, 5e-6), (0.009999999, 2.5e-6)]
    assert verdicts(stop_rule(), trace) == [False, False, False, True]
    # A measure that contracts to rounding (least squares' exact step) needs no more.
    assert verdicts(stop_rule(), [(1.6, 1.0), (0.01, 1e-16)]) == [False, True]
    # Nor does a run's first epoch (a warm start at the optimum), nor an objective
    # that falls within its rounding: float32's (1e-6 of it) takes the epoch-3 stop.
    assert verdicts(stop_rule(), [(0.01, 1e-6)]) == [True]
    assert verdicts(stop_rule(dtype=np.dtype(np.float32)), trace[:3]) == [False, False,
                                                                           True]
    # Where Newton's steps follow, they take the point to rounding: no wait.
    polish = stop_rule(finish="polishing")
    assert [polish.verdict(e, 0, r, False, "state", None, f).rule_state
            for e, (f, r) in enumerate(trace[:3], 1)] == [None, None, "polishing"]


def test_a_newton_step_past_the_stop_that_is_turned_down_ends_the_run_there():
    # Newton's steps past the stop on an objective whose rounding hides their gain (X
    # with a column of 1e8 +- 1): the line search turned each down, and a turned-down
    # epoch neither rose nor stopped: the fit ran to max_iter and warned, at the optimum.
    from types import SimpleNamespace

    from skgd._stopping import Stop

    rule = SimpleNamespace(finish=lambda state, metric: "polishing")
    stop = Stop(1e-5, 5, full_batch=True, epoch_rule=False,
                decay=make_decay("constant"), rule=rule)
    first = stop.verdict(9, 0, 1.4e-6, False, "state", None)
    assert not first.stop and first.rule_state == "polishing"
    turned_down = stop.verdict(10, 0, None, True, "polishing", None)
    assert turned_down.stop and turned_down.converged
    # Before any stop, a turned-down step is the line search's business.
    fresh = Stop(1e-5, 5, full_batch=True, epoch_rule=False,
                 decay=make_decay("constant"), rule=rule)
    assert not fresh.verdict(3, 0, None, True, "state", None).stop
