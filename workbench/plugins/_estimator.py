"""The estimator replacement contract, with the service's names."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from ._config import AppConfig


class EstimatorBase(ABC):
    """An estimator that can stand in for one of the SDK's estimators."""

    @abstractmethod
    def close(self) -> None:
        """Release model weights, sessions, GPU memory, files."""

    @abstractmethod
    async def estimateBatch(self, images: list[Any], estimationTargets: Any, asyncEstimate: bool = True) -> list[Any]:
        """Estimate every image; return objects of the replaced estimator's result type, one per image."""


class EstimatorReplacementPlugin(ABC):
    """A plugin that replaces the estimator named ``estimatorBrokerName`` in every worker."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @property
    def appConfig(self) -> AppConfig:
        return self.app.config

    @property
    def globalDeviceClass(self) -> Literal["cpu", "gpu"]:
        return self.app.config.globalDeviceClass

    @property
    def defaultGpuDevice(self) -> int:
        return self.app.config.defaultGpuDevice

    @property
    def deviceClass(self) -> Literal["cpu", "gpu"]:
        """The device of the replacement estimator; the global one unless a plugin overrides this."""
        return self.globalDeviceClass

    @property
    @abstractmethod
    def estimatorBrokerName(self) -> str:
        """The SDK's name of the estimator to replace, e.g. ``"peopleCountEstimator"``."""

    @abstractmethod
    def createReplacementEstimator(self) -> EstimatorBase:
        """Create one estimator instance; the host calls it once per worker."""

    def close(self) -> None:
        """Release plugin-level resources (estimators are closed by the host through their own ``close``)."""
