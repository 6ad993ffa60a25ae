"""Uptime and heartbeat: a background task ticks every second, two routes report it."""
import asyncio
import json
import time
from asyncio import Task

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, pluginHTTPResponse

STARTED = time.monotonic()
STATE = {"beats": 0}


class UptimeHandler(BaseBackgroundHandler):
    async def get(self, request):  # pylint: disable=unused-argument
        body = json.dumps({"uptime_s": round(time.monotonic() - STARTED, 3), "beats": STATE["beats"]})
        return self.response(body=body, headers={"Content-Type": "application/json"}, statusCode=200)


def versionHandler(request):  # pylint: disable=unused-argument
    return pluginHTTPResponse(statusCode=200, body="uptime 1.2.0", headers={"Content-Type": "text/plain"})


class UptimePlugin(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task: Task | None = None

    async def initialize(self):
        self.addRoute("/uptime", UptimeHandler)
        self.addRoute("/uptime/version", versionHandler, methods={"get"})

    async def start(self):
        self.task = asyncio.create_task(self.beat())

    async def beat(self):
        while True:
            await asyncio.sleep(1)
            STATE["beats"] += 1
            if STATE["beats"] % 60 == 0:
                self.app.ctx.logger.info(f"uptime: {STATE['beats']} beats")

    async def close(self):
        if self.task:
            self.task.cancel()
