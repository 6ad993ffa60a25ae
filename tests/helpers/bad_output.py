"""A replacement estimator that answers chosen images with a broken result, for the output checks (issue 31,
finding 7): the rest of its answers are good (one head at the image's centre, and a map holding it)."""
from __future__ import annotations

import textwrap

# ``{answer}`` is a Python expression of ``width`` and ``height`` (the image's size) giving (count, points,
# densityMap); ``{marker}`` picks the images that get it: those whose file name holds it ("" for every image).
_SOURCE = """
    import numpy as np
    from workbench.plugins import EstimatorBase, EstimatorReplacementPlugin
    from lunavl.sdk.estimators.image_estimators.people_count import PeopleCount
    from lunavl.sdk.image_utils.geometry import Vec2D


    class Estimation:
        class Points:
            def __init__(self, points):
                self.points = points

            def getPoints(self):
                return [Vec2D(x, y) for x, y in self.points]

        def __init__(self, count, points, densityMap):
            self.count = count
            self.points = self.Points(points)
            self.densityMap = densityMap


    def good(width, height):
        density = np.zeros((max(1, height // 8), max(1, width // 8)), np.float32)
        density[density.shape[0] // 2, density.shape[1] // 2] = 1.0
        return 1, [(width / 2, height / 2)], density


    class Broken(EstimatorBase):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            answers = []
            for image in images:
                width, height = image.rect.width, image.rect.height
                bad = {marker!r} in (image.filename or "")
                answers.append(PeopleCount(Estimation(*({answer}) if bad else good(width, height))))
            return answers

        def close(self):
            pass


    class BrokenPlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"

        def identityInputs(self):
            return {{}}  # its folder is all there is: cached, the good answers are served again

        def createReplacementEstimator(self):
            return Broken()
"""

#: The estimator's name in the host (its plugin's class name).
BROKEN = "BrokenPlugin"

#: The broken answers issue 31 found passing through, by name: (count, points, densityMap) of width, height.
ANSWERS = {
    "infinite map": "1, [], np.full((height // 8, width // 8), np.inf, np.float32)",
    "NaN map": "1, [], np.full((height // 8, width // 8), np.nan, np.float32)",
    "negative map": "0, [], np.full((height // 8, width // 8), -5.0, np.float32)",
    "count 1e30": "1e30, [], None",
    "more points than count": "3, [(1.0 + i % 10, 1.0 + i // 10) for i in range(300)], None",
    "point far outside": "1, [(1e12, 1e12)], None",
    "fractional count": "2.5, [], None",
    "oversized map": "1, [], np.zeros((height * 4, width * 4), np.float32)",
}

#: The message each broken answer must fail with (a fragment of it).
REASONS = {
    "infinite map": "non-finite cell(s) (inf)",
    "NaN map": "non-finite cell(s) (NaN)",
    "negative map": "cannot be negative",
    "count 1e30": "more than the",
    "more points than count": "300 head points for a count of 3",
    "point far outside": "outside the",
    "fractional count": "count must be a whole number",
    "oversized map": "at most one cell per pixel",
}


def broken_plugin_source(answer: str, marker: str = "") -> str:
    """The plugin module's source: ``answer`` (an expression, see ``ANSWERS``) for images whose file name holds
    ``marker``, a good answer for the others."""
    return textwrap.dedent(_SOURCE).format(answer=answer, marker=marker)
