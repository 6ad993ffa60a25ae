"""Dataset files written the way the public benchmarks publish them, for loader and training tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
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
