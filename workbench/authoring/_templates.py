"""The files ``workbench new`` writes, per plugin kind. ``{name}``, ``{cls}``, ``{kind}`` and ``{plugins}`` are
filled in by ``scaffold.py``; doubled braces are literal. The plugins import only the service's names."""
from __future__ import annotations

INIT = ""

REQUIREMENTS = {
    "event": "",
    "background": "",
    "estimator": "numpy>=1.24\n",
}

README = """# {name}

A {kind} plugin for the service's plugin system, written against the service's own import paths
(`luna_plugins`, `lunavl`), so the same folder runs in the service and in the workbench.

{what}

## Develop

```
pip install "workbench[test]"            # or: pip install "workbench[test] @ git+<the workbench repository URL>"
pytest                                    # tests/test_{name}.py runs the plugin through the workbench
workbench serve --plugins-dir {plugins} --active {name}.plugin
```

## Enable in the service

```
pip install -r {name}/requirements.txt
export LUNA_REMOTE_SDK_ACTIVE_PLUGINS={name}.plugin
```
"""

WHAT = {
    "event": "It listens for `monitoring_event` and counts the monitoring points per series and route "
             "(`{cls}.counts`).",
    "background": "It serves `GET /{name}/hello`, answering JSON with the number of requests it has answered.",
    "estimator": "It replaces the people counter (`peopleCountEstimator`) with a toy counter of bright spots: "
                 "replace `estimateOne` with your model.",
}

PLUGIN = {
    "event": '''"""{name}: counts the service's monitoring points per series and route."""
from collections import Counter

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class {cls}(BaseEventPlugin):
    """Called with each batch of ``monitoring_event`` points."""

    eventName = "monitoring_event"

    def __init__(self, app):
        super().__init__(app)
        self.counts = Counter()

    async def handleEvent(self, points, logger):
        for point in points:
            self.counts[(point.series, point.tags.get("route", "?"))] += 1
        logger.debug("{name}: %d points", len(points))
''',
    "background": '''"""{name}: a background plugin serving ``GET /{name}/hello``."""
import json

from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin


class HelloHandler(BaseBackgroundHandler):
    """Answers GET with the plugin's name and how many requests it has answered, as JSON."""

    async def get(self, request):
        {cls}.answered += 1
        # The body is text with its content type, as in the service's examples: encode JSON yourself.
        body = json.dumps({{"plugin": "{name}", "answered": {cls}.answered}})
        return self.response(body=body, headers={{"Content-Type": "application/json"}}, statusCode=200)


class {cls}(BaseBackgroundPlugin):
    """Registers its route when the service initialises it."""

    answered = 0

    async def initialize(self):
        self.addRoute("/{name}/hello", HelloHandler)

    async def start(self):
        pass

    async def close(self):
        pass
''',
    "estimator": '''"""{name}: a people-count estimator replacement (a toy counter of bright spots: put your model here)."""
import asyncio
from typing import Literal

import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage

# A pixel brighter than this (0..255, mean of R, G, B) belongs to a spot.
BRIGHT = 128


class Estimation:
    """What ``PeopleCount`` is built from: the count and the head points."""

    class Points:
        def __init__(self, coordinates):
            self.coordinates = coordinates

        def getPoints(self):
            return [Vec2D(x, y) for x, y in self.coordinates]

    def __init__(self, count, coordinates):
        self.count = count
        self.points = self.Points(coordinates)


class {cls}Estimator(EstimatorBase):
    """Counts bright spots: each spot is counted at its top-left pixel."""

    def estimateOne(self, pixels):
        """(count, [(x, y), ...]) for one RGB uint8 image. Replace this with your model."""
        bright = pixels.mean(axis=2) > BRIGHT
        above = np.zeros_like(bright)
        above[1:] = bright[:-1]
        left = np.zeros_like(bright)
        left[:, 1:] = bright[:, :-1]
        ys, xs = np.nonzero(bright & ~above & ~left)
        return len(xs), [(float(x) + 0.5, float(y) + 0.5) for x, y in zip(xs, ys)]

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        """One PeopleCount per entry of ``images``, in order (the images may differ in size).

        An entry is what the service's people counter takes: a ``VLImage``, or an image with the area to count
        in, as an ``ImageForPeopleEstimation`` or a plain ``(VLImage, Rect)`` tuple. T1 asks for the count and
        the head points, T2 for the count only.
        """
        return [await self.estimateEntry(entry, estimationTargets) for entry in images]

    async def estimateEntry(self, entry: "VLImage | ImageForPeopleEstimation | tuple", estimationTargets):
        if isinstance(entry, VLImage):
            image, area = entry, None
        else:
            # ImageForPeopleEstimation is a named tuple: indexing reads it and a plain (image, Rect) pair alike.
            image, area = entry[0], entry[1]
        offsetX = offsetY = 0
        if area is not None:
            image, offsetX, offsetY = image.crop(area), int(area.x), int(area.y)
        # Off the event loop, as a model's inference must be: the service serves other requests meanwhile.
        count, points = await asyncio.to_thread(self.estimateOne, image.asNPArray())
        if estimationTargets != EstimationTargets.T1:
            points = []
        return PeopleCount(Estimation(count, [(x + offsetX, y + offsetY) for x, y in points]))

    def close(self):
        pass


class {cls}(EstimatorReplacementPlugin):
    """Replaces the service's people counter."""

    @property
    def estimatorBrokerName(self):
        return "peopleCountEstimator"

    @property
    def deviceClass(self) -> Literal["cpu", "gpu"]:
        device = self.appConfig.estimatorsSettings.peopleCounter.deviceClass
        return self.globalDeviceClass if device == "global" else device

    def identityInputs(self):
        """For the workbench's prediction cache (the service never calls it): what decides the answers besides
        this folder. List a model read from elsewhere in "files", the variables naming it in "environment"."""
        return {{"files": [], "environment": [], "settings": {{"deviceClass": self.deviceClass}}}}

    def createReplacementEstimator(self):
        return {cls}Estimator()

    def close(self):
        pass
''',
}

