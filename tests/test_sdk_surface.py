"""The stand-in against the SDK's surface, stubtest-style: the surface is parsed from the reference sources
(``workbench.surface``), every difference must be in the allowlist with a reason, every allowlist entry must
still match, and the committed snapshot and coverage table must be current. The geometry module's own
docstring examples run against the stand-in."""
from __future__ import annotations

import doctest
import importlib
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

import workbench.sdk as sdk
from workbench import surface
from workbench.sdk._placeholders import CoreOnlyError
from workbench.surface import Difference, diff_surfaces, extract_surface, load_allowlist, load_surface

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "lunasdk"


@pytest.fixture(scope="module")
def reference_dir() -> Path:
    if not (REFERENCE / "COMMIT").is_file():
        pytest.skip(f"needs {REFERENCE} (the SDK's reference sources); absent on this machine")
    return REFERENCE


@pytest.fixture(scope="module")
def differences() -> list[Difference]:
    return diff_surfaces(load_surface())


def test_the_snapshot_is_the_reference_at_its_commit(reference_dir: Path) -> None:
    regenerated = extract_surface(reference_dir)
    assert regenerated.commit == (reference_dir / "COMMIT").read_text().strip()
    assert load_surface() == regenerated, (
        "workbench/sdk/reference_surface.json is stale: run `python -m workbench.surface --reference "
        "../shared/reference/lunasdk` and commit it with docs/sdk-coverage.md"
    )


def test_the_snapshot_has_what_the_readme_lists() -> None:
    classes = {name for module in load_surface().modules.values() for name in module.classes}
    assert set(surface.LISTED_TYPES) <= classes
    image = load_surface().modules["lunavl.sdk.image_utils.image"].classes["VLImage"].members
    load = image["load"]
    assert load.kind == "classmethod"
    assert [(p.name, p.kind, p.default) for p in load.params] == [
        ("filename", "KEYWORD_ONLY", "None"), ("url", "KEYWORD_ONLY", "None"), ("colorFormat", "KEYWORD_ONLY", "None"),
        ("memoryResidence", "KEYWORD_ONLY", "MemoryResidence.CPU")]
    assert {"coreImage", "source", "filename"} <= {n for n, m in image.items() if m.kind == "attribute"}
    rect = load_surface().modules["lunavl.sdk.image_utils.geometry"].classes["Rect"].members
    assert rect["x"].settable and not rect["bottom"].settable


def test_the_snapshot_has_what_strict_mode_and_check_read() -> None:
    """Importable names (a module's imports included), members with inherited and implicit ones, and the
    keyword-usable parameters: what ``workbench.host._surface`` builds the service's surface from."""
    reference = load_surface()
    assert reference.modules["lunavl.sdk.base"].imports == tuple(sorted(reference.modules["lunavl.sdk.base"].imports))
    importable = reference.importable_names()
    assert {"Rect", "Point", "Landmarks"} <= importable["lunavl.sdk.base"]
    assert {"VLImage", "PeopleCount", "EstimationTargets"} <= importable[
        "lunavl.sdk.estimators.image_estimators.people_count"]
    members = reference.class_members()
    assert members["PeopleCount"] == {"asDict", "coordinates", "coreEstimation", "count"}
    assert {"T1", "T2", "name", "value"} == members["EstimationTargets"]
    assert {"image", "detectArea", "count", "index"} == members["ImageForPeopleEstimation"]
    parameters = reference.keyword_parameters()
    assert parameters["VLImage.fromNumpyArray"] == {"arr", "inputColorFormat", "colorFormat", "filename",
                                                    "memoryResidence"}
    assert parameters["Rect.initByCorners"] == {"topLeftCorner", "bottomRightBottom"}
    assert not any(name.split(".")[1].startswith("_") and not name.endswith(".__init__") for name in parameters)


def test_every_difference_is_allowlisted_with_a_reason(differences: list[Difference]) -> None:
    allowed = load_allowlist()
    unexplained = [str(d) for d in differences if d.key not in allowed]
    assert not unexplained, "the stand-in differs from the SDK:\n" + "\n".join(unexplained)


def test_every_allowlist_entry_still_matches(differences: list[Difference]) -> None:
    keys = {d.key for d in differences}
    stale = [key for key in load_allowlist() if not key.endswith(" core-only") and key not in keys]
    assert not stale, f"allowlist entries that match no difference (remove them): {stale}"


CORE_ONLY_INSTANCES = {
    "Rect": lambda: sdk.Rect(1, 2, 3, 4),
    "Point": lambda: sdk.Point(1, 2),
    "VLImage": lambda: sdk.VLImage(np.zeros((2, 2, 3), np.uint8)),
    "ColorFormat": lambda: sdk.ColorFormat.R8G8B8,
    "MemoryResidence": lambda: sdk.MemoryResidence.CPU,
}


