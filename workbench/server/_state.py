"""What the server's handlers and middlewares share for one application."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from ..host import Workbench
from ._access import Access
from ._budget import RequestBudget
from ._monitoring import MonitoringDispatcher
from ._route_table import RouteTable


@dataclass
class ServerState:
    """The host, the options of ``build_app``, the plugin routes and the monitoring dispatcher of one application."""

    wb: Workbench
    routes: RouteTable
    service_name: str
    max_body_size: int
    max_pixels: int
    # The most frames a sequence request may have estimated.
    max_sequence_frames: int
    allow_estimator_switching: bool
    monitoring: MonitoringDispatcher
    logger: logging.Logger
    # Who may use the server: the token, the Host and Origin checks.
    access: Access
    # The estimate requests in flight and the memory their images hold.
    budget: RequestBudget
    # True when the runner hands bodies over still encoded (start_server does): handlers decode them.
    raw_bodies: bool = False
    # Seconds a request body may take to arrive; a client trickling one in gets 408.
    read_timeout: float = 60.0
    # True when the app serves on the host's loop (start_server does): plugin handlers are called in place.
    on_host_loop: bool = False


STATE = web.AppKey("workbench_server_state", ServerState)


@dataclass
class Exchange:
    """What the middlewares learn about one request while it is handled."""

    request_id: str
    route: str | None = None


EXCHANGE = web.RequestKey("workbench_exchange", Exchange)
