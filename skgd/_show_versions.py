"""``skgd.show_versions()``: what a bug report needs, including whether the compiled
kernel was built (an install without a C compiler falls back to Python quietly)."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def _kernel() -> str:
    from . import _compiled

    if _compiled._sgd_fast is None:
        return ("not built (no C compiler at install): small-batch epochs and the "
                "cross-entropy run in Python, the same steps, slower")
    if not _compiled.ENABLED:
        return ("built, off (SKGD_PURE_PYTHON is set): small-batch epochs and the "
                "cross-entropy run in Python")
    return "built, on"


def show_versions() -> None:
    """Print the versions of skgd, Python and its dependencies, and the state of the
    compiled kernel of small-batch descent.

    Examples
    --------
    >>> import skgd
    >>> skgd.show_versions()  # doctest: +ELLIPSIS
    skgd: ...
    compiled kernel: ...
    """
    from . import __version__

    print(f"skgd: {__version__}")
    print(f"compiled kernel: {_kernel()}")
    print(f"python: {sys.version.split()[0]} ({platform.platform()})")
    for name in ("numpy", "scipy", "scikit-learn", "array-api-compat", "matplotlib",
                 "dask"):
        try:
            found = version(name)
        except PackageNotFoundError:
            found = "not installed"
        print(f"{name}: {found}")
