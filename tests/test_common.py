"""scikit-learn's full estimator-check suite, with no expected failures: on the defaults,
and on settings that users' own estimator checks met failing (a partial_fit that the
solver or the class weights never support, averaging on data no larger than a batch,
balanced class weights that counted rows where the weights are repeated rows)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GDClassifier, GDClassifierCV, GDRegressor, GDRegressorCV


@parametrize_with_checks([
    GDRegressor(), GDClassifier(), GDRegressorCV(), GDClassifierCV(),
    GDRegressor(solver="lbfgs"), GDClassifier(solver="lbfgs"),
    GDRegressor(batch_size=64, average=True, random_state=0),
    GDClassifier(batch_size=64, average=True, random_state=0),
    GDClassifier(class_weight="balanced"), GDClassifierCV(class_weight="balanced"),
])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
