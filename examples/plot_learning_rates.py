r"""
Learning rate: too small, right, too large
==========================================

The learning rate :math:`\eta` of the update :math:`w \leftarrow w - \eta\,\nabla F(w)`
decides how far each step goes. This example fits :class:`skgd.GDRegressor` with the
textbook update (``solver="gd", preconditioner=None``) on the diabetes dataset with three
learning rates and draws each loss curve with :class:`skgd.LossCurveDisplay`:

* too small: the objective decreases, slowly;
* ``learning_rate="auto"``, :math:`\eta = 1/L`;
* too large: the objective dips, then grows without bound, and a fit left to run
  stops with :class:`skgd.DivergenceError`.

``preconditioner=None`` matters: by default skgd steps in the metric of the curvature
(see the :ref:`preconditioning example <sphx_glr_auto_examples_plot_preconditioning.py>`),
where a float ``learning_rate`` multiplies a step that already cannot diverge. The
textbook update :math:`w \leftarrow w - \eta\,\nabla F(w)`, in which the float *is* the
step, is the plain metric.
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
# of ones for the intercept). Without a preconditioner, ``learning_rate="auto"`` uses
# :math:`\eta = 1/L`. On a quadratic like this one, full-batch descent diverges for any
# :math:`\eta > 2/L`.

L = LinearObjective(SquaredError(), X, y).lipschitz()
print(f"L = {L:.4f}; learning_rate='auto' is 1/L = {1 / L:.4f}; 2/L = {2 / L:.4f}")

# %%
# Three loss curves
# -----------------
#
# 30 epochs each (``tol=None`` runs them all), except for the too-large rate, 0.55,
# above :math:`2/L`: stopped after 7 epochs, its curve shows the objective falling at
# first (the well-conditioned directions still converge) and then growing
# geometrically. One more epoch and the fit raises :class:`skgd.DivergenceError`: the
# objective has then risen in each of the last 5 epochs (see below).

rates = {"too small, 0.01": (0.01, 30), "'auto' = 1/L": ("auto", 30),
         "too large, 0.55": (0.55, 7)}
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, (learning_rate, max_iter) in rates.items():
    model = GDRegressor(solver="gd", preconditioner=None, learning_rate=learning_rate,
                        max_iter=max_iter, tol=None)
    model.fit(X, y)
    LossCurveDisplay.from_estimator(model, ax=ax, log_scale=True, show_learning_rate=False,
                                    name=name)
    print(f"{name:>16}: objective {model.loss_curve_[0]:.6g} at epoch 1, "
          f"{min(model.loss_curve_):.6g} at best (epoch "
          f"{model.loss_curve_.index(min(model.loss_curve_)) + 1}), "
          f"{model.loss_curve_[-1]:.6g} at epoch {max_iter}")
ax.set_title("GDRegressor(solver='gd', preconditioner=None) on diabetes: three learning "
             "rates", fontsize=10)
ax.legend(title="learning_rate")
plt.show()

# %%
# The too-large rate, left to run
# -------------------------------
#
# With the default ``max_iter``, skgd notices the objective blowing up and raises
# :class:`skgd.DivergenceError`, a ``ValueError``, naming the rate and the epoch: the
# objective at the start is the reference, and an objective that is not finite, that
# rises above it by :math:`10^4` times its size at once, or that stays above twice it
# for three epochs running is diverging. A model fitted before keeps its previous
# coefficients.

model = GDRegressor(solver="gd", preconditioner=None, learning_rate=0.55)
try:
    model.fit(X, y)
except DivergenceError as error:
    print(f"{type(error).__name__}: {error}")
    print("is a ValueError:", isinstance(error, ValueError))

# %%
# In the plain metric, ``solver="accelerated"`` reaches the least squares solution in
# fewer epochs than the textbook update with the same step (the
# :ref:`solvers example <sphx_glr_auto_examples_plot_solvers.py>` compares the update
# rules). The defaults do better still: in the metric of the curvature, least squares is
# solved by its first step, and the second epoch certifies it.

fits = {"defaults (preconditioner='auto')": dict(),
        "solver='accelerated', preconditioner=None": dict(preconditioner=None),
        "solver='gd', preconditioner=None": dict(solver="gd", preconditioner=None)}
for name, params in fits.items():
    model = GDRegressor(tol=1e-8, max_iter=100_000, **params).fit(X, y)
    print(f"{name:>42}, tol=1e-8: {model.n_iter_:>4} epochs, "
          f"objective {model.loss_curve_[-1]:.10g}")