def test_core_only_members_raise_saying_why() -> None:
    entries = [key.removesuffix(" core-only") for key in load_allowlist() if key.endswith(" core-only")]
    assert entries
    for entry in entries:
        class_name, member = entry.split(":", 1)[1].split(".")
        instance = CORE_ONLY_INSTANCES[class_name]()
        with pytest.raises(CoreOnlyError, match="C\\+\\+ core"):
            value = getattr(instance, member)
            value()  # a method: the call raises


def test_the_diff_sees_extra_names_other_parameters_and_missing_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk.Rect, "area", property(lambda self: 0), raising=False)
    monkeypatch.setattr(sdk.Rect, "adjusted", lambda self, dx, dy, dw, dh=0: self)
    monkeypatch.delattr(sdk.Rect, "isInside")
    monkeypatch.setattr(sdk.VLImage, "load", classmethod(lambda cls, filename=None, *, url=None: None))
    found = {d.key: d for d in diff_surfaces(load_surface())}
    geometry = "lunavl.sdk.image_utils.geometry:Rect"
    assert f"{geometry}.area extra" in found
    assert f"{geometry}.isInside missing" in found
    assert "dh:POSITIONAL_OR_KEYWORD=0" in found[f"{geometry}.adjusted params"].detail
    assert "lunavl.sdk.image_utils.image:VLImage.load params" in found


def test_an_allowlist_entry_needs_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "allow.txt"
    path.write_text("# comment\n\nmod:Name missing  # why\nmod:Other extra\n")
    with pytest.raises(ValueError, match="allow.txt:4: an allowlist entry needs a reason"):
        load_allowlist(path)
    path.write_text("mod:Name   missing  # why\n")
    assert load_allowlist(path) == {"mod:Name missing": "why"}


def test_the_coverage_table_is_current(differences: list[Difference]) -> None:
    expected = surface.coverage_markdown(load_surface(), differences, load_allowlist())
    committed = (Path(__file__).resolve().parents[1] / "docs" / "sdk-coverage.md").read_text(encoding="utf-8")
    assert committed == expected, "docs/sdk-coverage.md is stale: run `python -m workbench.surface` and commit it"
    assert "NOT ALLOWLISTED" not in committed


def forget_lunavl(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "lunavl" or n.startswith("lunavl.")]:
        monkeypatch.delitem(sys.modules, name)


