"""The host's own event loop, running in a thread it owns, and the deadlines put on plugin code there.

Why a thread and not nest-asyncio: a Jupyter kernel already runs an event loop in the main thread, so a
synchronous ``wb.estimate(...)`` cannot run the loop again there without patching asyncio (nest-asyncio,
archived upstream, changes the semantics of every loop in the process). A loop in its own thread serves
sync callers (block on a concurrent future), async callers on any other loop (await a wrapped future) and
keeps background plugin tasks and the embedded server running between and during cells.

Plugin code runs on this loop and may raise anything, ``SystemExit`` and ``KeyboardInterrupt`` included
(asyncio lets those two out of ``run_forever``). The thread therefore runs the loop again after such an
escape, every coroutine handed to it turns them into ``PluginAbort`` (an ``Exception``) so they never reach
the caller as an exit, and should the thread end anyway, every waiting call fails at once with
``HostLoopDead`` instead of blocking.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Coroutine, TypeVar

from .._checks import seconds

T = TypeVar("T")

logger = logging.getLogger("workbench.host")

# What plugin code may raise that the host treats as that plugin's failure: everything but cancellation.
PLUGIN_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit, KeyboardInterrupt)

# Tasks whose cancellation did not end them: held here so they are not garbage-collected mid-run.
_ABANDONED: set[asyncio.Future[Any]] = set()


@dataclass(frozen=True)
class Deadlines:
    """Seconds the host waits for plugin code: ``start`` (initialize/start, building estimators),
    ``estimate`` (one estimate call), ``close`` (closing a plugin or estimator, draining a swapped-out pool)."""

    start: float = 60.0
    estimate: float = 120.0
    close: float = 10.0

    def __post_init__(self) -> None:
        for name in ("start", "estimate", "close"):
            value = getattr(self, name)
            seconds(value, f"{name}_timeout")


class PluginAbort(RuntimeError):
    """Plugin code raised ``SystemExit`` or ``KeyboardInterrupt`` on the host: a failure, not an exit."""


class HostLoopDead(RuntimeError):
    """The host's loop thread has ended; nothing can run on it any more."""


class PluginTimeoutError(TimeoutError):
    """Plugin code did not finish within its deadline; the message names the plugin and the call."""


def describe_failure(error: BaseException) -> str:
    """``"SystemExit: 3"``: the exception's type and text, for a plugin's error column."""
    if isinstance(error, PluginAbort) and error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"


