"""Data-parallel fits and lazy predictions on dask arrays.

:func:`fit` is what ``GDRegressor.fit`` and ``GDClassifier.fit`` run when X is a dask
array. The data stay on the workers of the active dask scheduler (a ``distributed``
cluster, or dask's local threads): they are persisted once, and each epoch is ONE graph
execution, in which every row chunk evaluates the NumPy
:class:`~skgd.losses.LinearObjective` on itself (forward product, per-sample loss and
gradient in one task) and a tree of small tasks sums the chunks' ``n_params + 2`` numbers
(total weight, loss, gradient). The parameters, the update rule, the decay and the L1
proximal step stay on the client, in the same :func:`skgd._engine.minimize` as the NumPy
fit, so both reach the same coefficients up to the order of the sums.

Set-up executions, before the first epoch: one ``persist`` of X, y and the weights; one
pass of checks (finite values, weights, the classes and their counts); one ``persist`` of
the derived arrays when there are any (encoded classes, class weights, the early-stopping
split); one pass for the curvature of ``learning_rate="auto"`` and the preconditioner (the
Gram matrix, its diagonal, or one per power iteration for wide X, see
:mod:`skgd._curvature`); and, for a regressor with early stopping, one pass
for the R^2 denominator of the held-out rows. Early stopping scores the held-out rows in a
second execution per epoch, as the score is taken at the updated parameters, which the
next epoch's gradient does not visit. A fit that ends without converging (``max_iter``,
``tol=None``) checks the point its last step reached in one more execution.

On a ``distributed`` cluster every execution waits for workers at most dask's connect
timeout: a cluster without workers, at the start or after ``cluster.scale(0)`` in the
middle of a fit, raises a clear error instead of waiting forever.

This module imports dask; ``skgd`` imports it only when it meets a dask array.
"""

from __future__ import annotations

import functools
import math
import time

import dask
import dask.array as da
import dask.utils
import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, _check_n_features, check_is_fitted

from . import _curvature
from ._callbacks import _CallbackReport
from ._validation import (
    _balanced_class_weight,
    _check_class_weight,
    _check_weight_sum,
    _check_weighted_classes,
    _mixed_labels,
)
from .losses import LinearObjective, SquaredError, _null_point

# Partial sums combined per task of the reduction tree: its depth is log_8(chunks).
_FAN_IN = 8

_MINI_BATCH_ERROR = (
    "batch_size={batch_size} asks for mini-batches, which skgd does not run on dask "
    "arrays: each mini-batch would be a round trip to the cluster for a few rows. Use "
    "batch_size=None for data-parallel full-batch descent on the cluster, or "
    "dask_ml.wrappers.Incremental(estimator) to stream the chunks through partial_fit "
    "(mini-batches within each NumPy chunk)."
)


# -- tasks run on the workers, one per chunk ----------------------------------------------
def _chunk_loss_gradient(loss, X, y, sample_weight, w, fit_intercept):
    """``[sum_i s_i, sum_i s_i loss_i, sum_i s_i dloss_i/dw]`` over one chunk, as float64.

    The NumPy objective normalises by the chunk's total weight; multiplying it back gives
    the chunk's share of the sums, which add up across chunks. The total weight comes
    along, so the client normalises without a pass of its own.
    """
    total = _weight_sum(X, sample_weight)
    if total == 0:
        return np.zeros(w.size + 2)
    value, grad = LinearObjective(loss, X, y, sample_weight,
                                  fit_intercept=fit_intercept).loss_gradient(w)
    return np.concatenate([[1.0, value], grad]) * total


def _chunk_gram(X, sample_weight, fit_intercept):
    """``[sum_i s_i, X1^T D X1]`` over one chunk, flat (X1: X with a column of ones for
    the intercept)."""
    n_features = X.shape[1]
    n_cols = n_features + (1 if fit_intercept else 0)
    total = _weight_sum(X, sample_weight)
    gram = np.zeros((n_cols, n_cols))
    weighted = X if sample_weight is None else X * sample_weight[:, None]
    gram[:n_features, :n_features] = weighted.T @ X
    if fit_intercept:
        column_sums = weighted.sum(axis=0)
        gram[:n_features, -1] = column_sums
        gram[-1, :n_features] = column_sums
        gram[-1, -1] = total
    return np.concatenate([[total], gram.ravel()])


