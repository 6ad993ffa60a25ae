"""ONNX graph surgery: put a model's preprocessing in front of it, so that it takes RGB uint8 pixels.

Used by ``tools.wrap_preprocessing`` (which saves the result) and by ``OnnxDensityEstimator`` with
``graph_preprocessing=True`` (which runs it in memory).
"""
from __future__ import annotations

import itertools
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
    the model's layout. An RGB float model whose input goes only into a convolution gets no transpose: its
    first convolution reads the pixels as they lie (see ``_interleaved_first_conv``). Returns the description
    of the rewritten model (name unchanged).

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
    nodes, initializers = _interleaved_first_conv(graph, desc, batched, desc.input, inner) or _preprocessing_nodes(
        desc, batched, desc.input, inner
    )
    graph.input.remove(original)
    dims: list[str | int] = ["batch", "height", "width", 3] if batched else ["height", "width", 3]
    graph.input.insert(0, helper.make_tensor_value_info(desc.input, TensorProto.UINT8, dims))
    graph.initializer.extend(initializers)
    # Prepending keeps the node list topologically sorted, as ONNX requires.
    body = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *body])
    fields = desc.to_dict()
    fields.update(layout="NHWC" if batched else "HWC", dtype="uint8", channels="RGB", scale=1.0, mean=0.0, std=1.0)
    return ModelDescription.from_dict(fields, source=f"{desc.source} (with preprocessing in the graph)")


Prepended = tuple[list[onnx.NodeProto], list[onnx.TensorProto]]


class _Nodes:
    """The nodes and constants put in front of a model, named with the wrapper's prefix and a running number."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._numbers = itertools.count()

    def const(self, value: np.ndarray) -> str:
        name = f"{_PREFIX}c{next(self._numbers)}"
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: Any) -> str:
        name = f"{_PREFIX}{kind.lower()}{next(self._numbers)}"
        self.nodes.append(helper.make_node(kind, inputs, [name], name=name, **attrs))
        return name

    def ending_in(self, x: str, result: str) -> Prepended:
        """The nodes and constants, ``x`` handed on to the model as ``result``."""
        self.nodes.append(helper.make_node("Identity", [x], [result], name=f"{_PREFIX}output"))
        return self.nodes, self.inits


def _preprocessing_nodes(desc: ModelDescription, batched: bool, image: str, result: str) -> Prepended:
    """Nodes from the uint8 ``[N,]H,W,3`` input ``image`` to the model's input ``result``."""
    built = _Nodes()
    op, const = built.op, built.const
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
        gain, bias = desc.gain_and_bias
        # The identity normalisation (raw-pixel models like MCNN) adds no nodes.
        if np.any(gain != 1.0) or np.any(bias != 0.0):
            x = _normalise(built, x, gain, bias, channels_first)
    elif desc.channels == "gray":
        x = op("Cast", [x], to=TensorProto.UINT8)
    return built.ending_in(x, result)


