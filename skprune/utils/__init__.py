"""Utilities shared across skprune."""

from ._estimators import all_estimators

__all__ = ["all_estimators"]
