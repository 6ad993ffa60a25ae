"""What every route does around its handler: request ids, JSON errors, the body-size check, monitoring points.

It wraps each handler rather than being an aiohttp middleware: an application with middlewares runs
aiohttp's middleware chain, a context manager included, on every request, while a wrapper is one call.
"""
from __future__ import annotations

import functools
import os
import re
import time
from typing import Awaitable, Callable

from aiohttp import web

from ._errors import ApiError, ErrorCode, error_response
from ._monitoring import RequestOutcome
from ._state import EXCHANGE, Exchange, ServerState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID_HEADER = "X-Request-Id"
# An incoming id is echoed when it is short and plain (a uuid, hex, or the service's "timestamp,uuid"), so
# it can be logged and correlated safely; anything else is replaced by a new one.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:,-]{0,127}")
# The route template of requests that matched no route: one constant, so scanners cannot create endless series.
UNMATCHED_ROUTE = "<unmatched>"


def request_id_of(request: web.Request) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER)
    if incoming is not None and _VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    # 128 random bits as 32 hex digits, the shape of a uuid4's hex: a quarter of uuid4()'s cost per request.
    return os.urandom(16).hex()


def observed(state: ServerState, handler: Handler, template: str) -> Handler:
    """``handler``, turning every outcome into a response with an id and a monitoring point.

    ``template`` is the route of the monitoring points (``/estimators/{broker}``); a plugin route sets its
    own path instead, in ``request[EXCHANGE].route``.
    """

    @functools.wraps(handler)
    async def observe(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        event_time = time.time()
        exchange = Exchange(request_id_of(request))
        request[EXCHANGE] = exchange
        error_code: ErrorCode | None = None
        try:
            length = request.content_length
            if length is not None and length > state.max_body_size:
                raise ApiError(413, ErrorCode.BODY_TOO_LARGE, _too_large(length, state.max_body_size))
            response = await handler(request)
        except ApiError as error:
            error_code = error.code
            response = error_response(error.status, error.message, exchange.request_id, error.headers)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            error_code = ErrorCode.BODY_TOO_LARGE if error.status == 413 else ErrorCode.HTTP_ERROR
            message = _http_message(error, state.max_body_size)
            # The exception's own headers describe its text body, not this JSON one.
            response = error_response(error.status, message, exchange.request_id)
        except Exception:
            state.logger.exception("%s %s failed (request %s)", request.method, request.path, exchange.request_id)
            error_code = ErrorCode.INTERNAL
            response = error_response(500, "internal server error; the server log has the details", exchange.request_id)
        response.headers[REQUEST_ID_HEADER] = exchange.request_id
        status = response.status
        if status >= 400 and error_code is None:
            error_code = ErrorCode.PLUGIN_STATUS  # only a plugin route answers an error status without raising
        # Plain values only: the dispatcher builds the points in its fan-out, when a listener wants them.
        outcome = RequestOutcome(
            exchange.route or f"{request.method}:{template}", status, exchange.request_id,
            time.perf_counter() - started, event_time, int(error_code) if status >= 400 and error_code is not None else None,
        )
        state.monitoring.submit((outcome,))
        return response

    return observe


def _too_large(size: int, limit: int) -> str:
    return f"the request body is {size} bytes, over this server's limit of {limit} bytes (max_body_size)"


def _http_message(error: web.HTTPException, limit: int) -> str:
    if error.status == 413:
        return f"the request body is over this server's limit of {limit} bytes (max_body_size)"
    return error.text or error.reason
