"""Keeps the last few hundred request points in memory and logs a one-line summary per batch."""
from collections import deque

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class RequestTailPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    def __init__(self, app):
        super().__init__(app)
        self.tail = deque(maxlen=500)

    async def initialize(self):
        self.tail.clear()

    async def close(self):
        self.tail.clear()

    async def handleEvent(self, points, logger):
        slow = 0
        for point in points:
            self.tail.append((point.series, point.eventTime, dict(point.tags), dict(point.fields)))
            if point.fields.get("execution_time", 0) > 1.0:
                slow += 1
        logger.info(f"request_tail: {len(points)} points, {slow} slow, {len(self.tail)} kept")
