"""GET /status: this plugin's state; GET /status?verbose=1 also lists the other loaded plugins."""
import json
import time
from urllib.parse import parse_qs

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse


class PluginStatusPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.started = time.time()
        self.addRoute("/status", self.status, methods={"get"})

    def status(self, request):
        body = {"plugin": "plugin_status", "since": self.started}
        if parse_qs(request.query_string).get("verbose") == ["1"]:
            body["plugins"] = sorted(str(name) for name in self.app.plugins)
        return pluginHTTPResponse(statusCode=200, body=json.dumps(body), headers={"Content-Type": "application/json"})

    async def start(self):
        pass

    async def close(self):
        pass
