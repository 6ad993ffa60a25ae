"""Camera adjacency: the graph library is only imported when the route is first used."""
import importlib
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin

EDGES = [("entrance", "hall"), ("hall", "exit"), ("hall", "cafe")]


class PathsHandler(BaseBackgroundHandler):
    async def get(self, request):
        nx = importlib.import_module("networkx")
        graph = nx.Graph(EDGES)
        paths = dict(nx.all_pairs_shortest_path_length(graph))
        return self.response(body=json.dumps(paths), headers={"Content-Type": "application/json"}, statusCode=200)


class GraphRoutePlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/cameras/paths", PathsHandler)

    async def start(self):
        pass

    async def close(self):
        pass
