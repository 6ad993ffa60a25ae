"""``PluginRequest``: what a plugin route handler receives as ``request``.

The server reads the whole body on its own loop and hands the plugin this self-contained object on the
host's loop; it holds plain data only (no loop-bound stream), so it is safe on either loop.
"""
from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDictProxy, MultiDictProxy
from yarl import URL

from ._errors import ApiError, ErrorCode
from ._state import ServerState

_UNSET = object()


class BadRequestBody(ApiError, ValueError):
    """The body cannot be read as the handler asked (not JSON, not text in its charset): answered as 400."""

    def __init__(self, message: str) -> None:
        super().__init__(400, ErrorCode.BAD_PARAMETER, message)


# What reading a body raises when the client sent it wrong (a malformed chunked encoding, or, where aiohttp
# decompresses, a body that is not in its Content-Encoding): the client's error, answered 400.
BODY_ERRORS = (web.RequestPayloadError, HttpProcessingError)

# zlib's wbits for each Content-Encoding the server decodes itself (gzip header, zlib header).
_ZLIB_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


async def read_body(request: web.BaseRequest, state: ServerState) -> bytes:
    """The whole body, decoded from its ``Content-Encoding``; a body sent wrong raises ``ApiError`` 400/413/415.

    Under ``start_server`` aiohttp hands bodies over as sent (``state.raw_bodies``) and they are decoded
    here: a body that is not in its encoding then costs the client a 400 and leaves the connection usable
    (aiohttp's own decoder breaks the connection), and a small body that inflates past ``max_body_size``
    is refused without being inflated further.
    """
    if not sends_body(request):
        return b""  # no body (a GET): nothing to read or decode
    encoding = request.headers.get("Content-Encoding")
    try:
        if request.content.is_eof():
            # The whole body has arrived: reading it cannot wait on the client, so it needs no deadline,
            # which would cost more than the rest of a small request's handling.
            body = await request.read()
        else:
            async with asyncio.timeout(state.read_timeout):
                body = await request.read()
    except TimeoutError:
        raise body_too_slow(state) from None
    except BODY_ERRORS as error:
        cause = error.__cause__ or error
        raise ApiError(
            400, ErrorCode.BAD_BODY,
            f"the request body cannot be read ({type(cause).__name__}: {cause}); check its Content-Encoding "
            "and Transfer-Encoding",
        ) from None
    if not state.raw_bodies or encoding is None:
        return body
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    return _decoded_body(body, encoding, state.max_body_size)


def sends_body(request: web.BaseRequest) -> bool:
    """Whether the request has a body to read (a GET usually has none); checking costs less than ``read_body``."""
    return request.body_exists or "Content-Encoding" in request.headers


def body_too_slow(state: ServerState) -> ApiError:
    """The answer to a body that did not arrive within ``read_timeout`` (a client trickling it in)."""
    return ApiError(
        408, ErrorCode.BODY_TIMEOUT,
        f"the request body did not arrive within {state.read_timeout:g} s (this server's read_timeout)",
    )


def _decoded_body(body: bytes, encoding: str, limit: int) -> bytes:
    wbits = _ZLIB_WBITS.get(encoding)
    if wbits is None:
        raise ApiError(
            415, ErrorCode.BAD_BODY, f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none"
        )
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, limit + 1)
        if encoding == "deflate" and not data and body and not decompressor.eof:
            raise zlib.error("no deflate data")
    except zlib.error as error:
        if encoding != "deflate":
            raise ApiError(400, ErrorCode.BAD_BODY, f"the request body is not valid {encoding} data ({error})") from None
        try:  # raw deflate without the zlib header, which some clients send
            data = zlib.decompressobj(-15).decompress(body, limit + 1)
        except zlib.error:
            raise ApiError(400, ErrorCode.BAD_BODY, f"the request body is not valid deflate data ({error})") from None
    if len(data) > limit:
        raise ApiError(
            413, ErrorCode.BODY_TOO_LARGE,
            f"the request body inflates past this server's limit of {limit} bytes (max_body_size)",
        )
    return data


