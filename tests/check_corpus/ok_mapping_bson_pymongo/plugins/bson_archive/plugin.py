"""Archives monitoring points as BSON files, a thousand points per file (the format our Mongo loader takes)."""
import os
import tempfile
from pathlib import Path

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

ARCHIVE = Path(os.environ.get("BSON_ARCHIVE_DIR", tempfile.gettempdir())) / "bson_archive"
PER_FILE = 1000


class BsonArchivePlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.buffer: list[dict] = []
        self.files = 0

    async def close(self):
        # A partial file is dropped: the loader wants full files, and the points are in the main monitoring too.
        self.buffer.clear()

    def flush(self):
        import bson  # from pymongo; loaded with the first full file

        ARCHIVE.mkdir(parents=True, exist_ok=True)
        documents = [bson.encode(document) for document in self.buffer]
        (ARCHIVE / f"points-{os.getpid()}-{self.files}.bson").write_bytes(b"".join(documents))
        self.files += 1
        self.buffer.clear()

    async def handleEvent(self, points, logger):
        for point in points:
            self.buffer.append({"series": point.series, "time": str(point.eventTime),
                                "tags": {k: str(v) for k, v in point.tags.items()},
                                "fields": {k: str(v) for k, v in point.fields.items()}})
        if len(self.buffer) >= PER_FILE:
            self.flush()
            logger.info(f"bson_archive: {self.files} files written")
