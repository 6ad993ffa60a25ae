"""Issue 31, finding 8: head points that do not sit on the image as decoded.

EXIF-turned images whose points were clicked on the stored pixels were scored unturned whenever the points happened
to fit both frames; one stray point (1 of 2,550, 358 px left of its image) made a whole public benchmark unloadable.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from helpers.datasets import write_shanghaitech_mat
from workbench.research.datasets import DatasetError, DatasetWarning, load_dataset

ORIENTATION = 0x0112


def _photo(path: Path, size: tuple[int, int], orientation: int = 1, spot: tuple[int, int] | None = None) -> Path:
    """A dark JPEG of ``size`` (as stored) with a white 3x3 spot centred on stored pixel ``spot``."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    if spot is not None:
        x, y = spot
        pixels[y - 1:y + 2, x - 1:x + 2] = 255
    exif = Image.Exif()
    if orientation != 1:
        exif[ORIENTATION] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=100, exif=exif)
    return path


def _crowd_json(root: Path, name: str, points: list[list[float]]) -> None:
    (root / "points").mkdir(parents=True, exist_ok=True)
    (root / "points" / f"{name}.json").write_text(json.dumps({"image": f"{name}.jpg", "points": points}))


def _spot_centre(sample) -> tuple[float, float]:
    """Where the white spot is in the decoded (upright) image, as (x, y) continuous pixel coordinates."""
    bright = np.argwhere(sample.image.asNPArray()[..., 0] > 128)
    row, col = bright.mean(axis=0)
    return col + 0.5, row + 0.5


# --- EXIF orientation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_a_benchmarks_stored_pixel_points_are_turned_onto_the_decoded_image(tmp_path: Path, orientation: int) -> None:
    """ShanghaiTech's points are clicked on the stored pixels; decoding turns the photo, so they must turn too."""
    _photo(tmp_path / "images" / "IMG_1.jpg", (60, 40), orientation, spot=(10, 5))
    write_shanghaitech_mat(tmp_path / "ground-truth" / "GT_IMG_1.mat", np.array([[10.5, 5.5]]))
    with pytest.warns(DatasetWarning, match=rf"IMG_1\.jpg \(EXIF orientation {orientation}: .*shanghaitech's "
                                            "convention"):
        [sample] = load_dataset(tmp_path)
    np.testing.assert_allclose(sample.points[0], _spot_centre(sample), atol=0.01)
    assert sample.size == sample.image.asNPArray().shape[1::-1]


def test_crowd_json_points_that_fit_both_frames_are_refused_by_name(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "portrait.jpg", (60, 40), orientation=6)
    _crowd_json(tmp_path, "portrait", [[10, 10], [20, 30]])  # inside 60x40 and inside 40x60
    with pytest.raises(DatasetError, match=r"1 image\(s\) carry an EXIF orientation and their points fit both.*"
                                           r"portrait\.jpg \(EXIF orientation 6: turned 90 degrees clockwise\).*"
                                           r"points_frame='stored'.*points_frame='upright'.*--points-frame"):
        load_dataset(tmp_path)


def test_a_half_turn_always_fits_both_frames_so_crowd_json_asks(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "upside.jpg", (60, 40), orientation=3)
    _crowd_json(tmp_path, "upside", [[5, 5]])
    with pytest.raises(DatasetError, match=r"upside\.jpg \(EXIF orientation 3: turned 180 degrees\)"):
        load_dataset(tmp_path)


