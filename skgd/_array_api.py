"""The few namespace helpers the losses and the engine need, on top of array-api-compat.

The numerical code is written once against the Array API standard: ``xp`` is the
namespace of the data (NumPy, array-api-strict, PyTorch, CuPy, ...), arrays stay on the
data's device, and only scalars (the objective once per epoch) come back to the host.
Nothing here imports scikit-learn: the engine uses it too.
"""

from __future__ import annotations

import types

import numpy as np
import scipy.sparse as sp
from array_api_compat import array_namespace, is_array_api_obj, to_device
from array_api_compat import device as array_device


def _sum(x, /, *, axis=None, dtype=None, keepdims=False):
    return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _reshape(x, /, shape, *, copy=None):
    return x.reshape(shape) if copy is None else np.reshape(x, shape, copy=copy)


def _take(x, indices, /, *, axis=None):
    return x.take(indices, axis=axis)


def _astype(x, dtype, /, *, copy=True, device=None):
    return x.astype(dtype, copy=copy)


def _numpy_namespace():
    """NumPy (>= 2.1, an Array API namespace itself), with the functions the hot path calls
    most bound to the method or ufunc they end in.

    ``np.sum`` reaches ``ndarray.sum`` through Python wrappers that cost 1 to 2 us a call;
    a step on small data makes a dozen such calls, which added a fifth to its time.
    """
    namespace = types.ModuleType("numpy", np.__doc__)
    namespace.__dict__.update({name: value for name, value in vars(np).items()
                               if not name.startswith("__")})
    namespace.__dict__.update(sum=_sum, reshape=_reshape, take=_take, astype=_astype,
                              concat=np.concatenate)
    return namespace


# Older NumPy goes through array-api-compat's wrapper.
_NUMPY = _numpy_namespace() if hasattr(np, "astype") else array_namespace(np.empty(0))


def get_namespace(*arrays):
    """``(xp, device)`` of the arrays; None entries are skipped and sparse X means NumPy.

    NumPy arrays, the common case, skip array-api-compat's inspection, which costs
    tens of microseconds a call on the hot path.
    """
    if len(arrays) == 1 and type(arrays[0]) is np.ndarray:
        return _NUMPY, "cpu"
    arrays = [a for a in arrays if a is not None and not sp.issparse(a)]
    if all(isinstance(a, np.ndarray) for a in arrays):
        return _NUMPY, "cpu"
    return array_namespace(*arrays), array_device(arrays[0])


def is_numpy(xp) -> bool:
    """NumPy itself or a wrapper of it (array-api-compat's, scikit-learn's copy)."""
    return xp.__name__ == "numpy" or xp.__name__.endswith("array_api_compat.numpy")


def input_namespace(X, dispatch):
    """``(xp, device)`` that validation will give X: its own with array API dispatch,
    NumPy's for sparse matrices, lists, data frames, or when dispatch is off."""
    if dispatch and is_array_api_obj(X) and not sp.issparse(X):
        return get_namespace(X)
    return get_namespace()


def to_numpy(array) -> np.ndarray:
    """A NumPy copy (or view) of ``array``, moved to the host first when it lives on a
    device that DLPack cannot hand to NumPy directly (a GPU). NumPy arrays, sparse
    matrices and array-likes that are not Array API arrays (lists, pandas objects) pass
    through unchanged."""
    if isinstance(array, np.ndarray) or sp.issparse(array) or not is_array_api_obj(array):
        return array
    try:
        return np.from_dlpack(array)
    except (BufferError, RuntimeError, TypeError, ValueError):
        return np.from_dlpack(to_device(array, "cpu"))


def move_to(array, xp, device):
    """``array`` in namespace ``xp`` on ``device`` (unchanged when it already is)."""
    if array is None:
        return None
    source_xp, source_device = get_namespace(array)
    if (source_xp is xp and source_device == device) or (is_numpy(source_xp)
                                                         and is_numpy(xp)):
        return array
    return xp.asarray(to_numpy(array), device=device)


# Namespace and device name -> whether they scatter through a flat view (see below).
_SCATTERS: dict[tuple[str, str], bool] = {}


def _scatters_through_views(xp, device) -> bool:
    """Whether ``xp.reshape(a, (-1,))[index] -= 1`` updates ``a`` in place.

    The Array API standard has no integer-array ``__setitem__``, but NumPy, PyTorch and
    CuPy have one, and it is several times faster than any standard-only equivalent;
    array-api-strict refuses it. Probed once per namespace and device.
    """
    key = (xp.__name__, str(device))
    if key not in _SCATTERS:
        probe = xp.zeros((2, 2), device=device)
        try:
            flat = xp.reshape(probe, (-1,))
            flat[xp.asarray([1], device=device)] -= 1
            _SCATTERS[key] = bool(probe[0, 1] == -1)
        except (TypeError, ValueError, IndexError, NotImplementedError, RuntimeError):
            _SCATTERS[key] = False
    return _SCATTERS[key]


def subtract_at(array, rows_flat_index, xp, device) -> bool:
    """``array.flat[index] -= 1`` in place where the namespace allows it; returns whether
    it did."""
    if not _scatters_through_views(xp, device):
        return False
    flat = xp.reshape(array, (-1,))
    flat[rows_flat_index] -= 1
    return True


def column_sums(array, xp):
    """``xp.sum(array, axis=0)`` of a 2-D array. NumPy's adds a short row at a time: for
    NumPy, the product of a vector of ones and the array, 4-7x faster on a few columns
    (1 198 x 10: 6 us against 43; 20 000 x 26: 103 against 507)."""
    if is_numpy(xp) and array.ndim == 2:
        return np.ones(array.shape[0], dtype=array.dtype) @ array
    return xp.sum(array, axis=0)
