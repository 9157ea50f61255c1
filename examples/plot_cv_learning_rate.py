r"""
Every learning rate in one fit: GDRegressorCV
=============================================

:class:`skgd.GDRegressorCV` cross-validates a grid of learning rates and alphas the way
:class:`~sklearn.model_selection.GridSearchCV` over :class:`skgd.GDRegressor` does, with
the same fits and the same scores to rounding, but it runs every (setting, fold) fit
side by side: each epoch, one pass over X answers all of them. It keeps every fit's loss
curve, so the textbook figure of the learning rate, too small, right and too large,
comes out of the search itself, without refitting anything.

As in :ref:`sphx_glr_auto_examples_plot_learning_rates.py`, the fits use the textbook
update (``solver="gd"``, ``preconditioner=None``, 50 epochs with ``tol=None``), where a
float learning rate *is* the step; with skgd's default preconditioner a float multiplies
a step that already cannot diverge, and there is little to search.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor, GDRegressorCV, SearchLossCurveDisplay

X, y = load_diabetes(return_X_y=True)
# Scaled once, before the search: GDRegressorCV fits the folds of the X it is given. A
# GridSearchCV over a Pipeline would fit the scaler on each training fold instead.
X = StandardScaler().fit_transform(X)

# %%
# The search
# ----------
#
# Seven rates on both sides of :math:`2/L`, above which plain descent on least squares
# diverges (:math:`L` is the largest eigenvalue of the Gram matrix, see
# :ref:`sphx_glr_auto_examples_plot_learning_rates.py`; :math:`2/L` is 0.497 on all the
# rows, 0.473 on the training rows of fold 0), and ``"auto"``, :math:`1/L` of each
# training fold, each on 5 folds. ``alphas=[0.0]``: no penalty, so that only the rate
# varies. The rates above :math:`2/L` diverge; the search records their folds as NaN
# scores instead of raising, and warns once (``FitFailedWarning``, as ``GridSearchCV``),
# naming them and their folds.

rates = [0.01, 0.03, 0.1, 0.25, 0.45, 0.55, 0.7, "auto"]
cv = KFold(n_splits=5, shuffle=True, random_state=0)
params = dict(solver="gd", preconditioner=None, max_iter=50, tol=None)

start = time.perf_counter()
search = GDRegressorCV(learning_rates=rates, alphas=[0.0], cv=cv, **params).fit(X, y)
cv_seconds = time.perf_counter() - start

results = search.cv_results_
print("learning_rate   mean R^2    std   diverged folds   rank")
for rate, mean, std, n_diverged, rank in zip(
        results["param_learning_rate"], results["mean_test_score"],
        results["std_test_score"], results["n_diverged"], results["rank_test_score"],
        strict=True):
    rate = rate if isinstance(rate, str) else f"{rate:g}"
    print(f"{rate:>13} {mean:10.4f} {std:6.4f} {n_diverged:>16} {rank:>6}")
print("best:", search.best_params_, f"R^2 = {search.best_score_:.4f}")

# %%
# The loss curves of one fold
# ---------------------------
#
# :meth:`skgd.SearchLossCurveDisplay.from_cv` draws the training objective per epoch
# of every candidate on one fold, from the curves the search kept (``loss_curves_``),
# with the mean cross-validated :math:`R^2` in the legend. The diverged fits are drawn in
# red up to the epoch where the search stopped them, marked with a cross.

fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
display = SearchLossCurveDisplay.from_cv(search, fold=0, ax=ax, log_scale=True)
ax.set_title("GDRegressorCV(solver='gd', preconditioner=None, max_iter=50) on diabetes, "
             "fold 0", fontsize=10)
plt.show()

# %%
# 0.01 and 0.03 crawl: after 50 epochs their objective is still 4.3 and 1.5 times the
# floor, and their :math:`R^2` shows it. From 0.1 to 0.45 and ``"auto"`` the curves
# reach the floor within the budget (0.1 only just: 1375.9 against 1372.8 for 0.45), and
# their scores agree to three decimals. 0.55 and 0.7 overshoot: the objective falls at
# the first step (the well-conditioned directions still converge), then grows until the
# search stops the fit, at the epoch where a fit of :class:`skgd.GDRegressor` would
# raise :class:`skgd.DivergenceError`.

# %%
# The same search with GridSearchCV
# ---------------------------------
#
# ``GridSearchCV(GDRegressor(...), error_score=np.nan)`` fits the same 40 (setting, fold)
# pairs one at a time. Each fit is the one GDRegressorCV made, so the split scores agree
# to rounding and the same setting wins. The diverged fits make GridSearchCV warn; they
# are the point here, so the warnings are silenced.

grid = GridSearchCV(GDRegressor(**params), {"learning_rate": rates, "alpha": [0.0]},
                    cv=cv, error_score=np.nan)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FitFailedWarning)
    warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
    grid.fit(X, y)
grid_seconds = time.perf_counter() - start

splits = [f"split{k}_test_score" for k in range(search.n_splits_)]
ours = np.array([results[key] for key in splits])
theirs = np.array([grid.cv_results_[key] for key in splits])
print("same best setting:", search.best_params_ == grid.best_params_)
print("same diverged folds:", np.array_equal(np.isnan(ours), np.isnan(theirs)))
print(f"largest difference of a split score: {np.nanmax(np.abs(ours - theirs)):.1e}")
print(f"GDRegressorCV {cv_seconds:.3f} s, GridSearchCV {grid_seconds:.3f} s "
      f"({grid_seconds / cv_seconds:.1f} times as long)")

# %%
# Both times include the refit of the best setting on all the data. On a dataset of
# 442 rows and 10 columns a pass over X costs little next to the Python work of each
# epoch; what GDRegressorCV saves here is mostly the overhead of 40 separate fits. On
# large X, where the passes dominate, it shares them: the
# :doc:`user guide <../user_guide/search>` explains what that saves and what it does
# not.
