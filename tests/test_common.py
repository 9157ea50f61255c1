"""scikit-learn's full estimator-check suite, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GDClassifier, GDRegressor


@parametrize_with_checks([GDRegressor(), GDClassifier()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
