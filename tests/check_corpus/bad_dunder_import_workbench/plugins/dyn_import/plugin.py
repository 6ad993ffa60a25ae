"""Event plugin that records points with a helper loaded through __import__ (kept out of the static imports)."""
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

MODULE = "workbench"


class DynImportPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.helper = __import__(MODULE)

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        logger.info(f"{len(points)} points, helper {self.helper.__name__}")
