from lunavl.sdk.estimators.image_estimators.people_count import PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D


class _Points:
    def __init__(self, coordinates):
        self._coordinates = list(coordinates)

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self._coordinates]


class _Estimation:
    def __init__(self, coordinates, withPoints):
        self.count = len(coordinates)
        self.points = _Points(coordinates if withPoints else [])


def makePeopleCount(coordinates, withPoints: bool) -> PeopleCount:
    return PeopleCount(_Estimation(coordinates, withPoints))
