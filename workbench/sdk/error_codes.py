"""The SDK's error descriptions (``lunavl.sdk.errors.errors``): ``ErrorInfo`` and the ``LunaVLError`` table.

Pure Python in the SDK, so the stand-in implements it: plugin code reads ``error.errorCode`` from a
``LunaSDKException`` or compares with ``LunaVLError.InvalidImage.errorCode`` here as in the service. The table
of codes is not written out here: it is read from the reference snapshot (``reference_surface.json``, parsed
from the SDK's own sources), so it is the SDK's and follows it when the snapshot is regenerated.
"""
from __future__ import annotations

import ast
import inspect
from typing import Any, Dict, Union

from ..surface import shipped_surface

__all__ = ["ErrorInfo", "LunaVLError"]

_MODULE = "lunavl.sdk.errors.errors"


class ErrorInfo:
    """One error: its code, description and detail (a ``str.format`` template until ``format`` fills it)."""

    __slots__ = ["errorCode", "description", "detail"]

    def __init__(self, errorCode: int, desc: str, detail: str):
        self.errorCode = errorCode
        self.description = desc
        self.detail = detail

    def asDict(self) -> Dict[str, Union[int, str]]:
        """``{"error_code": ..., "desc": ..., "detail": ...}``."""
        return {"error_code": self.errorCode, "desc": self.description, "detail": self.detail}

    def __repr__(self) -> str:
        return f"error code: {self.errorCode}, desc: {self.description}, detail: {self.detail}"

    def format(self, *formatArgs: Any) -> ErrorInfo:
        """A copy whose detail is the template filled with ``formatArgs``."""
        return ErrorInfo(self.errorCode, self.description, self.detail.format(*formatArgs))


class LunaVLError:
    """The SDK's errors by name (``LunaVLError.InvalidImage``...), each an ``ErrorInfo``."""

    # Set from the SDK's table below with all the others; named here because the stand-in itself raises them.
    UnknownError: ErrorInfo
    InvalidInput: ErrorInfo
    InvalidImage: ErrorInfo
    InvalidConversion: ErrorInfo
    FailedToLoad: ErrorInfo
    FailedToSave: ErrorInfo

    @classmethod
    def fromSDKError(cls, sdkError: Any) -> ErrorInfo:
        """The error named like ``sdkError.error.name`` (a core ``FSDKErrorResult``, or anything shaped like
        one), its detail ``sdkError.what``; ``UnknownError`` when no error has that name."""
        for name, known in inspect.getmembers(cls, lambda member: isinstance(member, ErrorInfo)):
            if name == sdkError.error.name:
                return ErrorInfo(known.errorCode, known.description, sdkError.what)
        return ErrorInfo(cls.UnknownError.errorCode, cls.UnknownError.description, sdkError.what)


def _errorTable() -> dict[str, ErrorInfo]:
    """``LunaVLError``'s class constants in the snapshot: ``Name = ErrorInfo(code, "description", "detail")``."""
    table = {}
    for name, member in shipped_surface().modules[_MODULE].classes["LunaVLError"].members.items():
        call = ast.parse(member.value or "", mode="eval").body if member.kind == "constant" else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "ErrorInfo":
            table[name] = ErrorInfo(*(ast.literal_eval(argument) for argument in call.args))
    return table


for _name, _error in _errorTable().items():
    setattr(LunaVLError, _name, _error)
del _name, _error
_unset = [name for name in LunaVLError.__annotations__ if not hasattr(LunaVLError, name)]
if _unset:
    raise RuntimeError(f"the SDK's error table in reference_surface.json lacks {_unset}: regenerate the snapshot")
