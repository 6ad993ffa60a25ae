"""Fixtures shared by the whole suite.

Shared helpers live in the ``helpers`` package beside this file (pyproject's pytest ``pythonpath`` puts
``tests/`` on the path); the helper modules that define fixtures are registered here, so a test names a
fixture without importing it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["helpers.notebooks", "helpers.service_packages", "helpers.spots"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def _shared_path(relative: str) -> Path:
    path = SHARED_DIR / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the team's shared test material); absent on this machine")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def crowd_mini() -> Path:
    """The real crowd-mini dataset (38 photos with head points); skips when ../shared is absent."""
    return _shared_path("data/crowd-mini")


@pytest.fixture(scope="session")
def mcnn_model() -> Path:
    """The pretrained MCNN (ShanghaiTech B) converted to ONNX; skips when ../shared is absent."""
    return _shared_path("data/models/mcnn_shtechB.onnx")


@pytest.fixture(scope="session")
def reference_docs() -> Path:
    """The service's plugin documentation with its example plugins; skips when ../shared is absent."""
    return _shared_path("reference")


class PluginFolder:
    """A plugins folder in the service's layout, written by a test."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, name: str, source: str, *, requirements: str | None = None, module: str = "plugin") -> str:
        """Write ``<root>/<name>/<module>.py`` (and ``requirements.txt``); returns the module name to activate."""
        import textwrap

        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
        if requirements is not None:
            (folder / "requirements.txt").write_text(requirements)
        return f"{name}.{module}"


@pytest.fixture
def plugin_folder(tmp_path: Path) -> PluginFolder:
    root = tmp_path / "plugins"
    root.mkdir()
    return PluginFolder(root)


@pytest.fixture
def project_plugins() -> Path:
    return REPO_ROOT / "plugins"
