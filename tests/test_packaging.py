"""The workbench as a package: ``python -m build`` makes an sdist and a wheel (from that sdist), and the wheel,
installed into a fresh virtual environment outside the checkout with only the dependencies it declares (pip
resolves them from the package index or its cache), runs the main job (``workbench demo``: the default against
the example plugin shipped in the package) in a folder with no plugins folder, and has a working default
estimator, CLI (estimate, compare, serve, check, model describe) and pytest plugin.

Nothing of this environment is visible there: a dependency the package uses but does not declare fails here.
Where no package index is reachable the environment cannot be made, and the tests that need it skip saying so.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

# Builds the sdist and the wheel, and installs the wheel and its dependencies in a fresh environment.
pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
BUNDLED = ("wbcount.onnx", "wbcount.json", "wbcount_uint8.onnx", "wbcount_uint8.json", "MODEL_CARD.md")
EXAMPLE_PLUGINS = ("people_count_onnx", "loop_watch", "request_stats")


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel, built as ``python -m build`` does (the wheel from the unpacked sdist)."""
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return {"sdist": next(out.glob("workbench-*.tar.gz")), "wheel": next(out.glob("workbench-*.whl"))}


def _skip_without_package_index(scratch: Path) -> None:
    """Skip unless pip can fetch a small dependency of the wheel (from the index, its cache or find-links)."""
    try:
        probe = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(scratch),
                                "packaging"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("no package index reachable (pip download packaging took over 120 s): the wheel's dependencies "
                    "cannot be installed into an isolated environment here")
    if probe.returncode != 0:
        pytest.skip(f"no package index reachable (pip download packaging failed: {probe.stderr.strip()[-300:]}): "
                    "the wheel's dependencies cannot be installed into an isolated environment here")


