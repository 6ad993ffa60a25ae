"""Every notebook runs headless, top to bottom, in this virtual environment, in under a minute, and shows real output.

The kernel is this interpreter: a ``python3`` kernelspec pointing at ``sys.executable`` is written into a
temporary ``JUPYTER_PATH`` (which Jupyter searches first), so neither a user-wide kernelspec nor whatever
``python`` is on ``PATH`` decides which environment runs the notebooks.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from workbench.estimators.default import DEFAULT_MODEL, models_dir  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TIME_LIMIT_S = 60
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


def _needs_models() -> None:
    default = models_dir() / DEFAULT_MODEL
    if not default.is_file():
        pytest.skip(f"needs the default model {default} (make it with `workbench train`, or set WORKBENCH_MODELS_DIR)")
    plugin = os.environ.get("PEOPLE_COUNT_ONNX_MODEL") or str(models_dir() / PLUGIN_MODEL)
    if not Path(plugin).is_file():
        pytest.skip(f"needs the plugin's model {plugin} (`workbench model quantize` + `wrap --batched`, or set "
                    "PEOPLE_COUNT_ONNX_MODEL)")


def run_notebook(name: str, kernel_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                 after: str | None = None) -> list:
    """Execute ``notebooks/<name>.ipynb`` in ``notebooks/``; returns its code cells with their outputs.

    ``after``: code run in the same kernel once the notebook has run (as a user would, after "Run All"); its
    cell is returned last.
    """
    _needs_models()
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
        notebook, kernel_name="python3", timeout=TIME_LIMIT_S, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    print(f"{name}: {elapsed:.1f} s")
    assert elapsed < TIME_LIMIT_S, f"{name} took {elapsed:.0f} s; keep notebooks under {TIME_LIMIT_S} s (LIMIT images)"
    assert Path(_text(probe).strip()) == Path(sys.executable), "the notebook ran in another environment"
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell is not probe]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs if "data" in o)


def _has_png(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.outputs)


def _decimals_per_column(table_html: str) -> dict[str, set[int]]:
    """Column heading -> the numbers of decimals its cells show, read from a pandas Styler's HTML."""
    headings = dict(re.findall(r'class="col_heading level0 col(\d+)" >([^<]*)</th>', table_html))
    found: dict[str, set[int]] = {}
    for column, text in re.findall(r'class="data row\d+ col(\d+)" >([^<]*)</td>', table_html):
        if re.fullmatch(r"[-+]?\d+(\.\d+)?", text.strip()):
            found.setdefault(headings[column], set()).add(len(text.strip().partition(".")[2]))
    return found


def _cell(code: list, needle: str):
    found = [cell for cell in code if needle in cell.source]
    assert found, f"no code cell contains {needle!r}: was the notebook edited without updating this test?"
    return found[0]


def _data_line(code: list) -> str:
    printed = _text(_cell(code, "dataset = (sample_dataset("))
    assert re.search(r"(real|synthetic) dataset \S+: \d+ images", printed), printed
    if "synthetic dataset" in printed:
        assert "SYNTHETIC sample images" in printed and "not photos" in printed
    return printed


def test_01_quickstart(kernel_env, monkeypatch, tmp_path):
    code = run_notebook("01_quickstart", kernel_env, monkeypatch, tmp_path)
    _data_line(code)
    assert "PeopleCountOnnxPlugin" in _html(_cell(code, "wb = Workbench("))
    counted = _text(_cell(code, "[by_plugin] = wb.estimate"))
    assert re.search(r": PeopleCountOnnxPlugin counts \d+, annotated (\d+|None)$", counted.strip()), counted
    assert " ms" in _html(_cell(code, "[by_plugin] = wb.estimate")), "the result's latency is shown with its unit"
    assert re.search(r"default counts \d+, annotated .*; density map \(\d+, \d+\), sum \d+\.\d", _text(
        _cell(code, "[by_default] = wb.estimate")))
    assert _has_png(_cell(code, "plot_density_overlay(sample, by_default)"))
    assert _has_png(_cell(code, "plot_points(sample, by_plugin"))


# Run after "Run All": the Explorer the notebook ends with (IPython's `_`) must still work.
AFTER_RUN_ALL = """
explorer = _
explorer.next.click()
before = explorer.picture.value
explorer.estimator.value = "default"
print("status:", explorer.status.value)
print("estimator:", explorer.estimator.value, "| host:", wb.estimators["peopleCountEstimator"])
print("redrawn:", explorer.picture.value != before)
wb.close()
"""


