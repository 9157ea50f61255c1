"""skgd: scikit-learn-compatible gradient-descent estimators."""

from . import losses
from ._cv import GDClassifierCV, GDRegressorCV
from ._engine import DivergenceError
from ._estimators import GDClassifier, GDRegressor
from ._plot import LossCurveDisplay, SearchLossCurveDisplay
from ._show_versions import show_versions

__version__ = "0.1.0"

__all__ = ["GDClassifier", "GDRegressor", "GDClassifierCV", "GDRegressorCV",
           "DivergenceError", "LossCurveDisplay", "SearchLossCurveDisplay", "losses",
           "show_versions", "__version__"]
