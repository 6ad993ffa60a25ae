import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse

from .state import DOORS


def doors(request):
    return pluginHTTPResponse(statusCode=200, body=json.dumps(DOORS), headers={"Content-Type": "application/json"})


class DoorRoutes(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/doors", doors, methods={"get"})

    async def start(self):
        pass

    async def close(self):
        pass
