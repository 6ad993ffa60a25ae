"""workbench check's strict run uses plugins as the service would, and only as far as is safe (issue 28).

Finding 4: estimators get batches of several images, of mixed sizes, with and without detect areas, and must
return the SDK's ``PeopleCount``. Finding 5: the run happens in an empty working folder. Finding 10: a 5xx a
route answers on purpose is information, an exception that escapes a handler is a finding. Finding 11: routes
get only safe methods unless asked, the report says what was exercised, and the verdict does not depend on
the folder check runs from.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.fake_estimators import default_factories, spot_image

from workbench import Workbench
from workbench.authoring import check_plugins
from workbench.authoring._findings import RUNTIME
from workbench.cli import main
from workbench.plugins import EstimatorContractError


def _check(plugin_folder, modules, **options):
    return check_plugins(plugin_folder.root, modules, default_estimators=default_factories(), **options)


def _runtime(report):
    return [f for f in report.findings if f.kind == RUNTIME]


# -- finding 4: batches the service can send, results as the service's types --------------------------------

ESTIMATOR = """\
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import ImageForPeopleEstimation, PeopleCount


class Estimation:
    def __init__(self, count):
        self.count = count
        self.points = self

    def getPoints(self):
        return []


def pixels(item):
    if isinstance(item, tuple):  # ImageForPeopleEstimation, or the plain (VLImage, Rect) pair
        image, area = item
        return image.crop(area).asNPArray()
    return item.asNPArray()


class Counter(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        return BODY


class CounterPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self):
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return Counter()
"""


def _estimator(plugin_folder, name, body):
    return plugin_folder.add(name, ESTIMATOR.replace("return BODY", body))


@pytest.mark.slow  # over 2 s here
def test_an_estimator_handling_every_form_and_size_passes(plugin_folder):
    """Finding 4, the legal side: one PeopleCount per image, whatever mix of forms and sizes the batch holds."""
    module = _estimator(plugin_folder, "legal", "return [PeopleCount(Estimation(int(pixels(i).mean() > 0))) for i in images]")
    report = _check(plugin_folder, [module])
    assert report.ok, str(report)
    assert "ran 1 replacement estimator" in report.summary


def test_one_result_for_a_whole_batch_is_a_finding(plugin_folder):
    """Finding 4: a plugin returning one result for the whole batch passed, as only one image was ever sent."""
    module = _estimator(plugin_folder, "one_result", "return [PeopleCount(Estimation(len(images)))]")
    report = _check(plugin_folder, [module])
    [finding] = _runtime(report)
    assert finding.file == str(plugin_folder.root / "one_result" / "plugin.py")
    assert "CounterPlugin failed on a batch of 3 images (320x240, 257x419, 320x240)" in finding.message
    assert "returned 1 results for 3 images" in finding.message


@pytest.mark.slow  # over 2 s here
def test_stacking_images_of_different_sizes_is_a_finding_at_its_line(plugin_folder):
    """Finding 4: ``np.stack`` of the batch's images works for one image, and fails on the sizes the service mixes."""
    module = _estimator(plugin_folder, "stacks", "stacked = np.stack([pixels(i) for i in images])\n"
                        "        return [PeopleCount(Estimation(0)) for _ in stacked]")
    report = _check(plugin_folder, [module])
    [finding] = _runtime(report)
    assert (finding.file, finding.line) == (str(plugin_folder.root / "stacks" / "plugin.py"), 27)
    assert "a batch of 3 images (320x240, 257x419, 320x240), T1: ValueError" in finding.message


def test_a_batch_mixing_plain_images_and_detect_areas_is_sent(plugin_folder):
    """Finding 4: detect areas were only ever sent alone; the service mixes both input forms in one batch."""
    module = _estimator(plugin_folder, "first_decides", "crop = isinstance(images[0], ImageForPeopleEstimation)\n"
                        "        return [PeopleCount(Estimation(int((i.image.crop(i.detectArea) if crop else i).asNPArray().mean() > 0)))"
                        " for i in images]")
    report = _check(plugin_folder, [module])
    [finding] = _runtime(report)
    assert "detect area" in finding.message and "AttributeError" in finding.message


