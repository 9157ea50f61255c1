"""Averaged iterates (skgd._updates.averaged) and ``average=`` of the estimators, on the
Python path and the compiled one alike (tests/test_compiled.py checks that they agree)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from skgd import GDClassifier, GDRegressor
from skgd.losses import LinearObjective, SquaredError

ALPHA, LEARNING_RATE, BATCH_SIZE = 0.01, 0.05, 10


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(100, 4, noise=5.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    return X, y / np.std(y)


def _model(**params):
    settings = dict(learning_rate=LEARNING_RATE, solver="gd", preconditioner=None,
                    alpha=ALPHA, batch_size=BATCH_SIZE, shuffle=False, tol=None,
                    max_iter=3)
    return GDRegressor(**{**settings, **params})


def _iterates(X, y, n_epochs):
    """Plain mini-batch descent on the half mean squared error plus (alpha/2)||w||^2,
    batches in row order: the parameters after each update."""
    w, b, iterates = np.zeros(X.shape[1]), 0.0, []
    for _ in range(n_epochs):
        for start in range(0, len(y), BATCH_SIZE):
            rows = slice(start, start + BATCH_SIZE)
            residual = X[rows] @ w + b - y[rows]
            w, b = (w - LEARNING_RATE * (X[rows].T @ residual / len(residual) + ALPHA * w),
                    b - LEARNING_RATE * residual.mean())
            iterates.append(np.append(w, b))
    return np.array(iterates)


@pytest.mark.parametrize("average, first", [(True, 1), (1, 1), (7, 7), (25, 25)])
def test_the_model_is_the_mean_of_the_iterates_from_the_average_th_update(
        data, average, first):
    X, y = data
    model = _model(average=average).fit(X, y)
    iterates = _iterates(X, y, 3)
    assert model.t_ == len(iterates) == 30
    expected = iterates[first - 1:].mean(axis=0)
    assert_allclose(model.coef_, expected[:-1], rtol=1e-12)
    assert_allclose(model.intercept_, expected[-1], rtol=1e-12)
    # Descent itself goes on from the last iterate.
    assert_allclose(model._engine_state.params, iterates[-1], rtol=1e-12)


def test_before_averaging_starts_the_model_is_the_iterate(data):
    X, y = data
    model = _model(average=31).fit(X, y)
    assert_allclose(model.coef_, _model().fit(X, y).coef_, rtol=0, atol=0)


def test_average_false_and_zero_are_the_last_iterate(data):
    X, y = data
    last = _iterates(X, y, 3)[-1]
    for average in (False, 0):
        assert_allclose(_model(average=average).fit(X, y).coef_, last[:-1], rtol=1e-12)


@pytest.mark.parametrize("batch_size", [BATCH_SIZE, 1])
def test_partial_fit_keeps_the_running_average(data, batch_size):
    X, y = data
    fitted = _model(average=5, batch_size=batch_size).fit(X, y)
    streamed = _model(average=5, batch_size=batch_size)
    for _ in range(3):
        streamed.partial_fit(X, y)
    assert streamed.t_ == fitted.t_
    assert_allclose(streamed.coef_, fitted.coef_, rtol=1e-12)
    assert_allclose(streamed.intercept_, fitted.intercept_, rtol=1e-12)


def test_partial_fit_with_the_full_batch_averages_across_calls(data):
    X, y = data
    model = _model(average=True, batch_size=None)
    iterates = []
    for _ in range(4):
        model.partial_fit(X, y)
        iterates.append(model._engine_state.params)
    assert_allclose(np.append(model.coef_, model.intercept_), np.mean(iterates, axis=0),
                    rtol=1e-12)


def test_changing_average_between_partial_fit_calls_averages_afresh(data):
    X, y = data
    model = _model(average=True)
    model.partial_fit(X, y)
    model.set_params(average=3).partial_fit(X, y)
    assert model._engine_state.rule_state.n_updates == 10
    assert model._engine_state.rule_state.n_averaged == 8


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_a_full_batch_fit_refuses_to_average(data, Estimator):
    X, y = data
    with pytest.raises(ValueError, match="average=True averages the iterates"):
        Estimator(average=True).fit(X, y > 0)


@pytest.mark.parametrize("Estimator", [GDRegressor, GDClassifier])
def test_data_no_larger_than_a_batch_fit_as_the_full_batch(data, Estimator):
    # They raised the full batch's refusal: a small table or a CV fold of 16 rows with
    # batch_size=16 and average=True (12 of scikit-learn's estimator checks failed).
    X, y = data
    X, y = X[:16], (y[:16] > 0).astype(int)
    averaged = Estimator(average=True, batch_size=16).fit(X, y)
    full = Estimator(batch_size=16).fit(X, y)
    assert_allclose(averaged.coef_, full.coef_, rtol=1e-12)


def test_averaging_gets_below_the_noise_floor_of_the_last_iterate(data):
    # SGD at a constant rate: the last iterate jitters about the minimum, the average of
    # the second half of the run settles far closer to it.
    X, y = data
    n = len(y)
    exact = Ridge(alpha=n * ALPHA).fit(X, y)
    objective = LinearObjective(SquaredError(), X, y, alpha=ALPHA)
    best = objective.loss(np.append(exact.coef_, exact.intercept_))
    gaps = {}
    for average in (False, 20 * n):
        model = _model(batch_size=1, shuffle=True, random_state=0, max_iter=40,
                       learning_rate=0.1, average=average).fit(X, y)
        gaps[average] = objective.loss(np.append(model.coef_, model.intercept_)) - best
    assert gaps[20 * n] < gaps[False] / 10


def test_early_stopping_scores_and_keeps_the_average(data):
    X, y = data
    model = _model(average=True, early_stopping=True, random_state=0, max_iter=4).fit(X, y)
    # The split fit makes (unstratified, seeded by random_state).
    train, val = train_test_split(np.arange(len(y)), test_size=0.1,
                                  random_state=check_random_state(0))
    assert model.score(X[val], y[val]) == pytest.approx(model.best_validation_score_,
                                                        rel=1e-12)
    # ... and it is the average over the best epoch's updates: a fit on the training rows
    # for that many epochs averages the same iterates.
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    replay = _model(average=True, max_iter=best_epoch).fit(X[train], y[train])
    assert_allclose(model.coef_, replay.coef_, rtol=1e-12)
