"""Issue 33, the server: ``POST /estimators/{broker}/estimate-sequence`` counts every sampled frame of a clip or of
a multipart upload of images, under the image endpoint's budgets and with its errors.

The clips are written here (H.264 at qp 0: grey frames come back exactly, so the bright-pixel counter's count is
known); the estimator is ``BrightPixelCounter`` (one person a bright pixel), or a slow one for the disconnect.
"""
from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
import time

import aiohttp
import numpy as np
import pytest
from PIL import Image

from helpers.budget_plugins import slow_estimator
from helpers.fake_estimators import default_factories
from helpers.hostile import http, read_response, request, start_serve, stop_serve
from helpers.waiting import wait_until
from workbench.result import CountResult
from workbench.server import start_server
from workbench.server._state import STATE

av = pytest.importorskip("av", reason="PyAV is the video extra: pip install 'workbench[video]' (make test installs it)")

SEQUENCE = "/estimators/peopleCountEstimator/estimate-sequence"
SIZE = (64, 48)


def spots_frame(count: int, seed: int) -> np.ndarray:
    """A black frame with ``count`` white pixels at distinct places (a grey frame: x264 at qp 0 keeps it exactly)."""
    pixels = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    places = np.random.default_rng(seed).choice(SIZE[0] * SIZE[1], size=count, replace=False)
    pixels.reshape(-1, 3)[places] = 255
    return pixels


def frames_of(counts: list[int]) -> list[np.ndarray]:
    return [spots_frame(count, seed) for seed, count in enumerate(counts)]


