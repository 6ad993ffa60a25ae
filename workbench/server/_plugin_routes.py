"""Plugin routes: resolved per request from ``wb.routes``, so ``wb.reload`` changes them live.

Requests the router matched go to the built-in API; the others are looked up among the routes of the
active background plugins. Built-in routes therefore win over a plugin route at the same path and method,
and the router's own 404 and 405 answer when no plugin route matches either.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from ..plugins import PluginHTTPResponse, Route
from ._errors import ApiError, ErrorCode
from ._host import on_host
from ._request import BadRequestBody, PluginRequest
from ._state import EXCHANGE, ServerState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def find_route(routes: list[Route], path: str) -> Route | None:
    for route in routes:
        if route.path == path:
            return route
    return None


def plugin_routes_middleware(state: ServerState) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The middleware that answers requests the router did not match with the plugins' routes."""

    @web.middleware
    async def plugin_routes(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.http_exception is None:
            return await handler(request)
        route = find_route(state.wb.routes, request.path)
        if route is None:
            return await handler(request)
        exchange = request[EXCHANGE]
        exchange.route = f"{request.method}:{route.path}"
        if request.method.lower() not in route.methods:
            allowed = ", ".join(sorted(m.upper() for m in route.methods))
            raise ApiError(
                405, ErrorCode.METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {route.path} (plugin {route.plugin}); allowed: {allowed}",
                headers={"Allow": allowed},
            )
        body = await request.read()
        plugin_request = PluginRequest.from_aiohttp(request, body, exchange.request_id)
        try:
            answer = await on_host(state.wb, route.dispatch(request.method, plugin_request, state.wb))
            return to_web_response(answer)
        except BadRequestBody:
            raise
        except Exception as error:
            state.logger.exception(
                "plugin route %s %s of plugin %s failed (request %s)", request.method, route.path, route.plugin,
                exchange.request_id,
            )
            raise ApiError(
                500, ErrorCode.INTERNAL,
                f"plugin route {request.method} {route.path} of plugin {route.plugin} failed with "
                f"{type(error).__name__}: {error}",
            ) from error

    return plugin_routes


def to_web_response(answer: PluginHTTPResponse) -> web.Response:
    """The aiohttp response for a plugin's answer; a malformed answer raises ``TypeError``/``ValueError``."""
    status = answer.statusCode
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ValueError(f"statusCode must be an int from 200 to 599, got {status!r}")
    if not isinstance(answer.headers, dict):
        raise TypeError(f"headers must be a dict of str to str, got {type(answer.headers).__name__}")
    headers = {str(name): str(value) for name, value in answer.headers.items()}
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = answer.contentType()
    return web.Response(status=status, body=answer.bodyBytes(), headers=headers)
