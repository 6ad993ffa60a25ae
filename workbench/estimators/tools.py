"""Model tools: put the preprocessing inside an ONNX graph, quantise a model to int8, convert MCNN's weights.

``wrap_preprocessing`` makes a model that takes what the service's reference plugin feeds: an RGB uint8 image
``[H, W, 3]`` straight from ``VLImage.asNPArray()`` (or a batch ``[N, H, W, 3]``). ``quantize_int8`` runs
onnxruntime's static QDQ quantisation calibrated on real images. The usual order is quantise, then wrap:
the wrapper's cast, luma and normalisation then stay in float (quantising them would round the luma
weights and the normalisation), and calibration sees exactly the tensors the float model sees. Every model
written here gets its description both as ``<stem>.json`` beside it and in its ``"description"`` metadata.
``convert_mcnn_h5`` builds MCNN from its published ``.h5`` weights (``_mcnn``), so that published figures can be
reproduced with the workbench's own estimator and ``compare``.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from ..images import load_image
from ..sdk import ColorFormat
from ._graph import add_preprocessing
from ._mcnn import WeightsFormatError, mcnn_from_h5
from .model import ModelDescription, ModelDescriptionError, measure_geometry, stack_padded

__all__ = ["WeightsFormatError", "convert_mcnn_h5", "quantize_int8", "wrap_preprocessing"]



def _load_description(model_path: Path, description: ModelDescription | str | os.PathLike | None) -> ModelDescription:
    if isinstance(description, ModelDescription):
        return description
    if description is None:
        return ModelDescription.for_model(model_path)
    return ModelDescription.load(description)


def _check_model_file(model_path: str | os.PathLike) -> Path:
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {path} not found (cwd is {os.getcwd()})")
    return path


def _save(proto: onnx.ModelProto, description: ModelDescription, out_path: Path) -> ModelDescription:
    """Embed ``description`` in ``proto``'s metadata, check and save it, and write the JSON beside it."""
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != "description"]
    del proto.metadata_props[:]
    for key, value in [*kept, ("description", description.to_json().strip())]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out_path))
    description.to_json(out_path.with_suffix(".json"))
    return ModelDescription.load(out_path.with_suffix(".json"))


def _renamed(description: ModelDescription, out_path: Path) -> ModelDescription:
    """The description of a model written to ``out_path``: named after the file."""
    fields = description.to_dict()
    fields.update(name=out_path.stem)
    return ModelDescription.from_dict(fields, source=str(out_path.with_suffix(".json")))


def wrap_preprocessing(
    model_path: str | os.PathLike,
    description: ModelDescription | str | os.PathLike | None,
    out_path: str | os.PathLike,
    *,
    batched: bool = False,
) -> ModelDescription:
    """Write a model that takes RGB uint8 pixels and does its own preprocessing, then runs ``model_path``.

    The new input keeps the model's input name and is ``[height, width, 3]`` uint8 (``[batch, height,
    width, 3]`` with ``batched=True``); inside the graph it is cast, converted to luma for gray models
    (bit-identical to Pillow's "L"), normalised with the description's scale/mean/std and transposed to
    the model's layout. The output is unchanged. Returns the new model's description (also written to
    ``<out stem>.json``).

    Raises:
        FileNotFoundError: the model or its description is missing.
        ModelDescriptionError: the description does not match the model, or there is nothing to wrap.
        ValueError: the model's opset is below 13, or ``batched`` was asked of a one-image (HWC) model.
    """
    source = _check_model_file(model_path)
    out = Path(out_path)
    desc = _load_description(source, description)
    proto = onnx.load(str(source))
    wrapped = add_preprocessing(proto, desc, batched=batched, model=str(source))
    return _save(proto, _renamed(wrapped, out), out)


