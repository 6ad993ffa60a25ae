"""Tiny ONNX models built in a test's folder (a pooling "density" model, a small conv net), the images they count,
and a spy on an estimator's onnxruntime sessions."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from workbench.estimators import OnnxDensityEstimator
from workbench import VLImage

OPSET = 17
# The normalisation of the tiny RGB models: a white pixel (255, 255, 255) -> 3 * 255 * SCALE = 1.0 in the
# channel sum, so with GAIN 1 each white pixel on black adds exactly 1 to the count.
SCALE = 1.0 / 765.0


def make_pool_model(
    path: Path,
    *,
    layout: str = "NCHW",
    dtype: str = "float32",
    channels: str = "RGB",
    stride: int = 4,
    static_hw: tuple[int, int] | None = None,
    static_batch: int | None = None,
    input_name: str = "image",
    output_name: str = "density",
    description: dict | None = None,
    at_most_one_per_pixel: bool = False,
) -> Path:
    """A density "model": the channel sum of each stride x stride block; map sum == input sum.

    ``at_most_one_per_pixel`` caps each pixel's channel sum at 1 first, so any image's count is at most its pixels
    (the host refuses more: a real estimator never counts more people than pixels), while dim spots still count one
    each. Writes ``path`` and, unless ``description`` is ``{}``, the description JSON beside it.
    """
    n_ch = 3 if channels == "RGB" else 1
    batch = static_batch or "batch"
    height, width = static_hw or ("height", "width")
    shape = {"NCHW": [batch, n_ch, height, width], "NHWC": [batch, height, width, n_ch], "HWC": [height, width, n_ch]}[layout]
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.UINT8
    nodes, inits = [], []
    x = input_name
    if dtype == "uint8":
        nodes.append(helper.make_node("Cast", [x], ["cast"], to=TensorProto.FLOAT))
        x = "cast"
    if layout == "HWC":
        inits.append(numpy_helper.from_array(np.array([0], np.int64), "axis0"))
        nodes.append(helper.make_node("Unsqueeze", [x, "axis0"], ["batched"]))
        x = "batched"
    if layout in ("NHWC", "HWC"):
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "axis1"))
    nodes.append(helper.make_node("ReduceSum", [x, "axis1"], ["summed"], keepdims=1))
    if at_most_one_per_pixel:
        inits.append(numpy_helper.from_array(np.array(1, np.float32), "one"))
        nodes.append(helper.make_node("Min", ["summed", "one"], ["capped"]))
    pooled_input = "capped" if at_most_one_per_pixel else "summed"
    nodes.append(helper.make_node("AveragePool", [pooled_input], ["pooled"], kernel_shape=[stride, stride], strides=[stride, stride]))
    inits.append(numpy_helper.from_array(np.array(stride * stride, np.float32), "area"))
    nodes.append(helper.make_node("Mul", ["pooled", "area"], [output_name]))
    out_shape = ["batch", 1, "map_h", "map_w"] if layout != "HWC" else [1, 1, "map_h", "map_w"]
    if static_hw:
        out_shape[2:] = [static_hw[0] // stride, static_hw[1] // stride]
    if static_batch:
        out_shape[0] = static_batch
    graph = helper.make_graph(
        nodes, "pool", [helper.make_tensor_value_info(input_name, elem, shape)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    if description != {}:
        fields = {
            "name": path.stem, "layout": layout, "dtype": dtype, "channels": channels,
            "scale": SCALE if dtype == "float32" and channels == "RGB" else 1.0,
            "input": input_name, "output": output_name,
        }
        fields.update(description or {})
        path.with_suffix(".json").write_text(json.dumps(fields))
    return path


def make_conv_model(path: Path, *, stride: int = 4, seed: int = 0) -> Path:
    """A tiny NCHW float RGB conv net (conv stride 2, ReLU, conv stride stride/2, ReLU) with real weights."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    w2 = np.abs(rng.normal(0, 0.05, (1, 8, 3, 3))).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c1"], ["r1"]),
            helper.make_node("Conv", ["r1", "w2"], ["c2"], strides=[stride // 2] * 2, pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c2"], ["density"]),
        ],
        "conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("density", TensorProto.FLOAT, ["batch", 1, "map_h", "map_w"])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(np.full(8, 0.1, np.float32), "b1"),
         numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.save(model, str(path))
    path.with_suffix(".json").write_text(json.dumps({
        "name": path.stem, "layout": "NCHW", "dtype": "float32", "channels": "RGB",
        "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
    }))
    return path


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def random_images(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def dots(height: int, width: int, xy: list[tuple[int, int]]) -> VLImage:
    """A black image with one white pixel at each (x, y)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    for x, y in xy:
        pixels[y, x] = 255
    return VLImage(pixels)


class CountingSession:
    """Wraps an onnxruntime session and records each run's input shape and thread (in ``runs``, which two
    spies may share), its input (``inputs``) and how many runs went through this session (``own_runs``)."""

    def __init__(self, session: ort.InferenceSession, runs: list | None = None) -> None:
        self._session = session
        self.runs: list[tuple[tuple[int, ...], str]] = [] if runs is None else runs
        self.inputs: list[np.ndarray] = []
        self.own_runs = 0

    def run(self, outputs, feed, run_options=None):
        (tensor,) = feed.values()
        self.runs.append((tensor.shape, threading.current_thread().name))
        self.inputs.append(tensor)
        self.own_runs += 1
        return self._session.run(outputs, feed, run_options)

    def __getattr__(self, name):
        return getattr(self._session, name)


def counting(est: OnnxDensityEstimator) -> CountingSession:
    """Records the runs of both of the estimator's sessions (one image's, and the lanes' when they differ)."""
    spy = CountingSession(est._session)
    lanes = spy if est._lane_session is est._session else CountingSession(est._lane_session, spy.runs)
    est._session, est._lane_session = spy, lanes
    return spy
