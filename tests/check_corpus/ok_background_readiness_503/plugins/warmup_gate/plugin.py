"""A readiness route for the load balancer: 503 until the warm-up task has run for a while, then 200.

Answering 503 before the plugin is ready is the point of the route: the balancer keeps traffic away.
"""
import asyncio
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

WARMUP_SECONDS = 30.0
READY = asyncio.Event()


class ReadinessHandler(BaseBackgroundHandler):
    async def get(self, request):
        if not READY.is_set():
            return self.response(
                body=json.dumps({"ready": False, "reason": "warming up"}),
                headers={"Content-Type": "application/json", "Retry-After": "5"},
                statusCode=503,
            )
        return self.response(body=json.dumps({"ready": True}), headers={"Content-Type": "application/json"}, statusCode=200)


class WarmupGatePlugin(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task = None

    async def initialize(self):
        READY.clear()
        self.addRoute("/ready", ReadinessHandler)

    async def start(self):
        self.task = asyncio.create_task(self.warmUp())

    async def warmUp(self):
        await asyncio.sleep(WARMUP_SECONDS)
        READY.set()
        self.app.ctx.logger.info("warmup_gate: ready")

    async def close(self):
        if self.task:
            self.task.cancel()
