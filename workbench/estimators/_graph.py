"""ONNX graph surgery: put a model's preprocessing in front of it, so that it takes RGB uint8 pixels.

Used by ``tools.wrap_preprocessing`` (which saves the result) and by ``OnnxDensityEstimator`` with
``graph_preprocessing=True`` (which runs it in memory).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .model import LUMA_ROUND, LUMA_SHIFT, LUMA_WEIGHTS, ModelDescription, ModelDescriptionError

__all__ = ["MIN_OPSET", "add_preprocessing", "opset", "takes_pixels"]

MIN_OPSET = 13  # Unsqueeze with an axes input (and per-channel QDQ) need opset 13
_PREFIX = "wb_pre_"


def opset(proto: onnx.ModelProto) -> int:
    """The model's default-domain opset version."""
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def takes_pixels(desc: ModelDescription, batched: bool) -> bool:
    """Whether the model already takes RGB uint8 pixels in the wrapped layout (nothing to add)."""
    return desc.layout == ("NHWC" if batched else "HWC") and desc.dtype == "uint8" and desc.channels == "RGB"


def add_preprocessing(proto: onnx.ModelProto, desc: ModelDescription, *, batched: bool, model: str) -> ModelDescription:
    """Rewrite ``proto`` in place to take RGB uint8 ``[H, W, 3]`` (``[N, H, W, 3]`` if ``batched``).

    The new input keeps the model's input name; in the graph it is cast, turned into luma for gray models
    (bit-identical to Pillow's "L"), normalised with the description's scale/mean/std and transposed to
    the model's layout. Returns the description of the rewritten model (name unchanged).

    Raises:
        ModelDescriptionError: the input name is not the model's, or it already takes pixels.
        ValueError: opset below 13, or ``batched`` asked of a one-image (HWC) model.
    """
    if desc.layout == "HWC" and batched:
        raise ValueError(f"{model} takes one image at a time (layout HWC); it cannot be wrapped with batched=True")
    if takes_pixels(desc, batched):
        raise ModelDescriptionError(f"{model} already takes RGB uint8 pixels in layout {desc.layout}; nothing to wrap")
    version = opset(proto)
    if version < MIN_OPSET:
        raise ValueError(
            f"{model} uses opset {version}; wrapping needs opset >= {MIN_OPSET}: convert it first with "
            f"onnx.version_converter.convert_version(model, {MIN_OPSET})"
        )
    graph = proto.graph
    original = next((i for i in graph.input if i.name == desc.input), None)
    if original is None:
        raise ModelDescriptionError(
            f"{desc.source}: field 'input' is {desc.input!r}, but {model} has input(s) "
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
    fields = desc.to_dict()
    fields.update(layout="NHWC" if batched else "HWC", dtype="uint8", channels="RGB", scale=1.0, mean=0.0, std=1.0)
    return ModelDescription.from_dict(fields, source=f"{desc.source} (with preprocessing in the graph)")


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
        # The identity normalisation (raw-pixel models like MCNN) adds no nodes.
        if np.any(gain != 1.0) or np.any(bias != 0.0):
            x = _normalise(op, const, x, gain, bias, channels_first)
    elif desc.channels == "gray":
        x = op("Cast", [x], to=TensorProto.UINT8)
    nodes.append(helper.make_node("Identity", [x], [result], name=f"{_PREFIX}output"))
    return nodes, inits


def _normalise(op: Any, const: Any, x: str, gain: np.ndarray, bias: np.ndarray, channels_first: bool) -> str:
    """``x * gain - bias`` per channel.

    Channels-first, as a BatchNormalization with mean 0, variance 1 and epsilon 0 (exactly ``x * gain +
    (-bias)``): Mul and Sub with a ``(C, 1, 1)`` constant are as fast on their own, but onnxruntime's layout
    optimiser moves them behind the NHWC int8 convolutions of a quantised model, where broadcasting over a
    last axis of 3 runs ~10x slower; a BatchNormalization is moved with its own per-channel kernel.
    """
    if not channels_first:
        x = op("Mul", [x, const(gain.astype(np.float32))])
        return op("Sub", [x, const(bias.astype(np.float32))])
    n = len(gain)
    return op(
        "BatchNormalization",
        [x, const(gain.astype(np.float32)), const((-bias).astype(np.float32)),
         const(np.zeros(n, np.float32)), const(np.ones(n, np.float32))],
        epsilon=0.0,
    )
