"""Checks of the data and weights a fit is given, shared by the in-memory, dask and CV
fits."""

import math
import sys

import numpy as np
from sklearn.utils.validation import validate_data

# The dtypes the fits compute in; others are converted (to float64) by validate_data.
FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def validated(estimator, X, y="no_validation", *, dtype, reset, multi_output=False,
              y_numeric=False):
    """``validate_data(estimator, X, y, accept_sparse="csr", dtype=dtype, ...)``, and
    without its checks where their outcome is known: X a NumPy float array of finite
    values and an estimator without feature names, or a pandas DataFrame of NumPy numeric
    columns (finite) under string column names (the estimator's own, where fitted), and
    (where given) 1-D targets of the same length, finite, of a plain dtype, or strings
    (a NumPy array or a pandas Series). Those pass its checks, and the values returned
    are its own (a frame's in their common float dtype), where it takes 0.1 to 0.3 ms
    on NumPy data (0.28 ms on 16 x 6 rows and their targets: a quarter of a small
    least-squares fit) and 1.1 to 1.4 ms on a DataFrame of 700 rows and a Series of
    text labels. Everything else goes to it, which converts, warns or raises as it does.
    ``y="no_validation"`` (its default): X alone."""
    alone = isinstance(y, str) and y == "no_validation"
    plain = _plain_values(estimator, X, reset)
    if plain is not None:
        values, names = plain
        targets = None if alone else _plain_targets(y, values.shape[0], y_numeric)
        if alone or targets is not None:
            if reset:
                estimator.n_features_in_ = values.shape[1]
                if names is not None:
                    estimator.feature_names_in_ = names
            return values if alone else (values, targets)
    if alone:
        return validate_data(estimator, X, accept_sparse="csr", dtype=dtype, reset=reset)
    return validate_data(estimator, X, y, accept_sparse="csr", dtype=dtype, reset=reset,
                         multi_output=multi_output, y_numeric=y_numeric)


def _plain_values(estimator, X, reset):
    """``(values, feature names or None)`` where validate_data would give X's values
    unchanged and keep (or set, at ``reset``) the estimator's feature names as they are
    without a word; None where it may convert, warn or raise."""
    names = None
    if type(X) is not np.ndarray:
        frame = _frame(X)
        if frame is None:
            return None
        names, dtype = frame
        fitted = getattr(estimator, "feature_names_in_", None)
        if not reset and (fitted is None or not np.array_equal(fitted, names)):
            return None
        # A frame's values, as validate_data takes them: a view where pandas has one
        # float block, else converted to the columns' common float dtype (float64 for
        # integers and booleans; to_numpy's conversion, 10x faster than NumPy's of
        # the frame: 23 against 219 us on 700 x 4 of mixed dtypes).
        X = X.to_numpy(dtype=dtype)
    elif hasattr(estimator, "feature_names_in_"):
        return None
    if (X.ndim == 2 and X.dtype in FLOATS and min(X.shape) >= 1
            and (reset or getattr(estimator, "n_features_in_", X.shape[1]) == X.shape[1])
            and _finite(X)):
        return X, names
    return None


def _frame(X):
    """``(column names, dtype of its values)`` of a pandas DataFrame of NumPy numeric
    columns (floats, integers, booleans; no pandas extension dtype) named by strings
    (as ``feature_names_in_``), else None. The dtype is validate_data's: the columns'
    common dtype where it is float64 or float32, else float64."""
    pandas = sys.modules.get("pandas")
    if pandas is None or type(X) is not pandas.DataFrame or X.shape[1] == 0:
        return None
    dtypes = set(X.dtypes)
    if not all(isinstance(dtype, np.dtype) and dtype.kind in "biuf" for dtype in dtypes):
        return None
    common = np.result_type(*dtypes)
    names = np.asarray(X.columns, dtype=object)
    if not all(type(name) is str for name in names):
        return None
    return names, common if common in FLOATS else np.dtype(np.float64)


