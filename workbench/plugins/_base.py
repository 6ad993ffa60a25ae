"""Event and background plugin bases, with the service's names and behaviour."""
from __future__ import annotations

import inspect
import logging
import types
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Union

from ._contract import SERVICE_HANDLER_BASE, derives_from
from ._errors import PluginAnswerError

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


@dataclass
class PluginHTTPResponse:
    """What a plugin route answers; the server turns it into an HTTP response."""

    statusCode: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def bodyBytes(self) -> bytes:
        """The body as bytes: str is UTF-8 encoded, bytes kept, None empty.

        Nothing else: the service's web framework sends str and bytes bodies only (the docs' examples answer
        text with its content type), so a dict or a list, which only a workbench could JSON-encode, would be
        a 500 there. ``TypeError`` says what to send instead.
        """
        if self.body is None:
            return b""
        if isinstance(self.body, (bytes, bytearray, memoryview)):
            return bytes(self.body)
        if isinstance(self.body, str):
            return self.body.encode()
        raise TypeError(
            f"the body is a {type(self.body).__name__}; the service sends str or bytes bodies only: answer "
            "json.dumps(body) with headers={'Content-Type': 'application/json'}"
        )

    def contentType(self) -> str:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        if isinstance(self.body, str):
            return "text/plain; charset=utf-8"
        return "application/octet-stream"


