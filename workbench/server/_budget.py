"""What an estimate request may take of the server: a place among ``max_in_flight``, and the memory its image
holds out of ``max_decode_memory``, judged from the image's header before anything is decoded.

Without it, a 2.5 KB WebP claiming 8000x7900 pixels took the server to gigabytes, eighty concurrent uploads
queued for a minute and then timed out, and a JPEG with thousands of scans held the event loop for seconds:

* a request over ``max_in_flight`` estimate requests (reading, decoding, waiting for or in the estimator) is
  answered 503 with ``Retry-After`` at once, before its body is read;
* an image's decoding cost is read from its header (``check_pixel_budget``: pixels, a JPEG's scans, the peak
  memory for its format and mode); one whose decoding alone would take more than ``max_decode_memory`` is
  answered 413; others wait, first come first served, until their memory is free, and hold it until their
  answer is sent (the decoded image lives that long);
* decoding runs on the budget's own threads (one fewer than the usable CPUs, at least one: a core stays with
  the event loop, which answers /health and the small requests meanwhile), not on the event loop (unless it is
  trivial: a header on a small body, a small image) and not in the loop's default executor, where plugins'
  ``asyncio.to_thread`` work would wait behind it. A request whose client goes away stops waiting at once;
  a decoding already running ends on its own (the scan limit bounds it) and keeps its memory counted until then.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from .._system import usable_cpus
from ..images import DecodeCost, ImageDecodeError, ImageTooLargeError, check_pixel_budget, image_size, pixel_bounds
from ..sdk import ImageForPeopleEstimation, Rect, VLImage
from ._errors import ApiError, ErrorCode

# Estimate requests handled at once; the next one waits for none of them: it is answered 503 at once.
DEFAULT_MAX_IN_FLIGHT = 32
# Memory the images of estimate requests may hold at once, decoding included, unless max_pixels asks for more:
# an RGB PNG of max_pixels fits (12 bytes a pixel, 64 Mpx at the default max_pixels); a 64 Mpx RGBA image
# (alpha composited over white takes 28 bytes a pixel) does not. Bodies still being read are bounded by
# max_in_flight x max_body_size besides.
DEFAULT_MAX_DECODE_MEMORY = 768 * 2**20
# What an RGB PNG takes (check_pixel_budget's model): 12 bytes a pixel, and room for the decoder and the body.
_RGB_PNG_BYTES_PER_PIXEL = 12
_RGB_PNG_ROOM = 16 * 2**20
# Frames one sequence request may have estimated (sampled out of its clip or images).
DEFAULT_MAX_SEQUENCE_FRAMES = 300
# Seconds a client told 503 is asked to wait before it tries again.
RETRY_AFTER_S = 1
# Bodies up to this size have their header read on the loop (microseconds); a larger JPEG's scans are counted in
# a thread (a 20 MiB body takes about 17 ms).
_INLINE_HEADER_MAX = 64 * 1024
# Images up to this many pixel passes (pixels times scans) are decoded on the loop: about a millisecond, where
# the round trip to a thread adds half of one. Anything larger (a 1080p photo takes milliseconds, a small PNG
# of 60 Mpx a second) would stall every other request and background plugin on the loop.
_INLINE_PIXEL_PASSES = 200_000

T = TypeVar("T")
RequestImage = VLImage | ImageForPeopleEstimation


def decode_memory_budget(max_decode_memory: int | None, max_pixels: int) -> int:
    """``max_decode_memory`` when given; else ``DEFAULT_MAX_DECODE_MEMORY``, or what an RGB PNG of ``max_pixels``
    takes when that is more (a server told to take bigger images has the memory to decode them)."""
    if max_decode_memory is not None:
        return max_decode_memory
    return max(DEFAULT_MAX_DECODE_MEMORY, _RGB_PNG_BYTES_PER_PIXEL * max_pixels + _RGB_PNG_ROOM)


class RequestBudget:
    """One application's limits on its estimate requests, and the threads that decode their images."""

    def __init__(self, max_in_flight: int, max_decode_memory: int) -> None:
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.memory = _Memory(max_decode_memory)
        self._decoders = max(1, usable_cpus() - 1)
        self._executor: ThreadPoolExecutor | None = None

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """A place among the requests in flight for the block; 503 with ``Retry-After`` when there is none."""
        if self.in_flight >= self.max_in_flight:
            raise ApiError(
                503, ErrorCode.OVERLOADED,
                f"this server is already handling {self.max_in_flight} estimate requests (max_in_flight); "
                f"retry in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    @contextlib.asynccontextmanager
    async def image(self, data: bytes, area: Rect | None, max_pixels: int) -> AsyncIterator[RequestImage]:
        """The body's image (with its detect area), decoded once its memory is free; held while the block runs.

        Raises ``ApiError``: 413 over ``max_pixels``, ``MAX_JPEG_SCANS`` or ``max_decode_memory``; 400 for data
        that is not an image or an area outside it.
        """
        item, hold = await self.decoded(data, area, max_pixels, "request body")
        try:
            yield item
        finally:
            hold.release()

    async def decoded(self, data: bytes, area: Rect | None, max_pixels: int, source: str) -> tuple[RequestImage, Hold]:
        """``image()``'s decoding without the block: the image and the memory it holds, which the caller releases
        (``hold.release()``) once the image is answered. ``source`` names the image in messages."""
        if len(data) <= _INLINE_HEADER_MAX:
            cost = _cost(data, max_pixels, source)
        else:
            cost = await self.off_loop(None, _cost, data, max_pixels, source)
        if cost is None:
            hold = await self.memory.take(len(data), f"{source}: holding it")
        else:
            hold = await self.memory.take(
                cost.peak_bytes, f"{source}: decoding this {cost.width}x{cost.height} {cost.format} image ({cost.mode})"
            )
        try:
            if cost is not None and cost.pixel_passes <= _INLINE_PIXEL_PASSES:
                item = _decode(data, area, source)
            else:
                item = await self.off_loop(hold, _decode, data, area, source)
        except BaseException:
            hold.release()
            raise
        return item, hold

    async def off_loop(self, hold: Hold | None, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` on a decoding thread; should the caller be cancelled while it runs, ``hold`` is
        released only when it ends (the memory stays taken until then)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._decoders, thread_name_prefix="workbench-decode")
        future = self._executor.submit(function, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if hold is not None and not future.done():
                hold.release_after(future, asyncio.get_running_loop())
            raise

    def close(self) -> None:
        """Drop the decodings not started; those running end on their own (bounded by the header's limits)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class _Memory:
    """Bytes handed out first come, first served: a request waits while those before it do not fit."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    def check(self, size: int, what: str) -> None:
        """413 when ``size`` bytes could never be had: ``what`` (``"request body: decoding this ..."``) names them."""
        if size > self.total:
            raise ApiError(
                413, ErrorCode.IMAGE_TOO_LARGE,
                f"{what} takes about {_mib(size)}, over this server's decode memory of {_mib(self.total)} "
                "(max_decode_memory); send it smaller, or raise max_decode_memory (--max-decode-memory) if you "
                "trust its senders",
            )

    async def take(self, size: int, what: str) -> Hold:
        """``size`` bytes once those before them are served and they fit; 413 (``check``) when they never can."""
        self.check(size, what)
        if not self._waiting and size <= self.free:
            self.free -= size
            return Hold(self, size)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, turn)
        self._waiting.append(entry)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.give_back(size)  # granted as the caller was cancelled
            else:
                self._waiting.remove(entry)
                self._grant()  # those behind it may fit now
            raise
        return Hold(self, size)

    def give_back(self, size: int) -> None:
        self.free += size
        self._grant()

    def _grant(self) -> None:
        while self._waiting and self._waiting[0][0] <= self.free:
            size, turn = self._waiting.popleft()
            self.free -= size
            turn.set_result(None)


class Hold:
    """Memory taken for one request, given back once."""

    def __init__(self, memory: _Memory, size: int) -> None:
        self._memory = memory
        self._size = size
        self._deferred = False

    def release(self) -> None:
        if not self._deferred and self._size:
            self._memory.give_back(self._size)
            self._size = 0

    def release_after(self, future: Future[Any], loop: asyncio.AbstractEventLoop) -> None:
        """Give the memory back when ``future`` (a decoding the caller no longer waits for) ends, on ``loop``."""
        self._deferred = True

        def ended(_: Future[Any]) -> None:
            self._deferred = False
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits for memory any more
                loop.call_soon_threadsafe(self.release)

        future.add_done_callback(ended)


def _cost(data: bytes, max_pixels: int, source: str) -> DecodeCost | None:
    try:
        return check_pixel_budget(data, source, max_pixels)
    except ImageTooLargeError as error:
        raise ApiError(413, ErrorCode.IMAGE_TOO_LARGE, str(error)) from None


def _decode(data: bytes, area: Rect | None, source: str) -> RequestImage:
    try:
        # The header was checked by _cost: VLImage decodes, as load_image does after its own check.
        image = VLImage(data, filename=source)
    except ImageDecodeError as error:
        raise ApiError(400, ErrorCode.BAD_IMAGE, str(error)) from None
    return framed(image, area)


def framed(image: VLImage, area: Rect | None) -> RequestImage:
    """``image`` with the request's detect area (400 when it lies outside the image), or alone without one."""
    if area is None:
        return image
    try:
        pixel_bounds(area, *image_size(image), "detectArea")
    except ValueError as error:
        raise ApiError(400, ErrorCode.BAD_PARAMETER, f"query parameter detect_area: {error}") from None
    return ImageForPeopleEstimation(image, area)


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"
