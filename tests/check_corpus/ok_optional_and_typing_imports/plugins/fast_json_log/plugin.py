"""Logs points as JSON, with orjson when the image happens to have it and the standard json otherwise."""
from __future__ import annotations

from typing import TYPE_CHECKING

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

try:
    import orjson

    def dumps(value) -> str:
        return orjson.dumps(value, default=str).decode()
except ImportError:  # optional speed-up only
    import json

    def dumps(value) -> str:
        return json.dumps(value, default=str)

if TYPE_CHECKING:  # for the annotations only; never imported at run time
    import pandas as pd


class FastJsonLogPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            logger.info(dumps({"series": point.series, "tags": point.tags, "fields": point.fields}))

    def asFrame(self, rows: list[dict]) -> pd.DataFrame:  # used from a notebook, never by the service
        raise NotImplementedError("offline analysis only")
