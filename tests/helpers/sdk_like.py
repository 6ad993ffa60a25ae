"""Objects shaped like the real SDK's, for the adapters that read results by shape."""
from __future__ import annotations

from workbench.sdk import Vec2D


class Estimation:
    """Built the way the service's reference estimator builds its result: a count and (x, y) tuples."""

    class Points:
        def __init__(self, coordinates: list[tuple[float, float]]) -> None:
            self.coordinates = coordinates

        def getPoints(self) -> list[Vec2D]:
            return [Vec2D(x, y) for x, y in self.coordinates]

    def __init__(self, count: object, coordinates: list[tuple[float, float]], **extras: object) -> None:
        self.count = count
        self.points = self.Points(coordinates)
        self.__dict__.update(extras)
