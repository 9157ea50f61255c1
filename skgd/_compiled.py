"""Small-batch epochs at compiled speed: what runs in the kernel ``skgd._sgd_fast``.

A mini-batch step of the Python path costs tens of microseconds of interpreter work,
against well under one of arithmetic for a small batch. :func:`epoch_runner` hands the
engine an epoch that the compiled kernel runs whole, where it takes exactly the steps of
the Python path (same batches, same order of operations; only its sums are in double);
everything else falls back to the Python path:

- NumPy X, dense or SciPy CSR, float32 or float64, with a :class:`LinearObjective` of
  :class:`SquaredError` (1-D or multi-target), :class:`BinaryCrossEntropy` or
  :class:`CategoricalCrossEntropy`, any sample weights;
- the rules ``"gd"`` (plain, momentum, Nesterov), ``"accelerated"`` and ``"adam"``, any
  decay (per epoch, or per update where the decay asks for it), L2, L1 and elastic-net,
  each with or without the average of its iterates (``average``);
- the Euclidean metric (``preconditioner=None``, which ``"auto"`` resolves to for
  mini-batches);
- ``batch_size`` below the number of rows, and at most :data:`MAX_DENSE_BATCH_SIZE`
  (dense X) or :data:`MAX_SPARSE_BATCH_SIZE` (CSR).

Other namespaces (Array API arrays off NumPy), dask, other metrics, full batches and
larger batches run on the Python path, as does everything when the kernel was not built
(no C compiler at install) or the environment variable ``SKGD_PURE_PYTHON`` is set to a
non-empty value other than ``0``.
"""

import numpy as np
import scipy.sparse as sp

from ._array_api import is_numpy
from ._kernel import BUILT as _sgd_fast
from ._kernel import ENABLED
from ._updates import (
    BETA1,
    BETA2,
    EPSILON,
    AcceleratedState,
    AdamState,
    AveragedState,
    MomentumState,
)
from .losses import BinaryCrossEntropy, CategoricalCrossEntropy, LinearObjective, SquaredError

# Above these batch sizes the Python path is as fast: its interpreter work per step is
# spread over many rows, and NumPy's BLAS products beat the kernel's loops on dense rows.
# Measured on 200 000 x 100 dense binary and 100 000 x 50 10-class epochs (the kernel 1.1x
# to 1.3x faster at 96 rows, 1.1x to 1.2x slower at 128 to 256) and on the sparse
# benchmark (4x faster at 256, 1.7x at 1024, even at 2048).
MAX_DENSE_BATCH_SIZE = 96
MAX_SPARSE_BATCH_SIZE = 1024

# The kernel's codes (see the enums in _sgd_fast.pyx).
_LOSSES = {SquaredError: 0, BinaryCrossEntropy: 1, CategoricalCrossEntropy: 2}
_PLAIN, _MOMENTUM, _NESTEROV, _ACCELERATED, _ADAM = range(5)


def _rule_code(solver, momentum, nesterov):
    if solver == "gd":
        return _PLAIN if momentum == 0 else _NESTEROV if nesterov else _MOMENTUM
    return {"accelerated": _ACCELERATED, "adam": _ADAM}.get(solver)


