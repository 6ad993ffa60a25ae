"""The README's quickstart runs as written, in a kernel whose folder is the one `make lab` opens, on a fresh clone.

A fresh clone has no ``../shared``: ``WORKBENCH_SAMPLE_DATA=synthetic`` makes ``sample_dataset()`` take the
generated images as it does there, and a temporary ``XDG_CACHE_HOME`` makes it generate them from scratch.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from helpers.notebooks import needs_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def quickstart_code() -> str:
    """The first ```python block under the README's "Quickstart" heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Quickstart section has no ```python block"
    return match.group(1)


def lab_command() -> list[str]:
    """The command `make lab` runs (dry run), as arguments."""
    if not (ROOT / "Makefile").is_file() or subprocess.run(["make", "--version"], capture_output=True).returncode:
        pytest.skip("needs make and the Makefile")
    dry = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    [line] = [line for line in dry.splitlines() if "jupyter lab" in line]
    return shlex.split(line)


def lab_folder() -> Path:
    """The folder `make lab` opens: its ``--ServerApp.root_dir`` (or notebook dir), else where it starts."""
    for argument in lab_command():
        for option in ("--ServerApp.root_dir=", "--notebook-dir=", "--ServerApp.notebook_dir="):
            if argument.startswith(option):
                return (ROOT / argument[len(option):]).resolve()
    positional = [a for a in lab_command()[2:] if not a.startswith("-")]
    return (ROOT / positional[0]).resolve() if positional else ROOT


def test_make_lab_runs_as_root_and_opens_the_project_root():
    command = lab_command()
    assert ("--allow-root" in command) == (os.getuid() == 0), \
        f"`make lab` must pass --allow-root exactly when run as root (uid {os.getuid()}): {command}"
    assert lab_folder() == ROOT, "`make lab` should open the project root, where the quickstart's paths resolve"


@pytest.mark.slow  # a Jupyter kernel runs the quickstart
def test_the_readme_quickstart_runs_where_make_lab_opens(kernel_env, monkeypatch, tmp_path):
    needs_models()
    code = quickstart_code()
    assert "photo.jpg" not in code and "VLImage(" not in code, "no placeholder image path, no VLImage(path)"
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    monkeypatch.setenv("WORKBENCH_SAMPLE_DATA", "synthetic")  # as on a fresh clone: no ../shared
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code),
                                               nbformat.v4.new_code_cell("wb.close()")])
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(lab_folder())}})
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the traceback, if the quickstart fails
    print(f"quickstart: {time.perf_counter() - started:.1f} s")
    outputs = notebook.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "SYNTHETIC sample images" in printed, "sample_dataset() says the data is generated"
    assert re.search(r"synth_test_IMG_\d+: \d+ people, \d+ head points, annotated \d+", printed), printed
    assert re.search(r"serving on http://127\.0\.0\.1:\d+", printed), printed
    rich = [o.get("data", {}) for o in outputs if o.output_type in ("display_data", "execute_result")]
    assert any("PeopleCountOnnxPlugin" in data.get("text/html", "") for data in rich), "the plugins table"
    assert any("ComparisonReport" in data.get("text/html", "") for data in rich), "the report"
    assert "application/vnd.jupyter.widget-view+json" in rich[-1], "the Explorer, live, last"
