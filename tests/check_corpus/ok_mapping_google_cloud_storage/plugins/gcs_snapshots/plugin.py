"""Uploads an hourly snapshot of the request counters to a GCS bucket, when GCS_BUCKET is set."""
import asyncio
import json
import os
import time

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, BaseEventPlugin

COUNTERS: dict[str, int] = {}
BUCKET = os.environ.get("GCS_BUCKET", "")


def upload(snapshot: dict) -> None:
    from google.cloud import storage  # google-cloud-storage

    blob = storage.Client().bucket(BUCKET).blob(f"snapshots/{int(time.time())}.json")
    blob.upload_from_string(json.dumps(snapshot), content_type="application/json")


class CounterFeed(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            COUNTERS[point.series] = COUNTERS.get(point.series, 0) + 1


class SnapshotUploader(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task = None

    async def initialize(self):
        pass

    async def start(self):
        if BUCKET:
            self.task = asyncio.create_task(self.every_hour())

    async def every_hour(self):
        while True:
            await asyncio.sleep(3600)
            await asyncio.to_thread(upload, dict(COUNTERS))

    async def close(self):
        if self.task:
            self.task.cancel()
