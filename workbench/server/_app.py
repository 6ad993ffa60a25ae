"""``build_app``: the aiohttp application serving a started ``Workbench``."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from .._checks import seconds, whole_number
from ..host import Workbench
from ..images import max_pixels_budget
from ._access import Access, guarded
from ._api import BUILT_IN_ROUTES
from ._budget import DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_SEQUENCE_FRAMES, RequestBudget, decode_memory_budget
from ._observe import UNMATCHED_ROUTE, observed
from ._monitoring import MonitoringDispatcher
from ._plugin_routes import AnyPath, plugin_route
from ._route_table import RouteTable
from ._state import STATE, ServerState

logger = logging.getLogger("workbench.server")


def build_app(
    wb: Workbench,
    *,
    allow_estimator_switching: bool = False,
    max_body_size: int = 20 * 2**20,
    service_name: str = "workbench",
    max_pixels: int | None = None,
    read_timeout: float = 60.0,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    max_decode_memory: int | None = None,
    max_sequence_frames: int = DEFAULT_MAX_SEQUENCE_FRAMES,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
) -> web.Application:
    """The aiohttp application serving ``wb``: the built-in API, the plugins' routes, monitoring events.

    Args:
        wb: a started host; its plugins, estimators and event plugins are served live.
        allow_estimator_switching: expose ``PUT``/``POST /estimators/{broker}`` (``{"name": ...}``), which
            changes the estimator for every client of the server; off, it answers 403.
        max_body_size: the largest request body in bytes; bigger ones are answered 413.
        service_name: the ``service`` tag of the monitoring points.
        max_pixels: the most pixels an image header may claim; bigger images are answered 413 before any
            decoding (default: ``$WORKBENCH_MAX_PIXELS``, else 64 Mpx).
        read_timeout: seconds a request body may take to arrive; a client trickling one in gets 408.
        max_in_flight: estimate requests handled at once (reading, decoding, estimating); one more is
            answered 503 with ``Retry-After`` at once (default 32).
        max_decode_memory: bytes the images of estimate requests may hold at once, judged from their headers
            (a 2.5 KB WebP of 63 Mpx takes over a gigabyte to decode); an image over it alone is answered 413,
            others wait their turn (default: 768 MiB, or more where ``max_pixels`` is raised: enough for an
            RGB PNG of ``max_pixels``).
        max_sequence_frames: the most frames one ``estimate-sequence`` request may have estimated (sampled out of
            its clip or images); more are answered 413 before any is decoded (default 300).
        token: when given, every request must send ``Authorization: Bearer <token>`` (401 otherwise). The app
            does not know where it is served: ``start_server`` gives one for addresses off loopback.
        allowed_hosts: ``Host`` names answered besides the loopback's (``localhost``, ``127.0.0.1``, ``[::1]``),
            without port; ``"*"`` answers any. Any other name is refused (403): a web page re-pointing its own
            name at this machine (DNS rebinding) would send it.
        allowed_origins: web page origins (``"http://localhost:8888"``, ``"*"``) whose requests the built-in
            routes answer besides the server's own; others are refused (403). Plugin routes guard themselves.
    """
    if not isinstance(wb, Workbench):
        raise TypeError(f"build_app needs a Workbench, got {type(wb).__name__}")
    if not wb.running:
        raise RuntimeError("start the Workbench before serving it: wb.start() (or `with Workbench(...) as wb:`)")
    whole_number(max_body_size, "max_body_size", minimum=1, unit="bytes")
    seconds(read_timeout, "read_timeout")
    whole_number(max_in_flight, "max_in_flight", minimum=1, unit="requests")
    whole_number(max_decode_memory, "max_decode_memory", minimum=1, unit="bytes", allow_none=True)
    whole_number(max_sequence_frames, "max_sequence_frames", minimum=1, unit="frames")
    pixels = max_pixels_budget(max_pixels)
    if not isinstance(service_name, str) or not service_name:
        raise ValueError(f"service_name must be a non-empty string, got {service_name!r}")
    access = Access.of(token, allowed_hosts, allowed_origins)
    state = ServerState(
        wb=wb,
        routes=RouteTable(wb),
        service_name=service_name,
        max_body_size=max_body_size,
        max_pixels=pixels,
        max_sequence_frames=max_sequence_frames,
        read_timeout=float(read_timeout),
        allow_estimator_switching=bool(allow_estimator_switching),
        monitoring=MonitoringDispatcher(wb, logger=logger, service_name=service_name),
        logger=logger,
        access=access,
        budget=RequestBudget(max_in_flight, decode_memory_budget(max_decode_memory, pixels)),
    )
    app = web.Application(client_max_size=max_body_size)
    app[STATE] = state
    for method, path, handler in BUILT_IN_ROUTES:
        if method == "GET":
            app.router.add_get(path, observed(state, guarded(access, handler, built_in=True), path))
        else:
            app.router.add_route(method, path, observed(state, guarded(access, handler, built_in=True), path))
    # Registered last, so that it only takes what no built-in route matches.
    catch_all = AnyPath()
    catch_all.add_route("*", observed(state, guarded(access, plugin_route, built_in=False), UNMATCHED_ROUTE))
    app.router.register_resource(catch_all)
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)
    return app


async def _on_startup(app: web.Application) -> None:
    # Should the host close first, it still flushes the points queued for its event plugins.
    state = app[STATE]
    state.wb.add_cleanup(state.monitoring.aclose)


async def _on_cleanup(app: web.Application) -> None:
    state = app[STATE]
    state.budget.close()  # decodings not started are dropped, so a stop waits for none of them
    try:
        await state.wb.run_on_host(state.monitoring.aclose())
    except RuntimeError:
        pass  # the host is closed: its own cleanup flushed the queues
