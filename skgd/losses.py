"""Per-sample losses and the linear-model objective that the descent engine minimises.

A loss is a small object whose methods act per sample on the raw prediction
``raw_prediction = X @ coef.T + intercept``, as in scikit-learn's ``sklearn._loss``.
Averaging over samples, the linear model and the L2 term live in :class:`LinearObjective`,
which exposes ``loss``, ``gradient`` and ``loss_gradient`` on a flat parameter vector so
that ``scipy.optimize.check_grad`` and the descent engine consume it unchanged.

Everything is written against the Array API standard: the arrays may come from NumPy,
array-api-strict, PyTorch or CuPy, on any device, and every result stays in their
namespace and on their device. Only SciPy sparse X is NumPy-specific.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _curvature, _kernel
from ._array_api import column_sums, get_namespace, is_numpy, subtract_at
from ._curvature import row_blocks as _row_blocks

__all__ = [
    "SquaredError",
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "LinearObjective",
    "stacked_loss_gradient",
]


def _scalar(value, like):
    """``value`` as a 0-d array of ``like``'s dtype and device: Array API versions before
    2024.12 take no Python scalars in ``where``, ``maximum`` and ``minimum``."""
    xp, device = get_namespace(like)
    return xp.asarray(value, dtype=like.dtype, device=device)


def _transposed(coef):
    """``coef.T`` for a 2-D coef; a 1-D coef multiplies as it is (the Array API defines
    ``.T`` for 2-D arrays only)."""
    return coef.T if coef.ndim == 2 else coef


# exp(-|z|) and products of tiny numbers underflow to 0, which is harmless here; under a
# strict np.errstate(under="raise") NumPy would otherwise raise FloatingPointError. Other
# namespaces do not trap floating-point errors. As a decorator it keeps no per-call state.
_ignore_underflow = np.errstate(under="ignore")


def _weighted(values, sample_weight):
    """Scale freshly computed per-sample ``values`` by the weights, in place."""
    if sample_weight is not None:
        values *= sample_weight[:, None] if values.ndim == 2 else sample_weight
    return values


class _PerSampleLoss:
    """``loss`` and ``gradient`` taken from ``loss_gradient``, so each loss writes its
    formula once."""

    def loss_gradient(self, y_true: Any, raw_prediction: Any,
                      sample_weight: Any = None) -> tuple[Any, Any]:
        raise NotImplementedError

    def loss(self, y_true: Any, raw_prediction: Any, sample_weight: Any = None) -> Any:
        """Per-sample loss, of shape (n_samples,)."""
        return self.loss_gradient(y_true, raw_prediction, sample_weight)[0]

    def gradient(self, y_true: Any, raw_prediction: Any, sample_weight: Any = None) -> Any:
        """Per-sample derivative with respect to ``raw_prediction`` (same shape)."""
        return self.loss_gradient(y_true, raw_prediction, sample_weight)[1]


class SquaredError(_PerSampleLoss):
    """Half squared error, the loss of least squares regression.

    ``loss_i = 1/2 * ||raw_prediction_i - y_i||^2``, with the identity link.
    Domain: ``y`` real, of shape ``(n_samples,)`` or ``(n_samples, n_targets)``.

    Parameters
    ----------
    n_targets : int or None, default=None
        None for 1-D ``y``; the number of columns for 2-D ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd.losses import SquaredError
    >>> SquaredError().loss(np.array([1.0, 2.0]), np.array([1.5, 0.0]))
    array([0.125, 2.   ])
    """

    # Bound on the second derivative with respect to the raw prediction.
    curvature = 1.0

    def __init__(self, n_targets: int | None = None):
        self.n_targets = n_targets

    @property
    def n_outputs(self) -> int:
        """Columns of the raw prediction (None means a 1-D raw prediction)."""
        return 1 if self.n_targets is None else self.n_targets

    @property
    def raw_ndim(self) -> int:
        return 1 if self.n_targets is None else 2

    @_ignore_underflow
    def loss_gradient(self, y_true: Any, raw_prediction: Any,
                      sample_weight: Any = None) -> tuple[Any, Any]:
        """``(loss, gradient)`` in one pass."""
        diff = raw_prediction - y_true
        sq = diff * diff
        if sq.ndim == 2:
            sq = get_namespace(sq)[0].sum(sq, axis=1)
        return _weighted(0.5 * sq, sample_weight), _weighted(diff, sample_weight)


class BinaryCrossEntropy(_PerSampleLoss):
    """Binary cross-entropy (log loss) with the logistic (sigmoid) link.

    ``loss_i = log(1 + exp(z_i)) - y_i * z_i`` with ``z = raw_prediction`` and
    ``P(y=1) = expit(z)``. Domain: ``y`` in {0, 1}, shape ``(n_samples,)``.
    For such ``y`` this equals ``log(1 + exp((1 - 2 y) z))``, computed from
    ``exp(-|z|)``: it neither overflows, nor needs clipping, nor cancels digits when a
    confident prediction is right. The gradient is ``expit(z) - y``.

    Examples
    --------
    A confident wrong prediction costs about ``|z|``; a confident right one about 0:

    >>> import numpy as np
    >>> from skgd.losses import BinaryCrossEntropy
    >>> BinaryCrossEntropy().loss(np.array([0.0, 1.0]), np.array([1e4, 1e4]))
    array([10000.,     0.])
    """

    # sigmoid'(z) = p (1 - p) <= 1/4
    curvature = 0.25
    n_outputs = 1
    raw_ndim = 1

    @_ignore_underflow
    def loss_gradient(self, y_true: Any, raw_prediction: Any,
                      sample_weight: Any = None) -> tuple[Any, Any]:
        """``(loss, gradient)`` in one pass, from one exponential per sample.

        With ``e = exp(-|z|)`` in (0, 1]: ``loss = log1p(e) + max((1 - 2y) z, 0)`` and
        ``expit(z) = 1 / (1 + e)`` for ``z >= 0``, ``e / (1 + e)`` otherwise.
        """
        if (_compiled_applies(raw_prediction, sample_weight, ndim=1)
                and raw_prediction.shape[0] <= _COMPILED_SIGMOID_MAX_ROWS):
            return _kernel_loss_gradient(_kernel.BUILT.sigmoid_loss_gradient, y_true,
                                         raw_prediction, sample_weight)
        xp = get_namespace(raw_prediction)[0]
        exp_neg_abs = xp.exp(-xp.abs(raw_prediction))
        loss = xp.log1p(exp_neg_abs)
        loss += xp.maximum((1 - 2 * y_true) * raw_prediction, _scalar(0, loss))
        gradient = xp.where(raw_prediction >= 0, _scalar(1, exp_neg_abs), exp_neg_abs)
        gradient /= 1 + exp_neg_abs
        gradient -= y_true
        return _weighted(loss, sample_weight), _weighted(gradient, sample_weight)

    @staticmethod
    @_ignore_underflow
    def local_hessian(raw_prediction):
        """``h(0, 0)``: the second derivative ``p (1 - p)`` per sample, at most
        :attr:`curvature`."""
        xp = get_namespace(raw_prediction)[0]
        exp_neg_abs = xp.exp(-xp.abs(raw_prediction))
        second = exp_neg_abs / ((1 + exp_neg_abs) * (1 + exp_neg_abs))
        return lambda j, k: second

    @staticmethod
    @_ignore_underflow
    def local_curvatures(raw_prediction):
        """``p (1 - p)`` per sample, of shape (n_samples, 1): the weights of the Gram
        matrix that is the Hessian of the data term (see
        :meth:`LinearObjective.hessian_blocks`)."""
        xp = get_namespace(raw_prediction)[0]
        exp_neg_abs = xp.exp(-xp.abs(raw_prediction))
        return (exp_neg_abs / ((1 + exp_neg_abs) * (1 + exp_neg_abs)))[:, None]

    @staticmethod
    @_ignore_underflow
    def predict_proba(raw_prediction: Any) -> Any:
        """Class probabilities ``[1 - p, p]``, of shape (n_samples, 2)."""
        xp = get_namespace(raw_prediction)[0]
        # expit(z) and expit(-z) from exp(-|z|), so neither rounds a tiny one to 0 - 0.
        exp_neg_abs = xp.exp(-xp.abs(raw_prediction))
        larger = 1 / (1 + exp_neg_abs)
        smaller = exp_neg_abs * larger
        positive = raw_prediction >= 0
        return xp.stack([xp.where(positive, smaller, larger),
                         xp.where(positive, larger, smaller)], axis=1)

    @staticmethod
    @_ignore_underflow
    def predict_log_proba(raw_prediction: Any) -> Any:
        """Log-probabilities, stable for large ``|raw_prediction|``."""
        xp = get_namespace(raw_prediction)[0]
        # log expit(z) = min(z, 0) - log(1 + exp(-|z|))
        log_norm = xp.log1p(xp.exp(-xp.abs(raw_prediction)))
        zero = _scalar(0, log_norm)
        return xp.stack([xp.minimum(-raw_prediction, zero) - log_norm,
                         xp.minimum(raw_prediction, zero) - log_norm], axis=1)


# Up to this many classes the softmax's row maximum is a loop over the columns.
_LOOP_CLASSES = 24


class CategoricalCrossEntropy(_PerSampleLoss):
    """Categorical cross-entropy with the softmax link, one raw output per class.

    ``loss_i = log sum_k exp(z_ik) - z_{i, y_i}``. Domain: ``y`` integer class indices
    0..K-1 of shape ``(n_samples,)``; raw prediction of shape ``(n_samples, K)``.
    The log-sum-exp subtracts the row maximum first, so it never overflows. Infinite raw
    predictions are the limits of finite ones, as in :class:`BinaryCrossEntropy`: a row
    whose maximum is ``+inf`` puts all its probability on the entries that reach it (the
    loss is 0 there, ``inf`` for another true class), and ``-inf`` entries get none.

    Parameters
    ----------
    n_classes : int
        Number of classes K (at least 2).

    Examples
    --------
    >>> import numpy as np
    >>> from skgd.losses import CategoricalCrossEntropy
    >>> raw_prediction = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 1e4]])
    >>> CategoricalCrossEntropy(n_classes=3).loss(np.array([0, 2]), raw_prediction)
    array([0.23954477, 0.        ])
    """

    # The softmax Hessian diag(p) - p p^T has spectral norm <= 1/2 (Böhning's bound).
    curvature = 0.5
    # Adding the same number to every class's raw prediction changes nothing.
    shift_invariant = True
    raw_ndim = 2

    def __init__(self, n_classes: int):
        self.n_classes = n_classes

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    @staticmethod
    # inf - inf below is invalid, and replaced; underflow: see _ignore_underflow.
    @np.errstate(under="ignore", invalid="ignore")
    def _log_softmax_parts(raw_prediction):
        """Return ``(raw - row max, softmax, log of the shifted sum)``.

        Keeping the row maximum out of the sum avoids both overflow and the cancellation
        of ``(max + log sum) - raw``, which in float32 loses digits for large logits.
        NumPy reduces a short last axis slowly (about 1 ms for 20 000 rows, whatever their
        length), so up to ``_LOOP_CLASSES`` classes the row maximum is a loop over the
        columns (0.05 ms at 3 classes, 0.7 ms at 26), and the row sum is a matrix-vector
        product.
        """
        xp, device = get_namespace(raw_prediction)
        if raw_prediction.shape[1] <= _LOOP_CLASSES:
            row_max = raw_prediction[:, 0]
            for column in range(1, raw_prediction.shape[1]):
                row_max = xp.maximum(row_max, raw_prediction[:, column])
        else:
            row_max = xp.max(raw_prediction, axis=1)
        row_max = row_max[:, None]
        shifted = raw_prediction - row_max
        # An entry equal to an infinite row maximum shifted to inf - inf = NaN: it is the
        # limit's 0 (NaN entries, from a diverged fit, stay NaN). NumPy checks the row
        # maxima first, much cheaper than the where; elsewhere the check would make the
        # device wait for the host.
        if not is_numpy(xp) or np.isinf(row_max).any():
            shifted = xp.where(raw_prediction == row_max, _scalar(0, shifted), shifted)
        proba = xp.exp(shifted)
        total = proba @ xp.ones(proba.shape[1], dtype=proba.dtype, device=device)
        proba /= total[:, None]
        return shifted, proba, xp.log(total)

    @_ignore_underflow
    def loss_gradient(self, y_true: Any, raw_prediction: Any,
                      sample_weight: Any = None) -> tuple[Any, Any]:
        """``(loss, gradient)`` in one pass."""
        if _compiled_applies(raw_prediction, sample_weight, ndim=2):
            return _kernel_loss_gradient(_kernel.BUILT.softmax_loss_gradient, y_true,
                                         raw_prediction, sample_weight)
        xp, device = get_namespace(raw_prediction)
        n_samples, n_classes = raw_prediction.shape
        true_class = xp.astype(y_true, xp.int64, copy=False)
        # The loss gathers the true classes from the flattened rows, several times faster
        # than a gather along the second axis.
        flat_index = xp.arange(n_samples, dtype=xp.int64, device=device) * n_classes
        flat_index += true_class
        shifted, proba, log_total = self._log_softmax_parts(raw_prediction)
        loss = log_total - xp.take(xp.reshape(shifted, (-1,)), flat_index)
        # gradient = proba - one_hot(y): a scatter where the library has one; the
        # standard alone has none, so there a column at a time.
        if not subtract_at(proba, flat_index, xp, device):
            for column in range(n_classes):
                proba[:, column] -= xp.astype(true_class == column, proba.dtype)
        return _weighted(loss, sample_weight), _weighted(proba, sample_weight)

    @classmethod
    def local_hessian(cls, raw_prediction):
        """``h(j, k)``: entry ``(j, k)`` of each sample's Hessian ``diag(p) - p p^T`` with
        respect to its raw prediction, of shape (n_samples,)."""
        proba = cls.predict_proba(raw_prediction)

        def entry(j, k):
            product = -proba[:, j] * proba[:, k]
            return product + proba[:, j] if j == k else product

        return entry

    @classmethod
    def local_curvatures(cls, raw_prediction):
        """``p_k (1 - p_k)`` per sample and class, of shape (n_samples, K): the diagonal of
        each sample's Hessian ``diag(p) - p p^T``, the weights of the Gram matrices on the
        diagonal of the Hessian (see :meth:`LinearObjective.hessian_blocks`)."""
        proba = cls.predict_proba(raw_prediction)
        return proba * (1 - proba)

    @classmethod
    def predict_proba(cls, raw_prediction: Any) -> Any:
        """Softmax probabilities, of shape (n_samples, K)."""
        if _compiled_applies(raw_prediction, ndim=2):
            proba = np.empty_like(raw_prediction)
            _kernel.BUILT.softmax(raw_prediction, proba)
            return proba
        return cls._log_softmax_parts(raw_prediction)[1]

    @classmethod
    def predict_log_proba(cls, raw_prediction: Any) -> Any:
        """Log-softmax, stable for large ``|raw_prediction|``."""
        shifted, _, log_total = cls._log_softmax_parts(raw_prediction)
        return shifted - log_total[:, None]


def _compiled_applies(raw_prediction, sample_weight=None, *, ndim):
    """Whether the compiled kernel computes a loss and its gradient (or the softmax) of
    ``raw_prediction``: float64 NumPy arrays in C order of ``ndim`` dimensions, where the
    kernel is on. One pass over the samples where NumPy makes seven to ten, on one core
    of this project's machine: the softmax's 1 198 x 10 (the digits) in 108 us against
    157, 150 x 3 in 10 against 50, 20 000 x 26 in 5.2 ms against 12.6, 50 000 x 3 as
    fast; the sigmoid's 1 000 in 18 us against 50, 2 000 in 35 against 48, but from
    about 4 000 NumPy's (32 000: 0.99 ms against 1.15), whose exp and log1p are faster
    once its calls are paid. float32 stays with NumPy, whose exp is vectorised there."""
    return (_kernel.ENABLED and type(raw_prediction) is np.ndarray
            and raw_prediction.dtype == np.float64 and raw_prediction.ndim == ndim
            and raw_prediction.flags.c_contiguous
            and (sample_weight is None or isinstance(sample_weight, np.ndarray)))


# The sigmoid's kernel takes up to this many samples (see _compiled_applies).
_COMPILED_SIGMOID_MAX_ROWS = 2048
_NO_WEIGHTS = np.empty(0)


def _kernel_loss_gradient(kernel, y_true, raw_prediction, sample_weight):
    """``(loss, gradient)`` from the compiled ``kernel``, which takes NumPy's place."""
    loss = np.empty(raw_prediction.shape[0])
    gradient = np.empty_like(raw_prediction)
    kernel(raw_prediction, np.ascontiguousarray(y_true, dtype=np.float64),
           _NO_WEIGHTS if sample_weight is None
           else np.ascontiguousarray(sample_weight, dtype=np.float64), loss, gradient)
    return loss, gradient