def _interleaved_first_conv(
    graph: onnx.GraphProto, desc: ModelDescription, batched: bool, image: str, result: str
) -> Prepended | None:
    """Nodes from the uint8 ``[N,]H,W,3`` input ``image`` to ``result`` as one channel of interleaved RGB
    columns, ``[N, 1, H, 3W]``, with the single convolution that reads ``result`` rewritten to read that; or
    ``None`` (nothing changed) where the model is not an RGB float model whose input goes only into a Conv
    with constant 4-D weights, one group, no dilation across the width and explicit padding.

    Why: the usual way transposes the pixels to NCHW, casts them and normalises them, three passes over the
    image before the first convolution reads it once more; on the CPU those passes cost as much as a tenth of
    a small model's run. Reshaping ``[N, H, W, 3]`` to ``[N, 1, H, 3W]`` moves no byte, and a convolution with
    kernel ``(kh, 3 kw)`` and stride ``(sh, 3 sw)`` whose weight at ``(ky, 3 kx + c)`` is the original weight of
    channel ``c`` at ``(ky, kx)`` computes exactly the original sums. The normalisation's gain is folded into
    those weights; the mean is subtracted in the graph (a row of ``3W`` values), because the convolution's
    zero padding must stand for the mean colour, as it does in the original model.
    """
    if (desc.channels, desc.dtype, desc.layout) != ("RGB", "float32", "NCHW"):
        return None
    if any(output.name == result for output in graph.output):
        return None
    readers = [node for node in graph.node if result in node.input]
    if len(readers) != 1 or readers[0].op_type != "Conv" or readers[0].domain not in ("", "ai.onnx"):
        return None
    conv = readers[0]
    if list(conv.input).count(result) != 1 or conv.input[0] != result or len(conv.input) < 2:
        return None
    attrs = {attr.name: helper.get_attribute_value(attr) for attr in conv.attribute}
    weights_init = next((init for init in graph.initializer if init.name == conv.input[1]), None)
    if weights_init is None or len(weights_init.dims) != 4 or weights_init.dims[1] != 3:
        return None
    if any(graph_input.name == weights_init.name for graph_input in graph.input):
        return None  # an initializer that is also an input may be fed at run time: its values are not fixed
    kernel_h, kernel_w = weights_init.dims[2], weights_init.dims[3]
    dilation_h, dilation_w = attrs.get("dilations", [1, 1])
    auto_pad = attrs.get("auto_pad", b"NOTSET").decode()
    # SAME padding splits an odd total differently once the width is tripled; NOTSET and VALID do not.
    if attrs.get("group", 1) != 1 or dilation_w != 1 or auto_pad not in ("NOTSET", "VALID"):
        return None
    pad_top, pad_left, pad_bottom, pad_right = attrs.get("pads", [0] * 4) if auto_pad == "NOTSET" else [0] * 4
    stride_h, stride_w = attrs.get("strides", [1, 1])

    gain, bias = desc.gain_and_bias
    weights = numpy_helper.to_array(weights_init).astype(np.float64) * gain.reshape(1, 3, 1, 1)
    # [O, 3, kh, kw] -> [O, kh, kw, 3] -> [O, 1, kh, 3 kw]: channel c of column kx lands at 3 kx + c.
    weights = weights.transpose(0, 2, 3, 1).reshape(weights.shape[0], 1, kernel_h, 3 * kernel_w)
    built = _Nodes()
    op, const = built.op, built.const
    conv.input[1] = const(weights.astype(np.float32))
    del conv.attribute[:]
    conv.attribute.extend([
        helper.make_attribute("kernel_shape", [kernel_h, 3 * kernel_w]),
        helper.make_attribute("strides", [stride_h, 3 * stride_w]),
        helper.make_attribute("pads", [pad_top, 3 * pad_left, pad_bottom, 3 * pad_right]),
        helper.make_attribute("dilations", [dilation_h, 1]),
        helper.make_attribute("group", 1),
    ])
    if not any(weights_init.name in node.input for node in graph.node):
        graph.initializer.remove(weights_init)

    x = image if batched else op("Unsqueeze", [image, const(np.array([0], np.int64))])
    shape = op("Shape", [x])
    n, height, width = (
        op("Slice", [shape, const(np.array([axis], np.int64)), const(np.array([axis + 1], np.int64))])
        for axis in range(3)
    )
    one_channel = op("Concat", [n, const(np.array([1], np.int64)), height, const(np.array([-1], np.int64))], axis=0)
    x = op("Cast", [op("Reshape", [x, one_channel])], to=TensorProto.FLOAT)
    if np.any(bias != 0.0):
        # pixels * gain - bias = (pixels - bias / gain) * gain: the mean colour, in pixel values, per column.
        x = op("Sub", [x, op("Tile", [const((bias / gain).astype(np.float32)), width])])
    return built.ending_in(x, result)


def _normalise(built: _Nodes, x: str, gain: np.ndarray, bias: np.ndarray, channels_first: bool) -> str:
    """``x * gain - bias`` per channel.

    Channels-first, as a BatchNormalization with mean 0, variance 1 and epsilon 0 (exactly ``x * gain +
    (-bias)``): Mul and Sub with a ``(C, 1, 1)`` constant are as fast on their own, but onnxruntime's layout
    optimiser moves them behind the NHWC int8 convolutions of a quantised model, where broadcasting over a
    last axis of 3 runs ~10x slower; a BatchNormalization is moved with its own per-channel kernel.
    """
    op, const = built.op, built.const
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
