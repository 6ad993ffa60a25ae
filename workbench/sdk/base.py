"""``BaseEstimation``: the base of the SDK's estimation results (``lunavl.sdk.base``).

An estimation wraps the object the estimator's core produced (``coreEstimation``) and reads its values from it
on demand; ``repr`` shows ``asDict()``, as the SDK does.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["BaseEstimation"]


class BaseEstimation(ABC):
    """Base class for estimation structures: holds the core estimation it was built from."""

    __slots__ = ("_coreEstimation",)

    def __init__(self, coreEstimation: Any):
        self._coreEstimation = coreEstimation

    @property
    def coreEstimation(self) -> Any:
        """The core estimation given at construction."""
        return self._coreEstimation

    @abstractmethod
    def asDict(self) -> dict | list:
        """The estimation as plain data."""

    def __repr__(self) -> str:
        return str(self.asDict())