def _chunk_gram_product(X, sample_weight, basis, fit_intercept):
    """``[sum_i s_i, X1^T D X1 @ basis]`` over one chunk, flat, for the power iteration."""
    n_features = X.shape[1]
    projected = X @ basis[:n_features]
    if fit_intercept:
        projected += basis[-1]
    if sample_weight is not None:
        projected *= sample_weight[:, None]
    image = np.zeros(basis.shape)
    image[:n_features] = X.T @ projected
    if fit_intercept:
        image[-1] = projected.sum(axis=0)
    return np.concatenate([[_weight_sum(X, sample_weight)], image.ravel()])


def _chunk_local_hessian(X, sample_weight, loss, y, w, fit_intercept):
    """``[sum_i s_i, the data term's Hessian summed over the chunk]``, flat."""
    total = _weight_sum(X, sample_weight)
    if total == 0:
        # No objective of its own (it divides by the chunk's weight): no share.
        return np.zeros(1 + w.size * w.size)
    objective = LinearObjective(loss, X, y, sample_weight, fit_intercept=fit_intercept)
    return np.concatenate([[total], objective.local_hessian(w).ravel() * total])


def _chunk_hessian_blocks(X, sample_weight, loss, y, w, fit_intercept, diagonal):
    """``[sum_i s_i, the Hessian's diagonal blocks]`` summed over one chunk (their
    diagonals where ``diagonal``), flat."""
    total = _weight_sum(X, sample_weight)
    if total == 0:
        # As _chunk_local_hessian: no objective, no share (w is every block's).
        n_cols = X.shape[1] + (1 if fit_intercept else 0)
        return np.zeros(1 + (w.size if diagonal else w.size * n_cols))
    objective = LinearObjective(loss, X, y, sample_weight, fit_intercept=fit_intercept)
    blocks = (objective.hessian_block_diagonals(w) if diagonal
              else objective.hessian_blocks(w))
    return np.concatenate([[total], blocks.ravel() * total])


