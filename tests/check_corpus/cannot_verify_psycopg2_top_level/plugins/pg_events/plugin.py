"""Stores request points in PostgreSQL (PG_DSN); without a DSN the points are only counted."""
import os

import psycopg2
from psycopg2.extras import Json
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

DSN = os.environ.get("PG_DSN", "")


class PgEventsPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.connection = psycopg2.connect(DSN) if DSN else None
        self.counted = 0

    async def close(self):
        if self.connection is not None:
            self.connection.close()

    async def handleEvent(self, points, logger):
        self.counted += len(points)
        if self.connection is None:
            return
        with self.connection, self.connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO request_points (series, tags, fields) VALUES (%s, %s, %s)",
                [(point.series, Json(point.tags), Json(point.fields)) for point in points],
            )
