"""The compiled kernel: ``BUILT`` is the module ``skgd._sgd_fast``, None where it was not
built (no C compiler at install); ``ENABLED`` says whether it runs, False also where the
environment variable ``SKGD_PURE_PYTHON`` is set to a non-empty value other than ``0``,
which runs everything on the Python path (see :mod:`skgd._compiled`). A module of its own
so that the losses, which the epochs' module imports, can use the kernel too."""

import os

try:
    from . import _sgd_fast as BUILT  # type: ignore[attr-defined]
except ImportError:  # installed where the kernel could not be compiled
    BUILT = None

ENABLED = BUILT is not None and os.environ.get("SKGD_PURE_PYTHON", "") in ("", "0")
