"""Monitoring points, the payload of the service's ``monitoring_event``."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MONITORING_EVENT = "monitoring_event"


@dataclass
class MonitoringPoint:
    """One monitoring point: a series name, tags, fields and the time it happened (epoch seconds)."""

    series: str
    tags: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    eventTime: float = field(default_factory=time.time)

    def asDict(self) -> dict[str, Any]:
        return {"series": self.series, "tags": dict(self.tags), "fields": dict(self.fields), "eventTime": self.eventTime}
