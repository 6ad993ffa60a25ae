"""Fixtures shared by the whole suite."""
from __future__ import annotations

from pathlib import Path

import pytest

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
