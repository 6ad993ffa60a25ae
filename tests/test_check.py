"""workbench check: each finding kind at its exact line, clean plugins pass, exit codes."""
from __future__ import annotations

import subprocess
import sys

import pytest

import workbench
from helpers.bucket_service import bucket_service
from helpers.fake_estimators import default_factories
from helpers.reference_plugins import write_reference_plugins

from workbench.authoring import check_plugins
from workbench.authoring._findings import (
    DUPLICATE_ACTIVATION,
    INSTALL,
    REQUIREMENTS,
    RUNTIME,
    SDK_SURFACE,
    UNDECLARED_IMPORT,
    WORKBENCH_IMPORT,
)
from workbench.cli import main

CLEAN = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Counter(BaseEventPlugin):
    eventName = "monitoring_event"

    def __init__(self, app):
        super().__init__(app)
        self.seen = 0

    async def handleEvent(self, points, logger):
        self.seen += len([point.series for point in points])
"""


def _check(plugin_folder, modules, **options):
    return check_plugins(plugin_folder.root, modules, default_estimators=default_factories(), **options)


def _lines(report, kind):
    return [(f.file, f.line) for f in report.findings if f.kind == kind]


def test_clean_plugin_passes(plugin_folder):
    report = _check(plugin_folder, [plugin_folder.add("clean", CLEAN)])
    assert report.ok and report.exit_code == 0, str(report)
    assert report.reference_commit and report.reference_commit[:12] in report.summary
    assert report.providers == {
        "lunavl": f"the workbench's stand-in (workbench {workbench.__version__})",
        "luna_plugins": f"the workbench's stand-in (workbench {workbench.__version__})",
    }


def test_workbench_import_is_named_at_its_line(plugin_folder):
    module = plugin_folder.add("uses_workbench", CLEAN.replace(
        "\n\nclass", "from workbench.sdk import Rect\n\n\nclass", 1))
    report = _check(plugin_folder, [module])
    file = str(plugin_folder.root / "uses_workbench" / "plugin.py")
    assert _lines(report, WORKBENCH_IMPORT) == [(file, 2)]
    assert "lunavl.sdk.image_utils.geometry" in str(report.findings[0])
    assert report.exit_code == 1


def test_undeclared_third_party_import_and_declared_one(plugin_folder):
    source = "import scipy\nimport numpy\nimport json\n" + CLEAN
    undeclared = plugin_folder.add("undeclared", source)
    declared = plugin_folder.add("declared", source, requirements="scipy>=1.0\n")
    report = _check(plugin_folder, [undeclared, declared], run=False)
    file = str(plugin_folder.root / "undeclared" / "plugin.py")
    assert _lines(report, UNDECLARED_IMPORT) == [(file, 1)]
    assert "add scipy to" in str(report.findings[0])


def test_optional_import_under_import_error_guard_is_not_required(plugin_folder):
    source = "try:\n    import scipy\nexcept ImportError:\n    scipy = None\n" + CLEAN
    assert _check(plugin_folder, [plugin_folder.add("optional", source)], run=False).ok


def test_bad_requirements_line_is_named(plugin_folder):
    module = plugin_folder.add("badreq", CLEAN, requirements="# deps\nnumpy>=1.24\nthis is not valid==\n")
    report = _check(plugin_folder, [module], run=False)
    assert _lines(report, REQUIREMENTS) == [(str(plugin_folder.root / "badreq" / "requirements.txt"), 3)]


SURFACE = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse
from lunavl.sdk.image_utils.geometry import Rect


class Shapes(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/area", area)
        self.count = len(self.routes)


def area(request):
    box = Rect(0, 0, 4, 4)
    return pluginHTTPResponse(statusCode=200, body=str(box.area))
"""


def test_members_the_sdk_lacks_are_found_statically_and_in_the_strict_run(plugin_folder):
    module = plugin_folder.add("shapes", SURFACE)
    file = str(plugin_folder.root / "shapes" / "plugin.py")
    static = _check(plugin_folder, [module], run=False)
    assert _lines(static, SDK_SURFACE) == [(file, 8), (file, 13)]
    assert "use rect.getArea()" in str(static.findings[1])
    ran = _check(plugin_folder, [module])
    assert (file, 8) in _lines(ran, SDK_SURFACE)
    assert "keep your own list of the paths you pass to addRoute" in str(ran.findings[0])


