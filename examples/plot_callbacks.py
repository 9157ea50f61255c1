r"""
Watching a fit: verbose, progress bars and callbacks
====================================================

A fit can report each epoch in three ways:

- ``verbose=1`` prints one line per epoch: the training objective, the learning rate, the
  optimality (see ``tol``) and the time taken;
- scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9), set with
  ``set_callbacks``: :class:`~sklearn.callback.ProgressBar` draws a progress bar (with
  ``rich``, the ``progress`` extra: ``pip install "skgd[progress]"``) and
  :class:`~sklearn.callback.ScoringMonitor` records any scikit-learn score after each
  epoch;
- a callback of your own: any object with the callback methods. Each ``fit`` is a task
  named ``"fit"`` with one sub-task ``"epoch"`` per epoch, and an ``on_fit_task_end``
  that returns True stops the fit after that epoch.
"""

import matplotlib.pyplot as plt
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# ``verbose``
# -----------

GDClassifier(max_iter=5, tol=None, verbose=1).fit(X_train, y_train)

# %%
# A progress bar
# --------------

model = GDClassifier(max_iter=100, tol=None).set_callbacks(ProgressBar())
model.fit(X_train, y_train)

# %%
# Scores after each epoch
# -----------------------
#
# :class:`~sklearn.callback.ScoringMonitor` scores the model on the training data after
# every epoch (and once at the end of the fit) with any scorer or list of scorers.
# ``get_logs()`` returns the run's log: one row per task, the epochs having
# ``task_name == "epoch"``.

monitor = ScoringMonitor(scoring=["accuracy", "neg_log_loss"])
model = GDClassifier(max_iter=60, tol=None).set_callbacks(monitor).fit(X_train, y_train)
epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
print(f"{len(epochs)} epochs logged; last: accuracy {epochs[-1]['accuracy']:.4f}, "
      f"log loss {-epochs[-1]['neg_log_loss']:.4f}")

# %%
# A callback of your own: stop when the held-out score stalls
# -----------------------------------------------------------
#
# A callback that asks for ``fitted_estimator`` gets, at the end of each epoch, a model
# that predicts as if the fit had stopped there. This one scores it on held-out data and
# returns True (stop) once the score has not improved for ``patience`` epochs: early
# stopping on a test set of your choice, with the fit's own loop.


class HeldOutStopper:
    def __init__(self, X, y, patience=10):
        self.X, self.y, self.patience = X, y, patience
        self.scores = []

    def setup(self, estimator, context):
        self.scores = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
        if context.task_name != "epoch":
            return False
        self.scores.append(fitted_estimator.score(self.X, self.y))
        best = max(range(len(self.scores)), key=self.scores.__getitem__)
        return len(self.scores) - 1 - best >= self.patience


stopper = HeldOutStopper(X_test, y_test)
# A slow textbook fit (``preconditioner=None``, a small fixed step) gives the held-out
# score time to rise and level off.
stopped = GDClassifier(solver="gd", preconditioner=None, learning_rate=0.05, max_iter=500,
                       tol=None)
stopped.set_callbacks(stopper).fit(X_train, y_train)
print(f"stopped after {stopped.n_iter_} of 500 epochs; best held-out accuracy "
      f"{max(stopper.scores):.4f} at epoch {stopper.scores.index(max(stopper.scores)) + 1}")

# %%
# The monitored scores next to the loss curve
# -------------------------------------------

fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
ax_loss.plot(range(1, len(model.loss_curve_) + 1), model.loss_curve_)
ax_loss.set(xlabel="epoch", ylabel="training objective", yscale="log",
            title="GDClassifier(max_iter=60) on digits")
ax_score.plot([row["task_id"] + 1 for row in epochs], [row["accuracy"] for row in epochs],
              label="training accuracy (ScoringMonitor)")
ax_score.plot(range(1, len(stopper.scores) + 1), stopper.scores,
              label="held-out accuracy (HeldOutStopper)")
ax_score.axvline(stopped.n_iter_, color="0.5", linestyle=":", label="HeldOutStopper stops")
ax_score.set(xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.005))
ax_score.legend(loc="lower right")
plt.show()
