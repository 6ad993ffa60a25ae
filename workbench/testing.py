"""pytest fixtures for plugin authors (registered as the ``workbench`` pytest plugin on install).

``workbench_factory`` starts hosts for a test and closes them at its end::

    def test_my_plugin(workbench_factory):
        wb = workbench_factory("plugins", ["my_plugin.plugin"])
        assert wb.plugins["MyPlugin"].status == "active"
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .host import Workbench


@pytest.fixture
def workbench_factory() -> Iterator[Callable[..., Workbench]]:
    """Call it like ``Workbench(...)``; the host comes back started and is closed after the test."""
    hosts: list[Workbench] = []

    def start(plugins_dir: str | Path, active_plugins: Any = None, **kwargs: Any) -> Workbench:
        host = Workbench(plugins_dir, active_plugins, **kwargs).start()
        hosts.append(host)
        return host

    yield start
    for host in reversed(hosts):
        host.close()
