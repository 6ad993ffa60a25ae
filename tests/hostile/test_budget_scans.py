"""Issue 31, finding 4: the progressive-JPEG scan bomb.

A valid 63.5 KB JPEG of 4 Mpx with thousands of refinement scans held the event loop for 16.5 s (each scan is
one more pass over every block); six copies held the decoding threads for 130 s, and ``serve`` took 107 s to
exit after SIGTERM. The scans are counted from the markers before anything is decoded, and a JPEG with more
than ``MAX_JPEG_SCANS`` is refused, naming the limit. The bombs are made here (``helpers.decode_bombs``).
"""
from __future__ import annotations

import json
import signal
import socket
import time

import pytest

from helpers.decode_bombs import progressive_jpeg, scan_bomb_jpeg
from helpers.hostile import http, request
from helpers.serve_cli import served
from workbench._pixel_budget import MAX_JPEG_SCANS
from workbench.images import ImageTooLargeError, check_pixel_budget, load_image

ESTIMATE = "/estimators/peopleCountEstimator/estimate"


def test_load_image_refuses_a_jpeg_with_more_scans_than_the_limit_and_reads_a_progressive_one(tmp_path) -> None:
    standard = progressive_jpeg(64, 48)
    cost = check_pixel_budget(standard, "standard")
    assert cost is not None and cost.scans == 10  # libjpeg's standard progression
    assert load_image(standard).rect.width == 64

    bomb = scan_bomb_jpeg(64, 48, MAX_JPEG_SCANS + 1)
    with pytest.raises(ImageTooLargeError, match=rf"crowd.jpg: the JPEG has {MAX_JPEG_SCANS + 1} scans, over the limit of {MAX_JPEG_SCANS} \(workbench._pixel_budget.MAX_JPEG_SCANS"):
        load_image(bomb, "crowd.jpg")
    path = tmp_path / "crowd.jpg"  # a file, as the datasets read them
    path.write_bytes(bomb)
    with pytest.raises(ImageTooLargeError, match="scans, over the limit"):
        load_image(path)
    assert load_image(scan_bomb_jpeg(64, 48, MAX_JPEG_SCANS)).rect.width == 64


def test_the_server_refuses_a_scan_bomb_at_once_naming_the_limit(serve) -> None:
    bomb = scan_bomb_jpeg(2048, 2048, 2000)
    assert len(bomb) < 64 * 1024  # what was decoded on the loop
    _, host, port = serve([])

    started = time.perf_counter()
    status, _, body = http(host, port, request("POST", ESTIMATE, bomb))
    assert status == 413, body
    assert f"the JPEG has 2000 scans, over the limit of {MAX_JPEG_SCANS}" in json.loads(body)["error"]
    assert time.perf_counter() - started < 2  # decoding it took 6 s of the loop here


@pytest.mark.slow  # a `workbench serve` subprocess
def test_serve_exits_within_its_close_deadline_with_scan_bombs_sent(plugin_folder) -> None:
    bomb = scan_bomb_jpeg(2048, 2048, 2000)
    with served(plugin_folder.root, "", "--close-timeout", "1") as (process, port):
        assert http("127.0.0.1", port, request("GET", "/health"))[0] == 200
        clients = []
        for _ in range(6):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(request("POST", ESTIMATE, bomb))
            clients.append(client)
        time.sleep(0.5)
        stopped = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        # The close deadline (1 s) and the server's own stop (up to 5 s for requests in flight) bound it.
        assert process.wait(timeout=10) == 0
        assert time.perf_counter() - stopped < 10
        for client in clients:
            client.close()
