"""The workbench's default estimators: what each broker runs when no replacement plugin is in use.

The default people counter is, first match wins:

1. the user's own model: ``Workbench(..., default_model=PATH)`` / ``--default-model PATH``;
2. ``$WORKBENCH_DEFAULT_MODEL``;
3. the bundled ``wbcount.onnx``: package data of ``workbench._models`` (the checkout's ``models/`` folder,
   mapped in setup.py), read through ``importlib.resources`` so that it is found wherever the package is
   installed; ``$WORKBENCH_MODELS_DIR`` points at another folder holding a ``wbcount.onnx``.

A user's model is checked when the host is built, so a bad file fails at once with the file and the fix in
the message, not at the first estimate. The host calls each factory with its ``AppConfig`` once per worker.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Literal

from ..plugins import AppConfig, EstimatorBase
from ._guess import guess_description
from ._tiling import tile_large_images
from .model import ModelDescription, ModelDescriptionError, measure_geometry
from .onnx_density import OnnxDensityEstimator

__all__ = [
    "BUNDLED_MODELS_PACKAGE",
    "DEFAULT_ESTIMATORS",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_ENV",
    "MODELS_DIR_ENV",
    "UserDefaultModel",
    "bundled_models_dir",
    "create_default_people_counter",
    "default_estimator_factories",
    "load_default_model",
    "models_dir",
]

MODELS_DIR_ENV = "WORKBENCH_MODELS_DIR"
DEFAULT_MODEL_ENV = "WORKBENCH_DEFAULT_MODEL"
DEFAULT_MODEL = "wbcount.onnx"
BUNDLED_MODELS_PACKAGE = "workbench._models"
PEOPLE_COUNTER = "peopleCountEstimator"

EstimatorFactory = Callable[[AppConfig], EstimatorBase]


def bundled_models_dir() -> Path:
    """The folder of the models shipped with the package (``models/`` itself in an editable install).

    Raises:
        RuntimeError: the package is installed in a form with no folders on disk (a zip), which onnxruntime
            cannot read models from.
    """
    folder = resources.files(BUNDLED_MODELS_PACKAGE)
    if not isinstance(folder, Path):
        raise RuntimeError(
            f"the bundled models ({BUNDLED_MODELS_PACKAGE}) are inside {folder}, not in a folder on disk; install "
            f"the workbench unzipped (pip does), or set {MODELS_DIR_ENV} to a folder with {DEFAULT_MODEL}"
        )
    return folder


def models_dir() -> Path:
    """The folder of the bundled default model: ``$WORKBENCH_MODELS_DIR`` when set, else the package data."""
    configured = os.environ.get(MODELS_DIR_ENV)
    return Path(configured).expanduser() if configured else bundled_models_dir()


def people_counter_device(config: AppConfig) -> Literal["cpu", "gpu"]:
    """The people counter's device: its own ``deviceClass``, or the global one when that is ``"global"``."""
    device = config.estimatorsSettings.peopleCounter.deviceClass
    return config.globalDeviceClass if device == "global" else device


def create_default_people_counter(config: AppConfig) -> EstimatorBase:
    """The bundled default people counter: ``wbcount`` on the configured device, head points by peaks, images
    over the pixel budget tiled (``workbench.estimators._tiling``).

    Raises:
        FileNotFoundError: ``wbcount.onnx`` is not in the models folder; the message names the folder,
            where it came from, and the ways to fix it.
    """
    folder = models_dir()
    model = folder / DEFAULT_MODEL
    if not model.is_file():
        origin = f"${MODELS_DIR_ENV}" if os.environ.get(MODELS_DIR_ENV) else "the installed package's data"
        raise FileNotFoundError(
            f"default people-count model {model} not found (models folder from {origin}); put {DEFAULT_MODEL} "
            f"and its .json there, set {MODELS_DIR_ENV} to a folder that has them, reinstall the workbench "
            f"(its wheel ships the bundled models), or pass your own with default_model= / --default-model / "
            f"${DEFAULT_MODEL_ENV}"
        )
    return tile_large_images(
        OnnxDensityEstimator(model, device_class=people_counter_device(config), gpu_device=config.defaultGpuDevice)
    )


