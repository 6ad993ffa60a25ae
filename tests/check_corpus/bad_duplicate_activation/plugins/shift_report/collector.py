"""Counts requests per shift."""
import time

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

SHIFTS: dict[str, int] = {}


def currentShift() -> str:
    hour = time.localtime().tm_hour
    return "night" if hour < 8 else "day" if hour < 16 else "evening"


class ShiftCollector(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        SHIFTS[currentShift()] = SHIFTS.get(currentShift(), 0) + len(points)
