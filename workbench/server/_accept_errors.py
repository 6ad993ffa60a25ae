"""A listening socket that cannot accept (out of file descriptors) is reported once in a while, not per attempt.

When every descriptor the process may open is in use (idle clients holding connections at a 1,024-descriptor
limit), asyncio retries the accept up to a hundred times per wake-up and hands each failure with its traceback
to the loop's exception handler: 2,000 idle sockets wrote 9.9 MB of log in 24 s. The handler installed here
says it once, with what to do, then counts the failures and says how many at most every
``REPORT_INTERVAL_S``; the retries asyncio scheduled for each failure, when they run after the socket closed,
are dropped. Every other exception goes on to the handler that was there before.
"""
from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any, Callable

# asyncio's message for an accept that failed with EMFILE, ENFILE, ENOBUFS or ENOMEM (selector_events).
ACCEPT_FAILED = "socket.accept() out of system resource"
# Each failed accept schedules a retry a second later (loop._start_serving); those still pending when the server
# stops fail on the closed socket, each with a traceback under "Exception in callback ..._start_serving(...)".
_STALE_RETRY = "._start_serving("
REPORT_INTERVAL_S = 10.0

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class _CondensedAcceptErrors:
    """A loop exception handler: accept failures condensed into one line per interval, the rest passed on."""

    def __init__(self, previous: ExceptionHandler | None, logger: logging.Logger) -> None:
        self._previous = previous
        self._logger = logger
        self._reported_at: float | None = None
        self._unreported = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if _STALE_RETRY in message and isinstance(context.get("exception"), (OSError, ValueError)):
            return  # a retry of an accept that failed, run after its socket closed: nothing left to accept
        if message != ACCEPT_FAILED:
            if self._previous is None:
                loop.default_exception_handler(context)
            else:
                self._previous(loop, context)
            return
        self._unreported += 1
        now = time.monotonic()
        if self._reported_at is not None and now - self._reported_at < REPORT_INTERVAL_S:
            return
        soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self._logger.error(
            "the server cannot accept connections: %s (%d failed accepts since the last report; the next report "
            "comes in %g s at the earliest). New clients wait until a connection closes. Raise the limit on open "
            "files (ulimit -n, now %d) or close idle connections sooner (--idle-timeout)",
            context.get("exception"), self._unreported, REPORT_INTERVAL_S, soft_limit,
        )
        self._reported_at = now
        self._unreported = 0


def condense_accept_errors(loop: asyncio.AbstractEventLoop, logger: logging.Logger) -> None:
    """Install the condensing handler on ``loop`` (once: a second server on the same loop shares it)."""
    previous = loop.get_exception_handler()
    if not isinstance(previous, _CondensedAcceptErrors):
        loop.set_exception_handler(_CondensedAcceptErrors(previous, logger))
