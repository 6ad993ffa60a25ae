"""Sequences: a video file, or any dataset folder read as numbered frames in name order.

``load_sequence`` gives a ``Dataset`` whose samples carry ``frame`` (the frame number in the source, from 0)
and ``time`` (seconds from the first frame, where a rate is known), which is what ``compare`` needs to report
counts over time:

* a video file (``_video``): its frames, every ``every``-th or one per ``every_seconds``, times from the file;
* the Mall layout (``_mall``): its frame numbers; no published rate, so times only with ``fps=``;
* any other folder ``load_dataset`` reads (frames named so that name order is time order, ``frame_000001.jpg``
  ...): frame numbers are the positions in name order, times ``frame / fps`` with ``fps=``.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from ._core import Dataset
from ._errors import DatasetError
from ._load import is_video, load_dataset
from ._video import check_every, load_video, pick_every_seconds

__all__ = ["load_sequence"]


def load_sequence(
    path: str | Path,
    *,
    every: int | None = None,
    every_seconds: float | None = None,
    fps: float | None = None,
    annotations: str | Path | None = None,
    split: str | None = None,
    pattern: str | None = None,
    format: str | None = None,
    points_frame: str | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """A video file or a folder of frames as a sequence dataset (see the module docstring).

    Args:
        path: a video file (``.mp4``, ``.mkv``, ``.avi``, ``.mov``, ``.webm``, ...) or a dataset folder.
        every: keep every ``every``-th frame (1: all).
        every_seconds: keep the first frame at or after each multiple of this many seconds (needs a rate: the
            video's, or ``fps`` for a folder).
        fps: a folder's frame rate, which gives each frame its time; a video's rate is read from the file.
        annotations: a video's per-frame points file (default: ``clip.points.json`` beside ``clip.mp4``).
        split, pattern, format, points_frame, stray_points: as ``load_dataset`` takes them, for a folder.
    """
    if every is not None and every_seconds is not None:
        raise DatasetError("pass every= (frames) or every_seconds=, not both")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise DatasetError(f"fps={fps!r}: must be a frame rate above 0 (frames per second)")
    if is_video(path):
        folder_options = {"fps": fps, "split": split, "pattern": pattern, "format": format, "points_frame": points_frame}
        given = [name for name, value in folder_options.items() if value is not None]
        if given:
            raise DatasetError(
                f"{path}: {', '.join(given)} apply to a folder of frames, not to a video file (its rate and "
                "timestamps are read from the file)"
            )
        return load_video(path, every=every, every_seconds=every_seconds, annotations=annotations,
                          stray_points=stray_points)
    if annotations is not None:
        raise DatasetError(f"{path}: annotations= names a video's points file; a folder's annotations sit in it")
    dataset = load_dataset(path, split=split, pattern=pattern, format=format, points_frame=points_frame,
                           stray_points=stray_points)
    # Mall's samples know their frame numbers; any other folder's are their positions in name order.
    frames = [position if sample.frame is None else sample.frame for position, sample in enumerate(dataset)]
    timed = [dataclasses.replace(sample, frame=frame, time=None if fps is None else frame / fps)
             for sample, frame in zip(dataset, frames)]
    if every_seconds is not None:
        if fps is None:
            raise DatasetError(f"{path}: every_seconds= needs the folder's frame rate: pass fps= as well")
        timed = [timed[i] for i in pick_every_seconds([s.time for s in timed], every_seconds)]  # type: ignore[misc]
    else:
        timed = timed[::check_every(every)]
    return Dataset(timed, name=dataset.name, root=dataset.root, format=dataset.format, fps=fps)

