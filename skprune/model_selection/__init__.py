"""Curves and displays shared by pruned trees and pruned neural networks."""

from ._plot import PruningCurveDisplay, register_cv_estimator

__all__ = ["PruningCurveDisplay", "register_cv_estimator"]
