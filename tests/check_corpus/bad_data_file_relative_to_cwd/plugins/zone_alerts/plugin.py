"""Warns in the log when a zone's request rate passes its threshold (thresholds.json)."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class ZoneAlertsPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        # Worked while developing from inside the plugin folder.
        with open("thresholds.json", encoding="utf-8") as file:
            self.thresholds = json.load(file)

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            zone = point.tags.get("zone")
            if zone in self.thresholds and point.fields.get("count", 0) > self.thresholds[zone]:
                logger.warning(f"zone {zone} over its threshold")