async def contained(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``; a ``SystemExit``/``KeyboardInterrupt`` it raises comes out as ``PluginAbort``."""
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as error:
        raise PluginAbort(
            f"plugin code raised {type(error).__name__}({error}) on the host; treated as a failure, not an exit"
        ) from error


async def within(awaitable: Awaitable[T], seconds: float | None, what: str, *, grace: float = 1.0) -> T:
    """Await ``awaitable`` for at most ``seconds``; past that, cancel it and raise ``PluginTimeoutError``.

    ``what`` names the plugin and the call (``"estimator 'Slow' estimateBatch()"``). Work that does not
    stop within ``grace`` seconds of its cancellation (it swallows ``CancelledError``) is abandoned with a
    warning rather than waited for. Cancelling the caller cancels the work too.
    """
    if seconds is None:
        return await contained(awaitable)
    loop = asyncio.get_running_loop()
    task = loop.create_task(contained(awaitable))
    # A bare waiter woken by the task or the timer: what asyncio.wait does, at a fraction of its cost per call.
    waiter = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(seconds, wake)
    try:
        await waiter
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
    if task.done():
        return task.result()
    await stop_or_abandon([task], grace, what)
    raise PluginTimeoutError(f"{what} did not finish within {seconds:g} s (deadline); it was cancelled")


async def stop_or_abandon(tasks: list[asyncio.Future[Any]], grace: float, what: str) -> list[asyncio.Future[Any]]:
    """Cancel ``tasks`` and wait ``grace`` seconds for them; return (and warn about) those still running."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return []
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        _ABANDONED.add(task)
        task.add_done_callback(_ABANDONED.discard)
    if pending:
        names = ", ".join(sorted(_task_label(task) for task in pending))
        logger.warning(
            "%s: %d task(s) did not stop within %g s of being cancelled (they swallow CancelledError?) and were "
            "abandoned: %s", what, len(pending), grace, names,
        )
    return list(pending)


def _task_label(task: asyncio.Future[Any]) -> str:
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", None)
        return f"{task.get_name()} ({name})" if name else task.get_name()
    return repr(task)


class LoopThread:
    """An asyncio loop in a daemon thread, with sync and async ways to run coroutines on it."""

    def __init__(self, name: str = "workbench-host") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._death: str | None = None
        self._waiting: set[concurrent.futures.Future[Any]] = set()
        self._waiting_lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        self._check_alive()
        if self._loop is None:
            raise RuntimeError("the host's event loop is not running: call wb.start() or await wb.astart() first")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread_ident(self) -> int | None:
        return None if self._thread is None else self._thread.ident

    @property
    def death(self) -> str | None:
        """Why the loop thread ended unasked, or ``None`` while it is healthy (or was stopped normally)."""
        return self._death

    def start(self) -> None:
        if self.running:
            return
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._stop_requested = False
        self._death = None

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                self._run_until_stopped(loop)
            except BaseException as error:  # noqa: BLE001 - recorded, then every waiter is told
                self._death = f"the host's loop thread ended: {type(error).__name__}: {error}"
            finally:
                if not self._stop_requested and self._death is None:
                    self._death = "the host's loop thread ended unexpectedly"
                if self._death is not None:
                    logger.critical("%s; every later workbench call raises HostLoopDead", self._death)
                    self._fail_waiters()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()

    def _run_until_stopped(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the loop until ``stop()``; plugin code that escapes it (or stops it) cannot end the thread."""
        while True:
            try:
                loop.run_forever()
            except (SystemExit, KeyboardInterrupt) as error:
                logger.error(
                    "plugin code raised %s(%s) out of the host's event loop; the loop goes on", type(error).__name__, error
                )
                continue
            if self._stop_requested:
                return
            logger.error("plugin code stopped the host's event loop (loop.stop()); the loop goes on")

    def _check_alive(self) -> None:
        if self._death is not None:
            raise HostLoopDead(f"{self._death}; close this Workbench and create a new one")

    def _fail_waiters(self) -> None:
        with self._waiting_lock:
            waiting, self._waiting = self._waiting, set()
        for future in waiting:
            if not future.done():
                try:
                    future.set_exception(HostLoopDead(self._death or "the host's loop thread ended"))
                except concurrent.futures.InvalidStateError:
                    pass

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop from any thread; the future fails at once should the loop die."""
        try:
            loop = self.loop
        except BaseException:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(contained(coro), loop)
        with self._waiting_lock:
            self._waiting.add(future)
        future.add_done_callback(self._forget_waiter)
        if self._death is not None:  # died between the check and the registration
            self._fail_waiters()
        return future

    def _forget_waiter(self, future: concurrent.futures.Future[Any]) -> None:
        with self._waiting_lock:
            self._waiting.discard(future)

    def run(self, coro: Coroutine[Any, Any, T], async_form: str, timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it from a synchronous caller.

        ``async_form`` names the awaitable twin of the caller, for the error raised when a blocking call
        comes from the loop's own thread (where it would deadlock). ``timeout`` bounds the wait itself, for
        when plugin code blocks the loop so that not even a deadline on the loop can fire.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "a blocking workbench call was made from the host's own event loop (plugin or server code): "
                f"use `await {async_form}` there"
            )
        future = self.submit(coro)
        try:
            try:
                return future.result(timeout)
            except TimeoutError:
                # A PluginTimeoutError raised on the loop is a TimeoutError too: only an unfinished future
                # means that the wait itself ran out.
                if future.done():
                    return future.result()
                raise PluginTimeoutError(
                    f"the host's loop did not answer within {timeout:g} s: plugin code is blocking it (see the "
                    "watchdog warnings in the log)"
                ) from None
        except BaseException:
            # An interrupted cell (KeyboardInterrupt) must not leave the work running behind the user's back.
            future.cancel()
            raise

    def arun(self, coro: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """``coro`` run on the loop, to await from async code on any loop.

        Not a coroutine itself: on the loop's own thread (every request of the embedded server) the caller
        awaits ``coro`` with no extra frame in between.
        """
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is not None and current is self._loop:
            return contained(coro)
        return asyncio.wrap_future(self.submit(coro))

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what is left on the loop (abandoning what will not stop within ``timeout``), end the thread."""
        if not self.running:
            return
        assert self._thread is not None and self._loop is not None
        loop = self._loop
        finished = asyncio.run_coroutine_threadsafe(_cancel_remaining_tasks(timeout), loop)
        try:
            finished.result(timeout + 2 * _GRACE)
        except concurrent.futures.TimeoutError:
            logger.warning(
                "the host's loop did not finish its shutdown within %g s (plugin code blocking it?); its thread is "
                "left behind", timeout,
            )
        except Exception:
            logger.exception("cancelling the tasks left on the host's loop failed")
        self._stop_requested = True
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(_GRACE)
        if self._thread.is_alive():
            logger.warning("the host's loop thread did not end; it is a daemon thread and is left behind")
            self._death = "the host was closed while plugin code still blocked its loop"
        else:
            loop.close()
        self._loop = None
        self._thread = None


# Seconds the shutdown gives the loop's executor threads and the thread itself beyond the close deadline.
_GRACE = 1.0


async def _cancel_remaining_tasks(timeout: float) -> None:
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    tasks: list[asyncio.Future[Any]] = [task for task in asyncio.all_tasks() if task is not current]
    started = time.monotonic()
    await stop_or_abandon(tasks, timeout, "closing the host")
    left = max(_GRACE, timeout - (time.monotonic() - started))
    try:
        await asyncio.wait_for(loop.shutdown_asyncgens(), left)
    except (asyncio.TimeoutError, Exception):
        logger.warning("async generators left on the host's loop did not close within %g s", left)
    # The default executor is not waited for (loop.close() shuts it down without waiting): a thread stuck in
    # plugin code, such as a model load that never returns, cannot be stopped.
