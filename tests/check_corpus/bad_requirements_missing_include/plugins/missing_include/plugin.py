import yaml
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class MissingIncludePlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        logger.debug(yaml.safe_dump([point.series for point in points]))
