"""What the service offers plugin code: the SDK's names (from the reference snapshot) and the framework's.

Strict mode and ``workbench check`` hold plugin code against this surface. The SDK part comes from the
reference snapshot of ``lunavl`` that ``workbench.sdk`` keeps (parsed from the vendor's sources, pinned to a
commit); the plugin framework's part is written down here from the service's plugin documentation
(``luna_plugins`` is not published), so it lists only what those documents show plugins using.
"""
from __future__ import annotations

import ast
import difflib
import functools
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import plugins as framework
from .. import sdk

# The service's plugin framework as its documentation shows it: module -> names, class -> members.
FRAMEWORK_MODULES: dict[str, frozenset[str]] = {
    "luna_plugins.base.plugins_meta.base_plugins": frozenset(
        {"BaseEventPlugin", "BaseBackgroundPlugin", "BaseBackgroundHandler", "pluginHTTPResponse"}
    ),
    "luna_plugins.estimator_plugins.estimator_replacement_plugin": frozenset(
        {"EstimatorBase", "EstimatorReplacementPlugin"}
    ),
}
_PLUGIN_LIFECYCLE = {"app", "initialize", "start", "close"}
FRAMEWORK_MEMBERS: dict[str, frozenset[str]] = {
    "BasePlugin": frozenset(_PLUGIN_LIFECYCLE),
    "BaseEventPlugin": frozenset(_PLUGIN_LIFECYCLE | {"eventName", "handleEvent"}),
    "BaseBackgroundPlugin": frozenset(_PLUGIN_LIFECYCLE | {"addRoute"}),
    "BaseBackgroundHandler": frozenset({"app", "response"}),
    "EstimatorBase": frozenset({"close", "estimateBatch"}),
    "EstimatorReplacementPlugin": frozenset(
        {"app", "appConfig", "globalDeviceClass", "defaultGpuDevice", "deviceClass", "estimatorBrokerName",
         "createReplacementEstimator", "close"}
    ),
    # What handlers and event plugins are handed: a response object and monitoring points.
    "PluginHTTPResponse": frozenset({"statusCode", "body", "headers"}),
    "MonitoringPoint": frozenset({"series", "tags", "fields", "eventTime"}),
}
# The service's application object, as plugins reach it through ``self.app``.
APP_MEMBERS = frozenset({"ctx", "config"})

# Workbench conveniences whose service equivalent is not found by name similarity.
_INSTEAD: dict[tuple[str, str], str] = {
    ("Rect", "area"): "use rect.getArea()",
    ("Rect", "contains"): "use other.isInside(rect)",
    ("Rect", "intersection"): "use rect & other",
    ("Rect", "fromCoordinates"): "use Rect.initByCorners(Point(x1, y1), Point(x2, y2))",
    ("VLImage", "fromPath"): "use VLImage.load(filename=path)",
    ("EstimationTargets", "parse"): "use EstimationTargets.T1 or EstimationTargets.T2",
    ("BaseBackgroundPlugin", "routes"): "keep your own list of the paths you pass to addRoute",
    ("BaseBackgroundHandler", "allowedMethods"): "define the verb methods (get, post, ...) you answer",
    ("MonitoringPoint", "asDict"): "read point.series, point.tags, point.fields and point.eventTime",
}


@dataclass(frozen=True)
class ServiceSurface:
    """Module path -> public names, and class name -> public members, of the service's SDK and framework."""

    modules: dict[str, frozenset[str]]
    members: dict[str, frozenset[str]]
    reference_commit: str
    standins: dict[str, type] = field(default_factory=dict)
    # "Class.method" -> its keyword-usable parameter names (None where it takes **kwargs); SDK only.
    parameters: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def members_of(self, class_name: str) -> frozenset[str] | None:
        return self.members.get(class_name)

    def instead(self, class_name: str, member: str) -> str:
        """What to write instead of ``class_name.member``, for a message."""
        hint = _INSTEAD.get((class_name, member))
        if hint:
            return hint
        known = sorted(self.members.get(class_name, ()))
        close = difflib.get_close_matches(member, known, n=2, cutoff=0.6)
        if close:
            return f"the service's {class_name} has {' or '.join(close)}"
        return f"the service's {class_name} offers only: {', '.join(known) or 'nothing public'}"

    def module_instead(self, module: str, name: str) -> str:
        providers = sorted(path for path, names in self.modules.items() if name in names and path != module)
        if providers:
            return f"import it from {providers[0]}"
        known = sorted(self.modules.get(module, ()))
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        return f"did you mean {close[0]}?" if close else f"{module} has: {', '.join(known)}"


# The SDK files of the reference snapshot, by the module path plugins import them as.
SDK_REFERENCE_FILES = {
    "lunavl.sdk.image_utils.image": "lunavl/sdk/image_utils/image.py",
    "lunavl.sdk.image_utils.geometry": "lunavl/sdk/image_utils/geometry.py",
    "lunavl.sdk.estimators.image_estimators.people_count": "lunavl/sdk/estimators/image_estimators/people_count.py",
    "lunavl.sdk.base": "lunavl/sdk/base.py",
}
SDK_SNAPSHOT = Path(__file__).with_name("_sdk_surface.json")
# Members every class of a kind has without defining them.
_IMPLICIT_MEMBERS = {"NamedTuple": {"count", "index"}, "Enum": {"name", "value"}}


