"""The workbench's argument checks (``workbench._checks``): one function and one message each, used everywhere."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from helpers.fake_estimators import default_factories
from workbench._checks import choice, number, seconds, unknown_broker_message, unknown_estimators_message, whole_number
from workbench.host import UnknownEstimatorError, Workbench
from workbench.images import check_image_list
from workbench.plugins import pluginHTTPResponse
from workbench.research import compare
from workbench.research.datasets import make_synthetic_dataset
from workbench.sdk import Rect, VLImage
from workbench.server._plugin_routes import BadPluginResponse, to_web_response

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"


def test_whole_number_accepts_ints_and_numpy_integers_as_int() -> None:
    assert whole_number(3, "workers", minimum=1) == 3
    numpy_value = whole_number(np.int64(7), "workers", minimum=1)
    assert numpy_value == 7 and type(numpy_value) is int
    assert whole_number(None, "max_batch", minimum=1, allow_none=True) is None
    assert whole_number(65535, "port", minimum=0, maximum=65535) == 65535


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (0, {"minimum": 1}, "workers must be a whole number >= 1, got 0"),
        (True, {"minimum": 1}, "workers must be a whole number >= 1, got True"),
        (2.0, {"minimum": 1}, "workers must be a whole number >= 1, got 2.0"),
        ("2", {"minimum": 1}, "workers must be a whole number >= 1, got '2'"),
        (None, {"minimum": 1}, "workers must be a whole number >= 1, got None"),
        (0, {"minimum": 1, "allow_none": True}, "workers must be a whole number >= 1 or None, got 0"),
        (0, {"minimum": 1, "unit": "bytes"}, "workers must be a whole number of bytes >= 1, got 0"),
        (70000, {"minimum": 0, "maximum": 65535, "note": "0: any free port"},
         "workers must be a whole number from 0 to 65535 (0: any free port), got 70000"),
    ],
)
def test_whole_number_names_the_argument_the_rule_and_the_value(value, options, message) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        whole_number(value, "workers", **options)


def test_seconds_are_positive_finite_numbers() -> None:
    assert seconds(2, "read_timeout") == 2.0 and type(seconds(2, "read_timeout")) is float
    assert seconds(np.float32(0.5), "read_timeout") == 0.5
    for bad in (0, -1.0, math.nan, math.inf, True, "5", None):
        with pytest.raises(ValueError, match=f"^read_timeout must be a positive number of seconds, got {re.escape(repr(bad))}$"):
            seconds(bad, "read_timeout")


def test_numbers_are_finite_reals_within_bounds() -> None:
    assert number(np.float32(2.5), "thresholds", minimum=0) == 2.5 and number(0, "thresholds", minimum=0) == 0.0
    for bad in (-1, math.nan, math.inf, True, "3"):
        with pytest.raises(ValueError, match=f"^thresholds must be a finite number of pixels >= 0, got {re.escape(repr(bad))}$"):
            number(bad, "thresholds", minimum=0, unit="pixels")


def test_choice_lists_the_choices_and_suggests_the_closest() -> None:
    assert choice("ray", "engine", ("local", "ray")) == "ray"
    with pytest.raises(ValueError, match=r"^engine must be one of 'local', 'ray', got 'rey'; did you mean 'ray'\?$"):
        choice("rey", "engine", ("local", "ray"))
    with pytest.raises(ValueError, match=r"^engine must be one of 'local', 'ray', got 3$"):
        choice(3, "engine", ("local", "ray"))


def test_unknown_names_messages() -> None:
    assert unknown_broker_message("faces", ["peopleCountEstimator"]) == (
        "unknown estimator broker 'faces'; known: 'peopleCountEstimator'"
    )
    assert unknown_broker_message("faces", []) == "unknown estimator broker 'faces'; known: none"
    one = unknown_estimators_message(["Defualt"], "peopleCountEstimator", ["default", "MyPlugin"])
    assert one.startswith(
        "no estimator 'Defualt' for 'peopleCountEstimator'; choose one of 'default', 'MyPlugin'; did you mean 'default'?"
    )
    several = unknown_estimators_message(["A", "B"], "peopleCountEstimator", ["default"])
    assert several.startswith("no estimators 'A', 'B' for 'peopleCountEstimator'; choose one of 'default' (")


@pytest.mark.parametrize("status", [99, 600, True, "200"])
def test_a_plugin_routes_status_code_is_checked_as_a_whole_number(status) -> None:
    message = f"statusCode must be a whole number from 200 to 599, got {status!r}"
    with pytest.raises(BadPluginResponse, match=f"^{re.escape(message)}$"):
        to_web_response(pluginHTTPResponse(statusCode=status, body="x"))
    assert to_web_response(pluginHTTPResponse(statusCode=201, body="x")).status == 201


@pytest.mark.parametrize("n", [0, 2.0, True])
def test_a_synthetic_dataset_needs_a_whole_number_of_images(tmp_path, n) -> None:
    with pytest.raises(ValueError, match=f"^n must be a whole number >= 1, got {n!r}$"):
        make_synthetic_dataset(tmp_path, n=n)
    assert not (tmp_path / "images").exists(), "refused before anything is written"


def test_image_list_refuses_one_image_or_one_pair() -> None:
    image = VLImage(np.zeros((4, 4, 3), np.uint8))
    assert check_image_list([image]) == [image]
    pair = (image, Rect(0, 0, 2, 2))
    assert check_image_list((pair, pair)) == (pair, pair)
    for one in (image, pair):
        with pytest.raises(TypeError, match=r"^images must be a list of images, got \w+; wrap one image as \[image\]$"):
            check_image_list(one)


def test_host_and_compare_name_unknown_estimators_in_the_same_words(plugin_folder, spots_dataset) -> None:
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        with pytest.raises(UnknownEstimatorError) as by_host:
            wb.estimate("peopleCountEstimator", [spots_dataset[0].image], estimator="Nope")
        with pytest.raises(UnknownEstimatorError) as by_compare:
            compare(wb, spots_dataset, ["Nope"], progress=False)
        with pytest.raises(UnknownEstimatorError) as several:
            compare(wb, spots_dataset, ["default", "Nope", "Other"], progress=False)
    assert str(by_host.value) == str(by_compare.value) == unknown_estimators_message(
        ["Nope"], "peopleCountEstimator", ["default"]
    )
    assert str(several.value) == unknown_estimators_message(["Nope", "Other"], "peopleCountEstimator", ["default"])


@pytest.mark.parametrize(
    ("phrase", "home"),
    [
        ("unknown estimator broker", "_checks.py"),
        ("a replacement plugin is named by its class name", "_checks.py"),
        ("must be a positive number of seconds", "_checks.py"),
        ("images must be a list of images", "images.py"),
        ("over the budget of", "_pixel_budget.py"),
    ],
)
def test_each_message_is_written_once(phrase: str, home: str) -> None:
    writers = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if phrase in path.read_text())
    assert writers == [home]
