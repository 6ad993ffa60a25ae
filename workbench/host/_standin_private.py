"""Private members the stand-in's classes have and the service's do not, and ``rect & other``: what plugin code
must not rely on, and what to use instead.

The stand-in keeps its own state under private names (``VLImage``'s pixels, ``Rect``'s numbers,
``BaseBackgroundPlugin``'s route list) where the SDK keeps a core object; plugin code that reaches them works
here and fails in the service. Strict mode (``_strict``) and the static scan (``workbench.authoring._static``)
both judge ``obj._name`` through this module.

``Rect & other`` is there in the SDK but is not an intersection: its code returns ``self.coreRect and
other.coreRect``, Python's ``and`` of two core rectangles, i.e. the second one (not even a ``Rect``).

A stand-in class's private members are read from its own source (``__slots__``, methods, class attributes and
every ``self._name = ...``), not from ``vars()``: what Python's machinery adds (``Enum._member_map_``,
``NamedTuple._replace``, ``ABC._abc_impl``) is there in the SDK's classes too.
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap

from ._surface import FRAMEWORK_MEMBERS, ServiceSurface, is_own_class

# The private members of the SDK's classes that the stand-in implements (lunavl's sources at the reference
# commit: slots, methods and attributes set, inherited ones included; the others have none). Plugin code reaches
# these in the service too, so they are never reported; ``tests/test_check_members.py`` re-reads the sources to
# keep this record true. The SDK's other classes are not judged here: the stand-in does not run them.
SDK_PRIVATE_MEMBERS: dict[str, frozenset[str]] = {
    "BaseEstimation": frozenset({"_coreEstimation"}),
    "PeopleCount": frozenset({"_coreEstimation"}),
    "VLImage": frozenset({"_coreImageFromNumpyArray"}),
}

RECT_AND = "rect & other"
RECT_AND_PROBLEM = (
    "the SDK's Rect.__and__ returns `self.coreRect and other.coreRect`, the second rectangle's core object: "
    "not a Rect, and not the intersection"
)
RECT_AND_INSTEAD = (
    "compute the intersection from x, y, width and height: Rect.initByCorners(Point(max(a.x, b.x), max(a.y, b.y)), "
    "Point(min(a.right, b.right), min(a.bottom, b.bottom))), an intersection only where isValid()"
)

# What to use instead, where the public member is not simply the private name without its underscores
# (``_format`` -> ``format``). Keyed by that bare name, so a class-private spelling (``_VLImage__pixels``) matches.
_INSTEAD: dict[tuple[str, str], str] = {
    ("VLImage", "pixels"): "use image.asNPArray() for the pixels",
    ("VLImage", "wrap"): "use VLImage.fromNumpyArray(array)",
    ("Rect", "isFloat"): "use isinstance(rect.x, float)",
    ("Rect", "astuple"): "use rect.x, rect.y, rect.width and rect.height (or rect.asDict())",
    ("Rect", "store"): "assign rect.x, rect.y, rect.width or rect.height",
    ("BaseBackgroundPlugin", "routes"): "keep your own list of the paths you pass to addRoute",
}


def is_private(name: str) -> bool:
    """``_name`` or ``__name``, but not a dunder (``__init__``), which is Python's protocol, not a class's state."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_framework_class(class_name: str) -> bool:
    """A class of the service's plugin framework (``luna_plugins``, unpublished), as opposed to the SDK's."""
    return class_name in FRAMEWORK_MEMBERS


def sdk_has_private(class_name: str, member: str) -> bool:
    return member in SDK_PRIVATE_MEMBERS.get(class_name, frozenset())


def standin_private_members(surface: ServiceSurface) -> dict[type, dict[str, str]]:
    """Stand-in class -> {private member its own source defines: the service class it stands for}.

    A member of a shared base (``BasePlugin``) counts only if no service class built on that base has it
    in the SDK (``SDK_PRIVATE_MEMBERS``).
    """
    found: dict[type, dict[str, str]] = {}
    for name, cls in surface.standins.items():
        for klass in inspect.getmro(cls):
            if not is_own_class(klass):
                continue
            for member in _private_names(klass):
                if not any(sdk_has_private(other, member) for other, standin in surface.standins.items()
                           if issubclass(standin, klass)):
                    found.setdefault(klass, {}).setdefault(member, name)
    return found


def standin_private_names_of(surface: ServiceSurface, class_name: str) -> frozenset[str]:
    """The private members plugin code finds on the stand-in for ``class_name`` and not on the service's class."""
    cls = surface.standins.get(class_name)
    if cls is None:
        return frozenset()
    names = {member for klass in inspect.getmro(cls) if is_own_class(klass) for member in _private_names(klass)}
    return frozenset(member for member in names if not sdk_has_private(class_name, member))


def private_member_problem(class_name: str, member: str) -> str:
    """What is wrong with plugin code using ``class_name.member``, a private member the service's class lacks."""
    if is_framework_class(class_name):
        return (f"{class_name}.{member} is the workbench stand-in's private state: the service's plugin framework "
                f"documents no {member}, and an attribute of your own under this name would replace the stand-in's")
    return (f"{class_name}.{member} is not in the service's SDK: the SDK's {class_name} has no {member} "
            "(what the workbench's stand-in keeps privately is its own)")


def private_member_instead(surface: ServiceSurface, class_name: str, member: str) -> str:
    """The public member to use instead of ``class_name.member``, for a message."""
    bare = _bare_name(class_name, member)
    hint = _INSTEAD.get((class_name, bare))
    if hint:
        return hint
    if bare in surface.members.get(class_name, ()):
        return f"use .{bare}, the service's public member"
    return surface.instead(class_name, bare)


def _bare_name(class_name: str, member: str) -> str:
    """``_VLImage__pixels`` -> ``pixels``, ``_format`` -> ``format``."""
    mangled = f"_{class_name.lstrip('_')}__"
    return (member[len(mangled):] if member.startswith(mangled) else member).lstrip("_")


@functools.lru_cache(maxsize=None)
def _private_names(klass: type) -> frozenset[str]:
    """The private members ``klass``'s own source defines, under the names Python stores them (mangled)."""
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):
        return frozenset()
    node = next((n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)), None)
    if node is None:
        return frozenset()
    names: set[str] = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            for target in item.targets if isinstance(item, ast.Assign) else [item.target]:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                    if target.id == "__slots__" and item.value is not None:
                        names.update(slot.value for slot in ast.walk(item.value)
                                     if isinstance(slot, ast.Constant) and isinstance(slot.value, str))
    # Every attribute the class's code sets (on self, or on an instance it builds with cls.__new__).
    names.update(attribute.attr for attribute in ast.walk(node)
                 if isinstance(attribute, ast.Attribute) and isinstance(attribute.ctx, ast.Store))
    return frozenset(_mangled(klass.__name__, name) for name in names if is_private(name))


def _mangled(class_name: str, name: str) -> str:
    # Python stores ``__name`` written in class ``C`` as ``_C__name``.
    return f"_{class_name.lstrip('_')}{name}" if name.startswith("__") else name
