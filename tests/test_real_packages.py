"""The workbench beside the service's real ``luna_plugins`` and ``lunavl`` (issue 13).

Where the service's packages are installed they win on the import path. ``helpers.service_packages`` writes a stand-in
for them (the reference sources' module paths, names and signatures, with ``dist-info`` versions); the host,
the service's three published examples verbatim, ``compare``, plots, the server, ``workbench check`` and a
notebook run against it in subprocesses, so this process keeps the workbench's own stand-ins.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.event_plugins import COLLECTING_EVENT_PLUGIN
from helpers.onnx_models import make_pool_model
from helpers.reference_plugins import write_reference_plugins
from helpers.service_packages import service_env

pytestmark = pytest.mark.slow  # the host, compare and the server in subprocesses
# Run as a script in a subprocess, so that the written packages are the ones it imports.
RUN_SCRIPT = Path(__file__).resolve().parent / "helpers" / "real_packages_run.py"


def _run(code_or_script: list[str], service_root: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *code_or_script], env=service_env(service_root), cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )


def test_a_plugin_subclassing_the_service_class_loads(tmp_path, service_root):
    """The finding of issue 13: with the real luna_plugins first, the loader found no plugin class."""
    plugins = tmp_path / "plugins"
    (plugins / "evt").mkdir(parents=True)
    (plugins / "evt" / "__init__.py").write_text("")
    (plugins / "evt" / "plugin.py").write_text(COLLECTING_EVENT_PLUGIN)
    code = (
        "import sys; from workbench import Workbench\n"
        f"with Workbench({str(plugins)!r}, ['evt.plugin']) as wb:\n"
        "    [record] = wb.plugins\n"
        "    print(record.status, record.kind, record.error, type(record.instance).__mro__[1].__module__)\n"
        "    print(len(wb.emit('monitoring_event', [1, 2])), len(record.instance.points))\n"
    )
    done = _run(["-c", code], service_root, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the module defines no plugin class" not in done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "active event None luna_plugins.base.plugins_meta.base_plugins", "1 2",
    ], done.stdout


def test_published_examples_compare_server_and_check_against_the_service_packages(
    tmp_path, service_root, reference_docs
):
    plugins = tmp_path / "plugins"
    write_reference_plugins(reference_docs, plugins)
    # The estimator example loads csrnet_uint8.onnx beside it and feeds it the image's HWC uint8 pixels.
    # Capped at one a pixel: check's exercise sends bright images, and a count above the pixels is refused.
    make_pool_model(plugins / "reference_estimator" / "csrnet_uint8.onnx", layout="HWC", dtype="uint8", stride=4,
                    at_most_one_per_pixel=True)
    # The requirements.txt the service's docs give the estimator example.
    (plugins / "reference_estimator" / "requirements.txt").write_text(
        "onnxruntime>=1.22.0\nonnxruntime-gpu>=1.16.0\nnumpy>=1.24.0\n")
    (plugins / "evt").mkdir()
    (plugins / "evt" / "__init__.py").write_text("")
    (plugins / "evt" / "plugin.py").write_text(COLLECTING_EVENT_PLUGIN)
    dataset = _dataset(tmp_path / "dataset")
    done = _run([str(RUN_SCRIPT), str(plugins), str(dataset), "evt.plugin"], service_root, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert done.stdout.rstrip().endswith("all checks passed"), done.stdout


def _dataset(root: Path) -> Path:
    """Two images in the crowd-mini layout whose head points are the red spots the test model counts."""
    import json

    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "points").mkdir()
    for index, spots in enumerate([[(5, 7), (40, 30)], [(10, 10), (50, 20), (30, 40)]]):
        pixels = np.zeros((48, 64, 3), np.uint8)
        for x, y in spots:
            pixels[y, x, 0] = 1
        name = f"synth_test_IMG_{index}"
        Image.fromarray(pixels).save(root / "images" / f"{name}.png")
        (root / "points" / f"{name}.json").write_text(json.dumps({"image": f"{name}.png", "points": spots}))
    return root

