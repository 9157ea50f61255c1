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
* ``solver="accelerated"`` (the default): Nesterov's accelerated gradient with adaptive
  restart, no momentum to tune;
* ``solver="adam"``: Adam, a step scaled per coordinate by running moments of the
  gradient.

Then, for the plain update, it compares full-batch descent with mini-batches.
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
exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
best = objective.loss(np.concatenate([exact.coef_.ravel(), exact.intercept_]))
print(f"F* = {best:.12f}, learning_rate='auto' = 1/L = {1 / objective.lipschitz():.4f}")

# %%
# Update rules, full batch
# ------------------------
#
# 300 epochs each with ``learning_rate="auto"`` (and Adam once more with a fixed
# ``learning_rate=0.01``); ``tol=None`` runs them all.

solvers = {
    "gd": dict(solver="gd"),
    "gd, momentum=0.9": dict(solver="gd", momentum=0.9),
    "gd, momentum=0.9, nesterov": dict(solver="gd", momentum=0.9, nesterov=True),
    "accelerated (default)": dict(solver="accelerated"),
    "adam": dict(solver="adam"),
    "adam, learning_rate=0.01": dict(solver="adam", learning_rate=0.01),
}

fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, params in solvers.items():
    model = GDClassifier(alpha=alpha, max_iter=300, tol=None, **params).fit(X, y)
    gap = (np.array(model.loss_curve_) - best) / best
    ax.plot(np.arange(1, len(gap) + 1), gap, label=name)
    print(f"{name:>28}: relative gap {gap[49]:.1e} after 50 epochs, "
          f"{gap[149]:.1e} after 150, {gap[-1]:.1e} after 300")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("relative gap $(F - F^*)/F^*$")
ax.set_title("GDClassifier(alpha=1/n) on breast cancer: update rules")
ax.legend()
plt.show()

default = GDClassifier(alpha=alpha).fit(X, y)
print(f"GDClassifier(alpha=1/n) with the default tol stops after {default.n_iter_} epochs")

# %%
# Plain descent shrinks the gap slowly because this problem is ill-conditioned: with
# a weak penalty, some directions of the weights are much flatter than others, and a
# step of :math:`1/L` barely moves along them. Momentum and acceleration carry speed
# along those flat directions. Heavy-ball momentum overshoots (its curve rises for a
# while early on); the adaptive restart of ``"accelerated"`` resets the momentum
# whenever a step goes uphill, which is why it needs no setting. It leads from about
# the tenth epoch to the eightieth, the range where a fit with the default ``tol=1e-4``
# stops (printed below).
# Adam's per-coordinate scaling is a different remedy: on this problem, with the step
# of ``"auto"``, it ends far below the others after 300 epochs, but with
# ``learning_rate=0.01`` it is slower than plain descent. Its speed depends on a
# learning rate that no formula gives.
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
    model = GDClassifier(alpha=alpha, solver="gd", batch_size=batch_size, max_iter=50,
                         tol=None, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    gap = (np.array(model.loss_curve_) - best) / best
    final = objective.loss(np.concatenate([model.coef_.ravel(), model.intercept_]))
    label = "full batch" if batch_size is None else f"batch_size={batch_size}"
    ax.plot(np.arange(1, len(gap) + 1), gap, label=label)
    print(f"{label:>14}: learning rate {model.learning_rate_curve_[0]:.4f}, "
          f"{model.t_:>5} updates, final relative gap {(final - best) / best:.1e}, "
          f"{seconds:.2f} s")
ax.set_yscale("log")
ax.set_xlabel("epoch (pass over the data)")
ax.set_ylabel("relative gap $(F - F^*)/F^*$")
ax.set_title("GDClassifier(solver='gd', alpha=1/n): mini-batch sizes")
ax.legend()
plt.show()

# %%
# Per pass over the data, smaller batches make more progress, because they update the
# weights more often; per second they pay for it with one Python-level update per
# batch. Their noise also keeps them from converging exactly with a constant rate:
# a decaying learning rate (see :ref:`sphx_glr_auto_examples_plot_decay_schedules.py`)
# lets them settle.