class PluginRequest:
    """A request to a plugin route.

    Attributes:
        method: the HTTP method, upper case (``"GET"``).
        path: the request path (``"/teapot"``); query_string: the raw query string.
        query: the query parameters (a ``MultiDictProxy``: ``query["k"]``, ``query.get("k")``,
            ``query.getall("k")``).
        headers: the request headers (case-insensitive ``CIMultiDictProxy``).
        body: the raw body as ``bytes`` (``b""`` when there is none).
        content_type: the media type of the body (``"application/json"``), without parameters.
        charset: the charset of the body, or ``None``.
        url: the request's relative URL (a ``yarl.URL``).
        request_id: the request's id, also sent back as the ``X-Request-Id`` header.
        remote: the client's address.

    Reading the body the service's (sanic-style) way is synchronous: ``request.body`` and ``request.json``
    (the parsed JSON body, ``None`` when the body is empty). The aiohttp way is ``await request.read()``
    and ``await request.text()``; ``json`` is the sanic-style property, not an aiohttp coroutine, because
    plugins written for the service use it that way. A body that is not valid JSON (or not text in its
    charset) raises ``BadRequestBody``, a ``ValueError`` that the server answers with 400 when the plugin
    lets it through.
    """

    __slots__ = ("method", "url", "headers", "body", "request_id", "remote", "_json")

    def __init__(
        self,
        *,
        method: str,
        url: URL,
        headers: CIMultiDictProxy[str],
        body: bytes,
        request_id: str,
        remote: str | None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.request_id = request_id
        self.remote = remote
        self._json: Any = _UNSET

    @classmethod
    def from_aiohttp(cls, request: web.BaseRequest, body: bytes, request_id: str) -> "PluginRequest":
        """Copy what a handler may need from an aiohttp request whose body has been read."""
        # The URL and headers are immutable, so the query and content type are parsed only when asked for.
        return cls(
            method=request.method, url=request.rel_url, headers=request.headers, body=body, request_id=request_id,
            remote=request.remote,
        )

    @property
    def path(self) -> str:
        return self.url.path

    @property
    def query_string(self) -> str:
        return self.url.query_string

    @property
    def query(self) -> MultiDictProxy[str]:
        return self.url.query

    @property
    def content_type(self) -> str:
        """The media type of the body without parameters; ``application/octet-stream`` when not given."""
        media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        return media_type or "application/octet-stream"

    @property
    def charset(self) -> str | None:
        for parameter in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None

    async def read(self) -> bytes:
        """The raw body (aiohttp's ``await request.read()``)."""
        return self.body

    async def text(self) -> str:
        """The body decoded with its charset, UTF-8 by default (aiohttp's ``await request.text()``)."""
        return self._decoded()

    @property
    def json(self) -> Any:
        """The body parsed as JSON (sanic's ``request.json``); ``None`` for an empty body."""
        if self._json is _UNSET:
            if not self.body:
                self._json = None
            else:
                try:
                    self._json = json.loads(self._decoded())
                except json.JSONDecodeError as error:
                    raise BadRequestBody(f"the request body is not valid JSON: {error}") from None
                except RecursionError:
                    raise BadRequestBody("the request body is JSON nested too deeply to parse") from None
                except ValueError:  # an integer past Python's limit on digits (sys.get_int_max_str_digits)
                    raise BadRequestBody("the request body is JSON with an integer too long to read") from None
        return self._json

    def _decoded(self) -> str:
        encoding = self.charset or "utf-8"
        try:
            return self.body.decode(encoding)
        except LookupError:
            raise BadRequestBody(f"the request body declares an unknown charset {encoding!r}") from None
        except UnicodeDecodeError as error:
            raise BadRequestBody(f"the request body is not text in {encoding}: {error}") from None

    def __repr__(self) -> str:
        return f"<PluginRequest {self.method} {self.path} body={len(self.body)} bytes request_id={self.request_id}>"
