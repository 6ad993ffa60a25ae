"""``LunaSDKException``: what the SDK raises when an operation fails (``lunavl.sdk.errors.exceptions``).

The SDK builds it from an ``ErrorInfo`` of its core (a code, a description, a detail); the stand-in keeps the
class and its ``error``/``context``/``exception`` attributes but not the vendor's numeric error codes, which the
reference sources do not define. Catch it by class, as plugin code for the service does.
"""
from __future__ import annotations

from typing import Any

__all__ = ["LunaSDKException"]


class LunaSDKException(Exception):
    """An SDK operation failed; ``error`` says what (in the stand-in: a message)."""

    def __init__(self, error: Any, context: Any = None, exception: Exception | None = None):
        super().__init__(str(error))
        self.error = error
        self.context = context
        self.exception = exception
