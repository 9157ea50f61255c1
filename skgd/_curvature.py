"""Curvature of the linear-model objectives, and the metrics the engine steps in.

For every loss here the Hessian of the smooth objective ``F`` is bounded, in the Loewner
order, by one matrix per output,

    B = c * X1^T D X1 / S + l2 * E,

where ``X1`` is X with a column of ones when there is an intercept, ``D`` holds the sample
weights, ``S`` their sum, ``c`` the loss's ``curvature`` (1 for the squared error, whose
Hessian this is exactly; 1/4 for the binary cross-entropy; 1/2 per class for the softmax,
Böhning's bound) and ``E`` the identity on the coefficients (the intercept is not
penalised). The flat parameter vector holds ``n_outputs`` such blocks.

A *metric* is the matrix ``M`` the update rules step in: ``x <- prox_M(x - lr M^-1 grad)``.
``M >= B`` makes ``lr = 1`` the majorisation step, which cannot make the objective rise;
the Euclidean metric needs ``lr = 1/L`` with ``L = lambda_max(B)`` instead. Three metrics
are registered by name in :data:`PRECONDITIONERS`:

- ``"full"``: ``M = B`` itself, from the Gram matrix (one pass of ``n * p^2`` BLAS-3
  work) and inverted once on the host. It undoes collinearity and column scale alike:
  least squares is solved in one step, logistic regression in tens.
- ``"diagonal"``: ``M = s * diag(B)`` with ``s = lambda_max(diag(B)^-1/2 B diag(B)^-1/2)``,
  the smallest multiple of the Jacobi metric that still majorises ``B``. It undoes column
  scale only, costs ``O(n p)`` memory traffic and no ``p x p`` matrix for wide X, and
  keeps the L1 prox an exact per-coordinate soft threshold.
- ``None``: the Euclidean metric, the textbook update.

Everything that reads X lives here too: the Gram matrix, its products for the power
iteration, its diagonal and the per-row norms that bound mini-batch gradients. The small
matrices go to the host (float64); the metric's own arrays go back to X's device.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import threading
from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse
import scipy.sparse as sp
import scipy.sparse.linalg

from . import _kernel
from ._array_api import column_sums as _column_sums
from ._array_api import get_namespace, is_numpy, to_numpy

# Below this many columns (with the intercept), the Gram matrix gives lambda_max exactly
# in one pass; wider X uses block power iteration, a pass per iteration.
GRAM_MAX_COLUMNS = 256
# "auto" factors the full bound up to this many columns: the Gram pass then costs at most
# a few dozen gradient passes and the host inversion well under a second, which the tens
# of epochs it saves on ill-conditioned data repay.
FULL_MAX_COLUMNS = 1024
# Rows of dense X per block of a pass: a few MiB, so that a block read for one product is
# still in cache for the next.
BLOCK_BYTES = 4 * 2**20


def row_blocks(X, *columns, width=None):
    """Yield ``(X block, column blocks...)`` over cache-sized row blocks of dense X.

    Sparse X, X smaller than one block and X off the NumPy namespace come whole: the
    blocks are for a CPU cache, and a GPU wants one large product. ``None`` columns stay
    None. ``width``: the columns of the widest array a block makes (X's by default).
    """
    n_samples = X.shape[0]
    if sp.issparse(X) or not is_numpy(get_namespace(X)[0]):
        yield (X, *columns)
        return
    width = X.shape[1] if width is None else width
    step = max(256, BLOCK_BYTES // max(1, width * X.dtype.itemsize))
    if step >= n_samples:
        yield (X, *columns)
        return
    with one_blas_thread():
        for start in range(0, n_samples, step):
            rows = slice(start, start + step)
            yield (X[rows], *(None if column is None else column[rows]
                              for column in columns))


def dense_row_blocks(X, *columns):
    """:func:`row_blocks` of sparse X, each made dense (``BLOCK_BYTES`` of it)."""
    step = max(256, BLOCK_BYTES // max(1, X.shape[1] * X.dtype.itemsize))
    X = X.tocsr()
    with one_blas_thread():
        for start in range(0, X.shape[0], step):
            rows = slice(start, start + step)
            yield (X[rows].toarray(), *(None if column is None else column[rows]
                                        for column in columns))


# A sparse Gram product costs about a pair of nonzeros of a row each (sum_i nnz_i^2),
# scattered, at 24 to 170 times the time of a multiply-add of a dense block's symmetric
# product (n p^2 / 2 of them), the most at the lowest density; they break even near a
# tenth. Sparse X of 5 000 x 400 took 330 ms sparse and 27 ms dense at half density, 24
# and 29 ms at a tenth, 10 and 22 ms at a twentieth; 20 000 x 1 000 at 5 % 173 and 488 ms.
_SPARSE_PAIR_COST = 40


def _dense_gram_pays(X):
    """Whether the Gram matrix of sparse X is summed over dense row blocks."""
    pairs = float(np.sum(np.diff(X.tocsr().indptr).astype(np.float64) ** 2))
    return _SPARSE_PAIR_COST * pairs > X.shape[0] * X.shape[1] ** 2 / 2


# Dense NumPy X of more than GRAM_MAX_COLUMNS columns with at most this share of
# nonzeros (one-hot columns from pandas.get_dummies or a dense OneHotEncoder) is fitted
# as CSR: its products then cost its nonzeros, and its metric is sparse X's (the sparse
# full metric of one-hot columns, the split metric of frequent ones). 10 000 rows of
# twenty one-hot categoricals (2 470 columns, 1 % nonzeros) with 5 classes: 33 s dense,
# 506 epochs of dense products in the diagonal metric; 1 000 rows (991 columns) 0.52 s.
SPARSE_MAX_DENSITY = 0.1


def with_ones_column(X):
    """``[X, 1]`` of sparse X as CSR of X's values in float64 (as ``sp.hstack`` with a
    float64 column of ones gives it), built from CSR X's arrays: each row gains its last
    entry. ``sp.hstack`` goes through COO: 3.5 ms on baseball's 14 165 x 951 tables of
    212 000 and 297 000 nonzeros, this 0.6 to 1.1 ms (a fit of them takes about 19)."""
    if not isinstance(X, sp.csr_matrix | sp.csr_array):
        return sp.csr_matrix(sp.hstack([X, np.ones((X.shape[0], 1))]))
    n_samples, n_features = X.shape
    indptr = X.indptr.astype(np.int64) + np.arange(n_samples + 1)
    ends = indptr[1:] - 1
    kept = np.ones(X.nnz + n_samples, dtype=bool)
    kept[ends] = False
    index_dtype = np.int32 if n_features < 2**31 - 1 else np.int64
    indices = np.empty(X.nnz + n_samples, dtype=index_dtype)
    indices[kept], indices[ends] = X.indices, n_features
    data = np.empty(X.nnz + n_samples, dtype=np.result_type(X.dtype, np.float64))
    data[kept], data[ends] = X.data, 1.0
    return sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features + 1))


# Columns of sparse X in at least this share of its rows (numeric columns beside one-hot
# ones, the intercept's) may have their share of the Gram matrix summed as dense
# products (see :func:`sparse_gram`), up to this many of them, the most frequent.
_FREQUENT_SHARE = 1 / 8
_FREQUENT_MAX = 256
# What an entry of the split's blocks costs (as :func:`_dense_columns` counts them), in
# pairs of nonzeros of the sparse product: 20 categoricals' one-hot columns (30 000 x
# 3 539; 1.85 M entries by that count, 20 M pairs) took 195 ms split and 75 ms as one
# product, about 28 pairs an entry. Baseball's table (41 pairs saved an entry as
# shipped, 71 standardised) gains from the split: its fit 19 ms against 25 and 30.
_ASSEMBLY_PAIRS = 30


def _dense_columns(X1, row_of):
    """The columns of CSR ``X1`` (``row_of``: each nonzero's row) whose blocks
    :func:`sparse_gram` sums as dense products: those in at least ``_FREQUENT_SHARE`` of
    the rows (up to ``_FREQUENT_MAX``, the most frequent), where the pairs of nonzeros
    this spares the sparse product pay for assembling the blocks (``_ASSEMBLY_PAIRS``),
    and where the dense block between them and the other columns holds no more numbers
    than X1 (wide X: its memory); else None."""
    n_rows, n_cols = X1.shape
    counts = np.bincount(X1.indices, minlength=n_cols)
    frequent = np.flatnonzero(counts >= _FREQUENT_SHARE * n_rows)
    if frequent.size > _FREQUENT_MAX:
        frequent = np.sort(frequent[np.argsort(counts[frequent])[-_FREQUENT_MAX:]])
    if not frequent.size or (n_cols - frequent.size) * frequent.size > X1.nnz:
        return None
    is_rare = np.ones(n_cols, dtype=bool)
    is_rare[frequent] = False
    row_counts = np.diff(X1.indptr)
    rare_pairs = np.bincount(row_of[is_rare[X1.indices]],
                             minlength=n_rows).astype(np.float64) ** 2
    saved = float(np.sum(row_counts.astype(np.float64) ** 2) - np.sum(rare_pairs))
    assembled = (2 * (n_cols - frequent.size) * frequent.size + frequent.size**2
                 + float(np.sum(rare_pairs)))
    return frequent if saved >= _ASSEMBLY_PAIRS * assembled else None


def sparse_gram(X1, sample_weight, total_weight):
    """``X1^T D X1 / S`` of CSR ``X1`` as a CSC matrix.

    Its columns that are in many rows (``_FREQUENT_SHARE``: a table's numeric columns
    beside its one-hot ones, the intercept's) meet in most rows, and a sparse product pays
    each meeting as a scattered pair: their block, and the block between them and the
    other columns, are summed as dense products a row block at a time; only the rare
    columns' block is a sparse product. Baseball's 14 165 x 952 table (one-hot players
    beside 20 numeric columns; one BLAS thread), standardised: 17 ms as one sparse
    product, this 7.5 ms. Where the pairs it saves do not pay for assembling the blocks
    (:func:`_dense_columns`: one-hot levels that are merely frequent, a categorical's
    few nonzeros a row), one sparse product.
    """
    n_rows, n_cols = X1.shape
    if not X1.has_canonical_format:  # each entry once: the blocks below are assigned
        X1 = X1.copy()
        X1.sum_duplicates()
    row_of = np.repeat(np.arange(n_rows), np.diff(X1.indptr))
    frequent = _dense_columns(X1, row_of)
    if frequent is None:
        weighted = X1 if sample_weight is None else sp.csr_matrix(
            X1.multiply(sample_weight[:, None]))
        return (weighted.T @ X1).tocsc() / total_weight
    rare = np.setdiff1d(np.arange(n_cols), frequent)
    # One pass over the nonzeros splits them (scipy's column indexing took 3 ms here):
    # the frequent ones' places in their dense block, the rare ones as CSR of theirs.
    position = np.empty(n_cols, dtype=np.int64)
    position[frequent] = np.arange(frequent.size)
    position[rare] = np.arange(rare.size)
    in_frequent = np.zeros(n_cols, dtype=bool)
    in_frequent[frequent] = True
    in_frequent = in_frequent[X1.indices]
    rare_entries = ~in_frequent
    rare_counts = np.bincount(row_of[rare_entries], minlength=n_rows)
    X_rare = sp.csr_matrix(
        (X1.data[rare_entries], position[X1.indices[rare_entries]],
         np.concatenate([[0], np.cumsum(rare_counts)])), shape=(n_rows, rare.size))
    dense = np.zeros((frequent.size, frequent.size))
    between = np.zeros((rare.size, frequent.size))
    step = max(256, BLOCK_BYTES // (8 * frequent.size))
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        entries = slice(X1.indptr[start], X1.indptr[stop])
        kept = in_frequent[entries]
        block = np.zeros((stop - start, frequent.size))
        # (Flat indices: NumPy's scatter by a pair of index arrays took 5x as long.)
        flat = (row_of[entries][kept] - start) * frequent.size
        flat += position[X1.indices[entries][kept]]
        block.ravel()[flat] = X1.data[entries][kept]
        weighted = (block if sample_weight is None
                    else block * sample_weight[start:stop, None])
        dense += weighted.T @ block
        between += np.asarray(X_rare[start:stop].T @ weighted)
    weighted_rare = X_rare if sample_weight is None else sp.csr_matrix(
        X_rare.multiply(sample_weight[:, None]))
    rare_block = (weighted_rare.T @ X_rare).tocoo()
    # The blocks back in X1's column order, the one between both ways round; entries
    # that are zero (columns that never meet) left out, as a sparse product leaves them.
    rows_between, columns_between = np.nonzero(between)
    rows_dense, columns_dense = np.nonzero(dense)
    rows = np.concatenate([rare[rare_block.row], rare[rows_between],
                           frequent[columns_between], frequent[rows_dense]])
    columns = np.concatenate([rare[rare_block.col], frequent[columns_between],
                              rare[rows_between], frequent[columns_dense]])
    values = between[rows_between, columns_between]
    data = np.concatenate([rare_block.data, values, values,
                           dense[rows_dense, columns_dense]])
    gram = sp.csc_matrix((data, (rows, columns)), shape=(n_cols, n_cols))
    return gram / total_weight


def sparse_where_it_pays(X):
    """X as CSR where it is dense NumPy, wide and mostly zeros (``SPARSE_MAX_DENSITY``),
    else X itself."""
    if (not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] <= GRAM_MAX_COLUMNS
            or np.count_nonzero(X) > SPARSE_MAX_DENSITY * X.size):
        return X
    # Row block by row block, in cache: 22 ms for 10 000 x 2 470 where scipy's
    # conversion of the whole array took 98.
    n_cols = X.shape[1]
    step = max(1, BLOCK_BYTES // (n_cols * X.itemsize))
    counts, indices, values = [], [], []
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        nonzero = block != 0
        counts.append(np.count_nonzero(nonzero, axis=1))
        flat = np.flatnonzero(nonzero)
        indices.append((flat % n_cols).astype(np.int32 if n_cols < 2**31 else np.int64))
        values.append(block.ravel()[flat])
    indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    return sp.csr_matrix((np.concatenate(values), np.concatenate(indices), indptr),
                         shape=X.shape)


# The share of CSR X's columns that must be empty before a fit leaves them out.
EMPTY_MIN_SHARE = 1 / 8


def without_empty_columns(X):
    """``(X', columns)``: CSR ``X`` without its empty columns (no stored entry), and the
    columns ``X'`` keeps; ``(X, None)`` where fewer than ``EMPTY_MIN_SHARE`` of them are
    empty, where ``"auto"`` would pick another metric for the columns kept than for X
    (see below), or X is not CSR.

    An empty column's coefficients have the gradient of the L2 term alone, 0 at 0, and
    the L1 prox keeps 0 at 0: from zero they stay exactly 0, and a fit of the rest is the
    same fit. Each step's vector work (L-BFGS's pairs, the metric, the optimality) is
    over the columns kept: 200 rows of 1 000 000 Zipf-drawn columns use 2 531 of them.
    ``X'`` shares X's values and row pointers; only the column indices are new.

    Only where more than ``FULL_MAX_COLUMNS`` columns are kept and, if X has at least
    twice as many columns as rows, so have the columns kept: "auto" picks the metric by
    the number of columns (see :func:`resolve`), and X's choice is kept, step for step.
    (Of 6 000 columns, 709 kept took the full metric: a weighted 400-row fit of 3
    classes 74 epochs and 298 ms where X's diagonal took 51 and 55 ms.)
    """
    if not (sp.issparse(X) and X.format == "csr"):
        return X, None
    used = np.zeros(X.shape[1], dtype=bool)
    used[X.indices] = True
    n_used = int(np.count_nonzero(used))
    twice_the_rows = 2 * X.shape[0]
    if (n_used <= FULL_MAX_COLUMNS or X.shape[1] - n_used < EMPTY_MIN_SHARE * X.shape[1]
            or (n_used < twice_the_rows <= X.shape[1])):
        return X, None
    position = np.cumsum(used, dtype=X.indices.dtype) - 1
    reduced = sp.csr_matrix((X.data, position[X.indices], X.indptr),
                            shape=(X.shape[0], n_used))
    reduced.has_sorted_indices = X.has_sorted_indices
    return reduced, np.flatnonzero(used)


# Rows of X a fit screens for columns far off zero before it reads them all (strided).
FAR_SCREEN_ROWS = 256


def _far(mean, second, dtype):
    """Where ``mean^2`` exceeds the spread ``second - mean^2`` ``eps^-1/4`` times (see
    :func:`column_centre`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        square = mean * mean
        return square > (second - square) * float(np.finfo(dtype).eps) ** -0.25


def _moments(X, columns=None):
    """Host float64 means and second moments of X's columns (``columns`` of them)."""
    n = max(X.shape[0], 1)
    if sp.issparse(X):
        X = X.tocsr()
        columns = np.arange(X.shape[1]) if columns is None else columns
        position = np.full(X.shape[1], -1)
        position[columns] = np.arange(len(columns))
        kept = position[X.indices]
        index, values = kept[kept >= 0], X.data[kept >= 0].astype(np.float64)
        with np.errstate(over="ignore"):
            return (np.bincount(index, values, minlength=len(columns)) / n,
                    np.bincount(index, values * values, minlength=len(columns)) / n)
    block = X if columns is None else X[:, columns]
    with np.errstate(over="ignore", invalid="ignore"):
        return (block.sum(axis=0, dtype=np.float64) / n,
                np.einsum("ij,ij->j", block, block, dtype=np.float64) / n)


def _host_dtype(X):
    xp = get_namespace(X)[0]
    return X.dtype if is_numpy(xp) else np.float32 if X.dtype == xp.float32 else np.float64


def far_candidates(X):
    """The columns of X that :func:`centred_far_off` screens as far off zero on
    ``FAR_SCREEN_ROWS`` evenly spaced rows (for sparse X, those with an entry in nine in
    ten of them)."""
    sample = X[:: -(-X.shape[0] // FAR_SCREEN_ROWS) if X.shape[0] else 1, :]
    if sp.issparse(sample):
        sample = sample.tocsr()
        counts = np.bincount(sample.indices, minlength=X.shape[1])
        return np.flatnonzero(counts >= 0.9 * sample.shape[0])
    return np.flatnonzero(_far(*_moments(to_numpy(sample)), _host_dtype(X)))


def _candidate_moments(X, candidates):
    """:func:`_moments` of X's ``candidates`` columns (taken to the host off NumPy)."""
    xp, device = get_namespace(X)
    if is_numpy(xp):
        return _moments(X, candidates)
    return _moments(to_numpy(xp.take(X, xp.asarray(candidates, device=device), axis=1)))


def far_columns(X):
    """The columns of X far off zero, as :func:`centred_far_off` finds them, among those
    with a spread (not a constant column, nor any column of one row)."""
    candidates = far_candidates(X)
    if not candidates.size:
        return candidates
    means, second = _candidate_moments(X, candidates)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = second - means * means > 0
    return candidates[_far(means, second, _host_dtype(X)) & spread]


def centred_far_off(X, y=None):
    """``(X', y', offsets)``: X with its columns far off zero centred, and least squares'
    targets ``y`` (host, of any float dtype) likewise where they are (``offsets =
    (x_offset, y_offset)``, host float64, zeros where nothing moved), or ``(X, y, None)``
    where nothing is far off.

    "Far off": a squared mean more than ``eps^-1/4`` times the spread (a column of 1e5 +-
    1 in float64). With an intercept the fit of the centred data is the same fit (the
    intercept takes ``y_offset - coef . x_offset``), and the only one whose metrics and
    optimality see the column's spread: beside the intercept such a column is nearly
    collinear with it, the metric's factorisation cut that direction out, and fits of
    sparse X (which :func:`column_centre` does not centre), of the diagonal metric or of
    the bound stopped as converged with its coefficient 0 (a column of 1e7 + N(0, 1):
    0.82 in Ridge), no warning; L1 fits of targets 1e8 off zero 1e-5 off Lasso's.

    Screened on ``FAR_SCREEN_ROWS`` evenly spaced rows, then confirmed on all. A sparse
    column that far off has an entry in all but a 1/8 000th of the rows: centring it adds
    next to nothing. Dense X with a far column is copied (Array API X on its device:
    the screen and the candidates' moments are taken on the host).
    """
    xp, device = get_namespace(X)
    n = X.shape[0]
    candidates = far_candidates(X)
    # Far for the fit's dtype (X's): float64 targets, centred before their cast to
    # float32, keep the digits the cast of the far-off values would round away.
    targets = _moments(y.reshape(n, -1)) if y is not None and y.size else None
    offsets = far_offsets(X.shape[1], candidates, _candidate_moments(X, candidates),
                          targets, None if y is None else y.shape[1:], _host_dtype(X))
    if offsets is None:
        return X, y, None
    x_offset, y_offset = offsets
    far = np.flatnonzero(x_offset)
    if far.size:
        if sp.issparse(X):
            rows = np.repeat(np.arange(n), far.size)
            shift = sp.csr_matrix((np.tile(-x_offset[far], n).astype(X.dtype),
                                   (rows, np.tile(far, n))), shape=X.shape)
            X = (X.tocsr() + shift).tocsr()
        else:
            offset = x_offset.astype(_host_dtype(X))
            X = X - (offset if is_numpy(xp) else xp.asarray(offset, device=device))
    if y is not None and np.any(y_offset):
        y = y - y_offset.astype(y.dtype)
    return X, y, offsets


def far_offsets(n_features, candidates, moments, targets, target_shape, dtype):
    """``(x_offset, y_offset)`` of :func:`centred_far_off` (host float64, zeros where
    nothing moves; ``y_offset`` 0.0 without targets) from the ``(means, second
    moments)`` of X's ``candidates`` columns and of the targets (``targets``, or None,
    of shape ``target_shape``), for ``dtype``; None where nothing is far off."""
    means, second = moments
    kept = _far(means, second, dtype)
    x_offset = np.zeros(n_features)
    x_offset[candidates[kept]] = means[kept]
    y_far = targets is not None and bool(np.any(_far(*targets, dtype)))
    if not kept.any() and not y_far:
        return None
    if target_shape is None:
        return x_offset, 0.0
    return x_offset, (targets[0].reshape(target_shape) if y_far
                      else np.zeros(target_shape))


_BLAS = None
# Whether this thread holds the limit already (a fit's passes inside the fit's own).
_HELD = threading.local()


def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded (NumPy's and SciPy's may
    be two), found once: finding them reads the process's loaded libraries (a few hundred
    microseconds)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = [library for library in ThreadpoolController().lib_controllers
                 if library.user_api == "blas"]
    return _BLAS


@contextlib.contextmanager
def one_blas_thread():
    """BLAS limited to one thread, for a pass through row blocks or a whole fit.

    A blocked pass makes several small products a block, a fit many passes, and a
    multithreaded BLAS synchronises its threads at each product: with another process on
    a core, each waits for the scheduler (with the test suite running beside it, a pass of
    200 000 x 100 took 5x its single-threaded time, a fit of the digits 6x; scikit-learn's
    lbfgs 35x). Blocks that stay in cache get from one thread what threads would give.
    The libraries' own setters, read and set directly: 7 us where threadpoolctl's
    ``limit`` took 36; one limit taken
    inside another in the same thread is skipped (a fit holds it throughout, and its
    passes and engine ask again).
    """
    if getattr(_HELD, "limited", False):
        yield
        return
    # (A library that cannot tell its threads, None, is left as it is.)
    changed = [(library, threads) for library in _blas_libraries()
               if (threads := library.get_num_threads()) not in (None, 1)]
    for library, _ in changed:
        library.set_num_threads(1)
    _HELD.limited = True
    try:
        yield
    finally:
        _HELD.limited = False
        for library, threads in changed:
            library.set_num_threads(threads)


def _finite_or_raise(matrix, what):
    # (Array methods: NumPy's function wrappers cost microseconds a call, which the
    # small matrices of small fits pay at every refit.)
    if not np.isfinite(matrix).all():
        raise ValueError(
            f"The {what} of X overflows: X has entries too large for its dtype to square "
            "(about 1e154 in float64, 1e19 in float32). Rescale X, e.g. with "
            "sklearn.preprocessing.StandardScaler or MaxAbsScaler.")
    return matrix


# -- passes over X (each returns host float64, normalised by the total weight S; data too
# large for their dtype overflow here, and the results say so, not a warning) ---------
@np.errstate(over="ignore", invalid="ignore")
def gram(X, sample_weight, fit_intercept, total_weight, centre=None):
    """``X1^T D X1 / S`` in one pass, of shape ``(n_cols, n_cols)``; with ``centre`` (a
    host vector, dense NumPy X), of ``X - centre`` (see :func:`column_centre`)."""
    xp, device = get_namespace(X)
    n_features = X.shape[1]
    matrix = xp.zeros((n_features, n_features), dtype=X.dtype, device=device)
    column_sums = xp.zeros(n_features, dtype=X.dtype, device=device)
    # The intercept's corner, sum_i s_i: S itself for the sample weights, less for the
    # curvature-scaled weights of a local Hessian.
    corner = (float(X.shape[0]) if sample_weight is None
              else float(xp.sum(sample_weight, dtype=xp.float64)))
    # Non-negative weights (sample weights, a sigmoid's curvature) go in as square roots,
    # so that each block is one symmetric product Z^T Z (BLAS's syrk, half the work of a
    # general product); rows of weight 0 (a search's test rows) are left out.
    dense = sp.issparse(X) and _dense_gram_pays(X)
    smallest = (float(sample_weight.min()) if sample_weight is not None
                and sample_weight.shape[0] and (dense or not sp.issparse(X))
                and is_numpy(xp) else math.nan)
    root = smallest >= 0
    blocks = (dense_row_blocks(X, sample_weight) if dense
              else row_blocks(X, sample_weight))
    for X_block, weight in blocks:
        if centre is not None:
            X_block = X_block - centre
        if sp.issparse(X_block):
            weighted = (X_block if weight is None
                        else sp.csr_matrix(X_block.multiply(weight[:, None])))
            matrix += (weighted.T @ X_block).toarray()
            if fit_intercept:
                column_sums += np.asarray(weighted.sum(axis=0)).ravel()
        elif root:
            kept = None if smallest > 0 else weight != 0
            if kept is None:
                scaled = X_block * np.sqrt(weight)[:, None]
            else:
                weight = weight[kept]
                scaled = X_block[kept]
                if fit_intercept:
                    column_sums += weight @ scaled
                scaled *= np.sqrt(weight)[:, None]
            matrix += scaled.T @ scaled
            if fit_intercept and kept is None:
                column_sums += weight @ X_block
        else:
            weighted = X_block if weight is None else X_block * weight[:, None]
            matrix += weighted.T @ X_block
            if fit_intercept:
                column_sums += _column_sums(weighted, xp)
    matrix = to_numpy(matrix).astype(np.float64)
    if fit_intercept:
        # X1 = [X, 1]: the extra row and column hold the weighted column sums.
        column_sums = to_numpy(column_sums).astype(np.float64)
        bordered = np.empty((n_features + 1, n_features + 1))
        bordered[:n_features, :n_features] = matrix
        bordered[:n_features, n_features] = bordered[n_features, :n_features] = column_sums
        bordered[n_features, n_features] = corner
        matrix = bordered
    return _finite_or_raise(matrix / total_weight, "Gram matrix")


# A fold's Gram matrix is the whole data's less its rows left out where each column keeps
# at least this share of its curvature in the training rows: the difference then loses at
# most 10 bits to cancellation (a column mostly in the rows left out, such as a rare
# level's indicator, takes the fold's own pass).
_FOLD_GRAM_MIN_SHARE = 2.0 ** -10


class FoldGrams:
    """The Gram matrices ``X1^T D X1 / S`` of a search's folds on one X (host NumPy or
    SciPy), each weighting its training rows as the whole data does and the rest by 0:
    the whole data's, less the Gram matrix of the rows a fold leaves out. One pass over X
    serves every fold, and each fold then reads only its held-out rows, where its own
    pass would read its training rows: about 2 passes for ``k`` folds in place of
    ``k - 1`` (5-fold least squares on 60 000 x 60: its Gram passes were 0.42 of the
    search's time in a profile, 0.17 after). Folds of threads (``n_jobs``) share it."""

    def __init__(self, X, sample_weight, fit_intercept) -> None:
        self.X, self.sample_weight, self.fit_intercept = X, sample_weight, fit_intercept
        self._whole = None
        self._lock = threading.Lock()

    def of(self, weight, total_weight):
        """The Gram matrix of the fold whose weights are ``weight`` (the whole data's on
        its training rows, 0 elsewhere), over ``total_weight``; None where the fold's own
        pass is the cheaper or the exact one (the rows left out are not the fewer, or
        some column's difference would cancel)."""
        left_out = np.flatnonzero(weight == 0)
        if 2 * left_out.size >= weight.shape[0]:
            return None
        with self._lock:
            if self._whole is None:
                try:
                    self._whole = gram(self.X, self.sample_weight, self.fit_intercept, 1.0)
                except ValueError:
                    # Squares that overflow: each fold's own pass says whether its rows do.
                    self._whole = False
        if self._whole is False:
            return None
        rest = gram(self.X[left_out], None if self.sample_weight is None
                    else self.sample_weight[left_out], self.fit_intercept, 1.0)
        matrix = self._whole - rest
        if np.any(np.diagonal(matrix) < _FOLD_GRAM_MIN_SHARE * np.diagonal(self._whole)):
            return None
        return matrix / total_weight


def grams(X, weights, fit_intercept, total_weight, centre=None):
    """``X1^T diag(weights[:, k]) X1 / S`` for every column ``k`` of the non-negative
    ``(n_samples, K)`` weights, of shape ``(K, n_cols, n_cols)``, host float64. (One wide
    product ``X^T [w_1 X, ..., w_K X]`` a row block in place of K symmetric ones took as
    long on 1 797 x 64 and 20 000 x 50 with 10 classes: twice the flops.)"""
    n_cols = X.shape[1] + fit_intercept
    if (type(X) is np.ndarray and type(weights) is np.ndarray
            and n_cols <= OUTER_GRAMS_MAX_COLUMNS
            and weights.shape[1] >= OUTER_GRAMS_MIN_OUTPUTS):
        return _outer_grams(X, weights, fit_intercept, total_weight, centre)
    return np.stack([gram(X, weights[:, k], fit_intercept, total_weight, centre)
                     for k in range(weights.shape[1])])


# Few columns and many classes: a class's Gram pass costs its calls (about 0.2 ms) more
# than its arithmetic (2 000 classes of 4 columns: 8.4 s of a 20 s fit in 21 refits).
# There the rows' outer products, a row block at a time, times the weights give every
# class's matrix in one product: twice the flops of the symmetric passes, and no row of
# weight 0 skipped. Default fits, 20 000 rows: 10 columns and 100 classes 0.99 -> 0.53 s,
# 30 and 100 1.17 -> 1.05 s, 50 000 x 20 with 100 classes 1.70 -> 1.39 s, 3 000 x 10
# with 1 000 1.72 -> 0.87 s; but 50 columns and 10 classes 0.105 -> 0.110 s, the digits
# 36 -> 40 ms, 50 columns and 50 classes alike.
OUTER_GRAMS_MAX_COLUMNS = 32
OUTER_GRAMS_MIN_OUTPUTS = 16


@np.errstate(over="ignore", invalid="ignore")
def _outer_grams(X, weights, fit_intercept, total_weight, centre):
    """:func:`grams` of dense NumPy X of few columns, as ``weights^T`` times the rows'
    flattened outer products ``x1_i x1_i^T``."""
    n_cols = X.shape[1] + fit_intercept
    total = np.zeros((weights.shape[1], n_cols * n_cols))
    step = max(1, BLOCK_BYTES // (n_cols * n_cols * 8))
    for start in range(0, X.shape[0], step):
        block = X[start:start + step].astype(np.float64)
        if centre is not None:
            block -= centre
        if fit_intercept:
            block = np.column_stack([block, np.ones(block.shape[0])])
        outer = (block[:, :, None] * block[:, None, :]).reshape(block.shape[0], -1)
        total += weights[start:start + step].T @ outer
    return _finite_or_raise(total.reshape(-1, n_cols, n_cols) / total_weight,
                            "Gram matrix")


@np.errstate(over="ignore", invalid="ignore")
def softmax_gram(X, proba, sample_weight, fit_intercept, total_weight, centre=None):
    """``sum_i s_i (diag(p_i) - p_i p_i^T) (x) x1_i x1_i^T / S`` for dense X: the Hessian of
    the softmax cross-entropy's data term, ordered class by class (each class's columns
    of X1, then the next class's), host float64.

    Per row block, with ``Z = p (x) x1`` (each row's probabilities times its ``x1``), the
    diagonal blocks are ``Z^T X1`` and the coupling ``Z^T D Z``: two wide matrix products
    in place of one thin weighted Gram matrix per pair of classes.
    """
    xp, device = get_namespace(X)
    n_classes, n_cols = proba.shape[1], X.shape[1] + fit_intercept
    size = n_classes * n_cols
    coupling = diagonal = None
    weighted = proba if sample_weight is None else proba * sample_weight[:, None]
    for X_block, p_block, wp_block, weight in row_blocks(X, proba, weighted, sample_weight,
                                                          width=size):
        if weight is not None and is_numpy(xp) and not bool(np.all(weight != 0)):
            # Rows of weight 0 (a search's test rows) add nothing.
            kept = weight != 0
            X_block, p_block, wp_block = X_block[kept], p_block[kept], wp_block[kept]
        if centre is not None:
            X_block = X_block - centre
        if fit_intercept:
            ones = xp.ones((X_block.shape[0], 1), dtype=X.dtype, device=device)
            X_block = xp.concat([X_block, ones], axis=1)
        rows = X_block.shape[0]
        Z = xp.reshape(wp_block[:, :, None] * X_block[:, None, :], (rows, size))
        # Unweighted rows: the coupling is Z^T Z, and Z is its own second factor.
        P = Z if weight is None else xp.reshape(p_block[:, :, None] * X_block[:, None, :],
                                                (rows, size))
        if coupling is None:
            diagonal, coupling = Z.T @ X_block, Z.T @ P
        else:
            diagonal += Z.T @ X_block
            coupling += Z.T @ P
    if coupling is None:  # no rows
        return np.zeros((size, size))
    hessian = -to_numpy(coupling).astype(np.float64)
    # Each class's diagonal block, at once through a view of (class, column) pairs.
    classes = np.arange(n_classes)
    hessian.reshape(n_classes, n_cols, n_classes, n_cols)[classes, :, classes, :] += \
        to_numpy(diagonal).astype(np.float64).reshape(n_classes, n_cols, n_cols)
    hessian += hessian.T
    hessian /= 2 * total_weight
    return _finite_or_raise(hessian, "Hessian")


@np.errstate(over="ignore", invalid="ignore")
def gram_product(X, sample_weight, fit_intercept, total_weight, basis):
    """``X1^T D X1 / S @ basis`` for a host ``(n_cols, k)`` basis, in one pass."""
    xp, device = get_namespace(X)
    dtype, n_features = X.dtype, X.shape[1]
    on_device = xp.asarray(basis, dtype=dtype, device=device)
    image = xp.zeros((n_features, basis.shape[1]), dtype=dtype, device=device)
    image_intercept = xp.zeros(basis.shape[1], dtype=dtype, device=device)
    for X_block, weight in row_blocks(X, sample_weight):
        projected = X_block @ on_device[:n_features, :]
        if fit_intercept:
            projected += on_device[n_features, :]
        if weight is not None:
            projected *= weight[:, None]
        image += X_block.T @ projected
        if fit_intercept:
            image_intercept += _column_sums(projected, xp)
    image = to_numpy(image).astype(np.float64)
    if fit_intercept:
        image = np.vstack([image, to_numpy(image_intercept)])
    return _finite_or_raise(image / total_weight, "Gram matrix")


def _squares(X):
    """X's entries squared, sparse or dense. A CSR X in canonical format (sorted, no
    duplicate entries) keeps its structure, and only its values are squared:
    ``X.multiply(X)``, which matches the two structures entry by entry, took 1.5 ms for
    350 000 nonzeros, the values 0.085 ms."""
    if not sp.issparse(X):
        return X * X
    if X.format == "csr" and X.has_canonical_format:
        return sp.csr_matrix((X.data * X.data, X.indices, X.indptr), shape=X.shape)
    return X.multiply(X)


def _accumulate_squares(diagonal, X, sample_weight, xp, squares=None):
    """Add ``sum_i s_i x_ij^2`` to ``diagonal``, a row block at a time (``squares``:
    sparse X's, where the caller keeps them)."""
    for X_block, weight in row_blocks(X, sample_weight):
        if sp.issparse(X_block):  # whole: sparse X comes in one block
            block = _squares(X_block) if squares is None else squares
            if weight is not None:
                block = block.multiply(weight[:, None])
            diagonal += np.asarray(block.sum(axis=0), dtype=np.float64).ravel()
        else:
            squares = X_block * X_block
            if weight is not None:
                squares *= weight[:, None]
            diagonal += (_column_sums(squares, xp) if squares.dtype == xp.float64
                         else xp.sum(squares, axis=0, dtype=xp.float64))


def coordinate_decrease(objective, params):
    """``(decrease, index)``: the most that one coordinate's proximal Newton step in the
    curvature bound lowers the objective (L1 term included) from ``params``, and that
    coordinate of the flat vector. A lower bound on the gap ``F - F*`` that no metric's
    rounding hides: the bound's curvature is the loss's or above it along the
    coordinate, so the step lowers the objective at least as much as its model says
    (exactly, for least squares). One pass over X for the gradient, one for the Gram
    diagonal where no metric kept it."""
    grad = to_numpy(objective.loss_gradient(params)[1]).astype(np.float64)
    point = to_numpy(params).astype(np.float64)
    # The Gram matrix's diagonal where the fit's metric built the matrix (no pass).
    kept = getattr(objective, "__dict__", {}).get("_grams", {}).get("gram")
    diagonal = objective.loss_function.curvature * (
        objective.gram_diagonal() if kept is None else np.diagonal(kept))
    n_features, n_outputs = objective.n_features, objective.n_outputs
    curvature = np.tile(diagonal[:n_features], n_outputs) + objective.l2_reg_strength
    l1 = objective.l1_penalty()
    strength = np.full(curvature.size, 0.0 if l1 is None else l1.strength)
    if objective.fit_intercept:
        curvature = np.append(curvature, np.full(n_outputs, diagonal[n_features]))
        strength = np.append(strength, np.zeros(n_outputs))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        target = point - grad / curvature
        moved = np.sign(target) * np.maximum(np.abs(target) - strength / curvature, 0.0)
        step = np.where(curvature > 0, moved - point, 0.0)
        decrease = -(grad * step + 0.5 * curvature * step * step
                     + strength * (np.abs(point + step) - np.abs(point)))
    decrease = np.where(np.isfinite(decrease), decrease, 0.0)
    index = int(np.argmax(decrease))
    return float(decrease[index]), index


@np.errstate(over="ignore", invalid="ignore")
def gram_diagonal(X, sample_weight, fit_intercept, total_weight, squares=None):
    """The diagonal of ``X1^T D X1 / S`` in one pass, without the matrix (``squares``:
    sparse X's, where the caller keeps them)."""
    xp, device = get_namespace(X)
    diagonal = xp.zeros(X.shape[1], dtype=xp.float64, device=device)
    _accumulate_squares(diagonal, X, sample_weight, xp, squares)
    diagonal = to_numpy(diagonal)
    if fit_intercept:
        diagonal = np.append(diagonal, total_weight)
    return _finite_or_raise(diagonal / total_weight, "squared column norm")


@np.errstate(over="ignore", invalid="ignore")
def gram_diagonals(X, weights, fit_intercept, total_weight, squares=None):
    """The diagonals of ``X1^T diag(weights[:, k]) X1 / S`` for every column ``k`` of the
    ``(n_samples, K)`` weights, of shape ``(K, n_cols)``, in one pass over the squares of
    X (``squares``: those of sparse X, where the caller keeps them)."""
    xp, device = get_namespace(X)
    diagonals = xp.zeros((X.shape[1], weights.shape[1]), dtype=xp.float64, device=device)
    if squares is not None:
        diagonals += xp.astype(squares.T @ weights, xp.float64)
    else:
        for X_block, weight in row_blocks(X, weights):
            diagonals += xp.astype(_squares(X_block).T @ weight, xp.float64)
    diagonals = to_numpy(diagonals).T
    if fit_intercept:
        corner = to_numpy(xp.sum(weights, axis=0, dtype=xp.float64))
        diagonals = np.column_stack([diagonals, corner])
    return _finite_or_raise(diagonals / total_weight, "squared column norm")


@np.errstate(over="ignore", invalid="ignore")
def column_centre(gram, dtype):
    """The columns' means, about which L-BFGS's metrics take their Gram matrices (see
    :class:`Full`), in ``dtype``, where a column's squared mean is more than ``eps^-1/4``
    times its variance (8 000 in float64, 54 in float32: the factorisation about 0 would
    lose a quarter of its digits to it); else None. Read off ``gram``, a bordered ``X1^T
    D X1`` (its last row holds the columns' weighted sums, its diagonal their squares):
    no pass of its own; and only where it pays, a second Gram pass about the centre.

    Beside the intercept's column of ones, a column ``c + e`` whose mean ``c`` is far
    beyond its spread is nearly collinear with it: in the Jacobi scale what tells the
    two apart is ``var(e) / c^2`` of their curvature, lost to rounding below eps (a column
    of 1e8 +- 1; of 1e4 +- 1 in float32), and the factorisation cut that direction out.
    A fit then stopped as converged, by the measure of a metric blind to that direction,
    above the optimum. About the means, each column's curvature is its spread's."""
    corner = gram[-1, -1]
    if not corner > 0:
        return None
    means = gram[-1, :-1] / corner
    # Rounding takes the spread below its value where the mean is far beyond it: the
    # test then holds all the more. (X whose squares overflow has no centre here: its
    # Gram matrix says what is wrong.)
    if not np.any(_far(means, np.diagonal(gram)[:-1] / corner, dtype)):
        return None
    return means.astype(dtype)


def largest_row_norm(X, fit_intercept, inverse_metric=None):
    """``max_i x1_i^T A x1_i`` over the rows of X, with ``A`` the identity (None), a host
    diagonal (1-D) or a host ``(n_cols, n_cols)`` matrix: the per-sample curvature that
    bounds a mini-batch gradient in that metric."""
    return row_norms(X, fit_intercept, inverse_metric)[0]


@np.errstate(over="ignore", invalid="ignore")
def row_norms(X, fit_intercept, inverse_metric=None, sample_weight=None, centre=None):
    """``(largest, mean)`` of ``s_i / mean(s) x1_i^T A x1_i`` over the rows of X (``A``
    as in :func:`largest_row_norm`, ``s`` the sample weights, 1 without them), in one
    pass: the weights relative to their mean are each row's share of ``F = 1/n sum_i
    s_i / mean(s) loss_i``, which a mini-batch estimates. ``centre``: ``A`` is a metric's
    inverse about that centre (see :class:`Full`), which takes the rows less it."""
    xp, device = get_namespace(X)
    n_features = X.shape[1]
    largest = total = 0.0
    for X_block, weight in row_blocks(X, sample_weight):
        if centre is not None:
            X_block = X_block - centre
        if inverse_metric is None:
            if sp.issparse(X_block):
                norms = np.asarray(_squares(X_block).sum(axis=1)).ravel()
            else:
                norms = xp.vecdot(X_block, X_block)
            norms = norms + (1.0 if fit_intercept else 0.0)
        elif inverse_metric.ndim == 1:
            weights = xp.asarray(inverse_metric[:n_features], dtype=X.dtype, device=device)
            norms = _squares(X_block) @ weights
            if fit_intercept:
                norms = norms + inverse_metric[n_features]
        else:
            A = xp.asarray(inverse_metric, dtype=X.dtype, device=device)
            coef_part = X_block @ A[:n_features, :n_features]
            if sp.issparse(X_block):
                norms = np.asarray(X_block.multiply(coef_part).sum(axis=1)).ravel()
            else:
                norms = xp.sum(coef_part * X_block, axis=1)
            if fit_intercept:
                norms = (norms + 2 * (X_block @ A[:n_features, n_features])
                         + A[n_features, n_features])
        if weight is not None:
            norms = norms * weight
        largest = max(largest, float(xp.max(norms)))
        total += float(xp.sum(norms, dtype=xp.float64))
    if sample_weight is None:
        return largest, total / X.shape[0]
    mean_weight = float(xp.sum(sample_weight, dtype=xp.float64)) / X.shape[0]
    return largest / mean_weight, total / (mean_weight * X.shape[0])


def top_eigenvalue(gram_product, n_cols, n_iter=30, rtol=1e-3, block_size=8):
    """lambda_max of a symmetric positive semi-definite ``n_cols``-square matrix, known
    only by ``gram_product(basis) -> matrix @ basis`` (host float64 arrays), by block power
    iteration with Rayleigh-Ritz.

    The block of ``block_size`` vectors makes it converge to the top of a cluster of close
    eigenvalues, where a single vector can stall on the second one. The small basis is
    orthonormalised on the host; each iteration costs one ``gram_product``.
    """
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((n_cols, min(block_size, n_cols))))[0]
    eig = 0.0
    for _ in range(n_iter):
        image = gram_product(basis)
        # Rayleigh-Ritz: the largest eigenvalue of the matrix restricted to the block.
        new_eig = float(np.linalg.eigvalsh(basis.T @ image)[-1])
        converged = abs(new_eig - eig) <= rtol * new_eig
        eig = new_eig
        if converged or basis.shape[1] == n_cols:
            break
        basis = np.linalg.qr(image)[0]
    return eig


def top_eigenvalue_bounds(X, sample_weight, fit_intercept, total_weight, gram_product):
    """``(lower, upper)`` bounds of ``lambda_max(X1^T D X1 / S)`` from a few passes over
    X's entries, with no product with a block of vectors; None off NumPy and SciPy.

    With ``A = X^T D X / S``, ``b = X^T s / S`` (the weighted column means) and the
    intercept's corner 1, the matrix is ``[[A, b], [b^T, 1]]``, positive semi-definite,
    so its top eigenvalue is at most that of the 2 x 2 matrix of its blocks' norms,
    ``[[||A||, ||b||], [||b||, 1]]``, and ``||A||`` at most its largest absolute row sum,
    ``max_j (|X|^T (s * |X| 1))_j / S`` (Gershgorin). The lower bound is the Rayleigh
    quotient of ``[b, 1]`` (of ``|X|^T (s * |X| 1)`` without an intercept): one product.
    Where the intercept's direction dominates (sparse X, whose columns are each small
    beside it) the two meet.
    """
    if not (sp.issparse(X) or isinstance(X, np.ndarray)):
        return None
    weight = None if sample_weight is None else to_numpy(sample_weight).astype(np.float64)
    row_sums, means = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    for X_block, weight_block in row_blocks(X, weight):
        absolute = abs(X_block)
        sums = np.asarray(absolute.sum(axis=1), dtype=np.float64).ravel()
        row_sums += np.asarray(absolute.T @ (sums if weight_block is None
                                             else sums * weight_block)).ravel()
        means += (np.asarray(X_block.sum(axis=0), dtype=np.float64).ravel()
                  if weight_block is None else np.asarray(X_block.T @ weight_block).ravel())
    row_sums /= total_weight
    means /= total_weight
    gershgorin = float(row_sums.max(initial=0.0))
    if fit_intercept:
        norm = float(np.linalg.norm(means))
        upper = (gershgorin + 1 + math.sqrt((gershgorin - 1) ** 2 + 4 * norm**2)) / 2
        vector = np.append(means, 1.0)
    else:
        upper, vector = gershgorin, row_sums
    square = float(vector @ vector)
    if not square > 0:
        return 0.0, upper
    lower = float(vector @ gram_product(vector[:, None])[:, 0]) / square
    return lower, upper


# -- the bound B ---------------------------------------------------------------------------
def _penalised(objective):
    """The diagonal ``E`` of the L2 term over one block: 1 on coefficients, 0 on the
    intercept."""
    diagonal = np.ones(objective.n_features + objective.fit_intercept)
    diagonal[objective.n_features:] = 0.0
    return diagonal


def bound(objective):
    """``B`` of one output block, host float64 ``(n_cols, n_cols)``."""
    return (objective.loss_function.curvature * objective.gram()
            + objective.l2_reg_strength * np.diag(_penalised(objective)))


def lipschitz(objective, batch_size=None):
    """The Lipschitz constant ``L = lambda_max(B)`` of the gradient of ``F``.

    For mini-batches of size ``b`` the constant of the expected mini-batch gradient
    (Gower et al., 2019) interpolates between the full-batch value and the largest
    per-sample curvature ``c max_i ||x1_i||^2`` (see :func:`_epoch`).
    """
    return _bounds(Euclidean(), objective, batch_size)[0]


# Wide X's top eigenvalue is taken as its upper bound from top_eigenvalue_bounds where
# that is within this factor of the lower one (a step at most 10 % shorter than 1/L);
# a power iteration otherwise. On 80 000 x 20 000 CSR X (0.1 % dense) the bounds take 5
# sparse products with one vector where the power iteration took 4 rounds of products
# with 8: a one-epoch mini-batch fit of 32 rows there took 0.12 s, 0.061 s now.
TOP_EIGENVALUE_SLACK = 1.1


def _top_eigenvalue(objective):
    """``lambda_max(X1^T D X1 / S)``: exact from the Gram matrix of narrow X; beyond, the
    upper bound of :func:`top_eigenvalue_bounds` where it is tight, else by power
    iteration."""
    n_cols = objective.n_features + objective.fit_intercept
    if n_cols < GRAM_MAX_COLUMNS:
        return float(np.linalg.eigvalsh(objective.gram())[-1])
    bounds = top_eigenvalue_bounds(objective.X, objective.sample_weight,
                                   objective.fit_intercept, objective.total_weight,
                                   objective.gram_product)
    if bounds is not None and bounds[1] <= TOP_EIGENVALUE_SLACK * bounds[0]:
        return bounds[1]
    return top_eigenvalue(objective.gram_product, n_cols)


def _epoch(objective, batch_size, full, largest, l2=0.0):
    """``(L_b, last)``: Gower et al.'s expected smoothness of size-``b`` mini-batches,
    between the full batch's constant ``full`` and the largest per-sample one,
    ``largest()``, ``(n (b - 1) full + (n - b) largest) / (b (n - 1))`` (see
    :func:`_interpolate`), plus ``l2``, and the factor of the
    step of an epoch's last batch where it holds fewer rows, ``m = n mod b``:
    ``min(1, L_b / L_m)``, so that every step of the epoch keeps to its own batch's bound
    (a batch of ``m`` rows, the rest of a shuffled epoch, is a uniform draw of ``m``).

    ``full`` may be a callable that computes it: it is called only where a batch of more
    than one row needs it (a batch of one row has the per-sample bound alone, and the full
    batch's constant of wide X is a power iteration, 0.3 s of a 20 000-column CSR fit
    whose epochs take 20 ms)."""
    n = objective.n_samples
    if batch_size is None or batch_size >= n:
        return (full() if callable(full) else full) + l2, 1.0
    top = largest()
    remainder = n % batch_size
    if callable(full):
        full = full() if max(batch_size, remainder) > 1 else 0.0
    bound = _interpolate(n, batch_size, full, top) + l2
    return bound, _last_batch(bound, _interpolate(n, remainder, full, top) + l2
                              if remainder else bound)


def _last_batch(bound, short):
    """The factor of the step of a batch whose bound is ``short`` in an epoch stepped for
    ``bound``."""
    return min(1.0, bound / short) if short > 0 else 1.0


def _interpolate(n, b, full, top):
    """The expected smoothness of batches of ``b`` of ``n`` rows drawn without
    replacement (``n = inf``: a stream's batches of ``b`` rows), from the full batch's
    constant ``full`` and the largest per-sample one ``top``.

    With sample weights a batch weighs its rows relative to their mean weight (see
    :meth:`skgd.losses.LinearObjective.loss_gradient`), so ``F`` is the mean of the
    per-sample objectives ``s_i / mean(s) loss_i``, whose constants ``top`` bounds
    (:func:`row_norms`): Gower's setting as it is.
    """
    if not math.isfinite(n):
        return ((b - 1) * full + top) / b
    return (n * (b - 1) * full + (n - b) * top) / (b * (n - 1))


# -- metrics -------------------------------------------------------------------------------
class Euclidean:
    """The plain metric ``M = I``: the textbook ``x <- x - lr * grad``."""

    name = None
    centre = None

    def direction(self, grad):
        return grad

    def inner(self, u, v):
        return u @ v

    def prox(self, penalty, w, step, start=None):
        return penalty.prox(w, step)


class Diagonal:
    """``M = diag(weights)``, a flat vector over the parameters (on their device).
    ``refresh(w)``, where present, gives the diagonal of the curvature at ``w``;
    ``shift``, where present (a :class:`_ClassShift`), keeps steps free of the direction
    the softmax does not see (see :class:`Dense`)."""

    name = "diagonal"
    centre = None
    exact = False

    def __init__(self, weights, inverse, refresh=None, shift=None):
        self.weights, self._inverse = weights, inverse
        self.refresh, self.shift = refresh, shift

    def direction(self, grad):
        step = grad * self._inverse
        return step if self.shift is None else self.shift.centre(step)

    def inner(self, u, v):
        return (u * self.weights) @ v

    def prox(self, penalty, w, step, start=None):
        # The L1 prox in a diagonal metric is a soft threshold per coordinate.
        return penalty.prox(w, step * self._inverse[: penalty.n_coef])


class Split(Diagonal):
    """The :class:`Diagonal` metric with a dense block on a few coordinates of each
    output: ``columns`` (shape ``(n_outputs, m)``, flat indices: an output's heaviest
    columns and its intercept, see :func:`_heavy_columns`), ``matrix`` the blocks there
    (``(n_outputs, m, m)``, or ``(1, m, m)``: the same for every output) and
    ``block_inverse`` their inverses; ``weights`` the diagonal elsewhere (zero on the
    blocks' coordinates, which ``matrix`` holds).

    Sparse X's frequent columns (text's common words, a categorical of few levels) meet
    in many rows, each other's and the intercept's: a coupling that a diagonal leaves to
    L-BFGS's memory, and a small dense block takes in (text-like CSR X, 20 000 x 30 000
    with 10 classes: 34 epochs where the diagonal took 230). A seed for L-BFGS, refitted
    as the diagonal is."""

    def __init__(self, weights, inverse, columns, matrix, block_inverse, refresh=None,
                 shift=None):
        super().__init__(weights, inverse, refresh, shift)
        self.columns, self.matrix, self.block_inverse = columns, matrix, block_inverse

    def direction(self, grad):
        step = grad * self._inverse
        step[self.columns] = (self.block_inverse @ grad[self.columns][..., None])[..., 0]
        return step if self.shift is None else self.shift.centre(step)

    def inner(self, u, v):
        blocks = (self.matrix @ v[self.columns][..., None])[..., 0]
        return (u * self.weights) @ v + u[self.columns].ravel() @ blocks.ravel()

    def prox(self, penalty, w, step, start=None):
        raise ValueError("The split metric has no L1 prox: use the diagonal one.")

    def diagonal(self):
        """The :class:`Diagonal` metric of this metric's diagonal (for ``partial_fit``,
        see :func:`without_refits`)."""
        weights = self.weights.copy()
        weights[self.columns] = np.diagonal(self.matrix, axis1=1, axis2=2)
        return Diagonal(weights, (1 / weights).astype(weights.dtype), shift=self.shift)


class Full:
    """``M`` a ``(n_cols, n_cols)`` matrix on each output's block of the flat vector: the
    same one for every output (``matrix`` 2-D), or one each (3-D, ``(n_outputs, n_cols,
    n_cols)``: the diagonal blocks of the softmax's Hessian, whose steps ``shift`` keeps
    free of the direction the softmax does not see, see :class:`Dense`).

    The flat vector holds the coefficients row-major, ``(n_outputs, n_features)``, then
    the intercepts; a block is one output's coefficients and intercept. ``exact``: ``M`` is
    the Hessian at the point it was fitted at (least squares; one output).
    ``refresh(w)``, where present, gives the metric of the curvature at ``w`` (see
    :func:`full`).

    ``centre`` (a vector ``c`` over the features, see :func:`column_centre`): ``matrix``
    and the inverse are those of ``N``, the curvature of X's columns less ``c``, whose
    coordinates ``T (w, b) = (w, b + c^T w)`` give the same predictions; ``M = T^T N T``
    is applied through ``T`` (a step ``T^-1 N^-1 T^-T g``), never formed, since its
    entries would mix the scale of ``c`` into the rounding of the columns' spread.
    """

    name = "full"
    centre = None

    def __init__(self, matrix, inverse, n_outputs, n_features, fit_intercept,
                 refresh=None, exact=False, shift=None, centre=None):
        self.matrix, self._inverse = matrix, inverse
        self.n_outputs, self.n_features = n_outputs, n_features
        self.fit_intercept = fit_intercept
        self.refresh, self.exact, self.shift = refresh, exact, shift
        self.centre = centre if fit_intercept else None

    def _blocks(self, w):
        xp = get_namespace(w)[0]
        if self.n_outputs == 1 or not self.fit_intercept:
            # The flat vector is the blocks, row-major: no concatenations (a step in a
            # 31-column metric 1.4 us instead of 3.6, taken several times an epoch).
            return xp.reshape(w, (self.n_outputs, -1))
        n_coef = self.n_outputs * self.n_features
        coef = xp.reshape(w[:n_coef], (self.n_outputs, self.n_features))
        return xp.concat([coef, xp.reshape(w[n_coef:], (self.n_outputs, 1))], axis=1)

    def _flat(self, blocks):
        xp = get_namespace(blocks)[0]
        if self.n_outputs == 1 or not self.fit_intercept:
            return xp.reshape(blocks, (-1,))
        return xp.concat([xp.reshape(blocks[:, : self.n_features], (-1,)),
                          blocks[:, self.n_features]])

    @staticmethod
    def _product(matrix, blocks):
        """Each block times its matrix, as blocks."""
        if matrix.ndim == 2:
            return blocks @ matrix
        return (blocks[:, None, :] @ matrix)[:, 0, :]

    def direction(self, grad):
        if type(grad) is np.ndarray:
            return self._host_direction(grad)
        blocks = self._blocks(grad)
        if self.centre is None:
            step = self._product(self._inverse, blocks)
        else:
            xp, n = get_namespace(blocks)[0], self.n_features
            # T^-T g: each coefficient's gradient less the centre times the intercept's;
            # then T^-1 r: the intercept's step less the centre times the coefficients'.
            centred = xp.concat([blocks[:, :n] - blocks[:, n:] * self.centre,
                                 blocks[:, n:]], axis=1)
            step = self._moved(self._product(self._inverse, centred), -1.0)
        step = self._flat(step)
        return step if self.shift is None else self.shift.centre(step)

    def _host_direction(self, grad):
        """:meth:`direction` of a NumPy vector: the same steps on one block array,
        written in place (a step is taken three times an epoch; on the digits' ten
        65-column blocks, 21 us against 36 for the concatenations above). The class
        shift is each column's mean over the blocks."""
        n_outputs, n = self.n_outputs, self.n_features
        if self.fit_intercept and n_outputs > 1:
            blocks = np.empty((n_outputs, n + 1), dtype=grad.dtype)
            blocks[:, :n] = grad[: n_outputs * n].reshape(n_outputs, n)
            blocks[:, n] = grad[n_outputs * n:]
        else:
            # A reshape is a view of grad, which the centre must not change.
            blocks = grad.reshape(n_outputs, -1)
            if self.centre is not None:
                blocks = blocks.copy()
        if self.centre is not None:
            blocks[:, :n] -= blocks[:, n:] * self.centre
        step = self._product(self._inverse, blocks)
        if self.centre is not None:
            step[:, n] -= step[:, :n] @ self.centre
        if self.shift is not None:
            step -= step.sum(axis=0) / n_outputs
        if not (self.fit_intercept and n_outputs > 1):
            return step.reshape(-1)
        flat = np.empty(n_outputs * (n + 1), dtype=step.dtype)
        flat[: n_outputs * n].reshape(n_outputs, n)[...] = step[:, :n]
        flat[n_outputs * n:] = step[:, n]
        return flat

    def _moved(self, blocks, sign):
        """Each block's intercept plus ``sign`` times the centre's share of its
        coefficients: ``T`` (+1) or ``T^-1`` (-1) on blocks."""
        xp, n = get_namespace(blocks)[0], self.n_features
        return xp.concat([blocks[:, :n],
                          blocks[:, n:] + sign * (blocks[:, :n] @ self.centre[:, None])],
                         axis=1)

    def _lifted(self, w):
        """``T w`` as blocks (``w`` itself without a centre)."""
        blocks = self._blocks(w)
        return blocks if self.centre is None else self._moved(blocks, 1.0)

    def inner(self, u, v):
        return get_namespace(u)[0].sum(self._product(self.matrix, self._lifted(u))
                                       * self._lifted(v))

    def cancelled(self, w):
        """``max_k |c|.|w_k| + |b_k|``: the size of the terms that cancel in a raw
        prediction at ``w`` where the columns lie far off zero (0 without a centre), at
        whose rounding the objective rounds (see skgd._updates.lbfgs)."""
        if self.centre is None:
            return 0.0
        xp, n = get_namespace(w)[0], self.n_features
        blocks = xp.abs(self._blocks(w))
        return float(xp.max(blocks[:, :n] @ xp.abs(self.centre) + blocks[:, n]))

    def prox(self, penalty, w, step, start=None):
        """The L1 penalty's proximal step in ``M``, each output's block by
        :func:`quadratic_l1` (on the host), from ``start`` (the point the step is taken
        from, whose nonzeros the solution's are close to). About a centre, ``T^-1
        prox_N(T v)``: ``T`` leaves the coefficients, which the penalty sees, as they
        are."""
        xp, device = get_namespace(w)
        blocks = np.asarray(to_numpy(self._lifted(w)), dtype=np.float64)
        if start is not None:
            start = np.asarray(to_numpy(self._lifted(start)), dtype=np.float64)
        matrix = to_numpy(self.matrix)
        rounding = _prox_rounding(matrix.dtype)
        matrix = matrix.astype(np.float64)
        tau = float(step) * penalty.strength
        solved = np.stack([
            quadratic_l1(matrix if matrix.ndim == 2 else matrix[k], block, tau,
                         self.n_features, None if start is None else start[k], rounding)
            for k, block in enumerate(blocks)])
        solved = xp.asarray(solved, dtype=w.dtype, device=device)
        if self.centre is not None:
            solved = self._moved(solved, -1.0)
        return self._flat(solved)

    def largest_eigenvalue(self):
        """``lambda_max(M)``: the Lipschitz constant of the gradient when ``M = B``."""
        matrix = to_numpy(self.matrix).astype(np.float64)
        if self.centre is not None:
            lift = np.eye(matrix.shape[-1])
            lift[-1, :-1] = self.centre
            matrix = lift.T @ matrix @ lift
        return float(np.linalg.eigvalsh(matrix)[-1])


# The rounds of the primal-dual active set method that start :func:`quadratic_l1`; of
# feature-sign search, the first rounds that may take in every coordinate whose
# subgradient condition fails at once (from zero the support grows by many at a time;
# taken on, such rounds can cycle in ever shorter steps), and the rounds before it
# settles for its best point so far.
_ACTIVE_SET_ROUNDS = 10
_PROX_MULTI_ROUNDS = 4
_PROX_MAX_ROUNDS = 200
_posv = scipy.linalg.lapack.get_lapack_funcs("posv", dtype=np.float64)


def _prox_rounding(dtype):
    """The relative rounding of a metric's entries in ``dtype``, for its prox's jitter."""
    return max(1e-12, 10 * float(np.finfo(dtype).eps))


def quadratic_l1(matrix, v, tau, n_penalised, start=None, rounding=1e-12):
    """``argmin_u 1/2 (u - v)^T M (u - v) + tau ||u[:n_penalised]||_1`` for a positive
    (semi-)definite ``M`` (NumPy, float64): the L1 penalty's proximal step in the metric
    ``M``, ``tau`` the step times the penalty's strength; ``start`` a guess (the point the
    step is taken from: its nonzeros and signs change little from one step to the next);
    ``rounding``: the relative rounding of ``M``'s entries.

    On a guess of which penalised coordinates are nonzero, and their signs, the problem is
    a linear system in those coordinates (and the unpenalised ones). The guess is
    ``start``'s, then the primal-dual active set method's while it leads down (below);
    feature-sign search (Lee, Battle, Raina & Ng, 2007) ends it: the step towards the
    system's solution stops at the best of the points where a coordinate crosses zero,
    which is dropped; coordinates at zero whose subgradient condition fails are taken in,
    all at once in the first rounds, until that fails to lead down, then one at a time,
    the worst first, which always leads down (and so ends the search). The objective falls
    every round, and once the support is right one solve ends it, exact to rounding: a
    coordinate descent needs hundreds of sweeps on the correlated columns that make a
    full metric worth its cost (the bundled diabetes table: 454).

    A penalised coordinate that the systems' rounding leaves at the rounding of the
    point's size, where zero meets its condition, is zero: of two equal columns, an
    elastic net's solve left one at -2e-16 where the solution is 0 (the L1 penalty's
    exact zeros).
    """
    if not np.all(np.isfinite(v)):
        # A step that overflowed has no prox point either: the search's comparisons of
        # NaN ended at its start, a step of 0 that then "converged" (a partial_fit at
        # learning_rate=1e39 in float32).
        return v.copy()
    u = _prox_search(matrix, v, tau, n_penalised, start, rounding)
    size = max(float(np.abs(u).max(initial=0.0)), float(np.abs(v).max(initial=0.0)))
    tiny = np.flatnonzero((u != 0) & (np.abs(u) <= rounding * size)
                          & (np.arange(u.shape[0]) < n_penalised))
    if tiny.size:
        residual = matrix[tiny] @ u - matrix[tiny] @ v
        zero = tiny[np.abs(residual) <= tau * (1 + 1e-10)]
        u[zero] = 0.0
    return u


def _prox_search(matrix, v, tau, n_penalised, start, rounding):
    """The search of :func:`quadratic_l1`."""
    size = v.shape[0]
    b = matrix @ v
    penalised = np.arange(size) < n_penalised
    diagonal = np.diag(matrix).copy()
    diagonal[~(diagonal > 0)] = 1.0
    # A metric without an L2 term may be singular (collinear columns, the softmax's
    # classes), and rounding may leave it indefinite there (-1e-8 of its diagonal in
    # float32, where the search then never left its start): the systems get a jitter at
    # the rounding of each coordinate's own curvature (of the largest, it swamped unit
    # columns beside one of 1e6: a Lasso stopped 2x above its optimum).
    jitter = rounding * diagonal
    threshold = tau / diagonal
    if start is None:  # the diagonal metric's prox
        u = np.sign(v) * np.maximum(np.abs(v) - np.where(penalised, threshold, 0.0), 0.0)
    else:
        u = start.copy()
    magnitude = np.abs(matrix)

    def solve(support, sign):
        target = np.zeros(size)
        if not support.size:  # every coefficient at zero, and no intercept
            return target
        system = matrix[np.ix_(support, support)]
        system.flat[:: support.size + 1] += jitter[support]
        rhs = b[support] - tau * sign[support]
        # LAPACK's Cholesky solve, a tenth of NumPy's call; LU where rounding leaves the
        # system indefinite.
        _, solution, info = _posv(system, rhs)
        target[support] = solution if info == 0 else np.linalg.solve(system, rhs)
        return target

    def value(w):
        e = w - v
        return 0.5 * float(e @ (matrix @ e)) + tau * float(np.abs(w[penalised]).sum())

    # The primal-dual active set method (Hintermüller, Ito & Kunisch, 2003) first: its
    # support is that of a Jacobi step's soft threshold, and it changes as many
    # coordinates a round as that step does, where feature-sign search takes in or drops
    # one (from zero on the breast-cancer table: 12 rounds, against 2). It need not end,
    # nor lead down (on correlated columns it cycles): it goes on while it leads down,
    # and feature-sign search from where it stops.
    previous, current = None, value(u)
    for round_ in range(_ACTIVE_SET_ROUNDS):
        if round_ == 0 and start is not None:
            # The guess's own support and signs first: a step's usually are the last's.
            sign = np.where(penalised, np.sign(u), 0.0)
        else:
            jacobi = u + (b - matrix @ u) / diagonal
            sign = np.where(penalised, np.sign(jacobi) * (np.abs(jacobi) > threshold),
                            0.0)
        if previous is not None and np.array_equal(sign, previous):
            break
        trial = solve(np.flatnonzero(~penalised | (sign != 0)), sign)
        trial_value = value(trial)
        if not trial_value < current:
            break
        u, previous, current = trial, sign, trial_value

    def value_along(d, lengths):
        e = u - v
        md = matrix @ d
        quadratic = (0.5 * float(e @ (matrix @ e)) + lengths * float(md @ e)
                     + 0.5 * lengths ** 2 * float(md @ d))
        points = u[penalised][None, :] + lengths[:, None] * d[penalised][None, :]
        return quadratic + tau * np.abs(points).sum(axis=1)

    several, solved = True, False
    for round_ in range(_PROX_MAX_ROUNDS):
        residual = matrix @ u - b
        # Each coordinate's condition to a share of tau and of the rounding of its
        # residual, which columns of different scales make different.
        tolerance = 1e-10 * tau + 1e-12 * (magnitude @ np.abs(u - v))
        sign = np.where(penalised, np.sign(u), 0.0)
        zero = penalised & (u == 0)
        active = ~zero
        # After a whole step on an unchanged support, the nonzeros solve their system:
        # what is left of their condition is rounding (of a matrix's condition number
        # times eps: 1e-11 of the entries on the breast-cancer table's Hessian).
        unsolved = (np.zeros(size, dtype=bool) if solved
                    else active & (np.abs(residual + tau * sign) > tolerance))
        excess = np.where(zero, np.abs(residual) - tau - tolerance, -np.inf)
        if not (unsolved.any() or excess.max(initial=-np.inf) > 0):
            return u
        several = several and round_ < _PROX_MULTI_ROUNDS
        entering = np.zeros(size, dtype=bool)
        if several:
            entering = excess > 0
        elif not unsolved.any():
            entering[int(np.argmax(excess))] = True
        sign[entering] = -np.sign(residual[entering])
        active |= entering
        target = solve(np.flatnonzero(active), sign)
        d = target - u
        crossing = penalised & (u != 0) & (np.sign(target) != np.sign(u))
        lengths = np.append(u[crossing] / (u[crossing] - target[crossing]), 1.0)
        values = value_along(d, np.append(lengths, 0.0))
        best = int(np.argmin(values[:-1]))
        if lengths.size > 1:
            # The whole step with every coordinate that crossed zero left at zero (the
            # projection on the signs' orthant, as OWL-QN's): where it is lower, it
            # drops them all at once.
            projected = np.where(crossing, 0.0, target)
            projected_value = value(projected)
            if projected_value < min(values[best], values[-1]):
                u, solved = projected, False
                continue
        if not values[best] < values[-1]:
            if several:
                # Coordinates taken in together, with the signs their subgradients
                # gave, need not lead down: one at a time they do.
                several = False
                continue
            if not (entering.any() or solved):
                # The support's system solved again: its conditions hold to rounding.
                solved = True
                continue
            return u  # no descent left: the optimum to rounding
        u = u + lengths[best] * d
        # (A whole step past a crossing, where that is lower still, is not on the
        # support and signs its system assumed, nor one that took a coordinate in with
        # the other sign.)
        solved = lengths.size == 1 and bool(np.all(np.sign(target[entering])
                                                   == sign[entering]))
        if not solved and best < lengths.size - 1:
            # The coordinate that crossed zero there is zero, not its rounding.
            u[np.flatnonzero(crossing)[best]] = 0.0
    return u


# The Schur complement of :class:`_SchurFactor` is factored densely up to this many
# columns (32 MiB): InstEval's 4 127-column Gram left 1 784, built and factored in
# 0.053 s where SuperLU's factors took 0.34 s (a solve 1.5 ms against 0.6 ms); it now
# leaves 1 155 (see _independent_columns).
SCHUR_MAX_COLUMNS = 2048


class _SchurFactor:
    """Solves with a sparse symmetric positive definite ``M`` through an independent set
    ``I`` of its columns (no two share a nonzero of ``M``: one-hot columns of one
    categorical, which never meet in a row), on which ``M`` is diagonal, ``D``: the rest
    ``R`` by the dense Cholesky factor of its Schur complement ``S = M_RR - M_RI D^-1
    M_IR``, ``I`` by ``D``. Where the categoricals meet, as students and lecturers do,
    SuperLU's elimination fills most of the remaining block anyway, and its ordering costs
    more than the dense factor (see ``SCHUR_MAX_COLUMNS``)."""

    def __init__(self, matrix, independent):
        self.chosen, self.rest = np.flatnonzero(independent), np.flatnonzero(~independent)
        rows = matrix.tocsr()[self.rest]
        self.coupling = rows[:, self.chosen].tocsr()  # M_RI
        self.inverse_diagonal = 1 / matrix.diagonal()[self.chosen]
        scaled = self.coupling.multiply(self.inverse_diagonal[None, :]).tocsr()
        schur = rows[:, self.rest].toarray()
        schur -= (scaled @ self.coupling.T).toarray()
        # Symmetric: its transpose is the Fortran-ordered matrix LAPACK factors in place.
        self.cholesky = scipy.linalg.cho_factor(schur.T, lower=True, overwrite_a=True,
                                                check_finite=False)

    def solve(self, rhs):
        """``M^-1 rhs`` for a ``(n_cols, k)`` right-hand side."""
        on_chosen = rhs[self.chosen] * self.inverse_diagonal[:, None]
        rest = scipy.linalg.cho_solve(self.cholesky, rhs[self.rest] - self.coupling @ on_chosen,
                                      check_finite=False)
        out = np.empty_like(rhs)
        out[self.rest] = rest
        out[self.chosen] = on_chosen - (self.coupling.T @ rest) * self.inverse_diagonal[:, None]
        return out


def _independent_columns(matrix):
    """A set of columns of the sparse symmetric ``matrix`` no two of which share a nonzero
    (a boolean mask), among those of positive diagonal: the larger of two greedy ones
    (the first on a tie), taken in ascending order of the columns' nonzeros and in the
    columns' own order.

    The fewer columns are left out, the cheaper the Schur complement's dense factor (the
    cube of their number). Ascending nonzeros picks the rarest levels of every
    categorical, which rarely meet (two Zipf-skewed categoricals of the regime matrix:
    430 columns left, 1 028 in their own order); where two categoricals have levels of
    like counts it mixes them, and each level it takes of one excludes the levels of the
    other it meets, where an encoder's own order takes the first categorical whole
    (InstEval's students and lecturers: 1 784 columns left against 1 155, a factor of
    71 ms against 37)."""
    csc = matrix.tocsc()
    positive = csc.diagonal() > 0
    orders = (np.argsort(np.diff(csc.indptr), kind="stable"), np.arange(csc.shape[1]))
    # max keeps the first of equal sets.
    return max((_greedy_independent(csc, order, positive.copy()) for order in orders),
               key=np.count_nonzero)


def _greedy_independent(csc, order, free):
    """Each column of ``order`` still ``free`` is chosen, and the columns it shares a
    nonzero with are no longer free (``free`` is changed): by the compiled kernel where
    it runs (InstEval's 4 127 columns in well under a millisecond, where this loop takes
    13 ms)."""
    chosen = np.zeros(csc.shape[1], dtype=bool)
    indptr, indices = csc.indptr, csc.indices
    if _kernel.ENABLED:
        _kernel.BUILT.independent_columns(indptr, indices,
                                          np.ascontiguousarray(order, np.intp),
                                          free.view(np.uint8), chosen.view(np.uint8))
        return chosen
    for column in order:
        if free[column]:
            chosen[column] = True
            free[indices[indptr[column]:indptr[column + 1]]] = False
    return chosen


def _sparse_factor(matrix):
    """An object whose ``solve(rhs)`` is ``matrix^-1 rhs``, for a sparse symmetric
    positive definite ``matrix``: a :class:`_SchurFactor` where the columns outside an
    independent set are at most ``SCHUR_MAX_COLUMNS``, SuperLU's factors (in a
    minimum-degree order) otherwise (or where the Schur complement is not numerically
    positive definite)."""
    independent = _independent_columns(matrix)
    if np.count_nonzero(~independent) <= SCHUR_MAX_COLUMNS:
        try:
            return _SchurFactor(matrix, independent)
        except np.linalg.LinAlgError:
            pass
    return scipy.sparse.linalg.splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A")


class SparseFull(Full):
    """``M`` a sparse ``(n_cols, n_cols)`` matrix on each output's block, held as the
    factors of :func:`_sparse_factor`: the curvature at the start of one-hot and other
    sparse X whose columns meet in few rows, too wide for a dense matrix (see
    :func:`_sparse_gram_pays`). A seed for L-BFGS: not refitted."""

    exact = False
    refresh = refresh_epochs = newton = None

    def __init__(self, matrix, n_outputs, n_features, fit_intercept, shift=None):
        self.matrix = matrix.tocsc()
        self.factor = _sparse_factor(self.matrix)
        self.n_outputs, self.n_features = n_outputs, n_features
        self.fit_intercept, self.shift = fit_intercept, shift

    @staticmethod
    def _product(matrix, blocks):
        return (matrix @ blocks.T).T

    def direction(self, grad):
        step = self.factor.solve(np.ascontiguousarray(self._blocks(grad).T)).T
        step = self._flat(step)
        return step if self.shift is None else self.shift.centre(step)

    def prox(self, penalty, w, step, start=None):
        raise ValueError("The sparse full metric has no L1 prox: use the diagonal one.")

    def diagonal(self):
        """The :class:`Diagonal` metric of this matrix's diagonal, over the flat vector."""
        block = self.matrix.diagonal()
        flat = np.tile(block[: self.n_features], self.n_outputs)
        if self.fit_intercept:
            flat = np.append(flat, np.full(self.n_outputs, block[self.n_features]))
        dtype = self.matrix.dtype
        return Diagonal(flat.astype(dtype), (1 / flat).astype(dtype), shift=self.shift)


class LowRank(Full):
    """``M = X1^T diag(w) X1 + l2 E`` on each output's block, held through X itself where X
    has fewer rows than columns (p >> n): the data's part has rank at most n, and the
    Woodbury identity inverts ``l2 I + V^T V`` (``V = diag(w)^(1/2) X``) through the
    ``n x n`` matrix ``l2 I + V V^T``; the intercept's row and column, which the L2 term
    leaves out, by its Schur complement. ``w`` is one weight vector for every output, or
    one an output (the diagonal blocks of the softmax's Hessian). Building it costs
    ``n^2 p`` an output, a step in it two products with ``V``; no ``p x p`` matrix is
    formed. Where the diagonal metric of such X leaves the fit far from the optimum at a
    small relative gradient, this is the full metric (the bound, or the curvature at the
    start, refitted along the way for L-BFGS).
    """

    def __init__(self, objective, weights, shift=None, refresh=None, exact=False):
        X = objective.X
        self.n_outputs, self.n_features = objective.n_outputs, objective.n_features
        self.fit_intercept, self.shift = objective.fit_intercept, shift
        self.refresh, self.exact, self.dtype = refresh, exact, X.dtype
        self.l2 = objective.l2_reg_strength
        self.blocks = [self._block(X, np.sqrt(w)) for w in np.atleast_2d(weights)]

    def prox(self, penalty, w, step, start=None):
        raise ValueError("The low-rank full metric has no L1 prox: use the diagonal one.")

    def _block(self, X, root):
        """``(V, factor, root, b, q, s)`` of one weight vector: ``b`` the intercept's
        column of ``X^T diag(w)``, ``q = A^-1 b`` and ``s = d - b.q`` its Schur
        complement."""
        V = (sp.diags(root) @ X).tocsr() if sp.issparse(X) else X * root[:, None]
        kernel = V @ V.T
        kernel = kernel.toarray() if sp.issparse(kernel) else np.asarray(kernel)
        factor = np.linalg.cholesky(self.l2 * np.eye(len(root)) + kernel)
        block = [V, factor, root]
        if self.fit_intercept:
            b = np.asarray(V.T @ root).ravel()
            q = self._solve(V, factor, b[:, None])[:, 0]
            block += [b, q, float(root @ root) - float(b @ q)]
        return block

    def _solve(self, V, factor, Z):
        """``A^-1 Z`` for ``A = l2 I + V^T V`` and columns ``Z``, by Woodbury (two
        triangular solves with the Cholesky factor: ``n^2`` a column, not ``n^3``)."""
        inner = scipy.linalg.cho_solve((factor, True), np.asarray(V @ Z), check_finite=False)
        return (Z - np.asarray(V.T @ inner)) / self.l2

    def _per_block(self, w, apply):
        """``apply(block, coefficients (n_features, m), intercepts (m,))`` for the
        outputs each block serves, as ``(n_outputs, n_cols)`` blocks."""
        blocks = np.asarray(self._blocks(w), dtype=np.float64)
        shared = len(self.blocks) == 1
        parts = [apply(self.blocks[0 if shared else k],
                       blocks[slice(None) if shared else slice(k, k + 1), :self.n_features].T,
                       blocks[slice(None) if shared else slice(k, k + 1), self.n_features:])
                 for k in range(1 if shared else self.n_outputs)]
        return np.vstack(parts)

    def direction(self, grad):
        def inverse(block, coef, intercept):
            solved = self._solve(block[0], block[1], coef)
            if not self.fit_intercept:
                return solved.T
            _, _, _, b, q, schur = block
            t = (intercept[:, 0] - b @ solved) / schur
            return np.column_stack([(solved - np.outer(q, t)).T, t])

        step = self._flat(self._per_block(grad, inverse).astype(self.dtype))
        return step if self.shift is None else self.shift.centre(step)

    def inner(self, u, v):
        def times(block, coef, intercept):
            V, root = block[0], block[2]
            image = self.l2 * coef + np.asarray(V.T @ (V @ coef))
            if not self.fit_intercept:
                return image.T
            b, t = block[3], intercept[:, 0]
            return np.column_stack([(image + np.outer(b, t)).T,
                                    b @ coef + float(root @ root) * t])

        return float(np.sum(self._per_block(u, times) * np.asarray(self._blocks(v))))

    def diagonal(self):
        """The :class:`Diagonal` metric of this matrix's diagonal, over the flat vector."""
        rows = []
        for V, _, root, *_ in self.blocks:
            squares = V.multiply(V) if sp.issparse(V) else V * V
            row = np.asarray(squares.sum(axis=0)).ravel() + self.l2
            rows.append(np.append(row, float(root @ root)) if self.fit_intercept else row)
        blocks = np.array(rows if len(rows) > 1 else rows * self.n_outputs)
        flat = blocks[:, : self.n_features].ravel()
        if self.fit_intercept:
            flat = np.append(flat, blocks[:, self.n_features])
        return Diagonal(flat.astype(self.dtype), (1 / flat).astype(self.dtype),
                        shift=self.shift)


def _low_rank(objective, curvature, local):
    """The :class:`LowRank` full metric: the bound or the curvature at the start (one
    weight vector, ``curvature`` times the sample weights), refitted for L-BFGS (one an
    output, the local curvatures: Newton's for one output)."""
    weight = objective.sample_weight
    weight = np.ones(objective.n_samples) if weight is None else to_numpy(weight)
    shift = _class_shift(objective) if local else None
    if not (local and hasattr(objective.loss_function, "local_curvatures")):
        return LowRank(objective, curvature * weight / objective.total_weight, shift,
                       exact=not hasattr(objective.loss_function, "local_curvatures"))

    def refresh(w):
        weights = to_numpy(objective._curvature_weights(w)).T / objective.total_weight
        metric = LowRank(objective, weights, shift, refresh, exact=weights.shape[0] == 1)
        metric.refresh_epochs = cost
        return metric

    cost = max(1, math.ceil(_low_rank_refit_passes(objective)))
    metric = LowRank(objective, curvature * weight / objective.total_weight, shift,
                     refresh)
    metric.refresh_epochs = cost
    return metric


class Dense:
    """``M`` a matrix over the whole flat vector: Newton's metric, the softmax's Hessian,
    which couples the classes. No global bound: the rule that steps in it searches its
    step length. ``refresh(w)`` gives it at another point.

    The softmax does not change when the same number is added to every class's raw
    prediction, so its Hessian is singular along "the same coefficients and intercept for
    every class". With ``shift`` (a :class:`_ClassShift`) the step is kept free of that
    direction (its mean over the classes is removed), as plain descent from zero keeps it:
    the coefficients and intercepts keep summing to zero over the classes, the solution
    ``LogisticRegression`` reports, and rounding cannot drift along it (L-BFGS's memory,
    which learns no curvature there, would amplify the drift).

    ``centre``: ``matrix`` is the Hessian about the columns' centre, applied through the
    change of coordinates of :class:`Full` (each class's intercept plus the centre times
    its coefficients), which commutes with the shift.
    """

    name = "full"
    exact = True

    def __init__(self, matrix, inverse, shift=None, refresh=None, centre=None):
        # The centring is linear: folded into the inverse once, a step is one product.
        self.matrix = matrix
        self._inverse = inverse if shift is None else shift.centre_rows(inverse)
        self.shift = shift
        self.refresh = refresh
        self.refresh_epochs = getattr(refresh, "refresh_epochs", None)
        self.centre = centre

    def _parts(self, w):
        """The coefficients as ``(n_outputs, n_features)`` and the intercepts of ``w``."""
        n_features = self.centre.shape[0]
        n_coef = w.shape[0] // (n_features + 1) * n_features
        return w[:n_coef].reshape(-1, n_features), w[n_coef:]

    def direction(self, grad):
        if self.centre is None:
            return self._inverse @ grad
        coef, intercept = self._parts(grad)
        step = self._inverse @ np.concatenate([(coef - intercept[:, None] * self.centre)
                                               .ravel(), intercept])
        return self._moved(step, -1.0)

    def _moved(self, w, sign):
        """As :meth:`Full._moved`, on the flat vector."""
        coef, intercept = self._parts(w)
        return np.concatenate([coef.ravel(), intercept + sign * (coef @ self.centre)])

    def _lifted(self, w):
        return w if self.centre is None else self._moved(w, 1.0)

    def inner(self, u, v):
        return self._lifted(u) @ (self.matrix @ self._lifted(v))

    def cancelled(self, w):
        """As :meth:`Full.cancelled`."""
        if self.centre is None:
            return 0.0
        coef, intercept = self._parts(w)
        return float(np.max(np.abs(coef) @ np.abs(self.centre) + np.abs(intercept)))

    def prox(self, penalty, w, step, start=None):
        """As :meth:`Full.prox`, on the whole flat vector (the coefficients first), on
        the host in float64 and back to ``w``'s namespace, device and dtype."""
        xp, device = get_namespace(w)
        matrix = to_numpy(self.matrix)

        def host(v):
            return self._lifted(np.asarray(to_numpy(v), dtype=np.float64))

        solved = quadratic_l1(
            matrix.astype(np.float64), host(w), float(step) * penalty.strength,
            penalty.n_coef, None if start is None else host(start),
            _prox_rounding(matrix.dtype))
        solved = solved if self.centre is None else self._moved(solved, -1.0)
        return xp.asarray(solved, dtype=w.dtype, device=device)


def _on_device(objective, array):
    """A host float64 metric array in X's dtype, on X's device; a clear error where X's
    scale puts it beyond that dtype (X of tiny or huge scale, squared)."""
    dtype = objective.X.dtype
    largest = float(_finfo(objective.xp, dtype).max)
    # The largest magnitude, not a comparison of every entry: also NaN fails the test.
    extreme = float(np.abs(array).max(initial=0.0))
    if not extreme < largest:
        raise ValueError(
            "The curvature of the objective overflows the dtype of X: X has entries "
            "too small or too large for their squares to be represented. Rescale X, "
            "e.g. with sklearn.preprocessing.StandardScaler or MaxAbsScaler.")
    if isinstance(objective.X, np.ndarray) or sp.issparse(objective.X):
        return array.astype(dtype, copy=False)
    return objective.xp.asarray(array, dtype=dtype, device=objective.device)


@functools.cache
def _finfo_cached(xp, dtype):
    return xp.finfo(dtype)


def _finfo(xp, dtype):
    """``xp.finfo(dtype)``, made once per namespace and dtype (NumPy's takes
    microseconds a call, and a small fit asks it at every refit)."""
    try:
        return _finfo_cached(xp, dtype)
    except TypeError:  # an unhashable dtype
        return xp.finfo(dtype)


def _factor(objective, data, ridge, cut=None, floor=None):
    """``(M, M^+)`` on X's device for ``M = data + diag(ridge)``, a curvature matrix of the
    data term and the L2 term's diagonal, and ``M^+`` its pseudo-inverse; both in the
    Jacobi scale ``diag(M)^-1/2 M diag(M)^-1/2``, so that columns of any scale keep their
    own curvature.

    Collinear columns (a one-hot block beside the intercept, more columns than rows) make
    the data's curvature singular: its eigenvalues below ``cut`` of the largest (default
    ``100 eps``, rounding) count as zero, those up to ``floor`` of it (default: none) are
    raised to that, and the L2 term, which has no rounding, is added after. The step leaves
    alone the directions left with no curvature, along which the objective does not
    change: a fit started at zero keeps to the row space, as plain descent does. A zero
    diagonal entry (a column of zeros) counts as 1.
    """
    eps = float(_finfo(objective.xp, objective.X.dtype).eps)
    cut = 100 * eps if cut is None else cut
    diagonal = np.diag(data) + ridge
    diagonal[~(diagonal > 0)] = 1.0
    root = np.sqrt(diagonal)
    values, vectors = np.linalg.eigh(data / root[:, None] / root[None, :])
    largest = max(float(values[-1]), 0.0)
    kept = values > cut * largest
    values = values[kept] if floor is None else np.maximum(values[kept], floor * largest)
    scaled = (vectors[:, kept] * values) @ vectors[:, kept].T + np.diag(ridge / diagonal)
    values, vectors = np.linalg.eigh(scaled)
    kept = values > 100 * eps * max(float(values[-1]), 0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        vectors = vectors[:, kept] / root[:, None]
        inverse = (vectors / values[kept]) @ vectors.T
    matrix = scaled * root[:, None] * root[None, :]
    return _on_device(objective, matrix), _on_device(objective, inverse)


def _factor_positive(objective, data, ridge):
    """``(M, M^-1)`` as :func:`_factor`, for ``M = data + diag(ridge)`` or a stack of them
    (``data`` of shape ``(K, n_cols, n_cols)``), by a Cholesky factorisation where ``M``
    is positive definite, which a positive L2 term on every coefficient makes it (the
    intercept's curvature is the weights' sum), and so is the data's curvature of
    independent columns without one: several times cheaper than the eigendecompositions,
    which it falls back to where the factorisation fails (a singular or nearly singular
    matrix: collinear columns without an L2 term, rounding). Without an L2 term, where it
    succeeds, the pseudo-inverse is the inverse: the two agree to rounding (3 200 x 100
    least squares at alpha=0: 5.6 ms a fit with the eigendecompositions, 3.0 with it). A
    stack is factored in one call."""
    if data.ndim == 3:
        try:
            return _cholesky(objective, data, ridge)
        except np.linalg.LinAlgError:
            factors = [_factor_positive(objective, block, ridge)
                       for block in data]
            xp = objective.xp
            return tuple(xp.stack(parts) for parts in zip(*factors, strict=True))
    try:
        return _cholesky(objective, data, ridge)
    except np.linalg.LinAlgError:
        return _factor(objective, data, ridge)


# The smallest squared pivot of a Cholesky factorisation (of a matrix of unit diagonal)
# that :func:`_cholesky` accepts, as a power of X's eps: sqrt(eps), below which LU's
# inverse loses half the digits (1.5e-8 in float64). A float32 X has its Gram matrix
# summed in float32, rounded to about 1e-7 of its size, and its metric's inverse kept in
# float32: a pivot within 3e-4 of zero there is rounding, and an inverse through it an
# indefinite matrix (an optimality measure below zero, read as converged).
_PIVOT_EPS_POWER = 0.5


def _cholesky(objective, data, ridge):
    """:func:`_factor_positive`'s factorisation, in the Jacobi scale; raises
    ``LinAlgError`` where ``M`` is not (numerically) positive definite."""
    matrix = data.copy()
    diagonal = np.einsum("...ii->...i", matrix)  # a view: adds the ridge in place
    diagonal += ridge
    root = np.sqrt(np.maximum(diagonal, 0.0))
    root[~(root > 0)] = 1.0
    # Divided by each root in turn: their product overflows at an L2 strength of 1e308.
    scaled = matrix / root[..., :, None] / root[..., None, :]
    # The factorisation is the test: of definiteness, and of conditioning. A pivot below
    # sqrt(eps) (the scaled diagonal is 1) leaves an eigenvalue near the rounding of the
    # others (collinear columns, an L2 term tiny beside them), whose inverse LU would not
    # get right: the eigendecompositions cut such directions out. Otherwise the inverse
    # of the scaled matrix is well within reach of the factor.
    pivot = float(_finfo(objective.xp, objective.X.dtype).eps) ** _PIVOT_EPS_POWER
    # LAPACK's factorisation and the inverse from it, a matrix at a time: a few
    # microseconds a call where NumPy's take tens on the small matrices of small fits,
    # and 0.65x the time of NumPy's batched cholesky and inv on the ten 65-square blocks
    # of the digits (0.66x on fifty of 51, 0.54x on three of 101; one BLAS thread).
    if scaled.ndim == 2:
        inverse = _cholesky_inverse(scaled, pivot)
    else:
        inverse = np.empty_like(scaled)
        for index in np.ndindex(scaled.shape[:-2]):
            inverse[index] = _cholesky_inverse(scaled[index], pivot)
    inverse += np.swapaxes(inverse, -1, -2)
    # A column of subnormal squares overflows its inverse's scale: the metric's check of
    # its inverse (see _finite_or_raise) names that, not NumPy's warning.
    with np.errstate(over="ignore"):
        inverse /= 2 * root[..., :, None]
        inverse /= root[..., None, :]
    return _on_device(objective, matrix), _on_device(objective, inverse)


# From this size on, a Cholesky factor's inverse by potri (trtri and lauum, n^3 flops)
# beats solving for the identity by potrs (2 n^3): 1 768 us against 2 807 us at 301, as
# fast at 65, slower below (potri leaves a triangle to mirror).
_POTRI_MIN_SIZE = 64


def _cholesky_inverse(matrix, pivot):
    """The inverse of a symmetric matrix of unit diagonal by its Cholesky factor; raises
    ``LinAlgError`` where a squared pivot is not above ``pivot``."""
    factor, info = scipy.linalg.lapack.dpotrf(matrix, lower=True, clean=False)
    if info != 0 or not factor.diagonal().min() ** 2 > pivot:
        raise np.linalg.LinAlgError("not positive definite, or ill-conditioned")
    if len(matrix) >= _POTRI_MIN_SIZE:
        inverse, info = scipy.linalg.lapack.dpotri(factor, lower=True)
        # potri fills the lower triangle only (the upper holds the factor's).
        inverse = np.tril(inverse)
        inverse += np.tril(inverse, -1).T
    else:
        inverse, info = scipy.linalg.lapack.dpotrs(factor, np.eye(len(matrix)), lower=True)
    if info != 0:
        raise np.linalg.LinAlgError("singular")
    return inverse


def _start_curvature(objective):
    """The loss's local curvature at a raw prediction of zero, the starting point: the
    bound's ``c`` for least squares and the sigmoid, ``(1 - 1/K) / K`` on each class of
    the softmax (whose bound, Böhning's, is 1/2)."""
    loss = objective.loss_function
    if not hasattr(loss, "local_curvatures"):
        return loss.curvature
    zero = np.zeros((1, loss.n_outputs) if loss.raw_ndim == 2 else 1)
    return float(loss.local_curvatures(zero)[0, 0])


def _l1(objective):
    """Whether ``objective`` has an L1 term (whose prox its metrics must take)."""
    penalty = getattr(objective, "l1_penalty", None)
    return penalty is not None and penalty() is not None


def _class_shift(objective):
    """The centring of the softmax's steps (see :class:`Dense`), or None. Not with an L1
    term: the same coefficients added to every class change it, and its optimum is not
    the one whose coefficients sum to zero over the classes."""
    shift_invariant = getattr(objective.loss_function, "shift_invariant", False)
    if not shift_invariant or _l1(objective):
        return None
    # One a fit (kept on the objective): its metrics share the projector it builds.
    shift = objective.__dict__.get("_class_shift")
    if shift is None:
        shift = objective.__dict__["_class_shift"] = _ClassShift(objective)
    return shift


def class_centred(objective, params):
    """``params`` with the coefficients and intercepts the classes share removed where
    the objective is blind to them (the softmax without an L1 term, see :class:`Dense`):
    the same loss, a smaller penalty. A start elsewhere (a warm start after Adam, whose
    per-coordinate steps leave such an offset) stayed there: the metrics' steps keep
    the offset, and their optimality does not see it."""
    shift = _class_shift(objective)
    return params if shift is None else shift.centre(params)


def _centre(objective):
    """The centre L-BFGS's metrics of ``objective`` are taken about (see
    :func:`column_centre`), or None (also for objectives that have none: dask's). Asked
    where a metric is built: it reads the Gram matrix, which a refit may not need."""
    return getattr(objective, "column_centre", None)


def full(objective, local=False):
    """The full metric, a ``(n_cols, n_cols)`` matrix on every output's block.

    ``local=False``: ``M = B``, the bound, in which a step of 1 cannot make the objective
    rise, wherever it is taken: the metric of the rules that take the step they are
    given. ``local=True``: the curvature at the start (zero), ``c_0 X1^T D X1 / S + l2 E``
    with ``c_0`` the loss's local curvature there (:func:`_start_curvature`; no bound
    for the softmax), with ``refresh(w)`` to the curvature at ``w`` (see
    :func:`_refresher`): for the rules that search their own step length (L-BFGS), which
    want the curvature they will meet, not a bound of it.
    """
    curvature = _start_curvature(objective) if local else objective.loss_function.curvature
    ridge = objective.l2_reg_strength * _penalised(objective)
    n_cols = objective.n_features + objective.fit_intercept
    if n_cols > FULL_MAX_COLUMNS and _low_rank_pays(objective) and not _l1(objective):
        return _low_rank(objective, curvature, local)
    if (local and sp.issparse(objective.X) and objective.l2_reg_strength > 0
            and not _l1(objective)
            and (n_cols > FULL_MAX_COLUMNS or _sparse_factors_pay(objective))):
        return SparseFull(curvature * objective.sparse_gram() + scipy.sparse.diags(ridge),
                          objective.n_outputs, objective.n_features,
                          objective.fit_intercept, _class_shift(objective))
    refresh, cost = _refresher(objective) if local else (None, None)
    # L-BFGS's metrics are taken about the columns' centre where they are off it (the
    # bound's, which also gauges other rules' steps, as it is).
    centre = _centre(objective) if local else None
    data = objective.gram() if centre is None else objective.gram(centred=True)
    metric = Full(*_factor_positive(objective, curvature * data, ridge),
                  objective.n_outputs, objective.n_features, objective.fit_intercept,
                  refresh, exact=not hasattr(objective.loss_function, "local_curvatures"),
                  shift=_class_shift(objective) if local else None, centre=centre)
    metric.refresh_epochs = cost
    metric.newton = _newton(objective, refresh, cost) if local else None
    return metric


# Newton's steps past the stopping rule (see skgd._updates.lbfgs) are taken where the
# Hessian costs at most this many microseconds by the cost model (about as much on this
# project's machine): within the fixed cost of a fit, on the small problems whose fits
# are quick anyway.
POLISH_MAX_COST = 2000.0


def _newton(objective, refresh, cost):
    """``newton(w)``, the exact Hessian's metric at ``w``, where it costs at most
    ``POLISH_MAX_COST`` (None elsewhere, and for least squares, whose metric is its
    Hessian from the start)."""
    if refresh is None:
        return None
    if objective.n_outputs == 1:
        # One output: the refit is the Hessian itself.
        return refresh if cost * _pass_cost(objective) <= POLISH_MAX_COST else None
    exact_cost = _refresh_epochs(objective, exact=True)
    if not (hasattr(objective, "local_hessian")
            and exact_cost * _pass_cost(objective) <= POLISH_MAX_COST):
        return None
    if cost == exact_cost and getattr(refresh, "refresh_epochs", None) == exact_cost:
        return refresh
    return _exact_softmax(objective, exact_cost)


def certificate(objective, penalty=None, batch_size=None):
    """``exact(w)``, the metric of the exact Hessian at ``w``, for a full-batch smooth fit
    whose rule steps in a bound (``"gd"``, ``"accelerated"``): the engine measures the
    optimality there too before it stops (see :mod:`skgd._engine`); None where the bound
    is the Hessian (least squares), with a penalty or mini-batches, and where the exact
    Hessian costs more than ``POLISH_MAX_COST``.

    The bound's curvature ``c`` exceeds the cross-entropy's ``p (1 - p)`` as much as the
    predictions are sure: on (nearly) separable classes ``B`` is many orders of magnitude
    above the Hessian, and ``||G||_B`` small says little about the gap.
    """
    if penalty is not None or (batch_size is not None and batch_size < objective.n_samples):
        return None
    if objective.n_features + objective.fit_intercept > FULL_MAX_COLUMNS:
        return None
    return _newton(objective, *_refresher(objective))


def _refresher(objective):
    """``(refresh, cost)``: ``refresh(w)``, the full metric of the curvature at ``w``, and
    its cost in gradient passes; ``(None, None)`` where the curvature does not change
    (least squares) or the objective cannot compute it.

    With one output (the sigmoid) the metric is the Hessian, a weighted Gram matrix:
    Newton's. The softmax's Hessian couples the classes, ``K (p + 1)`` square: it is taken
    exactly (a :class:`Dense` metric) where that costs at most ``EXACT_MAX_EPOCHS``
    passes or about its blocks (:func:`_exact_pays`); otherwise its diagonal blocks
    stand in for it, one weighted Gram matrix a
    class (:meth:`~skgd.losses.LinearObjective.hessian_blocks`), and L-BFGS's memory
    learns the coupling. (One Gram matrix shared by the classes, weighted by their mean
    curvature, took twice the passes on the digits, 79 against 37: which rows are
    uncertain differs from class to class.)
    """
    loss = objective.loss_function
    if not (hasattr(loss, "local_curvatures") and hasattr(objective, "hessian_blocks")):
        return None, None
    shift = _class_shift(objective)
    if objective.n_outputs > 1 and hasattr(objective, "local_hessian"):
        exact_cost = _refresh_epochs(objective, exact=True)
        # With L1 the classes' coupling is the whole Hessian's or none (no memory to
        # learn it): the full metric is taken only where that is cheap.
        if _l1(objective) or _exact_pays(objective, exact_cost):
            return _exact_softmax(objective, exact_cost), exact_cost

    ridge = objective.l2_reg_strength * _penalised(objective)
    exact = objective.n_outputs == 1

    def refresh(w):
        # (Only objectives with a centre take the keyword: dask's have neither.)
        blocks = (objective.hessian_blocks(w) if _centre(objective) is None
                  else objective.hessian_blocks(w, centred=True))
        return refitted(blocks if len(blocks) > 1 else blocks[0])

    def refitted(data):
        """The metric of the data term's curvature ``data`` (about the objective's
        centre) with this L2 term."""
        metric = Full(*_factor_positive(objective, data, ridge),
                      objective.n_outputs, objective.n_features, objective.fit_intercept,
                      refresh, exact=exact, shift=shift, centre=_centre(objective))
        metric.refresh_epochs = cost
        # What M adds to the data's curvature: another objective's L2 term takes its
        # place in a warm start's metric (see rebased).
        metric.ridge = ridge
        return metric

    refresh.refitted = refitted

    cost = _refresh_epochs(objective, exact=False)
    return refresh, cost


def _exact_softmax(objective, cost):
    """``newton(w)``: the metric of the softmax's whole Hessian at ``w`` (a
    :class:`Dense` one, which refreshes itself), ``cost`` passes a refresh."""
    shift = _class_shift(objective)
    flat_ridge = np.append(np.full(objective.n_coef, objective.l2_reg_strength),
                           np.zeros(objective.n_params - objective.n_coef))

    def newton(w):
        centre = _centre(objective)
        data = (objective.local_hessian(w, l2=False) if centre is None
                else objective.local_hessian(w, l2=False, centred=True))
        if objective.fit_intercept:
            # The same intercept for every class changes nothing: the Hessian is 0 along
            # it, and so is every gradient (the probabilities sum to 1). Curvature put
            # there (the outer product of that direction) makes the matrix positive
            # definite and leaves the steps as they were. Of the intercepts' own scale:
            # the whole matrix's (a column of 1e8 beside unit ones) drowned their
            # curvature in its rounding, and the steps left the intercepts where they were.
            block = data[objective.n_coef:, objective.n_coef:]
            lift = block.trace() / block.shape[0]
            block += lift if lift > 0 else 1.0
        return Dense(*_factor_positive(objective, data, flat_ridge), shift, newton,
                     centre)

    newton.refresh_epochs = cost
    return newton


# The largest flat vector whose class centring is a product by a matrix (see
# _ClassShift._projector), 256 x 256 in float64, 0.5 MiB: 3 against 20 us at 15
# parameters, 9 against 19 at 210. Of a square matrix's columns (a refit's inverse) the
# product costs n^3 and pays only up to 64 parameters (24 against 33 us; at 105, 82
# against 41).
PROJECTOR_MAX_PARAMS = 256
PROJECTOR_MAX_MATRIX_PARAMS = 64


class _ClassShift:
    """Removes from a flat vector its mean over the classes, per feature and intercept."""

    def __init__(self, objective):
        self.n_outputs, self.n_features = objective.n_outputs, objective.n_features
        self.n_coef = objective.n_coef
        self._projectors = {}

    def _projector(self, array):
        """The centring as a matrix in ``array``'s dtype, for NumPy vectors of at most
        ``PROJECTOR_MAX_PARAMS`` entries and matrices of at most
        ``PROJECTOR_MAX_MATRIX_PARAMS`` rows (None elsewhere): on small fits one product
        where the reshapes, sums and concatenation below are several calls (a few times
        a step, and once a refit)."""
        n = array.shape[0]
        largest = PROJECTOR_MAX_PARAMS if array.ndim == 1 else PROJECTOR_MAX_MATRIX_PARAMS
        if n > largest or type(array) is not np.ndarray:
            return None
        projector = self._projectors.get((n, array.dtype))
        if projector is None:
            # Each entry's feature (the intercepts' is n_features): the entries a mean
            # over the classes averages.
            feature = np.concatenate([np.tile(np.arange(self.n_features), self.n_outputs),
                                      np.full(n - self.n_coef, self.n_features)])
            projector = np.eye(n) - (feature[:, None] == feature) / self.n_outputs
            projector = self._projectors[n, array.dtype] = projector.astype(array.dtype)
        return projector

    def centre_rows(self, matrix):
        """``centre`` applied to each column of ``matrix`` (a new array)."""
        projector = self._projector(matrix)
        if projector is not None:
            return projector @ matrix
        xp = get_namespace(matrix)[0]
        n_cols = matrix.shape[1]
        coef = xp.reshape(matrix[: self.n_coef, :],
                          (self.n_outputs, self.n_features, n_cols))
        parts = [xp.reshape(coef - xp.sum(coef, axis=0) / self.n_outputs, (-1, n_cols))]
        if matrix.shape[0] > self.n_coef:
            intercept = matrix[self.n_coef:, :]
            parts.append(intercept - xp.sum(intercept, axis=0) / self.n_outputs)
        return xp.concat(parts, axis=0)

    def centre(self, w):
        projector = self._projector(w)
        if projector is not None:
            return projector @ w
        xp = get_namespace(w)[0]
        coef = xp.reshape(w[: self.n_coef], (self.n_outputs, self.n_features))
        # Sums, not means: NumPy's mean costs several times a sum on small arrays, and
        # this runs a few times a step.
        parts = [xp.reshape(coef - xp.sum(coef, axis=0) / self.n_outputs, (-1,))]
        if w.shape[0] > self.n_coef:
            intercept = w[self.n_coef:]
            parts.append(intercept - xp.sum(intercept) / self.n_outputs)
        return xp.concat(parts)


# The cost model of the passes, in microseconds of one core: what decides how often a
# metric is refitted and which seed L-BFGS starts from. Measured on this project's machine
# (one BLAS thread; see docs/performance.md): a gradient pass's products run at about
# 8 000 multiply-adds a microsecond with several outputs and 3 000 with one (a thin
# product waits on memory), its other NumPy work about 5 ns per raw prediction and 40 us
# per pass; a symmetric weighted product X1^T D X1 of n_cols columns runs at 4 000
# sqrt(n_cols / 40) multiply-adds a microsecond (small matrices use the hardware poorly)
# and the factorisation of its result takes n_cols^3 / (2 000 sqrt(n_cols / 65)) us, with
# 50 us of calls a matrix and 40 a batch of them.
# Only ratios of costs are used, so a faster machine cancels; the shape of the costs
# does not, and it is what this model holds.
def _pass_cost(objective):
    """Microseconds of one gradient pass (the raw prediction and the gradient's
    product)."""
    n, n_cols, k = _rows(objective), objective.n_features + objective.fit_intercept, \
        objective.n_outputs
    rate = 8000.0 if k > 1 else 3000.0
    return 2 * n * n_cols * k / rate + 0.005 * n * k + 40.0


def _gram_cost(n, size, count=1, products=1):
    """Microseconds of ``count`` weighted ``size``-square Gram matrices of ``n`` rows
    (each with its copy of the weighted rows, and ``products`` such products: two for the
    softmax's exact Hessian) and their factorisation, in one call."""
    gram = n * size * size / 2 / (4000.0 * math.sqrt(max(size, 1) / 40)) + 0.001 * n * size
    return count * (products * gram + size**3 / (2000.0 * math.sqrt(max(size, 1) / 65))
                    + 50.0) + 40.0


# The most gradient passes' work a quasi-Newton rule's seed metric may cost (by
# _seed_epochs' count): with the full bound as seed L-BFGS took 0.4-0.7x the time of the
# diagonal seed on dense tables of 5 000-20 000 rows and 50-60 columns, 0.1x on one-hot
# tables and 0.4x on 10 000 x 1 000. Beyond the threshold the diagonal is taken.
SEED_EPOCHS = 200
# Up to this many columns the full bound costs milliseconds at most, and it is kept: it
# solves least squares in one step, where the diagonal seed leaves L-BFGS to learn all.
SEED_MIN_COLUMNS = 256
# Beyond SEED_MIN_COLUMNS, a loss whose curvature changes (the cross-entropy) takes the
# full seed only with at least this many rows a column. With fewer, the classes are
# nearly separable, the curvature at the optimum is far from the start's, refits of the
# full metric do not pay, and applying it costs a pass's share per step (3 products of
# K n_cols^2 against 2 n n_cols K): on dense 1 000 x 1 000 with 10 classes the full seed
# took 81 epochs and 1.06 s, the diagonal 52 and 0.23 s; at 2 000, 3 000 and 5 000 rows
# 830 / 396, 1 077 / 719 and 1 599 / 2 309 ms (full / diagonal), with two classes at
# 3 000 and 5 000 rows 431 / 524 and 266 / 992 ms; 1 000 x 300 (10 classes) 112 / 69.
SEED_MIN_ROWS_PER_COLUMN = 4
# ... and with one output (two classes) this many: its refits are the exact Hessian,
# Newton's steps, which pay from fewer rows. At 3 to 4 rows a column (mixed columns) the
# full seed took 0.45x-0.71x the diagonal's time: 2 000 x 500 43 against 114 ms, 3 000 x
# 800 163 against 360, 1 200 x 400 45 against 63; at 3 as much (1 500 x 500, 72 and 71),
# at 2.5 more (2 500 x 1 000, 467 against 357).
SEED_MIN_ROWS_PER_COLUMN_ONE_OUTPUT = 3


def _seed_epochs(objective):
    """How many gradient passes' work the full seed costs: its Gram matrix and its
    factorisation. Rows as in :func:`_rows`."""
    n_cols = objective.n_features + objective.fit_intercept
    return _gram_cost(_rows(objective), n_cols) / _pass_cost(objective)


# The softmax's exact Hessian is refreshed where it costs at most this many gradient
# passes; beyond, its diagonal blocks stand in for it (see _refresher).
EXACT_MAX_EPOCHS = 2
# ... or where it costs at most this many times the blocks: on small problems both are
# mostly the calls' fixed costs, and the exact Hessian's Newton steps converge
# quadratically where the blocks' do not (iris: 11 epochs against 15, wine 13 against
# 15, 0.75x and 0.8x the time).
EXACT_OVER_BLOCKS = 1.5


def _exact_pays(objective, exact_cost=None):
    """Whether the softmax's refits take its exact Hessian rather than its blocks."""
    if exact_cost is None:
        exact_cost = _refresh_epochs(objective, exact=True)
    return exact_cost <= max(EXACT_MAX_EPOCHS,
                             EXACT_OVER_BLOCKS * _refresh_epochs(objective, exact=False))


def _refresh_epochs(objective, exact):
    """How many gradient passes' work a refresh of the local metric costs, by the cost
    model above: a pass for the raw prediction and the weighted Gram matrices with their
    factorisations, one ``K n_cols`` square for the softmax's exact Hessian (two
    products), one ``n_cols`` square a class for its diagonal blocks (and for one output).

    Rows are counted by their weight (see :func:`_rows`), so that weighting a row by 2
    and repeating it give the same schedule, hence the same fit.
    """
    n, n_cols, k = _rows(objective), objective.n_features + objective.fit_intercept, \
        objective.n_outputs
    gradient = _pass_cost(objective)
    if exact:
        # Two products, one factorisation and one call's fixed cost. Counting all of it
        # twice put the exact Hessian of wine (178 x 13, 3 classes) at 9 passes and of
        # iris at 6, where it took 4.4 and 3.0 (one BLAS thread, timed alone; 6 and 4
        # now): their fits refitted too rarely, 15 and 11 epochs, 11 and 9 now (wine
        # 3.08-3.14 -> 2.93-3.02 ms, iris 2.69-2.72 -> 2.50-2.51 ms).
        blocks = _gram_cost(n, k * n_cols, products=2)
    else:
        blocks = _gram_cost(n, n_cols, count=k)
    return max(1, math.ceil((gradient / 2 + blocks) / gradient))


# The most rows the weights are taken to stand for (see _rows).
_MOST_ROWS = 2.0 ** 64


def _rows(objective):
    """The rows the sample weights stand for, ``S / min s`` over the positive weights: a
    row of weight 2 counts as two rows, as repeating it does, and the weights' overall
    scale does not count (weights of 1/n or 1e-6 describe the same fit as weights of 1).
    A dask fit's weights stay on the cluster: their smallest is one more execution
    there, so that the schedule, hence the fit, is the NumPy fit's."""
    weight = objective.sample_weight
    if weight is None:
        return objective.total_weight
    if type(weight).__module__.startswith("dask."):
        import dask.array

        smallest = float(dask.array.where(weight > 0, weight, np.inf).min().compute())
    else:
        weight = to_numpy(weight)
        smallest = float(np.min(weight, initial=np.inf, where=weight > 0))
    # No positive weight: the sum is 0, which the objective reports with its own error.
    # Weights 1e308 apart count as 1e308 rows and more: capped, so that the cost model's
    # ratios stay finite (an infinite count made them NaN, a bare ValueError).
    return min(objective.total_weight / smallest, _MOST_ROWS) if math.isfinite(smallest) \
        else objective.total_weight


def _jacobi_scale(objective, diagonal):
    """``lambda_max(diag^-1/2 B diag^-1/2)``: how far the Jacobi metric must be scaled up
    to majorise ``B``."""
    n_cols = diagonal.size
    root = np.sqrt(diagonal)
    if n_cols < GRAM_MAX_COLUMNS:
        scaled = bound(objective) / root[:, None] / root[None, :]
        return float(np.linalg.eigvalsh(scaled)[-1])
    curvature, l2 = objective.loss_function.curvature, objective.l2_reg_strength
    penalised = _penalised(objective)[:, None]

    def product(basis):
        unscaled = basis / root[:, None]
        image = curvature * objective.gram_product(unscaled) + l2 * penalised * unscaled
        return image / root[:, None]

    # A scale to a few per cent is all the metric needs: a coarse power iteration (a
    # third of the passes of a fine one) and a margin above its estimate, which is a
    # lower bound of the eigenvalue.
    return (1 + _SCALE_RTOL) * top_eigenvalue(product, n_cols, rtol=_SCALE_RTOL,
                                              block_size=4)


# How closely the power iteration of the diagonal metric's scale converges.
_SCALE_RTOL = 2e-2


def diagonal(objective, local=False):
    """The diagonal metric over the flat vector.

    ``local=False``: ``M = s * diag(B)``, the scaled Jacobi metric, the smallest multiple
    of ``diag(B)`` that still majorises ``B`` (:func:`_jacobi_scale`). ``local=True``: the
    diagonal of the curvature at the start, unscaled (a rule that searches its step needs
    no bound, and is spared the power iteration), with ``refresh(w)`` to the diagonal of
    the Hessian at ``w``, each class's own for the softmax (of
    :meth:`~skgd.losses.LinearObjective.hessian_blocks`, one weighted pass over the
    squares of X; two passes' work with the raw prediction's); on sparse X with frequent
    columns, a :class:`Split` metric, whose blocks over them are refitted with it.
    """
    penalised = objective.l2_reg_strength * _penalised(objective)
    curvature = _start_curvature(objective) if local else objective.loss_function.curvature
    diag = _positive(curvature * objective.gram_diagonal() + penalised)
    if not local:
        return _diagonal(objective, np.tile(diag * _jacobi_scale(objective, diag),
                                            (objective.n_outputs, 1)))
    shift = _class_shift(objective)
    heavy, block_passes = _heavy_columns(objective)
    local_curvature = (hasattr(objective.loss_function, "local_curvatures")
                       and hasattr(objective, "hessian_block_diagonals"))
    if heavy is None:
        refresh = None
        if local_curvature:
            def refresh(w):
                # Sure predictions (unpenalised, separable rows) take p (1 - p) to
                # underflow, and the inverse to overflow: no coordinate's curvature
                # falls below LOCAL_CURVATURE_FLOOR of its curvature at the start.
                blocks = np.maximum(objective.hessian_block_diagonals(w) + penalised,
                                    LOCAL_CURVATURE_FLOOR * diag)
                metric = _diagonal(objective, _positive(blocks), refresh, shift)
                metric.refresh_epochs = DIAGONAL_REFRESH_EPOCHS
                return metric

        metric = _diagonal(objective, np.tile(diag, (objective.n_outputs, 1)), refresh,
                           shift)
        metric.refresh_epochs = None if refresh is None else DIAGONAL_REFRESH_EPOCHS
        return metric
    return _split_metric(objective, heavy, block_passes, diag, penalised, shift,
                         local_curvature)


def _split_metric(objective, heavy, block_passes, diag, penalised, shift, local_curvature):
    """:func:`diagonal`'s local metric with dense blocks over the ``heavy`` columns of
    sparse X and the intercept (:class:`Split`), each class's, from the curvature at the
    start; ``refresh(w)`` refits both to the Hessian at ``w``, as often as their cost
    allows (refitting the diagonal alone between the blocks' refits, tried, mixed two
    curvatures and took more epochs: 53 against 34 on text-like X with 10 classes)."""
    columns = objective.once(("heavy_columns", tuple(heavy)),
                             lambda: objective.X[:, heavy].tocsr())
    floor = LOCAL_CURVATURE_FLOOR * diag
    index = heavy if not objective.fit_intercept else np.append(heavy,
                                                                objective.n_features)
    refresh_epochs = DIAGONAL_REFRESH_EPOCHS + block_passes

    def refitted(diagonals, factor):
        refresh = None
        if local_curvature:
            def refresh(w):
                diagonals, blocks = objective.hessian_block_diagonals(w, columns)
                return refitted(_positive(np.maximum(diagonals + penalised, floor)),
                                _block_factor(objective, blocks, penalised[index],
                                              floor[index]))

        metric = _split(objective, diagonals, factor, heavy, refresh, shift)
        metric.refresh_epochs = None if refresh is None else refresh_epochs
        return metric

    weight = objective.sample_weight
    weight = _start_curvature(objective) * (
        np.ones(objective.n_samples) if weight is None else to_numpy(weight))
    # At the start every class's block is the same: one Gram matrix and one factor,
    # which the metric broadcasts over the classes.
    start = column_grams(columns, weight[:, None], objective.fit_intercept,
                         objective.total_weight)
    factor = _block_factor(objective, start, penalised[index], floor[index])
    return refitted(np.tile(diag, (objective.n_outputs, 1)), factor)


# The least share of its curvature at the start that a refitted diagonal keeps.
LOCAL_CURVATURE_FLOOR = 1e-12
# What a refit of the diagonal metric counts as, in gradient passes (its own work is a
# pass over the squares of X; the raw prediction is the gradient's). Counted at 8, a refit
# every 4 passes: on text-like CSR X (20 000 x 30 000) with 3 classes 66 epochs and 0.76x
# the time of a refit every pass (69), 0.9x that of every second; with 2 classes the
# epochs do not change and the time falls with the refits (0.76x).
DIAGONAL_REFRESH_EPOCHS = 8
# Sparse X's columns in at least HEAVY_MIN_SHARE of the rows and HEAVY_MIN_ROWS rows (at
# most HEAVY_MAX_COLUMNS, the most frequent first) get a dense block in L-BFGS's local
# diagonal metric (see Split), as many as the block's refit keeps within
# HEAVY_BLOCK_PASSES gradient passes of work (which a refit then counts beside the
# diagonal's). Text-like CSR X (20 000 x 30 000, 10 classes) with blocks of 16, 32 and
# 112 columns: 33, 27 and 34 epochs (0.51, 0.42 and 0.59-0.66 s; the diagonal alone 230
# epochs, 3.9 s); one-hot of 20 categoricals (30 000 x 3 552, 5 classes) with 64, 128
# and 166: 155, 85 and 63 epochs (1.47, 0.87 and 0.61 s; the diagonal alone 818, 6.0 s).
# Refits at a quarter of the blocks' cost took text to 20 epochs (0.43 s) and the
# one-hot to 1.07 s.
HEAVY_MIN_SHARE = 1 / 64
HEAVY_MIN_ROWS = 50
HEAVY_MAX_COLUMNS = 256
HEAVY_BLOCK_PASSES = 256


def _heavy_columns(objective):
    """``(columns, passes)``: the columns of sparse X that :class:`Split` holds in a dense
    block, sorted (None where there are none), and the gradient passes' work a refit of
    the blocks costs. The columns are those in at least ``HEAVY_MIN_SHARE`` of the rows
    and ``HEAVY_MIN_ROWS`` rows, the most frequent first, as many as fit
    ``HEAVY_BLOCK_PASSES`` passes of a sparse gradient (about 2 nnz K multiply-adds) by
    the cost model of ``K`` dense blocks."""
    X = objective.X
    if not (sp.issparse(X) and is_numpy(objective.xp)) or X.nnz == 0:
        return None, 0
    n, k = X.shape[0], objective.n_outputs
    counts = np.bincount(X.tocsr().indices, minlength=X.shape[1])
    size = HEAVY_MAX_COLUMNS
    sparse_pass = 2 * X.nnz * k / _SPARSE_RATE + 40.0

    def cost(size):
        return _gram_cost(n, size + objective.fit_intercept, count=k)

    while size and cost(size) > HEAVY_BLOCK_PASSES * sparse_pass:
        size //= 2
    order = np.argsort(-counts, kind="stable")[:size]
    order = order[counts[order] >= max(HEAVY_MIN_SHARE * n, HEAVY_MIN_ROWS)]
    if not len(order):
        return None, 0
    return np.sort(order), math.ceil(cost(len(order)) / sparse_pass)


# Multiply-adds a microsecond of a sparse product X @ W (one BLAS thread; 351 000
# nonzeros times 10 columns, both ways, in 5 ms).
_SPARSE_RATE = 1400.0


def column_grams(columns, weights, fit_intercept, total_weight):
    """:func:`grams` of sparse ``columns`` (a CSR matrix of a few of X's columns), made
    dense a row block at a time: ``(K, m, m)``, host float64."""
    total = 0.0
    for block, weight in dense_row_blocks(columns, weights):
        total = total + grams(block, weight, fit_intercept, total_weight)
    return total


def _block_factor(objective, blocks, ridge, floor):
    """``(M, M^-1)`` of the blocks ``(n_outputs, m, m)`` of :class:`Split` (or one
    ``(1, m, m)`` for every output), the data term's, with the L2 term's ``ridge`` and
    the ``floor`` on their diagonals, on X's device (:func:`_factor_positive`: Cholesky,
    or the pseudo-inverse where heavy columns are collinear without an L2 term, as a
    categorical's levels beside the intercept)."""
    data = np.array(blocks, dtype=np.float64)
    diagonal = np.einsum("kii->ki", data)  # a view: the floor goes in place
    diagonal[...] = np.maximum(diagonal + ridge, floor) - ridge
    return _factor_positive(objective, data, ridge)


def _split(objective, diagonals, factor, heavy, refresh, shift):
    """The :class:`Split` metric of each output's diagonal (``(n_outputs, n_cols)``) and
    the ``factor`` of its blocks over the ``heavy`` columns and the intercept
    (:func:`_block_factor`)."""
    metric = _diagonal(objective, diagonals, refresh, shift)
    n_features, k = objective.n_features, objective.n_outputs
    columns = (np.arange(k)[:, None] * n_features + heavy).astype(np.intp)
    if objective.fit_intercept:
        columns = np.column_stack([columns, objective.n_coef + np.arange(k)])
    weights = metric.weights.copy()
    weights[columns] = 0
    return Split(weights, metric._inverse, columns, *factor, refresh, shift)


def _positive(diag):
    """A column of zeros has no curvature: any positive weight majorises it."""
    return np.where(diag > 0, diag, max(float(diag.max()), 1.0))


def _diagonal(objective, blocks, refresh=None, shift=None):
    """The :class:`Diagonal` metric of each output's host diagonal (``(n_outputs,
    n_cols)``), over the flat vector."""
    n_features = objective.n_features
    flat = blocks[:, :n_features].ravel()
    if objective.fit_intercept:
        flat = np.append(flat, blocks[:, n_features])
    with np.errstate(over="ignore", divide="ignore"):
        inverse = 1 / flat
    return Diagonal(_on_device(objective, flat), _on_device(objective, inverse), refresh,
                    shift)


PRECONDITIONERS = {"full": full, "diagonal": diagonal}


def resolve(name, objective, *, batch_size=None, streaming=False, l1=False,
            adaptive=False, learned=False):
    """The preconditioner that ``name`` stands for on this problem, or None.

    ``"auto"`` picks ``"full"`` where the ``p x p`` bound is cheap enough to factor and
    ``"diagonal"`` beyond (wide or wide sparse X never builds a ``p x p`` matrix). An L1
    penalty needs an exact prox, which the diagonal metric has: ``"full"`` falls back to
    it, majorised (see :func:`diagonal`). ``"auto"`` keeps the Euclidean metric for
    mini-batches, whose per-sample bound in a metric fitted to the average is larger than
    that metric gains; for streams (``partial_fit``), whose first batch need not
    represent the rest, and a metric fitted to it would be kept for all; and for adaptive
    rules (Adam), which scale each coordinate themselves. A rule that ``learned`` the
    curvature from its gradients (L-BFGS) needs of the metric only a seed: beyond
    ``SEED_MIN_COLUMNS`` columns the full bound is built only where that costs at most
    ``SEED_EPOCHS`` gradient passes and, for the cross-entropy, X has at least
    ``SEED_MIN_ROWS_PER_COLUMN`` rows a column (``SEED_MIN_ROWS_PER_COLUMN_ONE_OUTPUT``
    for one output), or, for sparse X, where its Gram matrix is
    sparse (see :func:`_sparse_gram_pays`).
    """
    if name is None:
        return None
    if name == "auto":
        if adaptive or streaming or (batch_size is not None
                                     and batch_size < objective.n_samples):
            return None
        n_cols = objective.n_features + objective.fit_intercept
        name = "full" if n_cols <= FULL_MAX_COLUMNS else "diagonal"
        if learned and n_cols > SEED_MIN_COLUMNS and (
                _seed_epochs(objective) > SEED_EPOCHS
                or (hasattr(objective.loss_function, "local_curvatures")
                    and _rows(objective) < n_cols * (
                        SEED_MIN_ROWS_PER_COLUMN if objective.n_outputs > 1
                        else SEED_MIN_ROWS_PER_COLUMN_ONE_OUTPUT))):
            name = "diagonal"
        if name == "diagonal" and ((_low_rank_pays(objective)
                                    and _low_rank_refits_pay(objective, learned))
                                   or (learned and _sparse_gram_pays(objective))):
            name = "full"
    if name == "full" and l1:
        return "full" if learned and _exact_prox_pays(objective) else "diagonal"
    return name


# An L1 term's prox in the full metric (:func:`quadratic_l1`) solves linear systems in
# the nonzero coefficients of each output, twice a step (the rule's and the optimality's):
# up to n_cols^3 / 3 multiply-adds each where a gradient pass costs about n n_cols. It is
# taken where that costs at most PROX_PASSES passes, n_cols^2 <= 3 PROX_PASSES n; wider
# problems keep the diagonal metric, whose prox is a soft threshold.
PROX_MAX_COLUMNS = 512
PROX_PASSES = 8


def _exact_prox_pays(objective):
    """Whether an L1 fit takes the full metric and its exact prox (L-BFGS's rule then
    takes proximal Newton steps, see skgd._updates.lbfgs): at most ``PROX_MAX_COLUMNS``
    columns (over every class for the softmax) whose system costs at most
    ``PROX_PASSES`` passes. (The prox is the host's work on the metric's small matrix,
    whatever holds X.)"""
    n_cols = objective.n_features + objective.fit_intercept
    if getattr(objective.loss_function, "shift_invariant", False):
        # The softmax: its class blocks leave the classes' coupling to the memory that
        # a proximal step cannot keep (digits, alpha = 1/n: 127 epochs, 0.74 s, against
        # the accelerated gradient's 1 000 in the diagonal metric, 0.37 s); its whole
        # Hessian, one system over every class, where that is as cheap.
        n_cols *= objective.n_outputs
    return (n_cols <= PROX_MAX_COLUMNS
            and n_cols ** 2 <= 3 * PROX_PASSES * _rows(objective))


# Sparse X gets the full metric as a sparse matrix (for L-BFGS, beyond FULL_MAX_COLUMNS)
# where its Gram matrix has at most this many nonzeros per nonzero of X: columns that meet
# in few rows, as one-hot categories do. There its LU factors stay sparse (on the InstEval
# table, 73 421 x 4 126: the Gram matrix has 0.6 nonzeros per nonzero of X, its factors
# 1.2 M, built in 0.35 s; L-BFGS then took 5 passes to a gap of 1e-6 where the diagonal
# seed took 45, with five classes 10 where it took 150). Text-like X, whose columns meet
# in many rows (6.3 there), would fill its factors: it keeps the diagonal. The Gram
# matrix is built to be counted only where rows have at most SPARSE_ROW_MAX_NNZ
# nonzeros on average (a handful of categories and numbers): a pair of nonzeros of a
# row is a nonzero of it, and the product costs about one such pair a row's nonzero.
SPARSE_GRAM_MAX_NNZ = 1.0
SPARSE_ROW_MAX_NNZ = 16


# The full metric is held through X (LowRank) where a step in it, two triangular solves
# with its n x n factor (2 n^2), costs at most this many gradient passes (2 nnz(X) each),
# and the factor (n^3 / 3) at most SEED_EPOCHS passes. Text-like CSR X has far fewer
# nonzeros than n^2: on 8 000 x 20 000 with 20 a row, the metric took 30 s where the
# diagonal took 44 ms (to the same gap); dense X of 20 x 2000 takes it in 2 epochs.
LOW_RANK_STEP_PASSES = 4


def _low_rank_pays(objective):
    """Whether the full metric is held through X (:class:`LowRank`): NumPy or SciPy X of
    at most half as many rows (of positive weight) as columns, with an L2 term, whose
    ``n x n`` kernel matrix costs less than a ``p x p`` Gram matrix would, and whose steps
    and factor cost few passes over X (``LOW_RANK_STEP_PASSES``)."""
    X = objective.X
    if not (is_numpy(objective.xp) and objective.l2_reg_strength > 0):
        return False
    weight = objective.sample_weight
    rows = X.shape[0] if weight is None else int(np.count_nonzero(to_numpy(weight)))
    n, nnz = X.shape[0], X.nnz if sp.issparse(X) else X.size
    return (2 * rows <= objective.n_features and n**2 <= LOW_RANK_STEP_PASSES * nnz
            and n**3 / 3 <= SEED_EPOCHS * 2 * nnz)


# A cross-entropy's L-BFGS refits the low-rank metric to the local curvature (a kernel an
# output, each ``n^2 p``, see _low_rank) and solves three times a step in it (each two
# products with X): "auto" takes it only where its kernels cost at most this many
# gradient passes (by _gram_cost's count). Beyond, the diagonal metric (its first step
# kept short, see skgd._updates.lbfgs) took 0.1x-0.5x the time, to gaps of 1e-7 or below
# with two classes: dense 200 x 2 000, 6.4 against 21.5 ms; 1 000 x 2 100, 54 against 608;
# five classes 200 x 7 000, 82 against 367 ms. Least squares keeps it, exact in 2 epochs.
LOW_RANK_REFIT_PASSES = 10


def _low_rank_refit_passes(objective):
    """The gradient passes a refit of the low-rank metric costs: a kernel an output, n x n
    from p columns, a Gram matrix with rows and columns swapped, by the cost model."""
    return (_gram_cost(objective.n_features, objective.n_samples, count=objective.n_outputs)
            / _pass_cost(objective))


def _low_rank_refits_pay(objective, learned):
    """Whether the low-rank metric's refits (L-BFGS's, of a loss whose curvature
    changes) cost at most ``LOW_RANK_REFIT_PASSES`` gradient passes; True where it is not
    refitted."""
    return not (learned and hasattr(objective.loss_function, "local_curvatures")) \
        or _low_rank_refit_passes(objective) <= LOW_RANK_REFIT_PASSES


def _sparse_gram_pays(objective):
    """Whether the full metric of sparse X is kept sparse (see ``SPARSE_GRAM_MAX_NNZ``)."""
    # Without an L2 term one-hot columns beside the intercept make it singular (a
    # categorical's columns sum to the intercept's): the diagonal metric serves there.
    if not (sp.issparse(objective.X) and hasattr(objective, "sparse_gram")
            and objective.l2_reg_strength > 0):
        return False
    if objective.X.nnz > SPARSE_ROW_MAX_NNZ * objective.X.shape[0]:
        return False
    return objective.sparse_gram().nnz <= SPARSE_GRAM_MAX_NNZ * objective.X.nnz


# The cross-entropy takes the sparse seed from 257 to 1024 columns (see
# _sparse_factors_pay) with at most this many rows a column.
SPARSE_SEED_MAX_ROWS_PER_COLUMN = 64


def _sparse_factors_pay(objective):
    """Whether L-BFGS on sparse X of up to ``FULL_MAX_COLUMNS`` columns (and more than
    ``GRAM_MAX_COLUMNS``) takes its full metric sparse (:class:`SparseFull`), as beyond
    them: its sparse factors beat the dense factorisation where the Gram matrix has at
    most ``SPARSE_GRAM_MAX_NNZ`` nonzeros per nonzero of X (least squares on baseball's
    14 165 x 951 CSR table of players one-hot: 0.16 of them, 22 ms against the dense
    metric's 65 ms, both in 2 epochs). Least squares loses nothing (its metric is the
    Hessian); the cross-entropy its refits to the Hessian, which at these widths and
    with few rows a column (``SPARSE_SEED_MAX_ROWS_PER_COLUMN``) took the same epochs
    where they were measured (real one-hot tables of 262 to 1 008 columns and 2 to 9
    classes: 0.15x to 0.57x the time on five fits, 0.77x to 1.05x on seven, the same
    epochs and objective to 10 digits).
    The sparse product that counts them (about ``sum_i nnz_i^2``) is tried only where it
    costs less than the dense factorisation (``n_cols^3 / 3``), so a Gram matrix that
    does not pay costs at most that again.
    """
    X = objective.X
    n_cols = objective.n_features + objective.fit_intercept
    if n_cols <= GRAM_MAX_COLUMNS or not isinstance(X, sp.csr_matrix | sp.csr_array):
        return False
    if (hasattr(objective.loss_function, "local_curvatures")
            and objective.n_samples > SPARSE_SEED_MAX_ROWS_PER_COLUMN * n_cols):
        # Many rows a column: the cross-entropy's curvature moves far from the start's,
        # and the dense metric's refits pay (58 788 x 436, 135 rows a column: 23 epochs
        # refitted, 110 in the sparse seed, 1.6 times the time; a helper's survey).
        return False
    pairs = float(np.sum(np.diff(X.indptr).astype(np.float64) ** 2))
    if pairs > n_cols**3 / 3:
        return False
    # ... and where it is mostly zeros: a Gram matrix that fills (columns that all meet)
    # has no sparse factors to gain, however many nonzeros X has. One with more nonzeros
    # than X pays too where its factors are a Schur complement's on a quarter of the
    # columns at most (see _sparse_factor; 1/64 of the dense factorisation's work):
    # levels of one-hot columns beside a few numbers that meet them all (3 000 rows of
    # 1 000 families and 8 raw numbers: 3.7 ms against the dense metric's 56 ms).
    gram = objective.sparse_gram()
    if gram.nnz > n_cols**2 / 4:
        return False
    return (gram.nnz <= SPARSE_GRAM_MAX_NNZ * X.nnz
            or np.count_nonzero(~_independent_columns(gram)) <= n_cols / 4)


def rebased(previous, metric):
    """The warm start's metric: ``previous``, the curvature another fit on the same data
    refitted its :func:`full` metric to (a regularisation path's alpha before, whose
    solution the warm start begins at), with the L2 term of ``metric``'s objective (the
    new fit's own metric, fitted at the origin), refitted as that one is from then on;
    None where either is no such metric.

    The first steps are then taken in the curvature where the fit begins, not the
    origin's, for the cost of a factorisation. (Refitting at the start instead took the
    digits' path from 0.247 to 0.210 s, but 5 classes on 60 000 rows, where the origin's
    curvature is close, from 1.59 to 2.07 s: a Hessian's worth of passes each.)"""
    ridge = getattr(previous, "ridge", None)
    refitted = getattr(getattr(metric, "refresh", None), "refitted", None)
    matrix = getattr(previous, "matrix", None)
    if (ridge is None or refitted is None or not isinstance(matrix, np.ndarray)
            or matrix.shape[-1] != metric.matrix.shape[-1]):
        return None
    data = matrix.astype(np.float64)
    np.einsum("...ii->...i", data)[...] -= ridge  # a view of the copy's diagonals
    return refitted(data)


def without_refits(metric):
    """``metric`` without its ``refresh`` and ``newton`` (which hold the objective, hence
    X): what an estimator keeps, and pickles, for ``partial_fit`` to continue in.

    A :class:`SparseFull`, :class:`LowRank` or :class:`Split` metric gives its
    diagonal: the bound of a stream's steps takes each row's ``x1^T M^-1 x1``, which
    those give only at the cost of a solve a row.
    """
    if isinstance(metric, SparseFull | LowRank | Split):
        return metric.diagonal()
    if getattr(metric, "refresh", None) is None and getattr(metric, "newton", None) is None:
        return metric
    frozen = copy.copy(metric)
    frozen.refresh = frozen.newton = None
    return frozen


def gauge(metric, objective, penalty=None, batch_size=None):
    """The metric that measures optimality when the step is taken in ``metric``: the bound
    ``B`` itself (see :func:`full`), where the step is Euclidean (``preconditioner=None``,
    Adam, mini-batches under ``"auto"``) and smooth, and X narrow enough for its Gram
    matrix; else None, the step's own metric.

    A small Euclidean gradient says little about the gap on ill-conditioned data; its norm
    in ``B^-1`` (about twice the gap for least squares) does, so the stopping rule means
    the same with and without a preconditioner, and the optimality a mini-batch fit
    measures after its last epoch is a share of the gap at the start (its square, exactly,
    for least squares).
    """
    if not gauged(metric.name, objective, penalty, batch_size):
        return None
    return _shared(objective, ("gauge", objective.l2_reg_strength),
                   lambda: without_refits(full(objective)))


def gauged(name, objective, penalty=None, batch_size=None):
    """Whether a fit stepping in the metric ``name`` measures its optimality in a gauge
    (see :func:`gauge`)."""
    return (name is None and penalty is None
            and objective.n_features + objective.fit_intercept < GRAM_MAX_COLUMNS)


def make_metric(name, objective, local=False):
    """The metric object for a resolved preconditioner name (None: Euclidean); ``local``:
    the curvature at the start, refreshed along the way, in place of the bound (for rules
    that search their own step length; see :func:`full`)."""
    if name is None:
        return Euclidean()
    return _shared(objective, (name, objective.l2_reg_strength, local, _l1(objective)),
                   lambda: PRECONDITIONERS[name](objective, local=local))


def _shared(objective, key, compute):
    """A metric of the data and the L2 strength, kept for the objectives that share them
    (the learning rates of a search; see ``LinearObjective.once``). Metrics are never
    changed once built: a refit makes a new one."""
    once = getattr(objective, "once", None)
    return compute() if once is None else once(key, compute)


def step_bound(metric, objective, batch_size=None):
    """The Lipschitz constant of the gradient in ``metric``: ``lr = 1 / step_bound`` is the
    step that cannot make full-batch descent diverge.

    A majorising metric has 1 for the full batch; for mini-batches, the per-sample
    curvature in that metric enters as in :func:`lipschitz`.
    """
    return _bounds(metric, objective, batch_size)[0]


def _bounds(metric, objective, batch_size, full=None):
    """``(mini, last)``: the Lipschitz constant of ``batch_size``'s mini-batch gradients in
    ``metric`` (the full batch's where None), and the factor of an epoch's short last
    batch (:func:`_epoch`). ``full``: the data term's full-batch constant where known."""
    compute, block_inverse, l2 = _constants(metric, objective)
    curvature = objective.loss_function.curvature
    return _epoch(objective, batch_size, compute if full is None else full,
                  lambda: curvature * _largest(objective, block_inverse(), metric.centre),
                  l2)


def _largest(objective, inverse, centre=None):
    """The largest per-sample ``x1_i^T A x1_i`` of ``F``, the rows' weights relative to
    their mean included (see :func:`row_norms`)."""
    return row_norms(objective.X, objective.fit_intercept, inverse,
                     objective.sample_weight, centre)[0]


def _constants(metric, objective):
    """``(full(), block_inverse(), l2)``: the full-batch Lipschitz constant of the
    gradient in ``metric`` without ``l2``, the inverse of the metric's block, which the
    per-sample constants ``c x1^T A x1`` take (None: the identity), both computed when
    called (a pass over X; only mini-batches and streams need the second), and the L2
    term's share."""
    if isinstance(metric, Euclidean):
        curvature = objective.loss_function.curvature
        return (lambda: curvature * _top_eigenvalue(objective), lambda: None,
                objective.l2_reg_strength)

    def block_inverse():
        inverse = to_numpy(metric._inverse).astype(np.float64)
        if not isinstance(metric, Full):
            # One block's diagonal: the first output's coefficients, then its intercept.
            n_features = objective.n_features
            inverse = np.append(inverse[:n_features],
                                inverse[objective.n_coef:objective.n_coef + 1])
        return inverse

    # M >= l2 E, so the L2 term adds at most 1 to each sample's constant in the metric.
    l2 = 1.0 if objective.l2_reg_strength else 0.0
    return lambda: 1.0 - l2, block_inverse, l2


class StepSize(NamedTuple):
    """A fit's base step, and the factor of the step of an epoch's short last batch."""

    learning_rate: float
    last_batch: float = 1.0


def step_size(objective, metric, gauge, learning_rate, *, adaptive=False, batch_size=None,
              momentum=0.0, averaged=False):
    """The base step of a fit (a :class:`StepSize`): a float ``learning_rate`` itself in
    the Euclidean metric,
    and a multiple of the step that cannot diverge in a curvature metric, of which
    ``"auto"`` is 1 (``1/L`` where ``L`` is the largest eigenvalue of the bound in the
    metric, or of the ``gauge`` that holds it for a Euclidean step). An ``adaptive``
    rule (Adam) takes :func:`adam_step` for ``"auto"``.

    ``"auto"`` on mini-batches is ``1 / (2 L_b)``, with ``L_b`` the bound of
    :func:`_epoch`: Gower et al.'s step (2019, Theorem 3.1). At ``1 / L_b`` the
    iterates of noisy gradients spread as widely as the noise itself (a batch of one row
    moves the intercept onto that row's target); at half of it, a third as widely.
    Where the fit stands for the iterates' average (``averaged``), that spread is not the
    model's: ``"auto"`` is ``1 / L_b`` there, the whole step of the bound (still inside
    the stable range, below ``2 / L_b``). The average's error from the noise does not grow
    with the step, and its error from the start falls as ``1 / (step * updates)^2``
    (Défossez and Bach, 2015, for least squares); with the cross-entropy the average
    settles ``O(step)`` from the minimum, where a smaller rate or a decay takes it further.

    ``"auto"`` with the heavy-ball or Nesterov ``momentum`` ``mu`` (the estimators pass it
    where the rate may fall or the gradients are noisy) is ``1 - mu`` times that: a
    gradient then moves the point by the safe step in all (``lr / (1 - mu)`` over the
    steps that follow), in the middle of the range where heavy ball converges on any
    smooth convex objective, ``(0, 2 (1 - mu) / L)`` (Ghadimi et al., 2015). A larger one
    coasts: after a decay cuts the rate, the momentum of the earlier, larger steps
    carries the point far past the minimum, and a mini-batch's noise is amplified
    ``1 / (1 - mu)``-fold. (At a constant rate on the full batch, ``1 / L`` is stable for
    heavy ball, ``lr lambda < 2 (1 + mu)`` on a quadratic, and the momentum accelerates.)

    Where the epoch's last batch holds fewer rows, its step is scaled down to its own
    bound (see :func:`_epoch`), whenever the step comes from the bound.
    """
    auto = learning_rate == "auto"
    if adaptive:
        return StepSize(adam_step(objective) if auto else float(learning_rate))
    if metric.name is None and not auto:
        return StepSize(float(learning_rate))
    mini_batch = batch_size is not None and batch_size < objective.n_samples
    last = 1.0
    if gauge is None:
        bound, last = _bounds(metric, objective, batch_size)
    elif not mini_batch:
        # The gauge holds the bound already: its top eigenvalue is L, no second Gram pass.
        bound = gauge.largest_eigenvalue()
    else:
        # Its data term's top eigenvalue (the L2 term taken off), for _epoch.
        penalised = np.diag(objective.l2_reg_strength * _penalised(objective))
        full = float(np.linalg.eigvalsh(
            to_numpy(gauge.matrix).astype(np.float64) - penalised)[-1])
        bound, last = _bounds(metric, objective, batch_size, full)
    if not bound > 0:
        return StepSize(1.0)
    if not auto:
        return StepSize(float(learning_rate) / bound, last)
    noisy = mini_batch and not averaged
    return StepSize((1.0 - momentum) / (2 * bound if noisy else bound), last)


def stream_step(objective, metric, learning_rate, *, batch_size=None, momentum=0.0,
                averaged=False, stream=None):
    """``(step, stream)``: the base step of a ``partial_fit`` call on ``objective`` (a
    :class:`StepSize`), one batch of a stream, and the stream's curvature after it (None
    until a call needs it).

    A stream's batches are not known ahead: each is a sample of it, noisy as a
    mini-batch is. The bound is the larger of two. The stream's: that of batches of ``m``
    rows (the call's rows, or ``batch_size`` of them) drawn from an unlimited population,
    ``((m - 1) full + top) / m`` (:func:`_interpolate` with ``n = inf``), where ``top`` is
    the largest per-sample constant of all the batches so far, this one included, and
    ``full`` the full-batch constant of the first, scaled by how much larger the mean
    per-sample constant (the trace of the curvature) of any batch since has been, so
    that a batch of larger rows, or of a larger scale, than any before shrinks the step
    from then on. The call's own (:func:`_own_bound`): no step longer than a fit on its
    rows alone takes, from their own full-batch constant (:func:`_batch_constant`; not
    for wide X outside the full metric, where the stream's bound stands alone). The
    trace's ratio does not see a later batch whose curvature is concentrated in fewer
    directions than the first's (rows drifting along one direction; in the full metric,
    fitted to the first batch, any change of direction): its top eigenvalue may be most
    of its trace where the first's was ``1 / n_cols`` of it, and a step of the stream's
    bound alone diverged there. ``"auto"`` is ``(1 - momentum) / (2 L_m)``, or ``1 /
    L_m`` where the fit is ``averaged``, as for mini-batches (see :func:`step_size`); a
    float learning rate is the step itself in the Euclidean metric and multiplies ``1 /
    L_m`` in a curvature one. The L2 term enters with the call's ``alpha``; a short last
    batch of the call steps to its own bound, as in :func:`step_size`.
    """
    if metric.name is None and learning_rate != "auto":
        return StepSize(float(learning_rate)), stream
    full, block_inverse, l2 = _constants(metric, objective)
    curvature = objective.loss_function.curvature
    inverse = block_inverse()
    largest, mean = (curvature * value for value in row_norms(
        objective.X, objective.fit_intercept, inverse, objective.sample_weight,
        metric.centre))
    if stream is None:
        full = full()
        stream = (full, mean, full, largest)
    first_full, first_mean, full, top = stream
    full = max(full, first_full * mean / first_mean if first_mean > 0 else 0.0)
    top = max(top, largest)
    stream = (first_full, first_mean, full, top)
    n = objective.n_samples
    rows = n if batch_size is None else min(batch_size, n)
    sizes = (rows, n % rows or rows)
    halved = 1 if averaged else 2
    bounds = [_interpolate(math.inf, b, full, top) + l2 for b in sizes]
    # The call's own bound exceeds the stream's only where its full-batch constant
    # exceeds the leeway; the trace (mean) is at least that constant, so where it does
    # not, the Gram pass is spared (batches of one row).
    leeway = min(_leeway(n, b, bound, largest, l2, halved)
                 for b, bound in zip(sizes, bounds, strict=True))
    constant = None
    if leeway < mean:
        constant = _batch_constant(objective, inverse, metric.centre, l2, mean, leeway)
    if constant is not None:
        bounds = [max(bound, _own_bound(n, b, constant, largest, l2, halved))
                  for b, bound in zip(sizes, bounds, strict=True)]
    bound, short = bounds
    last = _last_batch(bound, short)
    if not bound > 0:
        return StepSize(1.0), stream
    return StepSize((1.0 - momentum) / (halved * bound) if learning_rate == "auto"
                    else float(learning_rate) / bound, last), stream


def _own_bound(n, b, constant, largest, l2, halved):
    """The bound, in a stream's units (its ``"auto"`` is ``1 / (halved L)``), that keeps
    a call's steps to those of a fit on its ``n`` rows alone, in batches of ``b``:
    ``constant`` their full-batch constant, ``largest`` their largest per-sample one
    (see :func:`_constants`). A fit's full batch steps ``1 / L``, its mini-batches
    ``1 / (2 L_b)`` as a stream's do, or ``1 / L_b`` where averaged (see
    :func:`step_size`)."""
    if b >= n:
        return (constant + l2) / halved
    return _interpolate(n, b, constant, largest) + l2


def _leeway(n, b, bound, largest, l2, halved):
    """The largest full-batch constant at which :func:`_own_bound` is at most ``bound``:
    it solved for ``constant``."""
    if b >= n:
        return halved * bound - l2
    if b == 1:
        return math.inf
    return ((bound - l2) * b * (n - 1) - (n - b) * largest) / (n * (b - 1))


def _batch_constant(objective, inverse, centre, l2, mean, at_most=math.inf):
    """The full-batch constant of ``objective``'s data term in the metric whose block's
    inverse is ``inverse`` (as :func:`row_norms` takes it: None the identity, 1-D a
    diagonal, 2-D a matrix about ``centre``), as :func:`_constants` counts it:
    ``lambda_max(A (c G + l2_reg E)) - l2``, with ``l2`` the share given to the L2 term;
    ``at_most`` where it is no larger; None for wide X in a diagonal or the plain metric.

    Exact from the batch's Gram matrix (a pass over X, and a Cholesky factorisation that
    tells whether it is at most ``at_most``, a fifth of the eigenvalue's time, which is
    taken only where it is not) where X is narrow enough for one, or the metric is a
    matrix, whose row norms cost as much. Beyond, no bound that costs a few passes is
    close enough: the trace ``mean`` (at least the top eigenvalue) took a stream of
    dense 4 000 x 400 X in 200-row calls to 67 times its objective after two passes,
    and a CSR one of 5 000 columns a step 15 times shorter; Gershgorin's bound is as far
    off on dense X. (A power iteration per call, what the first call's constant takes
    there, would cost more than the call.)
    """
    n_cols = objective.n_features + objective.fit_intercept
    if n_cols >= GRAM_MAX_COLUMNS and (inverse is None or inverse.ndim == 1):
        return None
    data = (objective.gram() if centre is None
            else gram(objective.X, objective.sample_weight, objective.fit_intercept,
                      objective.total_weight, centre))
    matrix = (objective.loss_function.curvature * data
              + np.diag(objective.l2_reg_strength * _penalised(objective)))
    if inverse is not None:
        # A = R R^T: A matrix's eigenvalues are those of R^T matrix R, symmetric.
        root = np.sqrt(inverse) if inverse.ndim == 1 else _root(inverse)
        matrix = (root[:, None] * matrix * root if inverse.ndim == 1
                  else root.T @ matrix @ root)
    if at_most + l2 > 0:
        with contextlib.suppress(np.linalg.LinAlgError):
            np.linalg.cholesky((at_most + l2) * np.eye(n_cols) - matrix)
            return at_most
    # Never above the trace (mean), which rounding alone could leave it.
    return min(float(np.linalg.eigvalsh(matrix)[-1]) - l2, mean)


def _root(inverse):
    """``R`` with ``R R^T = inverse`` (symmetric positive semi-definite): its Cholesky
    factor, or, where it is singular (a pseudo-inverse, see :func:`_factor`), the
    eigendecomposition's ``V sqrt(w)``."""
    try:
        return np.linalg.cholesky(inverse)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(inverse)
        return vectors * np.sqrt(np.maximum(values, 0.0))


def adam_step(objective):
    """Adam's ``"auto"`` step: a tenth of the root-mean-square coordinate of the safe
    gradient step ``grad F(0) / L`` at the start.

    Adam moves every coordinate by about its learning rate whatever the gradient's size,
    so ``1/L`` (a step *multiplier*) means nothing to it; this is a step *length* of the
    problem's own scale, which keeps it bounded where ``1/L`` is huge (X of tiny scale).
    """
    # Data too large for their dtype overflow here; the engine's first epoch then says so.
    with np.errstate(over="ignore", invalid="ignore"):
        grad = to_numpy(objective.loss_gradient(objective.init_params())[1])
        grad = grad.astype(np.float64)
        lipschitz = objective.lipschitz()
        size = (0.1 * float(np.sqrt(np.mean(grad * grad))) / lipschitz
                if lipschitz > 0 else 0.0)
    return size if size > 0 and math.isfinite(size) else 1e-3
