"""Plugin routes: resolved per request from the host's plugins, so ``wb.reload`` changes them live.

One catch-all route (``AnyPath``), registered after the built-in ones, takes every request the built-in
routes do not match and looks its path up among the routes of the active background plugins. Built-in
routes therefore win over a plugin route at the same path and method; when no plugin route matches either,
the catch-all answers 404, or 405 with ``Allow`` for a built-in path asked with another method.
"""
from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from aiohttp import web
from yarl import URL

from .._checks import whole_number
from ..host import PLUGIN_FAILURES, PluginTimeoutError
from ..plugins import PluginAnswerError, PluginHTTPResponse, Route
from ._errors import ApiError, ErrorCode
from ._request import BadRequestBody, PluginRequest, read_body, sends_body
from ._state import EXCHANGE, STATE

if TYPE_CHECKING:
    from aiohttp.web_urldispatcher import _InfoDict  # the return type of AbstractResource.get_info

# RFC 9110 header names are tokens; values may not hold CR, LF or NUL (they would split the response), and
# are ASCII here: one pattern checks a value in a single pass.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[^\r\n\x00\x80-\U0010ffff]*")
# Headers the server computes from the body itself; a plugin's own would contradict it.
_SERVER_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


class BadPluginResponse(ValueError):
    """A plugin route's answer cannot be sent as an HTTP response."""


class AnyPath(web.Resource):
    """The catch-all's resource: it matches every path without a pattern.

    A ``/{path:.*}`` resource runs a regular expression and unquotes its match on every request; the plugin
    route finds its route by the request's path instead, so the match needs no variables.
    """

    @property
    def canonical(self) -> str:
        return "/"  # indexed under "/", which aiohttp's router tries after every longer prefix

    def _match(self, path: str) -> dict[str, str]:
        return {}

    def raw_match(self, path: str) -> bool:
        return False  # never the resource of a route added at some path after it

    def get_info(self) -> _InfoDict:
        return {"path": "*"}

    def url_for(self, **kwargs: str) -> URL:
        raise TypeError("the plugin routes' catch-all has no URL of its own; use the plugin route's path")

    def add_prefix(self, prefix: str) -> None:
        raise TypeError("the plugin routes' catch-all cannot move under a prefix")


async def plugin_route(request: web.Request) -> web.StreamResponse:
    """Dispatch to the plugin route at the request's path, on the host's loop."""
    state = request.app[STATE]
    exchange = request[EXCHANGE]
    method = request.method
    route = state.routes.find(request.path)
    if route is None:
        raise await _unmatched(request)
    exchange.route = f"{method}:{route.path}"
    verb = _verb(method, route)
    if verb is None:
        methods = {m.upper() for m in route.methods} | ({"HEAD"} if "get" in route.methods else set())
        allowed = ", ".join(sorted(methods))
        raise ApiError(
            405, ErrorCode.METHOD_NOT_ALLOWED,
            f"{method} is not allowed on {route.path} (plugin {route.plugin}); allowed: {allowed}",
            headers={"Allow": allowed},
        )
    body = await read_body(request, state) if sends_body(request) else b""
    plugin_request = PluginRequest.from_aiohttp(request, body, exchange.request_id)
    try:
        if state.on_host_loop:
            # The handler is called in place: a sync handler's answer needs no coroutine and no loop hop.
            answer = route.call(verb, plugin_request, state.wb.plugin_app)
            if not isinstance(answer, PluginHTTPResponse):
                answer = await answer
        else:
            answer = await state.wb.run_on_host(route.dispatch(verb, plugin_request, state.wb.plugin_app))
        return to_web_response(answer)
    except BadRequestBody:
        raise
    except (BadPluginResponse, PluginAnswerError) as error:  # the workbench's own words on the answer's shape
        what = _describe(method, route)
        state.logger.error("%s answered a malformed response (request %s): %s", what, exchange.request_id, error)
        # The reason only in the log: it quotes the plugin's header values and its body's exception text.
        raise ApiError(
            500, ErrorCode.BAD_RESPONSE, f"{what} answered a malformed response; the server log has the details"
        ) from None
    except PluginTimeoutError as error:
        raise ApiError(504, ErrorCode.TIMEOUT, f"{_describe(method, route)}: {error}") from None
    except asyncio.CancelledError:
        if _being_cancelled():
            raise  # the client went away: the request itself is cancelled
        what = _describe(method, route)
        state.logger.error("%s raised CancelledError (request %s)", what, exchange.request_id)
        raise ApiError(
            500, ErrorCode.INTERNAL, f"{what} failed with CancelledError; a handler must not raise it"
        ) from None
    except PLUGIN_FAILURES as error:
        what = _describe(method, route)
        state.logger.exception("%s failed (request %s)", what, exchange.request_id)
        # The type only: an exception's text may hold what a client must not see (a database URL with its
        # password, a path); it is in the server's log under the request id the answer carries.
        raise ApiError(500, ErrorCode.INTERNAL, f"{what} failed with {type(error).__name__}; the server log has the "
                       "details") from error


