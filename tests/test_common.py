"""scikit-learn's full estimator-check suite, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GDClassifier, GDClassifierCV, GDRegressor, GDRegressorCV


@parametrize_with_checks([GDRegressor(), GDClassifier(), GDRegressorCV(), GDClassifierCV()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
