"""Head points from a density map.

A density map has one cell per ``scale`` x ``scale`` block of input pixels; cell ``(row, col)`` covers the
image pixels ``[x0 + col*scale, x0 + (col+1)*scale)`` horizontally (likewise vertically), where ``(x0, y0)``
is the ``offset`` of the map's area in the original image (the detectArea's top-left corner). A point is
put at the centre of its cell, ``x = x0 + (col + 0.5) * scale``, in the continuous pixel convention (pixel
``k`` spans ``[k, k+1)``) that the density-area geometry of ``PeopleCount`` also uses.

Two strategies, both returning ``(N, 2)`` float64 ``x, y`` arrays, strongest point first:

``topk``
    The ``count`` highest cells, as the service's reference plugin does (it puts the point at the cell's
    top-left corner; here it is the centre). One big head spread over several cells takes several points
    and a sparse crowd's faint heads get none, so localisation is poor.
``peaks``
    Local maxima of the map (each cell the maximum of its ``size`` x ``size`` cell neighbourhood, as
    ``scipy.ndimage.maximum_filter`` finds them) above ``threshold``, the usual practice in the counting
    literature; by default the ``count`` strongest are kept, so that the points agree with the count and flat
    low-level noise in an empty scene gives no points.
"""
from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np

from .._checks import number, whole_number

__all__ = [
    "DEFAULT_PEAK_SIZE",
    "DEFAULT_PEAK_THRESHOLD",
    "POINT_STRATEGIES",
    "Peaks",
    "PointStrategy",
    "TopK",
    "cell_centres",
    "get_point_strategy",
    "peaks",
    "resolve_point_strategy",
    "topk",
]

#: Minimum density of a peak cell. Low enough for wide-kernel maps (MCNN's heads peak at ~0.01 per cell)
#: and far above the numerical noise of ReLU outputs; the count limit does the rest of the filtering (on
#: the crowd-mini train split F1 barely moves between 1e-4 and 1e-2, for wbcount and MCNN alike).
DEFAULT_PEAK_THRESHOLD = 1e-3
#: Neighbourhood side in map cells. 3 (24 px at wbcount's stride 8) gave the best F1 of 3, 5, 7, 9 for
#: wbcount on the crowd-mini train split; larger neighbourhoods merge neighbouring heads in groups.
DEFAULT_PEAK_SIZE = 3

Offset = tuple[float, float]


def _check_map(density: np.ndarray) -> np.ndarray:
    array = np.asarray(density)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.size == 0 or array.dtype.kind not in "fiu":
        raise ValueError(
            f"density must be a non-empty numeric 2-D map (H', W') (leading size-1 axes allowed), got "
            f"{array.dtype} {np.shape(density)}"
        )
    return array


def _check_count(count: Any) -> int:
    return whole_number(count, "count", minimum=0, note="round the map's sum first")


def _check_geometry(scale: float, offset: Offset) -> tuple[float, float, float]:
    if not isinstance(scale, (int, float, np.number)) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number of image pixels per map cell, got {scale!r}")
    try:
        x0, y0 = (float(v) for v in offset)
    except (TypeError, ValueError):
        raise ValueError(f"offset must be an (x, y) pair of image pixels, got {offset!r}") from None
    return float(scale), x0, y0


def cell_centres(
    rows: np.ndarray, cols: np.ndarray, *, scale: float, offset: Offset = (0.0, 0.0)
) -> np.ndarray:
    """Image-pixel centres ``(N, 2)`` (x, y) of map cells given by row and column indices."""
    scale, x0, y0 = _check_geometry(scale, offset)
    points = np.empty((len(rows), 2), dtype=np.float64)
    points[:, 0] = x0 + (np.asarray(cols, dtype=np.float64) + 0.5) * scale
    points[:, 1] = y0 + (np.asarray(rows, dtype=np.float64) + 0.5) * scale
    return points


