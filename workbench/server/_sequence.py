"""``POST /estimators/{broker}/estimate-sequence``: the count of every sampled frame of a short clip or of a
frame sequence, under the image endpoint's budgets.

The body is a clip (a raw body, or the one file part of a multipart upload that is a video: a ``video/*``
``Content-Type`` or a video file name such as ``clip.mp4``), any container FFmpeg reads, read by PyAV from
memory; or a multipart upload of images, the frames in part order. Frames are numbered from 0 in presentation
order, as ``load_video`` numbers a clip's (the parts' order, for images). Query: ``targets`` and ``detect_area``
as for one image (for every frame), ``every`` (frames) or ``every_seconds``, and ``fps`` for images (their
times, and what ``every_seconds`` needs).

Budgets: a place among ``max_in_flight`` and the body within ``max_body_size``, as for one image; at most
``max_sequence_frames`` sampled frames (413 before any is decoded); every frame within ``max_pixels`` (a clip's
size from its stream, before decoding); each frame's memory taken from ``max_decode_memory`` from its decoding to
its estimate, and a clip's decoder state besides while it decodes. Frames are decoded on the budget's threads, a
window ahead of the estimator, which takes them in batches; a client that goes away stops the work between two
frames (a frame being decoded ends on its own, its memory counted until then).
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from aiohttp import web

from .._checks import number, seconds, whole_number
from .._video import (
    INSTALL_VIDEO, VIDEO_SUFFIXES, FrameIndex, VideoUnavailableError, decode_chosen, every_seconds_positions,
    import_av, index_frames, no_frames_reason,
)
from ..sdk import ColorFormat, EstimationTargets, Rect, VLImage
from ._budget import Hold, RequestImage, framed
from ._errors import ApiError, ErrorCode
from ._estimating import FilePart, estimated, known_broker, parse_detect_area, parse_targets_query, read_file_parts
from ._request import read_body
from ._state import EXCHANGE, STATE, ServerState

# Frames decoded ahead of the estimator, and the most it is given at once: enough to keep both busy, few enough
# that one request does not hold the decode memory other requests wait for.
_AHEAD = 4
_BATCH = 4
# A clip's decoder state, besides the frames it hands out: H.264 keeps up to 16 reference frames and the one being
# decoded in YUV 4:2:0 (1.5 bytes a pixel; FFmpeg decodes on one thread here), and some room of its own.
_DECODER_FRAMES = 17
_DECODER_ROOM = 8 * 2**20
# A decoded frame: its RGB pixels, which the estimator reads in place.
_RGB_BYTES_PER_PIXEL = 3


@dataclass(frozen=True)
class _Sampling:
    """Which frames to estimate: every ``every``-th, or one per ``every_seconds``; ``fps``: images' rate."""

    every: int | None
    every_seconds: float | None
    fps: float | None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> _Sampling:
        every = _query_number(query, "every", int, lambda v: whole_number(v, "every", minimum=1, unit="frames"))
        every_seconds = _query_number(query, "every_seconds", float, lambda v: seconds(v, "every_seconds"))
        fps = _query_number(query, "fps", float, lambda v: number(v, "fps", minimum=1e-3, unit="frames a second"))
        if every is not None and every_seconds is not None:
            raise ApiError(400, ErrorCode.BAD_PARAMETER, "give every (frames) or every_seconds, not both")
        return cls(every, every_seconds, fps)

    def chosen(self, times: list[float] | None, frames: int) -> list[int]:
        """The frame numbers to estimate out of ``frames`` with these ``times`` (``None``: not known)."""
        if self.every_seconds is None:
            return list(range(0, frames, self.every or 1))
        if times is None:
            raise ApiError(
                400, ErrorCode.BAD_PARAMETER,
                "every_seconds needs the frames' times: give the images' rate too (fps=25), or sample with every=",
            )
        return every_seconds_positions(times, self.every_seconds)


def _query_number(query: Mapping[str, str], name: str, parse: Callable[[str], Any], check: Callable[[Any], Any]) -> Any:
    text = query.get(name)
    if text is None:
        return None
    try:
        value = parse(text)
    except ValueError:
        value = text  # the check refuses it in its own words
    try:
        return check(value)
    except ValueError as error:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, f"query parameter {error}") from None


