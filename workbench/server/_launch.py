"""``start_server``: the application run by an aiohttp runner on the host's own loop."""
from __future__ import annotations

import asyncio
import functools
import html
import logging
from typing import Any

from aiohttp import web

from .._checks import seconds, whole_number
from ..host import Workbench
from ._accept_errors import condense_accept_errors
from ._access import exposure
from ._app import build_app
from ._host import host_loop, on_host_loop
from ._observe import REQUEST_ID_HEADER, request_id_of
from ._state import STATE

# Seconds a stop waits for requests in flight before closing their connections.
_SHUTDOWN_TIMEOUT = 5.0
# Seconds a connection may stay open without a request (from its opening or its last response) before the
# server closes it: idle clients and clients that never send a request cannot hold sockets forever.
DEFAULT_IDLE_TIMEOUT = 15.0

logger = logging.getLogger("workbench.server")


class ServerHandle:
    """A server started by ``start_server``: its address, and ``stop()``/``await astop()`` to end it."""

    def __init__(self, wb: Workbench, runner: web.AppRunner, host: str, port: int) -> None:
        self._wb = wb
        self._runner = runner
        self.host = host
        self.port = port
        self._stopping: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://host:port``, with an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def app(self) -> web.Application:
        """The application served (``build_app``'s)."""
        return self._runner.app

    @property
    def token(self) -> str | None:
        """The token every request must send as ``Authorization: Bearer <token>``, or ``None`` when none is needed
        (on loopback unless one was given; off loopback one is made unless ``insecure_no_token=True``)."""
        return self._runner.app[STATE].access.token

    @property
    def running(self) -> bool:
        return self._stopping is None and host_loop(self._wb) is not None

    def stop(self) -> None:
        """Stop serving: close the listening socket, finish requests in flight, flush monitoring points.

        Blocks until done; call it from any thread but the host's loop (there, ``await handle.astop()``).
        Stopping twice, or after ``wb.close()`` (which stops the server itself), does nothing.
        """
        if on_host_loop(self._wb):
            raise RuntimeError("handle.stop() blocks, and this is the host's own loop: use `await handle.astop()`")
        loop = host_loop(self._wb)
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop_here(), loop).result()

    async def astop(self) -> None:
        """``stop()`` for async code, on any loop."""
        if host_loop(self._wb) is not None:
            await self._wb.run_on_host(self._stop_here())

    async def _stop_here(self) -> None:
        # Runs on the host's loop only, so there is no race between concurrent stops.
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._runner.cleanup())
        await asyncio.shield(self._stopping)

    def __repr__(self) -> str:
        return f"<ServerHandle {self.url} {'running' if self.running else 'stopped'}>"

    def _repr_html_(self) -> str:
        if not self.running:
            return f"<div><b>workbench server</b> {html.escape(self.url)} (stopped)</div>"
        links = ", ".join(
            f"<a href='{html.escape(self.url + path)}' target='_blank'>{path}</a>" for path in ("/health", "/plugins", "/estimators")
        )
        routes = ", ".join(
            f"{'|'.join(sorted(m.upper() for m in r.methods))} <code>{html.escape(r.path)}</code>" for r in self._wb.routes
        ) or "none"
        token = "" if self.token is None else "<br>requests need its token: <code>handle.token</code>"
        return (
            f"<div><b>workbench server</b> running at <a href='{html.escape(self.url)}' target='_blank'>"
            f"{html.escape(self.url)}</a><br>built-in: {links}<br>plugin routes: {routes}{token}</div>"
        )