def _chunk_target_moments(y, sample_weight):
    """``[sum_i s_i, sum_i s_i y_i, sum_i s_i y_i^2]`` (a sum per target) over one
    chunk, in float64."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight,
                                                                      dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.concatenate([[weight.sum()], weight @ y, weight @ (y * y)])


def _chunk_weight(X, sample_weight, fit_intercept):
    """``[sum_i s_i]`` over one chunk."""
    return np.array([_weight_sum(X, sample_weight)])


def _chunk_gram_diagonal(X, sample_weight, fit_intercept):
    """``[sum_i s_i, diag(X1^T D X1)]`` over one chunk."""
    total = _weight_sum(X, sample_weight)
    squares = X * X if sample_weight is None else X * X * sample_weight[:, None]
    diagonal = squares.sum(axis=0, dtype=np.float64)
    return np.concatenate([[total], diagonal, [total] if fit_intercept else []])


def _chunk_squared_residuals(layout, X, y, sample_weight, w):
    """Per output, ``sum_i s_i (y_i - raw_i)^2`` over one chunk (R^2 numerator)."""
    residual = (y - layout.raw_prediction(w, X)).reshape(X.shape[0], -1)
    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return weight @ residual**2


def _chunk_moments(y, sample_weight):
    """``(total weight, weighted mean, weighted sum of squared deviations)`` of a chunk."""
    y = y.reshape(y.shape[0], -1)
    weight = np.ones(y.shape[0]) if sample_weight is None else sample_weight
    total = float(np.sum(weight, dtype=np.float64))
    mean = weight @ y / total if total > 0 else np.zeros(y.shape[1])
    return total, mean, weight @ (y - mean) ** 2


def _chunk_correct(layout, raw_to_index, X, y, sample_weight, w):
    """``[sum_i s_i [predicted class == y_i], sum_i s_i]`` over one chunk (accuracy)."""
    correct = raw_to_index(layout.raw_prediction(w, X)) == y.astype(np.intp)
    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return np.array([weight @ correct, _weight_sum(X, sample_weight)])


def _weight_sum(X, sample_weight):
    if sample_weight is None:
        return float(X.shape[0])
    return float(np.sum(sample_weight, dtype=np.float64))


def _positive_total(total):
    """The summed sample weight, which the set-up checks before class weights apply: a
    dict of class weights can still zero it."""
    if not total > 0:
        raise ValueError("sample_weight (times class_weight) sums to zero: at least one "
                         "sample needs a positive weight.")
    return total


def _add(*parts):
    return functools.reduce(np.add, parts)


def _tree_sum(parts):
    """One delayed sum of delayed ``parts``, as a tree of ``_FAN_IN``-way additions."""
    while len(parts) > 1:
        parts = [dask.delayed(_add, pure=True)(*parts[start:start + _FAN_IN])
                 for start in range(0, len(parts), _FAN_IN)]
    return parts[0]


def _blocks(array):
    """Delayed row chunks of a row-chunked dask array, or Nones for a missing one."""
    return list(array.to_delayed().ravel())


# -- the objective ------------------------------------------------------------------------
class DaskLinearObjective:
    """:class:`~skgd.losses.LinearObjective` on row-chunked dask arrays.

    The same objective ``F``, with the same flat parameter vector, methods and attributes
    as the engine and the estimators use them. ``loss_gradient`` runs one graph: a fused
    NumPy ``LinearObjective.loss_gradient`` per chunk, whose un-normalised results a tree
    of tasks sums; only ``n_params + 2`` numbers reach the client.

    Parameters
    ----------
    loss : SquaredError, BinaryCrossEntropy or CategoricalCrossEntropy
    X : dask array of shape (n_samples, n_features)
        Row-chunked, one chunk across the columns, known chunk sizes; best persisted.
    y : dask array of shape (n_samples,) or (n_samples, n_targets)
        Encoded targets, chunked as the rows of X.
    sample_weight : dask array of shape (n_samples,), default=None
        Chunked as the rows of X.
    alpha, l1_ratio, fit_intercept :
        As in :class:`~skgd.losses.LinearObjective`.
    """

    def __init__(self, loss, X, y, sample_weight=None, alpha=0.0, l1_ratio=0.0,
                 fit_intercept=True):
        self.loss_function = loss
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.fit_intercept = fit_intercept
        self.n_samples, self.n_features = X.shape
        # The layout of the flat vector, the L2 strength and the L1 penalty are the NumPy
        # objective's: build one on no rows and use it on the client.
        self._layout = LinearObjective(loss, np.empty((0, self.n_features), X.dtype),
                                       np.empty(0), alpha=alpha, l1_ratio=l1_ratio,
                                       fit_intercept=fit_intercept)
        self.n_outputs = self._layout.n_outputs
        self.n_coef = self._layout.n_coef
        self.n_params = self._layout.n_params
        self.l2_reg_strength = self._layout.l2_reg_strength
        # The parameters live on the client, in NumPy.
        self.xp, self.device = self._layout.xp, self._layout.device
        self._chunks = list(zip(_blocks(X), _blocks(y),
                                [None] * X.numblocks[0] if sample_weight is None
                                else _blocks(sample_weight), strict=True))

    def unpack(self, w):
        """Split a flat vector into ``(coef, intercept)``, as ``LinearObjective.unpack``."""
        return self._layout.unpack(w)

    def init_params(self):
        """The zero vector in X's dtype."""
        return self._layout.init_params()

    def null_params(self):
        """Least squares' null model where far from the start, as
        ``LinearObjective.null_params``: the targets' weighted sums from one execution."""
        if not (self.fit_intercept and isinstance(self.loss_function, SquaredError)):
            return None
        parts = [dask.delayed(_chunk_target_moments, pure=True)(y, weight)
                 for _, y, weight in self._chunks]
        (sums,) = _compute(_tree_sum(parts))
        total, mean = sums[0], sums[1:1 + self.n_outputs] / sums[0]
        variance = sums[1 + self.n_outputs:] / total - mean ** 2
        return _null_point(self._layout, mean, variance)

    def l1_penalty(self):
        """The L1 term, applied on the client by its proximal step (or None)."""
        return self._layout.l1_penalty()

    def raw_prediction(self, w, X=None):
        """``X @ coef.T + intercept``, a lazy dask array (X defaults to the data)."""
        X = self.X if X is None else X
        raw_shape = () if self.loss_function.raw_ndim == 1 else (self.n_outputs,)
        return X.map_blocks(lambda block: self._layout.raw_prediction(w, block),
                            chunks=(X.chunks[0], *((size,) for size in raw_shape)),
                            drop_axis=[] if raw_shape else [1], dtype=X.dtype)

    def loss_gradient(self, w, rows=None):
        """Return ``(F(w), dF/dw)`` from one graph execution on the cluster.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        rows : None
            Mini-batches are not run on dask arrays; anything but None raises.
        """
        if rows is not None:
            raise ValueError(_MINI_BATCH_ERROR.format(batch_size="<mini-batch>"))
        (sums,) = _compute(self._loss_gradient_graph(w))
        return self._loss_gradient_from(sums, w)

    def _loss_gradient_graph(self, w):
        """The delayed sums ``(weight, loss, gradient)`` :meth:`loss_gradient` computes, to
        compute them with other graphs in one execution."""
        return _tree_sum([dask.delayed(_chunk_loss_gradient, pure=True)(
                              self.loss_function, X, y, weight, w, self.fit_intercept)
                          for X, y, weight in self._chunks])

    def _loss_gradient_from(self, sums, w):
        scale = 1.0 / _positive_total(sums[0])
        loss = float(sums[1]) * scale
        grad = (sums[2:] * scale).astype(w.dtype)
        if self.l2_reg_strength:
            flat_coef = w[: self.n_coef]
            loss += 0.5 * self.l2_reg_strength * float(flat_coef @ flat_coef)
            grad[: self.n_coef] += self.l2_reg_strength * flat_coef
        return loss, grad

    # The objective is on the client already: nothing to leave on a device.
    loss_gradient_array = loss_gradient

    # -- curvature: one execution each, summed over chunks (see skgd._curvature) -------
    def lipschitz(self, batch_size=None):
        """The Lipschitz constant of the gradient, as ``LinearObjective.lipschitz``."""
        if batch_size is not None and batch_size < self.n_samples:
            raise ValueError(_MINI_BATCH_ERROR.format(batch_size=batch_size))
        return _curvature.lipschitz(self)

    def _sum_chunks(self, function, *args):
        """``(total weight, summed flat result)`` of ``function(X, weight, *args,
        fit_intercept)`` over the chunks, from one execution."""
        parts = [dask.delayed(function, pure=True)(X, weight, *args, self.fit_intercept)
                 for X, _, weight in self._chunks]
        (sums,) = _compute(_tree_sum(parts))
        return _positive_total(sums[0]), sums[1:]

    def gram(self):
        """``X1^T D X1 / S`` on the client: each chunk builds its share, a tree sums."""
        total, flat = self._sum_chunks(_chunk_gram)
        n_cols = self.n_features + self.fit_intercept
        return flat.reshape(n_cols, n_cols) / total

    def gram_product(self, basis):
        """``X1^T D X1 / S @ basis`` for a client basis."""
        total, flat = self._sum_chunks(_chunk_gram_product, basis)
        return flat.reshape(basis.shape) / total

    def local_hessian(self, w, l2=True):
        """The Hessian of ``F`` at ``w``, as ``LinearObjective.local_hessian``: each chunk
        sums its share, a tree adds them."""
        parts = [dask.delayed(_chunk_local_hessian, pure=True)(
                    X, weight, self.loss_function, y, w, self.fit_intercept)
                 for X, y, weight in self._chunks]
        (sums,) = _compute(_tree_sum(parts))
        hessian = sums[1:].reshape(w.size, w.size) / _positive_total(sums[0])
        if l2:
            hessian[: self.n_coef, : self.n_coef] += (self.l2_reg_strength
                                                      * np.eye(self.n_coef))
        return hessian

    def hessian_blocks(self, w):
        """The Hessian's diagonal blocks, as ``LinearObjective.hessian_blocks``."""
        n_cols = self.n_features + self.fit_intercept
        return self._hessian_blocks(w, diagonal=False).reshape(self.n_outputs, n_cols,
                                                                n_cols)

    def hessian_block_diagonals(self, w):
        """Their diagonals, as ``LinearObjective.hessian_block_diagonals``."""
        return self._hessian_blocks(w, diagonal=True).reshape(self.n_outputs, -1)

    def _hessian_blocks(self, w, diagonal):
        parts = [dask.delayed(_chunk_hessian_blocks, pure=True)(
                    X, weight, self.loss_function, y, w, self.fit_intercept, diagonal)
                 for X, y, weight in self._chunks]
        (sums,) = dask.compute(_tree_sum(parts))
        return sums[1:] / _positive_total(sums[0])

    @property
    def total_weight(self):
        """``S``, computed once, when the refit schedule asks for it."""
        if not hasattr(self, "_total_weight"):
            self._total_weight = _positive_total(self._sum_chunks(_chunk_weight)[0])
        return self._total_weight

    def gram_diagonal(self):
        """The diagonal of :meth:`gram`, without the matrix."""
        total, flat = self._sum_chunks(_chunk_gram_diagonal)
        return flat / total


