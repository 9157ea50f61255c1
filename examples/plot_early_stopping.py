r"""
Early stopping, warm starts and partial_fit
===========================================

Three ways to control how much descent a model gets, shown with
:class:`skgd.GDClassifier` on the digits dataset (10 classes, softmax):

* ``early_stopping=True`` holds out a stratified ``validation_fraction`` of the training
  rows, scores it after every epoch, stops once the score has not improved by ``tol``
  for ``n_iter_no_change`` epochs, and keeps the best weights;
* ``warm_start=True`` starts each ``fit`` from the previous solution, which saves epochs
  along a sequence of related fits;
* ``partial_fit`` runs one epoch over the data it is given and continues from there: the
  way to train on data that arrives in chunks.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, LossCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Early stopping
# --------------
#
# The held-out accuracy levels off before the training objective does.
# :class:`skgd.LossCurveDisplay` draws the training
# objective and, on a second axis, ``validation_scores_``.

full = GDClassifier().fit(X_train, y_train)
early = GDClassifier(early_stopping=True, validation_fraction=0.2, n_iter_no_change=10,
                     random_state=0).fit(X_train, y_train)
print(f"without early stopping: {full.n_iter_} epochs, "
      f"test accuracy {full.score(X_test, y_test):.4f}")
print(f"with early stopping:    {early.n_iter_} epochs, best validation accuracy "
      f"{early.best_validation_score_:.4f}, test accuracy {early.score(X_test, y_test):.4f}")

display = LossCurveDisplay.from_estimator(full, log_scale=True, show_learning_rate=False,
                                          name="early_stopping=False")
LossCurveDisplay.from_estimator(early, ax=display.ax_, log_scale=True,
                                show_learning_rate=False, name="early_stopping=True")
display.ax_.set_title("Digits: training objective, and validation accuracy with "
                      "early stopping", fontsize=10)
plt.show()

# %%
# Warm starts along a regularisation path
# ---------------------------------------
#
# Fitting a decreasing sequence of ``alpha`` values, each fit can start from the
# solution of the previous one, which is already close.

alphas = np.geomspace(1e-1, 1e-3, 6)
epochs = {}
for warm_start in [False, True]:
    model = GDClassifier(warm_start=warm_start, tol=1e-6)
    epochs[warm_start] = [model.set_params(alpha=alpha).fit(X_train, y_train).n_iter_
                          for alpha in alphas]
    print(f"warm_start={warm_start!s:<5}: epochs per fit {epochs[warm_start]}, "
          f"{sum(epochs[warm_start])} in all")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
positions = np.arange(len(alphas))
ax.bar(positions - 0.2, epochs[False], width=0.4, label="warm_start=False")
ax.bar(positions + 0.2, epochs[True], width=0.4, label="warm_start=True")
ax.set_xticks(positions, [f"{alpha:.3g}" for alpha in alphas])
ax.set_xlabel("alpha (fitted left to right)")
ax.set_ylabel("epochs to converge (tol=1e-6)")
ax.set_title("Digits: epochs per fit along a regularisation path")
ax.legend()
plt.show()

# %%
# The first fit is the same either way; every later warm-started fit starts near its
# solution.
#
# Training on chunks with ``partial_fit``
# ---------------------------------------
#
# The training rows arrive in 10 chunks; three passes over them, one ``partial_fit``
# call per chunk, with mini-batches of 64 rows. The first call must name all the classes.
# With ``learning_rate="auto"`` each call's step comes from the stream's curvature so
# far: a safe step for batches of 64 rows drawn from it, without momentum.

model = GDClassifier(batch_size=64, random_state=0)
chunks = np.array_split(np.arange(len(y_train)), 10)
accuracy = []
for _ in range(3):
    for rows in chunks:
        model.partial_fit(X_train[rows], y_train[rows], classes=np.unique(y))
        accuracy.append(model.score(X_test, y_test))
print(f"after {len(accuracy)} partial_fit calls: {model.t_} updates, "
      f"test accuracy {accuracy[-1]:.4f}")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(np.arange(1, len(accuracy) + 1), accuracy, marker="o", markersize=3)
for boundary in [10.5, 20.5]:
    ax.axvline(boundary, color="0.7", linestyle=":")
ax.set_xlabel("partial_fit calls (10 chunks per pass)")
ax.set_ylabel("test accuracy")
ax.set_title("Digits, trained chunk by chunk")
plt.show()