def start_server(
    wb: Workbench, *, host: str = "127.0.0.1", port: int = 0, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    token: str | None = None, insecure_no_token: bool = False, **build_app_options: Any,
) -> ServerHandle:
    """Serve ``build_app(wb, **build_app_options)`` on ``host:port`` from the host's loop; returns at once.

    ``port=0`` picks a free port (``handle.port``). On loopback (the default) requests need no token unless
    ``token`` is given; on any other address every request needs one, ``token`` or a new one (``handle.token``),
    unless ``insecure_no_token=True`` says the network is trusted. ``idle_timeout`` closes connections that send no request
    for that many seconds. A request whose client disconnects is cancelled, plugin code included. The server keeps running between notebook cells until
    ``handle.stop()`` or ``wb.close()``. Call it from any thread but the host's loop (there, ``await
    astart_server(...)``).
    """
    if on_host_loop(wb):
        raise RuntimeError("start_server blocks, and this is the host's own loop: use `await astart_server(wb, ...)`")
    app = build_app(wb, **_exposed(host, port, token, insecure_no_token, build_app_options))
    return asyncio.run_coroutine_threadsafe(_start(wb, app, host, port, idle_timeout), wb.loop).result()


async def astart_server(
    wb: Workbench, *, host: str = "127.0.0.1", port: int = 0, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    token: str | None = None, insecure_no_token: bool = False, **build_app_options: Any,
) -> ServerHandle:
    """``start_server`` for async code, on any loop."""
    app = build_app(wb, **_exposed(host, port, token, insecure_no_token, build_app_options))
    return await wb.run_on_host(_start(wb, app, host, port, idle_timeout))


def _exposed(host: str, port: int, token: str | None, insecure_no_token: bool, options: dict[str, Any]) -> dict[str, Any]:
    """``build_app``'s options with the token and allowed hosts a server on ``host`` needs (``exposure``)."""
    _check_address(host, port)
    token, hosts = exposure(host, token, insecure_no_token, options.pop("allowed_hosts", ()), logger)
    return {**options, "token": token, "allowed_hosts": hosts}


async def _start(wb: Workbench, app: web.Application, host: str, port: int, idle_timeout: float) -> ServerHandle:
    seconds(idle_timeout, "idle_timeout")
    condense_accept_errors(asyncio.get_running_loop(), logger)
    runner = web.AppRunner(
        app, handle_signals=False, shutdown_timeout=_SHUTDOWN_TIMEOUT, keepalive_timeout=idle_timeout,
        # A client that goes away cancels its request: abandoned requests must not pile up in memory.
        handler_cancellation=True,
        # Bodies are decoded by the handlers (read_body): a body that is not in its Content-Encoding is then
        # a 400 on a connection that stays usable, where aiohttp's own decoder drops the connection.
        auto_decompress=False,
    )
    app[STATE].raw_bodies = True
    app[STATE].on_host_loop = True  # _start runs on the host's loop, and so will the server
    await runner.setup()
    assert runner.server is not None
    runner.server.request_factory = functools.partial(app._make_request, _cls=_IdentifiedRequest)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise OSError(
            error.errno, f"cannot listen on {host}:{port} ({error.strerror or error}); choose another port, or port=0 for a free one"
        ) from None
    except BaseException:
        await runner.cleanup()
        raise
    handle = ServerHandle(wb, runner, host, int(runner.addresses[0][1]))
    wb.add_cleanup(handle.astop)
    return handle


class _IdentifiedRequest(web.Request):
    """A request whose every response has an ``X-Request-Id``, those aiohttp makes itself included.

    The routes' wrapper sets the id on the responses of handlers; the answers aiohttp gives to malformed
    requests (a header line over 8 KiB, a bad request line) never reach a handler, so this hook, run by
    ``StreamResponse.prepare`` for every response, adds it there. (aiohttp has no public hook for those.)
    """

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        if REQUEST_ID_HEADER not in response.headers:
            response.headers[REQUEST_ID_HEADER] = request_id_of(self)
        await super()._prepare_hook(response)


def _check_address(host: str, port: int) -> None:
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be an address or host name such as '127.0.0.1', got {host!r}")
    whole_number(port, "port", minimum=0, maximum=65535, note="0: any free port")

