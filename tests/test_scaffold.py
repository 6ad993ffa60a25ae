"""``workbench new``: each kind scaffolded into a fresh folder with no pytest configuration; its generated tests
pass in a subprocess, ``workbench serve`` serves it, ``workbench check`` passes it, and nothing is overwritten."""
from __future__ import annotations

import ast
import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import EstimationTargets, ImageForPeopleEstimation, Rect, VLImage, Workbench
from workbench.authoring.check import check_plugins
from workbench.authoring.scaffold import KINDS, ScaffoldRefused, scaffold_plugin
from workbench.cli import main

CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py")
SERVICE_IMPORTS = ("luna_plugins", "lunavl", "numpy", "typing", "collections", "json", "asyncio")


@pytest.fixture(scope="module")
def author_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin author's fresh repository with one plugin of each kind, made by ``workbench new``."""
    root = tmp_path_factory.mktemp("author_repo")
    for kind in KINDS:
        scaffold_plugin(f"my_{kind}", kind, "plugins", root=root)
    return root


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("WORKBENCH_", "PYTEST_", "LUNA_"))}


def test_each_kind_gets_the_service_layout_and_a_test(author_repo):
    for kind in KINDS:
        package = author_repo / "plugins" / f"my_{kind}"
        assert sorted(p.name for p in package.iterdir()) == ["README.md", "__init__.py", "plugin.py", "requirements.txt"]
        assert (author_repo / "tests" / f"test_my_{kind}.py").is_file()


def test_the_plugins_import_only_the_services_names(author_repo):
    for kind in KINDS:
        tree = ast.parse((author_repo / "plugins" / f"my_{kind}" / "plugin.py").read_text())
        modules = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        modules += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert modules and all(module.split(".")[0] in SERVICE_IMPORTS for module in modules), (kind, modules)


@pytest.mark.slow  # scaffolds and checks or runs them in subprocesses
def test_the_generated_tests_pass_with_no_pytest_configuration(author_repo):
    assert not any((author_repo / name).exists() for name in CONFIG_FILES)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=author_repo,
                            env=clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout


@pytest.mark.slow  # scaffolds and checks or runs them in subprocesses
def test_workbench_serve_serves_the_scaffolded_plugins(author_repo):
    active = ",".join(f"my_{kind}.plugin" for kind in KINDS)
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", "0", "--plugins-dir", "plugins", "--active", active],
        cwd=author_repo, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("serving on "), line + server.stderr.read()
        url = line.split()[-1].rstrip("/")
        with urllib.request.urlopen(f"{url}/my_background/hello", timeout=30) as response:
            assert json.loads(response.read())["plugin"] == "my_background"
        pixels = Image.new("RGB", (40, 30))
        pixels.putpixel((5, 5), (255, 255, 255))
        body = io.BytesIO()
        pixels.save(body, format="PNG")
        request = urllib.request.Request(f"{url}/estimators/peopleCountEstimator/estimate", data=body.getvalue(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer["estimator"] == "MyEstimatorPlugin" and answer["count"] == 1
        with urllib.request.urlopen(f"{url}/plugins", timeout=30) as response:
            assert "MyEventPlugin" in response.read().decode()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.stderr.read()


@pytest.mark.parametrize("kind", KINDS)
def test_workbench_check_passes_each_scaffold(author_repo, kind):
    """Issue 28, finding 13: what ``new`` writes passes ``check`` with nothing found and nothing left unverified."""
    report = check_plugins(author_repo / "plugins", [f"my_{kind}.plugin"])
    assert report.findings == [] and report.unverified == [] and report.exit_code == 0, str(report)


@pytest.mark.slow  # scaffolds and checks or runs them in subprocesses
def test_workbench_check_passes_the_scaffolds_from_an_empty_folder(author_repo, tmp_path):
    """Issue 28, finding 13: the scaffolds do not depend on the folder ``check`` runs from."""
    active = ",".join(f"my_{kind}.plugin" for kind in KINDS)
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "check", "--plugins-dir", str(author_repo / "plugins"), "--active", active],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "no findings" in result.stderr and not any(tmp_path.iterdir())


@pytest.fixture
def scaffolded_host(author_repo):
    """A strict host running the three scaffolds, as ``check`` runs them."""
    active = [f"my_{kind}.plugin" for kind in KINDS]
    with Workbench(author_repo / "plugins", active, strict=True) as wb:
        assert all(record.status == "active" for record in wb.plugins), wb.plugins
        yield wb


def spots(xy: list[tuple[int, int]], width: int, height: int) -> VLImage:
    pixels = np.zeros((height, width, 3), np.uint8)
    for x, y in xy:
        pixels[y:y + 2, x:x + 2] = 255
    return VLImage(pixels)


def test_the_estimator_scaffold_takes_every_input_form_the_service_sends(scaffolded_host):
    """Issue 28, finding 13: the service's people counter takes a VLImage, an ImageForPeopleEstimation and a
    plain (VLImage, Rect) tuple in one batch, images of different sizes; the scaffold answers each, in order."""
    estimator = scaffolded_host.plugins["MyEstimatorPlugin"].instance.createReplacementEstimator()
    small, large = spots([(5, 5), (30, 20)], 40, 30), spots([(10, 10), (50, 40), (90, 70)], 120, 90)
    batch = [small, ImageForPeopleEstimation(large, Rect(40, 30, 40, 30)), (large, Rect(0, 0, 40, 40))]
    t1 = asyncio.run(estimator.estimateBatch(batch, EstimationTargets.T1))
    assert [result.count for result in t1] == [2, 1, 1]
    assert [[(point.x, point.y) for point in result.coordinates] for result in t1] == [
        [(5.5, 5.5), (30.5, 20.5)], [(50.5, 40.5)], [(10.5, 10.5)]]
    t2 = asyncio.run(estimator.estimateBatch(batch, EstimationTargets.T2))
    assert [result.count for result in t2] == [2, 1, 1] and all(result.coordinates == () for result in t2)


def test_the_background_scaffold_answers_a_json_text_body_as_the_docs_show(scaffolded_host):
    """Issue 28, finding 13: the service's docs answer a text body with its content type; a dict body is
    JSON-encoded only by the workbench."""
    [route] = [route for route in scaffolded_host.routes if route.plugin == "MyBackgroundPlugin"]
    response = asyncio.run(route.handler(scaffolded_host.plugin_app).get(None))
    assert isinstance(response.body, str), type(response.body)
    assert response.headers == {"Content-Type": "application/json"} and response.statusCode == 200
    assert json.loads(response.body)["plugin"] == "my_background"


def test_workbench_new_refuses_to_overwrite_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "hello", "--kind", "background"]) == 0
    assert "wrote plugins/hello/plugin.py" in capsys.readouterr().out
    edited = tmp_path / "plugins" / "hello" / "plugin.py"
    edited.write_text("# my work\n")
    assert main(["new", "hello", "--kind", "event"]) == 1
    error = capsys.readouterr().err
    assert "not overwriting" in error and str(edited) in error
    assert edited.read_text() == "# my work\n"
    # Only the test file exists: still nothing is written.
    (tmp_path / "tests" / "test_other.py").write_text("# mine\n")
    with pytest.raises(ScaffoldRefused, match="test_other.py"):
        scaffold_plugin("other", "event", root=tmp_path)
    assert not (tmp_path / "plugins" / "other").exists()


