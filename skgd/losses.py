"""Per-sample losses and the linear-model objective that the descent engine minimises.

A loss is a small object whose methods act per sample on the raw prediction
``raw_prediction = X @ coef.T + intercept``, as in scikit-learn's ``sklearn._loss``.
Averaging over samples, the linear model and the L2 term live in :class:`LinearObjective`,
which exposes ``loss``, ``gradient`` and ``loss_gradient`` on a flat parameter vector so
that ``scipy.optimize.check_grad`` and the descent engine consume it unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit

__all__ = [
    "SquaredError",
    "BinaryCrossEntropy",
    "CategoricalCrossEntropy",
    "LinearObjective",
]


# Rows of dense X per block of LinearObjective.loss_gradient: a few MiB, so that a block
# read for the forward product is still in cache for the gradient.
_BLOCK_BYTES = 4 * 2**20
# Below this many columns of X, lipschitz() builds the Gram matrix (one pass, exact)
# instead of iterating matrix-vector passes.
_GRAM_MAX_COLUMNS = 256


def _row_blocks(X, *columns):
    """Yield ``(X block, column blocks...)`` over cache-sized row blocks of dense X.

    Sparse X, and X smaller than one block, come whole. ``None`` columns stay None.
    """
    n_samples = X.shape[0]
    step = max(256, _BLOCK_BYTES // max(1, X.shape[1] * X.dtype.itemsize))
    if sp.issparse(X) or step >= n_samples:
        yield (X, *columns)
        return
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        yield (X[rows], *(None if column is None else column[rows] for column in columns))


def _weighted(values, sample_weight):
    """Scale freshly computed per-sample ``values`` by the weights, in place."""
    if sample_weight is not None:
        values *= sample_weight[:, None] if values.ndim == 2 else sample_weight
    return values


class _PerSampleLoss:
    """``loss`` and ``gradient`` taken from ``loss_gradient``, so each loss writes its
    formula once."""

    def loss(self, y_true, raw_prediction, sample_weight=None):
        """Per-sample loss, of shape (n_samples,)."""
        return self.loss_gradient(y_true, raw_prediction, sample_weight)[0]

    def gradient(self, y_true, raw_prediction, sample_weight=None):
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

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None):
        """``(loss, gradient)`` in one pass."""
        diff = raw_prediction - y_true
        sq = diff * diff
        if sq.ndim == 2:
            sq = sq.sum(axis=1)
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

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None):
        """``(loss, gradient)`` in one pass, from one exponential per sample.

        With ``e = exp(-|z|)`` in (0, 1]: ``loss = log1p(e) + max((1 - 2y) z, 0)`` and
        ``expit(z) = 1 / (1 + e)`` for ``z >= 0``, ``e / (1 + e)`` otherwise.
        """
        exp_neg_abs = np.exp(-np.abs(raw_prediction))
        loss = np.log1p(exp_neg_abs)
        loss += np.maximum((1 - 2 * y_true) * raw_prediction, 0)
        gradient = np.where(raw_prediction >= 0, 1, exp_neg_abs)
        gradient /= 1 + exp_neg_abs
        gradient -= y_true
        return _weighted(loss, sample_weight), _weighted(gradient, sample_weight)

    @staticmethod
    def predict_proba(raw_prediction):
        """Class probabilities ``[1 - p, p]``, of shape (n_samples, 2)."""
        proba = expit(raw_prediction)
        return np.column_stack([1 - proba, proba])

    @staticmethod
    def predict_log_proba(raw_prediction):
        """Log-probabilities, stable for large ``|raw_prediction|``."""
        return np.column_stack([log_expit(-raw_prediction), log_expit(raw_prediction)])


class CategoricalCrossEntropy(_PerSampleLoss):
    """Categorical cross-entropy with the softmax link, one raw output per class.

    ``loss_i = log sum_k exp(z_ik) - z_{i, y_i}``. Domain: ``y`` integer class indices
    0..K-1 of shape ``(n_samples,)``; raw prediction of shape ``(n_samples, K)``.
    The log-sum-exp subtracts the row maximum first, so it never overflows.

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
    raw_ndim = 2

    def __init__(self, n_classes: int):
        self.n_classes = n_classes

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    @staticmethod
    def _log_softmax_parts(raw_prediction):
        """Return ``(raw - row max, softmax, log of the shifted sum)``.

        Keeping the row maximum out of the sum avoids both overflow and the cancellation
        of ``(max + log sum) - raw``, which in float32 loses digits for large logits.
        numpy reduces a short last axis slowly, so the row maximum is a loop over the
        columns and the row sum a matrix-vector product.
        """
        row_max = raw_prediction[:, 0].copy()
        for column in range(1, raw_prediction.shape[1]):
            np.maximum(row_max, raw_prediction[:, column], out=row_max)
        shifted = raw_prediction - row_max[:, None]
        proba = np.exp(shifted)
        total = proba @ np.ones(proba.shape[1], dtype=proba.dtype)
        proba /= total[:, None]
        return shifted, proba, np.log(total)

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None):
        """``(loss, gradient)`` in one pass."""
        n_samples, n_classes = raw_prediction.shape
        # Flat positions of the true classes: faster than fancy indexing on two axes.
        true_class = np.arange(n_samples) * n_classes + np.asarray(y_true, dtype=np.intp)
        shifted, proba, log_total = self._log_softmax_parts(raw_prediction)
        loss = log_total - shifted.ravel().take(true_class)
        proba.ravel()[true_class] -= 1
        return _weighted(loss, sample_weight), _weighted(proba, sample_weight)

    @classmethod
    def predict_proba(cls, raw_prediction):
        """Softmax probabilities, of shape (n_samples, K)."""
        return cls._log_softmax_parts(raw_prediction)[1]

    @classmethod
    def predict_log_proba(cls, raw_prediction):
        """Log-softmax, stable for large ``|raw_prediction|``."""
        shifted, _, log_total = cls._log_softmax_parts(raw_prediction)
        return shifted - log_total[:, None]


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
    X : {ndarray, scipy.sparse CSR matrix} of shape (n_samples, n_features)
        float32 or float64; never copied.
    y : ndarray
        Targets as the loss expects them (encoded class indices for classification).
    sample_weight : ndarray of shape (n_samples,), default=None
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

    def __init__(self, loss, X, y, sample_weight=None, alpha=0.0, l1_ratio=0.0,
                 fit_intercept=True):
        self.loss_function = loss
        self.X = X
        self.y = y
        self.sample_weight = (None if sample_weight is None
                              else np.asarray(sample_weight, dtype=X.dtype))
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.n_samples, self.n_features = X.shape
        self.n_outputs = loss.n_outputs
        self.n_coef = self.n_outputs * self.n_features
        self.n_params = self.n_coef + (self.n_outputs if fit_intercept else 0)
        self.l2_reg_strength = float(alpha * (1.0 - l1_ratio))

    # -- layout -----------------------------------------------------------------------
    def unpack(self, w):
        """Split a flat vector into ``(coef, intercept)`` views.

        ``coef`` has shape ``(n_features,)`` for a 1-D raw prediction, else
        ``(n_outputs, n_features)``; ``intercept`` is a scalar or ``(n_outputs,)``.
        """
        coef = w[: self.n_coef]
        intercept = w[self.n_coef:] if self.fit_intercept else np.zeros(self.n_outputs, w.dtype)
        if self.loss_function.raw_ndim == 1:
            return coef, intercept[0]
        return coef.reshape(self.n_outputs, self.n_features), intercept

    def raw_prediction(self, w, X=None):
        """``X @ coef.T + intercept`` for the flat vector ``w`` (X defaults to the data)."""
        coef, intercept = self.unpack(w)
        X = self.X if X is None else X
        return X @ coef.T + intercept

    def init_params(self):
        """The zero vector in X's dtype, the engine's default starting point."""
        return np.zeros(self.n_params, dtype=self.X.dtype)

    # -- objective --------------------------------------------------------------------
    def loss_gradient(self, w, rows=None):
        """Return ``(F(w), dF/dw)``, reading X once.

        Dense X is processed in row blocks that stay in cache: the forward product, the
        per-sample loss and the block's share of the gradient are computed before moving
        on, so X streams from memory once instead of twice, and the per-sample
        temporaries stay block-sized.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        rows : slice or ndarray of int, default=None
            Evaluate the same objective on these samples only (a mini-batch): their
            weights are normalised by their own sum.
        """
        X, y, weight = self.X, self.y, self.sample_weight
        if rows is not None:
            X, y = X[rows], y[rows]
            weight = None if weight is None else weight[rows]
        if weight is None:
            scale = 1.0 / X.shape[0]
        else:
            total = float(np.sum(weight, dtype=np.float64))
            scale = 1.0 / total if total > 0 else 0.0
        coef, intercept = self.unpack(w)
        grad = np.zeros_like(w)
        grad_coef = grad[: self.n_coef].reshape(coef.shape)
        loss = 0.0
        for X_block, y_block, weight_block in _row_blocks(X, y, weight):
            raw = X_block @ coef.T
            raw += intercept
            per_sample, grad_raw = self.loss_function.loss_gradient(y_block, raw,
                                                                    weight_block)
            loss += float(per_sample.sum(dtype=np.float64))
            if sp.issparse(X_block):
                grad_coef += (X_block.T @ grad_raw).T
            else:
                grad_coef += grad_raw.T @ X_block
            if self.fit_intercept:
                grad[self.n_coef:] += grad_raw.sum(axis=0)
        loss *= scale
        grad *= grad.dtype.type(scale)
        if self.l2_reg_strength:
            flat_coef = w[: self.n_coef]
            loss += 0.5 * self.l2_reg_strength * float(flat_coef @ flat_coef)
            grad[: self.n_coef] += self.l2_reg_strength * flat_coef
        return loss, grad

    def loss(self, w):
        """``F(w)`` as a float."""
        return self.loss_gradient(w)[0]

    def gradient(self, w):
        """``dF/dw`` as a flat array."""
        return self.loss_gradient(w)[1]

    def l1_penalty(self):
        """The non-smooth part ``alpha * l1_ratio * ||W||_1``, or None when it is zero."""
        strength = float(self.alpha * self.l1_ratio)
        return _L1Penalty(strength, self.n_coef) if strength > 0 else None

    # -- step size --------------------------------------------------------------------
    def lipschitz(self, batch_size=None):
        """Estimate the Lipschitz constant L of the gradient of ``F``.

        ``L = curvature * lambda_max(X1^T D X1 / S) + l2`` where ``X1`` is X with a
        column of ones when there is an intercept and ``D`` holds the sample weights.
        For mini-batches of size ``b`` the constant of the expected mini-batch gradient
        (Gower et al., 2019) interpolates between the full-batch value and the largest
        per-sample ``max_i ||x1_i||^2``.
        """
        X = self.X
        if X.shape[1] < _GRAM_MAX_COLUMNS:
            eig = self._top_eigenvalue_from_gram()
        else:
            eig = self._top_eigenvalue_by_power_iteration()
        lipschitz = eig
        n = self.n_samples
        if batch_size is not None and batch_size < n:
            sq_norms = (np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X)
                        else np.einsum("ij,ij->i", X, X))
            largest = float(sq_norms.max()) + (1.0 if self.fit_intercept else 0.0)
            b = batch_size
            lipschitz = (n * (b - 1) * eig + (n - b) * largest) / (b * (n - 1))
        return self.loss_function.curvature * lipschitz + self.l2_reg_strength

    def _total_weight(self):
        if self.sample_weight is None:
            return float(self.n_samples)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    def _top_eigenvalue_from_gram(self):
        """Exact lambda_max of ``X1^T D X1 / S`` from its Gram matrix, built in one pass.

        With few columns the Gram matrix costs a few passes' worth of BLAS-3 work and
        gives the exact value, where power iteration needs many passes for a bound.
        """
        n_features = self.n_features
        n_cols = n_features + (1 if self.fit_intercept else 0)
        gram = np.zeros((n_cols, n_cols), dtype=self.X.dtype)
        for X_block, weight in _row_blocks(self.X, self.sample_weight):
            if sp.issparse(X_block):
                weighted = (X_block if weight is None
                            else sp.csr_matrix(X_block.multiply(weight[:, None])))
                gram[:n_features, :n_features] += (weighted.T @ X_block).toarray()
            else:
                weighted = X_block if weight is None else X_block * weight[:, None]
                gram[:n_features, :n_features] += weighted.T @ X_block
            if self.fit_intercept:
                column_sums = np.asarray(weighted.sum(axis=0)).ravel()
                gram[:n_features, -1] += column_sums
                gram[-1, :n_features] += column_sums
        if self.fit_intercept:
            gram[-1, -1] = self._total_weight()
        return float(np.linalg.eigvalsh(gram)[-1]) / self._total_weight()

    def _top_eigenvalue_by_power_iteration(self, n_iter=30, rtol=1e-3, block_size=8):
        """lambda_max of ``X1^T D X1 / S`` by block power iteration with Rayleigh-Ritz.

        Each iteration is one row-blocked pass applying the matrix to ``block_size``
        vectors at once; the block makes it converge to the top of a cluster of close
        eigenvalues, where a single vector can stall on the second one.
        """
        n_features = self.n_features
        n_cols = n_features + (1 if self.fit_intercept else 0)
        dtype = self.X.dtype
        rng = np.random.default_rng(0)
        basis = np.linalg.qr(
            rng.standard_normal((n_cols, min(block_size, n_cols))).astype(dtype))[0]
        eig = 0.0
        for _ in range(n_iter):
            image = np.zeros_like(basis)
            for X_block, weight in _row_blocks(self.X, self.sample_weight):
                projected = X_block @ basis[:n_features]
                if self.fit_intercept:
                    projected += basis[-1]
                if weight is not None:
                    projected *= weight[:, None]
                image[:n_features] += X_block.T @ projected
                if self.fit_intercept:
                    image[-1] += projected.sum(axis=0)
            image *= dtype.type(1.0 / self._total_weight())
            # Rayleigh-Ritz: the largest eigenvalue of the matrix restricted to the block.
            new_eig = float(np.linalg.eigvalsh(basis.T @ image)[-1])
            converged = abs(new_eig - eig) <= rtol * new_eig
            eig = new_eig
            if converged or basis.shape[1] == n_cols:
                break
            basis = np.linalg.qr(image)[0]
        return eig


class _L1Penalty:
    """``strength * ||coef||_1`` on the first ``n_coef`` entries of the flat vector."""

    def __init__(self, strength, n_coef):
        self.strength = strength
        self.n_coef = n_coef

    def value(self, w):
        return self.strength * float(np.abs(w[: self.n_coef]).sum())

    def prox(self, w, step):
        """Soft-thresholding: the proximal operator of ``step * value``; exact zeros."""
        coef = w[: self.n_coef]
        threshold = step * self.strength
        w[: self.n_coef] = np.sign(coef) * np.maximum(np.abs(coef) - threshold, 0)
        return w
