"""Fixtures of the hostile-plugin tests: hosts with short deadlines, a served host, raw HTTP exchanges."""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterator

import pytest

from helpers.fake_estimators import default_factories
from workbench.host import Workbench
from workbench.server import start_server

# Short deadlines keep these tests fast; each test that needs a deadline to pass waits for at most this.
SHORT = {"start_timeout": 0.5, "estimate_timeout": 0.5, "close_timeout": 0.3, "watchdog_threshold": 0.2}


@pytest.fixture
def make_host(plugin_folder: Any) -> Iterator[Callable[..., Workbench]]:
    """``make_host(active, **options)``: a started host over the test's plugin folder, closed at the end."""
    hosts: list[Workbench] = []

    def make(active: list[str] | str = (), **options: Any) -> Workbench:
        settings = {"default_estimators": default_factories(), **SHORT, **options}
        wb = Workbench(plugin_folder.root, list(active) if not isinstance(active, str) else active, **settings)
        hosts.append(wb)
        return wb.start()

    yield make
    for wb in hosts:
        wb.close()


@pytest.fixture
def serve(make_host: Callable[..., Workbench]) -> Callable[..., tuple[Workbench, str, int]]:
    """``serve(active, **server_options)``: a host and its server on 127.0.0.1; returns (wb, host, port)."""

    def start(active: list[str] | str = (), host_options: dict[str, Any] | None = None, **server_options: Any):
        wb = make_host(active, **(host_options or {}))
        handle = start_server(wb, host="127.0.0.1", port=0, **server_options)
        return wb, handle.host, handle.port

    return start


@pytest.fixture
def host_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog
