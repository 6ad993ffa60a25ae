"""Waiting for an event with a generous deadline, instead of asserting how long something took.

The deadline only turns a hang into a failure: it is far above what the call takes on a loaded machine, and
below the workbench's own defaults (start 60 s, estimate 120 s), so a test whose host has short deadlines still
shows that its short deadline, not the default, ended the wait.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

import pytest

GENEROUS_S = 30.0
T = TypeVar("T")


def finishes(call: Callable[[], T], within: float = GENEROUS_S) -> T:
    """``call()``'s result, or its exception re-raised here; fails the test if it has not returned ``within``
    seconds (it runs in a daemon thread, so a hung call cannot hold the test session open)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # noqa: BLE001 - handed to the caller, whatever it is
            outcome["error"] = error

    thread = threading.Thread(target=run, name="finishes", daemon=True)
    thread.start()
    thread.join(within)
    if thread.is_alive():
        pytest.fail(f"{getattr(call, '__name__', call)!s} did not return within {within:.0f} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def wait_until(condition: Callable[[], T], within: float = GENEROUS_S, poll_s: float = 0.05) -> T:
    """Polls ``condition()`` until it is truthy and returns that value; the last value (falsy) once ``within``
    seconds have passed, for the caller's assertion to say what was missing."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(poll_s)
