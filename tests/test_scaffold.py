"""``workbench new``: each kind scaffolded into a fresh folder with no pytest configuration; its generated tests
pass in a subprocess, ``workbench serve`` serves it, ``workbench check`` passes it, and nothing is overwritten."""
from __future__ import annotations

import ast
import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from workbench.authoring.scaffold import KINDS, ScaffoldRefused, scaffold_plugin
from workbench.cli import main

CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py")
SERVICE_IMPORTS = ("luna_plugins", "lunavl", "numpy", "typing", "collections")


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


def test_the_generated_tests_pass_with_no_pytest_configuration(author_repo):
    assert not any((author_repo / name).exists() for name in CONFIG_FILES)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=author_repo,
                            env=clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout


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


def test_workbench_check_passes_the_scaffolds(author_repo):
    check = pytest.importorskip("workbench.authoring.check", reason="workbench check has not landed yet")
    report = check.check_plugins(author_repo / "plugins", [f"my_{kind}.plugin" for kind in KINDS])
    assert report.ok, str(report)


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


@pytest.mark.parametrize("name", ["My-Plugin", "2fast", "class", "workbench", "lunavl"])
def test_bad_names_are_refused_with_the_reason(name, tmp_path):
    with pytest.raises(ScaffoldRefused, match=repr(name)):
        scaffold_plugin(name, "event", root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_dir_option_places_the_plugin_and_the_test_finds_it(tmp_path):
    scaffold_plugin("nested", "background", "src/plugins", root=tmp_path)
    assert (tmp_path / "src" / "plugins" / "nested" / "plugin.py").is_file()
    assert '/ "src/plugins"' in (tmp_path / "tests" / "test_nested.py").read_text()