def _strongest(values: np.ndarray, flat: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` entries of ``flat`` with the highest ``values``, strongest first (ties by position)."""
    if k < len(flat):
        keep = np.argpartition(-values, k - 1)[:k]
        flat, values = flat[keep], values[keep]
    order = np.lexsort((flat, -values))
    return flat[order]


def topk(density: np.ndarray, count: int, *, scale: float, offset: Offset = (0.0, 0.0)) -> np.ndarray:
    """The centres of the ``count`` highest cells (all cells when the map has fewer), strongest first."""
    array = _check_map(density)
    k = min(_check_count(count), array.size)
    if k == 0:
        return np.zeros((0, 2), dtype=np.float64)
    values = array.ravel()
    flat = _strongest(values, np.arange(values.size), k)
    rows, cols = np.divmod(flat, array.shape[1])
    return cell_centres(rows, cols, scale=scale, offset=offset)


def peaks(
    density: np.ndarray,
    count: int | None = None,
    *,
    scale: float,
    offset: Offset = (0.0, 0.0),
    threshold: float = DEFAULT_PEAK_THRESHOLD,
    size: int = DEFAULT_PEAK_SIZE,
    limit: Literal["count"] | int | None = "count",
) -> np.ndarray:
    """Centres of the local maxima above ``threshold``, strongest first.

    Args:
        density: the 2-D map.
        count: the estimated count; needed when ``limit="count"``.
        scale, offset: map-to-image geometry (see the module docstring).
        threshold: a cell must exceed this density to be a peak.
        size: the neighbourhood side in map cells (odd); a peak is the maximum of its neighbourhood, so two
            peaks are at least ``size // 2 + 1`` cells apart unless their values tie exactly.
        limit: ``"count"`` keeps the ``count`` strongest peaks, an int keeps at most that many, ``None``
            keeps all.
    """
    array = _check_map(density)
    _check_peak_params(threshold, size, limit)
    if limit == "count":
        if count is None:
            raise ValueError("peaks with limit='count' needs the count; pass count=, or limit=None")
        k: int | None = _check_count(count)
    else:
        k = limit
    if k == 0:
        return np.zeros((0, 2), dtype=np.float64)
    local_max = _neighbourhood_max(array, size)
    flat = np.flatnonzero((array == local_max) & (array > threshold))
    values = array.ravel()[flat]
    flat = _strongest(values, flat, len(flat) if k is None else min(k, len(flat)))
    rows, cols = np.divmod(flat, array.shape[1])
    return cell_centres(rows, cols, scale=scale, offset=offset)


def _neighbourhood_max(array: np.ndarray, size: int) -> np.ndarray:
    """Each cell's maximum over the ``size`` x ``size`` square around it, cells outside the map left out (so
    a peak on the border is compared with its in-map neighbours only).

    A running maximum over shifted views, across then down: what scipy's ``maximum_filter`` with a ``-inf``
    border gives, in under a third of its time on a 96x128 map (42 against 146 us), paid once per image.
    """
    half = size // 2
    height, width = array.shape
    lowest = -np.inf if array.dtype.kind == "f" else np.iinfo(array.dtype).min
    padded = np.full((height + 2 * half, width + 2 * half), lowest, dtype=array.dtype)
    padded[half : half + height, half : half + width] = array
    across = padded[:, :width].copy()
    for shift in range(1, size):
        np.maximum(across, padded[:, shift : shift + width], out=across)
    result = across[:height].copy()
    for shift in range(1, size):
        np.maximum(result, across[shift : shift + height], out=result)
    return result


def _check_peak_params(threshold: Any, size: Any, limit: Any) -> None:
    number(threshold, "peaks threshold", minimum=0, note="a density")
    if whole_number(size, "peaks size", minimum=1, unit="map cells", note="odd: 1, 3, 5, ...") % 2 == 0:
        raise ValueError(f"peaks size must be an odd whole number of map cells >= 1 (1, 3, 5, ...), got {size!r}")
    if not (isinstance(limit, str) and limit == "count"):
        whole_number(limit, "peaks limit", minimum=0, allow_none=True, note="or 'count': as many as the count")


class PointStrategy(ABC):
    """Turns a density map and its count into head points in original-image pixels."""

    name: str = ""

    @abstractmethod
    def locate(self, density: np.ndarray, count: int, *, scale: float, offset: Offset = (0.0, 0.0)) -> np.ndarray:
        """``(N, 2)`` float64 points (x, y) in original-image pixels, strongest first."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class TopK(PointStrategy):
    """The ``count`` highest cells (see ``topk``)."""

    name = "topk"

    def locate(self, density: np.ndarray, count: int, *, scale: float, offset: Offset = (0.0, 0.0)) -> np.ndarray:
        return topk(density, count, scale=scale, offset=offset)


class Peaks(PointStrategy):
    """Local maxima above a threshold, the ``count`` strongest by default (see ``peaks``)."""

    name = "peaks"

    def __init__(
        self,
        threshold: float = DEFAULT_PEAK_THRESHOLD,
        size: int = DEFAULT_PEAK_SIZE,
        limit: Literal["count"] | int | None = "count",
    ) -> None:
        _check_peak_params(threshold, size, limit)
        self.threshold = threshold
        self.size = size
        self.limit = limit

    def locate(self, density: np.ndarray, count: int, *, scale: float, offset: Offset = (0.0, 0.0)) -> np.ndarray:
        return peaks(
            density, count, scale=scale, offset=offset, threshold=self.threshold, size=self.size, limit=self.limit
        )


POINT_STRATEGIES: dict[str, type[PointStrategy]] = {"topk": TopK, "peaks": Peaks}


def get_point_strategy(name: str, **params: Any) -> PointStrategy:
    """A strategy by name: ``get_point_strategy("peaks", threshold=0.01)``, ``get_point_strategy("topk")``.

    Raises:
        ValueError: unknown name or a bad parameter value.
        TypeError: a parameter the strategy does not take; the message lists the ones it does.
    """
    cls = POINT_STRATEGIES.get(name)
    if cls is None:
        raise ValueError(f"unknown point strategy {name!r}; choose one of {', '.join(map(repr, POINT_STRATEGIES))}")
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = f"takes {', '.join(accepted)}" if accepted else "takes no parameters"
        raise TypeError(f"point strategy {name!r} {takes}; got {', '.join(unknown)}")
    return cls(**params)


def resolve_point_strategy(points: str | PointStrategy) -> PointStrategy:
    """A ``PointStrategy`` from a name (default parameters) or a strategy object."""
    if isinstance(points, PointStrategy):
        return points
    if isinstance(points, str):
        return get_point_strategy(points)
    raise TypeError(
        f"points must be a strategy name ({', '.join(map(repr, POINT_STRATEGIES))}) or a PointStrategy, "
        f"got {type(points).__name__}"
    )
