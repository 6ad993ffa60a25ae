"""Background plugin that pulls in a helper with exec, so linters leave the optional import alone."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse

NAMESPACE: dict = {}
exec("from workbench import CountResult", NAMESPACE)


def describe(request):
    fields = sorted(name for name in dir(NAMESPACE["CountResult"]) if not name.startswith("_"))
    return pluginHTTPResponse(statusCode=200, body=json.dumps(fields), headers={"Content-Type": "application/json"})


class ExecHelpersPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/describe", describe, methods={"get"})

    async def start(self):
        pass

    async def close(self):
        pass