@pytest.fixture(scope="module")
def installed(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A new virtual environment holding the wheel and what pip resolves for it, nothing of this environment."""
    home = tmp_path_factory.mktemp("wheel_env")
    _skip_without_package_index(home / "probe")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # This environment's pip installs into the new one (--python), from a folder outside the checkout.
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", str(dists["wheel"])],
                         cwd=home, capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    bare = home / "bare"
    bare.mkdir()
    work = home / "work"
    (work / "plugins").mkdir(parents=True)
    # The example plugin as an author would copy it: without the model, which it must find in the package.
    shutil.copytree(REPO / "plugins" / "people_count_onnx", work / "plugins" / "people_count_onnx",
                    ignore=shutil.ignore_patterns("*.onnx", "__pycache__"))
    return {"env": env_dir, "python": python, "bin": env_dir / "bin", "work": work, "bare": bare, "purelib": purelib}


def run(installed: dict[str, Path], *args: str, timeout: float = 240, where: str = "work") -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WORKBENCH_", "PEOPLE_COUNT_ONNX"))}
    env.pop("PYTHONPATH", None)
    env.pop("LUNA_REMOTE_SDK_ACTIVE_PLUGINS", None)
    env["PATH"] = f"{installed['bin']}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(list(args), cwd=installed[where], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_demo_installs_only_the_base_and_the_tests_install_every_extra():
    """``make demo`` installs the base (compare, report, serve), not torch, Ray, Playwright or JupyterLab;
    ``make test`` still installs every extra its tests import."""
    makefile = (REPO / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+) :=[ ]?(.*)$", makefile, re.MULTILINE))
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def installed_by(stamp_variable: str) -> set[str]:
        stamp = variables[stamp_variable]
        assert stamp.startswith("$(VENV)/.installed-"), stamp
        names = variables[f"{stamp.rpartition('-')[2]}_EXTRAS"].split(",")
        return {Requirement(requirement).name.lower() for name in names if name for requirement in extras[name]}

    assert "demo: $(DEMO_STAMP)" in makefile and "test: $(STAMP)" in makefile and "check: $(STAMP)" in makefile
    assert not installed_by("DEMO_STAMP") & {"torch", "ray", "playwright", "jupyterlab"}
    assert {"torch", "ray", "playwright", "jupyterlab", "pytest", "mypy"} <= installed_by("STAMP")
    assert "jupyterlab" in installed_by("LAB_STAMP") and "lab: $(LAB_STAMP)" in makefile
    # What the base install does, it declares: the HTML report's tables are pandas' Styler, which needs jinja2.
    base = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "jinja2" in {Requirement(requirement).name.lower() for requirement in base}


def test_the_wheel_and_the_sdist_carry_the_models_the_licence_and_the_type_marker(dists):
    wheel = zipfile.ZipFile(dists["wheel"])
    names = set(wheel.namelist())
    assert {f"workbench/_models/{name}" for name in BUNDLED} <= names
    assert "workbench/py.typed" in names and "workbench-0.1.0.dist-info/licenses/LICENSE" in names
    for plugin in EXAMPLE_PLUGINS:
        assert {f"workbench/_examples/{plugin}/{name}" for name in ("__init__.py", "plugin.py", "README.md",
                                                                      "requirements.txt")} <= names, plugin
    metadata = wheel.read("workbench-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
    assert "Project-URL: Source" in metadata and "Provides-Extra: test" in metadata
    assert "workbench = workbench.testing" in wheel.read("workbench-0.1.0.dist-info/entry_points.txt").decode()
    with tarfile.open(dists["sdist"]) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"models/{name}" for name in BUNDLED} <= members and {"LICENSE", "setup.py", "workbench/py.typed"} <= members
    # The model files are stored once in git (models/), not copied into the package folder.
    assert not (REPO / "workbench" / "_models").exists()


def test_the_installed_wheel_runs_the_main_job_where_there_is_no_plugins_folder(installed):
    """``workbench demo`` (the default against the example plugin shipped in the package), compare with the
    default alone, and ``Workbench()`` in Python, all in an empty folder of an environment with nothing else."""
    out = installed["bare"] / "demo"
    run(installed, "workbench", "demo", "--out", str(out), "--limit", "2", "--no-progress", where="bare")
    summary = (out / "summary.csv").read_text()
    assert "default" in summary and "PeopleCountOnnxPlugin" in summary
    assert "<table" in (out / "report.html").read_text()
    run(installed, "workbench", "compare", "synthetic", "--estimators", "default", "--out", str(installed["bare"] / "alone"),
        "--limit", "1", "--no-progress", where="bare")
    assert (installed["bare"] / "alone" / "report.html").is_file()
    assert not (installed["bare"] / "plugins").exists()
    script = textwrap.dedent(f"""
        import json, sys, numpy as np, workbench
        from importlib import metadata, resources
        from workbench import VLImage, Workbench
        assert workbench.__file__.startswith({str(installed['env'])!r}), workbench.__file__
        pixels = np.full((240, 320, 3), 90, np.uint8)
        with Workbench() as wb:
            [result] = wb.estimate("peopleCountEstimator", [VLImage(pixels)])
        print(json.dumps({{"file": workbench.__file__, "count": result.count, "name": result.estimatorName,
                          "typed": resources.files("workbench").joinpath("py.typed").is_file(),
                          "licence": metadata.metadata("workbench")["License-Expression"], "path": sys.path}}))
    """)
    report = json.loads(run(installed, str(installed["python"]), "-c", script, where="bare").stdout)
    assert report["name"] == "wbcount" and isinstance(report["count"], int) and report["count"] >= 0
    assert report["typed"] and report["licence"] == "MIT"
    assert not report["file"].startswith(str(REPO))
    # Isolated: every installed package it can import is the new environment's own.
    assert all(str(installed["env"]) in entry for entry in report["path"] if "-packages" in entry), report["path"]
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
    # The plugin's tests need pytest and its asyncio support, the test extra's runners, which a plain install lacks.
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(installed["python"]), "install", "--quiet",
                          "pytest>=8.0", "pytest-aiohttp>=1.0"], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
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
