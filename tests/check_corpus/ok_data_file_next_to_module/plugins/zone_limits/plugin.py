"""Occupancy limits per zone, read from limits.json shipped beside this module."""
import json
from pathlib import Path

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

LIMITS_FILE = Path(__file__).resolve().parent / "limits.json"


class LimitsHandler(BaseBackgroundHandler):
    async def get(self, request):
        limits = json.loads(LIMITS_FILE.read_text(encoding="utf-8"))
        return self.response(body=json.dumps(limits), headers={"Content-Type": "application/json"}, statusCode=200)


class ZoneLimitsPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.limits = json.loads(LIMITS_FILE.read_text(encoding="utf-8"))
        self.app.ctx.logger.info(f"zone_limits: {len(self.limits)} zones")
        self.addRoute("/zones/limits", LimitsHandler)

    async def start(self):
        pass

    async def close(self):
        pass
