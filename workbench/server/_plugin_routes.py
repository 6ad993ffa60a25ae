"""Plugin routes: resolved per request from the host's plugins, so ``wb.reload`` changes them live.

One catch-all route, registered after the built-in ones, takes every request the built-in routes do not
match and looks its path up among the routes of the active background plugins. Built-in routes therefore
win over a plugin route at the same path and method; when no plugin route matches either, the catch-all
answers 404, or 405 with ``Allow`` for a built-in path asked with another method.
"""
from __future__ import annotations

from aiohttp import web

from ..plugins import PluginHTTPResponse
from ._errors import ApiError, ErrorCode
from ._request import BadRequestBody, PluginRequest
from ._state import EXCHANGE, STATE

CATCH_ALL = "/{plugin_route_path:.*}"


async def plugin_route(request: web.Request) -> web.StreamResponse:
    """Dispatch to the plugin route at the request's path, on the host's loop."""
    state = request.app[STATE]
    exchange = request[EXCHANGE]
    route = state.routes.find(request.path)
    if route is None:
        raise await _unmatched(request)
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
        answer = await state.wb.run_on_host(route.dispatch(request.method, plugin_request, state.wb))
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
