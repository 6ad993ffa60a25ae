"""Members the service lacks: the stand-in's private members, ``Rect &``, and branches the run did not take (issue 28).

Finding 3 (strict part): plugin code reaching the stand-in's private state (``image._pixels``) or using ``rect & other``,
which in the SDK returns a core rect rather than an intersection, passed. Finding 6: members the service lacks in
branches the strict run does not take (``self.app.plugins`` behind a query flag, ``point.asDict()`` only for some
status codes) were seen only if the branch ran; the static scan now judges them in every branch.
"""
from __future__ import annotations

import ast
import warnings
from pathlib import Path

from helpers.fake_estimators import default_factories

from workbench import Workbench
from workbench.authoring import check_plugins
from workbench.authoring._findings import SDK_SURFACE
from workbench.host._standin_private import SDK_PRIVATE_MEMBERS, standin_private_names_of
from workbench.host._strict import StrictAttributeError
from workbench.host._surface import service_surface
from workbench.plugins import BaseBackgroundPlugin
from workbench.sdk import Rect


def _static(plugin_folder, module):
    return check_plugins(plugin_folder.root, [module], run=False)


def _lines(report):
    return [(f.file, f.line) for f in report.findings if f.kind == SDK_SURFACE]


def _strict_run(plugin_folder, module, mode="warn"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Workbench(plugin_folder.root, [module], strict=mode, default_estimators=default_factories()) as wb:
            records = {record.name: (record.status, record.error) for record in wb.plugins}
    return wb, records


# -- finding 3: the stand-in's private members, in strict mode ----------------------------------------------

PRIVATE = """\
import numpy as np
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin
from lunavl.sdk.image_utils.geometry import Rect
from lunavl.sdk.image_utils.image import VLImage


class Peeks(BaseBackgroundPlugin):
    async def initialize(self):
        self._cache = {"routes": 0}
        self._cache["routes"] = len(self._BaseBackgroundPlugin__routes)
        image = VLImage.fromNumpyArray(np.zeros((4, 6, 3), np.uint8))
        self.pixels = image._VLImage__pixels
        self.left = Rect(1, 2, 3, 4)._Rect__x
        self.size = image.rect.width
        self.state = image.__reduce_ex__(2)
"""


def test_strict_reports_the_stand_ins_private_members_at_the_plugin_line(plugin_folder):
    """Finding 3: private members of the stand-in's types (the background plugin's route list, the image's
    pixels, the rect's numbers) are violations at the plugin's line, with the public member to use; the
    plugin's own private attribute (``self._cache``), the stand-in's own use of its state and Python's reading
    of the slots for a plugin that pickles or copies an image (``__reduce_ex__``) are not."""
    module = plugin_folder.add("peeks", PRIVATE)
    file = str(plugin_folder.root / "peeks" / "plugin.py")
    wb, records = _strict_run(plugin_folder, module)
    assert records["Peeks"][0] == "active"
    found = [(v.member, v.file, v.line, v.kind) for v in wb.strict_violations]
    assert found == [
        ("BaseBackgroundPlugin._BaseBackgroundPlugin__routes", file, 10, "private"),
        ("VLImage._VLImage__pixels", file, 12, "private"),
        ("Rect._Rect__x", file, 13, "private"),
    ]
    messages = [v.message for v in wb.strict_violations]
    assert "keep your own list of the paths you pass to addRoute" in messages[0]
    assert "the SDK's VLImage has no _VLImage__pixels" in messages[1] and "image.asNPArray()" in messages[1]
    assert "use .x" in messages[2]


def test_strict_raise_fails_the_plugin_on_a_private_member(plugin_folder):
    """Finding 3: with strict=True the plugin fails where the service's would, with an AttributeError."""
    module = plugin_folder.add("peeks", PRIVATE)
    _, records = _strict_run(plugin_folder, module, mode=True)
    status, error = records["Peeks"]
    assert status == "failed"
    assert StrictAttributeError.__name__ in error and f"{plugin_folder.root / 'peeks' / 'plugin.py'}:10:" in error


def test_private_member_guards_leave_with_the_last_strict_host(plugin_folder):
    """Finding 3: the guards exist only while a strict host runs; the stand-in's state is untouched."""
    module = plugin_folder.add("peeks", PRIVATE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Workbench(plugin_folder.root, [module], strict="warn", default_estimators=default_factories()) as wb:
            assert "_BaseBackgroundPlugin__routes" in vars(BaseBackgroundPlugin)
            assert wb.plugins["Peeks"].instance._cache == {"routes": 0}
    assert "_BaseBackgroundPlugin__routes" not in vars(BaseBackgroundPlugin)
    assert type(vars(Rect)["__and__"]).__name__ == "function"
    plain = BaseBackgroundPlugin.__new__(BaseBackgroundPlugin)
    BaseBackgroundPlugin.__init__(plain, app=None)
    assert plain.routes == []


APP_SLOT = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin


class Reaches(BaseBackgroundPlugin):
    async def initialize(self):
        self.logger = self.app.ctx.logger
        self.host = getattr(self.app, "_host", None)
"""


def test_the_strict_app_view_keeps_no_private_door(plugin_folder):
    """Finding 3: the view strict hosts hand plugins as ``self.app`` has no private member of its own that
    plugin code could reach the workbench's host through unreported (``app._host`` was its slot)."""
    module = plugin_folder.add("reaches", APP_SLOT)
    wb, records = _strict_run(plugin_folder, module)
    assert [(v.member, v.line, v.kind) for v in wb.strict_violations] == [("_host", 7, "app")]
    assert records["Reaches"][0] == "active"


# -- finding 3: Rect & -----------------------------------------------------------------------------------------

RECT_AND = """\
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect


class Overlap(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        try:
            both = Rect(0, 0, 10, 10) & Rect(5, 5, 10, 10)
        except NotImplementedError:
            both = None
        area = Rect(0, 0, 4, 4)
        try:
            area &= Rect(1, 1, 4, 4)
        except NotImplementedError:
            pass
        raise RuntimeError(f"only strict mode's report matters here: {both}")


class OverlapPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self):
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return Overlap()
"""


def test_strict_flags_rect_and_with_what_to_use_instead(plugin_folder):
    """Finding 3: ``rect & other`` and ``rect &= other`` by plugin code are violations: the SDK's ``&`` returns
    the second rectangle's core object, not an intersection."""
    module = plugin_folder.add("overlap", RECT_AND)
    file = str(plugin_folder.root / "overlap" / "plugin.py")
    report = check_plugins(plugin_folder.root, [module], default_estimators=default_factories())
    flagged = [f for f in report.findings if f.kind == SDK_SURFACE]
    assert [(f.file, f.line) for f in flagged] == [(file, 12), (file, 17)]
    assert all("self.coreRect and other.coreRect" in f.message and "Rect.initByCorners" in f.fix for f in flagged)


def test_static_scan_flags_rect_and_on_known_rects(plugin_folder):
    """Finding 3: statically, ``&`` with a known Rect on the left (constructed, annotated, a detect area, an
    image's rect, an unpacked ImageForPeopleEstimation) is flagged; ``&`` on other values is not."""
    source = """\
import numpy as np
from lunavl.sdk.estimators.image_estimators.people_count import ImageForPeopleEstimation
from lunavl.sdk.image_utils.geometry import Rect
from lunavl.sdk.image_utils.image import VLImage


def crop(item: ImageForPeopleEstimation, detectArea: "Rect | None", other: Rect):
    first = item.detectArea & other
    second = detectArea & item.image.rect
    image, area = item
    area &= other
    mask = np.ones(3, bool) & np.zeros(3, bool)
    flags = 1 & 3
    return first, second, image, mask, flags, Rect(0, 0, 1, 1) & other
"""
    module = plugin_folder.add("crop", source)
    file = str(plugin_folder.root / "crop" / "plugin.py")
    report = _static(plugin_folder, module)
    assert _lines(report) == [(file, 8), (file, 9), (file, 11), (file, 14)]
    assert "area &= other" in report.findings[2].message


# -- finding 3: private members, statically ----------------------------------------------------------------

STATIC_PRIVATE = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin
from lunavl.sdk.estimators.image_estimators.people_count import ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect
from lunavl.sdk.image_utils.image import VLImage


def pixels(image: VLImage, item: ImageForPeopleEstimation, count: PeopleCount):
    count._mine = 1
    return (
        image._pixels,
        item.image._format,
        Rect(0, 0, 1, 1)._x,
        count._coreEstimation, count._mine, image._coreImageFromNumpyArray, image.__class__,
    )


class Routes(BaseBackgroundPlugin):
    async def initialize(self):
        self._seen = len(self._BaseBackgroundPlugin__routes)
        return self._seen
"""


def test_static_scan_flags_private_members_the_service_lacks(plugin_folder):
    """Finding 3: statically, private members of the SDK's types that the SDK lacks (``image._pixels``) and the
    stand-in's private state on framework classes (its route list) are flagged; the SDK's own private members
    (``_coreEstimation``), attributes the plugin sets itself and the plugin's own ``self._seen`` are not."""
    module = plugin_folder.add("privates", STATIC_PRIVATE)
    file = str(plugin_folder.root / "privates" / "plugin.py")
    report = _static(plugin_folder, module)
    assert _lines(report) == [(file, 10), (file, 11), (file, 12), (file, 19)]
    text = [str(f) for f in report.findings]
    assert "VLImage._pixels is not in the service's SDK" in text[0] and "image.asNPArray()" in text[0]
    assert "VLImage._format" in text[1] and "use .format" in text[1]
    assert "Rect._x" in text[2] and "use .x" in text[2]
    assert "BaseBackgroundPlugin._BaseBackgroundPlugin__routes" in text[3]


# -- finding 6: branches the run did not take ------------------------------------------------------------------

BRANCHES = """\
from luna_plugins.base.plugins_meta.base_plugins import (
    BaseBackgroundHandler,
    BaseBackgroundPlugin,
    BaseEventPlugin,
    pluginHTTPResponse,
)


def inventory(app):
    return sorted(app.plugins)


class Listing(BaseBackgroundHandler):
    async def get(self, request):
        if request.query.get("all"):
            return self.response(body=inventory(self.app), statusCode=200)
        if request.query.get("dir"):
            return self.response(body=str(self.app.plugins_dir), statusCode=200)
        return self.response(body="ok", statusCode=200)


class Routes(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self.debug = app.config if app.ctx else app.debug_flags

    async def initialize(self):
        plugin = self

        def verbose(request):
            names = sorted(plugin.app.plugins) if request.query.get("verbose") else []
            return pluginHTTPResponse(statusCode=200, body=str(names))

        self.addRoute("/listing", Listing)
        self.addRoute("/verbose", verbose)


class Teapots(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        for point in points:
            if point.tags.get("status_code") == 418:
                logger.info(point.asDict())
        slow = [p.asDict() for p in points if p.fields.get("execution_time", 0) > 60]
        logger.info(f"{len(slow)} slow, first at {points[0].eventTime if points else None}")
"""


def test_static_scan_judges_app_and_points_in_branches_the_run_does_not_take(plugin_folder):
    """Finding 6: ``self.app.plugins`` behind a query flag (also through a function given the app, the app a
    plugin's __init__ gets, and a route function's closure over ``plugin = self``) and ``point.asDict()`` only
    for some status codes are found without running them. The request's own members are not judged: the
    service's docs define none."""
    module = plugin_folder.add("branches", BRANCHES)
    file = str(plugin_folder.root / "branches" / "plugin.py")
    static = _static(plugin_folder, module)
    assert _lines(static) == [(file, 10), (file, 18), (file, 25), (file, 31), (file, 44), (file, 45)]
    text = [str(f) for f in static.findings]
    assert "app.plugins: the service's application has no plugins" in text[0]
    assert "self.app.plugins_dir" in text[1] and "app.debug_flags" in text[2] and "plugin.app.plugins" in text[3]
    assert all("MonitoringPoint.asDict" in line and "point.series" in line for line in text[4:])
    # The strict run takes none of these branches: it alone would have passed the plugin.
    wb, records = _strict_run(plugin_folder, module)
    assert set(status for status, _ in records.values()) == {"active"} and wb.strict_violations == []


def test_the_docs_examples_annotated_points_are_monitoring_points(plugin_folder):
    """Finding 6: the service's docs annotate points by name (``point: "MonitoringPoint"``, a TypeVar): such a
    parameter is judged as a monitoring point, and a class of the plugin's own by that name is not."""
    source = """\
from typing import TypeVar

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

MonitoringPoint = TypeVar("MonitoringPoint")


class Flush(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points: list["MonitoringPoint"], logger):
        for point in points:
            await self.flush(point, logger)

    async def flush(self, point: "MonitoringPoint", logger) -> None:
        logger.info(f"{point.series} {point.eventTime} {point.tags} {point.fields}")
        if point.fields.get("error_code"):
            logger.info(point.asDict())
"""
    module = plugin_folder.add("flush", source)
    file = str(plugin_folder.root / "flush" / "plugin.py")
    assert _lines(_static(plugin_folder, module)) == [(file, 18)]
    own = source.replace('MonitoringPoint = TypeVar("MonitoringPoint")', "class MonitoringPoint:\n    pass")
    assert _lines(_static(plugin_folder, plugin_folder.add("own_point", own))) == []


# -- the record the verdicts rest on -------------------------------------------------------------------------

def _sdk_private_members(lunavl: Path) -> dict[str, set[str]]:
    """Private members of each class of the SDK's sources (slots, methods, class attributes, attributes set),
    inherited ones from base classes of the same name included."""
    classes: dict[str, list[ast.ClassDef]] = {}
    for file in lunavl.rglob("*.py"):
        for node in ast.parse(file.read_text()).body:
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, []).append(node)

    def own(node: ast.ClassDef) -> set[str]:
        names = {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for item in node.body:
            if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in item.targets):
                names |= {c.value for c in ast.walk(item.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        names |= {a.attr for a in ast.walk(node) if isinstance(a, ast.Attribute) and isinstance(a.ctx, ast.Store)}
        return {n for n in names if n.startswith("_") and not n.endswith("__")}

    def with_bases(name: str) -> set[str]:
        found: set[str] = set()
        for node in classes.get(name, []):
            found |= own(node)
            for base in node.bases:
                base_name = base.value if isinstance(base, ast.Subscript) else base
                if isinstance(base_name, ast.Name) and base_name.id != name:
                    found |= with_bases(base_name.id)
        return found

    return {name: with_bases(name) for name in classes}


def test_the_sdk_private_member_record_matches_the_sdk_sources(reference_docs):
    """The record the private-member verdicts rest on (``SDK_PRIVATE_MEMBERS``) is what the SDK's sources
    define, for every SDK class the stand-in implements."""
    sources = _sdk_private_members(reference_docs / "lunasdk" / "lunavl")
    implemented = [name for name in service_surface().standins if name in sources]
    assert {"VLImage", "Rect", "PeopleCount"} <= set(implemented)
    expected = {name: sources[name] for name in implemented if sources[name]}
    assert {name: set(members) for name, members in SDK_PRIVATE_MEMBERS.items()} == expected


def test_each_hint_names_a_private_member_the_stand_in_has():
    """The advice table speaks of private members the stand-in really keeps (no stale entries)."""
    from workbench.host._standin_private import _INSTEAD, _bare_name

    surface = service_surface()
    for class_name, bare in _INSTEAD:
        names = standin_private_names_of(surface, class_name)
        assert any(_bare_name(class_name, name) == bare for name in names), (class_name, bare)