@dataclass
class _Frame:
    """A sampled frame, decoded and ready for the estimator: ``hold`` is its memory, released once answered."""

    number: int
    time: float | None
    item: RequestImage
    hold: Hold


@dataclass(frozen=True)
class _Source:
    """Where the frames come from, as the answer reports it, and the frames themselves (decoded as iterated)."""

    kind: str
    frames: int
    fps: float | None
    chosen: int
    decoded: AsyncGenerator[_Frame, None]

    def report(self) -> dict[str, Any]:
        return {"kind": self.kind, "frames": self.frames, "fps": self.fps, "sampled": self.chosen}


async def estimate_sequence(request: web.Request) -> web.Response:
    """Count people in every sampled frame of the clip or the images of the body (see the module docstring).

    Answers ``{"frames": [{"frame", "time", **CountResult.asDict()}, ...], "estimator", "source": {"kind":
    "video"|"images", "frames", "fps", "sampled"}, "summary": {"frames", "mean_count", "mean_abs_change"},
    "request_id"}``.
    """
    state = request.app[STATE]
    broker = known_broker(state, request.match_info["broker"])
    targets = parse_targets_query(request.query.get("targets", "T1"))
    area = parse_detect_area(request.query.get("detect_area"))
    sampling = _Sampling.of(request.query)
    async with state.budget.admitted():
        source = await _source(request, state, sampling, area)
        frames = await _estimated_frames(request, state, broker, targets, source.decoded)
    counts = np.array([frame["count"] for frame in frames], dtype=float)
    return web.json_response({
        "frames": frames,
        "estimator": frames[0]["estimator"],
        "source": source.report(),
        "summary": {
            "frames": len(frames),
            "mean_count": float(counts.mean()),
            "mean_abs_change": float(np.abs(np.diff(counts)).mean()) if len(counts) > 1 else None,
        },
        "request_id": request[EXCHANGE].request_id,
    })


async def _source(request: web.Request, state: ServerState, sampling: _Sampling, area: Rect | None) -> _Source:
    """The body read and judged: a clip or images, their frames chosen and counted against the budgets."""
    if not request.content_type.startswith("multipart/"):
        return await _clip(await read_body(request, state), "the request body", state, sampling, area)
    files = await read_file_parts(request, state, first_only=False)
    if not files:
        raise ApiError(
            400, ErrorCode.BAD_IMAGE,
            "the multipart upload has no file part; send a clip (curl -F clip=@clip.mp4 ...) or the frames as "
            "image files in order (-F f0=@frame0.png -F f1=@frame1.png ...)",
        )
    videos = [part for part in files if _is_video(part)]
    if videos and len(files) > 1:
        raise ApiError(
            400, ErrorCode.BAD_PARAMETER,
            f"the upload has {len(files)} files, {len(videos)} of them video ({videos[0].filename!r}): send one clip, "
            "or only images (the frames in order)",
        )
    if videos:
        return await _clip(files[0].data, f"the clip {files[0].filename!r}", state, sampling, area)
    return _images(files, state, sampling, area)


def _is_video(part: FilePart) -> bool:
    """A ``video/*`` part, or one named as a video (``clip.mp4``) unless it says it is an image (a GIF frame)."""
    if part.content_type.startswith(("video/", "image/")):
        return part.content_type.startswith("video/")
    return PurePosixPath(part.filename).suffix.lower() in VIDEO_SUFFIXES


def _check_count(chosen: list[int], frames: int, state: ServerState) -> None:
    limit = state.max_sequence_frames
    if len(chosen) > limit:
        raise ApiError(
            413, ErrorCode.TOO_MANY_FRAMES,
            f"this sequence samples {len(chosen)} of its {frames} frames, over this server's limit of {limit} "
            f"(max_sequence_frames); sample fewer (every=N frames, every_seconds=T), send a shorter clip, or raise "
            "max_sequence_frames (--max-sequence-frames)",
        )