def test_a_plain_image_and_rect_pair_is_sent(plugin_folder):
    """Finding 4: the SDK's estimateBatch takes plain (VLImage, Rect) pairs too (its signature, and the service's
    own example handles them), but check never sent one, so an estimator that reads ``.image`` passed."""
    module = _estimator(plugin_folder, "named_only", "return [PeopleCount(Estimation(int((i.image.crop(i.detectArea) "
                        "if isinstance(i, tuple) else i).asNPArray().mean() > 0))) for i in images]")
    report = _check(plugin_folder, [module])
    [finding] = _runtime(report)
    assert "as a plain (VLImage, Rect) pair" in finding.message and "AttributeError" in finding.message


def test_a_namedtuple_with_count_and_coordinates_is_not_a_people_count(plugin_folder):
    """Finding 4: results were accepted by shape; the service's docs require the SDK's PeopleCount."""
    source = ESTIMATOR.replace("return BODY", "return [Result(0, ()) for _ in images]").replace(
        "\n\nclass Estimation", "from collections import namedtuple\n\nResult = namedtuple('Result', 'count coordinates')\n\n\nclass Estimation", 1)
    module = plugin_folder.add("shaped", source)
    report = _check(plugin_folder, [module])
    [finding] = _runtime(report)
    assert "Counter.estimateBatch returned Result objects; return " \
           "lunavl.sdk.estimators.image_estimators.people_count.PeopleCount" in finding.message


def test_the_host_refuses_results_that_only_look_like_people_counts(plugin_folder):
    """Finding 4, in the host itself: ``wb.estimate`` holds a replacement estimator to the SDK's result type."""
    source = ESTIMATOR.replace("return BODY", "return [Looks() for _ in images]").replace(
        "\n\nclass Estimation", "\n\nclass Looks:\n    count = 1\n    coordinates = ()\n\n\nclass Estimation", 1)
    module = plugin_folder.add("looks", source)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        wb.use("peopleCountEstimator", "CounterPlugin")
        with pytest.raises(EstimatorContractError) as caught:
            wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])
        wb.use("peopleCountEstimator", "default")
        assert wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])[0].count == 1
    assert str(caught.value).startswith("plugin 'CounterPlugin': Counter.estimateBatch returned Looks objects; return "
                                        "lunavl.sdk.estimators.image_estimators.people_count.PeopleCount")
    assert "having .count and .coordinates is not enough" in str(caught.value)


# -- finding 5: the strict run in an empty working folder ----------------------------------------------------

READS_A_FILE = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Labels(BaseEventPlugin):
    eventName = "monitoring_event"

    async def initialize(self):
        with open("plugins/reader/labels.txt") as labels:
            self.labels = labels.read().split()

    async def handleEvent(self, points, logger):
        pass
