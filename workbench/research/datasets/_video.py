"""Video files as datasets: frames sampled every N frames or every T seconds, decoded lazily with PyAV.

``load_video`` opens the file once to list its frames by demuxing (reading packets, decoding nothing): every
frame's presentation timestamp and which frames are keyframes. A sample is one chosen frame; ``sample.image``
decodes it on access. The frames of one file are decoded by one decoder, in order, under a lock: a run asks for
them in order, so each frame is decoded once, and a jump forward past a keyframe seeks to it instead of decoding
what lies between. Frames that no other frame is decoded from (non-reference frames: most B-frames) are not
decoded at all unless they are sampled (``VideoFile.want``). At most the last decoded frame is kept, so memory
does not grow with the video's length.

Per-frame head points come from a sidecar JSON file (``clip.points.json`` beside ``clip.mp4``, or
``annotations=``)::

    {"video": "clip.mp4", "frames": {"0": [[x, y], ...], "25": [[x, y], ...]}}

keyed by frame number (0-based, in presentation order, as ``Sample.frame`` numbers them); a frame not listed
is unannotated. Points are placed with the same rules as an image's (stray points, ``stray_points=``).

PyAV (the ``video`` extra: ``pip install 'workbench[video]'``) is imported only when a video is opened.
"""
from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import math
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._video import (
    VIDEO_SUFFIXES, VideoUnavailableError, decode_stream, every_seconds_positions, import_av, index_frames,
    no_frames_reason,
)
from workbench._video import stamp as _stamp  # a local name: `stamp` is a variable in the decoder's loops

from ._core import Dataset, Sample, _points_array, _read_json
from ._errors import DatasetError, DatasetWarning, some
from ._frames import ImageGeometry
from ._placing import Placement, PointRules

if TYPE_CHECKING:
    from workbench.sdk import VLImage

__all__ = [
    "VIDEO_SUFFIXES", "VideoFile", "VideoFrame", "check_every", "load_video", "pick_every_seconds", "sidecar_path",
]

#: The sidecar annotation file of ``clip.mp4``: ``clip.points.json``.
SIDECAR_SUFFIX = ".points.json"
#: The check's decoder skips the deblocking filter: whether a frame decodes does not depend on it.
_CHECK_OPTIONS = {"skip_loop_filter": "all"}
#: Flagged keyframes a seek tries, the latest first, before it decodes from the start of the file.
_SEEK_TRIES = 3


def _import_av() -> Any:
    try:
        return import_av()
    except VideoUnavailableError as error:
        raise DatasetError(f"{error} (or `make lab`, which installs it)") from None


def check_every(every: int | None) -> int:
    """The frame step ``every=`` asks for (``None``: 1), refused unless a whole number from 1."""
    step = 1 if every is None else every
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise DatasetError(f"every={every!r}: must be a whole number of frames, 1 or more")
    return step


def pick_every_seconds(times: list[float], seconds: float) -> list[int]:
    """Positions in ``times`` (seconds, ascending) of the first frame at or after each multiple of ``seconds``."""
    if isinstance(seconds, bool) or not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise DatasetError(f"every_seconds={seconds!r}: must be a number of seconds above 0")
    return every_seconds_positions(times, seconds)


def sidecar_path(video: Path) -> Path:
    """Where ``video``'s per-frame annotations are looked for: ``clip.points.json`` beside ``clip.mp4``."""
    return video.with_name(video.stem + SIDECAR_SUFFIX)