def test_02_compare_estimators(kernel_env, monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_SAMPLE_DATA", "synthetic")  # the fresh-clone path: no ../shared
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = run_notebook("02_compare_estimators", kernel_env, monkeypatch, tmp_path, after=AFTER_RUN_ALL)
    assert "synthetic dataset" in _data_line(code)
    assert "ComparisonReport" in _html(_cell(code, "report = wb.compare("))
    summary = _html(_cell(code, "report.summary_table()"))
    for column in ("MAE", "RMSE", "GAME(3)", "F1@10", "p99 ms", "images/s", "default", "PeopleCountOnnxPlugin"):
        assert column in summary, column
    assert "milliseconds" in summary and "people" in summary, "the units are given"
    decimals = _decimals_per_column(summary)
    assert all(len(places) == 1 for places in decimals.values()), f"one precision per column: {decimals}"
    assert decimals["images"] == decimals["annotated"] == {0}, "counts are whole numbers, not 1.0"
    assert decimals["F1@10"] == {3} and decimals["p50 ms"] == {1} and decimals["MAE"] == {2}, decimals
    assert "overflow-x:auto" in summary, "a wide summary scrolls instead of being cut"
    counts = re.findall(r"<td>([^<]*)</td>", _html(_cell(code, "report.counts_table()")))
    assert counts and all(re.fullmatch(r"-?\d+|&lt;NA&gt;", c) for c in counts), f"counts as integers: {counts}"
    assert "wb.close()" not in "".join(cell.source for cell in code[:-1]), "Run All leaves the Explorer's host open"
    after = _text(code[-1])
    assert "closed" not in after and "could not" not in after, after
    assert "estimator: default | host: default" in after and "redrawn: True" in after, after
    assert re.search(r"^default: MAE \d+\.\d\d over \d+ images, p50 \d+ ms$", _text(
        _cell(code, "for name, row in report.summary.iterrows()")), re.M)
    assert "PeopleCountOnnxPlugin error" in _html(_cell(code, "report.counts_table()"))
    for key in ('figures["count_scatter"]', 'figures[f"ranked_errors_{PLUGIN}"]', 'figures["estimator_grid"]'):
        assert _has_png(_cell(code, key)), key
    assert "wrote " in _text(_cell(code, "report.to_html(OUT"))
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4
    assert (tmp_path / "report" / "per_image.csv").is_file()
    explorer = _cell(code, "Explorer(wb, dataset)")
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in explorer.outputs)


def test_03_density_maps_and_points(kernel_env, monkeypatch, tmp_path):
    code = run_notebook("03_density_maps_and_points", kernel_env, monkeypatch, tmp_path)
    _data_line(code)
    assert re.search(r"map \(\d+, \d+\) for a \d+x\d+ image: \d+ px per cell; map sum [\d.]+ -> count \d+", _text(
        _cell(code, "scale = first.densityArea.width")))
    assert re.search(r"^topk: \d+ points.*\npeaks: \d+ points", _text(_cell(code, "strategies = {")), re.M)
    assert _has_png(_cell(code, "fig, axes = plt.subplots(1, 2"))
    table = _html(_cell(code, "rows.append("))
    for column in ("strategy", "threshold px", "precision", "recall", "F1", "topk", "peaks"):
        assert column in table, column
    assert "annotated heads" in _html(_cell(code, "sweep = []"))
    assert _has_png(_cell(code, 'ax = sweep.plot('))
    assert _has_png(_cell(code, "plot_density_overlay(sample, first"))


def test_04_embedded_server(kernel_env, monkeypatch, tmp_path):
    from workbench import Workbench

    if not hasattr(Workbench, "serve"):
        pytest.skip("needs Workbench.serve (the facade over workbench.server.start_server)")
    code = run_notebook("04_embedded_server", kernel_env, monkeypatch, tmp_path)
    _data_line(code)
    assert re.search(r"serving on http://127\.0\.0\.1:\d+", _text(_cell(code, "server = wb.serve")))
    routes = _text(_cell(code, 'call("GET", "/loop/ping")'))
    assert "(200, 'pong')" in routes and "'samples'" in routes
    estimated = _text(_cell(code, '"/estimators/peopleCountEstimator/estimate",\n'))
    assert len(re.findall(r": HTTP 200, count \d+ by PeopleCountOnnxPlugin in \d+ ms", estimated)) == 3, estimated
    assert re.search(r"^4\d\d \{'error'", _text(_cell(code, 'body=b"not an image"')), re.M)
    stats = _html(_cell(code, "stats.summary()"))
    for column in ("requests", "errors", "p50", "p99", "/loop/ping"):
        assert column in stats, column
