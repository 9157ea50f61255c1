r"""
Regularisation: L2 shrinks, L1 selects
======================================

With ``alpha > 0`` the objective gains a penalty
:math:`\alpha R(W)`, :math:`R(W) = \frac{1-\rho}{2}\|W\|_2^2 + \rho\|W\|_1`
(``penalty="l2"``: :math:`\rho = 0`; ``"l1"``: :math:`\rho = 1`; ``"elasticnet"``:
:math:`\rho` = ``l1_ratio``). The L2 part is smooth and enters the gradient; the L1 part
is not differentiable at zero, so skgd applies it after each gradient step as a
*proximal step*, soft-thresholding:

.. math::

    w_j \leftarrow \operatorname{sign}(w_j)\,\max(|w_j| - \eta\,\alpha\rho,\ 0),

which sets small coefficients exactly to zero. This example draws the coefficient paths
of both penalties on the diabetes dataset, next to scikit-learn's ``Ridge`` and
``Lasso``, and checks the equivalences between skgd's estimators and scikit-learn's exact
solvers.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor

X, y = load_diabetes(return_X_y=True)
feature_names = load_diabetes().feature_names
X = StandardScaler().fit_transform(X)
n_samples = X.shape[0]

# %%
# Coefficient paths
# -----------------
#
# ``GDRegressor(alpha=a)`` has the solution of ``Ridge(alpha=n a)`` and
# ``GDRegressor(alpha=a, penalty="l1")`` that of ``Lasso(alpha=a)``. Lines are skgd's
# coefficients, dots scikit-learn's. Above :math:`\alpha_{\max} = \|X^\top (y - \bar
# y)\|_\infty / n` every L1 coefficient is zero.

alpha_max = np.abs(X.T @ (y - y.mean())).max() / n_samples
alphas = np.geomspace(alpha_max / 300, 2 * alpha_max, 20)
tol = 1e-10

paths = {"l2": [], "l1": []}
references = {"l2": [], "l1": []}
for alpha in alphas:
    paths["l2"].append(GDRegressor(alpha=alpha, tol=tol).fit(X, y).coef_)
    references["l2"].append(Ridge(alpha=n_samples * alpha).fit(X, y).coef_)
    paths["l1"].append(GDRegressor(alpha=alpha, penalty="l1", tol=tol).fit(X, y).coef_)
    references["l1"].append(Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y).coef_)
paths = {key: np.array(value) for key, value in paths.items()}
references = {key: np.array(value) for key, value in references.items()}

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True, layout="constrained")
titles = {"l2": "GDRegressor(alpha=a) vs Ridge(alpha=n*a)",
          "l1": "GDRegressor(alpha=a, penalty='l1') vs Lasso(alpha=a)"}
for ax, key in zip(axes, ["l2", "l1"], strict=True):
    for j, name in enumerate(feature_names):
        (line,) = ax.plot(alphas, paths[key][:, j], label=name)
        ax.plot(alphas, references[key][:, j], "o", color=line.get_color(), markersize=3)
    ax.set_xscale("log")
    ax.set_xlabel("alpha (a)")
    ax.set_title(titles[key], fontsize=11)
axes[0].set_ylabel("coefficient")
fig.legend(*axes[1].get_legend_handles_labels(), title="feature", fontsize=8,
           loc="outside right center")
fig.suptitle("Diabetes: coefficient paths (lines: skgd, dots: scikit-learn)")
plt.show()

zeros_skgd = (paths["l1"] == 0).sum(axis=1)
zeros_lasso = (references["l1"] == 0).sum(axis=1)
print("alpha      zeros (skgd)  zeros (Lasso)  max |coef difference|")
for alpha, ours, theirs, ours_coef, their_coef in zip(
        alphas, zeros_skgd, zeros_lasso, paths["l1"], references["l1"], strict=True):
    print(f"{alpha:8.4g}   {ours:>12}  {theirs:>13}  {np.abs(ours_coef - their_coef).max():.1e}")
print("coefficients exactly 0 with penalty='l2', over the whole path:",
      int((paths["l2"] == 0).sum()))

# %%
# The L2 penalty pulls every coefficient towards zero, smoothly, and none reaches it.
# The L1 penalty drops features one by one as ``alpha`` grows: the soft-thresholding
# step returns exact zeros (``coef_ == 0``, not merely small values), at the same
# ``alpha`` values as ``Lasso``'s coordinate descent.
#
# The equivalences, checked
# -------------------------
#
# Each row fits skgd with a tight ``tol`` and the scikit-learn solver of the same
# objective, and prints the largest coefficient difference (next to the largest
# coefficient, for scale).

X_bc, y_bc = load_breast_cancer(return_X_y=True)
X_bc = StandardScaler().fit_transform(X_bc)
X_wine, y_wine = load_wine(return_X_y=True)
X_wine = StandardScaler().fit_transform(X_wine)
a = 0.01

checks = [
    ("GDRegressor(alpha=a)", "Ridge(alpha=n*a)", X, y,
     GDRegressor(alpha=a, tol=tol), Ridge(alpha=n_samples * a)),
    ("GDRegressor(alpha=a, penalty='l1')", "Lasso(alpha=a)", X, y,
     GDRegressor(alpha=a, penalty="l1", tol=tol), Lasso(alpha=a, tol=1e-12, max_iter=100_000)),
    ("GDRegressor(alpha=a, penalty='elasticnet')", "ElasticNet(alpha=a, l1_ratio=0.5)",
     X, y, GDRegressor(alpha=a, penalty="elasticnet", l1_ratio=0.5, tol=tol),
     ElasticNet(alpha=a, l1_ratio=0.5, tol=1e-12, max_iter=100_000)),
    ("GDClassifier(alpha=a), 2 classes", "LogisticRegression(C=1/(n*a))", X_bc, y_bc,
     GDClassifier(alpha=a, tol=tol), LogisticRegression(C=1 / (len(y_bc) * a), tol=1e-12)),
    ("GDClassifier(alpha=a), 3 classes", "LogisticRegression(C=1/(n*a))", X_wine, y_wine,
     GDClassifier(alpha=a, tol=tol),
     LogisticRegression(C=1 / (len(y_wine) * a), tol=1e-12)),
]
print(f"a = {a}")
for ours_name, their_name, X_check, y_check, ours, theirs in checks:
    ours.fit(X_check, y_check)
    theirs.fit(X_check, y_check)
    difference = np.abs(ours.coef_ - theirs.coef_).max()
    print(f"{ours_name:<43} = {their_name:<34} max |diff| {difference:.1e} "
          f"(max |coef| {np.abs(theirs.coef_).max():.3g})")