def build_sdk_surface(reference_dir: Path) -> dict[str, Any]:
    """Read the SDK's sources (ast; they need the vendor's C++ core to import): module -> public names,
    class -> public members (methods, properties, class attributes, enum members, ``self.X`` set in
    ``__init__``, and those of its bases in the same sources), and the commit they were taken at."""
    modules: dict[str, list[str]] = {}
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    parameters: dict[str, list[str] | None] = {}
    for module, relative in SDK_REFERENCE_FILES.items():
        tree = ast.parse((reference_dir / relative).read_text())
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
            if isinstance(node, ast.ClassDef):
                own[node.name] = _class_members(node)
                parameters.update(_method_parameters(node))
                bases[node.name] = [ast.unparse(base).split("[")[0].split(".")[-1] for base in node.bases]
        modules[module] = sorted(name for name in names if not name.startswith("_"))
    classes = {}
    for name in own:
        members, pending = set(), [name]
        while pending:
            current = pending.pop()
            members |= own.get(current, set()) | _IMPLICIT_MEMBERS.get(current, set())
            pending += bases.get(current, [])
        classes[name] = sorted(member for member in members if not member.startswith("_"))
    return {
        "commit": (reference_dir / "COMMIT").read_text().strip(), "modules": modules, "classes": classes,
        "parameters": dict(sorted(parameters.items())),
    }


def _method_parameters(node: ast.ClassDef) -> dict[str, list[str] | None]:
    """"Class.method" -> parameter names a caller may pass by keyword (None: it takes **kwargs).

    Overloads (``@overload``) are skipped for the implementation that follows them.
    """
    found: dict[str, list[str] | None] = {}
    for item in node.body:
        if not isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if any(isinstance(d, ast.Name) and d.id == "overload" for d in item.decorator_list):
            continue
        decorators = {ast.unparse(d) for d in item.decorator_list}
        if (item.name.startswith("_") and item.name != "__init__") or "property" in decorators or any(
            d.endswith(".setter") for d in decorators
        ):
            continue
        arguments = item.args
        positional = [a.arg for a in arguments.args]
        if "staticmethod" not in decorators:
            positional = positional[1:]
        found[f"{node.name}.{item.name}"] = None if arguments.kwarg else positional + [a.arg for a in arguments.kwonlyargs]
    return found


def _class_members(node: ast.ClassDef) -> set[str]:
    members: set[str] = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            members.add(item.name)
            if item.name == "__init__":
                members.update(
                    target.attr for target in ast.walk(item)
                    if isinstance(target, ast.Attribute) and isinstance(target.ctx, ast.Store)
                    and isinstance(target.value, ast.Name) and target.value.id == "self"
                )
        elif isinstance(item, ast.Assign):
            members.update(t.id for t in item.targets if isinstance(t, ast.Name))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            members.add(item.target.id)
    return members


def _sdk_reference() -> dict[str, Any]:
    """The committed snapshot: service module -> names, class -> members, parameters, reference commit."""
    snapshot = json.loads(SDK_SNAPSHOT.read_text())
    return {
        "modules": {module: frozenset(names) for module, names in snapshot["modules"].items()},
        "members": {name: frozenset(members) for name, members in snapshot["classes"].items()},
        "parameters": {
            method: None if names is None else frozenset(names) for method, names in snapshot["parameters"].items()
        },
        "commit": snapshot["commit"],
    }


@functools.lru_cache(maxsize=1)
def service_surface() -> ServiceSurface:
    """The surface plugin code may use, with the stand-in class behind each class name."""
    reference = _sdk_reference()
    modules = {**reference["modules"], **FRAMEWORK_MODULES}
    members = {**reference["members"], **FRAMEWORK_MEMBERS}
    standins: dict[str, type] = {}
    for name in members:
        cls = getattr(sdk, name, None) or getattr(framework, name, None)
        if inspect.isclass(cls):
            standins[name] = cls
    return ServiceSurface(
        modules=modules, members=members, reference_commit=reference["commit"], standins=standins,
        parameters=reference["parameters"],
    )


def workbench_only_members(surface: ServiceSurface) -> dict[type, dict[str, str]]:
    """Stand-in class -> {public member no service class it stands for has: that class's name}.

    A member defined on a shared base (``BasePlugin``) counts only if none of the service classes built on
    that base has it.
    """
    extras: dict[type, dict[str, str]] = {}
    for name, cls in surface.standins.items():
        for klass in inspect.getmro(cls):
            if klass.__module__.startswith("workbench."):
                for member in vars(klass):
                    if not member.startswith("_") and not _allowed_on(surface, klass, member):
                        extras.setdefault(klass, {})[member] = name
    return extras


def _allowed_on(surface: ServiceSurface, klass: type, member: str) -> bool:
    return any(
        member in surface.members[name]
        for name, cls in surface.standins.items()
        if issubclass(cls, klass)
    )
