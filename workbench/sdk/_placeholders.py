"""Stand-ins for the SDK names the workbench does not implement: they import, and using them says why not.

Most of the SDK drives the vendor's C++ core (FaceEngine), which the workbench cannot run. A plugin may still
import those names (at module level, for type hints, or for a branch it never takes here), so every name of
the SDK's public tree imports; constructing, calling or reading a member of one raises ``CoreOnlyError`` (a
``NotImplementedError``) naming it and saying so, never a bare ``ImportError`` or ``AttributeError``. The
stand-in's own core-only members raise it too.
"""
from __future__ import annotations

import abc
import ast
from typing import Any, Iterable, NoReturn

NEEDS_CORE = "needs the vendor's C++ core (FaceEngine), which the workbench cannot run"


class CoreOnlyError(NotImplementedError):
    """What the stand-in raises where the SDK would use its C++ core: the workbench cannot tell what the service
    does there (``workbench check`` says it cannot verify such code rather than calling it broken)."""

# Where the SDK's name has a workbench counterpart, the message says which.
_INSTEAD = {
    "PeopleCountEstimator": "in the workbench the host's people-count estimator (the default one or your "
                            "estimator plugin) takes its place: call it through the workbench (wb.estimate) "
                            "or let the host call your plugin's estimateBatch",
}


def _refuse(what: str, name: str) -> NoReturn:
    hint = next((text for prefix, text in _INSTEAD.items() if name.startswith(prefix)), "")
    raise CoreOnlyError(f"{what} {NEEDS_CORE}" + (f"; {hint}" if hint else ""))


class _CoreOnlyClass(abc.ABCMeta):
    """The metaclass of placeholder classes: the SDK's class attributes raise on access (an ``ABCMeta`` so that a
    plugin class may derive from a placeholder and from an abstract base at once)."""

    _sdkMembers: frozenset[str]

    def __getattr__(cls, name: str) -> Any:
        if name in cls._sdkMembers:
            _refuse(f"{cls.__module__}.{cls.__qualname__}.{name}", cls.__qualname__)
        raise AttributeError(f"the SDK's {cls.__qualname__} ({cls.__module__}) has no attribute {name!r}")


def placeholder_class(module: str, name: str, members: Iterable[str]) -> type:
    """A class named like the SDK's whose construction and SDK class attributes raise ``NotImplementedError``."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _refuse(f"{module}.{name}", name)

    return _CoreOnlyClass(name, (), {
        "__init__": __init__, "__module__": module, "__qualname__": name, "_sdkMembers": frozenset(members),
        "__doc__": f"The workbench's placeholder for the SDK's {name}: it {NEEDS_CORE}.",
    })


def placeholder_function(module: str, name: str) -> Any:
    """A function named like the SDK's that raises ``NotImplementedError`` when called."""

    def function(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"{module}.{name}()", name)

    function.__name__ = function.__qualname__ = name
    function.__module__ = module
    function.__doc__ = f"The workbench's placeholder for the SDK's {name}(): it {NEEDS_CORE}."
    return function


class CoreOnlyValue:
    """A value of the core (a FaceEngine object, or a module-level constant built from one): using it raises."""

    __slots__ = ("_where",)

    def __init__(self, where: str):
        object.__setattr__(self, "_where", where)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            # What tools probe for (``__wrapped__``, ``__abstractmethods__``...) through ``hasattr``: absent.
            raise AttributeError(name)
        _refuse(f"{self._where}.{name}", self._where.rsplit(".", 1)[-1])

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"{self._where}()", self._where.rsplit(".", 1)[-1])

    def __bool__(self) -> NoReturn:
        _refuse(self._where, self._where.rsplit(".", 1)[-1])

    def __repr__(self) -> str:
        return f"<the workbench's placeholder for {self._where}: it {NEEDS_CORE}>"


def placeholder_constant(module: str, name: str, source: str | None) -> Any:
    """The constant's value where its source is a literal (``DEFAULT_SIZE = 250``), else a ``CoreOnlyValue``."""
    try:
        return ast.literal_eval(source or "")
    except (ValueError, SyntaxError):
        return CoreOnlyValue(f"{module}.{name}")
