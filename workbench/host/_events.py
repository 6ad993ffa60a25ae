"""Event delivery: handing batches of points to the host's active event plugins, each failure reported."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from ._loop import PLUGIN_FAILURES, describe_failure
from ._records import ACTIVE, PluginRecord


@dataclass
class EventDelivery:
    """How one event plugin took one batch of points."""

    plugin: str
    points: int
    error: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def event_listeners(records: list[PluginRecord], event_name: str) -> list[PluginRecord]:
    """The active event plugins among ``records`` that listen for ``event_name``."""
    return [
        record
        for record in records
        if record.status == ACTIVE
        and record.kind == "event"
        and record.instance.eventName == event_name
    ]


async def deliver(record: PluginRecord, points: list[Any], logger: logging.Logger) -> EventDelivery:
    """Hand ``points`` to one event plugin, on the host's loop; its failure is reported, not raised."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    delivery = EventDelivery(plugin=record.name, points=len(points))
    try:
        await record.instance.handleEvent(points, logger)
    except PLUGIN_FAILURES as error:  # a failing plugin must not stop the others' deliveries
        delivery.error = describe_failure(error)
        logger.error("event plugin %r failed on %d points: %s", record.name, len(points), delivery.error)
    delivery.elapsed = loop.time() - started
    return delivery
