"""An unreachable Ray address fails ``compare`` at once with a clear error (issue 31, finding 9): ``ray.init`` retried
one for over 150 s, saying nothing. The address is tried first, for ``RAY_CONNECT_TIMEOUT_S`` at most."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from workbench.research._ray_runner import check_ray_address


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A port whose connections are never answered: its listener's queue is full, so the kernel drops new SYNs,
    as a firewall or a machine that is down does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    while True:
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
        except TimeoutError:
            break
        if len(held) > 16:
            pytest.skip("this kernel answers every connection however full the listener's queue is")
    yield port
    for connection in held:
        connection.close()
    listener.close()


@pytest.mark.slow
def test_compare_with_an_unreachable_ray_address_fails_at_once(spots_dataset, tmp_path):
    address = f"127.0.0.1:{_closed_port()}"
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "compare", str(spots_dataset.root), "--engine", "ray", "--ray-address",
         address, "--estimators", "default", "--plugins-dir", str(tmp_path), "--active", "", "--out",
         str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert f"cannot reach the Ray cluster at {address!r}" in run.stderr and "Traceback" not in run.stderr
    assert time.monotonic() - began < 60


def test_an_address_that_never_answers_is_given_up_in_time(unanswering_port):
    began = time.monotonic()
    with pytest.raises(ConnectionError, match="did not accept a connection within 1 s"):
        check_ray_address(f"127.0.0.1:{unanswering_port}", timeout=1)
    assert time.monotonic() - began < 5


def test_the_address_ray_would_read_from_the_environment_is_checked(monkeypatch):
    address = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    for given in (None, "auto"):
        with pytest.raises(ConnectionError, match=f"at {address!r}"):
            check_ray_address(given, timeout=1)
    monkeypatch.delenv("RAY_ADDRESS")
    check_ray_address(None)  # Ray starts its own: nothing to reach
    check_ray_address("local")


@pytest.mark.parametrize("address", ["ray://", "head:port", "head:6379/path"])
def test_a_malformed_address_is_named(address):
    with pytest.raises(ValueError, match="is not \\[ray://\\]host\\[:port\\]"):
        check_ray_address(address, timeout=1)
