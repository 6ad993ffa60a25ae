"""``LunaSDKException``: what the SDK raises when an operation fails (``lunavl.sdk.errors.exceptions``).

As in the SDK it is built from an ``ErrorInfo`` (``lunavl.sdk.errors.errors``: a code, a description, a
detail), so plugin code reads ``exc.error.errorCode`` here as there; the stand-in's own failures use the
SDK's error of the same meaning (``LunaVLError.InvalidImage``...) with the reason as detail.
"""
from __future__ import annotations

from typing import Any, List, Optional

from .error_codes import ErrorInfo, LunaVLError

__all__ = ["LunaSDKException", "assertError"]


class LunaSDKException(Exception):
    """An SDK operation failed: ``error`` (an ``ErrorInfo``) says how; ``context`` and ``exception`` add to it."""

    def __init__(self, error: ErrorInfo, context: Optional[Any] = None, exception: Optional[Exception] = None):
        super().__init__(str(error))
        self.exception = exception
        self.error = error
        self.context = context


def assertError(error: Any, context: Optional[List[Any]] = None) -> None:
    """Raise ``LunaSDKException`` when ``error`` (a core ``FSDKErrorResult``, or anything with ``isError``,
    ``error.name`` and ``what``) reports a failure."""
    if error.isError:
        raise LunaSDKException(LunaVLError.fromSDKError(error), context)
