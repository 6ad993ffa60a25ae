"""Counts over time: a comparison on a sequence (a video, a frame folder) read along its frames.

``Timeline`` holds, per sampled frame, its number, its time, the annotated count and each estimator's count, and
answers what a dashboard's reader asks of a counter besides its MAE:

* ``errors(name)``: the error over time;
* ``stability(window)``: how much each count moves from one sampled frame to the next, against how much the
  truth moves (a counter that jumps by 10 between two near-identical frames is unusable on a dashboard even when
  its MAE is fine), after an optional centred moving average over ``window`` frames;
* ``divergence(name, reference, window)``: where in the recording an estimator departs most from another (by
  default, from the default estimator): the stretch of ``window`` sampled frames with the largest mean difference.

A comparison on a sequence dataset gives its timeline as ``report.timeline`` (built by ``Timeline.from_rows`` from
the dataset and the per-image table). Counts are the rounded counts the service answers (``pred_count``); a
frame whose result the host refused is NaN for that estimator, and an unannotated frame's truth is NaN.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import whole_number

if TYPE_CHECKING:
    import pandas as pd

    from .datasets import Dataset

__all__ = ["Divergence", "Timeline"]

#: Per-frame values as a list (``None`` for missing) or an array (NaN for missing).
Values = Sequence[float | None] | np.ndarray


@dataclass(frozen=True)
class Divergence:
    """The stretch of a recording where ``estimator`` departs most from ``reference``.

    ``first_frame``/``last_frame`` (and ``first_time``/``last_time``, None without times) bound the stretch of
    ``frames`` sampled frames; ``mean_difference`` is ``estimator`` minus ``reference`` averaged over it (people);
    ``overall_difference`` the same over the whole recording, for scale.
    """

    estimator: str
    reference: str
    first_frame: int
    last_frame: int
    first_time: float | None
    last_time: float | None
    frames: int
    mean_difference: float
    overall_difference: float

    def describe(self) -> str:
        where = f"frames {self.first_frame} to {self.last_frame}"
        if self.first_time is not None and self.last_time is not None:
            where += f" ({self.first_time:.1f} s to {self.last_time:.1f} s)"
        return (f"{self.estimator} departs most from {self.reference} over {where}: "
                f"{self.mean_difference:+.1f} people on average there, {self.overall_difference:+.1f} over the whole")


class Timeline:
    """Per sampled frame: ``frames`` (numbers), ``times`` (seconds, NaN where unknown), ``truth`` (NaN where
    unannotated) and ``counts[name]`` per estimator (NaN where its result was refused), in frame order.
    ``labels`` names each estimator for plots and tables."""

    def __init__(
        self,
        frames: Sequence[int] | np.ndarray,
        times: Values,
        truth: Values,
        counts: Mapping[str, Values],
        *,
        labels: Mapping[str, str] | None = None,
        name: str = "",
    ) -> None:
        order = np.argsort(np.asarray(frames, dtype=np.int64), kind="stable")
        self.frames = np.asarray(frames, dtype=np.int64)[order]
        self.times = _floats(times)[order]
        self.truth = _floats(truth)[order]
        self.counts = {estimator: _floats(values)[order] for estimator, values in counts.items()}
        for estimator, values in self.counts.items():
            if len(values) != len(self.frames):
                raise ValueError(f"estimator {estimator!r} has {len(values)} counts for {len(self.frames)} frames")
        if len(self.times) != len(self.frames) or len(self.truth) != len(self.frames):
            raise ValueError("frames, times and truth must have one entry per frame")
        self.estimators = list(self.counts)
        self.labels = {estimator: (labels or {}).get(estimator, estimator) for estimator in self.estimators}
        self.name = name

    @classmethod
    def from_rows(
        cls, dataset: Dataset, per_image: pd.DataFrame, estimators: Sequence[str],
        labels: Mapping[str, str] | None = None,
    ) -> Timeline:
        """From a sequence dataset and compare's per-image table (``image``, ``estimator``, ``pred_count``; a row
        with a ``failure`` counts as NaN)."""
        if not dataset.is_sequence:
            raise ValueError(
                f"dataset {dataset.name!r} is not a sequence (its samples have no frame numbers); load it with "
                "load_sequence(path, fps=...) to read a folder as frames in name order, or pass a video file"
            )
        position = {sample.name: index for index, sample in enumerate(dataset)}
        counts = {estimator: [math.nan] * len(dataset) for estimator in estimators}
        for row in per_image.itertuples(index=False):
            estimator, image = getattr(row, "estimator"), getattr(row, "image")
            failed = isinstance(getattr(row, "failure", None), str)
            if estimator in counts and image in position and not failed:
                counts[estimator][position[image]] = float(getattr(row, "pred_count"))
        return cls(
            [sample.frame for sample in dataset],  # type: ignore[misc]  # is_sequence: every frame is set
            [sample.time for sample in dataset],
            [sample.count for sample in dataset],
            counts,
            labels=labels,
            name=dataset.name,
        )

    # -- what it holds -------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def has_times(self) -> bool:
        """True when every frame has a time (a video, or a folder loaded with ``fps=``)."""
        return bool(len(self.times)) and not np.isnan(self.times).any()

    @property
    def axis(self) -> tuple[np.ndarray, str]:
        """What to plot counts against: the times in seconds where every frame has one, else the frame numbers."""
        return (self.times, "time (s)") if self.has_times else (self.frames.astype(np.float64), "frame")

    @property
    def annotated(self) -> bool:
        """True when some frame has an annotated count."""
        return bool(np.isfinite(self.truth).any())

    def errors(self, estimator: str) -> np.ndarray:
        """``estimator``'s count minus the truth per frame (NaN where either is missing)."""
        return self._counts(estimator) - self.truth

    def smoothed(self, window: int) -> Timeline:
        """Every series (the truth too) as a centred moving average over ``window`` sampled frames (1: unchanged).

        NaNs are left out of each average; a frame whose whole window is NaN stays NaN.
        """
        window = whole_number(window, "window", minimum=1, unit="frames")
        return Timeline(
            self.frames, self.times, _moving_average(self.truth, window),
            {estimator: _moving_average(values, window) for estimator, values in self.counts.items()},
            labels=self.labels, name=self.name,
        )

    # -- the figures ---------------------------------------------------------------------------------------

    def stability(self, window: int = 1) -> pd.DataFrame:
        """How much each count moves between consecutive sampled frames, after a moving average over ``window``.

        One row per estimator, and a ``truth`` row where frames are annotated. Columns:

        * ``mean abs change``: the mean of ``|count[t+1] - count[t]|`` (people per step);
        * ``max abs change``: the largest such step;
        * ``vs truth``: ``mean abs change`` divided by the truth's (1: it moves as much as the crowd does; 3: three
          times as much); NaN without annotations or where the truth never moves;
        * ``change error``: the mean of ``|Δcount - Δtruth|``, how far each step is from the true step (0: it
          follows every change of the crowd and nothing else);
        * ``steps``: the steps counted (both frames answered, and annotated for the truth-based columns).

        Steps are between consecutive *sampled* frames: sampled every 30 frames, a step spans 30 frames.
        """
        import pandas as pd

        series = self.smoothed(window) if window != 1 else self
        truth_step = np.diff(series.truth)
        truth_change = _mean_abs(truth_step)
        rows: dict[str, dict[str, float]] = {}
        for estimator in self.estimators:
            step = np.diff(series.counts[estimator])
            change = _mean_abs(step)
            both = np.isfinite(step) & np.isfinite(truth_step)
            rows[self.labels[estimator]] = {
                "mean abs change": change,
                "max abs change": float(np.nanmax(np.abs(step))) if np.isfinite(step).any() else math.nan,
                "vs truth": change / truth_change if truth_change and math.isfinite(truth_change) else math.nan,
                "change error": float(np.abs(step[both] - truth_step[both]).mean()) if both.any() else math.nan,
                "steps": int(np.isfinite(step).sum()),
            }
        if self.annotated:
            rows["truth"] = {
                "mean abs change": truth_change,
                "max abs change": float(np.nanmax(np.abs(truth_step))) if np.isfinite(truth_step).any() else math.nan,
                "vs truth": 1.0 if truth_change else math.nan,
                "change error": 0.0,
                "steps": int(np.isfinite(truth_step).sum()),
            }
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "series" if window == 1 else f"series (moving average over {window} frames)"
        return table

    def divergence(self, estimator: str, reference: str = "default", window: int = 10) -> Divergence:
        """The stretch of ``window`` consecutive sampled frames where ``estimator`` departs most from ``reference``.

        Raises ``KeyError`` naming the estimators for an unknown name, ``ValueError`` when the two never answered
        the same frame.
        """
        window = whole_number(window, "window", minimum=1, unit="frames")
        difference = self._counts(estimator) - self._counts(reference)
        if not np.isfinite(difference).any():
            raise ValueError(f"{estimator!r} and {reference!r} answered no frame in common")
        span = min(window, len(difference))
        means = _window_means(difference, span)
        start = int(np.nanargmax(np.abs(means)))
        end = start + span - 1
        times = self.times
        return Divergence(
            estimator, reference, int(self.frames[start]), int(self.frames[end]),
            None if math.isnan(times[start]) else float(times[start]),
            None if math.isnan(times[end]) else float(times[end]),
            span, float(means[start]), float(np.nanmean(difference)),
        )

    def table(self) -> pd.DataFrame:
        """One row per sampled frame: ``frame``, ``time``, ``truth``, each estimator's count and its error."""
        import pandas as pd

        columns: dict[str, Any] = {"frame": self.frames, "time": self.times, "truth": self.truth}
        for estimator in self.estimators:
            columns[estimator] = self.counts[estimator]
            columns[f"error {estimator}"] = self.errors(estimator)
        return pd.DataFrame(columns)

    def _counts(self, estimator: str) -> np.ndarray:
        if estimator not in self.counts:
            raise KeyError(f"no estimator {estimator!r} in this timeline; it has {', '.join(map(repr, self.estimators))}")
        return self.counts[estimator]

    def __repr__(self) -> str:
        span = "no frames" if not len(self) else f"frames {self.frames[0]} to {self.frames[-1]}"
        return f"Timeline({self.name!r}, {len(self)} frames, {span}, estimators={self.estimators})"


def _floats(values: Values) -> np.ndarray:
    return np.asarray([math.nan if value is None else value for value in values], dtype=np.float64)


def _mean_abs(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.abs(finite).mean()) if len(finite) else math.nan


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` entries (shorter at the ends, and where the series is shorter than the
    window), NaNs left out; the result has one entry per value."""
    if window == 1 or not len(values):
        return values.copy()
    finite = np.isfinite(values)
    # Running sums give each entry's window [i - before, i + after] clipped to the series, whatever its length.
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0.0], np.cumsum(finite)])
    positions = np.arange(len(values))
    low = np.clip(positions - (window - 1) // 2, 0, len(values))
    high = np.clip(positions + window // 2 + 1, 0, len(values))
    present = counts[high] - counts[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present > 0, (sums[high] - sums[low]) / np.maximum(present, 1), np.nan)


def _window_means(values: np.ndarray, window: int) -> np.ndarray:
    """The NaN-ignoring mean of each run of ``window`` consecutive entries (NaN where a run has none)."""
    finite = np.isfinite(values)
    sums = np.convolve(np.where(finite, values, 0.0), np.ones(window), mode="valid")
    counts = np.convolve(finite.astype(np.float64), np.ones(window), mode="valid")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