TEST = {
    "event": '''"""{name} through the workbench: an emitted monitoring batch reaches the plugin."""
from pathlib import Path

from workbench import MonitoringPoint

PLUGINS = Path(__file__).resolve().parents[1] / "{plugins}"


def test_counts_an_emitted_monitoring_batch(workbench_factory):
    wb = workbench_factory(PLUGINS, ["{name}.plugin"])
    points = [MonitoringPoint("request", tags={{"route": "GET:/a"}}), MonitoringPoint("request", tags={{"route": "GET:/a"}}),
              MonitoringPoint("error", tags={{"route": "GET:/a"}})]
    [delivery] = wb.emit("monitoring_event", points)
    assert delivery.ok, delivery.error
    plugin = wb.plugins["{cls}"].instance
    assert plugin.counts[("request", "GET:/a")] == 2 and plugin.counts[("error", "GET:/a")] == 1
''',
    "background": '''"""{name} through the workbench: its route, served over HTTP."""
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "{plugins}"


async def test_hello_route(workbench_client):
    client = await workbench_client(PLUGINS, ["{name}.plugin"])
    response = await client.get("/{name}/hello")
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    body = await response.json()
    assert body["plugin"] == "{name}" and body["answered"] >= 1


def test_the_plugin_is_active(workbench_factory):
    wb = workbench_factory(PLUGINS, ["{name}.plugin"])
    assert wb.plugins["{cls}"].status == "active", wb.plugins
''',
    "estimator": '''"""{name} through the workbench: it replaces the people counter and counts a generated image."""
from pathlib import Path

import asyncio

import numpy as np

from workbench import EstimationTargets, ImageForPeopleEstimation, Rect, VLImage

PLUGINS = Path(__file__).resolve().parents[1] / "{plugins}"


def spots(xy, height=60, width=80):
    pixels = np.zeros((height, width, 3), np.uint8)
    for x, y in xy:
        pixels[y:y + 2, x:x + 2] = 255
    return VLImage(pixels)


def test_estimates_a_generated_image(workbench_factory):
    wb = workbench_factory(PLUGINS, ["{name}.plugin"])
    assert wb.estimators["peopleCountEstimator"] == "{cls}"
    [result] = wb.estimate("peopleCountEstimator", [spots([(5, 5), (30, 20), (70, 50)])])
    assert result.count == 3
    assert sorted(result.pointsArray.tolist()) == [[5.5, 5.5], [30.5, 20.5], [70.5, 50.5]]


def test_every_input_form_in_one_batch(workbench_factory):
    """The service sends a VLImage, an ImageForPeopleEstimation or a (VLImage, Rect) tuple, of any size."""
    wb = workbench_factory(PLUGINS, ["{name}.plugin"])
    estimator = wb.plugins["{cls}"].instance.createReplacementEstimator()
    small, large = spots([(5, 5)], height=30, width=40), spots([(10, 10), (50, 40)], height=90, width=120)
    batch = [small, ImageForPeopleEstimation(large, Rect(40, 30, 60, 50)), (large, Rect(0, 0, 40, 40))]
    t1 = asyncio.run(estimator.estimateBatch(batch, EstimationTargets.T1))
    assert [result.count for result in t1] == [1, 1, 1]
    assert [(point.x, point.y) for result in t1 for point in result.coordinates] == [(5.5, 5.5), (50.5, 40.5), (10.5, 10.5)]
    t2 = asyncio.run(estimator.estimateBatch(batch, EstimationTargets.T2))
    assert [result.count for result in t2] == [1, 1, 1] and all(not result.coordinates for result in t2)


async def test_estimates_over_http(workbench_client):
    import io

    from PIL import Image

    client = await workbench_client(PLUGINS, ["{name}.plugin"])
    body = io.BytesIO()
    Image.fromarray(spots([(10, 10), (40, 40)]).asNPArray()).save(body, format="PNG")
    response = await client.post("/estimators/peopleCountEstimator/estimate", data=body.getvalue())
    assert response.status == 200
    assert (await response.json())["count"] == 2
''',
}
