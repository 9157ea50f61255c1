import os

import pytest
from hypothesis import settings

# The property tests draw the same examples on every run, so that a suite that passed
# passes again (on CI, on a user's machine); HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# scikit-learn's Array API checks, and the estimators under array_api_dispatch=True,
# need SciPy's Array API support, which SciPy reads once, at import.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


def _dispatch_unavailable():
    """Why scikit-learn cannot enable Array API dispatch here (SciPy < 1.14), or None."""
    from sklearn import config_context

    try:
        with config_context(array_api_dispatch=True):
            return None
    except (ImportError, RuntimeError) as error:
        return str(error)


def pytest_collection_modifyitems(config, items):
    """Skip what needs Array API dispatch where it cannot be enabled: the tests marked
    ``array_api_dispatch`` and scikit-learn's own Array API checks (which scikit-learn
    < 1.9 runs regardless)."""
    reason = _dispatch_unavailable()
    if reason is None:
        return
    for item in items:
        if "array_api_dispatch" in item.keywords or "check_array_api" in item.nodeid:
            item.add_marker(pytest.mark.skip(reason=reason))