def test_service_paths_export_exactly_the_sdks_names(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_lunavl(monkeypatch)
    reference = load_surface()
    importable = reference.importable_names()
    for service_name, module_surface in reference.modules.items():
        module = importlib.import_module(service_name)
        public = {n for n in dir(module) if not n.startswith("_")}
        submodules = {n for n in public if f"{service_name}.{n}" in reference.modules}
        assert public - submodules == importable[service_name], service_name
    for service_name, target in surface.STAND_IN_MODULES.items():
        module, stand_in = importlib.import_module(service_name), importlib.import_module(target, "workbench")
        implemented = set(stand_in.__all__)
        assert all(getattr(module, n) is getattr(stand_in, n) for n in implemented), "the very same objects"


def test_the_snapshot_is_the_sdks_whole_public_tree(reference_dir: Path) -> None:
    """Issue 28, finding 9: every module of the SDK's tree, packages' ``__init__`` included, is in the snapshot."""
    files = list((reference_dir / "lunavl").rglob("*.py"))
    assert len(load_surface().modules) == len(files) >= 80
    expected = {"lunavl", "lunavl.sdk", "lunavl.sdk.errors.errors", "lunavl.sdk.faceengine.engine"}
    assert expected <= set(load_surface().modules)


def test_every_sdk_module_and_name_imports_and_core_only_ones_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 28, finding 9: ``lunavl.sdk.errors.errors`` (which the SDK's own image.py imports) and every other
    module and name of the SDK import; what needs the core raises NotImplementedError, never Import/AttributeError."""
    forget_lunavl(monkeypatch)
    reference = load_surface()
    for service_name, names in reference.importable_names().items():
        module = importlib.import_module(service_name)
        for name in names:
            getattr(module, name)
    people = importlib.import_module("lunavl.sdk.estimators.image_estimators.people_count")
    with pytest.raises(CoreOnlyError, match="C\\+\\+ core.*the host's people-count estimator"):
        people.PeopleCountEstimatorV2()
    with pytest.raises(NotImplementedError, match="postProcessingV2\\(\\) needs the vendor's C\\+\\+ core"):
        people.postProcessingV2()
    engine = importlib.import_module("lunavl.sdk.faceengine.engine")
    with pytest.raises(NotImplementedError, match="VLFaceEngine needs the vendor's C\\+\\+ core"):
        engine.VLFaceEngine()
    with pytest.raises(NotImplementedError, match="FaceEngine.CrowdRequest needs the vendor's C\\+\\+ core"):
        _ = people.FaceEngine.CrowdRequest
    assert people.Rect is sdk.Rect and importlib.import_module("lunavl.sdk.base").Rect is sdk.Rect
    # Tools that scan a plugin's module (the loader, inspect) probe placeholders through hasattr: never a raise.
    assert not hasattr(people.FaceEngine, "__wrapped__") and not hasattr(people.PeopleCountEstimatorV2, "__wrapped__")
    assert dict(inspect.getmembers(people))["PeopleCountEstimatorV2"] is people.PeopleCountEstimatorV2
    with pytest.raises(AttributeError):
        _ = people.NoSuchName


def test_the_sdks_errors_are_implemented() -> None:
    """Issue 28, finding 9: ``ErrorInfo`` and ``LunaVLError`` (the SDK's table, read from its sources) and a
    ``LunaSDKException`` that takes them, as the stand-in's own failures do."""
    from workbench.sdk.error_codes import ErrorInfo, LunaVLError
    from workbench.sdk.errors import LunaSDKException, assertError

    table = load_surface().modules["lunavl.sdk.errors.errors"].classes["LunaVLError"].members
    constants = {name for name, member in table.items() if member.kind == "constant"}
    assert constants and all(isinstance(getattr(LunaVLError, name), ErrorInfo) for name in constants)
    assert (LunaVLError.UnknownError.errorCode, LunaVLError.InvalidImage.errorCode) == (99999, 100010)
    error = LunaVLError.InvalidImage.format("why")
    assert error.asDict() == {"error_code": 100010, "desc": "Invalid image", "detail": "why"}
    assert LunaSDKException(error).error is error and "why" in str(LunaSDKException(error))

    class Failed:  # shaped like a core FSDKErrorResult
        isError, what = True, "from the core"
        error = type("Code", (), {"name": "InvalidRect"})

    with pytest.raises(LunaSDKException) as raised:
        assertError(Failed())
    assert raised.value.error.errorCode == LunaVLError.InvalidRect.errorCode
    with pytest.raises(LunaSDKException) as raised:
        sdk.VLImage(np.zeros((4, 4, 3), np.uint8)).crop(sdk.Rect(0, 0, 9, 9))
    assert raised.value.error.errorCode == LunaVLError.InvalidImage.errorCode


def test_the_diff_sees_a_class_whose_instances_take_attributes_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 28, finding 9: ``__slots__`` where the SDK's class has them, a ``__dict__`` where it has none."""
    (tmp_path / "slotted_people_count.py").write_text(
        "from workbench.sdk.people_count import *\n"
        "from workbench.sdk.people_count import __all__\n"
        "from workbench.sdk.base import BaseEstimation\n"
        "class PeopleCount(BaseEstimation):\n    __slots__ = ()\n"  # as the stand-in had it
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    service = "lunavl.sdk.estimators.image_estimators.people_count"
    found = {d.key for d in diff_surfaces(load_surface(), {service: "slotted_people_count"})}
    assert f"{service}:PeopleCount attributes" in found
    (tmp_path / "slotted_image.py").write_text(
        "from workbench.sdk.image import *\nfrom workbench.sdk.image import __all__\n"
        "class VLImage:\n    pass\n"
    )
    image = "lunavl.sdk.image_utils.image"
    assert f"{image}:VLImage attributes" in {d.key for d in diff_surfaces(load_surface(), {image: "slotted_image"})}
    assert not [d for d in diff_surfaces(load_surface()) if d.kind == "attributes"]


# --- the SDK's own docstring examples ---------------------------------------------------------------------------

# Examples that cannot or should not pass against any faithful stand-in, with the reason.
DOCTEST_EXCEPTIONS = {
    "Point.toVector2": "needs FaceEngine's Vector2i/Vector2f (core-only: the stand-in raises NotImplementedError)",
    "Rect.__and__": "the example evaluates `first and second` (Python's `and`, giving `second`) yet shows a third "
                    "rectangle; test_rect_and_is_what_the_sdks_code_does_not_an_intersection checks `&`",
}


def geometry_examples(reference_dir: Path) -> list[doctest.DocTest]:
    source = (reference_dir / "lunavl" / "sdk" / "image_utils" / "geometry.py").read_text(encoding="utf-8")
    import ast

    parser, tests = doctest.DocTestParser(), []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and ast.get_docstring(item):
                    name = f"{node.name}.{item.name}"
                    globs = {"Rect": sdk.Rect, "Point": sdk.Point, "Size": sdk.Size, "Vec2D": sdk.Vec2D}
                    test = parser.get_doctest(ast.get_docstring(item), globs, name, "geometry.py", item.lineno)
                    if test.examples:
                        tests.append(test)
    return tests


def test_the_geometry_modules_docstring_examples_pass(reference_dir: Path) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    ran, failed = [], []
    for test in geometry_examples(reference_dir):
        if test.name in DOCTEST_EXCEPTIONS:
            continue
        result = runner.run(test, out=lambda text: None)
        ran.append(test.name)
        if result.failed:
            failed.append(test.name)
    assert not failed, f"SDK docstring examples failing against the stand-in: {failed}"
    assert len(ran) >= 15, ran
    names = {test.name for test in geometry_examples(reference_dir)}
    assert set(DOCTEST_EXCEPTIONS) <= names, "an exception names no example any more"
