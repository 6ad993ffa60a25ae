"""What the browser UI tests (tests/ui) and their fixtures share."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "tests" / "ui" / "screenshots"


class Lab:
    """A running JupyterLab server: ``url(path)`` gives an address with the token."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"
