"""Issue 31, finding 3: the server's memory and queue under hostile load.

A 2.5 KB WebP of 8000x7900 took the server to gigabytes; bodies up to 64 KiB were decoded on the event loop
whatever their pixels; 80 concurrent uploads queued for a minute and then got 504, with no 503; an estimate
past its deadline left the estimator's thread on the abandoned image, and the next requests got 504 too.
The hostile images are made here (``helpers.decode_bombs``); requests go over raw sockets to a real server.
"""
from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
from PIL import Image

from helpers.budget_plugins import THREADED_ESTIMATOR, slow_estimator
from helpers.decode_bombs import progressive_jpeg, tiny_webp
from helpers.hostile import http, request
from helpers.waiting import GENEROUS_S, wait_until
from workbench.images import check_pixel_budget

ESTIMATE = "/estimators/peopleCountEstimator/estimate"


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def _plugin_global(module: str, name: str):
    """A global of a plugin module the host imported (the record its plugin code keeps)."""
    return getattr(sys.modules[module], name)


def _post_all(host: str, port: int, bodies: list[bytes]) -> list[tuple[int, dict[str, str], bytes, float]]:
    """POST the bodies at once, each on its own connection; (status, headers, body, seconds) in order."""
    answers: list = [None] * len(bodies)

    def post(index: int) -> None:
        started = time.perf_counter()
        status, headers, body = http(host, port, request("POST", ESTIMATE, bodies[index]), timeout=GENEROUS_S)
        answers[index] = (status, headers, body, time.perf_counter() - started)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GENEROUS_S)
    return answers


def test_a_tiny_webp_of_63_mpx_is_refused_by_its_decoding_cost_not_its_bytes(serve, monkeypatch) -> None:
    monkeypatch.delenv("WORKBENCH_MAX_PIXELS", raising=False)
    bomb = tiny_webp(8000, 7900)
    assert len(bomb) < 100
    cost = check_pixel_budget(bomb, "bomb")  # under the 64 Mpx pixel budget, over a gigabyte to decode
    assert cost is not None and cost.pixels == 63_200_000 and cost.peak_bytes > 2**30
    _, host, port = serve([])

    started = time.perf_counter()
    status, _, body = http(host, port, request("POST", ESTIMATE, bomb))
    assert status == 413, body
    error = json.loads(body)["error"]
    assert "8000x7900 WEBP image (RGB) takes about 1213 MiB" in error
    assert "over this server's decode memory of 768 MiB (max_decode_memory)" in error
    assert time.perf_counter() - started < 2  # judged from the header: nothing was decoded


def test_what_decoding_takes_is_within_the_cost_read_from_the_header(tmp_path) -> None:
    """The cost model against the peak memory of real decodings, each in a fresh process (Pillow, libwebp,
    libjpeg-turbo): an RGBA PNG, a 16-bit PNG, a lossy WebP, a progressive 4:4:4 JPEG, 4 Mpx each."""
    images = {
        "rgba.png": _png(2000, 2000, "RGBA"),
        "grey16.png": _png(2000, 2000, "I;16"),
        "photo.webp": _encoded(Image.effect_noise((2000, 2000), 60).convert("RGB"), "WEBP", quality=80),
        "progressive444.jpg": _encoded(Image.new("RGB", (2000, 2000), (9, 99, 199)), "JPEG", progressive=True, subsampling=0),
    }
    # Linux's peak resident size, reset after the imports ("5" to clear_refs), minus the size before decoding.
    script = (
        "import sys\n"
        "from workbench.images import load_image\n"
        "def kib(field):\n"
        "    lines = open('/proc/self/status').read().splitlines()\n"
        "    return int(next(line for line in lines if line.startswith(field)).split()[1])\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = kib('VmRSS:')\n"
        "image = load_image(data)\n"
        "print((kib('VmHWM:') - before) * 1024)\n"
    )
    for name, data in images.items():
        path = tmp_path / name
        path.write_bytes(data)
        cost = check_pixel_budget(data, name)
        assert cost is not None
        measured = int(subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, timeout=GENEROUS_S,
        ).stdout)
        # Within the cost, and not so far below it that the budget would turn ordinary images away.
        assert cost.peak_bytes / 3 < measured <= cost.peak_bytes, (name, measured, cost)


