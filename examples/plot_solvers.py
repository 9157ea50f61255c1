r"""
Update rules and mini-batches
=============================

All of skgd's update rules follow the negative gradient; they differ in what else they
remember. This example compares them on one convex problem, the L2-penalised logistic
regression of the breast-cancer dataset, by the relative gap
:math:`(F(w_t) - F^*)/F^*` of the training objective after each epoch:

* ``solver="gd"``: the textbook :math:`w \leftarrow w - \eta \nabla F(w)`;
* ``solver="gd", momentum=0.9``: heavy ball, each step adds 0.9 times the previous one;
* ``solver="gd", momentum=0.9, nesterov=True``: the gradient is taken at the look-ahead
  point;
* ``solver="accelerated"``: Nesterov's accelerated gradient with adaptive restart, no
  momentum to tune;
* ``solver="adam"``: Adam, a step scaled per coordinate by running moments of the
  gradient.

Then, for the plain update, it compares full-batch descent with mini-batches, and last,
on the ten classes of the digits, what the default (``solver="auto"``: L-BFGS in the
metric of the curvature, refitted along the way) does against the rules that take the
step they are given.

Every fit of the first two figures passes ``preconditioner=None``, the plain metric in
which these rules are usually taught: skgd's default steps in the metric of the curvature
instead, and solves this problem in about 15 epochs (the dashed line; see
:ref:`sphx_glr_auto_examples_plot_preconditioning.py`).
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier
from skgd.losses import BinaryCrossEntropy, LinearObjective

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
n_samples = X.shape[0]
alpha = 1 / n_samples  # the objective of LogisticRegression(C=1)

objective = LinearObjective(BinaryCrossEntropy(), X, y.astype(float), alpha=alpha)


def objective_at(model):
    return objective.loss(np.concatenate([model.coef_.ravel(), model.intercept_]))


exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
best = objective.loss(np.concatenate([exact.coef_.ravel(), exact.intercept_]))
print(f"F* = {best:.12f}; without a preconditioner, learning_rate='auto' = 1/L = "
      f"{1 / objective.lipschitz():.4f}")

# %%
# Update rules, full batch
# ------------------------
#
# 300 epochs each with ``learning_rate="auto"`` (and Adam once more with a fixed
# ``learning_rate=0.01``); ``tol=None`` runs them all. The dashed line is the default
# fit, with its preconditioner.

solvers = {
    "gd": dict(solver="gd"),
    "gd, momentum=0.9": dict(solver="gd", momentum=0.9),
    "gd, momentum=0.9, nesterov": dict(solver="gd", momentum=0.9, nesterov=True),
    "accelerated": dict(solver="accelerated"),
    "adam": dict(solver="adam"),
    "adam, learning_rate=0.01": dict(solver="adam", learning_rate=0.01),
}

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, params in solvers.items():
    model = GDClassifier(alpha=alpha, preconditioner=None, max_iter=300, tol=None,
                         **params).fit(X, y)
    gap = (np.array(model.loss_curve_) - best) / best
    ax.plot(np.arange(1, len(gap) + 1), gap, label=name)
    print(f"{name:>28}: relative gap {gap[49]:.1e} after 50 epochs, "
          f"{gap[149]:.1e} after 150, {gap[-1]:.1e} after 300")
default = GDClassifier(alpha=alpha, max_iter=300, tol=None).fit(X, y)
gap = np.maximum((np.array(default.loss_curve_) - best) / best, 1e-16)
ax.plot(np.arange(1, len(gap) + 1), gap, "k--", label="default (auto: L-BFGS, full metric)")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("relative gap $(F - F^*)/F^*$")
ax.set_title("GDClassifier(alpha=1/n) on breast cancer: update rules with\n"
             "preconditioner=None, and the default fit (dashed)", fontsize=10)
ax.legend()
plt.show()

for preconditioner in [None, "auto"]:
    model = GDClassifier(alpha=alpha, preconditioner=preconditioner).fit(X, y)
    print(f"GDClassifier(alpha=1/n, preconditioner={preconditioner!r}) with the default "
          f"tol stops after {model.n_iter_} epochs, relative gap "
          f"{(objective_at(model) - best) / best:.1e}")

# %%
# Plain descent shrinks the gap slowly because this problem is ill-conditioned: with
# a weak penalty, some directions of the weights are much flatter than others, and a
# step of :math:`1/L` barely moves along them. Momentum and acceleration carry speed
# along those flat directions. Heavy-ball momentum overshoots (its curve rises for a
# while early on); the adaptive restart of ``"accelerated"`` resets the momentum
# whenever a step goes uphill, which is why it needs no setting. A fit with the default
# ``tol=1e-5`` stops once the gradient has shrunk 100 000-fold from its start (printed
# above): in the plain metric that takes hundreds of epochs, in the default metric of the
# curvature about fifteen.
# Adam's per-coordinate scaling is a different remedy, and a weak one here: with its
# ``"auto"`` step and with ``learning_rate=0.01`` it ends 300 epochs slower than plain
# descent. Its speed depends on a learning rate that no formula gives. The metric of
# the curvature (dashed) is the remedy that works: it undoes the ill-conditioning that
# the momentum rules only fight.
#
# Mini-batches
# ------------
#
# With ``batch_size=b`` each epoch makes :math:`\lceil n/b \rceil` updates, each from the
# gradient on :math:`b` rows; ``batch_size=1`` is stochastic gradient descent. The
# gradients are noisy, so ``learning_rate="auto"`` takes a smaller step for smaller
# batches (the Lipschitz constant of the expected mini-batch gradient). Here the loss
# curve is the mean over each epoch's mini-batches, and the gap of the final weights is
# computed on the full data.

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for batch_size in [None, 64, 8, 1]:
    model = GDClassifier(alpha=alpha, solver="gd", preconditioner=None,
                         batch_size=batch_size, max_iter=50, tol=None, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    gap = (np.array(model.loss_curve_) - best) / best
    final = objective_at(model)
    label = "full batch" if batch_size is None else f"batch_size={batch_size}"
    ax.plot(np.arange(1, len(gap) + 1), gap, label=label)
    print(f"{label:>14}: learning rate {model.learning_rate_curve_[0]:.4f}, "
          f"{model.t_:>5} updates, final relative gap {(final - best) / best:.1e}, "
          f"{seconds:.2f} s")
ax.set_yscale("log")
ax.set_xlabel("epoch (pass over the data)")
ax.set_ylabel("relative gap $(F - F^*)/F^*$")
ax.set_title("GDClassifier(solver='gd', preconditioner=None, alpha=1/n): batch sizes",
             fontsize=10)
ax.legend()
plt.show()

# %%
# Per pass over the data, smaller batches make more progress, because they update the
# weights more often; per second they pay for it with one Python-level update per
# batch. Their noise also keeps them from converging exactly with a constant rate:
# a decaying learning rate (see :ref:`sphx_glr_auto_examples_plot_decay_schedules.py`)
# lets them settle.

# %%
# Many classes: what ``solver="auto"`` picks
# ------------------------------------------
#
# With ten classes the softmax's Hessian couples them, ``10 (p + 1)`` parameters square,
# and no fixed metric captures where the fit is going: rows that the fit gets right stop
# weighing on it, differently for every class. The default takes L-BFGS, which learns
# the curvature from its steps, seeds it with each class's block of the Hessian, and
# refits those blocks as often as their cost allows (here every few epochs); the rules
# that take their step as given (the accelerated gradient) step in the fixed curvature
# bound, where a step of 1 cannot diverge. All fits run to the default ``tol``.

from sklearn.datasets import load_digits  # noqa: E402

from skgd.losses import CategoricalCrossEntropy  # noqa: E402

X_digits, y_digits = load_digits(return_X_y=True)
X_digits = StandardScaler().fit_transform(X_digits)
alpha_digits = 1 / len(y_digits)
digits_objective = LinearObjective(CategoricalCrossEntropy(10), X_digits, y_digits,
                                   alpha=alpha_digits)
exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=100_000).fit(X_digits, y_digits)
best_digits = digits_objective.loss(np.concatenate([exact.coef_.ravel(), exact.intercept_]))

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, params in {
        "default (auto: lbfgs, full metric refitted)": {},
        "lbfgs, diagonal metric": dict(solver="lbfgs", preconditioner="diagonal"),
        "lbfgs, plain metric": dict(solver="lbfgs", preconditioner=None),
        "accelerated, full bound": dict(solver="accelerated"),
}.items():
    model = GDClassifier(alpha=alpha_digits, max_iter=1000, **params)
    start = time.perf_counter()
    model.fit(X_digits, y_digits)
    seconds = time.perf_counter() - start
    gap = np.maximum((np.array(model.loss_curve_) - best_digits) / best_digits, 1e-16)
    ax.plot(np.arange(1, len(gap) + 1), gap, label=name)
    print(f"{name:>44}: {model.n_iter_:>4} epochs, {seconds * 1e3:6.1f} ms, final "
          f"relative gap {gap[-1]:.1e}")
ax.set_yscale("log")
ax.set_xscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("relative gap $(F - F^*)/F^*$")
ax.set_title("GDClassifier(alpha=1/n) on the digits (10 classes), to the default tol",
             fontsize=10)
ax.legend()
plt.show()

# %%
# L-BFGS's rejected trial points show as bumps (an epoch whose objective rose, which the
# line search turned down). The refitted blocks take the default fit to the default
# ``tol`` in a fraction of the epochs of the fixed metrics; the timings printed above
# include the refits. See the user guide's page on update rules for what ``"auto"`` picks
# on other data, and the performance page for the measurements behind it.
