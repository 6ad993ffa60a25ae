"""GET /report/latency: latency percentiles, computed in a worker thread so the loop stays free."""
import asyncio
import json
import random

import numpy as np
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

SAMPLES: list[float] = []


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"count": 0}
    values = np.asarray(samples, dtype=float)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"count": int(values.size), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


class LatencyReport(BaseBackgroundHandler):
    async def get(self, request):
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(None, percentiles, list(SAMPLES))
        return self.response(body=json.dumps(report), headers={"Content-Type": "application/json"}, statusCode=200)


class ReportBuilderPlugin(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task = None

    async def initialize(self):
        self.addRoute("/report/latency", LatencyReport)

    async def start(self):
        self.task = asyncio.create_task(self.sample())

    async def sample(self):
        # Stands in for probing an upstream: one synthetic latency sample a second.
        while True:
            SAMPLES.append(random.expovariate(20.0))
            del SAMPLES[:-5000]
            await asyncio.sleep(1)

    async def close(self):
        if self.task:
            self.task.cancel()
