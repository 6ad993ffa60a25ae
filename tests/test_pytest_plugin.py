"""The ``workbench`` pytest plugin in a plugin author's repository with no pytest configuration at all: the
integration-test snippet of docs/plugin-authors.md and the fixture's documented example run exactly as written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import workbench.testing

pytestmark = pytest.mark.slow  # each test runs pytest in a subprocess

REPO = Path(__file__).resolve().parents[1]

MY_PLUGIN = '''
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse


def hello(request):
    return pluginHTTPResponse(statusCode=200, body="hello", headers={"Content-Type": "text/plain"})


class MyPlugin(BaseBackgroundPlugin):
    async def initialize(self):
        self.addRoute("/my/route", hello, methods={"get"})
'''


def snippets_using_the_fixture(text: str) -> list[str]:
    """The code blocks (Markdown fences or reST ``::`` indented blocks) that call ``workbench_client``."""
    fenced = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    indented = [textwrap.dedent(block) for block in re.findall(r"::\n\n((?:    .*\n|\n)+)", text)]
    return [block for block in fenced + indented if "await workbench_client(" in block]


def run_pytest_in_a_fresh_folder(folder: Path, tests: list[str]) -> subprocess.CompletedProcess[str]:
    (folder / "plugins" / "my_plugin").mkdir(parents=True)
    (folder / "plugins" / "my_plugin" / "__init__.py").write_text("")
    (folder / "plugins" / "my_plugin" / "plugin.py").write_text(MY_PLUGIN)
    for index, source in enumerate(tests):
        (folder / f"test_snippet_{index}.py").write_text(source)
    assert not any((folder / name).exists() for name in ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "LUNA_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_plugin_authors_snippet_runs_as_written_without_configuration(tmp_path):
    snippets = snippets_using_the_fixture((REPO / "docs" / "plugin-authors.md").read_text())
    assert snippets, "docs/plugin-authors.md shows no workbench_client test"
    result = run_pytest_in_a_fresh_folder(tmp_path, snippets)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{len(snippets)} passed" in result.stdout


def test_the_fixtures_documented_example_runs_as_written_without_configuration(tmp_path):
    snippets = snippets_using_the_fixture(workbench.testing.__doc__ or "")
    assert len(snippets) == 1
    result = run_pytest_in_a_fresh_folder(tmp_path, snippets)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
