"""What the service offers plugin code: the SDK's names (from the reference snapshot) and the framework's.

Strict mode and ``workbench check`` hold plugin code against this surface. The SDK part is
``workbench.surface``'s reference snapshot of ``lunavl`` (parsed from the vendor's sources, pinned to a
commit; the same one the stand-in is diffed against); the plugin framework's part is written down here from the
service's plugin documentation (``luna_plugins`` is not published), so it lists only what those documents show
plugins using.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from dataclasses import dataclass, field

from .. import plugins as framework
from .. import sdk
from .._compat import FRAMEWORK_MODULES
from ..surface import shipped_surface

# The service's plugin framework as its documentation shows it: module -> names (FRAMEWORK_MODULES, the very
# names the luna_plugins paths offer), class -> members.
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
    ("Rect", "intersection"): "compute it from x, y, width and height: Rect.initByCorners(Point(max(a.x, b.x), "
                              "max(a.y, b.y)), Point(min(a.right, b.right), min(a.bottom, b.bottom))) (the SDK's "
                              "rect & other is not an intersection: it returns other's core rect)",
    ("Rect", "fromCoordinates"): "use Rect.initByCorners(Point(x1, y1), Point(x2, y2))",
    ("VLImage", "fromPath"): "use VLImage.load(filename=path)",
    ("EstimationTargets", "parse"): "use EstimationTargets.T1 or EstimationTargets.T2",
    ("BaseBackgroundPlugin", "routes"): "keep your own list of the paths you pass to addRoute",
    ("BaseBackgroundHandler", "allowedMethods"): "define the verb methods (get, post, ...) you answer",
    ("MonitoringPoint", "asDict"): "read point.series, point.tags, point.fields and point.eventTime",
}


# The workbench's own modules, whatever package name it runs under.
_OWN_PACKAGE = __name__.split(".")[0] + "."


def is_own_class(klass: type) -> bool:
    """Whether ``klass`` is defined by the workbench (a stand-in's class or a base of one), whatever package name
    the workbench runs under."""
    return klass.__module__.startswith(_OWN_PACKAGE)


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


@functools.lru_cache(maxsize=1)
def service_surface() -> ServiceSurface:
    """The surface plugin code may use, with the stand-in class behind each class name."""
    reference = shipped_surface()
    modules = {**reference.importable_names(), **FRAMEWORK_MODULES}
    members = {**reference.class_members(), **FRAMEWORK_MEMBERS}
    standins: dict[str, type] = {}
    for name in members:
        cls = getattr(sdk, name, None) or getattr(framework, name, None)
        if inspect.isclass(cls):
            standins[name] = cls
    return ServiceSurface(
        modules=modules, members=members, reference_commit=reference.commit, standins=standins,
        parameters=reference.keyword_parameters(),
    )


def workbench_only_members(surface: ServiceSurface) -> dict[type, dict[str, str]]:
    """Stand-in class -> {public member no service class it stands for has: that class's name}.

    A member defined on a shared base (``BasePlugin``) counts only if none of the service classes built on
    that base has it.
    """
    extras: dict[type, dict[str, str]] = {}
    for name, cls in surface.standins.items():
        for klass in inspect.getmro(cls):
            if is_own_class(klass):
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