def epoch_runner(objective, solver, *, momentum=0.0, nesterov=False, max_momentum=1.0,
                 penalty=None, metric=None, batch_size=None, average=0):
    """The engine's ``run_epoch(params, rule_state, learning_rate, order) -> (params,
    rule_state, objective)`` for these settings, or None where the Python path runs them.

    ``order`` is the epoch's permutation of the rows, or None for the rows in turn;
    ``learning_rate`` a float, or the list of each update's rate. ``average``: the
    update from which the rule's iterates are averaged (0: they are not), whose state is
    then an :class:`~skgd._updates.AveragedState`. ``max_momentum``: the accelerated
    rule's bound on its momentum.
    """
    X = objective.X if isinstance(objective, LinearObjective) else None
    largest = MAX_SPARSE_BATCH_SIZE if sp.issparse(X) else MAX_DENSE_BATCH_SIZE
    if not (ENABLED and X is not None and is_numpy(objective.xp)
            and batch_size is not None and 1 <= batch_size <= largest
            and batch_size < objective.n_samples
            and type(objective.loss_function) in _LOSSES
            and (metric is None or metric.name is None)):
        return None
    rule = _rule_code(solver, momentum, nesterov)
    if rule is None or X.dtype not in (np.float32, np.float64):
        return None
    if sp.issparse(X):
        if X.format != "csr":
            return None
        data = X.data
        index_dtype = np.promote_types(X.indices.dtype, X.indptr.dtype)
        indices = X.indices.astype(index_dtype, copy=False)
        indptr = X.indptr.astype(index_dtype, copy=False)
    else:
        # Rows in C order, as scikit-learn's SGD takes them (a copy for Fortran order).
        data = np.ascontiguousarray(X).reshape(-1)
        indices = indptr = np.empty(0, dtype=np.int32)
    n_samples = objective.n_samples
    y = np.ascontiguousarray(objective.y, dtype=np.float64).reshape(n_samples, -1)
    sample_weight = (None if objective.sample_weight is None
                     else np.ascontiguousarray(objective.sample_weight, dtype=np.float64))
    # The mini-batches' weights relative to their mean, as LinearObjective takes them.
    weight_scale = objective.n_samples / objective.total_weight
    l1 = 0.0 if penalty is None else float(penalty.strength)
    l2 = objective.l2_reg_strength
    settings = dict(n_features=objective.n_features, y=y, sample_weight=sample_weight,
                    weight_scale=weight_scale, batch_size=batch_size,
                    loss=_LOSSES[type(objective.loss_function)], n_outputs=objective.n_outputs,
                    fit_intercept=objective.fit_intercept)
    no_rows = np.empty(0, dtype=np.int64)
    no_rates = np.empty(0, dtype=np.float64)
    empty = np.empty(0, dtype=X.dtype)

    def run_epoch(params, rule_state, learning_rate, order):
        if not average:
            return run_rule(params, rule_state, learning_rate, order, None)
        averages = np.array(rule_state.average, dtype=X.dtype, copy=True)
        params, inner, objective, n_updates, n_averaged = run_rule(
            params, rule_state.inner, learning_rate, order,
            (averages, rule_state.n_updates, rule_state.n_averaged))
        return params, AveragedState(inner, averages, n_updates, n_averaged), objective

    def run_rule(params, rule_state, learning_rate, order, averaging):
        # The engine's arrays are values, never changed in place.
        params = np.array(params, dtype=X.dtype, copy=True)
        order = no_rows if order is None else np.asarray(order, dtype=np.int64)
        averages, n_updates, n_averaged = (empty, 0, 0) if averaging is None else averaging
        rates = np.asarray(learning_rate, dtype=np.float64).reshape(-1)
        largest_rate = float(rates.max())
        rates = rates if rates.size > 1 else no_rates
        if rule == _PLAIN and sp.issparse(X) and l1 == 0 and largest_rate * l2 < 1:
            objective, n_updates, n_averaged = _sgd_fast.plain_sparse_epoch(
                params, data, indices, indptr, order=order, rate=largest_rate, l2=l2,
                average=averages, n_updates=n_updates, average_start=average,
                n_averaged=n_averaged, rates=rates, **settings)
            if averaging is None:
                return params, None, objective
            return params, None, objective, n_updates, n_averaged
        first = second = empty
        theta, count = 1.0, 0
        if rule in (_MOMENTUM, _NESTEROV):
            first = np.array(rule_state.velocity, dtype=X.dtype, copy=True)
            # The kernel's theta is the momentum's last rate (see _updates.gd).
            theta = rule_state.rate
        elif rule == _ACCELERATED:
            first = np.array(rule_state.query, dtype=X.dtype, copy=True)
            theta = rule_state.theta
        elif rule == _ADAM:
            first = np.array(rule_state.mean, dtype=X.dtype, copy=True)
            second = np.array(rule_state.second_moment, dtype=X.dtype, copy=True)
            count = rule_state.n_steps
        objective, theta, count, n_updates, n_averaged = _sgd_fast.epoch(
            params, first, second, data, indices, indptr, sparse=sp.issparse(X),
            order=order, rule=rule, rate=largest_rate,
            # The kernel's momentum is the accelerated rule's bound on its own.
            momentum=max_momentum if rule == _ACCELERATED else momentum, theta=theta,
            count=count, beta1=BETA1, beta2=BETA2, epsilon=EPSILON, l2=l2, l1=l1,
            average=averages, n_updates=n_updates, average_start=average,
            n_averaged=n_averaged, rates=rates, **settings)
        if rule in (_MOMENTUM, _NESTEROV):
            inner = MomentumState(first, theta)
        elif rule == _ACCELERATED:
            inner = AcceleratedState(first, theta)
        elif rule == _ADAM:
            inner = AdamState(first, second, count)
        else:
            inner = None
        if averaging is None:
            return params, inner, objective
        return params, inner, objective, n_updates, n_averaged

    return run_epoch
