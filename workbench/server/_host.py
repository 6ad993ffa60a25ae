"""Where the host's loop is, as the server sees it.

Plugin code runs on the host's loop (``wb.run_on_host``): under ``start_server`` the server runs there too;
under the aiohttp test client the app runs on the test's loop and such calls cross threads.
"""
from __future__ import annotations

import asyncio

from ..host import Workbench


def host_loop(wb: Workbench) -> asyncio.AbstractEventLoop | None:
    """The host's loop, or ``None`` once the host has closed it."""
    try:
        loop = wb.loop
    except RuntimeError:
        return None
    return None if loop.is_closed() else loop


def on_host_loop(wb: Workbench) -> bool:
    """Whether the caller runs on the host's loop."""
    try:
        return asyncio.get_running_loop() is host_loop(wb)
    except RuntimeError:
        return False
