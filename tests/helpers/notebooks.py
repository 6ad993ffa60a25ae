"""Run a notebook headless in this virtual environment and read its cells' outputs.

The kernel is this interpreter: ``kernel_env`` writes a ``python3`` kernelspec pointing at ``sys.executable``
into a temporary ``JUPYTER_PATH`` (which Jupyter searches first), so neither a user-wide kernelspec nor whatever
``python`` is on ``PATH`` decides which environment runs the notebooks. nbformat and nbclient are imported when a
notebook is run: test modules that need them skip themselves (``pytest.importorskip``) where they are absent.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# nbclient's deadline for each cell: generous, so that a slow machine fails only a notebook that hangs.
CELL_TIMEOUT_S = 120
PLUGIN_MODEL = "wbcount_uint8.onnx"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    jupyter_path = tmp_path_factory.mktemp("jupyter")
    spec = jupyter_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "workbench venv",
        "language": "python",
    }))
    return jupyter_path


def needs_models() -> None:
    """Skips the test unless the default model and the example plugin's model are on this machine."""
    from workbench.estimators.default import DEFAULT_MODEL, models_dir

    default = models_dir() / DEFAULT_MODEL
    if not default.is_file():
        pytest.skip(f"needs the default model {default} (make it with `workbench train`, or set WORKBENCH_MODELS_DIR)")
    plugin = os.environ.get("PEOPLE_COUNT_ONNX_MODEL") or str(models_dir() / PLUGIN_MODEL)
    if not Path(plugin).is_file():
        pytest.skip(f"needs the plugin's model {plugin} (`workbench model quantize` + `wrap --batched`, or set "
                    "PEOPLE_COUNT_ONNX_MODEL)")


def run_notebook(name: str, kernel_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                 after: str | None = None, time_limit_s: float | None = None) -> list:
    """Execute ``notebooks/<name>.ipynb`` in ``notebooks/``; returns its code cells with their outputs.

    ``after``: code run in the same kernel once the notebook has run (as a user would, after "Run All"); its
    cell is returned last. ``time_limit_s``: fail when the whole run took longer (a timing assertion).
    """
    import nbclient
    import nbformat

    needs_models()
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{name}.ipynb is committed with outputs; rebuild it with `python notebooks/_build.py`"
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    if "OUT =" in parameters.source:
        parameters.source += f"\nOUT = {str(tmp_path / 'report')!r}"
    # Which interpreter ran the notebook, asked from inside the kernel.
    probe = nbformat.v4.new_code_cell("import sys; print(sys.executable)")
    notebook.cells.append(probe)
    if after is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(after))
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    print(f"{name}: {elapsed:.1f} s")
    if time_limit_s is not None:
        assert elapsed < time_limit_s, \
            f"{name} took {elapsed:.0f} s; keep notebooks under {time_limit_s:.0f} s (LIMIT images)"
    assert Path(stream_text(probe).strip()) == Path(sys.executable), "the notebook ran in another environment"
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell is not probe]


def stream_text(cell) -> str:
    """What the cell printed."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def html_output(cell) -> str:
    """The HTML the cell displayed."""
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs if "data" in o)


def code_cell(code: list, needle: str):
    found = [cell for cell in code if needle in cell.source]
    assert found, f"no code cell contains {needle!r}: was the notebook edited without updating this test?"
    return found[0]
