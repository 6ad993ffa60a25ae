"""The training script of the default model, its export, and the bundled ``models/wbcount`` files."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from helpers.datasets import write_shanghaitech_mat
from workbench.training.data import Sample, mosaic_samples, render_density, synthetic_samples, tile
from workbench.training.evaluate import evaluate_model, find_description, load_images, preprocess

# The card's test-split MAE of the bundled model plus a margin for onnxruntime/numeric drift across
# machines; read from the card so the two cannot disagree silently.
MAE_MARGIN = 0.5


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_density_ground_truth_keeps_the_count() -> None:
    points = np.array([[0.0, 0.0], [100.0, 50.0], [255.0, 191.0], [3.5, 180.0]], np.float32)
    density = render_density(points, (24, 32), stride=8, sigma=1.0)
    assert density.shape == (24, 32)
    assert density.sum() == pytest.approx(4.0, abs=1e-4)


@pytest.mark.slow  # trains the model
def test_train_two_steps_on_synthetic_data_and_export(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.training import main

    status = main(["--synthetic", "--max-steps", "2", "--batch-size", "2", "--crop", "128",
                   "--out", str(tmp_path), "--name", "tiny", "--threads", "2"])
    assert status == 0
    onnx_path, description_path = tmp_path / "tiny.onnx", tmp_path / "tiny.json"
    description = json.loads(description_path.read_text())
    assert description["input"] == "image" and description["output"] == "density"
    assert description["channels"] == "RGB" and description["layout"] == "NCHW"

    session = _session(onnx_path)
    image = synthetic_samples(1, size=(200, 144), seed=3)[0].image
    (density,) = session.run(None, {"image": preprocess(image, description)})
    # Dynamic height/width: a size never seen in training still maps at the recorded stride.
    assert density.shape == (1, 1, 144 // description["stride"], 200 // description["stride"])
    assert np.isfinite(density.sum())


def test_mosaic_keeps_every_head_at_its_shrunk_position() -> None:
    samples = synthetic_samples(4, size=(200, 100), seed=1)
    image, points = tile([(s.image, s.points) for s in samples], 2, (100, 50))
    assert image.size == (200, 100)
    assert len(points) == sum(s.count for s in samples)
    # The third part goes to the bottom-left tile, halved.
    third = samples[2].points / 2 + np.array([0, 50], np.float32)
    start = samples[0].count + samples[1].count
    np.testing.assert_allclose(points[start : start + samples[2].count], third, atol=1e-4)
    with pytest.raises(ValueError, match="needs 4 images"):
        tile([(samples[0].image, samples[0].points)], 2, (100, 50))


def test_mosaic_samples_are_seeded_and_as_large_as_one_photo() -> None:
    photos = [Sample(s.name, s.image, s.points) for s in synthetic_samples(5, size=(160, 120), seed=2)]
    first, again = mosaic_samples(photos, 2, 3, seed=7), mosaic_samples(photos, 2, 3, seed=7)
    assert [m.image.size for m in first] == [(160, 120)] * 3
    assert [m.count for m in first] == [m.count for m in again]
    np.testing.assert_array_equal(np.asarray(first[0].image), np.asarray(again[0].image))


def test_fine_tune_starts_from_the_exported_weights(repo_root: Path) -> None:
    torch = pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.training.model import load_onnx_weights

    path = repo_root / "models" / "wbcount.onnx"
    model = load_onnx_weights(path).eval()
    batch = np.random.default_rng(0).normal(size=(1, 3, 64, 96)).astype(np.float32)
    (expected,) = _session(path).run(None, {"image": batch})
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(batch)).numpy(), expected, atol=1e-5)


@pytest.mark.slow  # trains the model
def test_train_on_photos_generated_scenes_and_mosaics(tmp_path: Path, repo_root: Path) -> None:
    pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.research import make_synthetic_dataset
    from workbench.training import main

    make_synthetic_dataset(tmp_path / "generated", n=3, seed=5, size=(256, 192))
    status = main(["--synthetic", "--generated", str(tmp_path / "generated"), "--generated-fraction", "0.4",
                   "--mosaic-fraction", "0.4", "--mosaic-grids", "2", "4", "--init",
                   str(repo_root / "models" / "wbcount.onnx"), "--lr", "1e-4", "--max-steps", "2",
                   "--batch-size", "4", "--crop", "128", "--out", str(tmp_path), "--name", "tuned"])
    assert status == 0
    assert (tmp_path / "tuned.onnx").is_file()


def test_bad_mixture_options_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.training import main

    assert main(["--synthetic", "--mosaic-fraction", "0.3", "--mosaic-grids", "3", "--crop", "128",
                 "--out", str(tmp_path)]) == 2
    assert "--mosaic-grids" in capsys.readouterr().err
    assert main(["--synthetic", "--mosaic-fraction", "0.8", "--generated-fraction", "0.5",
                 "--out", str(tmp_path)]) == 2
    assert "sum to at most 1" in capsys.readouterr().err


def test_bundled_model_counts_a_synthetic_image(repo_root: Path) -> None:
    model_path, description = find_description(str(repo_root / "models" / "wbcount.onnx"))
    assert description["name"] == "wbcount"
    session = _session(model_path)
    assert [i.name for i in session.get_inputs()] == [description["input"]]
    image = synthetic_samples(1, size=(512, 384), seed=0, people=(12, 12), head_radius=(10, 16))[0].image
    (density,) = session.run([description["output"]], {description["input"]: preprocess(image, description)})
    assert density.shape == (1, 1, 384 // 8, 512 // 8)
    assert density.min() >= 0
    # Plumbing, not accuracy: a model of real photos counts 12 cartoon figures only weakly (this one ~1.7);
    # positive and far from absurd is what a broken export or a wrong normalisation would fail.
    count = float(density.sum())
    assert np.isfinite(count) and 0.5 < count < 100


def test_train_without_torch_says_how_to_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import builtins

    from workbench.training import main

    real_import = builtins.__import__

    def no_torch(name: str, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert main(["--synthetic", "--max-steps", "1"]) == 2
    assert "pip install -e '.[train]'" in capsys.readouterr().err


def test_train_on_a_folder_without_the_layout_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.training import main

    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path}: no images found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # the default model over the crowd-mini test split
@pytest.mark.shared
def test_bundled_model_mae_on_crowd_mini_test_split(repo_root: Path, crowd_mini: Path) -> None:
    card = (repo_root / "models" / "MODEL_CARD.md").read_text()
    card_mae = float(re.search(r"\| wbcount\.onnx \| ([0-9.]+) \|", card).group(1))
    result = evaluate_model(str(repo_root / "models" / "wbcount.onnx"), load_images(crowd_mini, "test"), repeats=1)
    assert result.stride == 8
    assert result.mae <= card_mae + MAE_MARGIN


def test_evaluate_reads_family_descriptions_from_the_installed_package(tmp_path):
    from workbench.estimators.default import bundled_models_dir

    path, description = find_description(str(tmp_path / "mcnn_shtechB.onnx"))
    assert path == tmp_path / "mcnn_shtechB.onnx"
    assert description == json.loads((bundled_models_dir() / "mcnn.json").read_text())


def _write_shanghaitech_train(root: Path, n: int, size: tuple[int, int], seed: int) -> None:
    """A ShanghaiTech-layout ``train_data`` folder of generated scenes."""
    for index, sample in enumerate(synthetic_samples(n, size=size, seed=seed), start=1):
        (root / "train_data" / "images").mkdir(parents=True, exist_ok=True)
        sample.image.save(root / "train_data" / "images" / f"IMG_{index}.jpg")
        write_shanghaitech_mat(root / "train_data" / "ground-truth" / f"GT_IMG_{index}.mat", sample.points)


@pytest.mark.slow  # trains the model
def test_train_on_two_datasets_in_different_layouts_reports_each_held_out_set(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.research import make_synthetic_dataset
    from workbench.training import main

    make_synthetic_dataset(tmp_path / "mini", n=5, seed=1, size=(160, 128))  # 4 *_train_* images, 1 *_test_*
    _write_shanghaitech_train(tmp_path / "part_b", n=3, size=(192, 128), seed=2)
    status = main(["--data", str(tmp_path / "mini"), str(tmp_path / "part_b"), "--val", "1", "2",
                   "--data-shares", "1", "3", "--max-steps", "2", "--eval-every", "2", "--batch-size", "2",
                   "--crop", "128", "--out", str(tmp_path / "out"), "--name", "two"])
    assert status == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.rindex("\n{\n") + 1:])  # the closing report, after one line per evaluation
    assert report["train_images"] == [3, 1]
    assert [len(names) for names in report["val_images"]] == [1, 2]
    assert {"val_mae_0", "val_mae_1", "val_bias_1"} <= set(report["history"][-1])
    assert (tmp_path / "out" / "two.onnx").is_file()


def test_bad_dataset_options_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("torch", reason="training needs the optional extra: pip install -e '.[train]'")
    from workbench.training import main

    _write_shanghaitech_train(tmp_path / "part_b", n=2, size=(160, 128), seed=2)
    assert main(["--data", str(tmp_path / "part_b"), "--data-shares", "1", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--data-shares needs one share >= 0 per --data dataset (1)" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "part_b"), "--val", "1", "1", "--out", str(tmp_path / "o")]) == 2
    assert "--val takes one count >= 0, or one per --data dataset (1)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
