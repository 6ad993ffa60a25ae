"""Forwards error points to a collector over gRPC when COLLECTOR_TARGET is set; otherwise only logs them."""
import json
import os

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

TARGET = os.environ.get("COLLECTOR_TARGET", "")


class GrpcForwarderPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.channel = None
        self.send = None
        if TARGET:
            import grpc  # grpcio

            self.channel = grpc.aio.insecure_channel(TARGET)
            self.send = self.channel.unary_unary("/collector.Collector/Push")

    async def close(self):
        if self.channel is not None:
            await self.channel.close()

    async def handleEvent(self, points, logger):
        errors = [point for point in points if point.series == "error"]
        for point in errors:
            message = json.dumps({"tags": point.tags, "fields": point.fields}, default=str).encode()
            if self.send is not None:
                await self.send(message)
            else:
                logger.info(f"error point: {message.decode()}")