"""


def test_a_data_file_opened_relative_to_the_working_folder_is_a_finding(plugin_folder, monkeypatch):
    """Finding 5: from the folder above the plugins the file opens here; the service does not run from there."""
    module = plugin_folder.add("reader", READS_A_FILE)
    (plugin_folder.root / "reader" / "labels.txt").write_text("head\n")
    monkeypatch.chdir(plugin_folder.root.parent)
    report = _check(plugin_folder, [module])
    [finding] = _runtime(report)
    # The report's paths stay relative to the folder check was run from.
    assert (finding.file, finding.line) == (os.path.join("plugins", "reader", "plugin.py"), 4)
    assert "No such file or directory: 'plugins/reader/labels.txt'" in finding.message
    assert Path.cwd() == plugin_folder.root.parent


def test_the_verdict_does_not_depend_on_the_folder_check_runs_from(plugin_folder, monkeypatch, tmp_path):
    """Finding 11 (second sentence): the same check run from two folders gives the same findings."""
    module = plugin_folder.add("reader", READS_A_FILE)
    (plugin_folder.root / "reader" / "labels.txt").write_text("head\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    verdicts = []
    for folder in (plugin_folder.root.parent, elsewhere):
        monkeypatch.chdir(folder)
        report = _check(plugin_folder, [module])
        verdicts.append([(Path(f.file).resolve(), f.line, f.kind, f.message) for f in report.findings])
    assert verdicts[0] == verdicts[1] and verdicts[0]


def test_the_working_folder_is_restored_when_a_plugin_changes_it(plugin_folder, monkeypatch, tmp_path):
    """Finding 5: the run's empty folder is left afterwards, whatever the plugin did to the working folder."""
    module = plugin_folder.add("wanders", READS_A_FILE.replace(
        'with open("plugins/reader/labels.txt") as labels:\n            self.labels = labels.read().split()',
        'import os\n        os.chdir(os.path.expanduser("~"))'))
    monkeypatch.chdir(tmp_path)
    assert _check(plugin_folder, [module]).ok
    assert Path.cwd() == tmp_path


# -- findings 10 and 11: routes ------------------------------------------------------------------------------

ROUTES = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, pluginHTTPResponse

STORE = STORE_PATH


def ready(request):
    return pluginHTTPResponse(statusCode=503, body="warming up")


def write(request):
    with open(STORE, "a") as store:
        store.write(request.method + "\\n")
    return pluginHTTPResponse(statusCode=200, body="stored")


class Items(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body="[]", statusCode=200)

    async def delete(self, request):
        write(request)
        return self.response(body="", statusCode=200)


