# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""One epoch of small-batch descent without the interpreter (see :mod:`skgd._compiled`).

The per-step work of :func:`skgd._engine.minimize` for a :class:`skgd.losses.LinearObjective`
on NumPy dense or SciPy CSR X, in the Euclidean metric: the raw predictions of the batch's
rows, the per-sample loss and its gradient, the batch's gradient and objective, the update
rule and the L1 prox. Each operation mirrors the NumPy expression of the Python path in
the same order and in the parameters' dtype, so that both paths take the same steps; only
sums (dot products, the loss, the batch's gradient) run in double, where NumPy's BLAS
sums in its own order. Non-finite values propagate as NumPy lets them: a diverging epoch
returns them and the engine raises.

Beside the epochs, the cross-entropy's per-sample loss and gradient of a full-batch pass
(``softmax_loss_gradient``, ``sigmoid_loss_gradient``, ``softmax``), which
:mod:`skgd.losses` takes for float64 NumPy raw predictions; and the greedy independent set
of a sparse Gram matrix's columns (``independent_columns``), a loop over its columns that
:mod:`skgd._curvature` runs in two orders.
"""

from libc.math cimport exp, fabs, log, log1p, pow, sqrt
from libc.stdint cimport int32_t, int64_t

import numpy as np

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

# Loss and rule codes, named in skgd._compiled.
cdef enum:
    SQUARED = 0
    BINARY = 1
    CATEGORICAL = 2

cdef enum:
    PLAIN = 0
    MOMENTUM = 1
    NESTEROV = 2
    ACCELERATED = 3
    ADAM = 4


cdef inline double _dot(const floating* u, const floating* v, Py_ssize_t n) noexcept nogil:
    """``u @ v`` in double, in four running sums: one sum waits on each addition before
    the next, four keep the processor's adders busy (as BLAS does, in its own order)."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t j, end = n - n % 4
    for j in range(0, end, 4):
        s0 += u[j] * v[j]
        s1 += u[j + 1] * v[j + 1]
        s2 += u[j + 2] * v[j + 2]
        s3 += u[j + 3] * v[j + 3]
    for j in range(end, n):
        s0 += u[j] * v[j]
    return (s0 + s1) + (s2 + s3)


cdef inline double _row_dot(const floating* data, const index_t* indices,
                            const index_t* indptr, bint sparse, Py_ssize_t n_features,
                            Py_ssize_t i, const floating* coef) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t t
    if not sparse:
        return _dot(data + i * n_features, coef, n_features)
    for t in range(indptr[i], indptr[i + 1]):
        total += data[t] * coef[indices[t]]
    return total


cdef inline void _row_axpy(const floating* data, const index_t* indices,
                           const index_t* indptr, bint sparse, Py_ssize_t n_features,
                           Py_ssize_t i, double scale, double* out, bint assign) noexcept nogil:
    """``out += scale * x_i``, or ``out = scale * x_i`` where ``assign`` (dense X)."""
    cdef Py_ssize_t j, t
    cdef const floating* row
    if sparse:
        for t in range(indptr[i], indptr[i + 1]):
            out[indices[t]] += scale * data[t]
        return
    row = data + i * n_features
    if assign:
        for j in range(n_features):
            out[j] = scale * row[j]
    else:
        for j in range(n_features):
            out[j] += scale * row[j]


cdef inline double _loss_gradient(int loss, Py_ssize_t n_outputs, double* raw,
                                  const double* y, double* grad) noexcept nogil:
    """The loss of one sample; its gradient with respect to ``raw`` into ``grad``, as
    :mod:`skgd.losses` computes them (``raw`` is overwritten for the softmax)."""
    cdef double value = 0.0, diff, e, top, total, shifted
    cdef Py_ssize_t k, true_class
    if loss == SQUARED:
        for k in range(n_outputs):
            diff = raw[k] - y[k]
            grad[k] = diff
            value += diff * diff
        return 0.5 * value
    if loss == BINARY:
        e = exp(-fabs(raw[0]))
        value = log1p(e)
        shifted = (1 - 2 * y[0]) * raw[0]
        if shifted > 0 or shifted != shifted:
            value += shifted
        grad[0] = (1.0 if raw[0] >= 0 else e) / (1 + e) - y[0]
        return value
    top = raw[0]
    for k in range(1, n_outputs):
        if raw[k] > top or raw[k] != raw[k]:
            top = raw[k]
    total = 0.0
    for k in range(n_outputs):
        # An entry equal to an infinite maximum is the limit's 0, not inf - inf.
        raw[k] = 0.0 if raw[k] == top else raw[k] - top
        grad[k] = exp(raw[k])
        total += grad[k]
    true_class = <Py_ssize_t> y[0]
    for k in range(n_outputs):
        grad[k] /= total
    grad[true_class] -= 1
    return log(total) - raw[true_class]


cdef inline floating _soft_threshold(floating value, floating threshold) noexcept nogil:
    """``sign(value) * max(|value| - threshold, 0)``, NaN staying NaN."""
    cdef floating shrunk = fabs(value) - threshold
    if value != value:
        return value
    if shrunk > 0:
        return shrunk if value > 0 else -shrunk
    return 0


def epoch(floating[::1] params, floating[::1] first, floating[::1] second,
          const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
          bint sparse, Py_ssize_t n_features, const double[:, ::1] y,
          const double[::1] sample_weight, double weight_scale, const int64_t[::1] order,
          Py_ssize_t batch_size,
          int loss, Py_ssize_t n_outputs, bint fit_intercept, int rule, double rate,
          double momentum, double theta, int64_t count, double beta1, double beta2,
          double epsilon, double l2, double l1, floating[::1] average, int64_t n_updates,
          int64_t average_start, int64_t n_averaged, const double[::1] rates):
    """One epoch over ``order`` (or the rows in turn when it is empty), updating
    ``params`` and the rule's arrays in place: ``first`` is the velocity (momentum), the
    query point (accelerated) or the mean (Adam), ``second`` Adam's second moment.
    Where ``average_start > 0``, ``average`` is the running mean of the parameters after
    the updates from the ``average_start``-th on (``n_updates`` done so far, the last
    ``n_averaged`` of them averaged), as :func:`skgd._updates.averaged` keeps it.
    ``rates``, when not empty, holds the rate of each batch (a per-update decay), in
    place of ``rate``. A batch of ``m`` weighted rows sums its rows' weighted losses and
    gradients times ``weight_scale / m`` (``weight_scale = n / S``, the inverse of the
    mean weight): an unbiased estimate of the weighted objective.

    Returns ``(objective, theta, count, n_updates, n_averaged)``: the fraction-weighted
    sum of the batches' objectives at their query points, the accelerated rule's and
    Adam's scalars (``theta`` is the momentum's last rate, 0 before any step, for the
    momentum rules), and the averaging's counts.
    """
    cdef Py_ssize_t n_samples = y.shape[0]
    cdef Py_ssize_t n_coef = n_outputs * n_features
    cdef Py_ssize_t n_params = params.shape[0]
    cdef bint shuffled = order.shape[0] > 0
    cdef bint weighted = sample_weight is not None
    dtype = np.float32 if floating is float else np.float64
    # The batch's raw predictions, their gradients, and its gradient summed in double.
    cdef double[::1] raw = np.empty(batch_size * n_outputs)
    cdef double[::1] grad_raw = np.empty(batch_size * n_outputs)
    cdef double[::1] total_grad = np.empty(n_params)
    cdef floating[::1] lookahead = np.empty(n_params if rule == NESTEROV else 0, dtype)
    cdef floating[::1] moved = np.empty(n_params if rule == ACCELERATED else 0, dtype)
    cdef floating* point
    cdef floating* w = &params[0]
    cdef floating* v = &first[0] if first.shape[0] else NULL
    cdef floating* s = &second[0] if second.shape[0] else NULL
    cdef floating* a = &average[0] if average.shape[0] else NULL
    cdef floating inverse_count
    cdef floating r = <floating> rate
    cdef floating mu = <floating> momentum
    cdef floating l2_f = <floating> l2
    cdef floating threshold = <floating> (rate * l1)
    cdef floating b1 = <floating> beta1, b2 = <floating> beta2
    cdef floating c1 = <floating> (1 - beta1), c2 = <floating> (1 - beta2)
    cdef floating eps = <floating> epsilon, adam_step, g, new, grad_scale, shift, carried
    cdef double objective = 0.0, value, scale, loss_total, norm, inner
    cdef double next_theta, sample_weight_i
    cdef Py_ssize_t batch, start, stop, m, b, i, j, k
    cdef Py_ssize_t n_prox = n_coef if l1 > 0 else 0

    with nogil:
        for batch in range((n_samples + batch_size - 1) // batch_size):
            start = batch * batch_size
            stop = min(start + batch_size, n_samples)
            m = stop - start
            if rates.shape[0]:
                rate = rates[batch]
                r = <floating> rate
                threshold = <floating> (rate * l1)
            if rule == NESTEROV:
                for j in range(n_params):
                    lookahead[j] = w[j] + mu * v[j]
                point = &lookahead[0]
            elif rule == ACCELERATED:
                point = v
            else:
                point = w

            loss_total = 0.0
            # Dense rows cover every column: the first one sets the sums.
            if sparse or not fit_intercept:
                for j in range(n_params):
                    total_grad[j] = 0.0
            for b in range(m):
                i = order[start + b] if shuffled else start + b
                for k in range(n_outputs):
                    raw[b * n_outputs + k] = _row_dot(
                        &data[0], &indices[0] if sparse else NULL,
                        &indptr[0] if sparse else NULL, sparse, n_features, i,
                        point + k * n_features) + (point[n_coef + k] if fit_intercept else 0)
                value = _loss_gradient(loss, n_outputs, &raw[b * n_outputs], &y[i, 0],
                                       &grad_raw[b * n_outputs])
                if weighted:
                    sample_weight_i = sample_weight[i]
                    value *= sample_weight_i
                    for k in range(n_outputs):
                        grad_raw[b * n_outputs + k] *= sample_weight_i
                loss_total += value
                for k in range(n_outputs):
                    _row_axpy(&data[0], &indices[0] if sparse else NULL,
                              &indptr[0] if sparse else NULL, sparse, n_features, i,
                              grad_raw[b * n_outputs + k], &total_grad[k * n_features],
                              b == 0 and not sparse)
                    if fit_intercept:
                        if b == 0 and not sparse:
                            total_grad[n_coef + k] = grad_raw[k]
                        else:
                            total_grad[n_coef + k] += grad_raw[b * n_outputs + k]
            if not weighted:
                scale = 1.0 / m
            else:
                # The weights relative to their mean, n / S, as on the Python path.
                scale = weight_scale / m
            grad_scale = <floating> scale

            value = loss_total * scale
            if l2 != 0:
                value += 0.5 * l2 * _dot(point, point, n_coef)
            if l1 > 0:
                norm = 0.0
                for j in range(n_coef):
                    norm += fabs(point[j])
                value += l1 * norm
            objective += (<double> m / n_samples) * value

            # The gradient at the point (the L2 term on the coefficients only), then the
            # rule's step from it, as skgd._updates takes it.
            if rule == PLAIN:
                # Branch-free loops that the compiler vectorises: the most common rule.
                if l2 != 0:
                    for j in range(n_coef):
                        w[j] = point[j] - r * (
                            (<floating> total_grad[j]) * grad_scale + l2_f * point[j])
                else:
                    for j in range(n_coef):
                        w[j] = point[j] - r * ((<floating> total_grad[j]) * grad_scale)
                for j in range(n_coef, n_params):
                    w[j] = point[j] - r * ((<floating> total_grad[j]) * grad_scale)
                for j in range(n_prox):
                    w[j] = _soft_threshold(w[j], threshold)
            elif rule == MOMENTUM or rule == NESTEROV:
                # theta is the last step's rate: the velocity counts in its units (as
                # skgd._updates.gd's).
                carried = <floating> (momentum * (rate / theta)) if theta > 0 else mu
                for j in range(n_params):
                    g = (<floating> total_grad[j]) * grad_scale
                    if l2 != 0 and j < n_coef:
                        g = g + l2_f * point[j]
                    new = w[j] + carried * v[j] - r * g
                    if j < n_prox:
                        new = _soft_threshold(new, threshold)
                    v[j] = new - w[j]
                    w[j] = new
                theta = rate
            elif rule == ACCELERATED:
                inner = 0.0
                for j in range(n_params):
                    g = (<floating> total_grad[j]) * grad_scale
                    if l2 != 0 and j < n_coef:
                        g = g + l2_f * point[j]
                    new = point[j] - r * g
                    if j < n_prox:
                        new = _soft_threshold(new, threshold)
                    moved[j] = new - w[j]
                    inner += (point[j] - new) * moved[j]
                    w[j] = new
                # Adaptive restart: the step turned against the momentum.
                if inner > 0:
                    theta = 1.0
                    for j in range(n_params):
                        v[j] = w[j]
                else:
                    next_theta = 0.5 * (1.0 + sqrt(1.0 + 4.0 * theta * theta))
                    # ``momentum`` is the accelerated rule's max_momentum.
                    shift = <floating> min((theta - 1.0) / next_theta, momentum)
                    theta = next_theta
                    for j in range(n_params):
                        v[j] = w[j] + shift * moved[j]
            else:
                count += 1
                adam_step = <floating> (rate * sqrt(1 - pow(beta2, <double> count))
                                        / (1 - pow(beta1, <double> count)))
                for j in range(n_params):
                    g = (<floating> total_grad[j]) * grad_scale
                    if l2 != 0 and j < n_coef:
                        g = g + l2_f * point[j]
                    v[j] = b1 * v[j] + c1 * g
                    s[j] = b2 * s[j] + c2 * (g * g)
                    new = w[j] - adam_step * v[j] / (sqrt(s[j]) + eps)
                    w[j] = _soft_threshold(new, threshold) if j < n_prox else new

            if average_start > 0:
                n_updates += 1
                if n_updates >= average_start:
                    n_averaged += 1
                    # As the NumPy expression average + (w - average) * (1 / n_averaged):
                    # a product, not a division per coefficient. With the division an
                    # averaged epoch (160 000 x 100 dense, batch 1) took 1.16-1.25x a
                    # plain one, 81-83 ms; with the product 1.05-1.14x, 72-76 ms.
                    inverse_count = <floating> (1.0 / n_averaged)
                    for j in range(n_params):
                        a[j] = a[j] + (w[j] - a[j]) * inverse_count
    return objective, theta, count, n_updates, n_averaged


def plain_sparse_epoch(floating[::1] params, const floating[::1] data,
                       const index_t[::1] indices, const index_t[::1] indptr,
                       Py_ssize_t n_features, const double[:, ::1] y,
                       const double[::1] sample_weight, double weight_scale,
                       const int64_t[::1] order,
                       Py_ssize_t batch_size, int loss, Py_ssize_t n_outputs,
                       bint fit_intercept, double rate, double l2, floating[::1] average,
                       int64_t n_updates, int64_t average_start, int64_t n_averaged,
                       const double[::1] rates):
    """:func:`epoch` for plain descent on CSR X without L1, touching only the batch's
    nonzero columns: the coefficients are ``scale * unscaled``, and the L2 term's shrink
    ``(1 - rate * l2)`` of every coefficient is a product into ``scale`` (as scikit-learn's
    SGD does). Needs ``rate * l2 < 1`` (for every rate of ``rates``, as in :func:`epoch`).

    The average (``average_start > 0``, as in :func:`epoch`) is kept as lazily: the sum
    of the averaged coefficients is ``total + weight * unscaled``, so a step that moves
    ``unscaled`` by ``delta`` on the batch's columns takes ``weight * delta`` off
    ``total`` there, and averaging the new iterate adds its ``scale`` to ``weight``.
    Returns ``(objective, n_updates, n_averaged)``."""
    cdef Py_ssize_t n_samples = y.shape[0]
    cdef Py_ssize_t n_coef = n_outputs * n_features
    cdef bint shuffled = order.shape[0] > 0
    cdef bint weighted = sample_weight is not None
    cdef double[::1] raw = np.empty(batch_size * n_outputs)
    cdef double[::1] grad_raw = np.empty(batch_size * n_outputs)
    cdef double[::1] unscaled = np.asarray(params[:n_coef], dtype=np.float64).copy()
    cdef double[::1] intercept_grad = np.empty(n_outputs)
    cdef double* u = &unscaled[0] if n_coef else NULL
    cdef double scale = 1.0, squares = 0.0, objective = 0.0, value, batch_scale
    cdef double loss_total, step, old, sample_weight_i
    cdef Py_ssize_t batch, start, stop, m, b, i, j, k, t
    cdef bint averaging = average_start > 0
    # The sum of the averaged coefficients is total + weight * unscaled; the intercepts'
    # mean is kept as it is.
    cdef double[::1] total = (np.asarray(average[:n_coef], dtype=np.float64) * n_averaged
                              if averaging else np.empty(0))
    cdef double[::1] intercept_average = (np.asarray(average[n_coef:], dtype=np.float64)
                                          if averaging else np.empty(0))
    cdef double weight = 0.0
    for j in range(n_coef):
        squares += u[j] * u[j]

    with nogil:
        for batch in range((n_samples + batch_size - 1) // batch_size):
            start = batch * batch_size
            stop = min(start + batch_size, n_samples)
            m = stop - start
            if rates.shape[0]:
                rate = rates[batch]
            loss_total = 0.0
            for k in range(n_outputs):
                intercept_grad[k] = 0.0
            for b in range(m):
                i = order[start + b] if shuffled else start + b
                for k in range(n_outputs):
                    value = 0.0
                    for t in range(indptr[i], indptr[i + 1]):
                        value += data[t] * u[k * n_features + indices[t]]
                    raw[b * n_outputs + k] = scale * value + (
                        params[n_coef + k] if fit_intercept else 0)
                value = _loss_gradient(loss, n_outputs, &raw[b * n_outputs], &y[i, 0],
                                       &grad_raw[b * n_outputs])
                if weighted:
                    sample_weight_i = sample_weight[i]
                    value *= sample_weight_i
                    for k in range(n_outputs):
                        grad_raw[b * n_outputs + k] *= sample_weight_i
                loss_total += value
                for k in range(n_outputs):
                    intercept_grad[k] += grad_raw[b * n_outputs + k]
            if not weighted:
                batch_scale = 1.0 / m
            else:
                batch_scale = weight_scale / m
            objective += (<double> m / n_samples) * (
                loss_total * batch_scale + 0.5 * l2 * (scale * scale * squares))

            scale *= 1 - rate * l2
            for b in range(m):
                i = order[start + b] if shuffled else start + b
                for k in range(n_outputs):
                    step = rate * grad_raw[b * n_outputs + k] * batch_scale / scale
                    for t in range(indptr[i], indptr[i + 1]):
                        j = k * n_features + indices[t]
                        old = u[j]
                        u[j] = old - step * data[t]
                        squares += u[j] * u[j] - old * old
                        if averaging:
                            total[j] -= weight * (u[j] - old)
            if fit_intercept:
                for k in range(n_outputs):
                    params[n_coef + k] = params[n_coef + k] - <floating> (
                        rate * (intercept_grad[k] * batch_scale))
            if averaging:
                n_updates += 1
                if n_updates >= average_start:
                    n_averaged += 1
                    weight += scale
                    for k in range(n_outputs if fit_intercept else 0):
                        intercept_average[k] += (
                            params[n_coef + k] - intercept_average[k]) * (1.0 / n_averaged)
            # Fold the scale in before it underflows; the running sum of squares (and
            # the average's weight) is refreshed with it.
            if scale < 1e-9:
                squares = 0.0
                for j in range(n_coef):
                    if averaging:
                        total[j] += weight * u[j]
                    u[j] *= scale
                    squares += u[j] * u[j]
                weight = 0.0
                scale = 1.0
        for j in range(n_coef):
            params[j] = <floating> (scale * u[j])
        if averaging and n_averaged > 0:
            for j in range(n_coef):
                average[j] = <floating> ((total[j] + weight * u[j]) / n_averaged)
            for k in range(n_outputs if fit_intercept else 0):
                average[n_coef + k] = <floating> intercept_average[k]
    return objective, n_updates, n_averaged


cdef inline double _softmax_row(const double* row, Py_ssize_t n_classes, double* out,
                                double* top) noexcept nogil:
    """The softmax of ``row`` into ``out``, about its maximum (into ``top``); returns the
    log of the shifted sum."""
    cdef Py_ssize_t k
    cdef double total = 0.0
    top[0] = row[0]
    for k in range(1, n_classes):
        if row[k] > top[0] or row[k] != row[k]:
            top[0] = row[k]
    for k in range(n_classes):
        # An entry equal to an infinite maximum is the limit's 0, not inf - inf.
        out[k] = exp(0.0 if row[k] == top[0] else row[k] - top[0])
        total += out[k]
    for k in range(n_classes):
        out[k] /= total
    return log(total)


def softmax_loss_gradient(const double[:, ::1] raw, const double[::1] y,
                          const double[::1] sample_weight, double[::1] loss,
                          double[:, ::1] grad):
    """Each row's softmax cross-entropy into ``loss`` and its gradient ``softmax(raw) -
    one_hot(y)`` into ``grad``, times the row's weight where ``sample_weight`` is not
    empty, in one pass over the rows: the seven NumPy passes of
    ``CategoricalCrossEntropy.loss_gradient`` (the row maxima, the shift, exp, the sums,
    the division, the gather and the scatter), in the same order of operations. A row of
    weight 0 (a search's test rows) is 0 in both, whatever its raw prediction. ``raw`` is
    read only. Raises ValueError where a label is not a class index (0 to K - 1)."""
    cdef Py_ssize_t n = raw.shape[0], n_classes = raw.shape[1], i, k, true_class
    cdef Py_ssize_t bad = -1
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef double top, log_total, weight = 1.0
    cdef const double* row
    cdef double* out
    with nogil:
        for i in range(n):
            # The label indexes the row: checked, as NumPy's take checks its index.
            if not (0 <= y[i] < n_classes) or y[i] != <Py_ssize_t> y[i]:
                bad = i
                break
            out = &grad[i, 0]
            if weighted:
                weight = sample_weight[i]
                if weight == 0:
                    for k in range(n_classes):
                        out[k] = 0.0
                    loss[i] = 0.0
                    continue
            row = &raw[i, 0]
            log_total = _softmax_row(row, n_classes, out, &top)
            true_class = <Py_ssize_t> y[i]
            out[true_class] -= 1
            loss[i] = log_total - (0.0 if row[true_class] == top else row[true_class] - top)
            if weighted:
                loss[i] *= weight
                for k in range(n_classes):
                    out[k] *= weight
    if bad >= 0:
        raise ValueError(f"y_true[{bad}] = {y[bad]} is not a class index: the labels of "
                         f"the softmax's cross-entropy are 0 to {n_classes - 1}.")


def softmax(const double[:, ::1] raw, double[:, ::1] proba):
    """Each row's softmax into ``proba``, as ``softmax_loss_gradient`` computes it."""
    cdef Py_ssize_t i
    cdef double top
    with nogil:
        for i in range(raw.shape[0]):
            _softmax_row(&raw[i, 0], raw.shape[1], &proba[i, 0], &top)


def sigmoid_loss_gradient(const double[::1] raw, const double[::1] y,
                          const double[::1] sample_weight, double[::1] loss,
                          double[::1] grad):
    """Each sample's binary cross-entropy into ``loss`` and its gradient ``expit(raw) -
    y`` into ``grad``, times its weight where ``sample_weight`` is not empty, as
    ``BinaryCrossEntropy.loss_gradient`` computes them (from one ``exp(-|z|)``) in one
    pass. A sample of weight 0 is 0 in both. ``raw`` is read only."""
    cdef Py_ssize_t n = raw.shape[0], i
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef double z, e, value, shifted, weight = 1.0
    with nogil:
        for i in range(n):
            if weighted:
                weight = sample_weight[i]
                if weight == 0:
                    loss[i] = 0.0
                    grad[i] = 0.0
                    continue
            z = raw[i]
            e = exp(-fabs(z))
            value = log1p(e)
            shifted = (1 - 2 * y[i]) * z
            # max(shifted, 0) as NumPy's maximum takes it: NaN propagates.
            if shifted > 0 or shifted != shifted:
                value += shifted
            grad[i] = (1.0 if z >= 0 else e) / (1 + e) - y[i]
            if weighted:
                value *= weight
                grad[i] *= weight
            loss[i] = value


def independent_columns(const index_t[::1] indptr, const index_t[::1] indices,
                        const Py_ssize_t[::1] order, unsigned char[::1] free,
                        unsigned char[::1] chosen):
    """The greedy independent set of ``skgd._curvature._independent_columns``: each
    column of ``order`` still ``free`` is ``chosen``, and the columns of its nonzeros
    (a CSC matrix's ``indptr`` and ``indices``) stop being free."""
    cdef Py_ssize_t k, column, j
    with nogil:
        for k in range(order.shape[0]):
            column = order[k]
            if free[column]:
                chosen[column] = 1
                for j in range(indptr[column], indptr[column + 1]):
                    free[indices[j]] = 0
