"""The datasets' error and warning types, and how their messages list many names."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DatasetError", "DatasetWarning", "some"]


class DatasetError(ValueError):
    """A dataset folder or annotation file that cannot be used as it is; the message says how to fix it."""


class DatasetWarning(UserWarning):
    """Something in a dataset folder that is probably unintended but does not stop loading."""


def some(names: Sequence[str], limit: int = 5, separator: str = ", ") -> str:
    """The first ``limit`` of ``names`` joined for a message, with `` …`` when there are more."""
    return separator.join(names[:limit]) + (" …" if len(names) > limit else "")
