import numpy as np

from ..settings import TILE, DARKNESS


def countTiles(pixels: np.ndarray) -> list[tuple[int, int]]:
    """Centres of the tiles noticeably darker than the image as a whole."""
    gray = pixels[..., :3].mean(axis=-1) if pixels.ndim == 3 else pixels.astype(float)
    height, width = gray.shape
    rows, cols = -(-height // TILE), -(-width // TILE)
    padded = np.full((rows * TILE, cols * TILE), gray.mean(), dtype=float)
    padded[:height, :width] = gray
    means = padded.reshape(rows, TILE, cols, TILE).mean(axis=(1, 3))
    ys, xs = np.nonzero(means < gray.mean() * DARKNESS)
    return [(min(int(x) * TILE + TILE // 2, width - 1), min(int(y) * TILE + TILE // 2, height - 1)) for y, x in zip(ys, xs)]
