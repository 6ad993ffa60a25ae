"""Increments per-route counters in Redis (REDIS_URL)."""
import os

import redis.asyncio as redis
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class RedisCounterPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.client = redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))

    async def close(self):
        await self.client.aclose()

    async def handleEvent(self, points, logger):
        for point in points:
            await self.client.hincrby("routes", str(point.tags.get("route")), 1)
