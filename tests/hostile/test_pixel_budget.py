"""The pixel budget belongs to the workbench's own image loading and the server, not to the SDK stand-in.

The SDK's ``VLImage(bytes)`` has no budget, so the stand-in's must not refuse a large image; ``load_image``, the
datasets and the server check one budget (``$WORKBENCH_MAX_PIXELS``, else 64 Mpx), and a server's ``max_pixels``
is the budget for everything that server decodes.
"""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from helpers.hostile import bomb_png, http, request
from workbench.images import ImageDecodeError, ImageTooLargeError, load_image
from workbench.sdk import LunaSDKException, VLImage

ESTIMATE = "/estimators/peopleCountEstimator/estimate"


def _flat_png(width: int, height: int) -> bytes:
    """A black 1-bit PNG: a few kilobytes for any size, decoded in full only where a test needs the pixels."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG")
    return out.getvalue()


def test_the_stand_ins_vlimage_has_no_budget_but_load_image_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "1000")
    png = _flat_png(64, 48)  # 3072 pixels: over this budget

    image = VLImage(png)  # as the SDK's VLImage(bytes) does: no budget
    assert (image.rect.width, image.rect.height) == (64, 48)

    with pytest.raises(ImageTooLargeError, match="64x48 = 3072 pixels, over the budget of 1000 pixels") as refused:
        load_image(png, "crowd.png")
    # Still what a failed load has always raised, for callers that catch those.
    assert isinstance(refused.value, ImageDecodeError) and isinstance(refused.value, LunaSDKException)
    assert load_image(png, "crowd.png", max_pixels=5000).rect.width == 64


def test_load_image_checks_files_against_the_budget(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "1000")
    path = tmp_path / "crowd.png"
    path.write_bytes(_flat_png(64, 48))
    with pytest.raises(ImageTooLargeError, match=f"^{path}: the image header claims 64x48"):
        load_image(path)


def test_the_servers_max_pixels_is_its_budget_for_all_its_decoding(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    # The process-wide default budget below the server's: the server must decode up to its own.
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "1000")
    _, host, port = serve([], max_pixels=5000)

    status, _, body = http(host, port, request("POST", ESTIMATE, _flat_png(64, 48)))
    assert status == 200, body
    assert json.loads(body)["count"] == 0

    status, _, body = http(host, port, request("POST", ESTIMATE, bomb_png(100, 100)))
    assert status == 413
    assert "100x100 = 10000 pixels, over the budget of 5000 pixels" in json.loads(body)["error"]


@pytest.mark.slow  # decodes a 72 Mpx image (about 3 s and 600 MB)
def test_a_72_mpx_image_is_served_under_a_100_m_budget(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_MAX_PIXELS", raising=False)
    _, host, port = serve([], max_pixels=100_000_000, host_options={"estimate_timeout": 60})

    status, _, body = http(host, port, request("POST", ESTIMATE, _flat_png(9000, 8000)), timeout=60)
    assert status == 200, body

    status, _, body = http(host, port, request("POST", ESTIMATE, bomb_png(12000, 10000)))
    assert status == 413
    assert "12000x10000 = 120000000 pixels, over the budget of 100000000 pixels" in json.loads(body)["error"]
