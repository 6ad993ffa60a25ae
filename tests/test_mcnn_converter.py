"""``convert_mcnn_h5`` / ``workbench model convert-mcnn``: MCNN's .h5 weights to ONNX, on weights written here.

The fixture writes an .h5 in the layout of the published files (crowdcount-mcnn's state dict saved with h5py)
holding random weights, converts it, and holds onnxruntime's output against a forward pass written in numpy
from the network's definition (``helpers.mcnn_weights``), not from the converter's tables.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers.mcnn_weights import random_weights, reference_density, write_h5
from workbench.cli import main
from workbench.estimators import ModelDescription, OnnxDensityEstimator
from workbench.estimators.default import bundled_models_dir
from workbench.estimators.model import luma
from workbench.estimators.tools import WeightsFormatError, convert_mcnn_h5
from workbench.images import load_image

@pytest.fixture
def weights_h5(tmp_path: Path) -> Path:
    return write_h5(tmp_path / "mcnn_test.h5", random_weights())


@pytest.mark.parametrize("size", [(48, 64), (45, 70)])
def test_converted_model_equals_the_reference_forward_pass(tmp_path, weights_h5, size):
    import onnxruntime as ort

    description = convert_mcnn_h5(weights_h5, tmp_path / "mcnn_x.onnx")
    session = ort.InferenceSession(str(tmp_path / "mcnn_x.onnx"), providers=["CPUExecutionProvider"])
    gray = np.random.default_rng(1).integers(0, 256, size).astype(np.float32)
    (density,) = session.run(None, {description.input: gray[None, None]})
    expected = reference_density(random_weights(), gray)
    assert density.shape == (1, 1, *expected.shape) == (1, 1, size[0] // 4, size[1] // 4)
    assert expected.sum() > 1.0, "the fixture's weights must leave a map to compare"
    np.testing.assert_allclose(density[0, 0], expected, rtol=1e-4, atol=1e-5)


def test_description_is_mcnn_json_named_after_the_model_and_written_beside_it(tmp_path, weights_h5):
    out = tmp_path / "mcnn_part_b.onnx"
    description = convert_mcnn_h5(weights_h5, out)
    bundled = ModelDescription.load(bundled_models_dir() / "mcnn.json").to_dict()
    assert description.to_dict() == {**bundled, "name": "mcnn_part_b"}
    assert (description.channels, description.scale, description.mean, description.std) == ("gray", 1.0, (0.0,), (1.0,))
    assert ModelDescription.for_model(out) == description
    out.with_suffix(".json").unlink()  # the description is also embedded in the model
    assert ModelDescription.for_model(out) == description


def test_estimator_runs_the_converted_model_on_an_image(tmp_path, weights_h5):
    convert_mcnn_h5(weights_h5, tmp_path / "mcnn_est.onnx")
    pixels = np.random.default_rng(2).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    estimator = OnnxDensityEstimator(tmp_path / "mcnn_est.onnx", intra_op_threads=1)
    try:
        [result] = estimator.estimate([load_image(pixels)])
    finally:
        estimator.close()
    assert estimator.geometry.stride == 4
    expected = reference_density(random_weights(), luma(pixels))
    np.testing.assert_allclose(result.densityMap, expected, rtol=1e-4, atol=1e-5)
    assert result.count == round(float(expected.sum()))


def _with(weights: dict[str, np.ndarray], **changes: np.ndarray | None) -> dict[str, np.ndarray]:
    out = dict(weights)
    for key, value in changes.items():
        name = key.replace("__", ".")
        if value is None:
            del out[name]
        else:
            out[name] = value
    return out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"DME__branch2__4__conv__weight": None}, r"layer DME\.branch2\.4\.conv\.weight is missing \(shape \(20, 40, 5, 5\)\)"),
        ({"DME__fuse__0__conv__weight": np.zeros((1, 29, 1, 1), np.float32)},
         r"layer DME\.fuse\.0\.conv\.weight has shape \(1, 29, 1, 1\); MCNN needs \(1, 30, 1, 1\)"),
        ({"DME__branch1__0__bn__weight": np.ones(16, np.float32)}, r"DME\.branch1\.0\.bn\.weight are not part of MCNN without batch norm"),
        ({"DME__branch3__5__conv__bias": np.full(12, np.nan, np.float32)}, r"layer DME\.branch3\.5\.conv\.bias holds NaN"),
        ({"DME__branch3__5__conv__bias": np.zeros(12, np.int32)}, r"DME\.branch3\.5\.conv\.bias must hold floating-point numbers, got int32"),
    ],
)
def test_bad_weights_name_the_file_and_the_layer(tmp_path, changes, message):
    h5 = write_h5(tmp_path / "bad.h5", _with(random_weights(), **changes))
    with pytest.raises(WeightsFormatError, match=message) as caught:
        convert_mcnn_h5(h5, tmp_path / "bad.onnx")
    assert str(h5) in str(caught.value)
    assert not (tmp_path / "bad.onnx").exists()


def test_a_keras_file_or_a_non_hdf5_file_is_refused_with_what_it_is(tmp_path):
    keras = tmp_path / "keras_weights.h5"
    with h5py.File(keras, "w") as handle:
        handle.attrs["layer_names"] = [b"conv2d_1"]
        handle.create_dataset("conv2d_1/conv2d_1/kernel:0", data=np.zeros((7, 7, 1, 20), np.float32))
    with pytest.raises(WeightsFormatError, match="a Keras weights file"):
        convert_mcnn_h5(keras, tmp_path / "k.onnx")
    text = tmp_path / "notes.h5"
    text.write_text("not weights")
    with pytest.raises(WeightsFormatError, match=r"notes\.h5: not an HDF5 file"):
        convert_mcnn_h5(text, tmp_path / "t.onnx")
    with pytest.raises(FileNotFoundError, match=r"MCNN weights .*missing\.h5 not found"):
        convert_mcnn_h5(tmp_path / "missing.h5", tmp_path / "m.onnx")


def test_cli_convert_mcnn(tmp_path, weights_h5, capsys):
    out = tmp_path / "cli" / "mcnn_cli.onnx"
    assert main(["model", "convert-mcnn", str(weights_h5), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert ModelDescription.for_model(out).name == "mcnn_cli"
    broken = write_h5(tmp_path / "broken.h5", _with(random_weights(), DME__fuse__0__conv__bias=None))
    assert main(["model", "convert-mcnn", str(broken), "--out", str(tmp_path / "b.onnx")]) == 1
    error = capsys.readouterr().err
    assert "workbench model convert-mcnn: error:" in error and "DME.fuse.0.conv.bias is missing" in error
