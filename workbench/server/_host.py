"""Running coroutines on the host's loop from the server's loop, whichever loop that is.

Plugins hold state bound to the host's loop (client sessions, queues, tasks), so their code must run
there. Under ``start_server`` the server runs on that loop too and a call is a plain ``await``; under the
aiohttp test client the app runs on the test's loop and a call crosses threads.
"""
from __future__ import annotations

import asyncio
from typing import Any, Coroutine, TypeVar

from ..host import Workbench

T = TypeVar("T")


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


async def on_host(wb: Workbench, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the host's loop; cancelling the caller cancels it there too."""
    if host_loop(wb) is None:
        coro.close()
        raise RuntimeError("the Workbench is closed: its plugins and estimators are gone")
    return await wb.run_on_host(coro)
