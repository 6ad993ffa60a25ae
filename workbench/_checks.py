"""Argument checks and their messages, written once for the whole workbench (as supervision's validators).

Each check returns the value it accepted (normalised: a numpy integer becomes an ``int``, seconds a ``float``)
or raises a ``ValueError`` whose message names the argument, says what it
must be and shows what it got. The ``*_message`` functions give the text of the errors whose type is the
caller's (``UnknownEstimatorError``, ``LookupError``, an HTTP 404). The image-list check needs the SDK's
``Rect``, so it is ``workbench.images.check_image_list``.

Bottom layer: imports nothing of the workbench.
"""
from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal, TypeVar, overload

__all__ = [
    "choice", "number", "seconds", "unknown_broker_message", "unknown_estimators_message", "whole_number",
]

_Choice = TypeVar("_Choice")


@overload
def whole_number(
    value: Any, name: str, *, minimum: int | None = ..., maximum: int | None = ..., unit: str = ...,
    allow_none: Literal[False] = ..., note: str = ...,
) -> int: ...
@overload
def whole_number(
    value: Any, name: str, *, minimum: int | None = ..., maximum: int | None = ..., unit: str = ...,
    allow_none: bool, note: str = ...,
) -> int | None: ...
def whole_number(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None, unit: str = "",
    allow_none: bool = False, note: str = "",
) -> int | None:
    """``value`` as an ``int`` when it is a whole number (an ``int`` or numpy integer, never a ``bool``) within
    ``minimum``..``maximum``; ``None`` passes where ``allow_none``.

    ``unit`` ("pixels", "bytes") and ``note`` (what a value means, e.g. "0: any free port") go into the message:
    ``port must be a whole number from 0 to 65535 (0: any free port), got -1``.
    """
    if value is None and allow_none:
        return None
    whole = not isinstance(value, bool) and isinstance(value, numbers.Integral)
    if whole and (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return int(value)
    if minimum is not None and maximum is not None:
        bounds = f" from {minimum} to {maximum}"
    elif minimum is not None:
        bounds = f" >= {minimum}"
    elif maximum is not None:
        bounds = f" <= {maximum}"
    else:
        bounds = ""
    of_unit = f" of {unit}" if unit else ""
    raise ValueError(
        f"{name} must be a whole number{of_unit}{bounds}{' or None' if allow_none else ''}"
        f"{f' ({note})' if note else ''}, got {value!r}"
    )


def number(value: Any, name: str, *, minimum: float | None = None, unit: str = "", note: str = "") -> float:
    """``value`` as a ``float`` when it is a finite real number (not a ``bool``, not NaN) >= ``minimum``."""
    real = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(float(value))
    if real and (minimum is None or float(value) >= minimum):
        return float(value)
    of_unit = f" of {unit}" if unit else ""
    bounds = "" if minimum is None else f" >= {minimum:g}"
    raise ValueError(f"{name} must be a finite number{of_unit}{bounds}{f' ({note})' if note else ''}, got {value!r}")


def seconds(value: Any, name: str) -> float:
    """``value`` as a ``float`` when it is a positive, finite number of seconds (not a ``bool``, not NaN)."""
    if not isinstance(value, bool) and isinstance(value, numbers.Real) and 0 < float(value) < math.inf:
        return float(value)
    raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def choice(value: Any, name: str, choices: Collection[_Choice]) -> _Choice:
    """``value`` when it is one of ``choices``; else a message listing them, with the closest as "did you mean"."""
    if value in choices:
        return value
    raise ValueError(f"{name} must be one of {_listed(choices)}, got {value!r}{_did_you_mean(value, choices)}")


def unknown_broker_message(broker: str, known: Iterable[str]) -> str:
    """The one message for a broker name the host does not have."""
    return f"unknown estimator broker {broker!r}; known: {_listed(known) or 'none'}"


def unknown_estimators_message(names: Sequence[str], broker: str, choices: Iterable[str]) -> str:
    """The one message for estimator names ``broker`` does not offer (one name or several)."""
    offered = list(choices)
    hint = _did_you_mean(names[0], offered) if len(names) == 1 else ""
    return (
        f"no estimator{'s' if len(names) > 1 else ''} {_listed(names)} for {broker!r}; choose one of "
        f"{_listed(offered)}{hint} (a replacement plugin is named by its class name, and must be one of the host's "
        "active plugins)"
    )


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(map(repr, values))


def _did_you_mean(value: Any, choices: Iterable[Any]) -> str:
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, [str(option) for option in choices], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
