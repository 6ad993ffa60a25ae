"""wrap_preprocessing, quantize_int8 and the ``workbench model`` commands, on tiny models."""
from __future__ import annotations

import argparse
import json

import numpy as np
import onnx
import pytest
from PIL import Image

from helpers.onnx_models import make_conv_model, make_pool_model, random_images, session
from workbench.estimators import ModelDescription, ModelDescriptionError, OnnxDensityEstimator
from workbench.estimators._cli import register
from workbench.estimators.tools import quantize_int8, wrap_preprocessing
from workbench.sdk import VLImage


def run_float(model, images: np.ndarray) -> np.ndarray:
    desc = ModelDescription.for_model(model)
    return session(model).run(None, {desc.input: desc.preprocess(images)})[0]


@pytest.mark.parametrize("channels", ["RGB", "gray"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_wrapped_model_equals_the_original_on_random_images(tmp_path, layout, channels):
    extra = {"mean": [0.4], "std": [0.25], "scale": 1 / 255}
    model = make_pool_model(tmp_path / "m.onnx", layout=layout, channels=channels, description=extra)
    out = tmp_path / "m_uint8.onnx"
    wrapped = wrap_preprocessing(model, None, out)
    assert (wrapped.layout, wrapped.dtype, wrapped.channels, wrapped.name) == ("HWC", "uint8", "RGB", "m_uint8")
    assert ModelDescription.for_model(out) == wrapped
    embedded = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(embedded["description"])["layout"] == "HWC"
    images = random_images(1, 24, 40, seed=1)
    actual = session(out).run(None, {"image": images[0]})[0]
    np.testing.assert_allclose(actual, run_float(model, images), rtol=1e-5, atol=1e-4)


def test_wrapped_conv_model_batched_equals_the_original(tmp_path):
    model = make_conv_model(tmp_path / "conv.onnx")
    out = tmp_path / "conv_nhwc.onnx"
    wrapped = wrap_preprocessing(model, ModelDescription.for_model(model), out, batched=True)
    assert wrapped.layout == "NHWC"
    images = random_images(3, 32, 48, seed=2)
    np.testing.assert_allclose(session(out).run(None, {"image": images})[0], run_float(model, images), rtol=1e-5, atol=1e-5)


def test_wrapped_gray_luma_is_exactly_pillows(tmp_path):
    model = make_pool_model(tmp_path / "g.onnx", channels="gray", stride=1)
    out = wrap_preprocessing(model, None, tmp_path / "g_uint8.onnx")
    pixels = random_images(1, 16, 16, seed=5)[0]
    density = session(tmp_path / "g_uint8.onnx").run(None, {"image": pixels})[0]
    np.testing.assert_array_equal(density[0, 0], np.asarray(Image.fromarray(pixels).convert("L")).astype(np.float32))
    assert out.stride is None


def test_wrap_errors(tmp_path):
    raw = make_pool_model(tmp_path / "raw.onnx", layout="HWC", dtype="uint8")
    with pytest.raises(ModelDescriptionError, match="already takes RGB uint8 pixels"):
        wrap_preprocessing(raw, None, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="batched=True"):
        wrap_preprocessing(raw, None, tmp_path / "x.onnx", batched=True)
    model = make_pool_model(tmp_path / "m.onnx")
    with pytest.raises(ModelDescriptionError, match="field 'input' is 'pixels'"):
        wrap_preprocessing(model, ModelDescription(name="m", layout="NCHW", dtype="float32", channels="RGB", input="pixels"), tmp_path / "x.onnx")
    with pytest.raises(FileNotFoundError):
        wrap_preprocessing(tmp_path / "absent.onnx", None, tmp_path / "x.onnx")


def test_quantize_runs_and_roughly_matches(tmp_path):
    model = make_conv_model(tmp_path / "conv.onnx", stride=4)
    images = [VLImage(im) for im in random_images(6, 64, 64, seed=7)]
    out = tmp_path / "conv_int8.onnx"
    desc = quantize_int8(model, out, images[:4])
    assert desc.name == "conv_int8" and desc.dtype == "float32" and out.with_suffix(".json").is_file()
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    test = np.stack([im.asNPArray() for im in images[4:]])
    expected, actual = run_float(model, test), run_float(out, test)
    assert abs(actual.sum() - expected.sum()) / expected.sum() < 0.05
    # The int8 model wraps and runs in the estimator like any other.
    wrap_preprocessing(out, None, tmp_path / "conv_int8_uint8.onnx", batched=True)
    est = OnnxDensityEstimator(tmp_path / "conv_int8_uint8.onnx")
    try:
        counts = [r.count for r in est.estimate(images[4:])]
        assert counts == [round(float(m.sum())) for m in actual]
    finally:
        est.close()


def test_quantize_errors(tmp_path):
    model = make_conv_model(tmp_path / "conv.onnx")
    with pytest.raises(ValueError, match="no calibration images"):
        quantize_int8(model, tmp_path / "q.onnx", [])
    raw = make_pool_model(tmp_path / "raw.onnx", layout="HWC", dtype="uint8")
    with pytest.raises(ModelDescriptionError, match="only float32 models can be quantised"):
        quantize_int8(raw, tmp_path / "q.onnx", [np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(ValueError, match="calibration image 0"):
        quantize_int8(model, tmp_path / "q.onnx", [tmp_path / "absent.jpg"])


# -- CLI --------------------------------------------------------------------------------------------------


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="workbench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_describe_wrap_quantize(tmp_path, capsys):
    model = make_conv_model(tmp_path / "conv.onnx")
    assert cli("model", "describe", str(model)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stride"] == 4 and report["description"]["name"] == "conv" and report["inputs"][0]["name"] == "image"

    assert cli("model", "wrap", str(model), "--out", str(tmp_path / "w.onnx"), "--batched") == 0
    assert ModelDescription.for_model(tmp_path / "w.onnx").layout == "NHWC"

    calibration = tmp_path / "calib"
    calibration.mkdir()
    for i, pixels in enumerate(random_images(3, 32, 32)):
        Image.fromarray(pixels).save(calibration / f"train_{i}.png")
    (calibration / "notes.txt").write_text("not an image")
    capsys.readouterr()
    assert cli("model", "quantize", str(model), "--calibration", str(calibration), "--glob", "train_*", "--limit", "2",
               "--out", str(tmp_path / "q.onnx")) == 0
    assert "calibrated on 2 images" in capsys.readouterr().out


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    assert cli("model", "describe", str(tmp_path / "absent.onnx")) == 1
    assert "workbench model describe: error:" in capsys.readouterr().err
    model = make_conv_model(tmp_path / "conv.onnx")
    assert cli("model", "quantize", str(model), "--calibration", str(tmp_path / "none"), "--out", str(tmp_path / "q.onnx")) == 1
    assert "calibration folder" in capsys.readouterr().err
    assert cli("model", "quantize", str(model), "--calibration", str(tmp_path), "--out", str(tmp_path / "q.onnx")) == 1
    assert "no images matching" in capsys.readouterr().err
    raw = make_pool_model(tmp_path / "raw.onnx", layout="HWC", dtype="uint8")
    assert cli("model", "wrap", str(raw), "--out", str(tmp_path / "w.onnx")) == 1
    assert "nothing to wrap" in capsys.readouterr().err