class VideoFile:
    """One video file's first video stream: its frames' timestamps (from demuxing) and a shared ordered decoder.

    ``frames`` is the number of frames, ``times[i]`` frame ``i``'s time in seconds from the first frame,
    ``fps`` the stream's average frame rate (``None`` when the file does not say), ``size`` ``(width, height)``.
    """

    def __init__(self, path: str | Path, *, max_pixels: int | None = None) -> None:
        from workbench.images import ImageTooLargeError, check_pixel_count

        av = _import_av()
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: no such video file")
        container = self._open(av)
        try:
            stream = container.streams.video[0]
            self.width, self.height = int(stream.codec_context.width), int(stream.codec_context.height)
            try:
                check_pixel_count(self.width, self.height, f"{self.path}: its frames are", max_pixels)
            except ImageTooLargeError as error:
                raise DatasetError(f"{error} (ffmpeg -vf scale=... downscales a video)") from None
            index = index_frames(container)
        except av.error.FFmpegError as error:
            raise DatasetError(f"{self.path}: cannot read the video's packets ({error}); is the file complete?") from None
        finally:
            container.close()
        if not index.pts:
            raise DatasetError(f"{self.path}: {no_frames_reason(index, self.path.name)}")
        self.fps: float | None = index.fps
        self._time_base = index.time_base
        self.pts, self._keyframes, self.times = index.pts, list(index.keyframes), index.times
        self._lock = threading.Lock()
        self._wanted: frozenset[int] | None = None  # pts of the frames that will be asked for; None: all
        self._reader, self._checker = _Decoder(self), _Decoder(self, _CHECK_OPTIONS)
        self._last: tuple[int, np.ndarray] | None = None
        self._digest: str | None = None
        #: Frames the decoders have given so far, sampled or not: what reading this file has cost.
        self.decoded_frames = 0

    def _open(self, av: Any) -> Any:
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as error:
            raise DatasetError(f"{self.path}: not a readable video file ({error})") from None
        if not container.streams.video:
            container.close()
            raise DatasetError(f"{self.path}: holds no video stream (only {len(container.streams)} other stream(s))")
        return container

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def digest(self) -> str:
        """SHA-256 of the file's bytes, computed once."""
        if self._digest is None:
            digest = hashlib.sha256()
            with self.path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            self._digest = digest.hexdigest()
        return self._digest

    def select(self, every: int | None = None, every_seconds: float | None = None) -> list[int]:
        """The frame numbers to sample: every ``every``-th frame, or the first frame at or after each multiple of
        ``every_seconds``; every frame when neither is given."""
        if every is not None and every_seconds is not None:
            raise DatasetError("pass every= (frames) or every_seconds=, not both")
        if every_seconds is not None:
            return pick_every_seconds(self.times, every_seconds)
        return list(range(0, self.frames, check_every(every)))

    def want(self, frames: Iterable[int]) -> None:
        """Say which frames will be asked for (``load_video`` says its samples). The decoder then skips the frames
        that no other frame is decoded from (FFmpeg's non-reference frames: most B-frames) unless they are wanted,
        which leaves every other frame's pixels as they are. A frame asked for that was not wanted is decoded all
        the same (from its keyframe again, where the decoder had skipped it)."""
        wanted = frozenset(self.pts[index] for index in frames)
        with self._lock:
            self._wanted = wanted

    def pixels(self, index: int) -> np.ndarray:
        """Frame ``index`` as an (H, W, 3) uint8 RGB array."""
        target = self.pts[index]
        with self._lock:
            if self._last is not None and self._last[0] == target:
                return self._last[1]
            frame = self._decoded(self._reader, index)
            # Converted under the lock: converted outside it, a second caller's later frame could be decoded
            # first, and this caller's next frame would then lie behind the decoder and cost a seek back.
            pixels = frame.to_ndarray(format="rgb24")
            pixels.flags.writeable = False
            self._last = (target, pixels)
        return pixels

    def image(self, index: int) -> VLImage:
        """Frame ``index`` as a ``VLImage``, named ``clip.mp4#frame=N`` in messages."""
        from workbench.sdk import ColorFormat, VLImage

        return VLImage.fromNumpyArray(self.pixels(index), ColorFormat.R8G8B8, filename=f"{self.path}#frame={index}")

    def check(self, index: int) -> None:
        """Decode frame ``index`` only to know that it decodes (``ImageDecodeError`` when it does not), as
        ``compare`` checks a dataset before a run: by a decoder of its own, which makes no RGB pixels and skips
        the deblocking filter (what cannot be decoded fails in the bitstream, before the filter), at about half
        the cost; the run's decoder stays where it stands."""
        with self._lock:
            self._decoded(self._checker, index)

    def close(self) -> None:
        with self._lock:
            self._reader.close()
            self._checker.close()
            self._last = None

    def _decoded(self, decoder: _Decoder, index: int) -> Any:
        """Frame ``index`` from ``decoder``; ``ImageDecodeError`` naming it when it cannot be decoded."""
        av = _import_av()
        target = self.pts[index]
        try:
            frame = decoder.decode_to(av, target)
        except av.error.FFmpegError as error:
            decoder.close()
            raise self._failure(index, str(error)) from None
        if frame is None or _stamp(frame) != target:
            decoder.close()
            found = "the stream ended before it" if frame is None else f"the decoder gave pts {_stamp(frame)} next"
            raise self._failure(index, f"frame at pts {target} was not decoded ({found})")
        return frame

    def _failure(self, index: int, reason: str) -> Exception:
        from workbench.images import ImageDecodeError

        return ImageDecodeError(f"{self.path}#frame={index}: cannot decode the frame ({reason})")

    def _keyframe_between(self, after: int, upto: int) -> bool:
        """Whether a keyframe lies in (after, upto]: seeking there decodes less than going on from ``after``."""
        position = bisect.bisect_right(self._keyframes, after)
        return position < len(self._keyframes) and self._keyframes[position] <= upto

    def _keyframes_up_to(self, target: int) -> list[int]:
        """The flagged keyframes at or before ``target``, the latest first."""
        return self._keyframes[:bisect.bisect_right(self._keyframes, target)][::-1]

    def _not_a_keyframe(self, stamp: int) -> None:
        """Forget a flagged keyframe the decoder could not start at, so that it is neither sought nor skipped to."""
        position = bisect.bisect_left(self._keyframes, stamp)
        if position < len(self._keyframes) and self._keyframes[position] == stamp:
            del self._keyframes[position]

    def __getstate__(self) -> dict[str, Any]:
        # The decoders and the lock stay behind; a copy reopens the file when a frame is asked of it.
        state = dict(self.__dict__)
        state.update(_lock=None, _reader=None, _checker=None, _last=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._reader, self._checker = _Decoder(self), _Decoder(self, _CHECK_OPTIONS)

    def __repr__(self) -> str:
        rate = "unknown rate" if self.fps is None else f"{self.fps:g} fps"
        return f"VideoFile({str(self.path)!r}, {self.width}x{self.height}, {self.frames} frames, {rate})"


class _Decoder:
    """One forward decoder over a ``VideoFile``'s stream (opened on first use, closed after a failure): where it
    stands, and how it gets to a frame. ``options`` are FFmpeg's decoder options."""

    def __init__(self, video: VideoFile, options: dict[str, str] | None = None) -> None:
        self.video = video
        self.options = dict(options or {})
        self.container: Any = None
        self.frames: Iterator[Any] | None = None
        self.cursor: int | None = None  # pts of the last frame it gave; None: it stands at the start
        self.target: int | None = None  # pts of the frame being decoded to: never skipped

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
        self.container, self.frames, self.cursor = None, None, None

    def decode_to(self, av: Any, target: int) -> Any:
        """Decode forward to the frame at ``target``; seek when it lies behind, or past a keyframe ahead (from a
        new decoder too: after a frame that could not be decoded, the next one starts from its own keyframe, not
        from the start of the file and through the bad frame again)."""
        video = self.video
        self.target = target
        if self.container is None:
            self._open(av)
        behind = self.cursor is not None and target <= self.cursor
        if behind or video._keyframe_between(video.pts[0] if self.cursor is None else self.cursor, target):
            self._seek(av, target)
        frame = self._next_frame(target)
        if frame is not None and _stamp(frame) != target and video._wanted is not None:
            # The frame's packet may have reached the decoder (which reads ahead) while the frame was not wanted,
            # and been skipped: decoded again from its keyframe, now that it is the target.
            self._seek(av, target)
            frame = self._next_frame(target)
        if frame is None or _stamp(frame) != target:
            # Last, from the start of the file: a container's index or its seeking can be wrong where its frames
            # are not (an MPEG program stream seeks by bytes); only a frame that does not decode from there fails.
            self._open(av)
            frame = self._next_frame(target)
        self.cursor = None if frame is None else _stamp(frame)
        return frame

    def _open(self, av: Any) -> None:
        self.close()
        self.container = self.video._open(av)
        stream = self.container.streams.video[0]
        # Slice threads only: frame threads cost about a quarter more CPU per frame (1080p H.264 here: 2.7
        # against 2.2 ms), paid by the estimator beside it; the read-ahead already decodes beside the
        # estimator, and a stream coded in slices still decodes them in parallel.
        stream.thread_type = "SLICE"
        if self.options:
            stream.codec_context.options = dict(self.options)
        self.frames = self._decode_packets()

    def _seek(self, av: Any, target: int) -> None:
        """Put the decoder at a keyframe at or before ``target``: the latest the container flags that the decoder
        can start at (``_SEEK_TRIES`` tried, each that fails never tried again), else the start of the file."""
        stream = self.container.streams.video[0]
        for anchor in self.video._keyframes_up_to(target)[:_SEEK_TRIES]:
            self.container.seek(anchor, stream=stream, backward=True, any_frame=False)
            self.frames = self._decode_packets()
            if self._starts_cleanly_at(anchor):
                return
            # Containers flag frames as keyframes that are none (MPEG-4 Part 2 in AVI, MPEG program streams).
            self.video._not_a_keyframe(anchor)
        self._open(av)

    def _starts_cleanly_at(self, anchor: int) -> bool:
        """Whether the decoder, just sought to ``anchor``, gives a key frame by then and the frame at ``anchor``
        itself (not a later one: a decoder that cannot start there drops frames up to the next key frame, or
        shows a damaged one). The frame at ``anchor`` is put back for ``_next_frame``."""
        assert self.frames is not None
        keyed = False
        for frame in self.frames:
            keyed = keyed or bool(frame.key_frame)
            stamp = _stamp(frame)
            if stamp is not None and stamp >= anchor:
                self.frames = itertools.chain([frame], self.frames)
                return keyed and stamp == anchor
        return False

    def _next_frame(self, target: int) -> Any:
        """The decoder's next frame at or after ``target`` (``None`` at the end of the stream)."""
        assert self.frames is not None
        for frame in self.frames:
            stamp = _stamp(frame)
            if stamp is None or stamp < target:
                continue
            return frame
        return None

    def _decode_packets(self) -> Iterator[Any]:
        """The decoder's frames from where the container stands, each packet's frame decoded unless it is not
        wanted and no other frame is decoded from it (``skip_frame``, set packet by packet)."""
        def needed(at: int | None) -> bool:
            wanted = self.video._wanted
            return wanted is None or at is None or at == self.target or at in wanted

        for frame in decode_stream(self.container, needed):
            self.video.decoded_frames += 1
            yield frame


@dataclass(frozen=True, eq=False, repr=False)
class VideoFrame(Sample):
    """One sampled frame of a video: ``image_path`` is the video file, ``frame`` its number, ``time`` seconds."""

    video: VideoFile | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        assert self.video is not None
        return self.video.size

    @property
    def image(self) -> VLImage:
        assert self.video is not None and self.frame is not None
        return self.video.image(self.frame)

    def check(self) -> None:
        """Decode the frame only to know that it decodes (``VideoFile.check``): ``ImageDecodeError`` if not."""
        assert self.video is not None and self.frame is not None
        self.video.check(self.frame)

    def content_digest(self) -> str:
        assert self.video is not None and self.frame is not None
        return f"{self.video.digest()}#pts={self.video.pts[self.frame]}"

    def encoded(self) -> tuple[str, bytes]:
        from PIL import Image

        assert self.video is not None and self.frame is not None
        buffer = io.BytesIO()
        # BMP: lossless and next to free to write; the frame crosses to another process once.
        Image.fromarray(self.video.pixels(self.frame)).save(buffer, format="BMP")
        return f"{self.name}.bmp", buffer.getvalue()


def load_video(
    path: str | Path,
    *,
    every: int | None = None,
    every_seconds: float | None = None,
    annotations: str | Path | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """A video file as a dataset of its frames (every frame, every ``every``-th, or one per ``every_seconds``).

    Samples are named ``clip_f000120`` (frame 120), carry ``frame`` and ``time``, and decode lazily. Head points
    come from ``annotations`` or the sidecar ``clip.points.json`` when it exists (see the module docstring).
    """
    video = VideoFile(path)
    chosen = video.select(every, every_seconds)
    video.want(chosen)
    sidecar = Path(annotations) if annotations is not None else sidecar_path(video.path)
    if annotations is not None and not sidecar.is_file():
        raise DatasetError(f"{sidecar}: no such annotation file")
    points = _read_sidecar(sidecar, video, stray_points) if sidecar.is_file() else {}
    digits = max(6, len(str(video.frames - 1)))
    samples = [
        VideoFrame(f"{video.path.stem}_f{index:0{digits}d}", video.path, points.get(index),
                   sidecar if index in points else None, frame=index, time=video.times[index], video=video)
        for index in chosen
    ]
    if points:
        _warn_unannotated([s for s in samples if s.points is None], sidecar)
    name = video.path.name if every is None and every_seconds is None else (
        f"{video.path.name}[every {every} frames]" if every is not None else f"{video.path.name}[every {every_seconds:g} s]"
    )
    return Dataset(samples, name=name, root=video.path.parent, format="video", fps=video.fps)


def _warn_unannotated(unannotated: list[Any], sidecar: Path) -> None:
    if unannotated:
        warnings.warn(
            f"{sidecar}: {len(unannotated)} sampled frame(s) have no points and are kept unannotated (compare "
            f"leaves them out of the errors): {some([s.name for s in unannotated])}",
            DatasetWarning,
            stacklevel=3,
        )


def _read_sidecar(path: Path, video: VideoFile, stray_points: str) -> dict[int, np.ndarray]:
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), dict):
        raise DatasetError(
            f'{path}: expected {{"video": "{video.path.name}", "frames": {{"0": [[x, y], ...], ...}}}} with a '
            '"frames" object keyed by frame number'
        )
    named = data.get("video")
    if named is not None and Path(str(named)).name != video.path.name:
        raise DatasetError(f'{path}: its "video" field names {named!r}, not {video.path.name!r}; is it another clip\'s?')
    placement = Placement(PointRules("video", "stored", None, stray_points))
    geometry = ImageGeometry(video.width, video.height, 1)
    points: dict[int, np.ndarray] = {}
    for key, value in data["frames"].items():
        try:
            index = int(key)
        except ValueError:
            raise DatasetError(f'{path}: frame key {key!r} is not a frame number ("0", "25", ...)') from None
        if not 0 <= index < video.frames:
            raise DatasetError(
                f"{path}: frame {index} is annotated but {video.path.name} has frames 0 to {video.frames - 1}"
            )
        where = path.with_name(f"{path.name}#frame={index}")
        placed, _ = placement.place(_points_array(value, where), None, where, video.path, geometry=geometry)
        points[index] = placed
    placement.finish()
    return points

