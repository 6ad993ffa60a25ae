"""``RouteTable``: the plugin routes by path, kept between requests."""
from __future__ import annotations

from ..host import PluginRecord, Workbench
from ..plugins import Route
from ..plugins._base import routes_of


class RouteTable:
    """The active background plugins' routes by path, as ``wb.routes`` lists them, first one winning.

    Rebuilding from ``wb.routes`` on every request costs more than the rest of a plugin request's routing,
    so the table is kept, and rebuilt when a path is missing (a route added since) or when the plugin of
    the route found is no longer active (closed by ``wb.reload``; its successor is a new record).
    """

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb
        self._by_path: dict[str, tuple[Route, PluginRecord]] = {}

    def find(self, path: str) -> Route | None:
        found = self._by_path.get(path)
        if found is None or found[1].status != "active":
            self._rebuild()
            found = self._by_path.get(path)
        return None if found is None else found[0]

    def _rebuild(self) -> None:
        table: dict[str, tuple[Route, PluginRecord]] = {}
        for record in self._wb.plugins:
            if record.status == "active" and record.kind == "background":
                for route in routes_of(record.instance):
                    table.setdefault(route.path, (route, record))
        self._by_path = table
