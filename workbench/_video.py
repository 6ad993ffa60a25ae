"""Reading video with PyAV, below the layers that read it: the datasets (``research``) and the server.

``index_frames`` demuxes a container once (reads its packets, decodes nothing) to list the first video stream's
frames: each one's presentation timestamp, the keyframes, the times in seconds, the rate and size. Frames are
numbered from 0 in presentation order, so a frame number means the same in a dataset (``load_video``) and in
the server's answer for the same clip. ``every_seconds_positions`` is the one rule for sampling by time;
``decode_chosen`` decodes a container's chosen frames in one forward pass (the server's clips: short, read
from memory).

PyAV (the ``video`` extra) is imported only when a video is read: ``import_av`` says how to install it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "INSTALL_VIDEO", "VIDEO_SUFFIXES", "FrameIndex", "VideoUnavailableError", "decode_chosen",
    "decode_stream", "every_seconds_positions", "import_av", "index_frames", "no_frames_reason", "stamp",
]

#: File suffixes read as videos (any container FFmpeg reads works where the format is said).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".gif"})
#: How to get PyAV, for every message that needs it.
INSTALL_VIDEO = "pip install 'workbench[video]'"


class VideoUnavailableError(ImportError):
    """PyAV is not installed: nothing can read a video."""


def import_av() -> Any:
    """The ``av`` module; ``VideoUnavailableError`` saying how to install it when it is missing."""
    try:
        import av
    except ImportError:
        raise VideoUnavailableError(f"reading video needs PyAV: {INSTALL_VIDEO}") from None
    return av


@dataclass(frozen=True)
class FrameIndex:
    """The first video stream of a container, from its packets: ``pts`` of every frame (ascending), the
    ``keyframes``' pts, ``times`` (seconds from the first frame), ``fps`` (``None`` when the file does not say),
    ``width`` x ``height`` as the stream declares them, the ``codec``'s name and the stream's ``time_base``;
    ``untimed`` counts the packets that carry no timestamp at all (a raw elementary stream's, which cannot be
    numbered or sought: see ``no_frames_reason``)."""

    pts: list[int]
    keyframes: list[int]
    times: list[float]
    fps: float | None
    width: int
    height: int
    codec: str
    time_base: Any
    untimed: int = 0

    @property
    def frames(self) -> int:
        return len(self.pts)


def stamp(item: Any) -> int | None:
    """A packet's or a decoded frame's timestamp as frames are numbered here: its pts, else its dts (some AVI
    files carry no pts)."""
    return item.pts if item.pts is not None else item.dts


def index_frames(container: Any) -> FrameIndex:
    """Demux ``container``'s first video stream (it must have one) to list its frames; decodes nothing.

    PyAV's errors (``av.error.FFmpegError``) pass through: the caller names the file in its own terms.
    """
    stream = container.streams.video[0]
    stamps, keys, untimed = [], [], 0
    for packet in container.demux(stream):
        at = stamp(packet)
        if packet.size == 0:  # the flushing packet at the end carries no frame
            continue
        if at is None:
            untimed += 1
            continue
        stamps.append(int(at))
        if packet.is_keyframe:
            keys.append(int(at))
    pts = sorted(set(stamps))
    time_base = stream.time_base
    rate = stream.average_rate
    return FrameIndex(
        pts=pts,
        keyframes=sorted(set(keys)),
        times=[float((value - pts[0]) * time_base) for value in pts],
        fps=float(rate) if rate else None,
        width=int(stream.codec_context.width),
        height=int(stream.codec_context.height),
        codec=str(stream.codec_context.name),
        time_base=time_base,
        untimed=untimed,
    )


def no_frames_reason(index: FrameIndex, file_name: str | None = None) -> str:
    """Why ``index`` lists no frame, for a message; ``file_name`` (``cam.h264``) makes the advice's command exact."""
    if index.untimed:
        source, target = ("IN", "OUT.mp4") if file_name is None else (
            file_name, f"{file_name.rsplit('.', 1)[0] or file_name}.mp4")
        return (f"its {index.untimed} frame packets carry no timestamps (a raw elementary stream, such as a camera's "
                f".h264 dump), so its frames can be neither numbered nor sought; put it in a container first: "
                f"ffmpeg -i {source} -c copy {target}")
    return "the video stream holds no frames"


def every_seconds_positions(times: Sequence[float], seconds: float) -> list[int]:
    """Positions in ``times`` (seconds, ascending) of the first frame at or after each multiple of ``seconds``
    (a positive number: the caller checks it and says so in its own terms)."""
    chosen, next_time = [], 0.0
    for position, time in enumerate(times):
        if time + 1e-9 >= next_time:
            chosen.append(position)
            next_time = (math.floor(time / seconds + 1e-9) + 1) * seconds
    return chosen


def decode_stream(container: Any, needed: Callable[[int | None], bool]) -> Iterator[Any]:
    """The first video stream's frames from where ``container`` stands. A packet whose frame is not ``needed``
    (called with its timestamp) is decoded only if other frames are decoded from it (FFmpeg's ``skip_frame`` =
    ``NONREF``, set packet by packet: most B-frames are skipped), which leaves every other frame's pixels as a full
    decode gives them."""
    stream = container.streams.video[0]
    context = stream.codec_context
    for packet in container.demux(stream):
        context.skip_frame = "DEFAULT" if needed(stamp(packet)) else "NONREF"
        yield from packet.decode()


def decode_chosen(container: Any, index: FrameIndex, chosen: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame number, (H, W, 3) uint8 RGB)`` for each of ``chosen`` (ascending frame numbers) in one forward
    pass of the decoder over ``container``, which ``index`` describes; stops after the last one.

    A decoded frame larger than the stream declared (a resolution change mid-stream) raises ``ValueError``: the
    caller budgeted the declared size. A chosen frame the decoder never gives raises ``ValueError`` too.
    """
    left = {index.pts[number]: number for number in chosen}
    if not left:
        return
    for frame in decode_stream(container, lambda at: at is None or at in left):
        at = stamp(frame)
        number = left.pop(at, None) if at is not None else None
        if number is None:
            continue
        if frame.width * frame.height > index.width * index.height:
            raise ValueError(
                f"frame {number} is {frame.width}x{frame.height}, larger than the {index.width}x{index.height} "
                "the stream declares"
            )
        yield number, frame.to_ndarray(format="rgb24")
        if not left:
            return
    raise ValueError(f"the stream ended before frame {min(left.values())} was decoded")
