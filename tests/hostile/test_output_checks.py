"""Estimator output is checked once where it enters, the host's estimator pool (issue 31, finding 7): an infinite,
NaN or negative map, a count of 1e30, more points than the count, points far outside the image and a million
points all passed through before; now each fails its image, naming the estimator and what was wrong, and the
call's other images keep their results."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from helpers.bad_output import ANSWERS, BROKEN, REASONS, broken_plugin_source
from helpers.fake_estimators import spot_image
from helpers.hostile import http, request
from workbench.host import EstimatorOutputError
from workbench.host._output import MAX_POINTS, POINT_MARGIN, output_problem
from workbench.plugins import EstimatorContractError
from workbench.result import CountResult
from workbench.sdk import ImageForPeopleEstimation, Rect, VLImage

BROKER = "peopleCountEstimator"


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_a_broken_answer_fails_its_image_naming_the_estimator(plugin_folder, make_host, case):
    module = plugin_folder.add("broken", broken_plugin_source(ANSWERS[case]))
    wb = make_host([module])
    with pytest.raises(EstimatorOutputError) as caught:
        wb.estimate(BROKER, [spot_image([(3, 3)])], estimator=BROKEN)
    error = caught.value
    assert isinstance(error, EstimatorContractError)  # callers that handled contract errors still do
    assert f"plugin {BROKEN!r}" in str(error) and REASONS[case] in str(error)
    assert list(error.failures) == [0] and error.results == [None]


def test_only_the_broken_image_of_a_call_fails(plugin_folder, make_host):
    module = plugin_folder.add("broken", broken_plugin_source(ANSWERS["infinite map"], marker="bad"))
    wb = make_host([module])
    good, bad = VLImage(np.zeros((48, 64, 3), np.uint8)), VLImage(np.zeros((48, 64, 3), np.uint8), filename="bad.jpg")
    with pytest.raises(EstimatorOutputError) as caught:
        wb.estimate(BROKER, [good, bad, good], estimator=BROKEN)
    first, failed, third = caught.value.results
    assert failed is None and list(caught.value.failures) == [1]
    assert first.count == third.count == 1 and first.estimatorName == BROKEN
    # Without the broken image the call answers as before.
    assert [r.count for r in wb.estimate(BROKER, [good, good], estimator=BROKEN)] == [1, 1]


def test_a_million_points_are_refused(plugin_folder, make_host):
    answer = "1_000_000, [(i % 1000 + 0.5, i // 1000 + 0.5) for i in range(1_000_000)], None"
    module = plugin_folder.add("broken", broken_plugin_source(answer))
    wb = make_host([module], estimate_timeout=60)
    with pytest.raises(EstimatorOutputError, match=f"1000000 head points, more than the {MAX_POINTS}"):
        wb.estimate(BROKER, [VLImage(np.zeros((1000, 1000, 3), np.uint8))], estimator=BROKEN)


def test_the_defaults_answers_pass(make_host):
    """The host's own default (here the tests' bright-pixel counter) answers as before: good output is untouched."""
    [result] = make_host().estimate(BROKER, [spot_image([(1, 1), (5, 7)])])
    assert result.count == 2 and sorted(result.pointsArray.tolist()) == [[1.0, 1.0], [5.0, 7.0]]


def test_limits_at_their_edges():
    image = VLImage(np.zeros((10, 20, 3), np.uint8))
    # A point an edge cell's centre past the image's far edge, a map with a model's rounding below zero and its
    # stride's padding: fine.
    edge = CountResult(1, [(20.0 + POINT_MARGIN, 10.0)], densityMap=np.full((10 + 64, 20 + 64), -0.01, np.float32))
    assert output_problem(edge, image) is None
    assert "outside the 20x10 image" in output_problem(CountResult(1, [(20.5 + POINT_MARGIN, 0)]), image)
    assert "outside the 20x10 image" in output_problem(CountResult(1, [(0, -0.5 - POINT_MARGIN)]), image)
    assert "cannot be negative" in output_problem(CountResult(0, densityMap=np.full((2, 2), -0.02)), image)
    # The count is bounded by the pixels counted in: the detect area's where there is one.
    area = ImageForPeopleEstimation(image, Rect(0, 0, 5, 4))
    assert output_problem(CountResult(20), area) is None
    assert "more than the 20 pixels" in output_problem(CountResult(21), area)


def test_the_server_refuses_a_million_points_in_a_short_answer(plugin_folder, serve):
    """The server answered a million points with 40 MB after 20 s; now the output check fails the request."""
    answer = "1_000_000, [(i % 1000 + 0.5, i // 1000 + 0.5) for i in range(1_000_000)], None"
    module = plugin_folder.add("broken", broken_plugin_source(answer))
    wb, host, port = serve([module], host_options={"estimate_timeout": 60})
    picture = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(picture, format="PNG")
    estimate = request("POST", "/estimators/peopleCountEstimator/estimate", picture.getvalue(),
                       {"Content-Type": "image/png"})
    status, _, body = http(host, port, estimate, timeout=30)
    assert status == 500 and len(body) < 1000
    # What was wrong, not only the exception's type (the client is often the plugin's author).
    error = json.loads(body)["error"]
    assert "EstimatorOutputError" in error and "1000000 head points" in error and "'BrokenPlugin'" in error
