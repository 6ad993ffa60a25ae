"""Background plugin example: watches event-loop lag and serves it on two routes.

A background task wakes every ``interval`` seconds and records how late it woke: a direct measure of how
much blocking work (a model run on the loop, a slow handler) stalls every other request.
"""
import asyncio
import json
import time

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, pluginHTTPResponse


class LoopLagHandler(BaseBackgroundHandler):
    """GET the lag figures; DELETE resets them."""

    async def get(self, request):
        plugin = LoopWatchPlugin.instance
        return self.response(body=json.dumps(plugin.figures()), headers={"Content-Type": "application/json"}, statusCode=200)

    async def delete(self, request):
        LoopWatchPlugin.instance.reset()
        return self.response(body="", statusCode=204)


def ping(request):
    """Plain function handler: a liveness answer."""
    return pluginHTTPResponse(statusCode=200, body="pong", headers={"Content-Type": "text/plain"})


class LoopWatchPlugin(BaseBackgroundPlugin):
    """Measures event-loop lag in the background; routes ``/loop/lag`` (GET, DELETE) and ``/loop/ping``."""

    instance = None
    interval = 0.1

    def __init__(self, app):
        super().__init__(app)
        self.task = None
        self.reset()

    def reset(self):
        self.samples = 0
        self.maxLag = 0.0
        self.totalLag = 0.0

    def figures(self):
        mean = self.totalLag / self.samples if self.samples else 0.0
        return {"samples": self.samples, "mean_lag_ms": round(mean * 1000, 3), "max_lag_ms": round(self.maxLag * 1000, 3)}

    async def initialize(self):
        LoopWatchPlugin.instance = self
        self.addRoute("/loop/lag", LoopLagHandler)
        self.addRoute("/loop/ping", ping, methods={"get"})

    async def start(self):
        self.task = asyncio.create_task(self.watch())

    async def close(self):
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if LoopWatchPlugin.instance is self:
            LoopWatchPlugin.instance = None

    async def watch(self):
        while True:
            expected = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - expected)
            self.samples += 1
            self.totalLag += lag
            self.maxLag = max(self.maxLag, lag)
            if lag > 0.5:
                self.app.ctx.logger.warning(f"event loop stalled for {lag:.2f} s")
