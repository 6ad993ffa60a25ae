"""Processes the plugins started: ``workbench serve`` ends those still running when it stops.

A plugin may start a helper process (a model server, ``subprocess.Popen``, ``multiprocessing``) and never end
it; such a process kept running after ``serve`` exited, holding its port, GPU memory or files. Once the host has
closed (each plugin's ``close`` had its chance to end its own), every process descending from this one is sent
SIGTERM, and SIGKILL after a grace period. Descendants are found through ``/proc`` (Linux, the platform the
service runs on): the whole tree is listed before any signal, so a grandchild orphaned by its parent's end
is ended too. A process that left the tree before (a daemon that detached itself) is not found.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_PROC = Path("/proc")
_POLL_S = 0.05


def descendants(pid: int) -> dict[int, str]:
    """The processes descending from ``pid``, by process id, with their command names (empty without ``/proc``)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in _PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended while listed, or not ours to read
            continue
        # "pid (command name) state ppid ...": the name may hold spaces and parentheses, so split at the last ")".
        head, _, rest = stat.rpartition(")")
        fields = rest.split()
        if len(fields) < 2 or fields[0] == "Z":
            continue  # a zombie has ended already
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)
        names[child] = head.partition("(")[2]
    found: dict[int, str] = {}
    waiting = list(children.get(pid, []))
    while waiting:
        child = waiting.pop()
        if child not in found:
            found[child] = names[child]
            waiting.extend(children.get(child, []))
    return found


def end_descendants(grace: float) -> dict[int, str]:
    """SIGTERM every process descending from this one, SIGKILL those left after ``grace`` seconds.

    Returns the processes that were running (pid -> command name), for the caller to name them.
    """
    running = descendants(os.getpid())
    _signal(running, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(running) and time.monotonic() < deadline:
        time.sleep(_POLL_S)
    _signal(_alive(running), signal.SIGKILL)
    return running


def _signal(pids: dict[int, str] | list[int], signum: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass  # ended meanwhile (its id may even be another's by now: only ids just listed are signalled)


def _alive(pids: dict[int, str]) -> list[int]:
    """Those of ``pids`` still running; our own children that ended are reaped on the way."""
    alive = []
    for pid in pids:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                continue  # our child, ended and now reaped
        except ChildProcessError:
            pass  # not our child: its own parent reaps it
        try:
            state = (_PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(pid)
    return alive