def clip(frames: list[np.ndarray], fps: int = 10, container: str = "mp4") -> bytes:
    """The frames as an H.264 clip, losslessly (qp 0), a keyframe every 4 frames."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.codec_context.gop_size = 4
        stream.codec_context.options = {"qp": "0"}
        for pixels in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                muxer.mux(packet)
        for packet in stream.encode():
            muxer.mux(packet)
    return out.getvalue()


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def upload(files: list[tuple[str, bytes, str]]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, data, content_type in files:
        form.add_field(name, data, filename=name, content_type=content_type)
    return form


def image_parts(counts: list[int]) -> aiohttp.FormData:
    return upload([(f"f{i:03d}.png", png(pixels), "image/png") for i, pixels in enumerate(frames_of(counts))])


async def error_of(response: aiohttp.ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error", "request_id"} and body["request_id"] == response.headers["X-Request-Id"]
    return body["error"]


def budget_of(client):
    return client.server.app[STATE].budget


async def make_client(workbench_client, plugin_folder, **options):
    return await workbench_client(plugin_folder.root, [], default_estimators=default_factories(), **options)


@pytest.fixture
async def client(workbench_client, plugin_folder):
    return await make_client(workbench_client, plugin_folder)


COUNTS = [1, 3, 2, 7, 7, 0, 5, 4, 9, 2]


async def test_a_clip_is_counted_frame_by_frame_with_times_and_a_summary(client):
    response = await client.post(SEQUENCE, data=clip(frames_of(COUNTS)), headers={"Content-Type": "video/mp4"})
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert [frame["frame"] for frame in answer["frames"]] == list(range(10))
    assert [frame["time"] for frame in answer["frames"]] == pytest.approx([i / 10 for i in range(10)])
    assert [frame["count"] for frame in answer["frames"]] == COUNTS
    # Each frame is CountResult.asDict() with its number and time: read back as the image endpoint's answer is.
    result = CountResult.fromDict(answer["frames"][3])
    assert result.count == 7 and len(result.coordinates) == 7 and result.estimatorName == "default"
    assert answer["estimator"] == "default"
    assert answer["source"] == {"kind": "video", "frames": 10, "fps": 10.0, "sampled": 10}
    changes = np.abs(np.diff(COUNTS)).mean()
    assert answer["summary"] == {"frames": 10, "mean_count": pytest.approx(np.mean(COUNTS)),
                                 "mean_abs_change": pytest.approx(changes)}
    assert answer["request_id"] == response.headers["X-Request-Id"]
    budget = budget_of(client)
    assert budget.memory.free == budget.memory.total and budget.in_flight == 0


async def test_a_clip_in_a_multipart_upload_sampled_every_n_frames_and_every_t_seconds(client):
    data = clip(frames_of(COUNTS), container="matroska")
    form = upload([("walk.mkv", data, "application/octet-stream")])  # known by its name
    response = await client.post(SEQUENCE, params={"every": "3"}, data=form)
    answer = await response.json()
    assert [(f["frame"], f["count"]) for f in answer["frames"]] == [(0, 1), (3, 7), (6, 5), (9, 2)]
    assert answer["source"]["sampled"] == 4

    form = upload([("clip", data, "video/x-matroska")])  # known by its Content-Type
    response = await client.post(SEQUENCE, params={"every_seconds": "0.45"}, data=form)
    answer = await response.json()
    # The first frame at or after 0 s, 0.45 s and 0.9 s (the frames are 0.1 s apart), as load_video samples it.
    assert [f["frame"] for f in answer["frames"]] == [0, 5, 9]
    assert [f["time"] for f in answer["frames"]] == pytest.approx([0.0, 0.5, 0.9])


async def test_images_in_part_order_with_their_rate_and_a_detect_area(client):
    response = await client.post(SEQUENCE, data=image_parts(COUNTS[:4]))
    answer = await response.json()
    assert [(f["frame"], f["time"], f["count"]) for f in answer["frames"]] == [(0, None, 1), (1, None, 3), (2, None, 2), (3, None, 7)]
    assert answer["source"] == {"kind": "images", "frames": 4, "fps": None, "sampled": 4}

    response = await client.post(SEQUENCE, params={"fps": "4", "every_seconds": "0.5"}, data=image_parts(COUNTS[:4]))
    answer = await response.json()
    assert [(f["frame"], f["time"]) for f in answer["frames"]] == [(0, 0.0), (2, 0.5)]

    # The detect area applies to every frame: a count of the left half only.
    frames = frames_of(COUNTS[:3])
    left = [int((pixels[:, :32].max(axis=2) > 200).sum()) for pixels in frames]
    response = await client.post(SEQUENCE, params={"detect_area": "0,0,32,48"}, data=image_parts(COUNTS[:3]))
    assert [f["count"] for f in (await response.json())["frames"]] == left

    # GIFs sent as images are frames, not clips (a single .gif part without a type would be read as a clip).
    gifs = []
    for index, pixels in enumerate(frames_of([2, 4])):
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "GIF")
        gifs.append((f"f{index}.gif", out.getvalue(), "image/gif"))
    answer = await (await client.post(SEQUENCE, data=upload(gifs))).json()
    assert answer["source"]["kind"] == "images" and [f["count"] for f in answer["frames"]] == [2, 4]


@pytest.mark.parametrize("query, fragment", [
    ({"every": "0"}, "every must be a whole number of frames >= 1, got 0"),
    ({"every": "two"}, "every must be a whole number of frames >= 1, got 'two'"),
    ({"every_seconds": "-1"}, "every_seconds must be a positive number of seconds, got -1.0"),
    ({"every_seconds": "nan"}, "every_seconds must be a positive number of seconds"),
    ({"every": "2", "every_seconds": "1"}, "give every (frames) or every_seconds, not both"),
    ({"fps": "25"}, "fps= is for a sequence of images: a clip has its own rate"),
    ({"targets": "T9"}, "query parameter targets"),
    ({"detect_area": "0,0,0,10"}, "width and height must be positive"),
])
async def test_bad_sampling_and_query_are_400_naming_the_parameter(client, query, fragment):
    response = await client.post(SEQUENCE, params=query, data=clip(frames_of([1, 2])), headers={"Content-Type": "video/mp4"})
    assert fragment in await error_of(response, 400)


async def test_what_is_not_a_clip_or_images_is_400_saying_what_to_send(client):
    error = await error_of(await client.post(SEQUENCE, data=b"not a video at all" * 50), 400)
    assert "the request body is not a video this server can read" in error and "multipart upload of images" in error

    error = await error_of(await client.post(SEQUENCE, data=upload([("clip.mp4", b"\x00" * 300, "video/mp4")])), 400)
    assert "the clip 'clip.mp4' is not a video this server can read" in error

    mixed = upload([("clip.mp4", clip(frames_of([1])), "video/mp4"), ("f.png", png(spots_frame(1, 0)), "image/png")])
    error = await error_of(await client.post(SEQUENCE, data=mixed), 400)
    assert "the upload has 2 files, 1 of them video ('clip.mp4'): send one clip, or only images" in error

    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("note", "no file here")
    form.add_field("other", "nor here")
    error = await error_of(await client.post(SEQUENCE, data=form), 400)
    assert "the multipart upload has no file part" in error

    broken = upload([("f0.png", png(spots_frame(1, 0)), "image/png"), ("f1.png", b"\x89PNG broken", "image/png")])
    error = await error_of(await client.post(SEQUENCE, data=broken), 400)
    assert "frame 1 ('f1.png')" in error

    error = await error_of(await client.post(SEQUENCE, params={"every_seconds": "1"}, data=image_parts([1, 2])), 400)
    assert "every_seconds needs the frames' times: give the images' rate too (fps=25)" in error
    # A raw H.264 stream (a camera's .h264 dump) has no timestamps: said so, and how to put it in a container.
    raw = upload([("cam.h264", clip(frames_of([1, 2]), container="h264"), "video/h264")])
    error = await error_of(await client.post(SEQUENCE, data=raw), 400)
    assert "'cam.h264': its 2 frame packets carry no timestamps" in error and "ffmpeg -i IN -c copy OUT.mp4" in error
    budget = budget_of(client)
    assert budget.memory.free == budget.memory.total and budget.in_flight == 0


async def test_unknown_broker_is_404(client):
    response = await client.post("/estimators/nope/estimate-sequence", data=clip(frames_of([1])))
    assert "nope" in await error_of(response, 404)


async def test_more_frames_than_max_sequence_frames_is_413_before_decoding(workbench_client, plugin_folder):
    client = await make_client(workbench_client, plugin_folder, max_sequence_frames=4)
    data = clip(frames_of(COUNTS))
    error = await error_of(await client.post(SEQUENCE, data=data, headers={"Content-Type": "video/mp4"}), 413)
    assert "this sequence samples 10 of its 10 frames, over this server's limit of 4 (max_sequence_frames)" in error
    assert "every=N frames" in error and "--max-sequence-frames" in error
    error = await error_of(await client.post(SEQUENCE, data=image_parts(COUNTS[:5])), 413)
    assert "samples 5 of its 5 frames" in error
    # Sampled down to the limit, the same clip is answered.
    response = await client.post(SEQUENCE, params={"every": "3"}, data=data, headers={"Content-Type": "video/mp4"})
    assert response.status == 200 and len((await response.json())["frames"]) == 4


async def test_frames_over_the_pixel_and_memory_budgets_are_413_naming_the_limit(workbench_client, plugin_folder):
    client = await make_client(workbench_client, plugin_folder, max_pixels=1000)
    error = await error_of(await client.post(SEQUENCE, data=clip(frames_of([1, 2]))), 413)
    assert "the request body: its frames are 64x48 = 3072 pixels, over this server's budget of 1000 pixels (max_pixels)" in error
    error = await error_of(await client.post(SEQUENCE, data=image_parts([1, 2])), 413)
    assert "frame 0 ('f000.png')" in error and "over the budget of 1000 pixels" in error

    client = await make_client(workbench_client, plugin_folder, max_decode_memory=2**20)
    error = await error_of(await client.post(SEQUENCE, data=clip(frames_of([1, 2]))), 413)
    assert "decoding its 64x48 h264 frames takes about 8 MiB, over this server's decode memory of 1 MiB (max_decode_memory)" in error
    budget = budget_of(client)
    assert budget.memory.free == budget.memory.total


async def test_a_body_over_max_body_size_is_413(workbench_client, plugin_folder):
    client = await make_client(workbench_client, plugin_folder, max_body_size=4096)
    frames = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8) for i in range(8)]
    data = clip(frames)
    assert len(data) > 4096
    assert (await client.post(SEQUENCE, data=data)).status == 413
    error = await error_of(await client.post(SEQUENCE, data=upload([("c.mp4", data, "video/mp4")])), 413)
    assert "max_body_size" in error


async def test_a_sequence_takes_one_place_among_max_in_flight(workbench_client, plugin_folder):
    module = plugin_folder.add("slow", slow_estimator(0.3))
    client = await workbench_client(plugin_folder.root, [module], default_estimators=default_factories(), max_in_flight=1)
    client.server.app[STATE].wb.use("peopleCountEstimator", "SlowPlugin")
    batches = sys.modules[module].BATCHES
    first = asyncio.ensure_future(client.post(SEQUENCE, data=clip(frames_of([1] * 8))))
    while not batches:
        await asyncio.sleep(0.02)
    response = await client.post(SEQUENCE, data=image_parts([1]))
    assert "already handling 1 estimate requests (max_in_flight)" in await error_of(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert len((await (await first).json())["frames"]) == 8


def test_workbench_serve_takes_the_frame_limit(plugin_folder):
    module = plugin_folder.add("slow", slow_estimator(0.01))
    process, port = start_serve(plugin_folder.root, module, "--max-sequence-frames", "2")
    try:
        status, _, body = http("127.0.0.1", port, request("POST", SEQUENCE, clip(frames_of([1, 2, 3]))), timeout=30)
    finally:
        stop_serve(process)
    assert status == 413 and "over this server's limit of 2 (max_sequence_frames)" in json.loads(body)["error"]


async def test_without_pyav_the_answer_says_how_to_install_it(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # what `import av` meets where PyAV is not installed
    error = await error_of(await client.post(SEQUENCE, data=clip(frames_of([1]))), 501)
    assert "pip install 'workbench[video]'" in error
    response = await client.post(SEQUENCE, data=image_parts([2, 3]))  # images need no PyAV
    assert [f["count"] for f in (await response.json())["frames"]] == [2, 3]


def test_a_client_that_goes_away_stops_the_work(plugin_folder, workbench_factory):
    module = plugin_folder.add("slow", slow_estimator(0.3))
    wb = workbench_factory(plugin_folder.root, [module], default_estimators=default_factories())
    wb.use("peopleCountEstimator", "SlowPlugin")
    handle = start_server(wb, port=0)
    batches = sys.modules[module].BATCHES
    body = clip(frames_of([1] * 40))
    sock = socket.create_connection((handle.host, handle.port), timeout=10)
    sock.sendall(request("POST", SEQUENCE, body, {"Content-Type": "video/mp4"}))
    wait_until(lambda: batches)
    sock.close()
    budget = handle.app[STATE].budget
    wait_until(lambda: budget.in_flight == 0 and budget.memory.free == budget.memory.total, within=5)
    estimated = sum(batches)
    time.sleep(1.0)  # three more batches' time: none starts
    assert sum(batches) == estimated < 40

    # The server answers the next request in full.
    sock = socket.create_connection((handle.host, handle.port), timeout=30)
    sock.sendall(request("POST", SEQUENCE + "?every=10", body, {"Content-Type": "video/mp4"}))
    status, _, answer = read_response(sock)
    sock.close()
    assert status == 200 and [f["frame"] for f in json.loads(answer)["frames"]] == [0, 10, 20, 30]