# -- fitting ------------------------------------------------------------------------------
def fit(estimator, X, y, sample_weight, *, partial, classes, validation_data, context):
    """Fit ``estimator`` on dask arrays, as ``_BaseGD._fit_unsafe`` does on NumPy ones.

    ``classes`` is accepted for the signature's sake: ``partial_fit`` raises here.
    """
    if partial:
        raise ValueError(
            "partial_fit does not take dask arrays: it runs one epoch on the data it is "
            "given. Use dask_ml.wrappers.Incremental(estimator).fit(X, y) (with "
            "classes= for a classifier) to stream the chunks through partial_fit, or fit "
            "for a data-parallel full-batch fit on the cluster.")
    if estimator.batch_size is not None and estimator.batch_size < X.shape[0]:
        raise ValueError(_MINI_BATCH_ERROR.format(batch_size=estimator.batch_size))
    if validation_data is not None or (estimator.early_stopping
                                       and estimator.scoring is not None):
        raise ValueError(
            "On dask arrays early stopping holds out validation_fraction of X and scores "
            "it on the cluster with the estimator's score: X_val, y_val and scoring are "
            "not supported there. Leave them out, or fit in memory.")
    _check_workers()
    X = _check_X(X)
    _check_n_features(estimator, X, reset=True)
    _check_feature_names(estimator, X, reset=True)
    y = _rows_like(X, y, "y")
    if not estimator._regression and y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel().rechunk((X.chunks[0],))
    if not estimator._regression and y.ndim != 1:
        raise ValueError(f"y has shape {y.shape}; GDClassifier takes 1-D class labels.")
    if sample_weight is not None:
        # float64 until _encode scales them (see _unit_scale): weights of 1e300 or 1e-50
        # are fine in float32 X's dtype once scaled, not before.
        sample_weight = _rows_like(X, sample_weight, "sample_weight").astype(np.float64)
        if sample_weight.ndim != 1:
            raise ValueError(f"sample_weight has shape {sample_weight.shape}; pass one "
                             "weight per sample, of shape (n_samples,).")
    X, y, sample_weight = dask.persist(X, y, sample_weight)
    callbacks = _CallbackReport(estimator, context, X, y, sample_weight)
    callbacks.begin_fit()

    rng = check_random_state(estimator.random_state)
    # As the NumPy fit, X's columns far off zero are centred (and least squares' targets),
    # except where a score or callback reads the model each epoch, and for the running
    # average and Adam (see _BaseGD._fit_unsafe): a metric blind to such a column's spread
    # stopped the fit as converged with its coefficient 0.
    centre = estimator.fit_intercept and not (
        estimator.early_stopping or callbacks.active or estimator.average
        or estimator.solver == "adam")
    loss, y, sample_weight, stratify, screen = _encode(estimator, X, y, sample_weight,
                                                       centre)
    offsets = None
    if screen is not None:
        X, y, offsets = _centred_far_off(X, y, *screen)
        if offsets is not None and estimator.warm_start:
            estimator._centre_warm_start(offsets, X.shape[1])
    held_out = None
    if estimator.early_stopping:
        X, y, sample_weight, held_out = _validation_split(estimator, X, y, sample_weight,
                                                          rng, stratify)
    if held_out is not None or not estimator._regression:
        X, y, sample_weight, held_out = dask.persist(X, y, sample_weight, held_out)
    alpha, l1_ratio = estimator._penalty()
    objective = DaskLinearObjective(loss, X, y, sample_weight, alpha=alpha,
                                    l1_ratio=l1_ratio, fit_intercept=estimator.fit_intercept)
    validation = None if held_out is None else _validation_score(estimator, objective,
                                                                 *held_out)
    estimator._descend(objective, validation, rng, callbacks, partial=False, resume=False)
    if offsets is not None:
        estimator._uncentre(*offsets)


