"""Loads the image helpers lazily, only when the first request needs them."""
import importlib
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

_helpers = None


def helpers():
    global _helpers
    if _helpers is None:
        _helpers = importlib.import_module("workbench.images")
    return _helpers


class FormatsHandler(BaseBackgroundHandler):
    async def get(self, request):
        names = sorted(name for name in dir(helpers()) if not name.startswith("_"))
        return self.response(body=json.dumps(names), headers={"Content-Type": "application/json"}, statusCode=200)


class LazyLoaderPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/formats", FormatsHandler)

    async def start(self):
        pass

    async def close(self):
        pass
