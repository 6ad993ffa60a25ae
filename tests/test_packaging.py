"""The workbench as a package: ``python -m build`` makes an sdist and a wheel (from that sdist), and the wheel,
installed into a fresh virtual environment outside the checkout, has a working default estimator, example
plugin model, CLI (estimate, compare, serve, model describe) and pytest plugin.

To stay fast and offline, the new environment borrows this environment's installed dependencies through a
``.pth`` file, but gets the workbench itself only from the wheel (``--no-deps``), and every command runs with
the working directory outside the checkout.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import site
import subprocess
import sys
import tarfile
import textwrap
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

# Builds the sdist and the wheel, and installs the wheel in a fresh environment.
pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
BUNDLED = ("wbcount.onnx", "wbcount.json", "wbcount_uint8.onnx", "wbcount_uint8.json", "MODEL_CARD.md")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, built as ``python -m build`` does (the wheel from the unpacked sdist)."""
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return {"sdist": next(out.glob("workbench-*.tar.gz")), "wheel": next(out.glob("workbench-*.whl"))}


@pytest.fixture(scope="module")
def installed(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A new virtual environment with the wheel installed (and this environment's dependencies visible)."""
    home = tmp_path_factory.mktemp("wheel_env")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # Appended after the new site-packages, so the wheel's workbench wins; .pth files inside the borrowed
    # folder (the checkout's editable hook among them) are not run, since it is no site directory.
    (purelib / "borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                          "--quiet", str(dists["wheel"])], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    work = home / "work"
    (work / "plugins").mkdir(parents=True)
    # The example plugin as an author would copy it: without the model, which it must find in the package.
    shutil.copytree(REPO / "plugins" / "people_count_onnx", work / "plugins" / "people_count_onnx",
                    ignore=shutil.ignore_patterns("*.onnx", "__pycache__"))
    return {"env": env_dir, "python": python, "bin": env_dir / "bin", "work": work, "purelib": purelib}


def run(installed: dict[str, Path], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WORKBENCH_", "PEOPLE_COUNT_ONNX"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{installed['bin']}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(list(args), cwd=installed["work"], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_wheel_and_the_sdist_carry_the_models_the_licence_and_the_type_marker(dists):
    wheel = zipfile.ZipFile(dists["wheel"])
    names = set(wheel.namelist())
    assert {f"workbench/_models/{name}" for name in BUNDLED} <= names
    assert "workbench/py.typed" in names and "workbench-0.1.0.dist-info/licenses/LICENSE" in names
    metadata = wheel.read("workbench-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
    assert "Project-URL: Source" in metadata and "Provides-Extra: test" in metadata
    assert "workbench = workbench.testing" in wheel.read("workbench-0.1.0.dist-info/entry_points.txt").decode()
    with tarfile.open(dists["sdist"]) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"models/{name}" for name in BUNDLED} <= members and {"LICENSE", "setup.py", "workbench/py.typed"} <= members
    # The model files are stored once in git (models/), not copied into the package folder.
    assert not (REPO / "workbench" / "_models").exists()


def test_the_installed_wheel_estimates_with_the_bundled_model(installed):
    script = textwrap.dedent(f"""
        import json, numpy as np, workbench
        from importlib import metadata, resources
        from workbench import VLImage, Workbench
        assert workbench.__file__.startswith({str(installed['env'])!r}), workbench.__file__
        pixels = np.full((240, 320, 3), 90, np.uint8)
        with Workbench("plugins", []) as wb:
            [result] = wb.estimate("peopleCountEstimator", [VLImage(pixels)])
        print(json.dumps({{"file": workbench.__file__, "count": result.count, "name": result.estimatorName,
                          "typed": resources.files("workbench").joinpath("py.typed").is_file(),
                          "licence": metadata.metadata("workbench")["License-Expression"]}}))
    """)
    report = json.loads(run(installed, str(installed["python"]), "-c", script).stdout)
    assert report["name"] == "wbcount" and isinstance(report["count"], int) and report["count"] >= 0
    assert report["typed"] and report["licence"] == "MIT"
    assert not report["file"].startswith(str(REPO))


def test_the_installed_cli_compares_on_generated_data_with_the_example_plugin(installed):
    out = installed["work"] / "report"
    run(installed, "workbench", "compare", "synthetic", "--out", str(out), "--limit", "2", "--no-progress",
        "--estimators", "default,PeopleCountOnnxPlugin", "--active", "people_count_onnx.plugin")
    summary = (out / "summary.csv").read_text()
    assert "default" in summary and "PeopleCountOnnxPlugin" in summary and (out / "report.html").is_file()
    described = json.loads(run(installed, "workbench", "model", "describe",
                               str(installed["purelib"] / "workbench" / "_models" / "wbcount.onnx")).stdout)
    assert described["stride"] == 8 and described["description"]["name"] == "wbcount"


def test_the_installed_cli_serves_the_example_plugin(installed):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WORKBENCH_", "PEOPLE_COUNT_ONNX"))}
    server = subprocess.Popen(
        [str(installed["bin"] / "workbench"), "serve", "--port", "0", "--active", "people_count_onnx.plugin"],
        cwd=installed["work"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("serving on "), line + server.stderr.read()
        url = line.split()[-1].rstrip("/")
        from PIL import Image
        import io

        body = io.BytesIO()
        Image.new("RGB", (160, 120), (90, 90, 90)).save(body, format="PNG")
        request = urllib.request.Request(f"{url}/estimators/peopleCountEstimator/estimate", data=body.getvalue(),
                                         headers={"Content-Type": "image/png"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert answer["estimator"] == "PeopleCountOnnxPlugin" and answer["count"] >= 0
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.stderr.read()


def test_the_installed_cli_scaffolds_a_plugin_whose_tests_pass_without_configuration(installed):
    run(installed, "workbench", "new", "hello", "--kind", "background")
    result = run(installed, str(installed["python"]), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    assert "2 passed" in result.stdout


PROBE = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin
from lunavl.sdk.errors.errors import LunaVLError
from lunavl.sdk.estimators.image_estimators.people_count import PeopleCountEstimatorV2


class Probe(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        return LunaVLError, PeopleCountEstimatorV2
"""


def test_the_installed_cli_checks_plugins_against_the_sdks_whole_tree(installed):
    """check from the wheel alone: the SDK snapshot (the whole public tree) comes from package data, and the
    clean environment of --install holds the stand-ins but no workbench package."""
    probe = installed["work"] / "plugins" / "probe"
    probe.mkdir()
    (probe / "__init__.py").touch()
    (probe / "plugin.py").write_text(PROBE)
    (probe / "requirements.txt").write_text("")
    checked = run(installed, "workbench", "check", "--active", "probe.plugin,people_count_onnx.plugin")
    assert "no findings" in checked.stderr, checked.stderr
    run(installed, "workbench", "check", "--install", "--static-only", "--active", "probe.plugin")
    (probe / "plugin.py").write_text(PROBE + "\nimport workbench\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WORKBENCH_", "PEOPLE_COUNT_ONNX"))}
    refused = subprocess.run([str(installed["bin"] / "workbench"), "check", "--install", "--static-only",
                              "--active", "probe.plugin"], cwd=installed["work"], env=env, capture_output=True,
                             text=True, timeout=240)
    assert refused.returncode == 1 and "No module named 'workbench'" in refused.stdout, refused.stdout + refused.stderr