@dataclass(frozen=True)
class UserDefaultModel:
    """A user's model, checked, ready to be the default people counter.

    Attributes:
        path: the ``.onnx`` file.
        description: how to feed it (its JSON, its embedded metadata, or an exact guess for uint8 models).
        origin: where the path came from, for messages (``default_model`` or ``$WORKBENCH_DEFAULT_MODEL``).
    """

    path: Path
    description: ModelDescription
    origin: str

    def create(self, config: AppConfig) -> EstimatorBase:
        """One estimator on the configured device, huge images tiled (the host calls this once per worker)."""
        return tile_large_images(OnnxDensityEstimator(
            self.path, self.description,
            device_class=people_counter_device(config), gpu_device=config.defaultGpuDevice,
        ))


def load_default_model(
    path: str | os.PathLike, origin: str = "default_model", *, role: str = "default model"
) -> UserDefaultModel:
    """Check a user's model (the file, its format, its description and its shapes) before it becomes the default
    (or, with ``role="model estimator"``, a named estimator beside it).

    Raises:
        FileNotFoundError: the file does not exist.
        ModelDescriptionError: onnxruntime cannot load it, it has no description and none can be guessed
            exactly, or its description does not fit its tensors. Every message names the file and the fix.
    """
    import onnxruntime as ort

    model = Path(path).expanduser()
    where = f"{role} {model} (from {origin})"
    if not model.is_file():
        fallback = f", or leave {origin} unset to use the bundled {DEFAULT_MODEL}" if role == "default model" else ""
        raise FileNotFoundError(
            f"{where} not found; give the path of an ONNX density-map model (cwd is {os.getcwd()}){fallback}"
        )
    try:
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types, all meaning "not a usable model"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelDescriptionError(
            f"{where} is not an ONNX model onnxruntime can load ({first_line}); export the model to ONNX "
            "(e.g. torch.onnx.export) and pass the .onnx file"
        ) from None
    try:
        description = ModelDescription.for_model(model)
    except FileNotFoundError:
        guess = guess_description(session, model.stem)
        if not guess.exact:
            raise ModelDescriptionError(
                f"{where} has no description ({model.with_suffix('.json')} or a 'description' metadata entry), "
                f"and it cannot be guessed exactly: {guess.reason}; run `workbench model describe {model} --write` "
                "to write a draft description beside it, check it, and try again"
            ) from None
        assert guess.description is not None
        description = guess.description
    try:
        measure_geometry(session, description, str(model))
    except ModelDescriptionError as error:
        raise ModelDescriptionError(f"{where} does not fit its description: {error}") from None
    return UserDefaultModel(model, description, origin)


def default_estimator_factories(default_model: str | os.PathLike | None = None) -> dict[str, EstimatorFactory]:
    """The default estimators: the people counter from ``default_model``, else ``$WORKBENCH_DEFAULT_MODEL``,
    else the bundled model (see the module docstring); a user's model is checked here.

    Raises:
        FileNotFoundError, ModelDescriptionError: a user's model is missing or unusable (see
            ``load_default_model``).
    """
    if default_model is not None:
        user_model = load_default_model(default_model, "default_model / --default-model")
    elif os.environ.get(DEFAULT_MODEL_ENV):
        user_model = load_default_model(os.environ[DEFAULT_MODEL_ENV], f"${DEFAULT_MODEL_ENV}")
    else:
        return dict(DEFAULT_ESTIMATORS)
    return {PEOPLE_COUNTER: user_model.create}


DEFAULT_ESTIMATORS: dict[str, EstimatorFactory] = {
    PEOPLE_COUNTER: create_default_people_counter,
}
