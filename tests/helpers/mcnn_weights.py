"""MCNN weights written the way the published files are, and MCNN's forward pass in numpy, for the converter's tests.

The published ``mcnn_shtech*.h5`` are crowdcount-mcnn's PyTorch state dict saved with h5py (``network.save_net``:
one dataset per entry). ``reference_density`` is written from the network's definition (``src/models.py: MCNN``),
not from the converter's tables, so the two check each other.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

__all__ = ["COLUMNS", "POSITIONS", "random_weights", "reference_density", "write_h5"]

# MCNN's columns as src/models.py defines them: (input channels, output channels, kernel) per convolution; a
# 2x2 max-pool follows the first two. The state dict numbers the convolutions 0, 2, 4, 5 (pools are 1 and 3).
COLUMNS = {
    "branch1": [(1, 16, 9), (16, 32, 7), (32, 16, 7), (16, 8, 7)],
    "branch2": [(1, 20, 7), (20, 40, 5), (40, 20, 5), (20, 10, 5)],
    "branch3": [(1, 24, 5), (24, 48, 3), (48, 24, 3), (24, 12, 3)],
}
POSITIONS = (0, 2, 4, 5)


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights scaled so that activations neither vanish nor explode on 0..255 pixels, the fuse's bias positive
    so that the final ReLU leaves a map to compare."""
    rng = np.random.default_rng(seed)
    weights = {}
    for column, layers in COLUMNS.items():
        for position, (c_in, c_out, k) in zip(POSITIONS, layers):
            scale = 1.0 / np.sqrt(c_in * k * k) / (255.0 if position == 0 else 1.0)
            weights[f"DME.{column}.{position}.conv.weight"] = rng.normal(0, scale, (c_out, c_in, k, k)).astype(np.float32)
            weights[f"DME.{column}.{position}.conv.bias"] = rng.uniform(0, 0.1, c_out).astype(np.float32)
    weights["DME.fuse.0.conv.weight"] = rng.normal(0, 0.2, (1, 30, 1, 1)).astype(np.float32)
    weights["DME.fuse.0.conv.bias"] = np.array([0.05], np.float32)
    return weights


def write_h5(path: Path, weights: dict[str, np.ndarray]) -> Path:
    """An .h5 as crowdcount-mcnn's ``network.save_net`` writes it: one dataset per state-dict entry."""
    with h5py.File(path, "w") as handle:
        for name, array in weights.items():
            handle.create_dataset(name, data=array)
    return path


def reference_density(weights: dict[str, np.ndarray], gray: np.ndarray) -> np.ndarray:
    """MCNN's forward pass in float64 numpy: ``gray`` (H, W) raw 0..255 -> the (H//4, W//4) density map."""

    def conv_relu(x: np.ndarray, stem: str) -> np.ndarray:
        w, b = weights[f"{stem}.weight"].astype(np.float64), weights[f"{stem}.bias"].astype(np.float64)
        pad = (w.shape[-1] - 1) // 2
        padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, w.shape[-2:], axis=(1, 2))
        return np.maximum(np.einsum("chwkl,ockl->ohw", windows, w) + b[:, None, None], 0.0)

    def pool(x: np.ndarray) -> np.ndarray:  # 2x2, stride 2, the odd last row/column dropped (PyTorch's floor)
        c, h, w = x.shape
        return x[:, : h // 2 * 2, : w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))

    columns = []
    for column in COLUMNS:
        x = gray[np.newaxis].astype(np.float64)
        for position in POSITIONS:
            x = conv_relu(x, f"DME.{column}.{position}.conv")
            if position in (0, 2):
                x = pool(x)
        columns.append(x)
    return conv_relu(np.concatenate(columns), "DME.fuse.0.conv")[0]
