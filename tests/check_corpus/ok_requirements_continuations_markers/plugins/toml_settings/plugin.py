"""Error-ratio alerts, configured by settings.toml; posts to a webhook when one is configured."""
import sys
from pathlib import Path

import numpy as np
import requests
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SETTINGS = Path(__file__).parent / "settings.toml"


class ErrorRatioPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        with SETTINGS.open("rb") as file:
            self.settings = tomllib.load(file)["alerts"]
        self.window: list[int] = []

    async def close(self):
        pass

    async def handleEvent(self, points, logger):
        self.window += [1 if point.series == "error" else 0 for point in points]
        self.window = self.window[-500:]
        ratio = float(np.mean(self.window)) if self.window else 0.0
        if ratio > self.settings["max_error_ratio"]:
            logger.warning(f"error ratio {ratio:.1%}")
            if self.settings["webhook"]:
                requests.post(self.settings["webhook"], json={"error_ratio": ratio}, timeout=2)
