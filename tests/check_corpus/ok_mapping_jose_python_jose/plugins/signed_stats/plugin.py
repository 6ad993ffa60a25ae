"""Request statistics at GET /stats; callers that send a bearer token also get the per-route breakdown."""
import json
import os
from collections import Counter

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, BaseEventPlugin

ROUTES: Counter = Counter()
SECRET = os.environ.get("STATS_JWT_SECRET", "change-me")


def tokenClaims(request):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from jose import JWTError, jwt  # python-jose; only needed for authenticated callers

    try:
        return jwt.decode(header[len("Bearer "):], SECRET, algorithms=["HS256"])
    except JWTError:
        return None


class StatsHandler(BaseBackgroundHandler):
    async def get(self, request):
        body = {"requests": sum(ROUTES.values())}
        if tokenClaims(request) is not None:
            body["routes"] = dict(ROUTES)
        return self.response(body=json.dumps(body), headers={"Content-Type": "application/json"}, statusCode=200)


class StatsCollector(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        ROUTES.clear()

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            if point.series == "request":
                ROUTES[str(point.tags.get("route"))] += 1


class StatsRoutePlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/stats", StatsHandler)

    async def start(self):
        pass

    async def close(self):
        pass
