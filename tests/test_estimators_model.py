"""Model descriptions, preprocessing and geometry measurement, on tiny ONNX models (``helpers.onnx_models``)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from helpers.onnx_models import OPSET, make_pool_model, random_images, session
from workbench.estimators.model import ModelDescription, ModelDescriptionError, luma, measure_geometry, stack_padded

# -- descriptions -----------------------------------------------------------------------------------------


def test_load_for_model_and_round_trip(tmp_path):
    model = make_pool_model(tmp_path / "m.onnx", description={"mean": [0.1, 0.2, 0.3], "std": 0.5, "stride": 4})
    desc = ModelDescription.for_model(model)
    assert (desc.name, desc.layout, desc.dtype, desc.channels) == ("m", "NCHW", "float32", "RGB")
    assert desc.mean == (0.1, 0.2, 0.3) and desc.std == (0.5,) and desc.stride == 4
    again = tmp_path / "again.json"
    desc.to_json(again)
    assert ModelDescription.load(again) == desc
    assert json.loads(desc.to_json())["std"] == 0.5


def test_for_model_reads_embedded_metadata_when_json_is_absent(tmp_path):
    model = make_pool_model(tmp_path / "m.onnx", description={})
    proto = onnx.load(str(model))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "description", json.dumps({"name": "emb", "layout": "NCHW", "dtype": "float32", "channels": "RGB"})
    onnx.save(proto, str(model))
    desc = ModelDescription.for_model(model)
    assert desc.name == "emb" and "metadata" in desc.source


def test_for_model_without_any_description_says_what_to_write(tmp_path):
    model = make_pool_model(tmp_path / "m.onnx", description={})
    with pytest.raises(FileNotFoundError, match=r"m\.json"):
        ModelDescription.for_model(model)


@pytest.mark.parametrize(
    "change, field, fragment",
    [
        ({"layout": "CHW"}, "layout", "must be one of 'NCHW', 'NHWC', 'HWC'"),
        ({"dtype": "float16"}, "dtype", "must be one of"),
        ({"channels": "L"}, "channels", "Pillow's 'L' luma is 'gray'"),
        ({"mean": [0.1, 0.2]}, "mean", "one number or 3"),
        ({"std": [1, 0, 1]}, "std", "must be positive"),
        ({"scale": "big"}, "scale", "must be a number"),
        ({"stride": 0}, "stride", "whole number >= 1"),
        ({"input": ""}, "input", "non-empty string"),
    ],
)
def test_bad_fields_name_the_file_and_field(tmp_path, change, field, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "x", "layout": "NCHW", "dtype": "float32", "channels": "RGB", **change}))
    with pytest.raises(ModelDescriptionError) as error:
        ModelDescription.load(path)
    assert str(path) in str(error.value) and f"field {field!r}" in str(error.value) and fragment in str(error.value)


def test_unknown_missing_fields_bad_json_and_uint8_normalisation(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"name": "x", "layout": "NCHW", "dtype": "float32", "channels": "RGB", "meam": 1}))
    with pytest.raises(ModelDescriptionError, match="unknown field.*'meam'"):
        ModelDescription.load(path)
    path.write_text(json.dumps({"name": "x", "layout": "NCHW"}))
    with pytest.raises(ModelDescriptionError, match="missing field.*'dtype'.*'channels'"):
        ModelDescription.load(path)
    path.write_text("{not json")
    with pytest.raises(ModelDescriptionError, match="not valid JSON"):
        ModelDescription.load(path)
    with pytest.raises(ModelDescriptionError, match="uint8.*inside its graph"):
        ModelDescription(name="x", layout="HWC", dtype="uint8", channels="RGB", scale=1 / 255)
    with pytest.raises(FileNotFoundError):
        ModelDescription.load(tmp_path / "absent.json")


# -- preprocessing ----------------------------------------------------------------------------------------


def test_preprocess_nchw_float_rgb_matches_the_formula():
    desc = ModelDescription(name="x", layout="NCHW", dtype="float32", channels="RGB", scale=1 / 255,
                            mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    images = random_images(2, 5, 7)
    out = desc.preprocess(images)
    expected = ((images / 255.0 - np.array(desc.mean)) / np.array(desc.std)).transpose(0, 3, 1, 2)
    assert out.shape == (2, 3, 5, 7) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_preprocess_gray_is_pillow_luma_and_layouts():
    images = random_images(1, 16, 12, seed=3)
    pil = np.asarray(Image.fromarray(images[0]).convert("L")).astype(np.float32)
    np.testing.assert_array_equal(luma(images)[0], pil)
    nhwc = ModelDescription(name="x", layout="NHWC", dtype="float32", channels="gray").preprocess(images)
    assert nhwc.shape == (1, 16, 12, 1)
    np.testing.assert_array_equal(nhwc[0, ..., 0], pil)
    hwc = ModelDescription(name="x", layout="HWC", dtype="uint8", channels="gray").preprocess(images)
    assert hwc.shape == (16, 12, 1) and hwc.dtype == np.uint8
    np.testing.assert_array_equal(hwc[..., 0], pil.astype(np.uint8))
    raw = ModelDescription(name="x", layout="HWC", dtype="uint8", channels="RGB").preprocess(images)
    np.testing.assert_array_equal(raw, images[0])


def test_preprocess_rejects_bad_batches():
    hwc = ModelDescription(name="x", layout="HWC", dtype="uint8", channels="RGB")
    with pytest.raises(ValueError, match="one image per run"):
        hwc.preprocess(random_images(2, 4, 4))
    with pytest.raises(ValueError, match=r"uint8 RGB images stacked as \(N, H, W, 3\)"):
        hwc.preprocess(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="float64"):
        hwc.preprocess(np.zeros((1, 4, 4, 3)))


def test_pad_pixel_normalises_to_about_zero_and_stack_padded():
    imagenet = ModelDescription(name="x", layout="NCHW", dtype="float32", channels="RGB", scale=1 / 255,
                                mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    np.testing.assert_array_equal(imagenet.pad_pixel, [124, 116, 104])
    assert np.abs(imagenet.preprocess(np.broadcast_to(imagenet.pad_pixel, (1, 1, 1, 3)).copy())).max() < 0.01
    gray = ModelDescription(name="x", layout="NCHW", dtype="float32", channels="gray", mean=100.0)
    np.testing.assert_array_equal(gray.pad_pixel, [100, 100, 100])
    raw = ModelDescription(name="x", layout="HWC", dtype="uint8", channels="RGB")
    np.testing.assert_array_equal(raw.pad_pixel, [0, 0, 0])
    images = random_images(2, 3, 5)
    batch = stack_padded(list(images), 4, 8, np.array([1, 2, 3], np.uint8))
    assert batch.shape == (2, 4, 8, 3)
    np.testing.assert_array_equal(batch[:, :3, :5], images)
    assert (batch[:, 3] == [1, 2, 3]).all() and (batch[:, :, 5:] == [1, 2, 3]).all()


def test_stack_padded_hands_back_a_single_image_that_fills_the_size_as_a_read_only_view():
    [image] = random_images(1, 4, 8)
    batch = stack_padded([image], 4, 8, np.zeros(3, np.uint8))
    assert batch.shape == (1, 4, 8, 3) and np.shares_memory(batch, image) and not batch.flags.writeable
    np.testing.assert_array_equal(batch[0], image)
    # A margin to fill, a second image or strided pixels (a crop) still need the stacked copy.
    for images, size in (([image], (8, 8)), ([image, image], (4, 8)), ([image[:, ::2]], (4, 4))):
        copied = stack_padded(images, *size, np.zeros(3, np.uint8))
        assert not np.shares_memory(copied, image) and copied.flags.writeable


# -- geometry ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [4, 8])
@pytest.mark.parametrize("layout, dtype", [("NCHW", "float32"), ("HWC", "uint8"), ("NHWC", "uint8")])
def test_stride_by_probing(tmp_path, stride, layout, dtype):
    model = make_pool_model(tmp_path / "m.onnx", layout=layout, dtype=dtype, stride=stride)
    geometry = measure_geometry(session(model), ModelDescription.for_model(model), str(model))
    assert geometry.stride == stride and geometry.measured_by == "probing"
    assert geometry.fixed_size is None and geometry.fixed_batch is None
    assert geometry.padded_size(37, 50) == (-(-37 // stride) * stride, -(-50 // stride) * stride)


def test_stride_from_static_shapes_and_fixed_size(tmp_path):
    model = make_pool_model(tmp_path / "m.onnx", static_hw=(64, 80), static_batch=1, stride=8)
    geometry = measure_geometry(session(model), ModelDescription.for_model(model), str(model))
    assert (geometry.stride, geometry.measured_by, geometry.fixed_size, geometry.fixed_batch) == (8, "static shapes", (64, 80), 1)
    assert geometry.padded_size(30, 70) == (64, 80)
    with pytest.raises(ValueError, match="larger than the model's fixed input size 80x64"):
        geometry.padded_size(65, 80)


def test_declared_stride_is_checked(tmp_path):
    model = make_pool_model(tmp_path / "m.onnx", stride=4, description={"stride": 8})
    with pytest.raises(ModelDescriptionError, match="'stride' says 8.*has stride 4"):
        measure_geometry(session(model), ModelDescription.for_model(model), str(model))


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"input": "pixels"}, "field 'input' is 'pixels'.*has input\\(s\\) 'image'"),
        ({"output": "map"}, "field 'output' is 'map'.*has output\\(s\\) 'density'"),
        ({"layout": "HWC"}, "field 'layout' is 'HWC' \\(rank 3\\).*rank 4"),
        ({"dtype": "uint8", "scale": 1.0}, "field 'dtype' is 'uint8'.*tensor\\(float\\)"),
        ({"channels": "gray", "scale": 1.0}, "field 'channels' is 'gray'.*has 3 channels"),
    ],
)
def test_description_that_does_not_match_the_model(tmp_path, change, fragment):
    model = make_pool_model(tmp_path / "m.onnx", static_hw=None)
    model_desc = ModelDescription.from_dict({**ModelDescription.for_model(model).to_dict(), **change})
    # The pool model's channel axis is dynamic; pin it so the channel check has something to compare.
    proto = onnx.load(str(model))
    proto.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 3
    onnx.save(proto, str(model))
    with pytest.raises(ModelDescriptionError, match=fragment):
        measure_geometry(session(model), model_desc, str(model))


def test_model_whose_map_is_not_input_over_stride_is_rejected(tmp_path):
    path = tmp_path / "valid.onnx"
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["image"], ["density"], kernel_shape=[5, 5], strides=[4, 4])],
        "valid",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        [helper.make_tensor_value_info("density", TensorProto.FLOAT, ["batch", 1, "h", "w"])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8
    onnx.save(proto, str(path))
    desc = ModelDescription(name="v", layout="NCHW", dtype="float32", channels="gray")
    with pytest.raises(ModelDescriptionError, match="not the input divided by one whole stride"):
        measure_geometry(session(path), desc, str(path))
