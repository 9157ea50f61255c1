r"""
Gradient descent on a convex bowl
=================================

Gradient descent repeats one update: from the current point :math:`x`, step against
the gradient, the vector of partial derivatives,

.. math::

    x \leftarrow x - \eta \, \nabla f(x), \qquad
    \nabla f(x) = \Big[\frac{\partial f}{\partial x_1}, \dots,
    \frac{\partial f}{\partial x_n}\Big].

This example draws that update on a two-dimensional convex quadratic, the shape every
least-squares objective has, for four step sizes :math:`\eta`: too small (the descent
crawls), :math:`1/L` (what ``learning_rate="auto"`` picks for the textbook update,
``preconditioner=None``), large (it overshoots the
valley floor and zig-zags) and too large (every step overshoots by more than it gains, and
the iterates fly off).
"""

import matplotlib.pyplot as plt
import numpy as np

# %%
# A bowl with a steep and a shallow direction
# -------------------------------------------
#
# :math:`f(x) = \frac12 (x - x^*)^\top A (x - x^*)` with :math:`A` symmetric positive
# definite is convex: its gradient is :math:`A (x - x^*)` and its minimum is :math:`x^*`.
# We take eigenvalues 10 (steep) and 1 (shallow), with the axes turned by 30 degrees.
# The largest eigenvalue :math:`L = 10` is the Lipschitz constant of the gradient: on a
# quadratic, descent converges exactly when :math:`\eta < 2/L`.

angle = np.deg2rad(30)
rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
A = rotation @ np.diag([1.0, 10.0]) @ rotation.T
minimum = np.array([1.0, 0.5])
L = np.linalg.eigvalsh(A).max()


def f(x):
    d = x - minimum
    return 0.5 * d @ A @ d


def gradient(x):
    return A @ (x - minimum)


def descend(learning_rate, start, n_steps=25):
    """The textbook update, n_steps times; returns every point visited."""
    path = [start]
    for _ in range(n_steps):
        path.append(path[-1] - learning_rate * gradient(path[-1]))
    return np.array(path)


print(f"L = {L:g}: 1/L = {1 / L:g}, descent diverges for learning rates above 2/L = {2 / L:g}")

# %%
# Four step sizes, 25 steps each
# ------------------------------

start = np.array([-3.5, 2.5])
runs = {
    "too small": 0.02,
    "1/L (learning_rate='auto')": 1 / L,
    "large: zig-zags": 0.19,
    "too large: diverges": 0.21,
}

grid_1, grid_2 = np.meshgrid(np.linspace(-4.5, 4.5, 200), np.linspace(-3.5, 4.0, 200))
points = np.stack([grid_1 - minimum[0], grid_2 - minimum[1]], axis=-1)
values = 0.5 * np.einsum("...i,ij,...j->...", points, A, points)

fig, axes = plt.subplots(2, 2, figsize=(9, 7.5), sharex=True, sharey=True,
                         layout="constrained")
for ax, (label, learning_rate) in zip(axes.flat, runs.items(), strict=True):
    path = descend(learning_rate, start)
    ax.contour(grid_1, grid_2, values, levels=np.geomspace(0.1, 100, 10), colors="0.55",
               linewidths=0.8)
    ax.plot(path[:, 0], path[:, 1], "o-", color="tab:red", markersize=3, linewidth=1)
    ax.plot(*start, "s", color="tab:blue", label="start")
    ax.plot(*minimum, "*", color="black", markersize=12, label="minimum")
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(-3.5, 4.0)
    ax.set_title(f"{label}, $\\eta$ = {learning_rate:.3g}")
    print(f"{label:>28}: eta = {learning_rate:.3g}, after 25 steps "
          f"f = {f(path[-1]):.4g} (started at {f(start):.4g}), "
          f"distance to the minimum {np.linalg.norm(path[-1] - minimum):.3g}")
axes[0, 0].legend(loc="lower right")
fig.suptitle(r"$x \leftarrow x - \eta\,\nabla f(x)$ on $f(x) = \frac{1}{2}(x - x^*)^\top A"
             r"(x - x^*)$, eigenvalues of $A$: 1 and 10")
plt.show()

# %%
# Reading the picture
# -------------------
#
# * With :math:`\eta = 0.02` each step is a small fraction of the way down: after 25
#   steps the point is still far up the shallow direction. A learning rate that is too
#   small does not fail, it crawls, and ``max_iter`` runs out first.
# * With :math:`\eta = 1/L` the steep direction is solved in one step (its error is
#   multiplied by :math:`1 - \eta \cdot 10 = 0`) and the rest of the way is along the
#   shallow valley, where the error shrinks by :math:`1 - \eta \cdot 1 = 0.9` a step.
#   With ``preconditioner=None``, ``learning_rate="auto"`` uses this step, computed
#   from the data: full-batch descent with it cannot diverge.
# * With :math:`\eta = 0.19` each step jumps across the steep direction: its error is
#   multiplied by :math:`1 - 1.9 = -0.9`, so it changes sign at every step and shrinks
#   no faster than the shallow error did at :math:`1/L`. The shallow direction now
#   moves faster (factor 0.81), yet after 25 steps the zig-zag leaves the point further
#   from the minimum than :math:`1/L` does. Overshooting wastes steps.
# * Past :math:`2/L = 0.2` the steep error is multiplied by :math:`1 - 2.1 = -1.1`: it
#   grows at every step, and the iterates move away from the minimum. skgd's estimators
#   notice this as the objective blowing up and raise :class:`skgd.DivergenceError`
#   (see :ref:`sphx_glr_auto_examples_plot_learning_rates.py`).
#
# No single step suits both directions: the one that solves the steep direction is ten
# times too small for the shallow one. Stepping in the metric of :math:`A` itself,
# :math:`x \leftarrow x - A^{-1} \nabla f(x)`, reaches the minimum of this quadratic in
# one step; that is what skgd's default ``preconditioner="auto"`` does with the Gram
# matrix of the data (see :ref:`sphx_glr_auto_examples_plot_preconditioning.py`).