# The softmax's block refits leave out a class's rows of curvature below this share of
# its largest (see LinearObjective.hessian_blocks): near the digits' optimum half the rows
# of each class, 0.2 % of its curvature, and the refits take half the time.
BLOCK_WEIGHT_CUT = 1e-4


class LinearObjective:
    """Smooth part of the training objective of a linear model, on a flat vector.

    ``F(w) = (1/S) sum_i s_i loss(y_i, x_i . W + b) + alpha (1 - l1_ratio)/2 ||W||^2``
    with ``S = sum_i s_i``. The intercept ``b`` is never penalised. The L1 part
    ``alpha * l1_ratio * ||W||_1`` is not included: the engine applies it as a proximal
    step (see :meth:`l1_penalty`).

    The flat parameter vector holds ``coef`` (shape ``(n_outputs, n_features)``, row-major)
    followed by the ``n_outputs`` intercepts when ``fit_intercept``.

    Parameters
    ----------
    loss : SquaredError, BinaryCrossEntropy or CategoricalCrossEntropy
    X : {array, scipy.sparse CSR matrix} of shape (n_samples, n_features)
        float32 or float64, NumPy or any Array API array (PyTorch, CuPy, ...) on any
        device; never copied. Every result stays in its namespace and on its device.
    y : array
        Targets as the loss expects them (encoded class indices for classification),
        in X's namespace and on its device.
    sample_weight : array of shape (n_samples,), default=None
    alpha : float, default=0.0
    l1_ratio : float, default=0.0
    fit_intercept : bool, default=True

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import check_grad
    >>> from skgd.losses import CategoricalCrossEntropy, LinearObjective
    >>> X = np.random.default_rng(0).normal(size=(50, 4))
    >>> y = np.arange(50) % 3
    >>> obj = LinearObjective(CategoricalCrossEntropy(n_classes=3), X, y, alpha=0.1)
    >>> obj.n_params
    15
    >>> bool(check_grad(obj.loss, obj.gradient, np.zeros(obj.n_params)) < 1e-6)
    True
    """

    def __init__(self, loss: SquaredError | BinaryCrossEntropy | CategoricalCrossEntropy,
                 X: Any, y: Any, sample_weight: Any = None, alpha: float = 0.0,
                 l1_ratio: float = 0.0, fit_intercept: bool = True,
                 shared: dict | None = None) -> None:
        self.loss_function = loss
        # The passes that do not depend on alpha (Gram matrix, its diagonal), kept for
        # the objectives of other alphas on the same data, X, y and weights (a search).
        self._shared = shared
        self.X = X
        self.xp, self.device = get_namespace(X)
        self.y = y
        self.sample_weight = (None if sample_weight is None else self.xp.asarray(
            sample_weight, dtype=X.dtype, device=self.device))
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.n_samples, self.n_features = X.shape
        self.n_outputs = loss.n_outputs
        self.n_coef = self.n_outputs * self.n_features
        self.n_params = self.n_coef + (self.n_outputs if fit_intercept else 0)
        self.l2_reg_strength = float(alpha * (1.0 - l1_ratio))
        # S, read on the host once: every full-batch pass and the step size divide by it.
        self._total_weight = (float(self.n_samples) if self.sample_weight is None else
                              float(self.xp.sum(self.sample_weight, dtype=self.xp.float64)))
        if self.sample_weight is not None and not 0 < self._total_weight < np.inf:
            raise ValueError(
                f"sample_weight sums to {self._total_weight}: F divides by that sum, so the "
                "weights must be non-negative, finite and not all zero.")

    @property
    def total_weight(self) -> float:
        """``S``, the sum of the sample weights (the number of rows without them)."""
        return self._total_weight

    # -- layout -----------------------------------------------------------------------
    def unpack(self, w: Any) -> tuple[Any, Any]:
        """Split a flat vector into ``(coef, intercept)`` views.

        ``coef`` has shape ``(n_features,)`` for a 1-D raw prediction, else
        ``(n_outputs, n_features)``; ``intercept`` is a scalar or ``(n_outputs,)``.
        """
        xp = self.xp
        coef = w[: self.n_coef]
        intercept = (w[self.n_coef:] if self.fit_intercept
                     else xp.zeros(self.n_outputs, dtype=w.dtype, device=self.device))
        if self.loss_function.raw_ndim == 1:
            return coef, intercept[0]
        return xp.reshape(coef, (self.n_outputs, self.n_features)), intercept

    def raw_prediction(self, w: Any, X: Any = None) -> Any:
        """``X @ coef.T + intercept`` for the flat vector ``w`` (X defaults to the data).

        On the data, the last full-batch :meth:`loss_gradient_array`'s raw prediction
        where it was at this ``w`` (read-only): a refit of the curvature at the point the
        gradient was just taken needs no pass of its own."""
        last = self.__dict__.get("_last_raw")
        if X is None and last is not None and np.array_equal(last[0], w):
            return last[1]
        coef, intercept = self.unpack(w)
        X = self.X if X is None else X
        return X @ _transposed(coef) + intercept

    def init_params(self) -> Any:
        """The zero vector in X's dtype and on X's device, the engine's starting point."""
        return self.xp.zeros(self.n_params, dtype=self.X.dtype, device=self.device)

    def null_params(self) -> Any:
        """Least squares' null model where it lies far from the start (else None): zero
        coefficients, the intercept the targets' weighted mean, where that mean is more
        than a standard deviation from 0 for some target. The engine takes the start's
        optimality relative to it too (see ``null_point`` in skgd._engine.descent)."""
        if not (self.fit_intercept and isinstance(self.loss_function, SquaredError)):
            return None
        # The same for every alpha: a search's fits of a fold share it.
        return _null_point(self, *self.once("target_moments", self._target_moments))

    def _target_moments(self):
        """The targets' weighted ``(mean, variance)``, one per target."""
        xp = self.xp
        y = self.y if self.y.ndim == 2 else xp.reshape(self.y, (-1, 1))
        with np.errstate(over="ignore", invalid="ignore"):
            if self.sample_weight is None:
                mean = xp.mean(y, axis=0)
                deviation = y - mean
                variance = xp.mean(deviation * deviation, axis=0)
            else:
                weight = xp.reshape(self.sample_weight, (-1, 1)) / self._total_weight
                mean = xp.sum(weight * y, axis=0)
                deviation = y - mean
                variance = xp.sum(weight * (deviation * deviation), axis=0)
        return mean, variance

    # -- objective --------------------------------------------------------------------
    def loss_gradient(self, w: Any, rows: Any = None) -> tuple[float, Any]:
        """Return ``(F(w), dF/dw)``, reading X once.

        Dense X is processed in row blocks that stay in cache: the forward product, the
        per-sample loss and the block's share of the gradient are computed before moving
        on, so X streams from memory once instead of twice, and the per-sample
        temporaries stay block-sized.

        Parameters
        ----------
        w : array of shape (n_params,)
        rows : slice or array of int, default=None
            Evaluate the same objective on these samples only (a mini-batch): their
            weights are normalised by their own sum. An index array lives on X's device.
        """
        value, grad = self.loss_gradient_array(w, rows)
        return float(value), grad

    def loss_gradient_array(self, w: Any, rows: Any = None) -> tuple[Any, Any]:
        """:meth:`loss_gradient` with ``F(w)`` left as a 0-d float64 array on X's device.

        The engine sums these over an epoch and reads the total once, so a GPU is not
        made to wait for the host after every step.
        """
        xp = self.xp
        X, y, weight = self.X, self.y, self.sample_weight
        if rows is not None:
            X, y, weight = (self._take_rows(array, rows) for array in (X, y, weight))
        coef, intercept = self.unpack(w)
        loss: Any = None
        grad_coef: Any = None
        grad_intercept: Any = None
        self._last_raw = None
        # Every fit starts at zero coefficients, where the product is zero: of a least
        # squares fit's two passes (four products), one product the fewer.
        zero = is_numpy(xp) and not w[: self.n_coef].any()
        for X_block, y_block, weight_block in _row_blocks(X, y, weight):
            raw = (np.zeros(X_block.shape[:1] + coef.shape[:-1], dtype=w.dtype) if zero
                   else X_block @ _transposed(coef))
            raw += intercept
            if rows is None and X_block is X and is_numpy(xp):
                # The whole raw prediction, kept for raw_prediction(w) (see there).
                raw.setflags(write=False)
                self._last_raw = (np.array(w, copy=True), raw)
            per_sample, grad_raw = self.loss_function.loss_gradient(y_block, raw,
                                                                    weight_block)
            block_loss = xp.sum(per_sample, dtype=xp.float64)
            if sp.issparse(X_block):
                block_grad = _transposed(X_block.T @ grad_raw)
            else:
                block_grad = _transposed(grad_raw) @ X_block
            # keepdims gives a 1-D raw prediction's intercept gradient the shape (1,).
            block_intercept = (0.0 if not self.fit_intercept
                               else column_sums(grad_raw, xp) if grad_raw.ndim == 2
                               else xp.sum(grad_raw, axis=0, keepdims=True))
            if loss is None:
                loss, grad_coef, grad_intercept = block_loss, block_grad, block_intercept
            else:
                loss += block_loss
                grad_coef += block_grad
                grad_intercept += block_intercept
        if weight is None:
            scale = grad_scale = 1.0 / X.shape[0]
        elif rows is None:
            scale = grad_scale = 1.0 / self._total_weight if self._total_weight > 0 else 0.0
        else:
            # A mini-batch of m rows weighs them relative to the mean weight S / n: an
            # unbiased estimate of F. Relative to their own sum, the batches would lean
            # to the unweighted fit (a batch of one ignores its weight).
            scale = grad_scale = _mini_batch_scale(self, X.shape[0])
        loss *= scale
        grad_coef *= grad_scale
        grad_intercept *= grad_scale
        if self.l2_reg_strength:
            flat_coef = w[: self.n_coef]
            loss += 0.5 * self.l2_reg_strength * (flat_coef @ flat_coef)
            grad_coef += self.l2_reg_strength * coef
        if not self.fit_intercept:
            return loss, xp.reshape(grad_coef, (-1,))
        return loss, xp.concat([xp.reshape(grad_coef, (-1,)), grad_intercept])

    def _take_rows(self, array, rows):
        if array is None or isinstance(rows, slice) or sp.issparse(array):
            return None if array is None else array[rows]
        return self.xp.take(array, rows, axis=0)

    def loss(self, w: Any) -> float:
        """``F(w)`` as a float."""
        return self.loss_gradient(w)[0]

    def gradient(self, w: Any) -> Any:
        """``dF/dw`` as a flat array."""
        return self.loss_gradient(w)[1]

    def l1_penalty(self):
        """The non-smooth part ``alpha * l1_ratio * ||W||_1``, or None when it is zero."""
        strength = float(self.alpha * self.l1_ratio)
        return _L1Penalty(strength, self.n_coef, self.xp) if strength > 0 else None

    # -- curvature (see skgd._curvature) ---------------------------------------------
    def lipschitz(self, batch_size=None):
        """The Lipschitz constant L of the gradient of ``F``: ``lambda_max`` of
        ``curvature * X1^T D X1 / S + l2`` (``X1``: X with a column of ones when there is
        an intercept, ``D`` the sample weights), or its mini-batch version for
        ``batch_size`` (see :func:`skgd._curvature.lipschitz`)."""
        return _curvature.lipschitz(self, batch_size)

    def once(self, key, compute):
        """``compute()``, or the value kept under ``key`` in ``shared`` (arrays read-only)
        when the objective has one: for what objectives on the same data share."""
        if self._shared is None:
            return compute()
        if key not in self._shared:
            value = compute()
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            self._shared[key] = value
        return self._shared[key]

    def gram(self, centred=False):
        """``X1^T D X1 / S`` on the host, float64, in one pass over X, kept (the metric
        and :attr:`column_centre` both read it); ``centred``: about :attr:`column_centre`
        (which must not be None)."""
        key = "centred_gram" if centred else "gram"
        kept = self.__dict__.setdefault("_grams", {})
        if key not in kept:
            kept[key] = self.once(key, lambda: self._gram_pass(centred))
        return kept[key]

    def _gram_pass(self, centred):
        # A search's fold takes its Gram matrix from the whole data's where that pays
        # (see skgd._curvature.FoldGrams), about 0 only.
        folds = None if centred or self._shared is None else self._shared.get("fold_grams")
        matrix = None if folds is None else folds.of(self.sample_weight, self._total_weight)
        if matrix is not None:
            return matrix
        return _curvature.gram(self.X, self.sample_weight, self.fit_intercept,
                               self._total_weight, self.column_centre if centred else None)

    @functools.cached_property
    def column_centre(self):
        """The centre of X's columns that L-BFGS's metrics take their Gram matrices
        about (see :func:`skgd._curvature.column_centre`), from :meth:`gram`; None
        without an intercept and for sparse X (which centring would fill) or X off
        NumPy. Shared with the objectives on the same X (a search's folds, whose warm
        starts carry metrics taken about it)."""
        if not (self.fit_intercept and isinstance(self.X, np.ndarray)):
            return None
        return self.once("column_centre", lambda: _curvature.column_centre(
            self.gram(), self.X.dtype))

    @functools.cached_property
    def _output_index(self):
        """Each output's positions in the flat vector, a row an output: its
        coefficients, then its intercept."""
        outputs = np.arange(self.n_outputs)[:, None]
        index = outputs * self.n_features + np.arange(self.n_features)
        if self.fit_intercept:
            index = np.concatenate([index, self.n_coef + outputs], axis=1)
        return index

    @functools.cached_property
    def _class_order(self):
        """The index pair that reorders a matrix laid out output by output (each output's
        index from :attr:`_output_index` in turn) into the flat vector's layout."""
        order = np.argsort(self._output_index.ravel())
        return np.ix_(order, order)

    def local_hessian(self, w, l2=True, centred=False):
        """The Hessian of ``F`` at ``w`` (smooth part, L2 included unless ``l2=False``),
        host float64, of shape ``(n_params, n_params)`` in the layout of the flat vector.

        Built from one weighted Gram matrix ``X1^T diag(s_i h_i^{jk}) X1 / S`` per pair of
        outputs ``j <= k``, where ``h_i^{jk}`` is the loss's ``local_hessian`` (``p (1 -
        p)`` for the sigmoid, ``diag(p) - p p^T`` for the softmax): ``n p^2`` work a pair;
        for the softmax on dense X, all pairs at once (:func:`skgd._curvature.softmax_gram`).
        ``centred``: of X about :attr:`column_centre`.
        """
        raw = self.raw_prediction(w)
        index = self._output_index
        centre = self.column_centre if centred else None
        if getattr(self.loss_function, "shift_invariant", False) and not sp.issparse(self.X):
            # The softmax couples every pair of classes: two wide products a row block
            # instead of a thin one per pair. They come class by class; ``order`` takes
            # them to the flat vector's layout.
            hessian = _curvature.softmax_gram(
                self.X, self.loss_function.predict_proba(raw), self.sample_weight,
                self.fit_intercept, self._total_weight, centre)[self._class_order]
            if l2:
                coef = np.arange(self.n_coef)
                hessian[coef, coef] += self.l2_reg_strength
            return hessian
        hessian = np.zeros((self.n_params, self.n_params))
        curvature = self.loss_function.local_hessian(raw)
        for j in range(self.n_outputs):
            for k in range(j, self.n_outputs):
                weights = curvature(j, k)
                if self.sample_weight is not None:
                    weights = weights * self.sample_weight
                block = _curvature.gram(self.X, weights, self.fit_intercept,
                                        self._total_weight, centre)
                hessian[np.ix_(index[j], index[k])] = block
                hessian[np.ix_(index[k], index[j])] = block.T
        if l2:
            hessian[: self.n_coef, : self.n_coef] += (self.l2_reg_strength
                                                      * np.eye(self.n_coef))
        return hessian

    def sparse_gram(self):
        """``X1^T D X1 / S`` as a SciPy sparse matrix, for sparse X (see
        :class:`skgd._curvature.SparseFull` and :func:`skgd._curvature.sparse_gram`), made
        once (it decides the metric and builds it)."""
        if not hasattr(self, "_sparse_gram"):
            def build():
                X1 = (_curvature.with_ones_column(self.X) if self.fit_intercept
                      else sp.csr_matrix(self.X))
                return _curvature.sparse_gram(X1, self.sample_weight, self._total_weight)

            self._sparse_gram = self.once("sparse_gram", build)
        return self._sparse_gram

    def hessian_blocks(self, w, centred=False):
        """The diagonal blocks of the Hessian of the data term at ``w``, one per output,
        host float64 of shape ``(n_outputs, n_cols, n_cols)``: ``X1^T diag(s_i h_ik) X1 /
        S`` with ``h_ik`` the loss's ``local_curvatures`` (for one output, the sigmoid,
        the Hessian itself; for the softmax, each class's block with the coupling between
        classes left out). A pass for the raw prediction, a weighted Gram pass a block.

        The softmax's blocks stand in for a Hessian they only approximate: there the rows
        a class's block weighs below ``BLOCK_WEIGHT_CUT`` of its largest weight (rows the
        model is sure of) are left out of it, and its Gram pass skips them.
        ``centred``: of X about :attr:`column_centre`."""
        return _curvature.grams(self.X, self._block_weights(w), self.fit_intercept,
                                self._total_weight,
                                self.column_centre if centred else None)

    def hessian_block_diagonals(self, w, columns=None):
        """The diagonals of :meth:`hessian_blocks`, of shape ``(n_outputs, n_cols)``,
        without the matrices: one pass over the squares of X for all outputs. With
        ``columns`` (a sparse matrix of some of X's columns), also each output's block
        over them and the intercept, ``(n_outputs, m, m)``, from the same raw prediction
        (see :class:`skgd._curvature.Split`)."""
        weights = self._block_weights(w)
        diagonals = _curvature.gram_diagonals(self.X, weights, self.fit_intercept,
                                              self._total_weight, self._sparse_squares)
        if columns is None:
            return diagonals
        return diagonals, _curvature.column_grams(columns, weights, self.fit_intercept,
                                                  self._total_weight)

    def _block_weights(self, w):
        """The rows' weights in each output's block (:meth:`hessian_blocks`): the
        curvature weights, for the softmax without those below ``BLOCK_WEIGHT_CUT`` of
        their class's largest."""
        weights = self._curvature_weights(w)
        if self.n_outputs > 1 and isinstance(weights, np.ndarray):
            weights = np.where(weights > BLOCK_WEIGHT_CUT * weights.max(axis=0), weights,
                               0.0)
        return weights

    @functools.cached_property
    def _sparse_squares(self):
        """Sparse X's entries squared, kept for the refits to come (a copy of X beside
        it, shared by the objectives of a search on the same X); None for dense X, whose
        row blocks are squared as they pass."""
        if not sp.issparse(self.X):
            return None
        return self.once("sparse_squares", lambda: _curvature._squares(self.X))

    def _curvature_weights(self, w):
        weights = self.loss_function.local_curvatures(self.raw_prediction(w))
        return weights if self.sample_weight is None else (
            weights * self.sample_weight[:, None])

    def gram_product(self, basis):
        """``X1^T D X1 / S @ basis`` for a host basis, in one pass over X."""
        return _curvature.gram_product(self.X, self.sample_weight, self.fit_intercept,
                                       self._total_weight, basis)

    def gram_diagonal(self):
        """The diagonal of :meth:`gram`, without the matrix."""
        return self.once("gram_diagonal", lambda: _curvature.gram_diagonal(
            self.X, self.sample_weight, self.fit_intercept, self._total_weight,
            self._sparse_squares))

    def largest_row_norm(self, inverse_metric=None):
        """``max_i x1_i^T A x1_i`` (see :func:`skgd._curvature.largest_row_norm`)."""
        return _curvature.largest_row_norm(self.X, self.fit_intercept, inverse_metric)


