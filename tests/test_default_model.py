"""The user's own default model: ``Workbench(default_model=)``, ``--default-model``, ``$WORKBENCH_DEFAULT_MODEL``,
guessed descriptions (``workbench model describe --write``), the errors for bad files, and the bundled model
found as package data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.onnx_models import make_pool_model
from workbench import VLImage, Workbench
from workbench.cli import main
from workbench.estimators import ModelDescriptionError
from workbench.estimators.default import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_ENV,
    MODELS_DIR_ENV,
    bundled_models_dir,
    load_default_model,
    models_dir,
)

BROKER = "peopleCountEstimator"


def ones(height: int, width: int, xy: list[tuple[int, int]]) -> VLImage:
    """A black image with a red value of 1 at each (x, y): one person per point for a raw-pixel pool model."""
    pixels = np.zeros((height, width, 3), np.uint8)
    for x, y in xy:
        pixels[y, x, 0] = 1
    return VLImage(pixels)


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    return folder


@pytest.fixture
def raw_pixel_model(tmp_path: Path) -> Path:
    """A uint8 NHWC model with no description at all: its tensors say everything, so it is guessed exactly."""
    return make_pool_model(tmp_path / "mine.onnx", layout="NHWC", dtype="uint8", stride=4, description={})


@pytest.fixture(autouse=True)
def no_user_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_MODEL_ENV, raising=False)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)


def test_the_bundled_model_is_package_data_read_through_importlib_resources():
    from importlib import resources

    folder = bundled_models_dir()
    assert folder == Path(str(resources.files("workbench._models"))) and models_dir() == folder
    assert (folder / DEFAULT_MODEL).is_file() and (folder / "wbcount.json").is_file()


def test_workbench_default_model_replaces_the_bundled_one(plugins, raw_pixel_model):
    with Workbench(plugins, [], default_model=raw_pixel_model) as wb:
        [result] = wb.estimate(BROKER, [ones(32, 48, [(1, 1), (20, 9), (40, 30)])])
        assert wb.estimators == {BROKER: "default"}
    assert result.count == 3 and result.estimatorName == "mine"


def test_a_ray_actor_builds_its_host_with_the_same_default_model_and_strict_mode(plugins, raw_pixel_model):
    """The actors' host recipe once dropped ``default_model`` and ``strict``: a remote comparison ran the
    bundled model under the user's model's name."""
    from workbench.research._runners import HostSpec

    with Workbench(plugins, [], default_model=raw_pixel_model, strict="warn") as wb:
        spec = HostSpec.from_host(wb)
    assert spec.default_model == str(raw_pixel_model.resolve()) and spec.strict == "warn"
    remote = spec.build()
    try:
        [result] = remote.estimate(BROKER, [ones(32, 48, [(1, 1), (20, 9)])])
        assert result.count == 2 and result.estimatorName == "mine" and remote.strict == "warn"
    finally:
        remote.close()


def test_a_described_float_model_is_fed_as_its_json_says(plugins, tmp_path):
    model = make_pool_model(tmp_path / "described.onnx", layout="NCHW", dtype="float32", stride=8,
                            description={"scale": 1.0})
    with Workbench(plugins, [], default_model=str(model)) as wb:
        [result] = wb.estimate(BROKER, [ones(64, 64, [(3, 3), (50, 60)])])
    assert result.count == 2 and result.estimatorName == "described"


def test_the_environment_variable_sets_the_default_and_the_argument_wins(plugins, tmp_path, monkeypatch, raw_pixel_model):
    other = make_pool_model(tmp_path / "from_env.onnx", layout="NHWC", dtype="uint8", stride=4, description={})
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(other))
    image = ones(16, 16, [(2, 2)])
    with Workbench(plugins, []) as wb:
        assert wb.estimate(BROKER, [image])[0].estimatorName == "from_env"
    with Workbench(plugins, [], default_model=raw_pixel_model) as wb:
        assert wb.estimate(BROKER, [image])[0].estimatorName == "mine"


def test_a_missing_file_names_the_file_and_the_fix(plugins, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"default model .*nowhere\.onnx \(from default_model.*not found.*bundled wbcount"):
        Workbench(plugins, [], default_model=tmp_path / "nowhere.onnx")
    monkeypatch.setenv(DEFAULT_MODEL_ENV, str(tmp_path / "gone.onnx"))
    with pytest.raises(FileNotFoundError, match=rf"gone\.onnx \(from \${DEFAULT_MODEL_ENV}\)"):
        Workbench(plugins, [])


def test_a_file_that_is_not_onnx_says_so(plugins, tmp_path):
    fake = tmp_path / "weights.onnx"
    fake.write_bytes(b"PK\x03\x04 a torch checkpoint, not ONNX")
    with pytest.raises(ModelDescriptionError, match=r"weights\.onnx .* is not an ONNX model .*export the model to ONNX"):
        Workbench(plugins, [], default_model=fake)


def test_a_description_that_does_not_fit_the_model_names_the_field(plugins, tmp_path):
    model = make_pool_model(tmp_path / "nchw.onnx", layout="NCHW", dtype="float32", description={"layout": "HWC"})
    with pytest.raises(ModelDescriptionError, match=r"nchw\.onnx .*does not fit its description.*'layout'"):
        Workbench(plugins, [], default_model=model)


def test_an_undescribed_float_model_asks_for_a_description_and_says_how(plugins, tmp_path):
    model = make_pool_model(tmp_path / "float.onnx", layout="NCHW", dtype="float32", description={})
    with pytest.raises(ModelDescriptionError) as error:
        Workbench(plugins, [], default_model=model)
    message = str(error.value)
    assert "float.onnx" in message and "no description" in message and "normalised" in message
    assert f"workbench model describe {model} --write" in message


def test_an_ambiguous_input_cannot_be_guessed(tmp_path):
    model = make_pool_model(tmp_path / "odd.onnx", layout="HWC", dtype="uint8", static_hw=(3, 3), stride=1,
                            description={})
    with pytest.raises(ModelDescriptionError, match=r"odd\.onnx .*channel axis .* is not clear"):
        load_default_model(model)


def test_default_model_and_default_estimators_are_exclusive(plugins, raw_pixel_model):
    with pytest.raises(ValueError, match="not both"):
        Workbench(plugins, [], default_model=raw_pixel_model, default_estimators={})


def test_describe_guesses_a_raw_pixel_model_and_writes_its_json(raw_pixel_model, capsys):
    assert main(["model", "describe", str(raw_pixel_model), "--write"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["description_exact"] is True and report["stride"] == 4
    assert report["description"]["layout"] == "NHWC" and report["description"]["dtype"] == "uint8"
    written = json.loads(raw_pixel_model.with_suffix(".json").read_text())
    assert written == report["description"]
    assert main(["model", "describe", str(raw_pixel_model), "--write"]) == 1
    assert "already has a description" in capsys.readouterr().err


def test_describe_marks_a_float_guess_as_a_draft(tmp_path, capsys):
    model = make_pool_model(tmp_path / "float.onnx", layout="NCHW", dtype="float32", description={})
    assert main(["model", "describe", str(model)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["description_exact"] is False and "normalised" in report["description_note"]
    assert report["description"]["scale"] == pytest.approx(1 / 255)
    assert not model.with_suffix(".json").exists()


@pytest.mark.parametrize("command", [["plugins"], ["compare", "synthetic", "--out", "OUT", "--limit", "1"],
                                     ["serve", "--port", "0"]])
def test_every_hosting_command_takes_default_model_and_reports_a_bad_one(command, plugins, tmp_path, capsys):
    command = [str(tmp_path / "out") if part == "OUT" else part for part in command]
    status = main([*command, "--plugins-dir", str(plugins), "--active", "", "--default-model", str(tmp_path / "no.onnx")])
    assert status == 2
    assert f"default model {tmp_path / 'no.onnx'} (from default_model / --default-model) not found" in capsys.readouterr().err


def test_a_hosting_command_runs_with_the_users_default_model(plugins, raw_pixel_model, capsys):
    status = main(["plugins", "--plugins-dir", str(plugins), "--active", "", "--default-model", str(raw_pixel_model)])
    assert status == 0, capsys.readouterr().err
    assert "peopleCountEstimator" in capsys.readouterr().out