def _encoded(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def test_estimates_past_max_in_flight_are_answered_503_at_once_with_retry_after(plugin_folder, serve) -> None:
    module = plugin_folder.add("slow", slow_estimator(1.0))
    wb, host, port = serve([module], host_options={"estimate_timeout": 10}, max_in_flight=2)
    wb.use("peopleCountEstimator", "SlowPlugin")
    image = progressive_jpeg(32, 24)

    answers = _post_all(host, port, [image] * 4)

    statuses = sorted(status for status, *_ in answers)
    assert statuses == [200, 200, 503, 503], answers
    for status, headers, body, seconds in answers:
        if status == 503:
            assert headers["retry-after"] == "1"
            assert "already handling 2 estimate requests (max_in_flight)" in json.loads(body)["error"]
            assert seconds < 0.9  # not queued behind the estimates in flight
    # The two admitted ones were estimated; the refused ones never reached the estimator.
    assert sum(_plugin_global(module, "BATCHES")) == 2


def test_an_image_holds_its_decoding_memory_until_it_is_answered(plugin_folder, serve) -> None:
    """Two images whose memory does not fit the budget together are estimated one after the other, though
    the host has two workers; with room for both, they run together."""
    module = plugin_folder.add("slow", slow_estimator(0.4))
    image = _png(256, 256)
    cost = check_pixel_budget(image, "image")
    assert cost is not None

    for budget, most_at_once in ((int(cost.peak_bytes * 1.5), 1), (cost.peak_bytes * 3, 2)):
        wb, host, port = serve([module], host_options={"estimate_timeout": 10, "workers": 2}, max_decode_memory=budget)
        wb.use("peopleCountEstimator", "SlowPlugin")
        most = _plugin_global(module, "MOST")
        most.clear()
        answers = _post_all(host, port, [image, image])
        assert [status for status, *_ in answers] == [200, 200], answers
        assert max(most) == most_at_once
        wb.close()


def test_a_client_gone_while_its_image_waits_for_memory_is_never_estimated(plugin_folder, serve) -> None:
    module = plugin_folder.add("slow", slow_estimator(0.8))
    image = _png(256, 256)
    cost = check_pixel_budget(image, "image")
    assert cost is not None
    wb, host, port = serve(
        [module], host_options={"estimate_timeout": 10, "workers": 2}, max_decode_memory=int(cost.peak_bytes * 1.5),
    )
    wb.use("peopleCountEstimator", "SlowPlugin")
    batches = _plugin_global(module, "BATCHES")

    first = threading.Thread(target=http, args=(host, port, request("POST", ESTIMATE, image)), kwargs={"timeout": 10})
    first.start()
    wait_until(lambda: len(batches) == 1)
    leaving = socket.create_connection((host, port))
    leaving.sendall(request("POST", ESTIMATE, image))  # waits for the first one's memory
    time.sleep(0.2)
    leaving.close()
    status, _, body = http(host, port, request("POST", ESTIMATE, image), timeout=10)
    first.join(10)
    assert status == 200, body
    assert len(batches) == 2  # the first and the last: the one whose client left was never estimated


def test_a_small_body_of_many_pixels_is_decoded_off_the_loop(serve) -> None:
    """A 6 KB PNG of 49 Mpx was decoded on the loop (bodies up to 64 KiB were): /health waited for it."""
    _, host, port = serve([], host_options={"estimate_timeout": 30})
    bomb = _png(7000, 7000, "1")  # within the budgets: decoded, about 0.35 s and 400 MB
    assert len(bomb) < 64 * 1024
    # Warm: the first requests import what they need, on the loop.
    assert http(host, port, request("POST", ESTIMATE, _png(40, 30, "1")))[0] == 200
    assert http(host, port, request("GET", "/health"))[0] == 200
    health: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            started = time.perf_counter()
            http(host, port, request("GET", "/health"))
            health.append(time.perf_counter() - started)

    poller = threading.Thread(target=poll)
    started = time.perf_counter()
    poller.start()
    status, _, body = http(host, port, request("POST", ESTIMATE + "?detect_area=0,0,8,8", bomb), timeout=30)
    took = time.perf_counter() - started
    done.set()
    poller.join(10)
    assert status == 200, body
    # Decoded on the loop, /health waited for nearly all of it; off the loop it answers between polls.
    assert max(health) < took / 4, (max(health), took)


def test_a_large_image_is_packed_in_pieces_that_leave_the_gil_to_others() -> None:
    """Pillow's raw encoder holds the GIL: packing 49 Mpx in one piece stopped the loop for 90 ms."""
    from workbench.sdk._decode import rgbPixels

    picture = Image.effect_noise((2100, 1000), 80).convert("RGB")  # 6.3 MB: two pieces and a part
    packed = rgbPixels(picture)
    assert packed.shape == (1000, 2100, 3) and not packed.flags.writeable
    np.testing.assert_array_equal(packed, np.asarray(picture))


def test_an_estimate_past_its_deadline_leaves_no_busy_estimator_to_the_next(plugin_folder, serve, host_log) -> None:
    """The estimator's thread was still on the abandoned image: the next two requests got 504 as well."""
    module = plugin_folder.add("threaded", THREADED_ESTIMATOR)
    wb, host, port = serve([module], host_options={"estimate_timeout": 0.5, "close_timeout": 3})
    wb.use("peopleCountEstimator", "ThreadedPlugin")
    created = _plugin_global(module, "CREATED")

    status, _, body = http(host, port, request("POST", ESTIMATE, _png(400, 300)))
    assert status == 504, body
    for _ in range(2):
        status, _, body = http(host, port, request("POST", ESTIMATE, _png(40, 30)))
        assert status == 200, body
    assert len(created) == 2  # the busy instance was replaced, and closed once its work ended
    assert any("missed the estimate deadline" in record.getMessage() for record in host_log.records)
