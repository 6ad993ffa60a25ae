"""Logs rate-limited requests (status 429) in full; other points only bump a counter."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class ThrottleLogPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.seen = 0

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            self.seen += 1
            if point.tags.get("status_code") == 429:
                logger.warning("throttled: " + json.dumps(point.asDict(), default=str))
