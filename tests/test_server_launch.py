"""Running the server on the host's loop (start_server) and from the command line."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from helpers.event_plugins import COLLECTING_EVENT_PLUGIN
from helpers.fake_estimators import default_factories
from workbench import Workbench
from workbench.server import ServerHandle, astart_server, start_server


def fetch(url: str, method: str = "GET") -> tuple[int, str]:
    async def go() -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, url) as response:
                return response.status, await response.text()

    return asyncio.run(go())


def host_tasks(wb: Workbench) -> list[str]:
    async def names() -> list[str]:
        current = asyncio.current_task()
        return sorted(t.get_name() for t in asyncio.all_tasks() if t is not current)

    return asyncio.run_coroutine_threadsafe(names(), wb.loop).result(5)


def test_start_server_serves_from_the_hosts_loop_and_stops_cleanly(plugin_folder):
    module = plugin_folder.add("events", COLLECTING_EVENT_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        idle = host_tasks(wb)
        handle = start_server(wb)
        assert isinstance(handle, ServerHandle) and handle.running
        assert handle.url == f"http://127.0.0.1:{handle.port}" and handle.port > 0
        assert repr(handle) == f"<ServerHandle {handle.url} running>"
        assert handle.url in handle._repr_html_()
        assert fetch(handle.url + "/health")[0] == 200
        status, body = fetch(handle.url + "/estimators")
        assert status == 200 and "peopleCountEstimator" in body
        time.sleep(0.1)  # between notebook cells: the server keeps running on the host's thread
        assert fetch(handle.url + "/nowhere")[0] == 404
        handle.stop()
        assert not handle.running and "stopped" in repr(handle)
        assert len(wb.plugins["Collector"].instance.points) == 4, "stopping flushed the monitoring points"
        assert host_tasks(wb) == idle, "no task is left behind on the host's loop"
        with pytest.raises(aiohttp.ClientConnectionError):
            fetch(handle.url + "/health")
        handle.stop()  # twice is fine


def test_closing_the_host_stops_its_servers(project_plugins):
    wb = Workbench(project_plugins, ["loop_watch.plugin"], default_estimators={}).start()
    try:
        first, second = start_server(wb), start_server(wb, allow_estimator_switching=True)
        assert first.port != second.port
        assert fetch(first.url + "/loop/ping") == (200, "pong")
    finally:
        wb.close()
    for handle in (first, second):
        assert not handle.running
        with pytest.raises(aiohttp.ClientConnectionError):
            fetch(handle.url + "/health")
        handle.stop()  # after wb.close(), a no-op


async def test_astart_server_from_async_code(project_plugins):
    async with Workbench(project_plugins, ["loop_watch.plugin"], default_estimators={}) as wb:
        handle = await astart_server(wb, service_name="svc")
        async with aiohttp.ClientSession() as session:
            async with session.get(handle.url + "/health") as response:
                assert (await response.json())["service"] == "svc"
        with pytest.raises(RuntimeError, match="astop"):
            await _on_loop(wb, handle.stop)
        await handle.astop()
        assert not handle.running


async def _on_loop(wb: Workbench, function):
    async def call():
        function()

    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), wb.loop))


def test_start_server_reports_bad_arguments_and_taken_ports(project_plugins):
    with Workbench(project_plugins, [], default_estimators={}) as wb:
        with pytest.raises(ValueError, match="port"):
            start_server(wb, port=70000)
        with pytest.raises(ValueError, match="max_body_size"):
            start_server(wb, max_body_size=0)
        with pytest.raises(TypeError, match="unexpected keyword"):
            start_server(wb, max_body=5)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(OSError, match="choose another port"):
                start_server(wb, port=taken.getsockname()[1])
    with pytest.raises(RuntimeError, match="start the Workbench"):
        start_server(wb)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # a workbench serve subprocess
def test_cli_serves_until_sigint(project_plugins, repo_root):
    port = free_port()
    env = {**os.environ, "LUNA_REMOTE_SDK_ACTIVE_PLUGINS": "loop_watch.plugin,request_stats.plugin"}
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.server", "serve", "--plugins-dir", str(project_plugins), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=repo_root,
    )
    try:
        first = process.stdout.readline()
        assert first.strip() == f"serving on http://127.0.0.1:{port}", first + process.stderr.read()
        table = [process.stdout.readline() for _ in range(3)]
        assert "LoopWatchPlugin" in table[1] and "RequestStatsPlugin" in table[2] and "active" in table[2]
        assert fetch(f"http://127.0.0.1:{port}/health")[0] == 200
        assert fetch(f"http://127.0.0.1:{port}/loop/ping") == (200, "pong")
        assert fetch(f"http://127.0.0.1:{port}/estimators/peopleCountEstimator", "PUT")[0] == 403
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopping" in out and "Traceback" not in err


@pytest.mark.slow  # a workbench serve subprocess
def test_cli_reports_a_missing_plugins_folder(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "workbench.server", "serve", "--plugins-dir", str(tmp_path / "nope"), "--active",
         "my_plugin.plugin", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "workbench.server", "serve", "--port", "99999"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "99999" in result.stderr
