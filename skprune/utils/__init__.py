"""Utilities shared across skprune."""

from ._estimators import all_estimators
from ._skops import skops_trusted_types

__all__ = ["all_estimators", "skops_trusted_types"]
