"""Batching monitoring points: the event plugin queues them, the background plugin flushes every 10 s
(service-plugins.txt lists this collaboration as a use of background plugins)."""
import asyncio
import json
import os
import tempfile

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, BaseEventPlugin

from .shared import FLUSHED, QUEUE

OUT = os.path.join(tempfile.gettempdir(), f"point_batcher_{os.getpid()}.jsonl")


class PointQueuePlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            try:
                QUEUE.put_nowait({"series": point.series, "tags": point.tags, "fields": point.fields,
                                  "time": str(point.eventTime)})
            except asyncio.QueueFull:
                FLUSHED["dropped"] += 1


class BatchesHandler(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body=json.dumps({**FLUSHED, "queued": QUEUE.qsize()}),
                             headers={"Content-Type": "application/json"}, statusCode=200)


class PointFlushPlugin(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task = None

    async def initialize(self):
        self.addRoute("/batcher", BatchesHandler)

    async def start(self):
        self.task = asyncio.create_task(self.flushForever())

    async def flushForever(self):
        while True:
            await asyncio.sleep(10)
            self.flush()

    def flush(self):
        batch = []
        while not QUEUE.empty():
            batch.append(QUEUE.get_nowait())
        if batch:
            with open(OUT, "a", encoding="utf-8") as file:
                file.writelines(json.dumps(item, default=str) + "\n" for item in batch)
            FLUSHED["batches"] += 1
            FLUSHED["points"] += len(batch)

    async def close(self):
        if self.task:
            self.task.cancel()
        self.flush()
