r"""
Learning rate: too small, right, too large
==========================================

The learning rate :math:`\eta` of the update :math:`w \leftarrow w - \eta\,\nabla F(w)`
decides how far each step goes. This example fits :class:`skgd.GDRegressor` with the
textbook update (``solver="gd"``) on the diabetes dataset with three learning rates and
draws each loss curve with :class:`skgd.LossCurveDisplay`:

* too small: the objective decreases, slowly;
* ``learning_rate="auto"``, :math:`\eta = 1/L`;
* too large: the objective dips, then grows without bound, and a fit left to run
  stops with :class:`skgd.DivergenceError`.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from skgd import DivergenceError, GDRegressor, LossCurveDisplay
from skgd.losses import LinearObjective, SquaredError

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)

# %%
# What ``"auto"`` computes
# ------------------------
#
# The objective is :math:`F(w, b) = \frac{1}{2n} \sum_i (x_i \cdot w + b - y_i)^2`. Its
# gradient changes at most :math:`L` times as fast as the weights, where :math:`L` is the
# largest eigenvalue of :math:`X_1^\top X_1 / n` (:math:`X_1` is :math:`X` with a column
# of ones for the intercept). ``learning_rate="auto"`` uses :math:`\eta = 1/L`. On a
# quadratic like this one, full-batch descent diverges for any :math:`\eta > 2/L`.

L = LinearObjective(SquaredError(), X, y).lipschitz()
print(f"L = {L:.4f}; learning_rate='auto' is 1/L = {1 / L:.4f}; 2/L = {2 / L:.4f}")

# %%
# Three loss curves
# -----------------
#
# 30 epochs each (``tol=None`` runs them all). The too-large rate, 0.55, is above
# :math:`2/L`: stopped after 30 epochs, its curve shows the objective falling at first
# (the well-conditioned directions still converge) and then growing geometrically.

rates = {"too small, 0.01": 0.01, "'auto' = 1/L": "auto", "too large, 0.55": 0.55}
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, learning_rate in rates.items():
    model = GDRegressor(solver="gd", learning_rate=learning_rate, max_iter=30, tol=None)
    model.fit(X, y)
    LossCurveDisplay.from_estimator(model, ax=ax, log_scale=True, show_learning_rate=False,
                                    name=name)
    print(f"{name:>16}: objective {model.loss_curve_[0]:.6g} at epoch 1, "
          f"{min(model.loss_curve_):.6g} at best, {model.loss_curve_[-1]:.6g} at epoch 30")
ax.set_title("GDRegressor(solver='gd') on diabetes: three learning rates")
ax.legend(title="learning_rate")
plt.show()

# %%
# The too-large rate, left to run
# -------------------------------
#
# With the default ``max_iter``, skgd notices the objective blowing up (it has grown
# :math:`10^4` times over its start, or become infinite) and raises
# :class:`skgd.DivergenceError`, a ``ValueError``, naming the rate and the epoch. A model
# fitted before keeps its previous coefficients.

model = GDRegressor(solver="gd", learning_rate=0.55)
try:
    model.fit(X, y)
except DivergenceError as error:
    print(f"{type(error).__name__}: {error}")
    print("is a ValueError:", isinstance(error, ValueError))

# %%
# The default ``solver="accelerated"`` with ``learning_rate="auto"`` reaches the least
# squares solution in far fewer epochs than the plain update with the same step; the
# :ref:`solvers example <sphx_glr_auto_examples_plot_solvers.py>` compares the update
# rules.

for solver in ["accelerated", "gd"]:
    model = GDRegressor(solver=solver, tol=1e-8, max_iter=100_000).fit(X, y)
    print(f"GDRegressor(solver={solver!r}, tol=1e-8): {model.n_iter_} epochs, "
          f"objective {model.loss_curve_[-1]:.10g}")
