"""Dataset loaders: the three formats, pairing and validation errors, splits, laziness, the real crowd-mini."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from scipy.io import savemat

from helpers.datasets import write_shanghaitech_mat

from workbench.research.datasets import (
    Dataset,
    DatasetError,
    DatasetWarning,
    detect_format,
    load_dataset,
    make_synthetic_dataset,
)


def _image(path: Path, size: tuple[int, int] = (100, 80)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 150)).save(path)
    return path


def _json(path: Path, points: list[list[float]], **fields: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"points": points, **fields}))
    return path


@pytest.fixture
def crowd_json(tmp_path: Path) -> Path:
    for split, i, pts in [("train", 1, [[10, 20], [30.5, 40]]), ("train", 2, []), ("test", 10, [[99, 79]]),
                          ("test", 3, [[0, 0], [50, 50], [1, 2]])]:
        name = f"set_{split}_IMG_{i}"
        _image(tmp_path / "images" / f"{name}.jpg")
        _json(tmp_path / "points" / f"{name}.json", pts, image=f"{name}.jpg", count=len(pts))
    return tmp_path


def test_crowd_json_layout(crowd_json: Path) -> None:
    ds = load_dataset(crowd_json)
    assert ds.format == "crowd-json" and len(ds) == 4
    # natural order: IMG_3 before IMG_10
    assert ds.names == ["set_test_IMG_3", "set_test_IMG_10", "set_train_IMG_1", "set_train_IMG_2"]
    sample = ds[2]
    assert sample.points.dtype == np.float64 and sample.points.shape == (2, 2)
    np.testing.assert_array_equal(sample.points, [[10, 20], [30.5, 40]])
    assert sample.count == 2 and sample.size == (100, 80)
    assert ds[3].points.shape == (0, 2) and ds[3].count == 0
    assert ds.counts == [3, 1, 2, 0] and ds.total_count == 6 and ds.mean_count == 1.5
    assert ds.annotated


def test_json_next_to_images(tmp_path: Path) -> None:
    _image(tmp_path / "a.png")
    _json(tmp_path / "a.json", [[5, 5]])
    ds = load_dataset(tmp_path)
    assert ds.format == "crowd-json" and ds[0].count == 1


def test_sequence_protocol_and_repr(crowd_json: Path) -> None:
    ds = load_dataset(crowd_json)
    part = ds[1:3]
    assert isinstance(part, Dataset) and part.names == ds.names[1:3]
    assert [s.name for s in ds] == ds.names
    assert ds[-1].name == "set_train_IMG_2"
    page = ds._repr_html_()
    for text in ("crowd-json", "<td style='text-align:left'>4</td>", "total count", "1.5"):
        assert text in page
    assert "n=4" in repr(ds)


def test_listing_does_not_decode_and_image_is_vlimage(crowd_json: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = []
    original = ImageFile.ImageFile.load  # where Pillow decodes pixels
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append("pillow") or original(self))
    from workbench.sdk import image as image_module

    decode_bytes = image_module.decodeBytes  # every encoded image's way to pixels (a JPEG may skip Pillow's load)
    monkeypatch.setattr(image_module, "decodeBytes", lambda *args: decoded.append("bytes") or decode_bytes(*args))
    ds = load_dataset(crowd_json)
    assert decoded == []
    from workbench.sdk import VLImage

    image = ds[0].image
    assert isinstance(image, VLImage) and image.rect.size.asDict() == {"width": 100, "height": 80}
    assert decoded


def test_splits_and_pattern(crowd_json: Path) -> None:
    assert load_dataset(crowd_json, split="test").names == ["set_test_IMG_3", "set_test_IMG_10"]
    assert len(load_dataset(crowd_json, split="train")) == 2
    assert load_dataset(crowd_json, pattern="*train*").names == ["set_train_IMG_1", "set_train_IMG_2"]
    assert load_dataset(crowd_json, split="train", pattern="*_2").names == ["set_train_IMG_2"]
    with pytest.raises(DatasetError, match="split='val' selects no image"):
        load_dataset(crowd_json, split="val")
    with pytest.raises(DatasetError, match="matches no image"):
        load_dataset(crowd_json, pattern="*nothing*")


def test_split_token_is_a_whole_word(tmp_path: Path) -> None:
    _image(tmp_path / "contest_1.jpg")
    _image(tmp_path / "x_test_1.jpg")
    assert load_dataset(tmp_path, split="test").names == ["x_test_1"]


def test_split_subfolder(tmp_path: Path) -> None:
    """ShanghaiTech keeps its splits in train_data/ and test_data/ folders."""
    for split in ("train", "test"):
        _image(tmp_path / f"{split}_data" / "images" / "IMG_1.jpg")
        write_shanghaitech_mat(tmp_path / f"{split}_data" / "ground-truth" / "GT_IMG_1.mat", np.array([[1.0, 2.0]]))
    ds = load_dataset(tmp_path, split="test")
    assert ds.format == "shanghaitech" and ds.names == ["IMG_1"] and ds.root == tmp_path / "test_data"


def test_shanghaitech_layout(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "IMG_1.jpg")
    _image(tmp_path / "images" / "IMG_2.jpg")
    write_shanghaitech_mat(tmp_path / "ground-truth" / "GT_IMG_1.mat", np.array([[10.5, 20.0], [99.0, 1.0]]))
    write_shanghaitech_mat(tmp_path / "ground-truth" / "GT_IMG_2.mat", np.zeros((0, 2)))
    ds = load_dataset(tmp_path)
    assert ds.format == "shanghaitech" and ds.counts == [2, 0]
    np.testing.assert_array_equal(ds[0].points, [[10.5, 20.0], [99.0, 1.0]])
    assert ds[0].annotation_path.name == "GT_IMG_1.mat"


def test_shanghaitech_same_folder(tmp_path: Path) -> None:
    _image(tmp_path / "IMG_7.jpg")
    write_shanghaitech_mat(tmp_path / "GT_IMG_7.mat", np.array([[3.0, 4.0]]))
    assert detect_format(tmp_path) == "shanghaitech"
    assert load_dataset(tmp_path)[0].count == 1


def test_shanghaitech_number_mismatch(tmp_path: Path) -> None:
    _image(tmp_path / "IMG_1.jpg")
    write_shanghaitech_mat(tmp_path / "GT_IMG_1.mat", np.array([[3.0, 4.0]]), number=5)
    with pytest.raises(DatasetError, match=r"GT_IMG_1\.mat.*'number' field says 5 but 1 points"):
        load_dataset(tmp_path)


def test_mat_without_image_info(tmp_path: Path) -> None:
    _image(tmp_path / "IMG_1.jpg")
    savemat(str(tmp_path / "GT_IMG_1.mat"), {"annPoints": np.zeros((1, 2))})
    with pytest.raises(DatasetError, match="no 'image_info' variable.*annPoints"):
        load_dataset(tmp_path, format="shanghaitech")


def test_images_only(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "b.jpg")
    _image(tmp_path / "images" / "a.JPG")
    ds = load_dataset(tmp_path)
    assert ds.format == "images" and ds.names == ["a", "b"]
    assert ds[0].points is None and ds[0].count is None and not ds.annotated
    assert ds.total_count is None and "no (images only)" in ds._repr_html_()


def test_count_field_mismatch(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    _json(tmp_path / "points" / "a.json", [[1, 1], [2, 2]], count=3)
    with pytest.raises(DatasetError, match=r"a\.json.*\"count\" field says 3 but 2 points"):
        load_dataset(tmp_path)


def test_image_field_names_another_file(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    _json(tmp_path / "points" / "a.json", [[1, 1]], image="other.jpg")
    with pytest.raises(DatasetError, match=r"names 'other\.jpg'.*'a\.jpg'.*rename"):
        load_dataset(tmp_path)


def test_image_field_may_carry_a_path(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    _json(tmp_path / "points" / "a.json", [[1, 1]], image="somewhere/images/a.jpg")
    assert load_dataset(tmp_path)[0].count == 1


def test_points_outside_image(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", size=(100, 80))
    _json(tmp_path / "points" / "a.json", [[10, 10], [150, 10]])
    with pytest.raises(DatasetError, match=r"a\.json: 1 of 2 points lie outside the 100x80 image.*\[150\.0, 10\.0\]"):
        load_dataset(tmp_path)


def test_points_within_tolerance_are_kept(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", size=(100, 80))
    _json(tmp_path / "points" / "a.json", [[101.5, 80.0], [-1.0, 0.0]])
    assert load_dataset(tmp_path)[0].count == 2


def test_swapped_xy_is_diagnosed(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", size=(200, 50))
    _json(tmp_path / "points" / "a.json", [[40, 150]])  # (row, col) by mistake
    with pytest.raises(DatasetError, match="x and y look swapped"):
        load_dataset(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not readable JSON"),
        ('{"count": 1}', 'with a "points" key'),
        ('{"points": [[1, 2, 3]]}', r"shape \(N, 2\)"),
        ('{"points": [[1, NaN]]}', "NaN or infinite"),
        ('{"points": [[1, 1]], "count": "1"}', "count"),
    ],
)
def test_malformed_json(tmp_path: Path, content: str, message: str) -> None:
    _image(tmp_path / "images" / "a.jpg")
    (tmp_path / "points").mkdir()
    (tmp_path / "points" / "a.json").write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_annotation_without_image_is_an_error(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    _json(tmp_path / "points" / "a.json", [[1, 1]])
    _json(tmp_path / "points" / "ghost.json", [[1, 1]])
    with pytest.raises(DatasetError, match=r"1 annotation file\(s\) have no image.*ghost\.json"):
        load_dataset(tmp_path)


def test_image_without_annotation_warns_and_is_kept(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    _image(tmp_path / "images" / "b.jpg")
    _json(tmp_path / "points" / "a.json", [[1, 1]])
    with pytest.warns(DatasetWarning, match=r"1 image\(s\) have no annotation.*b\.jpg"):
        ds = load_dataset(tmp_path)
    assert ds.counts == [1, None] and not ds.annotated
    assert "1 of 2" in ds._repr_html_()


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path)


def test_both_formats_need_a_choice(tmp_path: Path) -> None:
    _image(tmp_path / "IMG_1.jpg")
    _json(tmp_path / "IMG_1.json", [[1, 1]])
    write_shanghaitech_mat(tmp_path / "GT_IMG_1.mat", np.array([[1.0, 1.0]]))
    with pytest.raises(DatasetError, match="pass format="):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, format="shanghaitech").format == "shanghaitech"
    with pytest.raises(DatasetError, match="unknown format"):
        load_dataset(tmp_path, format="coco")


def test_synthetic_dataset(tmp_path: Path) -> None:
    ds = make_synthetic_dataset(tmp_path, n=6, seed=3, size=(320, 240))
    assert len(ds) == 6 and ds.annotated and ds.format == "crowd-json"
    assert len(load_dataset(tmp_path, split="test")) == 2
    assert all(s.size == (320, 240) for s in ds)
    assert all(s.count > 0 for s in ds)
    pixels = ds[0].image.asNPArray()
    assert pixels.shape == (240, 320, 3) and pixels.std() > 10  # textured, not blank
    again = make_synthetic_dataset(tmp_path / "again", n=6, seed=3, size=(320, 240))
    assert again.counts == ds.counts


@pytest.mark.shared
def test_real_crowd_mini(crowd_mini: Path) -> None:
    ds = load_dataset(crowd_mini)
    assert ds.format == "crowd-json" and len(ds) == 38 and ds.annotated
    assert len(load_dataset(crowd_mini, split="train")) == 30
    test = load_dataset(crowd_mini, split="test")
    assert len(test) == 8 and all("_test_" in n for n in test.names)
    counts = np.array(ds.counts)
    assert counts.min() == 3 and counts.max() == 53 and abs(counts.mean() - 16.4) < 0.05
    assert all(s.size == (1024, 768) for s in ds)
