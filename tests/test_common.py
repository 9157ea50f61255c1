"""scikit-learn's full estimator-check suite, with no expected failures."""

import pytest
from sklearn import config_context
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GDClassifier, GDRegressor


def _dispatch_unavailable():
    """Why scikit-learn cannot enable Array API dispatch here (SciPy < 1.14), or None."""
    try:
        with config_context(array_api_dispatch=True):
            return None
    except (ImportError, RuntimeError) as error:
        return str(error)


@parametrize_with_checks([GDRegressor(), GDClassifier()])
def test_sklearn_compatible_estimator(estimator, check):
    # scikit-learn < 1.9 runs its Array API checks even where dispatch cannot be enabled.
    if "array_api" in str(check) and _dispatch_unavailable():
        pytest.skip(_dispatch_unavailable())
    check(estimator)
