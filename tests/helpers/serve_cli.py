"""``workbench serve`` in a subprocess, for the tests of what only a real process shows (signals, exit)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from helpers.waiting import GENEROUS_S


@contextlib.contextmanager
def served(plugins_dir: Path, active: str, *options: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """``workbench serve --plugins-dir DIR --active MODULES --port 0 OPTIONS...``; yields the process and its port
    once it serves, and kills it at the end if it still runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--plugins-dir", str(plugins_dir), "--active", active,
         "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        assert line.startswith("serving on http://"), line + process.stderr.read()
        yield process, int(line.rsplit(":", 1)[1])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(GENEROUS_S)
