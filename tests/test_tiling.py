"""Huge images: tiles partition the area, tiled and untiled runs agree, seams double no head, and an 8000x6000
image goes through the default estimator under 2 GiB (measured in a subprocess)."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from workbench.estimators import OnnxDensityEstimator
from workbench.estimators._tiling import TilingEstimator, tile_grid, tile_large_images
from workbench.research import make_synthetic_dataset
from workbench.sdk import ImageForPeopleEstimation, Rect, VLImage

MODEL = Path(__file__).resolve().parents[1] / "models" / "wbcount.onnx"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inner():
    estimator = OnnxDensityEstimator(MODEL)
    yield estimator
    estimator.close()


CROWD_MINI = ROOT.parent / "shared" / "data" / "crowd-mini" / "images"


@pytest.fixture(scope="module")
def crowd() -> VLImage:
    """Four crowd-mini test photos as one 2048x1536 mosaic (70 people by the default model): real heads, so
    that agreement is checked on photos, not only on the synthetic drawings."""
    photos = sorted(CROWD_MINI.glob("*_test_*.jpg"))[:4]
    if len(photos) < 4:
        pytest.skip(f"needs the crowd-mini photos in {CROWD_MINI} (../shared/data, see its README)")
    tiles = [VLImage.load(filename=str(p)).asNPArray() for p in photos]
    return VLImage(np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate(tiles[2:], 1)], 0))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> VLImage:
    return make_synthetic_dataset(tmp_path_factory.mktemp("tiling"), n=1, seed=3, size=(1280, 960))[0].image


def _estimate(estimator, images):  # noqa: ANN001, ANN202
    return asyncio.run(estimator.estimateBatch(images))


@pytest.mark.parametrize(("width", "height", "budget", "overlap"), [(1000, 700, 90_000, 32), (333, 1200, 50_000, 16)])
def test_cores_partition_the_area_and_tiles_fit_the_budget(width: int, height: int, budget: int, overlap: int) -> None:
    covered = np.zeros((height, width), dtype=np.int32)
    tiles = tile_grid(width, height, budget, overlap, align=8)
    assert len(tiles) > 1
    for (x0, y0, x1, y1), (tx0, ty0, tx1, ty1) in tiles:
        covered[y0:y1, x0:x1] += 1
        assert (tx1 - tx0) * (ty1 - ty0) <= budget
        assert x0 % 8 == 0 and y0 % 8 == 0 and tx0 <= x0 and ty0 <= y0 and tx1 >= x1 and ty1 >= y1
    assert (covered == 1).all()


@pytest.fixture(scope="module")
def runs(inner, crowd: VLImage):
    """The mosaic untiled and in tiles of 0.5 MP (2048x1536 = 3.1 MP: 9 or more tiles)."""
    [whole] = _estimate(inner, [crowd])
    [tiled] = _estimate(TilingEstimator(inner, max_pixels=500_000), [crowd])
    return whole, tiled


@pytest.mark.slow  # over 2 s here
def test_tiled_and_untiled_agree_within_one_percent(runs) -> None:
    whole, tiled = runs
    assert tiled.extras["large_image"] == "tile"
    assert tiled.densityMap.sum() == pytest.approx(whole.densityMap.sum(), rel=0.01)
    assert abs(tiled.count - whole.count) <= 0.01 * whole.count
    # The stitched map is the untiled one wherever a tile saw enough context.
    np.testing.assert_allclose(tiled.densityMap, whole.densityMap[: tiled.densityMap.shape[0], : tiled.densityMap.shape[1]],
                               atol=0.02)


def test_points_are_not_doubled_at_seams(inner, runs) -> None:
    from workbench.research import localisation

    whole, tiled = runs
    cores = [core for core, _ in tile_grid(2048, 1536, 500_000, 128, inner.stride)]
    seams_x = sorted({x0 for x0, _, _, _ in cores} - {0})
    seams_y = sorted({y0 for _, y0, _, _ in cores} - {0})
    assert seams_x and seams_y

    def near_seams(points: np.ndarray) -> int:
        close_x = np.abs(points[:, :1] - np.array(seams_x)[None, :]).min(axis=1) < 24
        close_y = np.abs(points[:, 1:] - np.array(seams_y)[None, :]).min(axis=1) < 24
        return int((close_x | close_y).sum())

    assert near_seams(whole.pointsArray) > 0  # the test has heads on the seams to double
    assert near_seams(tiled.pointsArray) == near_seams(whole.pointsArray)
    assert len(tiled.pointsArray) == len(whole.pointsArray)
    assert localisation(tiled, whole.pointsArray, 4).f1 >= 0.99


def test_detect_area_and_small_images_pass_through(inner, drawn: VLImage) -> None:
    crowd = drawn
    tiler = TilingEstimator(inner, max_pixels=300_000)
    area = Rect(100, 50, 400, 300)  # 120,000 px: under the budget, the inner estimator as it is
    [direct] = _estimate(inner, [ImageForPeopleEstimation(crowd, area)])
    [through] = _estimate(tiler, [ImageForPeopleEstimation(crowd, area)])
    assert through.replace(elapsed=None) == direct.replace(elapsed=None)
    big_area = Rect(0, 0, 1280, 600)  # 768,000 px: tiled, and only inside the area
    [tiled] = _estimate(tiler, [ImageForPeopleEstimation(crowd, big_area)])
    assert tiled.densityArea.height <= 600 + inner.stride and (tiled.pointsArray[:, 1] < 600).all()


def test_resize_mode(inner, crowd: VLImage) -> None:
    [whole] = _estimate(inner, [crowd])
    [resized] = _estimate(TilingEstimator(inner, max_pixels=400_000, mode="resize"), [crowd])
    assert resized.extras["large_image"] == "resize" and 2048 <= resized.densityArea.width <= 2048 + 32  # padded map
    # People shrink with the image, so the count moves (41 against 62 here): tiling is the default for that.
    assert resized.pointsArray[:, 0].max() < 2048 and 0 < resized.count < whole.count


def test_bad_options_are_named(inner, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="mode must be one of 'tile', 'resize', got 'crop'"):
        TilingEstimator(inner, mode="crop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too small for tiles"):
        tile_grid(100, 100, 1000, 64, 8)
    monkeypatch.setenv("WORKBENCH_ESTIMATE_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="WORKBENCH_ESTIMATE_MAX_PIXELS must be a whole number"):
        tile_large_images(inner)
    monkeypatch.setenv("WORKBENCH_ESTIMATE_MAX_PIXELS", "0")
    assert tile_large_images(inner) is inner


MEMORY_SCRIPT = """
    import resource, sys
    import numpy as np
    from workbench import Workbench
    from workbench.sdk import VLImage

    rng = np.random.default_rng(0)
    # 8000x6000: a smooth random background (JPEG-like content), built in row bands to keep the test's own peak low.
    pixels = np.empty((6000, 8000, 3), np.uint8)
    for top in range(0, 6000, 500):
        pixels[top:top + 500] = rng.integers(60, 200, size=(500, 8000, 3), dtype=np.uint8)
    image = VLImage(pixels)
    del pixels
    with Workbench(sys.argv[1], []) as wb:
        [result] = wb.estimate("peopleCountEstimator", [image])
    # This process's own high-water mark: ru_maxrss also counts the parent's at the fork (Linux keeps the old
    # memory map's peak across exec), which made this test fail after a long pytest session had grown to 4.4 GB.
    try:
        with open("/proc/self/status") as status:
            peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(result.count, result.extras.get("large_image"), peak_kib)
"""


@pytest.mark.slow  # images of hundreds of megapixels
def test_huge_image_peaks_under_2_gib(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEMORY_SCRIPT), str(tmp_path / "plugins")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    count, mode, peak_kib = run.stdout.split()[-3:]
    assert mode == "tile"
    assert int(peak_kib) * 1024 < 2 * 1024**3, f"peak RSS {int(peak_kib) / 1024:.0f} MiB"


@pytest.mark.parametrize("mode", ["tile", "resize"])
def test_bgr_images_count_as_their_rgb_twins(inner, drawn: VLImage, mode: str) -> None:
    """The SDK's images may be BGR: the resized path once handed those pixels to the model unconverted."""
    from workbench.sdk import ColorFormat

    bgr = drawn.convert(ColorFormat.B8G8R8)
    tiler = TilingEstimator(inner, max_pixels=300_000, mode=mode)
    [from_rgb] = _estimate(tiler, [drawn])
    [from_bgr] = _estimate(tiler, [bgr])
    np.testing.assert_allclose(from_bgr.densityMap, from_rgb.densityMap, atol=1e-6)
