"""GET /counts/hourly?hours=N: request counts per hour for the last N hours (1..48, default 24)."""
import json
import time
from collections import Counter
from urllib.parse import parse_qs

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, BaseEventPlugin

HOURS: Counter = Counter()
JSON = {"Content-Type": "application/json"}


class HourlyHandler(BaseBackgroundHandler):
    async def get(self, request):
        raw = parse_qs(request.query_string).get("hours", ["24"])[0]
        if not raw.isdigit() or not 1 <= int(raw) <= 48:
            return self.response(body=json.dumps({"error": "hours must be a whole number from 1 to 48"}),
                                 headers=JSON, statusCode=400)
        now = int(time.time() // 3600)
        body = {str(hour): HOURS.get(hour, 0) for hour in range(now - int(raw) + 1, now + 1)}
        return self.response(body=json.dumps(body), headers=JSON, statusCode=200)


class HourlyEvents(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        pass

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        HOURS[int(time.time() // 3600)] += sum(1 for point in points if point.series == "request")


class HourlyRoutes(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/counts/hourly", HourlyHandler)

    async def start(self):
        pass

    async def close(self):
        pass