def _centred_far_off(X, y, sample, targets):
    """:func:`skgd._curvature.centred_far_off` on the cluster: X's columns far off zero
    (screened on ``sample``, evenly spaced rows, then confirmed on all in one execution)
    and least squares' targets (``targets``: their means and second moments, or None)
    centred lazily, each task subtracting the offsets from its chunk."""
    dtype = X.dtype
    candidates = np.flatnonzero(_curvature._far(*_curvature._moments(sample), dtype))
    moments = (np.zeros(0), np.zeros(0))
    if candidates.size:
        block = X[:, candidates]
        sums, squares = _compute(block.sum(axis=0, dtype=np.float64),
                                 (block * block).sum(axis=0, dtype=np.float64))
        moments = (sums / X.shape[0], squares / X.shape[0])
    offsets = _curvature.far_offsets(X.shape[1], candidates, moments, targets,
                                     None if targets is None else y.shape[1:], dtype)
    if offsets is None:
        return X, y, None
    x_offset, y_offset = offsets
    if x_offset.any():
        X = X - x_offset.astype(dtype)
    if targets is not None and np.any(y_offset):
        y = y - y_offset.astype(y.dtype)
    return X, y, offsets


def _client():
    """The active ``distributed`` Client, or None under another scheduler."""
    # A distributed scheduler is a Client's bound method; distributed is imported then.
    client = getattr(dask.base.get_scheduler(), "__self__", None)
    return client if type(client).__module__.split(".")[0] == "distributed" else None