def _verb(method: str, route: Route) -> str | None:
    """The method whose handler answers ``method`` on ``route`` (``HEAD`` is answered by ``GET``'s, and aiohttp
    sends no body), or ``None`` when it does not take it."""
    verb = method.lower()
    if verb in route.methods:
        return verb
    return "get" if verb == "head" and "get" in route.methods else None


def _describe(method: str, route: Route) -> str:
    # Built only when a request fails: formatting it for every request costs as much as a header check.
    return f"plugin route {method} {route.path} of plugin {route.plugin}"


async def _unmatched(request: web.Request) -> ApiError:
    """404, or 405 naming the methods of the built-in route at this path."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        match, methods = await resource.resolve(request)
        if match is None:  # the catch-all matches; a built-in resource at this path lists its methods
            allowed |= methods
    if allowed:
        listed = ", ".join(sorted(allowed))
        return ApiError(
            405, ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.path}; allowed: {listed}",
            headers={"Allow": listed},
        )
    return ApiError(404, ErrorCode.NOT_FOUND, f"no route at {request.path}; GET /plugins lists the plugin routes")


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def to_web_response(answer: PluginHTTPResponse) -> web.Response:
    """The aiohttp response for a plugin's answer; a malformed answer raises ``BadPluginResponse``."""
    try:
        status = whole_number(getattr(answer, "statusCode", None), "statusCode", minimum=200, maximum=599)
    except ValueError as error:
        raise BadPluginResponse(str(error)) from None
    headers, typed = _checked_headers(answer.headers)
    if not typed:
        headers = {**headers, "Content-Type": answer.contentType()}
    try:
        body = answer.bodyBytes()
    except PLUGIN_FAILURES as error:
        raise BadPluginResponse(f"its body cannot be encoded: {type(error).__name__}: {error}") from None
    # aiohttp copies the headers into the response's own multidict: the checked dict is never changed.
    return web.Response(status=status, body=body, headers=headers)


# Header sets already checked, as (name, value) pairs -> (the checked dict, whether it sets Content-Type).
# A route answers the same few header sets again and again; checking one costs more than finding it here.
# Only sets of plain str names and values are kept (a str always prints the same), at most _CHECKED_LIMIT.
_CHECKED: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], bool]] = {}
_CHECKED_LIMIT = 512


def _checked_headers(raw: object) -> tuple[dict[str, str], bool]:
    """``raw`` as a dict of valid header names and values, and whether it sets Content-Type."""
    if not isinstance(raw, dict):
        raise BadPluginResponse(f"headers must be a dict of str to str, got {type(raw).__name__}")
    try:
        key = tuple(raw.items())
        return _CHECKED[key]
    except (KeyError, TypeError):  # not seen yet, or a value that cannot be a key (a list): checked below
        pass
    headers = {}
    typed = False
    plain = True
    for name, value in raw.items():
        if type(name) is not str or type(value) is not str:
            plain = False
            name, value = str(name), str(value)
        if _HEADER_NAME.fullmatch(name) is None:
            raise BadPluginResponse(f"header name {name!r} is not a valid HTTP header name")
        if _HEADER_VALUE.fullmatch(value) is None:
            raise BadPluginResponse(f"header {name!r} has a value with CR, LF, NUL or non-ASCII characters: {value!r}")
        lowered = name.lower()
        if lowered in _SERVER_HEADERS:
            raise BadPluginResponse(f"header {name!r} is set by the server from the body; leave it out")
        typed = typed or lowered == "content-type"
        headers[name] = value
    if plain:
        if len(_CHECKED) >= _CHECKED_LIMIT:
            _CHECKED.clear()  # a route that varies its headers (an ETag, a timestamp) keeps this bounded
        _CHECKED[key] = (headers, typed)
    return headers, typed
