"""Flags slow requests according to rules.yaml (shipped beside the module)."""
from pathlib import Path

import numpy as np
import yaml
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

RULES = Path(__file__).with_name("rules.yaml")


class YamlRulesPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
        self.times: list[float] = []

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        for point in points:
            if point.tags.get("route") in self.rules["ignore_routes"]:
                continue
            elapsed = float(point.fields.get("execution_time", 0.0))
            self.times.append(elapsed)
            if elapsed > self.rules["slow_request_s"]:
                logger.warning(f"slow request {point.tags.get('route')}: {elapsed:.2f} s")
        if self.times:
            logger.debug(f"p95 so far: {np.percentile(self.times[-1000:], 95):.3f} s")
