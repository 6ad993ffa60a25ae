"""Delivering the server's monitoring points to the event plugins, off the request's path.

A request only appends its outcome (a few plain values) to an intake queue; its points are built in the
fan-out, and only when a ``monitoring_event`` plugin listens. A fan-out task on the host's loop takes them in
batches (``batch_size`` points, or whatever came within ``batch_interval`` seconds of the first one),
looks up the ``monitoring_event`` listeners once per batch, and hands the batch to each listener's own
bounded queue, which its own delivery task empties. A slow plugin therefore delays no response and no
other plugin: its queue fills, and points that do not fit are counted as dropped (with a warning) instead
of growing memory without bound. A failing plugin loses only its own batch (the host logs the error). On
close, the intake and every queue are flushed, each queue within ``flush_timeout``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple, Union

from ..host import PluginRecord, Workbench
from ..plugins import MONITORING_EVENT, MonitoringPoint
from ._host import host_loop

# Seconds between two "points dropped" warnings for the same plugin, so a stuck plugin does not flood the log.
_DROP_WARNING_INTERVAL = 10.0


class RequestOutcome(NamedTuple):
    """What one request tells the monitoring: its ``request`` point, and its ``error`` point when it failed."""

    route: str
    status: int
    request_id: str
    execution_time: float
    event_time: float
    error_code: int | None  # set for a status of 400 and over

    def points(self, service: str) -> list[MonitoringPoint]:
        tags = {"service": service, "route": self.route, "status_code": self.status}
        fields = {"request_id": self.request_id, "execution_time": self.execution_time}
        request = MonitoringPoint("request", tags=tags, fields=fields, eventTime=self.event_time)
        if self.error_code is None:
            return [request]
        fields = {"request_id": self.request_id, "error_code": self.error_code}
        return [request, MonitoringPoint("error", tags=dict(tags), fields=fields, eventTime=self.event_time)]


# What the intake holds: points submitted as such, and request outcomes whose points are not built yet.
_Item = Union[MonitoringPoint, RequestOutcome]


def _point_count(items: Sequence[_Item]) -> int:
    return sum(2 if isinstance(item, RequestOutcome) and item.error_code is not None else 1 for item in items)


class _ListenerQueue:
    """The points waiting for one event plugin, and the task that delivers them (host loop only)."""

    def __init__(self, wb: Workbench, record: PluginRecord, owner: "MonitoringDispatcher") -> None:
        self.wb = wb
        self.record = record
        self.owner = owner
        self.points: deque[MonitoringPoint] = deque()
        self.delivered = 0
        self.dropped = 0
        self.failed_batches = 0
        self._closing = False
        self._wake = asyncio.Event()
        self._last_drop_warning = float("-inf")
        self.task = asyncio.create_task(self._run(), name=f"monitoring delivery to {record.name}")

    def offer(self, points: list[MonitoringPoint]) -> None:
        room = self.owner.max_pending - len(self.points)
        if room < len(points):
            self.count_dropped(len(points) - max(room, 0))
            points = points[: max(room, 0)]
        self.points.extend(points)
        if self.points:
            self._wake.set()

    def count_dropped(self, count: int) -> None:
        """Count ``count`` points this plugin will never get, warning at most every few seconds."""
        self.dropped += count
        now = time.monotonic()
        if now - self._last_drop_warning >= _DROP_WARNING_INTERVAL:
            self._last_drop_warning = now
            self.owner.logger.warning(
                "event plugin %r is slower than the requests: its queue holds %d points, %d dropped so far",
                self.record.name, len(self.points), self.dropped,
            )

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            size = min(self.owner.batch_size, len(self.points))
            batch = [self.points.popleft() for _ in range(size)]
            if not self.points:
                self._wake.clear()
            if batch:
                delivery = await self.wb.deliver_to(self.record, batch)
                if delivery.ok:
                    self.delivered += len(batch)
                else:
                    self.failed_batches += 1
            if self._closing and not self.points:
                return

    async def aclose(self, timeout: float) -> None:
        """Deliver what is queued (within ``timeout`` seconds), then end the task."""
        self._closing = True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self.task)
        except TimeoutError:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            left = len(self.points)
            self.points.clear()
            self.dropped += left
            self.owner.logger.warning(
                "event plugin %r did not take its last points within %.1f s; %d dropped", self.record.name, timeout, left
            )

    def discard(self) -> None:
        """Stop at once: the plugin was closed (reloaded), so its queued points have nowhere to go."""
        self.task.cancel()
        self.dropped += len(self.points)
        self.points.clear()

    def stats(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "pending": len(self.points),
            "dropped": self.dropped,
            "failed_batches": self.failed_batches,
        }


class MonitoringDispatcher:
    """Fans the server's monitoring points out to the ``monitoring_event`` plugins of a host."""

    def __init__(
        self,
        wb: Workbench,
        *,
        batch_size: int = 100,
        batch_interval: float = 0.05,
        max_pending: int = 10_000,
        flush_timeout: float = 5.0,
        logger: logging.Logger | None = None,
        service_name: str = "workbench",
    ) -> None:
        self.wb = wb
        self.service_name = service_name
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.max_pending = max_pending
        self.flush_timeout = flush_timeout
        self.logger = logger or logging.getLogger("workbench.server")
        self._intake: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._fan_out_task: asyncio.Task[None] | None = None
        self._queues: dict[int, _ListenerQueue] = {}
        self._retired: dict[str, dict[str, int]] = {}
        self._closed = False
        self._closing: asyncio.Task[None] | None = None
        self._seen_host_loop: asyncio.AbstractEventLoop | None = None

    def submit(self, points: list[MonitoringPoint] | tuple[_Item, ...]) -> None:
        """Queue ``points`` for every listener; returns at once, from any thread or loop.

        A ``RequestOutcome`` stands for its points, which are built only if a listener is there to take them.
        """
        if self._closed:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self._seen_host_loop:
            # The common case, every request of the embedded server: already on the host's loop, which is
            # running, so the host need not be asked again (a host loop that restarts is a new object).
            self._take(points)
            return
        loop = host_loop(self.wb)
        if loop is None:
            return
        if running is loop:
            self._seen_host_loop = loop
            self._take(points)
        else:
            with contextlib.suppress(RuntimeError):  # the host closed its loop meanwhile: nobody to tell
                loop.call_soon_threadsafe(self._take, points)

    def _take(self, items: Sequence[_Item]) -> None:
        if self._closed:
            return
        room = self.max_pending - len(self._intake)
        if room < len(items):
            # The host's loop is too busy to fan out: every listener misses these points.
            missed = _point_count(items[max(room, 0):])
            for queue in self._queues.values():
                queue.count_dropped(missed)
            items = items[: max(room, 0)]
        self._intake.extend(items)
        if self._fan_out_task is None:
            self._fan_out_task = asyncio.create_task(self._fan_out_loop(), name="monitoring fan-out")
        self._wake.set()
        if len(self._intake) >= self.batch_size:
            self._full.set()

    async def _fan_out_loop(self) -> None:
        while True:
            await self._wake.wait()
            if not self._closed and len(self._intake) < self.batch_size:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.batch_interval):
                        await self._full.wait()
            batch = list(self._intake)
            self._intake.clear()
            self._wake.clear()
            if batch:
                self._fan_out(batch)
            if self._closed:
                return

    def _fan_out(self, items: list[_Item]) -> None:
        listeners = self.wb.listeners(MONITORING_EVENT)
        points: list[MonitoringPoint] = []
        if listeners:
            for item in items:
                if isinstance(item, RequestOutcome):
                    points.extend(item.points(self.service_name))
                else:
                    points.append(item)
        for record in listeners:
            queue = self._queues.get(id(record))
            if queue is None or queue.record is not record:
                if queue is not None:  # a closed record's id was reused by a new one
                    self._retire_queue(queue)
                queue = self._queues[id(record)] = _ListenerQueue(self.wb, record, self)
            queue.offer(points)
        if len(self._queues) != len(listeners):
            self._retire({id(record) for record in listeners})

    def _retire(self, live: set[int]) -> None:
        for key in [key for key in self._queues if key not in live]:
            self._retire_queue(self._queues.pop(key))

    def _retire_queue(self, queue: _ListenerQueue) -> None:
        queue.discard()
        self._retired[queue.record.name] = queue.stats()

    def stats(self) -> dict[str, dict[str, int]]:
        """Per listening plugin: points delivered, pending and dropped, and batches that failed."""
        table = dict(self._retired)
        table.update({queue.record.name: queue.stats() for queue in self._queues.values()})
        return table

    async def aclose(self) -> None:
        """Flush the intake and every queue, end the tasks; later points are ignored. Runs on the host's loop."""
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.ensure_future(self._flush())
        await asyncio.shield(self._closing)

    async def _flush(self) -> None:
        if self._fan_out_task is not None:
            self._wake.set()
            self._full.set()
            await self._fan_out_task
        await asyncio.gather(*(queue.aclose(self.flush_timeout) for queue in self._queues.values()))
