"""Event plugin example: aggregates the service's monitoring points in memory.

Keeps, per route, the number of requests, errors and the latency quantiles, and the last points seen, so
that a notebook (``wb.plugins["RequestStatsPlugin"].instance.summary()``) or another plugin can read them.
Writes every point as a JSON line too when ``REQUEST_STATS_JSONL`` names a file.
"""
import json
import os
from collections import defaultdict, deque

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class RequestStatsPlugin(BaseEventPlugin):
    """Collects ``request`` and ``error`` monitoring points."""

    eventName = "monitoring_event"

    def __init__(self, app):
        super().__init__(app)
        self.requests = defaultdict(int)
        self.errors = defaultdict(int)
        self.latencies = defaultdict(lambda: deque(maxlen=10_000))
        self.recent = deque(maxlen=200)
        self.jsonlPath = os.environ.get("REQUEST_STATS_JSONL")
        self._jsonl = None

    async def initialize(self):
        if self.jsonlPath:
            self._jsonl = open(self.jsonlPath, "a", encoding="utf-8")

    async def close(self):
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None

    async def handleEvent(self, points, logger):
        for point in points:
            route = point.tags.get("route", "?")
            if point.series == "request":
                self.requests[route] += 1
                if "execution_time" in point.fields:
                    self.latencies[route].append(float(point.fields["execution_time"]))
            elif point.series == "error":
                self.errors[route] += 1
            self.recent.append(point)
            if self._jsonl is not None:
                record = {"series": point.series, "tags": point.tags, "fields": point.fields, "eventTime": point.eventTime}
                self._jsonl.write(json.dumps(record, default=str) + "\n")
        if self._jsonl is not None:
            self._jsonl.flush()
        logger.debug(f"RequestStatsPlugin took {len(points)} points")

    def summary(self):
        """Per route: ``requests`` and ``errors`` (whole numbers), ``p50 ms`` and ``p99 ms``: the median and 99th
        percentile execution time in milliseconds (None before a request was timed).

        The unit is in the key, so that any table made of it says it: the points carry seconds.
        """
        table = {}
        for route in sorted(set(self.requests) | set(self.errors)):
            times = sorted(self.latencies[route])
            table[route] = {
                "requests": self.requests[route],
                "errors": self.errors[route],
                "p50 ms": times[len(times) // 2] * 1000 if times else None,
                "p99 ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000 if times else None,
            }
        return table
