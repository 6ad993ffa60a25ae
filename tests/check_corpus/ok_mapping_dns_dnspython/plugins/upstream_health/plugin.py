"""Background check of the upstream's DNS record, when UPSTREAM_HOST is configured; GET /upstream reports it."""
import asyncio
import json
import os

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

UPSTREAM = os.environ.get("UPSTREAM_HOST", "")
STATUS = {"host": UPSTREAM or None, "addresses": [], "error": None}


async def resolveForever(host: str):
    import dns.asyncresolver  # dnspython; only when an upstream is configured

    resolver = dns.asyncresolver.Resolver()
    while True:
        try:
            answer = await resolver.resolve(host, "A")
            STATUS.update(addresses=sorted(record.address for record in answer), error=None)
        except Exception as error:  # keep the route answering with the last error
            STATUS.update(error=str(error))
        await asyncio.sleep(60)


class UpstreamHandler(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body=json.dumps(STATUS), headers={"Content-Type": "application/json"}, statusCode=200)


class UpstreamHealthPlugin(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.task = None

    async def initialize(self):
        self.addRoute("/upstream", UpstreamHandler)

    async def start(self):
        if UPSTREAM:
            self.task = asyncio.create_task(resolveForever(UPSTREAM))

    async def close(self):
        if self.task:
            self.task.cancel()