def _null_point(objective, mean, variance):
    """The objective's zero vector with the targets' ``mean`` (one per target) as its
    intercept, where some mean lies more than a standard deviation off zero (else None:
    the origin is near enough)."""
    xp = objective.xp
    with np.errstate(over="ignore", invalid="ignore"):
        if not bool(xp.any(mean * mean > variance)):
            return None
    params = objective.init_params()
    return xp.concat([params[: objective.n_coef], xp.astype(mean, params.dtype)])


def _mini_batch_scale(objective, n_rows):
    """What a weighted mini-batch of ``n_rows`` rows multiplies its weighted sums by:
    ``(n / S) / n_rows``, the weights relative to their mean (the compiled kernel's
    ``weight_scale / m``, the same float)."""
    return objective.n_samples / objective.total_weight / n_rows


def stacked_loss_gradient(objectives, points, rows=None):
    """``[objective.loss_gradient_array(w, rows) for objective, w in zip(objectives,
    points)]`` in one pass over X, for objectives that share X, y, the loss and
    ``fit_intercept`` and differ in their sample weights and L2 strength (the settings
    and folds of a search).

    The parameters stand side by side as the columns of one ``(n_features, m * K)``
    matrix, so that each row block of X is multiplied once, by a matrix: about the memory
    traffic of one objective's pass for all ``m``. Sample weights are grouped by identity
    (a fold's weights serve all its settings).
    """
    first = objectives[0]
    xp, X, y, loss = first.xp, first.X, first.y, first.loss_function
    n_outputs = first.n_outputs
    m = len(objectives)
    coef, intercept = side_by_side(objectives, points)
    groups, member_group = {}, []
    for objective in objectives:
        key = None if objective.sample_weight is None else id(objective.sample_weight)
        member_group.append(groups.setdefault(key, (len(groups), objective.sample_weight))[0])
    # One weight vector a group, stacked a row block at a time (never an n x groups copy).
    weights = [weight for _, weight in sorted(groups.values(), key=lambda g: g[0])]
    if all(weight is None for weight in weights):
        weights = []
    else:
        member_group = xp.asarray(member_group, device=first.device)
    if rows is not None:
        X, y = first._take_rows(X, rows), first._take_rows(y, rows)
        weights = [first._take_rows(weight, rows) for weight in weights]
    losses = grad_coef = grad_intercept = None
    # A block's X rows and its (rows x m K) temporaries, about eight of them, in cache.
    width = X.shape[1] + 8 * m * n_outputs
    for X_block, y_block, *weight_blocks in _row_blocks(X, y, *weights, width=width):
        weight_block = None
        if weight_blocks:
            ones = xp.ones(X_block.shape[0], dtype=X.dtype, device=first.device)
            weight_block = xp.stack([ones if block is None else block
                                     for block in weight_blocks], axis=1)
        n_block = X_block.shape[0]
        raw = X_block @ coef
        raw += intercept
        # One row per (sample, setting): the loss sees a batch of n_block * m samples.
        # (NumPy's vectorised exp and log1p run these faster than a compiled scalar loop
        # over the pairs, measured on a 50 000 x 100 binary search: 1.0 s against 2.7 s.)
        raw = xp.reshape(raw, (n_block * m, n_outputs) if loss.raw_ndim == 2 else (-1,))
        member_weight = (None if weight_block is None
                         else xp.take(weight_block, member_group, axis=1))
        per_sample, grad_raw = loss.loss_gradient(
            _repeat(y_block, m, xp), raw,
            None if member_weight is None else xp.reshape(member_weight, (-1,)))
        per_sample = xp.reshape(per_sample, (n_block, m))
        block_loss = (column_sums(per_sample, xp) if per_sample.dtype == xp.float64
                      else xp.sum(per_sample, axis=0, dtype=xp.float64))
        grad_raw = xp.reshape(grad_raw, (n_block, m * n_outputs))
        block_grad = X_block.T @ grad_raw
        if sp.issparse(block_grad):
            block_grad = block_grad.toarray()
        block_intercept = column_sums(grad_raw, xp)
        if losses is None:
            losses, grad_coef, grad_intercept = block_loss, block_grad, block_intercept
        else:
            losses += block_loss
            grad_coef += block_grad
            grad_intercept += block_intercept
    answers = []
    for j, (objective, w) in enumerate(zip(objectives, points, strict=True)):
        columns = slice(j * n_outputs, (j + 1) * n_outputs)
        if not weights:
            scale = 1.0 / X.shape[0]
        elif rows is None:
            scale = 1.0 / objective.total_weight
        else:
            scale = _mini_batch_scale(objective, X.shape[0])
        grad_scale = scale
        value = losses[j] * scale
        grad = xp.reshape(grad_coef[:, columns].T, (-1,)) * grad_scale
        if objective.l2_reg_strength:
            flat_coef = w[: objective.n_coef]
            value = value + 0.5 * objective.l2_reg_strength * (flat_coef @ flat_coef)
            grad = grad + objective.l2_reg_strength * flat_coef
        if objective.fit_intercept:
            grad = xp.concat([grad, grad_intercept[columns] * grad_scale])
        answers.append((value, grad))
    return answers