def _images(files: list[FilePart], state: ServerState, sampling: _Sampling, area: Rect | None) -> _Source:
    fps = sampling.fps
    times = None if fps is None else [position / fps for position in range(len(files))]
    chosen = sampling.chosen(times, len(files))
    _check_count(chosen, len(files), state)

    async def decoded() -> AsyncGenerator[_Frame, None]:
        for position in chosen:
            source = f"frame {position} ({files[position].filename!r})"
            item, hold = await state.budget.decoded(files[position].data, area, state.max_pixels, source)
            yield _Frame(position, None if times is None else times[position], item, hold)

    return _Source("images", len(files), fps, len(chosen), decoded())


async def _clip(data: bytes, name: str, state: ServerState, sampling: _Sampling, area: Rect | None) -> _Source:
    if sampling.fps is not None:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, "fps= is for a sequence of images: a clip has its own rate")
    try:
        av = import_av()
    except VideoUnavailableError:
        raise ApiError(
            501, ErrorCode.VIDEO_UNAVAILABLE,
            f"this server cannot read video: PyAV is not installed where it runs ({INSTALL_VIDEO} there), or send "
            "the frames as a multipart upload of images",
        ) from None
    index = await state.budget.off_loop(None, _index, av, data, name)
    chosen = sampling.chosen(index.times, index.frames)
    _check_count(chosen, index.frames, state)
    width, height = index.width, index.height
    if width * height > state.max_pixels:
        raise ApiError(
            413, ErrorCode.IMAGE_TOO_LARGE,
            f"{name}: its frames are {width}x{height} = {width * height} pixels, over this server's budget of "
            f"{state.max_pixels} pixels (max_pixels); send it downscaled (ffmpeg -vf scale=...)",
        )
    frame_bytes = _RGB_BYTES_PER_PIXEL * width * height
    decoder_bytes = _DECODER_ROOM + _DECODER_FRAMES * width * height * 3 // 2
    what = f"{name}: decoding its {width}x{height} {index.codec} frames"
    # A frame must fit beside the decoder, or it would wait for memory the request itself holds.
    state.budget.memory.check(decoder_bytes + frame_bytes, what)
    decoder = _ClipDecoder(av, data, name, index, chosen)

    async def decoded() -> AsyncGenerator[_Frame, None]:
        decoding = await state.budget.memory.take(decoder_bytes, what)
        loop = asyncio.get_running_loop()
        try:
            for _ in chosen:
                hold = await state.budget.memory.take(frame_bytes, what)
                try:
                    number, image = await state.budget.off_loop(hold, decoder.next)
                    item = framed(image, area)
                except BaseException:
                    hold.release()
                    raise
                yield _Frame(number, index.times[number], item, hold)
        finally:
            # The decoder's memory stays counted until a frame still being decoded is done and it is closed.
            decoder.close(lambda: _call_soon(loop, decoding.release))

    return _Source("video", index.frames, index.fps, len(chosen), decoded())


