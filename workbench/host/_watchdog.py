"""A watchdog thread that notices when synchronous plugin code blocks the host's event loop, and names it.

Every few tenths of a second it asks the loop to answer; when no answer comes within ``threshold``, it reads
the loop thread's current stack and names the innermost frame in the plugins folder (the plugin's module and
function). Sampling the stack costs nothing while the loop is healthy, unlike timing every plugin call.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from .._checks import seconds

if TYPE_CHECKING:
    from ._loop import LoopThread

# Stalls kept for ``wb.loop_stalls`` and ``/health``.
_KEPT_STALLS = 20


@dataclass(frozen=True)
class LoopStall:
    """Plugin code (``where``: module, function and line) held the host's loop for ``seconds`` at ``when``."""

    where: str
    seconds: float
    when: float

    def as_dict(self) -> dict[str, object]:
        return {"where": self.where, "seconds": round(self.seconds, 3), "when": self.when}


class LoopWatchdog:
    """Watches one host loop from its own daemon thread; ``stalls`` lists what blocked it (newest last)."""

    def __init__(self, threshold: float, plugins_dir: Path, logger: logging.Logger) -> None:
        self.threshold = seconds(threshold, "watchdog_threshold")
        self._plugins_dir = str(plugins_dir)
        self._logger = logger
        self._stalls: deque[LoopStall] = deque(maxlen=_KEPT_STALLS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stalls(self) -> list[LoopStall]:
        return list(self._stalls)

    def watch(self, loop_thread: "LoopThread") -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(loop_thread,), name="workbench-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, loop_thread: "LoopThread") -> None:
        answered = threading.Event()
        while not self._stop.wait(self.threshold / 2):
            try:
                loop = loop_thread.loop
                answered.clear()
                loop.call_soon_threadsafe(answered.set)
            except RuntimeError:  # the loop is closed or its thread ended: nothing left to watch
                return
            if answered.wait(self.threshold):
                continue
            blocked_since = time.monotonic() - self.threshold
            where = self._culprit(loop_thread)
            self._logger.warning(
                "plugin code has blocked the host's event loop for over %g s: %s; every route, estimate and "
                "background plugin waits. Make it async or move the blocking work off the loop (asyncio.to_thread)",
                self.threshold, where,
            )
            answered.wait()  # recorded once per stall, with its full length
            self._stalls.append(LoopStall(where=where, seconds=time.monotonic() - blocked_since, when=time.time()))

    def _culprit(self, loop_thread: "LoopThread") -> str:
        """The innermost plugin-folder frame of the loop thread's stack, as ``module.function (file:line)``."""
        ident = loop_thread.thread_ident
        frame: FrameType | None = sys._current_frames().get(ident) if ident is not None else None
        innermost_outside = None
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith(self._plugins_dir):
                module = frame.f_globals.get("__name__", "?")
                return f"plugin module {module}, {frame.f_code.co_name}() ({filename}:{frame.f_lineno})"
            if innermost_outside is None:
                innermost_outside = f"{frame.f_code.co_name}() ({filename}:{frame.f_lineno})"
            frame = frame.f_back
        return f"code outside the plugins folder: {innermost_outside or 'unknown'}"
