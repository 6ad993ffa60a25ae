"""Publishes request counts with the company's in-house metrics client (from our private index)."""
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class AcmeCounterPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.client = None

    async def close(self):
        if self.client is not None:
            self.client.close()

    async def handleEvent(self, points, logger):
        if len(points) < 100:
            logger.debug(f"acme_counter: {len(points)} points, below the publishing threshold")
            return
        from acmemetrics import Client  # shipped in acme-crowd-tools

        self.client = self.client or Client.from_env()
        self.client.publish("remote_sdk.requests", len(points))
