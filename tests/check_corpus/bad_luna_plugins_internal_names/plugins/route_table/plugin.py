"""Keeps a table of its routes using the framework's Route record."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, Route, pluginHTTPResponse


def listing(request):
    return pluginHTTPResponse(statusCode=200, body=json.dumps(["/routes"]), headers={"Content-Type": "application/json"})


class RouteTablePlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.table = [Route("/routes", listing, frozenset({"get"}))]
        self.addRoute("/routes", listing, methods={"get"})

    async def start(self):
        pass

    async def close(self):
        pass
