"""``VLImage.load(url=...)`` fetches over HTTP(S) only, as the SDK's ``requests.get`` does, and reads a bounded body
(issue 31, finding 9): it opened ``file://`` URLs (``file:///dev/zero`` read until MemoryError), followed redirects
to ``ftp://``, and read a 1 GiB answer whole (2.1 GB of memory)."""
from __future__ import annotations

import http.server
import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

import workbench.sdk.image as image_module
from helpers.http_serving import serving
from workbench.sdk import VLImage

SMALL_LIMIT = 2**20


def _png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((4, 6, 3), 200, np.uint8)).save(out, format="PNG")
    return out.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/image.png":
            body = _png()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/redirect?"):
            self.send_response(302)
            self.send_header("Location", self.path.split("?", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/claims-a-gibibyte":
            self.send_response(200)
            self.send_header("Content-Length", str(2**30))
            self.end_headers()
            self.wfile.write(b"\0" * 1024)  # then hangs up: a client that trusted the length would wait for it
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = b"\0" * 65536
            try:
                for _ in range(8 * SMALL_LIMIT // len(piece)):  # eight times the limit, then the end
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: what it should do

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def test_http_still_loads(server):
    assert VLImage.load(url=f"{server}/image.png").rect.width == 6


@pytest.mark.parametrize("url", ["file://{path}", "data:image/png;base64,iVBORw0KGgo=", "{path}"])
def test_urls_of_other_schemes_are_refused(tmp_path, url):
    picture = tmp_path / "image.png"
    picture.write_bytes(_png())
    with pytest.raises(ValueError, match="fetches http:// and https:// URLs only"):
        VLImage.load(url=url.format(path=picture))


def test_a_redirect_to_another_scheme_is_refused(server):
    with pytest.raises(ValueError, match="'ftp://127.0.0.1:9/image.png' is a ftp: URL"):
        VLImage.load(url=f"{server}/redirect?ftp://127.0.0.1:9/image.png")


def test_a_body_declared_too_large_is_refused_before_it_is_read(server):
    with pytest.raises(ValueError, match=f"declares {2**30} bytes"):
        VLImage.load(url=f"{server}/claims-a-gibibyte")


def test_a_body_past_the_limit_is_refused_as_it_comes(server, monkeypatch):
    monkeypatch.setattr(image_module, "_MAX_URL_BYTES", SMALL_LIMIT)
    with pytest.raises(ValueError, match=f"goes on past {SMALL_LIMIT} bytes"):
        VLImage.load(url=f"{server}/endless")
