"""``workbench serve`` with a plugin that calls sys.exit everywhere still answers and honours SIGTERM (issue 9, 1)."""
from __future__ import annotations

import signal

import pytest

from helpers.hostile import http, request
from helpers.serve_cli import served
from helpers.waiting import GENEROUS_S

EXITING = """
    import asyncio, sys
    from workbench.plugins import BaseBackgroundPlugin

    def quit_route(request):
        sys.exit(5)

    class Exits(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/quit", quit_route, methods=["get"])
        async def start(self):
            asyncio.get_running_loop().call_soon(sys.exit, 6)
        async def close(self):
            sys.exit(7)
"""


@pytest.mark.slow  # a `workbench serve` subprocess
def test_serve_survives_exiting_plugin_and_stops_on_sigterm(plugin_folder):
    module = plugin_folder.add("exits", EXITING)
    with served(plugin_folder.root, module, "--close-timeout", "1") as (process, port):
        status, headers, body = http("127.0.0.1", port, request("GET", "/quit"))
        assert status == 500 and b"SystemExit" in body
        assert http("127.0.0.1", port, request("GET", "/health"))[0] == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=GENEROUS_S) == 0