@pytest.mark.parametrize("name, reason, suggestion", [
    ("json", "standard-library", "json_plugin"),
    ("os", "standard-library", "os_plugin"),
    ("numpy", "resolves to", "numpy_plugin"),
    ("workbench", "resolves to", "workbench_plugin"),
    ("lunavl", "the service's own package", "lunavl_plugin"),
    ("class", "not a module name", "class_plugin"),
    ("My-Plugin", "not a module name", "my_plugin"),
    ("2fast", "not a module name", "plugin_2fast"),
    ("x" * 200, "characters; at most", "x" * 186),
])
def test_new_refuses_the_names_the_host_refuses(name, reason, suggestion, tmp_path):
    """Issue 28, finding 13: ``new json`` / ``new os`` wrote plugins the host refuses to load; now every name
    the host's own check refuses (keyword, not an identifier, standard library, an installed package, too
    long) is refused before anything is written, with the reason and a name that works."""
    with pytest.raises(ScaffoldRefused) as refused:
        scaffold_plugin(name, "event", root=tmp_path)
    message = str(refused.value)
    assert repr(name) in message and reason in message and f"try {suggestion!r}" in message, message
    assert not any(tmp_path.iterdir())
    scaffold_plugin(suggestion, "event", root=tmp_path)


def test_workbench_new_json_is_refused_with_a_name_that_works(tmp_path, monkeypatch, capsys):
    """Issue 28, finding 13: the command says why and what to type instead, and exits 1."""
    monkeypatch.chdir(tmp_path)
    assert main(["new", "json", "--kind", "background"]) == 1
    error = capsys.readouterr().err
    assert "'json' is a standard-library module name" in error and "try 'json_plugin'" in error, error
    assert not any(tmp_path.iterdir())


def test_the_dir_option_places_the_plugin_and_the_test_finds_it(tmp_path):
    scaffold_plugin("nested", "background", "src/plugins", root=tmp_path)
    assert (tmp_path / "src" / "plugins" / "nested" / "plugin.py").is_file()
    assert '/ "src/plugins"' in (tmp_path / "tests" / "test_nested.py").read_text()
