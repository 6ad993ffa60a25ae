"""The host's own event loop, running in a thread it owns.

Why a thread and not nest-asyncio: a Jupyter kernel already runs an event loop in the main thread, so a
synchronous ``wb.estimate(...)`` cannot run the loop again there without patching asyncio (nest-asyncio,
archived upstream, changes the semantics of every loop in the process). A loop in its own thread serves
sync callers (block on a concurrent future), async callers on any other loop (await a wrapped future) and
keeps background plugin tasks and the embedded server running between and during cells.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread, with sync and async ways to run coroutines on it."""

    def __init__(self, name: str = "workbench-host") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the host's event loop is not running: call wb.start() or await wb.astart() first")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=self._name, daemon=True)
        self._thread.start()
        ready.wait()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], async_form: str) -> T:
        """Run ``coro`` on the loop and wait for it from a synchronous caller.

        ``async_form`` names the awaitable twin of the caller, for the error raised when a blocking call
        comes from the loop's own thread (where it would deadlock).
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "a blocking workbench call was made from the host's own event loop (plugin or server code): "
                f"use `await {async_form}` there"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            # An interrupted cell (KeyboardInterrupt) must not leave the work running behind the user's back.
            future.cancel()
            raise

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop from async code on any loop."""
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is self._loop:
            return await coro
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        """Cancel what is left on the loop, wait for it, and end the thread."""
        if not self.running:
            return
        asyncio.run_coroutine_threadsafe(_cancel_remaining_tasks(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        assert self._thread is not None
        self._thread.join()
        self.loop.close()
        self._loop = None
        self._thread = None


async def _cancel_remaining_tasks() -> None:
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
