"""A small registry of cameras kept in memory: list them, register one (JSON body), forget them all."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

CAMERAS: dict[str, dict] = {}
JSON = {"Content-Type": "application/json"}


class CamerasHandler(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body=json.dumps(sorted(CAMERAS.values(), key=lambda c: c["id"])), headers=JSON,
                             statusCode=200)

    async def post(self, request):
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            return self.response(body=json.dumps({"error": "body is not JSON"}), headers=JSON, statusCode=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str) or not payload["id"]:
            return self.response(body=json.dumps({"error": "expected {\"id\": \"cam-1\", ...}"}), headers=JSON,
                                 statusCode=400)
        CAMERAS[payload["id"]] = {"id": payload["id"], "zone": str(payload.get("zone", ""))}
        return self.response(body=json.dumps(CAMERAS[payload["id"]]), headers=JSON, statusCode=201)

    async def delete(self, request):
        CAMERAS.clear()
        return self.response(body="", headers={"Content-Type": "text/plain"}, statusCode=204)


class CameraRegistryPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/cameras", CamerasHandler)

    async def start(self):
        pass

    async def close(self):
        CAMERAS.clear()
