"""GET /shifts: the per-shift counts the collector gathered."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse
from shift_report.collector import SHIFTS, ShiftCollector  # noqa: F401 - keeps the collector loaded with the report


def shifts(request):
    return pluginHTTPResponse(statusCode=200, body=json.dumps(SHIFTS), headers={"Content-Type": "application/json"})


class ShiftReport(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/shifts", shifts, methods={"get"})

    async def start(self):
        pass

    async def close(self):
        pass
