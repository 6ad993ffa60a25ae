"""Hostile files against the datasets, VLImage and ``workbench compare`` (issue 9, failures 3 and 9)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from helpers.hostile import bomb_png
from workbench.cli import main
from workbench.research.datasets import DatasetError, load_dataset


def _crowd_json_dataset(root: Path, annotation: str, *, image: bytes | None = None) -> Path:
    """A one-image dataset in the crowd-mini JSON layout, with the given annotation text."""
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    if image is None:
        Image.new("RGB", (64, 48)).save(root / "images" / "a.jpg")
        (root / "annotations" / "a.json").write_text(annotation)
    else:
        (root / "images" / "a.png").write_bytes(image)
        (root / "annotations" / "a.json").write_text(annotation)
    return root


def test_bomb_image_in_a_dataset_is_a_dataset_error(tmp_path):
    root = _crowd_json_dataset(tmp_path / "bomb", json.dumps({"points": [[1, 1]], "count": 1}), image=bomb_png(20000, 20000))
    with pytest.raises(DatasetError, match="pixel budget|over the budget"):
        sample = load_dataset(root)[0]
        sample.size


def test_huge_number_in_annotation_is_a_dataset_error(tmp_path):
    annotation = '{"points": [[' + "9" * 400 + ', 1]], "count": 1}'
    with pytest.raises(DatasetError, match="number pairs"):
        load_dataset(_crowd_json_dataset(tmp_path / "digits", annotation))


def test_deeply_nested_annotation_is_a_dataset_error(tmp_path):
    annotation = "[" * 100_000 + "]" * 100_000
    with pytest.raises(DatasetError, match="nested too deeply"):
        load_dataset(_crowd_json_dataset(tmp_path / "nested", annotation))


def test_vlimage_refuses_a_bomb_before_decoding():
    from workbench.images import load_image

    with pytest.raises(ValueError, match="over the budget"):
        load_image(bomb_png())


# -- workbench compare: one-line errors and documented exit codes ------------------------------------------


@dataclass
class Outcome:
    returncode: int
    stderr: str


@pytest.fixture
def run_compare(capsys, monkeypatch):
    """``workbench compare ...`` in this process (an uncaught exception would fail the test): exit code, stderr."""

    def run(*args: str, cwd: Path) -> Outcome:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(["compare", *args, "--no-progress", "--start-timeout", "5"])
        return Outcome(code, capsys.readouterr().err)

    return run


def test_compare_out_that_is_a_file_fails_before_the_run(tmp_path, run_compare):
    out = tmp_path / "report"
    out.write_text("I am a file")
    (tmp_path / "plugins").mkdir()
    result = run_compare(str(tmp_path / "no-such-data"), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "--out" in result.stderr and "file" in result.stderr


def test_compare_bomb_image_is_one_line(tmp_path, run_compare):
    root = _crowd_json_dataset(tmp_path / "data", json.dumps({"points": [[1, 1]], "count": 1}), image=bomb_png(20000, 20000))
    (tmp_path / "plugins").mkdir()
    result = run_compare(str(root), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_compare_contract_violating_estimator_is_one_line(tmp_path, plugin_folder, run_compare):
    data = tmp_path / "data"
    _crowd_json_dataset(data, json.dumps({"points": [[1, 1]], "count": 1}))
    module = plugin_folder.add("liar", """
        from workbench.plugins import EstimatorBase, EstimatorReplacementPlugin

        class Liar(EstimatorBase):
            async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
                return "not a list"
            def close(self):
                pass

        class LiarPlugin(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"
            def createReplacementEstimator(self):
                return Liar()
    """)
    result = run_compare(
        str(data), "--out", str(tmp_path / "out"), "--plugins-dir", str(plugin_folder.root), "--active", module,
        "--estimators", "LiarPlugin", cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "LiarPlugin" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
