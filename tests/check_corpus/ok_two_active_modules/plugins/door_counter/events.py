from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

from .state import DOORS


class DoorEvents(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            door = str(point.tags.get("door", "unknown"))
            DOORS[door] = DOORS.get(door, 0) + 1
