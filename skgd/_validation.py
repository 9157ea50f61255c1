"""Checks of the weights a fit is given, shared by the in-memory, dask and CV fits."""

import math

import numpy as np


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