HIDDEN = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Watcher(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        for point in points:
            describe(point)


def describe(point):
    return point.asDict()
"""


def test_strict_run_finds_what_the_static_scan_cannot(plugin_folder):
    # Only the service's monitoring batch shows that the point handed over is used through asDict().
    module = plugin_folder.add("hidden", HIDDEN)
    file = str(plugin_folder.root / "hidden" / "plugin.py")
    assert _check(plugin_folder, [module], run=False).ok
    report = _check(plugin_folder, [module])
    assert _lines(report, SDK_SURFACE) == [(file, 13)]
    assert "MonitoringPoint.asDict" in str(report.findings[0])


def test_names_missing_from_service_modules(plugin_folder):
    module = plugin_folder.add("badname", "from lunavl.sdk.image_utils.image import NoSuchThing\n" + CLEAN)
    report = _check(plugin_folder, [module], run=False)
    assert _lines(report, SDK_SURFACE) == [(str(plugin_folder.root / "badname" / "plugin.py"), 1)]


def test_duplicate_activation_pitfall(plugin_folder):
    plugin_folder.add("twice", CLEAN, module="events")
    module = plugin_folder.add("twice", "from twice.events import Counter\n")
    report = _check(plugin_folder, [module, "twice.events"])
    assert _lines(report, DUPLICATE_ACTIVATION) == [(str(plugin_folder.root / "twice" / "plugin.py"), 1)]


def test_failing_plugin_is_a_runtime_finding_at_its_class(plugin_folder):
    module = plugin_folder.add("broken", CLEAN.replace("self.seen += ", "raise ValueError('boom'); self.seen += "))
    report = _check(plugin_folder, [module])
    assert _lines(report, RUNTIME) == [(str(plugin_folder.root / "broken" / "plugin.py"), 4)]
    assert "boom" in str(report.findings[0])


@pytest.mark.slow  # checks every project plugin
def test_project_plugins_pass(project_plugins):
    modules = ["loop_watch.plugin", "request_stats.plugin", "people_count_onnx.plugin"]
    report = check_plugins(project_plugins, modules)
    assert report.ok, str(report)


def test_reference_examples_pass(reference_docs, tmp_path):
    modules = write_reference_plugins(reference_docs, tmp_path)
    # The estimator example ships with the requirements.txt the service's docs give.
    (tmp_path / "reference_estimator" / "requirements.txt").write_text(
        "onnxruntime>=1.22.0\nonnxruntime-gpu>=1.16.0\nnumpy>=1.24.0\n")
    static = check_plugins(tmp_path, list(modules.values()), run=False)
    assert static.ok, str(static)
    try:
        service = bucket_service(5020)
        service.__enter__()
    except OSError as error:
        pytest.skip(f"port 5020, which the monitoring example hard-codes, is taken: {error}")
    try:
        ran = check_plugins(tmp_path, [modules["reference_monitoring"], modules["reference_background"]],
                            default_estimators=default_factories())
    finally:
        service.__exit__(None, None, None)
    assert ran.ok, str(ran)


def test_install_in_a_clean_environment(plugin_folder):
    ok = plugin_folder.add("offline_ok", "import numpy\n" + CLEAN, requirements="")
    missing = plugin_folder.add("offline_missing", "import scipy\n" + CLEAN, requirements="")
    report = _check(plugin_folder, [ok, missing], run=False, install=True)
    install = [f for f in report.findings if f.kind == INSTALL]
    assert [f.file for f in install] == [str(plugin_folder.root / "offline_missing" / "requirements.txt")]
    assert "No module named 'scipy'" in install[0].message


def test_cli_exit_codes(plugin_folder, capsys):
    module = plugin_folder.add("uses_workbench", "import workbench\n" + CLEAN)
    assert main(["check", "--plugins-dir", str(plugin_folder.root), "--active", module, "--static-only"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"{plugin_folder.root / 'uses_workbench' / 'plugin.py'}:1: imports workbench, which the service "
                   "does not have; use the service's modules (lunavl..., luna_plugins...) instead"]
    assert main(["check", "--plugins-dir", str(plugin_folder.root / "nope"), "--active", module]) == 2
    assert main(["check", "--plugins-dir", str(plugin_folder.root), "--active", ""]) == 2


@pytest.mark.slow  # a check in a subprocess
def test_cli_subprocess_clean_exit_zero(plugin_folder):
    module = plugin_folder.add("clean", CLEAN)
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "check", "--plugins-dir", str(plugin_folder.root),
                           "--active", module, "--static-only"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "no findings" in done.stderr


def test_the_sdk_part_is_workbench_surface_snapshot():
    """Strict mode and check read the SDK from ``workbench.surface``'s snapshot, the one the stand-in is diffed
    against (``tests/test_sdk_surface.py`` checks it equals a fresh read of the sources): one record, not two."""
    from workbench.host._surface import service_surface
    from workbench.surface import load_surface

    surface, reference = service_surface(), load_surface()
    assert surface.reference_commit == reference.commit
    assert "getArea" in surface.members["Rect"] and "area" not in surface.members["Rect"]
    assert surface.members["PeopleCount"] == {"asDict", "coordinates", "coreEstimation", "count"}
    assert {"name", "value"} <= surface.members["ColorFormat"] and {"count", "index"} <= surface.members["Vec2D"]
    # What a module imports can be imported from it in the service, too.
    assert {"Rect", "Point", "BaseEstimation"} <= surface.modules["lunavl.sdk.base"]
    assert surface.parameters["VLImage.load"] == {"filename", "url", "colorFormat", "memoryResidence"}
    assert surface.parameters["Rect.__init__"] == {"x", "y", "width", "height"}


PATHS_AND_KEYWORDS = """\
from lunavl.sdk.image_utils.geometry import Rect
from lunavl.sdk.image_utils.image import VLImage


def load():
    picture = VLImage("photo.jpg")
    same = VLImage.load(filename="photo.jpg")
    box = Rect(x=0, y=0, w=4, h=4)
    return picture, same, box, Rect.fromCoordinates(0, 0, 4, 4)
"""


def test_sdk_calls_are_held_to_the_sdk_signatures(plugin_folder):
    """The issue's cases: VLImage from a path, keywords the SDK does not take, Rect.fromCoordinates."""
    module = plugin_folder.add("calls", PATHS_AND_KEYWORDS)
    report = _check(plugin_folder, [module], run=False)
    file = str(plugin_folder.root / "calls" / "plugin.py")
    assert [(f.file, f.line) for f in report.findings] == [(file, 6), (file, 8), (file, 9)]
    text = [str(f) for f in report.findings]
    assert "use VLImage.load(filename=path)" in text[0]
    assert "Rect() has no parameter w, h in the service's SDK; its parameters are height, width, x, y" in text[1]
    assert "Rect.fromCoordinates" in text[2] and "Rect.initByCorners" in text[2]


HANDLER_APP = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin


class Where(BaseBackgroundHandler):
    async def get(self, request):
        return self.response(body=str(self.app.plugins_dir), statusCode=200)


class Routes(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/where", Where)
"""


def test_route_handlers_get_the_strict_app_too(plugin_folder):
    import urllib.request
    import warnings

    from workbench import Workbench

    module = plugin_folder.add("handler_app", HANDLER_APP)
    file = str(plugin_folder.root / "handler_app" / "plugin.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Workbench(plugin_folder.root, [module], strict="warn", default_estimators=default_factories()) as wb:
            server = wb.serve(port=0)
            with urllib.request.urlopen(server.url + "/where") as response:
                assert response.status == 200
            server.stop()
    assert [(v.member, v.file, v.line) for v in wb.strict_violations] == [("plugins_dir", file, 6)]
    report = _check(plugin_folder, [module])
    assert _lines(report, SDK_SURFACE) == [(file, 6)]


ESTIMATOR = """\
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount


class Nobody:
    count = 0

    class points:
        @staticmethod
        def getPoints():
            return []


class T1Only(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        if estimationTargets == EstimationTargets.T2:
            raise NotImplementedError("T2")
        return [PeopleCount(Nobody()) for _ in images]


class T1OnlyPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self):
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return T1Only()
"""


def test_estimators_get_t1_and_t2_and_a_failure_is_named_at_the_raising_line(plugin_folder):
    module = plugin_folder.add("t1only", ESTIMATOR)
    report = _check(plugin_folder, [module])
    assert _lines(report, RUNTIME) == [(str(plugin_folder.root / "t1only" / "plugin.py"), 20)]
    assert "T1OnlyPlugin failed on a batch of 1 image (320x240), T2: NotImplementedError: T2" in str(report.findings[0])


def test_a_module_that_is_not_there_is_a_finding_even_without_the_run(plugin_folder):
    plugin_folder.add("present", CLEAN)
    report = _check(plugin_folder, ["present.plugin", "absent.plugin"], run=False)
    assert [(f.file, f.line, f.kind) for f in report.findings] == [
        (str(plugin_folder.root / "absent" / "plugin.py"), 1, "missing-module")
    ]
    assert report.exit_code == 1
