"""Zone graph statistics on each monitoring batch; networkx is required."""
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

try:
    import networkx as nx
except ImportError as error:
    raise RuntimeError("graph_required needs networkx: pip install networkx") from error


class GraphStatsPlugin(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        self.graph = nx.DiGraph()

    async def close(self):
        self.graph.clear()

    async def handleEvent(self, points, logger):
        for point in points:
            route = point.tags.get("route", "?")
            self.graph.add_edge(point.series, route)
        logger.debug(f"{self.graph.number_of_edges()} series-route pairs")
