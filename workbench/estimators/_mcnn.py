"""MCNN's published weights (``.h5``) as an ONNX density model, built with ``onnx.helper``: no torch, no Keras.

The weights the MCNN reproductions publish (``final_models/mcnn_shtechA_660.h5`` and ``mcnn_shtechB_110.h5``, from
``svishwa/crowdcount-mcnn``, copied unchanged into ``gpspelle/Crowd-Counting``) are not a Keras model: they are a
PyTorch ``state_dict`` that ``src/network.py: save_net`` wrote with h5py, one dataset per tensor, named after the
module path (``DME.branch1.0.conv.weight``, ``[out, in, kh, kw]``). The network is ``src/models.py: MCNN``:
three columns of four convolutions (``same`` padding, ReLU; a 2x2 max-pool after the first and second), their
outputs concatenated in column order and fused by a 1x1 convolution, also followed by a ReLU (``Conv2d``'s
``relu=True`` default), so the map is never negative. Its input is one gray channel of raw 0..255 pixels
(``cv2.imread(path, 0)``, no normalisation): what ``models/mcnn.json`` describes, which is the description written
beside the converted model.

h5py is imported only here (the ``models`` extra): nothing else in the workbench reads HDF5.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .default import bundled_models_dir
from .model import ModelDescription

__all__ = ["MCNN_DESCRIPTION", "WeightsFormatError", "mcnn_from_h5"]

#: The bundled description of MCNN's input convention; a converted model's description is this, renamed.
MCNN_DESCRIPTION = "mcnn.json"
#: ONNX opset of the converted graph (Conv, Relu, MaxPool and Concat need nothing newer; 13+ lets
#: ``workbench model wrap`` and the in-graph preprocessing take it).
OPSET = 17
_PREFIX = "DME."
#: Per column, its convolutions: (position in the column's ``nn.Sequential``, input channels, output channels,
#: kernel size); a 2x2 max-pool sits at positions 1 and 3, after the first and the second convolution.
_COLUMNS: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "branch1": ((0, 1, 16, 9), (2, 16, 32, 7), (4, 32, 16, 7), (5, 16, 8, 7)),
    "branch2": ((0, 1, 20, 7), (2, 20, 40, 5), (4, 40, 20, 5), (5, 20, 10, 5)),
    "branch3": ((0, 1, 24, 5), (2, 24, 48, 3), (4, 48, 24, 3), (5, 24, 12, 3)),
}
_POOLED_AFTER = (0, 2)
_FUSE = "fuse.0"
_FUSE_IN = sum(layers[-1][2] for layers in _COLUMNS.values())


class WeightsFormatError(ValueError):
    """A weights file does not hold the layers a converter expects; the message names the file and the layer."""


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for column, layers in _COLUMNS.items():
        for position, c_in, c_out, kernel in layers:
            stem = f"{_PREFIX}{column}.{position}.conv"
            shapes[f"{stem}.weight"] = (c_out, c_in, kernel, kernel)
            shapes[f"{stem}.bias"] = (c_out,)
    shapes[f"{_PREFIX}{_FUSE}.conv.weight"] = (1, _FUSE_IN, 1, 1)
    shapes[f"{_PREFIX}{_FUSE}.conv.bias"] = (1,)
    return shapes


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every tensor MCNN needs, checked for name, shape and finiteness; errors name the file and the layer."""
    import h5py

    expected = _expected_shapes()
    layout = (
        f"crowdcount-mcnn's state dict: {len(expected)} arrays named {_PREFIX}branch{{1,2,3}}.{{0,2,4,5}}.conv."
        f"{{weight,bias}} and {_PREFIX}{_FUSE}.conv.{{weight,bias}}"
    )
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise WeightsFormatError(f"{path}: not an HDF5 file ({error}); expected {layout}") from None
    with handle:
        found: dict[str, Any] = {}

        def collect(name: str, item: Any) -> None:
            # Returning anything but None would stop h5py's walk.
            if isinstance(item, h5py.Dataset):
                found[name] = item[()]

        handle.visititems(collect)
        if "model_weights" in handle or "layer_names" in handle.attrs:
            raise WeightsFormatError(
                f"{path}: a Keras weights file (it has {'model_weights' if 'model_weights' in handle else 'layer_names'}),"
                f" not the MCNN weights this converter reads ({layout})"
            )
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        listed = ", ".join(unexpected[:4]) + (" …" if len(unexpected) > 4 else "")
        raise WeightsFormatError(
            f"{path}: layer(s) {listed} are not part of MCNN without batch norm; expected only {layout}"
        )
    weights = {}
    for name, shape in expected.items():
        if name not in found:
            raise WeightsFormatError(f"{path}: layer {name} is missing (shape {shape}); expected {layout}")
        array = np.asarray(found[name])
        if array.shape != shape:
            raise WeightsFormatError(f"{path}: layer {name} has shape {array.shape}; MCNN needs {shape}")
        if not np.issubdtype(array.dtype, np.floating):
            raise WeightsFormatError(f"{path}: layer {name} must hold floating-point numbers, got {array.dtype}")
        if not np.isfinite(array).all():
            raise WeightsFormatError(f"{path}: layer {name} holds NaN or infinite values; the weights are corrupt")
        weights[name] = array.astype(np.float32)
    return weights


