"""The slice of the service's application config that plugins read."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast, overload

DeviceClass = Literal["cpu", "gpu"]
EstimatorDeviceClass = Literal["global", "cpu", "gpu"]
_ESTIMATOR_DEVICE_CLASSES = ("global", "cpu", "gpu")


@overload
def check_device_class(value: str, *, allow_global: Literal[False], what: str) -> DeviceClass: ...
@overload
def check_device_class(value: str, *, allow_global: bool, what: str) -> EstimatorDeviceClass: ...
def check_device_class(value: str, *, allow_global: bool, what: str) -> EstimatorDeviceClass:
    """Return ``value`` if it names a device class, else raise a ValueError that lists the choices."""
    choices = _ESTIMATOR_DEVICE_CLASSES if allow_global else _ESTIMATOR_DEVICE_CLASSES[1:]
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return cast(EstimatorDeviceClass, value)  # one of the choices, checked above


@dataclass
class EstimatorSettings:
    """Per-estimator settings; ``deviceClass`` "global" defers to the global device class."""

    deviceClass: EstimatorDeviceClass = "global"

    def __post_init__(self) -> None:
        check_device_class(self.deviceClass, allow_global=True, what="estimator deviceClass")


@dataclass
class EstimatorsSettings:
    """Settings by the service's estimator config names."""

    peopleCounter: EstimatorSettings = field(default_factory=EstimatorSettings)


@dataclass
class AppConfig:
    """What ``EstimatorReplacementPlugin.appConfig`` and friends expose."""

    globalDeviceClass: DeviceClass = "cpu"
    defaultGpuDevice: int = 0
    estimatorsSettings: EstimatorsSettings = field(default_factory=EstimatorsSettings)

    def __post_init__(self) -> None:
        check_device_class(self.globalDeviceClass, allow_global=False, what="device")
        if not isinstance(self.defaultGpuDevice, int) or self.defaultGpuDevice < 0:
            raise ValueError(f"defaultGpuDevice must be a GPU index >= 0, got {self.defaultGpuDevice!r}")