def _connect_timeout():
    """dask's ``distributed.comm.timeouts.connect`` setting: its text and seconds."""
    timeout = dask.config.get("distributed.comm.timeouts.connect")
    return timeout, dask.utils.parse_timedelta(timeout)


def _check_workers():
    """Raise when the active scheduler is a ``distributed`` cluster without workers.

    Its tasks would wait forever for one; this waits as long as dask's
    ``distributed.comm.timeouts.connect`` setting (30 s by default) for a worker to join.
    """
    client = _client()
    if client is None or client.scheduler_info(n_workers=-1)["workers"]:
        return
    timeout, seconds = _connect_timeout()
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError:
        raise ValueError(
            f"The dask cluster of {client} has no workers, and none joined within "
            f"{timeout} (dask setting distributed.comm.timeouts.connect): the fit would "
            "wait for one forever. Start workers, or fit under another scheduler.") from None


def _compute(*collections):
    """``dask.compute(*collections)``, which on a ``distributed`` cluster that loses
    every worker mid-fit (``cluster.scale(0)``) would wait forever: there, the wait is
    cut into slices, and once the cluster has had no worker for the connect timeout
    (see :func:`_check_workers`) the computation is cancelled with a clear error. A
    long computation on workers that stay waits as long as it takes."""
    client = _client()
    if client is None:
        return dask.compute(*collections)
    from distributed import wait

    # One future for all: dask.compute's values, nested lists of collections included.
    futures = [client.compute(dask.delayed(tuple, pure=True)(list(collections)))]
    timeout, seconds = _connect_timeout()
    since = None
    while True:
        try:
            wait(futures, timeout=min(1.0, seconds))
        except TimeoutError:
            pass
        else:
            return client.gather(futures[0])
        if client.scheduler_info(n_workers=-1)["workers"]:
            since = None
            continue
        since = time.monotonic() if since is None else since
        if time.monotonic() - since >= seconds:
            client.cancel(futures)
            raise ValueError(
                f"The dask cluster of {client} lost its workers during the fit, and none "
                f"joined within {timeout} (dask setting "
                "distributed.comm.timeouts.connect): the fit would wait for one forever. "
                "Keep workers running (e.g. do not scale the cluster to 0 during a fit), "
                "or fit under another scheduler.")


def _check_X(X):
    """X as a float32/float64 dask array chunked by rows only, with known chunk sizes."""
    if not isinstance(X, da.Array):
        raise TypeError(
            f"skgd fits dask arrays, not {type(X).__name__}; convert a dask DataFrame "
            "with X.to_dask_array(lengths=True).")
    if X.ndim != 2:
        raise ValueError(f"X has shape {X.shape}; pass a 2-D array (n_samples, "
                         "n_features).")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError("X has chunks of unknown size; call X.compute_chunk_sizes() "
                         "first.")
    if X.shape[0] == 0:
        raise ValueError("X has 0 samples; at least one is required.")
    if sp.issparse(getattr(X, "_meta", None)):
        raise TypeError(
            f"X is a dask array of SciPy sparse chunks ({type(X._meta).__name__}): skgd "
            "fits dense dask arrays. Densify the chunks, e.g. X.map_blocks(lambda block: "
            "block.toarray()), or fit the sparse matrix in memory.")
    # As validate_data refuses them on NumPy arrays.
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: X is a dask array of "
                         f"{X.dtype}. Pass its real part, or split it into columns.")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a "
                         "minimum of 1 is required.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    # Each task needs whole rows.
    return X.rechunk({1: -1}) if X.numblocks[1] > 1 else X


def _rows_like(X, values, name):
    """``values`` (dask or array-like) as a dask array chunked as the rows of X."""
    if not isinstance(values, da.Array):
        values = np.asarray(values)
        values = da.from_array(values, chunks=(X.chunks[0], *values.shape[1:]))
    if any(np.isnan(size) for size in values.chunks[0]):
        raise ValueError(f"{name} has chunks of unknown size; call "
                         f"{name}.compute_chunk_sizes() first.")
    if values.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but {name} has {values.shape[0]}.")
    return values.rechunk({0: X.chunks[0], **{axis: -1 for axis in range(1, values.ndim)}})


