"""Logs each request's latency with its time."""
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class LatencyLogPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            logger.info(f"{point.timestamp} {point.tags.get('route')} {point.fields.get('execution_time')}")
