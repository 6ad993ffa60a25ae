"""A monitoring event plugin that keeps every point it is handed, for tests that check what was delivered."""

COLLECTING_EVENT_PLUGIN = '''
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Collector(BaseEventPlugin):
    eventName = "monitoring_event"

    def __init__(self, app):
        super().__init__(app)
        self.points = []

    async def handleEvent(self, points, logger):
        self.points.extend(points)
'''
