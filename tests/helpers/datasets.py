"""Dataset files written the way the public benchmarks publish them, for loader and training tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat


def write_shanghaitech_mat(path: Path, points: np.ndarray, number: int | None = None) -> Path:
    """Write a .mat nested as ShanghaiTech does: ``image_info{1}.location`` / ``.number``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = np.empty((1, 1), dtype=[("location", "O"), ("number", "O")])
    info[0, 0]["location"] = np.asarray(points, dtype=np.float64)
    info[0, 0]["number"] = np.array([[len(points) if number is None else number]], dtype=np.uint8)
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = info
    savemat(str(path), {"image_info": cell})
    return path


#: The folder beside the checkout where the team keeps downloaded benchmarks (never inside the repository).
DATA_BESIDE_CHECKOUT = Path(__file__).resolve().parents[3] / "data"
SHANGHAITECH_ENV = "WORKBENCH_SHANGHAITECH"


def shanghaitech_part(part: str) -> Path:
    """ShanghaiTech Part ``part``'s folder (holding ``test_data/``), from ``$WORKBENCH_SHANGHAITECH`` or
    ``../data/shtech/datasets`` beside the checkout; the test is skipped, saying so, when it is absent."""
    folder = Path(os.environ.get(SHANGHAITECH_ENV) or DATA_BESIDE_CHECKOUT / "shtech" / "datasets")
    for name in (f"ShanghaiTech_{part}", f"part_{part}_final", f"part_{part}"):
        if (folder / name / "test_data").is_dir():
            return folder / name
    pytest.skip(f"needs ShanghaiTech Part {part} (test_data/) in {folder}: set ${SHANGHAITECH_ENV} to the folder "
                f"holding ShanghaiTech_{part} or part_{part}_final (docs/training.md says how to get it)")
