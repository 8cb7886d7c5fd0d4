"""Curves, displays and the path cross-validation shared by trees and MLPs."""

from ._plot import PruningCurveDisplay
from ._search import register_cv_estimator

__all__ = ["PruningCurveDisplay", "register_cv_estimator"]