def pluginHTTPResponse(statusCode: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> PluginHTTPResponse:
    """Build a plugin route's response (the service's function of the same name)."""
    return PluginHTTPResponse(statusCode=statusCode, body=body, headers=dict(headers or {}))


class BasePlugin(ABC):
    """What every plugin kind shares: the host is given as ``app`` (``app.ctx.logger``, ``app.config``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def initialize(self) -> None:
        """Prepare the plugin (open connections, register routes)."""

    async def start(self) -> None:
        """Start background work without awaiting its end."""

    async def close(self) -> None:
        """Release everything the plugin opened."""


class BaseEventPlugin(BasePlugin):
    """A plugin called with the points of each event named ``eventName``."""

    eventName: str = ""

    @abstractmethod
    async def handleEvent(self, points: list[Any], logger: logging.Logger) -> None:
        """Handle one batch of event points."""


class BaseBackgroundHandler:
    """A class route handler: methods named after HTTP verbs (``get``, ``post``...) answer requests."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def response(self, body: Any = None, headers: dict[str, str] | None = None, statusCode: int = 200) -> PluginHTTPResponse:
        return pluginHTTPResponse(statusCode=statusCode, body=body, headers=headers)

    @classmethod
    def allowedMethods(cls) -> frozenset[str]:
        return frozenset(m for m in HTTP_METHODS if callable(getattr(cls, m, None)))


def _as_plugin_response(result: Any) -> PluginHTTPResponse | None:
    """A route's answer as a ``PluginHTTPResponse``; the real ``luna_plugins`` one is read by its fields."""
    if isinstance(result, PluginHTTPResponse):
        return result
    if all(hasattr(result, name) for name in ("statusCode", "body", "headers")):
        return PluginHTTPResponse(statusCode=result.statusCode, body=result.body, headers=dict(result.headers or {}))
    return None


RouteHandler = Union[type[BaseBackgroundHandler], Callable[..., Union[PluginHTTPResponse, Awaitable[PluginHTTPResponse]]]]


@dataclass(frozen=True)
class Route:
    """A route a background plugin registered with ``addRoute``."""

    path: str
    handler: RouteHandler
    methods: frozenset[str]
    plugin: str

    @property
    def isClassHandler(self) -> bool:
        return isinstance(self.handler, type)

    def call(self, method: str, request: Any, app: Any) -> PluginHTTPResponse | Awaitable[PluginHTTPResponse]:
        """Call the handler for ``method`` on the running loop; the caller has checked ``method`` is allowed.

        A sync handler's ``PluginHTTPResponse`` comes back as it is, with nothing to await; any other answer
        comes back as an awaitable of the ``PluginHTTPResponse``, which raises ``TypeError`` for an answer
        that is not one.
        """
        if self.isClassHandler:
            result = getattr(self.handler(app), method.lower())(request)
        else:
            result = self.handler(request)
        if type(result) is PluginHTTPResponse:  # a sync handler's usual answer: nothing to await or convert
            return result
        return self._converted(result)

    async def dispatch(self, method: str, request: Any, app: Any) -> PluginHTTPResponse:
        """``call``, awaited: the handler's answer as a ``PluginHTTPResponse``."""
        answer = self.call(method, request, app)
        return answer if isinstance(answer, PluginHTTPResponse) else await answer

    async def _converted(self, result: Any) -> PluginHTTPResponse:
        if inspect.isawaitable(result):
            result = await result
        response = _as_plugin_response(result)
        if response is None:
            raise PluginAnswerError(
                f"route {self.path!r} of plugin {self.plugin!r} returned {type(result).__name__}; "
                "return self.response(...) or pluginHTTPResponse(...)"
            )
        return response


class BaseBackgroundPlugin(BasePlugin):
    """A plugin for background work and custom routes."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        # Name-mangled: a plugin's own ``self._routes`` (a name the service's docs leave to plugins) must not
        # replace the list addRoute keeps.
        self.__routes: list[Route] = []

    def addRoute(self, path: str, handler: RouteHandler, methods: Iterable[str] | None = None) -> None:
        """Register ``handler`` at ``path``.

        A ``BaseBackgroundHandler`` subclass answers the verbs it defines; a plain function answers
        ``methods`` (default: GET only).
        """
        owner = type(self).__name__
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"plugin {owner!r}: route path {path!r} must be a string starting with '/'")
        if inspect.isclass(handler):
            if not derives_from(handler, SERVICE_HANDLER_BASE, BaseBackgroundHandler):
                raise TypeError(
                    f"plugin {owner!r}: route {path!r} handler {handler.__name__} must subclass BaseBackgroundHandler"
                )
            allowed = frozenset(m for m in HTTP_METHODS if callable(getattr(handler, m, None)))
            if methods is not None:
                allowed = allowed & {m.lower() for m in methods}
            if not allowed:
                raise ValueError(f"plugin {owner!r}: handler {handler.__name__} for {path!r} defines no HTTP method (get, post, ...)")
        elif callable(handler):
            allowed = frozenset(m.lower() for m in (methods or {"get"}))
            unknown = allowed - set(HTTP_METHODS)
            if unknown:
                raise ValueError(f"plugin {owner!r}: route {path!r} has unknown HTTP methods {sorted(unknown)}")
        else:
            raise TypeError(f"plugin {owner!r}: route {path!r} handler must be a BaseBackgroundHandler subclass or a function")
        if any(route.path == path for route in self.__routes):
            raise ValueError(f"plugin {owner!r}: route {path!r} is registered twice")
        self.__routes.append(Route(path=path, handler=handler, methods=frozenset(allowed), plugin=owner))

    @property
    def routes(self) -> list[Route]:
        return list(self.__routes)


def adopt_routes(plugin: Any) -> None:
    """Let a background plugin of the service's real ``luna_plugins`` register its routes with the workbench.

    The real ``addRoute`` registers on the service's own web application, which does not run here, so the
    plugin instance is given the stand-in's ``addRoute`` (same signature, same checks) instead.
    """
    if not isinstance(plugin, BaseBackgroundPlugin):
        plugin._BaseBackgroundPlugin__routes = []
        plugin.addRoute = types.MethodType(BaseBackgroundPlugin.addRoute, plugin)


def routes_of(plugin: Any) -> list[Route]:
    """The routes a background plugin registered (see ``adopt_routes`` for the real package's plugins)."""
    return list(getattr(plugin, "_BaseBackgroundPlugin__routes", ()))