def convert_mcnn_h5(h5_path: str | os.PathLike, out_path: str | os.PathLike) -> ModelDescription:
    """Write MCNN's published weights (``mcnn_shtechA_660.h5``, ``mcnn_shtechB_110.h5``) as an ONNX density model.

    The ``.h5`` is crowdcount-mcnn's PyTorch state dict saved with h5py (see ``_mcnn``); h5py comes with the
    ``models`` extra. The model takes gray raw-pixel ``[N, 1, H, W]`` float32 and gives a ``[N, 1, H/4, W/4]``
    density map; its description (``models/mcnn.json``'s input convention, named after ``out_path``) is written
    beside it and embedded. Returns that description.

    Raises:
        FileNotFoundError: the weights file is missing.
        WeightsFormatError: it is not HDF5, or a layer is missing, extra, misshapen or not finite (named).
    """
    out = Path(out_path)
    proto, description = mcnn_from_h5(h5_path)
    return _save(proto, _renamed(description, out), out)


# -- int8 --------------------------------------------------------------------------------------------------


def _image_array(item: Any, index: int) -> np.ndarray:
    try:
        return load_image(item).convert(ColorFormat.R8G8B8).asNPArray()
    except (TypeError, ValueError) as error:
        raise type(error)(f"calibration image {index}: {error}") from None


class _Calibration(CalibrationDataReader):
    """A ``CalibrationDataReader`` over real images, preprocessed and padded as the estimator does."""

    def __init__(self, images: list[Any], desc: ModelDescription, padded: Callable[[int, int], tuple[int, int]]) -> None:
        self._images = images
        self._desc = desc
        self._padded = padded
        self._iter: Iterator[dict[str, np.ndarray]] | None = None

    def _feeds(self) -> Iterator[dict[str, np.ndarray]]:
        for index, item in enumerate(self._images):
            pixels = _image_array(item, index)
            batch = stack_padded([pixels], *self._padded(*pixels.shape[:2]), self._desc.pad_pixel)
            yield {self._desc.input: self._desc.preprocess(batch)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iter is None:
            self._iter = self._feeds()
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = None


def quantize_int8(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    calibration_images: Iterable[Any],
    description: ModelDescription | str | os.PathLike | None = None,
    *,
    per_channel: bool = True,
    preprocess: bool = True,
) -> ModelDescription:
    """Quantise a float model to int8 (static, QDQ) with onnxruntime, calibrated on real images.

    Args:
        model_path: the float32 model.
        out_path: where to write the int8 model (same input and output as the original).
        calibration_images: ``VLImage``s, or anything ``workbench.images.load_image`` reads (paths, arrays); a few dozen typical
            images of the deployment's scenes. Use training images, never the ones you report on.
        description: the model's description (default: ``<stem>.json`` beside it).
        per_channel: one weight scale per output channel (accurate for convolutions, free at run time).
        preprocess: run onnxruntime's ``quant_pre_process`` (shape inference and graph optimisation) first.

    Weights are int8 (symmetric), activations uint8 (asymmetric: ReLU outputs are non-negative), ranges by
    min/max calibration. Returns the int8 model's description (also written to ``<out stem>.json``).

    Raises:
        FileNotFoundError: the model or its description is missing.
        ModelDescriptionError: the model is not float32, or the description does not match it.
        ValueError: no calibration images, or an unreadable one.
    """
    source = _check_model_file(model_path)
    out = Path(out_path)
    desc = _load_description(source, description)
    if desc.dtype != "float32":
        raise ModelDescriptionError(f"{desc.source}: field 'dtype' is {desc.dtype!r}; only float32 models can be quantised")
    images = list(calibration_images)
    if not images:
        raise ValueError("no calibration images: pass a few dozen typical images (a training split)")
    session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    geometry = measure_geometry(session, desc, str(source))
    del session

    reader = _Calibration(images, desc, geometry.padded_size)
    with tempfile.TemporaryDirectory(prefix="wb-quant-") as tmp:
        float_model = source
        if preprocess:
            float_model = Path(tmp) / "preprocessed.onnx"
            quant_pre_process(str(source), str(float_model), skip_symbolic_shape=True)
        quantized = Path(tmp) / "quantized.onnx"
        quantize_static(
            str(float_model),
            str(quantized),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        proto = onnx.load(str(quantized))
    return _save(proto, _renamed(desc, out), out)
