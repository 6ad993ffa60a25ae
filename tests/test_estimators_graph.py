"""The preprocessing put in front of a model (``workbench.estimators._graph``): where the model starts with a
convolution, that convolution reads the pixels as they lie, and the wrapped model still equals the original."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers.onnx_models import OPSET, random_images
from workbench.estimators import ModelDescription
from workbench.estimators._graph import add_preprocessing

DESCRIPTION = {
    "layout": "NCHW", "dtype": "float32", "channels": "RGB",
    "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
}


def first_conv_model(
    path: Path, *, kernel=(3, 3), bias=True, also_read_by_a_pool=False, description=DESCRIPTION, **conv_attrs
) -> Path:
    """Conv(image) -> Relu -> 1x1 Conv to one channel, with real weights; ``conv_attrs`` go to the first Conv."""
    rng = np.random.default_rng(3)
    group = conv_attrs.get("group", 1)
    w1 = rng.normal(0, 0.3, (6, 3 // group, *kernel)).astype(np.float32)
    w2 = np.abs(rng.normal(0, 0.2, (1, 6, 1, 1))).astype(np.float32)
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    first_inputs = ["image", "w1"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.1, 6).astype(np.float32), "b1"))
        first_inputs.append("b1")
    nodes = [
        helper.make_node("Conv", first_inputs, ["c1"], **conv_attrs),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"]),
    ]
    if also_read_by_a_pool:
        # The image read a second time: the mean of its channels, added to the map.
        nodes += [
            helper.make_node("ReduceMean", ["image"], ["avg"], axes=[1], keepdims=1),
            helper.make_node("GlobalAveragePool", ["avg"], ["level"]),
            helper.make_node("Add", ["c2", "level"], ["density"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["c2"], ["density"]))
    graph = helper.make_graph(
        nodes, "first_conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("density", TensorProto.FLOAT, ["batch", 1, "map_h", "map_w"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    path.with_suffix(".json").write_text(json.dumps({"name": path.stem, **description}))
    return path


def wrapped(model: Path, batched: bool = True) -> tuple[onnx.ModelProto, ModelDescription]:
    proto = onnx.load(str(model))
    desc = add_preprocessing(proto, ModelDescription.for_model(model), batched=batched, model=str(model))
    onnx.checker.check_model(proto)
    return proto, desc


def run(model: onnx.ModelProto | Path, feed: np.ndarray) -> np.ndarray:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: feed})[0]


def original(model: Path, images: np.ndarray) -> np.ndarray:
    return run(model, ModelDescription.for_model(model).preprocess(images))


def ops(proto: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in proto.graph.node]


def test_an_rgb_model_that_starts_with_a_convolution_reads_the_pixels_without_a_transpose(tmp_path):
    proto, desc = wrapped(first_conv_model(tmp_path / "m.onnx", strides=[2, 2], pads=[1, 1, 1, 1]))
    assert (desc.layout, desc.dtype, desc.channels) == ("NHWC", "uint8", "RGB")
    assert "Transpose" not in ops(proto) and "BatchNormalization" not in ops(proto)
    conv = next(node for node in proto.graph.node if node.op_type == "Conv")
    attrs = {attr.name: helper.get_attribute_value(attr) for attr in conv.attribute}
    assert (attrs["kernel_shape"], attrs["strides"], attrs["pads"]) == ([3, 9], [2, 6], [1, 3, 1, 3])
    weights = next(init for init in proto.graph.initializer if init.name == conv.input[1])
    assert list(weights.dims) == [6, 1, 3, 9]
    assert "w1" not in {init.name for init in proto.graph.initializer}  # the original weights are gone


@pytest.mark.parametrize(
    "conv",
    [
        {"strides": [2, 2], "pads": [1, 1, 1, 1]},
        {"strides": [1, 1], "pads": [1, 1, 1, 1]},
        {"strides": [2, 3], "pads": [0, 2, 1, 0], "kernel": (3, 5)},
        {"dilations": [2, 1], "pads": [2, 1, 2, 1]},
        {"auto_pad": "VALID", "strides": [2, 2]},
        {"bias": False},
    ],
    ids=["stride2", "stride1", "uneven", "dilated-rows", "valid", "no-bias"],
)
@pytest.mark.parametrize("size", [(32, 48), (45, 70)], ids=["even", "odd"])
def test_the_interleaved_convolution_equals_the_original_model(tmp_path, conv, size):
    model = first_conv_model(tmp_path / "m.onnx", **conv)
    proto, _ = wrapped(model)
    assert "Transpose" not in ops(proto)
    images = random_images(3, *size, seed=11)
    np.testing.assert_allclose(run(proto, images), original(model, images), rtol=1e-5, atol=1e-5)


def test_a_one_image_wrap_of_a_convolution_first_model_equals_the_original(tmp_path):
    model = first_conv_model(tmp_path / "m.onnx", strides=[2, 2], pads=[1, 1, 1, 1])
    proto, desc = wrapped(model, batched=False)
    assert desc.layout == "HWC" and "Transpose" not in ops(proto)
    image = random_images(1, 37, 52, seed=12)
    np.testing.assert_allclose(run(proto, image[0]), original(model, image), rtol=1e-5, atol=1e-5)


def test_without_a_mean_nothing_is_subtracted(tmp_path):
    raw_pixels = {**DESCRIPTION, "scale": 1.0, "mean": [0.0], "std": [1.0]}
    model = first_conv_model(tmp_path / "m.onnx", description=raw_pixels, pads=[1, 1, 1, 1])
    proto, _ = wrapped(model)
    assert "Sub" not in ops(proto) and "Transpose" not in ops(proto)
    images = random_images(2, 24, 40, seed=13)
    np.testing.assert_allclose(run(proto, images), original(model, images), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "conv",
    [
        {"dilations": [1, 2], "pads": [1, 2, 1, 2]},
        {"group": 3, "pads": [1, 1, 1, 1]},
        {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
        {"also_read_by_a_pool": True, "pads": [1, 1, 1, 1]},
    ],
    ids=["dilated-columns", "grouped", "same-padding", "input-read-twice"],
)
def test_models_the_interleaving_does_not_fit_keep_the_transposed_preprocessing(tmp_path, conv):
    model = first_conv_model(tmp_path / "m.onnx", **conv)
    proto, _ = wrapped(model)
    assert "Transpose" in ops(proto)
    images = random_images(2, 45, 70, seed=14)
    np.testing.assert_allclose(run(proto, images), original(model, images), rtol=1e-5, atol=1e-5)


def test_the_bundled_model_reads_its_pixels_in_place_and_gives_the_original_maps():
    from workbench.estimators.default import DEFAULT_MODEL, bundled_models_dir

    model = bundled_models_dir() / DEFAULT_MODEL
    proto, _ = wrapped(model)
    assert "Transpose" not in ops(proto)
    images = random_images(2, 96, 136, seed=15)
    expected = original(model, images)
    np.testing.assert_allclose(run(proto, images), expected, rtol=1e-5, atol=1e-6)
