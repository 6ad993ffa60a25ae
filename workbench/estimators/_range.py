"""A model's training range: the scenes it was trained and measured on, and whether an image lies inside.

A model description may declare it (``"range"`` in the JSON, see ``models/MODEL_CARD.md`` for the default's):

    "range": {"people": [0, 70], "people_per_megapixel": [0, 300], "head_size_px": [4, 100]}

Each bound pair is ``[low, high]`` (a ``null`` side is open). ``people`` is per image (or per ``detectArea``),
``people_per_megapixel`` per million pixels of the analysed area. ``head_size_px`` states the head heights the
model saw; a density map cannot measure head sizes, so it is documentation and not checked. The check uses the
estimate itself: an estimator that under-counts a far denser scene can still land inside, so the declared
upper bounds should sit where the measured error starts to grow, not at the largest count ever seen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainingRange"]

Bounds = tuple[float | None, float | None]


@dataclass(frozen=True)
class TrainingRange:
    """Declared bounds (``None`` where not declared) and :meth:`contains` for one estimate."""

    people: Bounds | None = None
    people_per_megapixel: Bounds | None = None
    head_size_px: Bounds | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> TrainingRange:
        """Parse the ``"range"`` object of a model description.

        Raises:
            ValueError: not an object, an unknown key, or a bound pair that is not ``[low, high]`` numbers
                (or null) with ``0 <= low <= high``; the message names the source and the key.
        """
        if not isinstance(data, dict):
            raise ValueError(f"{source}: 'range' must be a JSON object, got {type(data).__name__}")
        known = tuple(cls.__dataclass_fields__)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown 'range' key(s) {', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(known)}")
        return cls(**{key: _bounds(value, f"{source}: range.{key}") for key, value in data.items()})

    def to_dict(self) -> dict[str, list[float | None]]:
        """The JSON form (declared keys only)."""
        return {key: list(value) for key, value in vars(self).items() if value is not None}

    def contains(self, count: float, area_pixels: float) -> bool:
        """Whether an estimate of ``count`` people over ``area_pixels`` analysed pixels is inside the range."""
        checks = [(self.people, count)]
        if area_pixels > 0:
            checks.append((self.people_per_megapixel, count / (area_pixels / 1e6)))
        return all(bounds is None or _inside(value, bounds) for bounds, value in checks)


def _inside(value: float, bounds: Bounds) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def _bounds(value: Any, where: str) -> Bounds:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where} must be [low, high], got {value!r}")
    parsed = []
    for side in value:
        if side is not None and (isinstance(side, bool) or not isinstance(side, (int, float))
                                 or not math.isfinite(side) or side < 0):
            raise ValueError(f"{where} bounds must be numbers >= 0 or null, got {value!r}")
        parsed.append(None if side is None else float(side))
    low, high = parsed
    if low is not None and high is not None and low > high:
        raise ValueError(f"{where} is [low, high] with low <= high, got {value!r}")
    return low, high