def side_by_side(objectives, points):
    """The parameters of objectives on the same data as the columns of one matrix:
    ``(coef, intercept)`` of shapes ``(n_features, m * K)`` and ``(m * K,)``, so that
    ``X @ coef + intercept`` holds the raw predictions of all, each in ``K`` columns."""
    xp, n_features, n_outputs = objectives[0].xp, objectives[0].n_features, \
        objectives[0].n_outputs
    parts = [objective.unpack(w) for objective, w in zip(objectives, points, strict=True)]
    coef = xp.concat([xp.reshape(_transposed(c), (n_features, n_outputs)) for c, _ in parts],
                     axis=1)
    return coef, xp.concat([xp.reshape(b, (n_outputs,)) for _, b in parts])


def _repeat(y, m, xp):
    """Each entry of ``y`` ``m`` times in a row (the (sample, setting) order)."""
    if m == 1:
        return y
    if is_numpy(xp):
        return np.repeat(y, m, axis=0)
    shape = (y.shape[0], m, *y.shape[1:])
    return xp.reshape(xp.broadcast_to(xp.expand_dims(y, axis=1), shape),
                      (y.shape[0] * m, *y.shape[1:]))


class _L1Penalty:
    """``strength * ||coef||_1`` on the first ``n_coef`` entries of the flat vector."""

    def __init__(self, strength, n_coef, xp):
        self.strength = strength
        self.n_coef = n_coef
        self.xp = xp

    def value(self, w):
        """The penalty as a 0-d array on w's device."""
        return self.strength * self.xp.sum(self.xp.abs(w[: self.n_coef]))

    def prox(self, w, step):
        """Soft-thresholding: the proximal operator of ``step * value``; exact zeros."""
        xp = self.xp
        coef = w[: self.n_coef]
        threshold = step * self.strength
        w[: self.n_coef] = xp.sign(coef) * xp.maximum(xp.abs(coef) - threshold,
                                                      _scalar(0, coef))
        return w
