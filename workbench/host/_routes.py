"""The paths the workbench's own HTTP API answers, which no plugin route may take."""
from __future__ import annotations

# Exact paths of the built-in API; every path under ESTIMATORS_PREFIX is built-in too.
RESERVED_PATHS = ("/health", "/plugins", "/estimators")
ESTIMATORS_PREFIX = "/estimators/"


def is_reserved_path(path: str) -> bool:
    """Whether ``path`` belongs to the built-in API (``workbench.server`` checks its routes against this)."""
    return path in RESERVED_PATHS or path.startswith(ESTIMATORS_PREFIX)