def test_points_frame_says_which_frame_and_is_obeyed(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "portrait.jpg", (60, 40), orientation=6, spot=(10, 5))
    _crowd_json(tmp_path, "portrait", [[10.5, 5.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the caller chose: nothing to warn about
        [stored] = load_dataset(tmp_path, points_frame="stored")
        [upright] = load_dataset(tmp_path, points_frame="upright")
    np.testing.assert_allclose(stored.points[0], _spot_centre(stored), atol=0.01)
    np.testing.assert_array_equal(upright.points, [[10.5, 5.5]])


def test_crowd_json_points_that_fit_one_frame_only_are_read_in_it_and_named(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "portrait.jpg", (60, 40), orientation=6)
    _crowd_json(tmp_path, "portrait", [[35, 55]])  # y = 55 is below the stored 60x40 pixels: clicked upright
    with pytest.warns(DatasetWarning, match=r"portrait\.jpg .*read as clicked on the upright pixels, the only "
                                            "frame they fit"):
        [sample] = load_dataset(tmp_path)
    np.testing.assert_array_equal(sample.points, [[35, 55]])


def test_points_clicked_in_the_other_frame_are_refused_with_the_frame_to_pass(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "IMG_1.jpg", (60, 40), orientation=6)
    points = np.array([[5.0 + i % 30, 45.0 + i % 10] for i in range(20)])  # upright 40x60 only
    write_shanghaitech_mat(tmp_path / "ground-truth" / "GT_IMG_1.mat", points)
    with pytest.raises(DatasetError, match=r"20 of 20 points lie outside the 40x60 image IMG_1\.jpg.*"
                                           r"clicked on the upright pixels.*pass points_frame='upright'"):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, points_frame="upright").counts == [20]


def test_nwpu_head_boxes_turn_with_their_points(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "0001.jpg", (60, 40), orientation=8)
    (tmp_path / "jsons").mkdir()
    (tmp_path / "jsons" / "0001.json").write_text(json.dumps(
        {"img_id": "0001.jpg", "human_num": 1, "points": [[10, 5]], "boxes": [[8, 2, 14, 9]]}))
    (tmp_path / "train.txt").write_text("0001 0 1\n")
    with pytest.warns(DatasetWarning, match="nwpu's convention"):
        [sample] = load_dataset(tmp_path)
    # Orientation 8 turns counter-clockwise: stored (x, y) lands on (y, 60 - x).
    np.testing.assert_array_equal(sample.points, [[5, 50]])
    np.testing.assert_array_equal(sample.boxes, [[2, 46, 9, 52]])


# --- stray points -------------------------------------------------------------------------------------------


def _ucf_with_one_stray(root: Path, n: int = 2550, stray: tuple[float, float] = (-358.0, 50.0)) -> Path:
    """A UCF-QNRF image of 200x150 with ``n`` points, the 1,734th of them at ``stray``."""
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(0, 200, n), rng.uniform(0, 150, n)])
    points[1733] = stray
    _photo(root / "img_0001.jpg", (200, 150))
    savemat(str(root / "img_0001_ann.mat"), {"annPoints": points})
    return root


def test_one_stray_point_is_dropped_with_a_warning_naming_it(tmp_path: Path) -> None:
    """It made the whole dataset unloadable: 1 point of 2,550 lay 358 px left of its image."""
    _ucf_with_one_stray(tmp_path)
    with pytest.warns(DatasetWarning, match=r"1 annotation point\(s\) lie outside their image by more than 2 px and "
                                            r"were dropped as stray clicks: img_0001_ann\.mat point 1734 of 2550 at "
                                            r"\[x, y\] = \[-358, 50\], 358 px left of the 200x150 image img_0001\.jpg"):
        [sample] = load_dataset(tmp_path)
    assert sample.count == 2549 and (sample.points[:, 0] >= 0).all()


def test_strict_refusal_is_kept_by_an_option(tmp_path: Path) -> None:
    _ucf_with_one_stray(tmp_path)
    with pytest.raises(DatasetError, match=r"img_0001_ann\.mat: 1 of 2550 points lie outside the 200x150 image.*"
                                           r"\[-358\.0, 50\.0\].*stray_points='drop' drops up to 10%"):
        load_dataset(tmp_path, stray_points="refuse")


def test_more_than_a_tenth_outside_is_not_stray_and_is_refused(tmp_path: Path) -> None:
    _photo(tmp_path / "img_0001.jpg", (200, 150))
    points = np.array([[10.0, 10.0]] * 8 + [[400.0, 300.0]] * 2)  # 2 of 10: a resized copy's annotation?
    savemat(str(tmp_path / "img_0001_ann.mat"), {"annPoints": points})
    with pytest.raises(DatasetError, match=r"2 of 10 points lie outside.*too many to drop as stray clicks"):
        load_dataset(tmp_path)


def test_a_stray_point_takes_its_head_box_with_it(tmp_path: Path) -> None:
    _photo(tmp_path / "images" / "0001.jpg", (100, 80))
    points = [[10 + i, 10] for i in range(10)] + [[150, 10]]
    boxes = [[x - 2, y - 2, x + 2, y + 2] for x, y in points]
    (tmp_path / "jsons").mkdir()
    (tmp_path / "jsons" / "0001.json").write_text(json.dumps(
        {"img_id": "0001.jpg", "human_num": 11, "points": points, "boxes": boxes}))
    (tmp_path / "train.txt").write_text("0001 0 1\n")
    with pytest.warns(DatasetWarning, match=r"0001\.json point 11 of 11 at \[x, y\] = \[150, 10\], 50 px right"):
        [sample] = load_dataset(tmp_path)
    assert sample.count == 10 and sample.boxes.shape == (10, 4)
    np.testing.assert_array_equal(sample.boxes[-1], [17, 8, 21, 12])


@pytest.mark.parametrize(("option", "value"), [("stray_points", "ignore"), ("points_frame", "rotated")])
def test_an_unknown_option_value_is_named(tmp_path: Path, option: str, value: str) -> None:
    _photo(tmp_path / "images" / "a.jpg", (20, 20))
    with pytest.raises(DatasetError, match=rf"{option}='{value}': use"):
        load_dataset(tmp_path, **{option: value})
