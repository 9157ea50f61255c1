r"""
Learning-rate decay schedules
=============================

A decay multiplies the base learning rate :math:`\eta` by a factor that changes with the
epoch :math:`t = 0, 1, 2, \dots`. This example fits :class:`skgd.GDClassifier` by
mini-batch stochastic gradient descent on the breast-cancer dataset with each of the
named schedules, a warm-up chained before one and a callable, draws the learning rate
each fit actually used
(``learning_rate_curve_``) and compares how close each gets to the exact minimum.

With mini-batches the gradient is a noisy estimate, so a constant rate keeps the weights
jittering around the minimum; shrinking the rate lets them settle.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier
from skgd.losses import BinaryCrossEntropy, LinearObjective

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
n_samples = X.shape[0]
alpha = 10 / n_samples  # the objective of LogisticRegression(C=0.1)

# %%
# The exact minimum
# -----------------
#
# ``GDClassifier(alpha=a)`` minimises the same objective as
# ``LogisticRegression(C=1/(n a))``; a tightly converged ``LogisticRegression`` gives its
# minimum :math:`F^*`, and :class:`skgd.losses.LinearObjective` evaluates the objective
# at any coefficients.

objective = LinearObjective(BinaryCrossEntropy(), X, y.astype(float), alpha=alpha)


def objective_at(model):
    return objective.loss(np.concatenate([model.coef_.ravel(), model.intercept_]))


exact = LogisticRegression(C=1 / (n_samples * alpha), tol=1e-10, max_iter=10_000).fit(X, y)
best = objective_at(exact)
print(f"F* = {best:.10f}")

# %%
# Twelve schedules
# ----------------
#
# Every fit runs 100 epochs of mini-batches of 32 rows with the textbook update
# (``solver="gd", preconditioner=None``: the float 0.3 is the step itself, not a
# multiple of a curvature metric's step) from the same base rate 0.3 and the same
# shuffling seed. The
# callable schedule is a linear warm-up over the first 10 epochs. ``"plateau"`` is the
# only one that looks at the loss: it halves the rate each time the epoch's loss has not
# improved by ``tol`` for ``n_iter_no_change`` epochs, so it needs a ``tol``; the
# others run with ``tol=None`` so that all curves have 100 epochs. (Its fit ends at
# ``max_iter`` with a ``ConvergenceWarning``, which is expected here and silenced.)
# ``"cosine_restarts"``, ``"cyclic"`` and ``"one_cycle"`` are torch's
# ``CosineAnnealingWarmRestarts``, triangular ``CyclicLR`` and ``OneCycleLR``; the last
# two peak at the base rate. ``warmup_steps=10`` chains a linear warm-up before a decay,
# here ``"cosine"``, without writing a callable.


def warm_up(epoch):
    return min(1.0, (epoch + 1) / 10)


schedules = {
    "constant": (dict(decay="constant"), r"$\eta$"),
    "inverse": (dict(decay="inverse", decay_rate=0.1), r"$\eta\,/\,(1 + 0.1\,t)$"),
    "invscaling": (dict(decay="invscaling", power_t=0.5), r"$\eta\,/\,(t + 1)^{0.5}$"),
    "exponential": (dict(decay="exponential", decay_rate=0.95), r"$\eta \cdot 0.95^t$"),
    "step": (dict(decay="step", decay_rate=0.5, decay_steps=20),
             r"$\eta \cdot 0.5^{\lfloor t/20 \rfloor}$"),
    "cosine": (dict(decay="cosine"), r"$\eta \cdot \frac{1}{2}(1 + \cos(\pi t / 100))$"),
    "plateau": (dict(decay="plateau", decay_rate=0.5, tol=1e-3),
                r"$\eta \cdot 0.5^{\mathrm{plateaus}}$"),
    "cosine_restarts": (dict(decay="cosine_restarts", decay_steps=25),
                        r"$\eta \cdot \frac{1}{2}(1 + \cos(\pi (t\ \mathrm{mod}\ 25) / 25))$"),
    "cyclic": (dict(decay="cyclic", decay_rate=0.1, decay_steps=10),
               r"triangle between $0.1\,\eta$ and $\eta$, half period 10"),
    "one_cycle": (dict(decay="one_cycle"),
                  r"$\eta/25 \nearrow \eta \searrow \eta/(25 \cdot 10^4)$"),
    "warm-up + cosine": (dict(decay="cosine", warmup_steps=10),
                         r"$\frac{t + 1}{11}\eta$, then cosine over 90"),
    "callable": (dict(decay=warm_up), r"$\eta \cdot \min(1, (t + 1)/10)$"),
}

models = {}
for name, (params, _) in schedules.items():
    settings = dict(alpha=alpha, solver="gd", preconditioner=None, learning_rate=0.3,
                    batch_size=32, max_iter=100, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models[name] = GDClassifier(**{**settings, **params}).fit(X, y)

fig, axes = plt.subplots(3, 4, figsize=(12, 8), sharex=True, sharey=True,
                         layout="constrained")
for ax, (name, model) in zip(axes.flat, models.items(), strict=True):
    epochs = np.arange(len(model.learning_rate_curve_))
    ax.plot(epochs, model.learning_rate_curve_, color="tab:blue")
    ax.set_title(f"{name}\n{schedules[name][1]}", fontsize=10)
for ax in axes[-1]:
    ax.set_xlabel("epoch t")
for ax in axes[:, 0]:
    ax.set_ylabel("learning rate")
fig.suptitle("learning_rate_curve_ of GDClassifier(solver='gd', learning_rate=0.3, "
             "batch_size=32) for each decay")
plt.show()

# %%
# How close each schedule gets
# ----------------------------
#
# The relative gap :math:`(F(w) - F^*)/F^*` of the final weights, on the full data.

gaps = {name: (objective_at(model) - best) / best for name, model in models.items()}
for name, gap in gaps.items():
    model = models[name]
    print(f"{name:>16}: final learning rate {model.learning_rate_curve_[-1]:9.3g}, "
          f"relative gap {gap:.2e}")

fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
ax.barh(list(gaps), list(gaps.values()), color="tab:blue")
ax.set_xscale("log")
ax.invert_yaxis()
ax.set_xlabel("relative gap to the exact minimum after 100 epochs (log scale)")
ax.set_title("Mini-batch descent on breast cancer: where each decay ends")
plt.show()

# %%
# The schedules that keep the rate high to the end (``"constant"`` and the warm-up,
# which is constant after its first 10 epochs) end with the largest gaps: the noise of
# the mini-batch gradients, times a large step, keeps the weights moving. Schedules that
# bring the rate down by one or two orders of magnitude over the run end much closer.
# How fast to decay is a trade-off: ``"plateau"`` here halves the rate every five epochs
# from epoch 12 on (the noisy epoch loss rarely improves by ``tol=1e-3``), and the
# descent crawls for most of the run. With full-batch gradients there is no such noise,
# and ``"constant"`` with ``learning_rate="auto"`` (and the default preconditioner) is
# the right default.