def _encode(estimator, X, y, sample_weight, centre=False):
    """Check the data in one execution and encode the targets, as ``_encode_targets``.

    Returns the loss, the encoded y, the weights (times the class weights), for a
    stratified early-stopping split the labels on the client (else None), and with
    ``centre`` what :func:`_centred_far_off` screens: evenly spaced rows of X and least
    squares' targets' means and second moments (else None).
    """
    classify = not estimator._regression
    checks = {"X is finite": da.isfinite(X).all()}
    if not classify:
        y = y.astype(X.dtype)
    if y.dtype.kind == "f":
        checks["y is finite"] = da.isfinite(y).all()
    if sample_weight is not None:
        checks["sample_weight is finite"] = da.isfinite(sample_weight).all()
        checks["sample_weight is non-negative"] = (sample_weight >= 0).all()
    stats = {"checks": checks,
             "total": X.shape[0] if sample_weight is None
             else sample_weight.sum(dtype=np.float64),
             "largest": None if sample_weight is None else sample_weight.max()}
    if centre:
        n = X.shape[0]
        stats["sample"] = X[:: -(-n // _curvature.FAR_SCREEN_ROWS) if n else 1, :]
        if not classify:
            targets = y.reshape(n, -1)
            stats["targets"] = (targets.mean(axis=0, dtype=np.float64),
                                (targets * targets).mean(axis=0, dtype=np.float64))
    if classify:
        if sample_weight is not None:
            # Each class's weight: "balanced" counts it, as the NumPy fit does (see
            # _class_weights), and a fit needs two classes of positive weight. One
            # (labels, sums) pair a chunk, as an array of objects: delayed tasks on y's
            # chunks, computed with da.unique in one call, came back as y's chunks.
            stats["weighted"] = da.map_blocks(
                _weighted_counts, y, sample_weight, dtype=object,
                chunks=((1,) * y.numblocks[0],))
        stats["classes"] = da.unique(y, return_counts=True)
        if estimator.early_stopping:
            stats["labels"] = y
    try:
        (stats,) = _compute(stats)
    except TypeError as error:
        if not (classify and y.dtype == object):
            raise
        # As _check_labels names it: labels of several types do not sort.
        kinds = sorted(set(y.map_blocks(
            lambda block: np.array([type(v).__name__ for v in block], dtype=object),
            dtype=object).compute()))
        raise _mixed_labels(kinds) from error
    failed = [check for check, passed in stats["checks"].items() if not passed]
    if failed:
        raise ValueError(f"Check failed: {failed[0]}. Remove or replace the NaN, infinite "
                         "or negative values.")
    total = stats["total"]
    if sample_weight is not None:
        # As _unit_scale: a power of 2 that keeps the weights' ratios to the last bit.
        largest = float(stats["largest"])
        # (An exponent, not a factor: 2^1064 of weights of 1e-320 overflows a float.)
        exponent = 1 - math.frexp(largest)[1] if largest > 0 else 0
        total = math.ldexp(total, exponent)
        sample_weight = sample_weight.map_blocks(
            lambda block: np.ldexp(block, exponent).astype(X.dtype), dtype=X.dtype)
    _check_weight_sum(total)
    screen = (stats["sample"], stats.get("targets")) if centre else None
    if not classify:
        return (SquaredError(None if y.ndim == 1 else y.shape[1]), y, sample_weight, None,
                screen)

    classes, counts = stats["classes"]
    check_classification_targets(classes)
    if len(classes) < 2:
        raise ValueError(f"GDClassifier needs samples of at least 2 classes; got only one "
                         f"class, {np.asarray(classes).tolist()[0]!r}.")
    estimator.classes_ = classes
    loss = estimator._loss_for(len(classes))
    y_index = y.map_blocks(lambda labels: np.searchsorted(classes, labels), dtype=np.intp)
    counts = counts.astype(np.float64)
    if "weighted" in stats:
        counts = np.zeros(len(classes))
        for labels, sums in stats["weighted"]:
            np.add.at(counts, np.searchsorted(classes, labels), sums)
    per_class = None
    if estimator.class_weight is not None:
        if isinstance(estimator.class_weight, dict):
            per_class = _check_class_weight(
                compute_class_weight(estimator.class_weight, classes=classes, y=classes),
                classes, estimator.class_weight)
        else:
            # "balanced": the weights' sum / (n_classes * each class's), as
            # GDClassifier._class_weights (with no weights, the rows' counts).
            per_class = _balanced_class_weight(counts)
    _check_weighted_classes(classes, counts if per_class is None else counts * per_class,
                            estimator.class_weight)
    if per_class is not None:
        per_class = per_class.astype(X.dtype)
        class_weight = y_index.map_blocks(lambda index: per_class[index], dtype=X.dtype)
        sample_weight = (class_weight if sample_weight is None
                         else sample_weight * class_weight)
    if loss.raw_ndim == 1:
        y_index = y_index.astype(X.dtype)
    return loss, y_index, sample_weight, stats.get("labels"), screen


def _weighted_counts(labels, weights):
    """``(labels, the sum of the weights of each)`` of one chunk (a task), in an array
    of one object."""
    unique, index = np.unique(labels, return_inverse=True)
    pair = np.empty(1, dtype=object)
    pair[0] = (unique, np.bincount(index.ravel(), weights=np.asarray(weights, np.float64),
                                   minlength=len(unique)))
    return pair


def _validation_split(estimator, X, y, sample_weight, rng, stratify):
    """The NumPy fit's split of ``np.arange(n)``, applied in sorted order to the chunks.

    The same generator draws the same indices; sorting them keeps each held-out or
    training row in its chunk, and the order of rows does not change the objective.
    """
    train, val = train_test_split(np.arange(X.shape[0]),
                                  test_size=estimator.validation_fraction,
                                  random_state=rng, stratify=stratify)
    train, val = np.sort(train), np.sort(val)
    weights = (None, None) if sample_weight is None else (sample_weight[train],
                                                          sample_weight[val])
    return X[train], y[train], weights[0], (X[val], y[val], weights[1])


def _validation_score(estimator, objective, X, y, sample_weight):
    """``w -> score`` on the held-out rows (R^2 or accuracy), one execution per call,
    recording the held-out objective as the in-memory fit does, in the same execution."""
    alpha, l1_ratio = estimator._penalty()
    held_out = DaskLinearObjective(objective.loss_function, X, y, sample_weight, alpha=alpha,
                                   l1_ratio=l1_ratio, fit_intercept=estimator.fit_intercept)
    l1 = held_out.l1_penalty()

    def score_and_loss(parts, w):
        score_sums, loss_sums = _compute(_tree_sum(parts),
                                             held_out._loss_gradient_graph(w))
        value = held_out._loss_gradient_from(loss_sums, w)[0]
        return score_sums, value + (0.0 if l1 is None else float(l1.value(w)))

    chunks = list(zip(_blocks(X), _blocks(y),
                      [None] * X.numblocks[0] if sample_weight is None
                      else _blocks(sample_weight), strict=True))
    layout = objective._layout
    if not estimator._regression:
        def accuracy(w):
            parts = [dask.delayed(_chunk_correct, pure=True)(
                        layout, estimator._raw_to_index, X_val, y_val, weight, w)
                     for X_val, y_val, weight in chunks]
            (correct, total), loss = score_and_loss(parts, w)
            return correct / total, loss
        return estimator._scored(accuracy)

    # The R^2 denominator, sum_i s_i (y_i - weighted mean)^2, is fixed: computed once,
    # from per-chunk moments merged with the parallel-variance formula.
    (moments,) = _compute([dask.delayed(_chunk_moments, pure=True)(y_val, weight)
                               for _, y_val, weight in chunks])
    totals = np.array([total for total, _, _ in moments])
    means = np.array([mean for _, mean, _ in moments])
    mean = totals @ means / totals.sum()
    denominator = sum(squares + total * (chunk_mean - mean) ** 2
                      for total, chunk_mean, squares in moments)

    def r2(w):
        parts = [dask.delayed(_chunk_squared_residuals, pure=True)(
                    layout, X_val, y_val, weight, w)
                 for X_val, y_val, weight in chunks]
        numerator, loss = score_and_loss(parts, w)
        # As sklearn.metrics.r2_score: a constant target scores 1 if fitted exactly,
        # else 0; the outputs are averaged.
        scores = np.ones(numerator.shape)
        fitted = (denominator != 0) & (numerator != 0)
        scores[fitted] = 1 - numerator[fitted] / denominator[fitted]
        scores[(numerator != 0) & (denominator == 0)] = 0.0
        return float(scores.mean()), loss
    return estimator._scored(r2)


# -- prediction ---------------------------------------------------------------------------
def map_prediction(estimator, method, X):
    """``method(estimator, chunk)`` on each row chunk of X: a lazy dask array.

    The NumPy prediction runs unchanged on every chunk, so a chunk's result is exactly
    what the NumPy method gives on those rows.
    """
    check_is_fitted(estimator)
    X = _check_X(X)
    _check_n_features(estimator, X, reset=False)
    # The shape and dtype of one row's prediction tell the chunks of the result.
    sample = method(estimator, np.zeros((1, X.shape[1]), X.dtype))
    predict = functools.partial(method, estimator)
    if sample.ndim == 1:
        return X.map_blocks(predict, drop_axis=1, chunks=(X.chunks[0],),
                            dtype=sample.dtype, meta=sample[:0])
    return X.map_blocks(predict, chunks=(X.chunks[0], (sample.shape[1],)),
                        dtype=sample.dtype, meta=sample[:0])
