"""``wb.lease_estimator``: keep a named estimator's pool open across calls, without serving it."""
from __future__ import annotations

from ._estimators import EstimatorSlot
from ._loop import LoopThread


class EstimatorLease:
    """A hold on one estimator's pool, taken on entering (``with`` or ``async with``) and ended on leaving.

    One object serves both forms, so the hold and its release are written once, as coroutines run on the
    host's loop where the pools live. A lease may be entered again after it is left, not while it is held.
    """

    def __init__(self, slot: EstimatorSlot, name: str, loop: LoopThread, blocking_timeout: float) -> None:
        self.broker = slot.broker
        self.name = name
        self._slot = slot
        self._loop = loop
        self._blocking_timeout = blocking_timeout
        self._held = False

    def __enter__(self) -> EstimatorLease:
        self._check_not_held()
        self._loop.run(self._slot.hold(self.name), "wb.lease_estimator(...) with `async with`", self._blocking_timeout)
        self._held = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._held = False
        if not self._loop.running:  # the host has closed, and every pool with it
            return
        self._loop.run(self._slot.release(self.name), "wb.lease_estimator(...) with `async with`", self._blocking_timeout)

    async def __aenter__(self) -> EstimatorLease:
        self._check_not_held()
        await self._loop.arun(self._slot.hold(self.name))
        self._held = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._held = False
        if not self._loop.running:
            return
        await self._loop.arun(self._slot.release(self.name))

    def _check_not_held(self) -> None:
        if self._held:
            raise RuntimeError(f"this lease of {self.name!r} is already held; take another wb.lease_estimator(...)")

    def __repr__(self) -> str:
        return f"<EstimatorLease {self.broker!r}: {self.name!r}, {'held' if self._held else 'not held'}>"
