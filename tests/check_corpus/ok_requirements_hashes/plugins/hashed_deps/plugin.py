"""Logs request points as text, with the text helpers of six (pinned by hash)."""
import six
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class HashedDepsPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            logger.info(six.ensure_str(f"{point.series} {sorted(point.tags.items())}"))
