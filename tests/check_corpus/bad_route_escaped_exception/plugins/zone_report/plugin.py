"""Per-zone visitor report; the totals are filled by a background task that has not run yet."""
import asyncio
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

TOTALS: dict[str, int] = {}


class ReportHandler(BaseBackgroundHandler):
    async def get(self, request):
        # Bug: divides by the number of zones, which is 0 until the first refresh.
        average = sum(TOTALS.values()) / len(TOTALS)
        return self.response(body=json.dumps({"zones": TOTALS, "average": average}),
                             headers={"Content-Type": "application/json"}, statusCode=200)


class ZoneReportPlugin(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task = None

    async def initialize(self):
        self.addRoute("/zones/report", ReportHandler)

    async def start(self):
        self.task = asyncio.create_task(self.refresh())

    async def refresh(self):
        while True:
            await asyncio.sleep(300)
            TOTALS["entrance"] = TOTALS.get("entrance", 0) + 1

    async def close(self):
        if self.task:
            self.task.cancel()
