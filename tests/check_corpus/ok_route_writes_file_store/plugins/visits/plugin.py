"""Visit counters persisted to store.json beside the plugin: GET reads them, POST adds one, DELETE resets."""
import json
from pathlib import Path

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

STORE = Path(__file__).resolve().parent / "store.json"
JSON = {"Content-Type": "application/json"}


def load() -> dict:
    return json.loads(STORE.read_text(encoding="utf-8")) if STORE.exists() else {}


def save(counters: dict) -> None:
    STORE.write_text(json.dumps(counters, sort_keys=True), encoding="utf-8")


class VisitsHandler(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body=json.dumps(load()), headers=JSON, statusCode=200)

    async def post(self, request):
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return self.response(body='{"error": "body is not JSON"}', headers=JSON, statusCode=400)
        zone = str(payload.get("zone", "all")) if isinstance(payload, dict) else "all"
        counters = load()
        counters[zone] = counters.get(zone, 0) + 1
        save(counters)
        return self.response(body=json.dumps(counters), headers=JSON, statusCode=200)

    async def delete(self, request):
        save({})
        return self.response(body="{}", headers=JSON, statusCode=200)


class VisitsPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/visits", VisitsHandler)

    async def start(self):
        pass

    async def close(self):
        pass
