"""GET /counts answers the counters as a dict body."""
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

COUNTS = {"requests": 0, "errors": 0}


class CountsHandler(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body=COUNTS, headers={"Content-Type": "application/json"}, statusCode=200)


class CountsDictPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/counts", CountsHandler)

    async def start(self):
        pass

    async def close(self):
        pass