def _plain_targets(y, n_samples, y_numeric):
    """``y`` as validate_data would give it where it gives it unchanged (see
    ``validated``), else None: a NumPy array, or a pandas Series of such values."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and type(y) is pandas.Series and isinstance(
            y.dtype, (np.dtype, pandas.StringDtype)):
        # As validate_data takes its values (pandas' text dtype: an object array; its
        # nullable numbers it converts otherwise).
        y = np.asarray(y)
    if type(y) is not np.ndarray or y.ndim != 1 or y.shape[0] != n_samples:
        return None
    kind = y.dtype.kind
    if kind in "iub" or (kind == "f" and _finite(y)):
        return y
    # Strings name classes; a regressor's would be converted. (An object array of
    # strings is what pandas gives for text labels; NaN or None among them is checked.)
    if not y_numeric and (kind in "US" or string_labels(y) is not None):
        return y
    return None


def string_labels(y):
    """``y``'s labels as a list where ``y`` is a 1-D object array of strings only (what
    pandas gives for a column of text labels), else None. Such labels are classes
    whatever they say, and hashing them sorts and indexes them in linear time, where
    NumPy's sort and search of objects compare them pairwise: on 700 rows 0.44 ms
    against 0.02 ms."""
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype == object):
        return None
    labels = y.tolist()
    return labels if all(type(label) is str for label in labels) else None


def _finite(array):
    """Whether every entry is finite, by the sum first (as scikit-learn checks): a sum
    that overflows leaves the answer to validate_data."""
    with np.errstate(over="ignore", invalid="ignore"):
        return math.isfinite(array.sum())


def _check_class_weight(per_class, classes, class_weight):
    """Raise unless every class weight is finite and non-negative: a negative one makes
    the objective unbounded below, and NaN or inf poison every sum."""
    bad = ~(np.isfinite(per_class) & (per_class >= 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"class_weight={class_weight!r} gives class {classes.tolist()[first]!r} the "
            f"weight {per_class[first]}; class weights must be finite and non-negative.")
    return per_class


def _check_weight_sum(sample_weight, class_weight=None):
    """Raise unless the sample weights sum to a positive, finite number."""
    with np.errstate(over="ignore"):
        total = float(np.sum(sample_weight, dtype=np.float64))
    name = "sample_weight" if class_weight is None else "sample_weight (times class_weight)"
    if not total > 0:
        raise ValueError(f"{name} sums to zero: at least one sample needs a positive "
                         "weight.")
    if not math.isfinite(total):
        raise ValueError(f"{name} sums to {total}: rescale the weights (only their "
                         "ratios matter).")


def _check_weighted_classes(classes, totals, class_weight=None):
    """Raise unless the weights leave samples of at least 2 classes (``totals``: each
    class's weight): a classifier of one class has no minimiser (its intercept grows
    without bound), as for y of one class."""
    kept = np.flatnonzero(np.asarray(totals) > 0)
    # (No class at all: _check_weight_sum says that the weights sum to zero.)
    if kept.size == 1:
        name = ("sample_weight" if class_weight is None
                else "sample_weight (times class_weight)")
        raise ValueError(
            f"{name} leaves samples of one class only, {classes.tolist()[kept[0]]!r}: a "
            "classifier needs samples of at least 2 classes with a positive weight "
            "(fitted to one, its intercept would grow without bound). Give samples of "
            "another class a positive weight.")


def _unit_scale(sample_weight):
    """``sample_weight`` times the power of 2 that brings its largest entry into [1, 2).

    Only the weights' ratios enter the objective, which divides by their sum: scaled by a
    power of 2 it is the same to the last bit, while weights of any scale (1e-320, whose
    sum's inverse overflows, or 1e300) neither underflow nor overflow the passes' sums.
    Weights of 1 stay 1."""
    largest = np.max(sample_weight)
    if not (largest > 0 and np.isfinite(largest)):
        return sample_weight
    return np.ldexp(sample_weight, 1 - int(np.frexp(largest)[1])).astype(
        sample_weight.dtype, copy=False)


def _balanced_class_weight(counts):
    """``class_weight="balanced"`` of the classes' (weighted) ``counts``: their sum over
    ``n_classes`` times each, as ``compute_class_weight`` counts them with
    ``sample_weight``; a class of no weight has no term to weigh (0, not inf)."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.divide(counts.sum(), len(counts) * counts, out=np.zeros(len(counts)),
                     where=counts > 0)


def _mixed_labels(kinds):
    """The TypeError of labels of several ``kinds`` (type names), which do not sort."""
    return TypeError(
        f"y holds labels of several types ({', '.join(kinds)}), which cannot be sorted "
        "into classes_. Give them one type, e.g. y.astype(str), and drop or label the "
        "rows whose label is missing (None, NaN).")