class Store(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/ready", ready)
        self.addRoute("/write", write, methods=["POST", "PUT"])
        self.addRoute("/items", Items)
"""


def _routes(plugin_folder, tmp_path):
    store = tmp_path / "store.txt"
    return plugin_folder.add("store", ROUTES.replace("STORE_PATH", repr(str(store)))), store


def test_only_safe_methods_are_sent_unless_asked(plugin_folder, tmp_path):
    """Finding 11: check sent real POST/PUT/DELETE requests, so a plugin wired to a store got writes."""
    module, store = _routes(plugin_folder, tmp_path)
    report = _check(plugin_folder, [module])
    assert not store.exists()
    # Not sending them is said (the handlers were only read), not held against the plugin.
    assert report.ok and report.exit_code == 0 and not report.unverified, str(report)
    assert "started 1 background plugin; sent GET to 2 routes; not sent, as they may write: POST /write, PUT /write, " \
           "DELETE /items (their handlers were only read, not run; --exercise-writes sends them)" in report.summary


def test_exercise_writes_sends_them(plugin_folder, tmp_path):
    """Finding 11: asked, check sends every method the routes take."""
    module, store = _routes(plugin_folder, tmp_path)
    report = _check(plugin_folder, [module], exercise_writes=True)
    assert report.ok and report.exit_code == 0, str(report)
    assert sorted(store.read_text().split()) == ["DELETE", "POST", "PUT"]
    assert "sent GET to 2 routes, POST to 1 route, PUT to 1 route, DELETE to 1 route" in report.summary


@pytest.mark.slow  # over 2 s here
def test_cli_exercise_writes_flag(plugin_folder, tmp_path, capsys):
    """Finding 11: ``workbench check --exercise-writes``; without it, what was not sent is said."""
    module, store = _routes(plugin_folder, tmp_path)
    command = ["check", "--plugins-dir", str(plugin_folder.root), "--active", module]
    assert main(command) == 0
    assert not store.exists()
    assert "--exercise-writes sends them" in capsys.readouterr().err
    assert main([*command, "--exercise-writes"]) == 0
    assert sorted(store.read_text().split()) == ["DELETE", "POST", "PUT"]


def test_a_deliberate_503_is_information_not_a_finding(plugin_folder, tmp_path):
    """Finding 10: a readiness route answering 503 on purpose was a finding; any 5xx was."""
    module, _ = _routes(plugin_folder, tmp_path)
    report = _check(plugin_folder, [module])
    assert not report.findings, str(report)
    assert "GET /ready answered 503 (the handler returned it: not a failure)" in report.summary


RAISES = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse


def ready(request):
    raise RuntimeError("the store is down")


def bad_header(request):
    return pluginHTTPResponse(statusCode=200, body="", headers={"X-Bad": "a\\nb"})


class Fails(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/ready", ready)
        self.addRoute("/bad", bad_header)
"""


def test_an_escaped_exception_is_a_finding_at_the_raising_line(plugin_folder):
    """Finding 10: what the server turns into a 500 (an escaped exception, a malformed answer) stays a finding."""
    module = plugin_folder.add("fails", RAISES)
    report = _check(plugin_folder, [module])
    file = str(plugin_folder.root / "fails" / "plugin.py")
    assert [(f.file, f.line) for f in _runtime(report)] == [(file, 5), (file, 8)]
    assert "GET /ready raised RuntimeError: the store is down (the server answered 500)" in report.findings[0].message
    assert "GET /bad answered 500: its answer cannot be sent" in report.findings[1].message
    assert "X-Bad" in report.findings[1].message and "str headers" in report.findings[1].fix


@pytest.mark.slow  # over 2 s here
def test_an_escaped_exception_is_found_where_the_process_silenced_logging(plugin_folder):
    """Finding 10: failures are read from the server's log, so with logging.disable(CRITICAL) in the caller an
    escaped exception read as a deliberate 500 and check passed; the caller's silence is kept."""
    import logging

    module = plugin_folder.add("fails_quietly", RAISES)
    logging.disable(logging.CRITICAL)
    try:
        report = _check(plugin_folder, [module])
        assert logging.root.manager.disable == logging.CRITICAL
    finally:
        logging.disable(logging.NOTSET)
    assert [f.line for f in _runtime(report)] == [5, 8], str(report)


def test_sdk_code_that_needs_the_core_is_not_verified_rather_than_a_finding(plugin_folder):
    """Finding 3's principle: ``image.coreImage`` is public in the SDK, so the service runs this, but the
    workbench cannot (no C++ core): check says it could not verify it, and does not call it broken."""
    module = _estimator(plugin_folder, "core_user", "return [PeopleCount(Estimation(i.coreImage.getWidth() // 1000)) "
                        "for i in images]")
    report = _check(plugin_folder, [module])
    assert report.findings == [] and report.exit_code == 3, str(report)
    [unverified] = report.unverified
    assert "needs the vendor's C++ core" in unverified.message and "inside the service's image" in unverified.fix


@pytest.mark.slow  # over 2 s here
def test_a_declared_module_missing_here_is_not_verified_rather_than_a_finding(plugin_folder):
    """The service installs a plugin's requirements, this environment may not have them: a plugin that fails
    to import a module its requirements.txt declares was a runtime finding ("requirements not met"), and one
    that imports it only where it uses it was refused before it ran."""
    source = "import bson\n" + ESTIMATOR.replace("return BODY", "return [PeopleCount(Estimation(0)) for _ in images]")
    top_level = plugin_folder.add("top_level", source, requirements="pymongo>=4.6\n")
    report = _check(plugin_folder, [top_level])
    assert report.findings == [] and report.exit_code == 3, str(report)
    [unverified] = report.unverified
    assert "it imports bson, which" in unverified.message and "pip install -r" in unverified.fix
    lazy = plugin_folder.add("lazy", ESTIMATOR.replace("return BODY", "return [PeopleCount(Estimation(0)) for _ in images]")
                             + "\n\ndef archive(points):\n    import bson\n    return bson.encode({'n': len(points)})\n",
                             requirements="pymongo>=4.6\n")
    assert _check(plugin_folder, [lazy]).exit_code == 0
    undeclared = plugin_folder.add("undeclared", source, requirements="numpy\n")
    assert _check(plugin_folder, [undeclared]).exit_code == 1
