r"""
Choosing the learning rate by cross-validation
==============================================

skgd's estimators are ordinary scikit-learn estimators, so the learning rate can be
tuned like any other hyper-parameter: here with :class:`~sklearn.model_selection.GridSearchCV`
over a :class:`~sklearn.pipeline.Pipeline` that standardises the features first.

The budget is fixed at 50 epochs of the textbook update (``solver="gd"``,
``preconditioner=None``, ``tol=None``: the float *is* the step; with skgd's default
preconditioner it would multiply a step that already cannot diverge), so
the cross-validated :math:`R^2` traces the three regimes of the learning rate: too small
rates have not reached the minimum after 50 epochs, good rates have, and too large
rates diverge. A fit that diverges raises :class:`skgd.DivergenceError`;
``GridSearchCV(error_score=np.nan)`` records it as a missing score.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import DivergenceError, GDRegressor, LossCurveDisplay, SearchLossCurveDisplay

X, y = load_diabetes(return_X_y=True)

# %%
# The search
# ----------
#
# Thirteen rates from :math:`10^{-3}` to 1, and ``"auto"``, each scored by 5-fold
# cross-validation. The failed fits are the point of the experiment, so their warnings
# are silenced; their scores are NaN.

pipe = make_pipeline(StandardScaler(), GDRegressor(solver="gd", preconditioner=None,
                                                   max_iter=50, tol=None))
rates = np.logspace(-3, 0, 13)
search = GridSearchCV(
    pipe,
    {"gdregressor__learning_rate": [*rates, "auto"]},
    cv=KFold(n_splits=5, shuffle=True, random_state=0),
    error_score=np.nan,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FitFailedWarning)
    warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
    search.fit(X, y)

results = search.cv_results_
mean, std = results["mean_test_score"], results["std_test_score"]
failed = np.isnan([results[f"split{k}_test_score"] for k in range(5)]).sum(axis=0)
for rate, score, spread, n_failed in zip(results["param_gdregressor__learning_rate"], mean,
                                         std, failed, strict=True):
    rate = rate if isinstance(rate, str) else f"{rate:.4g}"
    print(f"learning_rate={rate:>8}: R^2 = {score:7.4f} +/- {spread:.4f}, "
          f"{n_failed} of 5 folds diverged")
print("best:", search.best_params_, f"R^2 = {search.best_score_:.4f}")

# %%
# What the failed fits raised
# ---------------------------
#
# Fitting the largest rate on the whole dataset shows the error each failed fold got.

try:
    pipe.set_params(gdregressor__learning_rate=1.0).fit(X, y)
except DivergenceError as error:
    print(error)

# %%
# The cross-validation curve
# --------------------------

finite = np.isfinite(mean[:-1])
auto_score = mean[-1]

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.errorbar(rates[finite], mean[:-1][finite], yerr=std[:-1][finite], marker="o",
            capsize=3, label="fixed learning_rate (mean +/- std over 5 folds)")
ax.plot(rates[~finite], np.full((~finite).sum(), -4.0), "x", color="tab:red",
        markersize=10, markeredgewidth=2, label="DivergenceError (no score)")
ax.axhline(auto_score, color="tab:green", linestyle="--",
           label=f"learning_rate='auto': {auto_score:.3f}")
ax.set_xscale("log")
ax.set_ylim(-4.3, 1.0)
ax.set_xlabel("learning_rate")
ax.set_ylabel("cross-validated $R^2$")
ax.set_title("GDRegressor(solver='gd', preconditioner=None, max_iter=50) on diabetes",
             fontsize=10)
ax.legend(loc="center right")
plt.show()

# %%
# Below about 0.02, 50 epochs are not enough: the model still predicts close to its
# starting point (all weights and the intercept zero), and :math:`R^2` is negative. From
# 0.1 to 0.3 the score is flat at its best: every such rate reaches the same minimum
# within the budget. Above :math:`2/L \approx 0.5` (see
# :ref:`sphx_glr_auto_examples_plot_learning_rates.py`) every fold diverges.
# ``learning_rate="auto"`` lands on the plateau without a search: it computes
# :math:`1/L` from each training fold.

# %%
# The loss curve of every rate
# ----------------------------
#
# The search keeps only its best estimator. :class:`skgd.SearchLossCurveDisplay` refits
# every candidate on the whole dataset and draws its training objective per epoch, one
# colour per rate from the smallest to the largest, with the mean cross-validated score
# in the legend; the rates whose fit raises :class:`skgd.DivergenceError` are marked
# with a cross. (:class:`skgd.GDRegressorCV` makes this search, on X scaled beforehand,
# as one fit and keeps the curve of every fold's fit, so drawing them needs no refit;
# see :ref:`sphx_glr_auto_examples_plot_cv_learning_rate.py`.) One line:

with warnings.catch_warnings():
    # The rates too small for 50 epochs end unconverged, as they did in the search.
    warnings.simplefilter("ignore")
    display = SearchLossCurveDisplay.from_search(search, X, y, log_scale=True)
display.ax_.set_title("one curve per learning_rate (solver='gd', preconditioner=None, "
                      "50 epochs)", fontsize=10)
plt.show()

# %%
# The small rates crawl down in straight lines, the rates of the plateau reach the
# minimum within a few dozen epochs, and from about 0.5 on the fits diverge. The best
# estimator itself, a pipeline inside the search, is one call too:

display = LossCurveDisplay.from_estimator(search, name="best rate, refitted by the search")
plt.show()
