"""
Request monitoring to a JSON-lines file, following the structure of the service's monitoring example:
an abstract base with flushPointToMonitoring, and one concrete plugin.
"""
import asyncio
import json
import os
import tempfile
from abc import abstractmethod
from typing import TypeVar

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

MonitoringPoint = TypeVar("MonitoringPoint")
LunaApplication = TypeVar("LunaApplication")


class BaseRequestMonitoringPlugin(BaseEventPlugin):
    """Base class for requests monitoring."""

    eventName = "monitoring_event"

    @abstractmethod
    async def flushPointToMonitoring(self, point: "MonitoringPoint", logger) -> None:
        """Send one point somewhere."""

    async def handleEvent(self, points: list["MonitoringPoint"], logger):
        await asyncio.gather(*[self.flushPointToMonitoring(point, logger) for point in points])


class JsonLinesMonitoringPlugin(BaseRequestMonitoringPlugin):
    """Appends every point to a JSON-lines file in the temp folder (MONITORING_JSONL overrides the path)."""

    def __init__(self, app: "LunaApplication"):
        super().__init__(app)
        self.path = os.environ.get("MONITORING_JSONL") or os.path.join(
            tempfile.gettempdir(), f"jsonl_monitor_{os.getpid()}.jsonl"
        )
        self.lock = asyncio.Lock()

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def flushPointToMonitoring(self, point: "MonitoringPoint", logger) -> None:
        record = {"series": point.series, "time": str(point.eventTime), "tags": point.tags, "fields": point.fields}
        line = json.dumps(record, default=str) + "\n"
        async with self.lock:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line)
        logger.debug(f"jsonl_monitor: wrote {point.series}")