def _conv(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], weights: dict[str, np.ndarray],
          stem: str, source: str, relu: bool = True) -> str:
    """A ``same``-padded stride-1 convolution of ``source`` (and its ReLU); returns the output's name."""
    weight, bias = weights[f"{stem}.weight"], weights[f"{stem}.bias"]
    pad = (weight.shape[-1] - 1) // 2
    inits += [numpy_helper.from_array(weight, f"{stem}.weight"), numpy_helper.from_array(bias, f"{stem}.bias")]
    out = f"{stem}.out"
    nodes.append(helper.make_node("Conv", [source, f"{stem}.weight", f"{stem}.bias"], [out], name=stem,
                                  kernel_shape=list(weight.shape[-2:]), pads=[pad] * 4, strides=[1, 1]))
    if not relu:
        return out
    nodes.append(helper.make_node("Relu", [out], [f"{stem}.relu"], name=f"{stem}.relu"))
    return f"{stem}.relu"


def mcnn_from_h5(h5_path: str | os.PathLike) -> tuple[onnx.ModelProto, ModelDescription]:
    """The ONNX graph of MCNN with the weights of ``h5_path``, and its description (the bundled ``mcnn.json``).

    Input ``image`` ``[N, 1, H, W]`` float32, output ``density`` ``[N, 1, H/4, W/4]`` float32 (H and W dynamic;
    the max-pools floor, so the estimators pad images to multiples of 4).

    Raises:
        FileNotFoundError: ``h5_path`` does not exist.
        WeightsFormatError: it is not HDF5, or a layer is missing, extra, misshapen or not finite (named).
    """
    path = Path(h5_path)
    if not path.is_file():
        raise FileNotFoundError(f"MCNN weights {path} not found (cwd is {os.getcwd()})")
    weights = _read_weights(path)
    description = ModelDescription.load(bundled_models_dir() / MCNN_DESCRIPTION)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    column_outputs = []
    for column, layers in _COLUMNS.items():
        source = description.input
        for position, *_ in layers:
            source = _conv(nodes, inits, weights, f"{_PREFIX}{column}.{position}.conv", source)
            if position in _POOLED_AFTER:
                pooled = f"{_PREFIX}{column}.{position + 1}.pool"
                nodes.append(helper.make_node("MaxPool", [source], [pooled], name=pooled, kernel_shape=[2, 2],
                                              strides=[2, 2]))
                source = pooled
        column_outputs.append(source)
    nodes.append(helper.make_node("Concat", column_outputs, ["columns"], name="columns", axis=1))
    fused = _conv(nodes, inits, weights, f"{_PREFIX}{_FUSE}.conv", "columns")
    nodes.append(helper.make_node("Identity", [fused], [description.output], name=description.output))
    graph = helper.make_graph(
        nodes,
        "mcnn",
        [helper.make_tensor_value_info(description.input, TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info(description.output, TensorProto.FLOAT, ["N", 1, "H4", "W4"])],
        initializer=inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="workbench model convert-mcnn")
    # IR 8 (onnx 1.12+) keeps the file readable by every onnxruntime the workbench supports (>= 1.17).
    proto.ir_version = 8
    proto.doc_string = f"MCNN (Zhang et al., CVPR 2016) converted from {path.name}"
    return proto, description