def _call_soon(loop: asyncio.AbstractEventLoop, function: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits for memory any more
        loop.call_soon_threadsafe(function)


def _index(av: Any, data: bytes, name: str) -> FrameIndex:
    """The clip's frames from its packets (decoding nothing); 400 for what is not a video with frames."""
    container = _open(av, data, name)
    try:
        index = index_frames(container)
    except av.error.FFmpegError as error:
        raise ApiError(400, ErrorCode.BAD_VIDEO, f"{name}: cannot read the video's packets ({error})") from None
    finally:
        container.close()
    if not index.frames:
        raise ApiError(400, ErrorCode.BAD_VIDEO, f"{name}: {no_frames_reason(index)}")
    return index


def _open(av: Any, data: bytes, name: str) -> Any:
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise ApiError(
            400, ErrorCode.BAD_VIDEO,
            f"{name} is not a video this server can read ({error}); send a clip (MP4, WebM, MKV, AVI, GIF, ...) or "
            "the frames as a multipart upload of images",
        ) from None
    if not container.streams.video:
        streams = len(container.streams)
        container.close()
        raise ApiError(400, ErrorCode.BAD_VIDEO, f"{name} holds no video stream (only {streams} other stream(s))")
    return container


class _ClipDecoder:
    """One forward pass over a clip's chosen frames, one frame a call, from whichever decoding thread runs it.

    ``close`` may come while a frame is being decoded (its client went away): the decoding thread then closes the
    container when that frame is done; one of the two always does.
    """

    def __init__(self, av: Any, data: bytes, name: str, index: FrameIndex, chosen: list[int]) -> None:
        self._av, self._data, self._name, self._index, self._chosen = av, data, name, index, chosen
        self._lock = threading.Lock()
        self._container: Any = None
        self._frames: Iterator[tuple[int, np.ndarray]] | None = None
        self._closing = False
        self._on_closed: Callable[[], None] | None = None

    def next(self) -> tuple[int, VLImage]:
        """The next chosen frame's number and image; 400 when it does not decode."""
        try:
            with self._lock:
                if self._closing:
                    raise ApiError(400, ErrorCode.BAD_VIDEO, f"{self._name}: the decoding was stopped")
                if self._frames is None:
                    self._container = _open(self._av, self._data, self._name)
                    self._container.streams.video[0].thread_count = 1  # the budget's thread is the unit of work
                    self._frames = decode_chosen(self._container, self._index, self._chosen)
                try:
                    number, pixels = next(self._frames)
                except (self._av.error.FFmpegError, ValueError, StopIteration) as error:
                    reason = "the stream ended" if isinstance(error, StopIteration) else str(error)
                    raise ApiError(400, ErrorCode.BAD_VIDEO, f"{self._name}: cannot decode its frames ({reason})") from None
        finally:
            self._close_if_asked()
        return number, VLImage.fromNumpyArray(pixels, ColorFormat.R8G8B8, filename=f"{self._name}#frame={number}")

    def close(self, on_closed: Callable[[], None]) -> None:
        """Close the container now, or after the frame being decoded; then call ``on_closed`` (once)."""
        self._on_closed = on_closed
        self._closing = True
        self._close_if_asked()

    def _close_if_asked(self) -> None:
        if self._closing and self._lock.acquire(blocking=False):
            try:
                if self._container is not None:
                    self._container.close()
                self._container, self._frames = None, None
                on_closed, self._on_closed = self._on_closed, None
            finally:
                self._lock.release()
            if on_closed is not None:
                on_closed()


async def _estimated_frames(
    request: web.Request, state: ServerState, broker: str, targets: EstimationTargets,
    decoded: AsyncGenerator[_Frame, None],
) -> list[dict[str, Any]]:
    """Each frame's ``{"frame", "time", **asDict()}``: frames decoded ``_AHEAD`` of the estimator, which takes up
    to ``_BATCH`` of those ready at once. Every frame's memory is given back, whatever ends the request."""
    ready: asyncio.Queue[_Frame | Exception | None] = asyncio.Queue(_AHEAD)

    async def decode() -> None:
        try:
            async for frame in decoded:
                try:
                    await ready.put(frame)
                except BaseException:
                    frame.hold.release()
                    raise
            await ready.put(None)
        except Exception as error:  # answered by the estimating side, which stops at it
            await ready.put(error)
        finally:
            await decoded.aclose()

    decoding = asyncio.ensure_future(decode())
    answers: list[dict[str, Any]] = []
    batch: list[_Frame] = []
    try:
        finished = False
        while not finished:
            entries = [await ready.get()]
            while len(entries) < _BATCH and not ready.empty():
                entries.append(ready.get_nowait())
            for entry in entries:
                if isinstance(entry, Exception):
                    raise entry
                if entry is None:
                    finished = True
                else:
                    batch.append(entry)
            if batch:
                results = await estimated(request, state, broker, [frame.item for frame in batch], targets)
                answers += [{"frame": frame.number, "time": frame.time, **result} for frame, result in zip(batch, results)]
                _release(batch)
    finally:
        _release(batch)
        decoding.cancel()
        await asyncio.gather(decoding, return_exceptions=True)
        while not ready.empty():
            entry = ready.get_nowait()
            if isinstance(entry, _Frame):
                entry.hold.release()
    return answers


def _release(frames: list[_Frame]) -> None:
    for frame in frames:
        frame.hold.release()
    frames.clear()
