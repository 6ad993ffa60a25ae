"""The workbench's default estimators: what each broker runs when no replacement plugin is in use.

The host calls each factory with its ``AppConfig`` once per worker.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..plugins import AppConfig, EstimatorBase
from .onnx_density import OnnxDensityEstimator

__all__ = ["DEFAULT_ESTIMATORS", "DEFAULT_MODEL", "MODELS_DIR_ENV", "create_default_people_counter", "models_dir"]

MODELS_DIR_ENV = "WORKBENCH_MODELS_DIR"
DEFAULT_MODEL = "wbcount.onnx"
# workbench/estimators/default.py -> the repository root, where models/ sits in a checkout.
_REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def models_dir() -> Path:
    """The models folder: ``$WORKBENCH_MODELS_DIR`` when set, else ``<repo>/models``."""
    configured = os.environ.get(MODELS_DIR_ENV)
    return Path(configured).expanduser() if configured else _REPO_MODELS


def people_counter_device(config: AppConfig) -> str:
    """The people counter's device: its own ``deviceClass``, or the global one when that is ``"global"``."""
    device = config.estimatorsSettings.peopleCounter.deviceClass
    return config.globalDeviceClass if device == "global" else device


def create_default_people_counter(config: AppConfig) -> OnnxDensityEstimator:
    """The default people counter: the ``wbcount`` model on the configured device, head points by peaks.

    Raises:
        FileNotFoundError: ``wbcount.onnx`` is not in the models folder; the message names the folder,
            where it came from, and both ways to fix it.
    """
    folder = models_dir()
    model = folder / DEFAULT_MODEL
    if not model.is_file():
        origin = f"${MODELS_DIR_ENV}" if os.environ.get(MODELS_DIR_ENV) else f"the default (${MODELS_DIR_ENV} is unset)"
        raise FileNotFoundError(
            f"default people-count model {model} not found (models folder from {origin}); put {DEFAULT_MODEL} "
            f"and its .json there, or set {MODELS_DIR_ENV} to a folder that has them (the checkout's is "
            f"{_REPO_MODELS})"
        )
    return OnnxDensityEstimator(model, device_class=people_counter_device(config), gpu_device=config.defaultGpuDevice)


DEFAULT_ESTIMATORS: dict[str, Callable[[AppConfig], EstimatorBase]] = {
    "peopleCountEstimator": create_default_people_counter,
}
