"""Model tools: put the preprocessing inside an ONNX graph, and quantise a model to int8.

``wrap_preprocessing`` makes a model that takes what the service's reference plugin feeds: an RGB uint8 image
``[H, W, 3]`` straight from ``VLImage.asNPArray()`` (or a batch ``[N, H, W, 3]``). ``quantize_int8`` runs
onnxruntime's static QDQ quantisation calibrated on real images. The usual order is quantise, then wrap:
the wrapper's cast, luma and normalisation then stay in float (quantising them would round the luma
weights and the normalisation), and calibration sees exactly the tensors the float model sees. Every model
written here gets its description both as ``<stem>.json`` beside it and in its ``"description"`` metadata.
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
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from ..sdk import VLImage
from .model import LUMA_ROUND, LUMA_SHIFT, LUMA_WEIGHTS, ModelDescription, ModelDescriptionError, measure_geometry

__all__ = ["quantize_int8", "wrap_preprocessing"]

_PREFIX = "wb_pre_"
_MIN_OPSET = 13  # Unsqueeze with an axes input, and per-channel QDQ, need opset 13


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


def _derived(description: ModelDescription, out_path: Path, **changes: Any) -> ModelDescription:
    fields = description.to_dict()
    fields.update(name=out_path.stem, **changes)
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
    if desc.layout == "HWC" and batched:
        raise ValueError(f"{source} takes one image at a time (layout HWC); it cannot be wrapped with batched=True")
    if desc.layout == ("NHWC" if batched else "HWC") and desc.dtype == "uint8" and desc.channels == "RGB":
        raise ModelDescriptionError(f"{source} already takes RGB uint8 pixels in layout {desc.layout}; nothing to wrap")
    proto = onnx.load(str(source))
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < _MIN_OPSET:
        raise ValueError(
            f"{source} uses opset {opset}; wrapping needs opset >= {_MIN_OPSET}: convert it first with "
            f"onnx.version_converter.convert_version(model, {_MIN_OPSET})"
        )
    graph = proto.graph
    original = next((i for i in graph.input if i.name == desc.input), None)
    if original is None:
        raise ModelDescriptionError(
            f"{desc.source}: field 'input' is {desc.input!r}, but {source} has input(s) "
            f"{', '.join(i.name for i in graph.input)}"
        )
    inner = _PREFIX + "model_input"
    for node in graph.node:
        node.input[:] = [inner if name == desc.input else name for name in node.input]
    nodes, initializers = _preprocessing_nodes(desc, batched, desc.input, inner)
    graph.input.remove(original)
    dims = ["batch", "height", "width", 3] if batched else ["height", "width", 3]
    graph.input.insert(0, helper.make_tensor_value_info(desc.input, TensorProto.UINT8, dims))
    graph.initializer.extend(initializers)
    # Prepending keeps the node list topologically sorted, as ONNX requires.
    body = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *body])
    wrapped = _derived(desc, out, layout="NHWC" if batched else "HWC", dtype="uint8", channels="RGB", scale=1.0, mean=0.0, std=1.0)
    return _save(proto, wrapped, out)


def _preprocessing_nodes(
    desc: ModelDescription, batched: bool, image: str, result: str
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes from the uint8 ``[N,]H,W,3`` input ``image`` to the model's input ``result``."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    counter = iter(range(1000))

    def const(value: np.ndarray) -> str:
        name = f"{_PREFIX}c{next(counter)}"
        inits.append(numpy_helper.from_array(value, name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        name = f"{_PREFIX}{kind.lower()}{next(counter)}"
        nodes.append(helper.make_node(kind, inputs, [name], name=name, **attrs))
        return name

    x = image
    if not batched and desc.batched:
        x = op("Unsqueeze", [x, const(np.array([0], np.int64))])
    channels_first = desc.layout == "NCHW"
    if desc.channels == "RGB" and channels_first:
        # Transposing uint8 moves a quarter of the bytes that transposing the float tensor would.
        x = op("Transpose", [x], perm=[0, 3, 1, 2])
    if desc.dtype == "float32" or desc.channels == "gray":
        x = op("Cast", [x], to=TensorProto.FLOAT)
    if desc.channels == "gray":
        weights = np.array(LUMA_WEIGHTS, np.float32).reshape(3, 1)
        x = op("MatMul", [x, const(weights)])
        x = op("Add", [x, const(np.array(LUMA_ROUND, np.float32))])
        x = op("Mul", [x, const(np.array(1.0 / LUMA_SHIFT, np.float32))])
        x = op("Floor", [x])
        if channels_first:
            x = op("Transpose", [x], perm=[0, 3, 1, 2])
    if desc.dtype == "float32":
        gain = desc.scale / np.asarray(desc.std, np.float64) * np.ones(desc.n_channels)
        bias = np.asarray(desc.mean, np.float64) / np.asarray(desc.std, np.float64) * np.ones(desc.n_channels)
        shape = (desc.n_channels, 1, 1) if channels_first else (desc.n_channels,)
        # The identity normalisation (raw-pixel models like MCNN) adds no nodes.
        if np.any(gain != 1.0):
            x = op("Mul", [x, const(gain.astype(np.float32).reshape(shape))])
        if np.any(bias != 0.0):
            x = op("Sub", [x, const(bias.astype(np.float32).reshape(shape))])
    else:
        x = op("Cast", [x], to=TensorProto.UINT8) if desc.channels == "gray" else x
    nodes.append(helper.make_node("Identity", [x], [result], name=f"{_PREFIX}output"))
    return nodes, inits


# -- int8 --------------------------------------------------------------------------------------------------


def _image_array(item: Any, index: int) -> np.ndarray:
    if isinstance(item, VLImage):
        return item.asNPArray()
    try:
        return VLImage(item).asNPArray()
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
            tensor = self._desc.preprocess(pixels[np.newaxis])
            height, width = pixels.shape[:2]
            padded_h, padded_w = self._padded(height, width)
            padding = [(0, 0)] * tensor.ndim
            _, h_axis, w_axis = self._desc.axes
            padding[h_axis], padding[w_axis] = (0, padded_h - height), (0, padded_w - width)
            yield {self._desc.input: np.pad(tensor, padding)}

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
        calibration_images: ``VLImage``s, or anything ``VLImage`` reads (paths, arrays); a few dozen typical
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
    return _save(proto, _derived(desc, out), out)
