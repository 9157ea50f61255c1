"""Types of the public signatures: the string options as ``Literal`` types, so that a type
checker catches ``solver="newton"`` in user code before scikit-learn's validation does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

LearningRate: TypeAlias = float | Literal["auto"]
DecayName: TypeAlias = Literal["constant", "inverse", "invscaling", "exponential", "step",
                               "cosine", "plateau"]
Decay: TypeAlias = DecayName | Callable[[int], float]
Solver: TypeAlias = Literal["accelerated", "gd", "adam", "lbfgs", "auto"]
Preconditioner: TypeAlias = Literal["auto", "full", "diagonal"] | None
Penalty: TypeAlias = Literal["l2", "l1", "elasticnet"] | None
RandomState: TypeAlias = int | np.random.RandomState | None
# None, a scorer name (or "loss", the objective), or a scorer callable.
Scoring: TypeAlias = str | Callable[..., float] | None
ClassWeight: TypeAlias = dict[Any, float] | Literal["balanced"] | None
# X: array-like or a SciPy sparse matrix, or an Array API array (any namespace).
MatrixLike: TypeAlias = Any
__all__ = ["ArrayLike", "ClassWeight", "Decay", "LearningRate", "MatrixLike", "Penalty",
           "Preconditioner", "RandomState", "Scoring", "Solver"]
