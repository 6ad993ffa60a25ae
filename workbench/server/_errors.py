"""The server's error codes and the one exception its handlers raise to answer an error."""
from __future__ import annotations

from enum import IntEnum
from typing import Any, Mapping

from aiohttp import web


class ErrorCode(IntEnum):
    """The ``error_code`` field of ``error`` monitoring points: what went wrong, finer than the status."""

    INTERNAL = 1
    """An estimator, a plugin route or the server raised (500)."""
    NOT_FOUND = 2
    """No built-in or plugin route at the path (404)."""
    METHOD_NOT_ALLOWED = 3
    """The route exists but does not answer this method (405)."""
    BODY_TOO_LARGE = 4
    """The body is over ``max_body_size`` (413)."""
    BAD_IMAGE = 5
    """The estimate body is empty or not a decodable image (400)."""
    BAD_PARAMETER = 6
    """A query parameter or a JSON body is malformed (400)."""
    UNKNOWN_BROKER = 7
    """No estimator broker of that name (404)."""
    UNKNOWN_ESTIMATOR = 8
    """No estimator of that name for the broker (400)."""
    SWITCHING_DISABLED = 9
    """Estimator switching was not enabled for this server (403)."""
    PLUGIN_STATUS = 10
    """A plugin route answered an error status itself (the plugin's own response is passed on)."""
    HTTP_ERROR = 11
    """Any other HTTP error raised by aiohttp (the status says which)."""
    TIMEOUT = 12
    """An estimator or a plugin route did not answer within the host's deadline (504)."""
    BAD_BODY = 13
    """The body cannot be read: a bad ``Content-Encoding``, a malformed multipart body, JSON nested too deep (400)."""
    IMAGE_TOO_LARGE = 14
    """The image header claims more pixels than ``max_pixels`` (413); nothing was decoded."""
    BAD_RESPONSE = 15
    """A plugin route answered a malformed response (a header with CR/LF, a bad status) (500)."""
    BODY_TIMEOUT = 16
    """The request body did not arrive within ``read_timeout`` (408)."""
    UNAUTHORIZED = 17
    """The server requires a token and the request has none, or another (401)."""
    FOREIGN_HOST = 18
    """The ``Host`` header names neither the loopback nor an allowed host: DNS rebinding, or a name to allow (403)."""
    FOREIGN_ORIGIN = 19
    """A web page of another origin asked a built-in route (403)."""
    NOT_JSON = 20
    """A route that changes state was sent a body that is not ``application/json`` (415)."""
    OVERLOADED = 21
    """The server is already handling ``max_in_flight`` estimate requests (503, with ``Retry-After``)."""
    BAD_VIDEO = 22
    """A sequence's clip is not a video PyAV reads, or one of its frames does not decode (400)."""
    TOO_MANY_FRAMES = 23
    """A sequence samples more frames than ``max_sequence_frames`` (413); nothing was decoded."""
    VIDEO_UNAVAILABLE = 24
    """PyAV is not installed where the server runs, so it reads no video (501)."""
    ESTIMATOR_OUTPUT = 25
    """The estimator answered a result the host refuses (a non-finite map, more points than the count, ...) (500)."""


class ApiError(Exception):
    """Raised by handlers to answer ``{"error": message, "request_id": ...}`` with ``status``."""

    def __init__(self, status: int, code: ErrorCode, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, message: str, request_id: str, headers: Mapping[str, Any] | None = None) -> web.Response:
    """The JSON error body every failure of the server answers with."""
    return web.json_response({"error": message, "request_id": request_id}, status=status, headers=headers)
