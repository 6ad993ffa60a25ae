"""workbench package: the service's Dockerfile and build context for a checked plugin; refused on findings."""
from __future__ import annotations

import pytest
from helpers.fake_estimators import default_factories

from workbench.authoring import PackageRefused, package_plugin
from workbench.cli import main

CLEAN = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Counter(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        return None
"""


def test_dockerfile_copies_with_the_service_ownership_and_installs_requirements(plugin_folder, tmp_path):
    plugin_folder.add("counter", CLEAN, requirements="numpy>=1.24\n")
    (plugin_folder.root / "counter" / "__pycache__").mkdir()
    out = tmp_path / "image"
    result = package_plugin(plugin_folder.root / "counter", base="my-registry/luna-remote-sdk:v.1.2.3", out=out,
                            default_estimators=default_factories())
    assert result.dockerfile.read_text() == (
        "FROM my-registry/luna-remote-sdk:v.1.2.3\n"
        "\n"
        "# Copy the plugin into the service's plugins folder, owned by the service's user\n"
        "COPY --chown=1001:0 counter ./luna_remote_sdk/plugins/counter\n"
        "\n"
        "# Install the plugin's dependencies before the service starts\n"
        "RUN pip install --no-cache-dir -r ./luna_remote_sdk/plugins/counter/requirements.txt\n"
    )
    assert sorted(p.name for p in (out / "counter").iterdir()) == ["__init__.py", "plugin.py", "requirements.txt"]
    assert result.active_plugins == "counter.plugin"
    assert (out / "active-plugins.env").read_text() == "LUNA_REMOTE_SDK_ACTIVE_PLUGINS=counter.plugin\n"


def test_no_requirements_no_install_step(plugin_folder, tmp_path):
    plugin_folder.add("counter", CLEAN)
    result = package_plugin(plugin_folder.root / "counter", base="luna-remote-sdk:v.5", out=tmp_path / "o",
                            default_estimators=default_factories())
    assert "pip install" not in result.dockerfile.read_text()


def test_refused_when_check_finds_a_problem(plugin_folder, tmp_path):
    plugin_folder.add("bad", "import workbench\n" + CLEAN)
    with pytest.raises(PackageRefused) as refused:
        package_plugin(plugin_folder.root / "bad", base="luna-remote-sdk:v.5", out=tmp_path / "o",
                       default_estimators=default_factories())
    assert "imports workbench" in str(refused.value.report.findings[0])
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # over 2 s here
def test_cli_prints_the_active_plugins_value_and_refuses_with_exit_1(plugin_folder, tmp_path, capsys):
    plugin_folder.add("counter", CLEAN)
    assert main(["package", str(plugin_folder.root / "counter"), "--base", "luna-remote-sdk:v.5",
                 "--out", str(tmp_path / "o")]) == 0
    assert "LUNA_REMOTE_SDK_ACTIVE_PLUGINS=counter.plugin" in capsys.readouterr().out.splitlines()
    plugin_folder.add("bad", "import workbench\n" + CLEAN)
    assert main(["package", str(plugin_folder.root / "bad"), "--base", "luna-remote-sdk:v.5",
                 "--out", str(tmp_path / "p")]) == 1
    assert "plugin.py:1: imports workbench" in capsys.readouterr().out


def test_usage_errors_exit_2(plugin_folder, tmp_path):
    plugin_folder.add("counter", CLEAN)
    assert main(["package", str(tmp_path / "missing"), "--base", "x:1", "--out", str(tmp_path / "o")]) == 2
    assert main(["package", str(plugin_folder.root / "counter"), "--base", "bad image", "--out", str(tmp_path / "o")]) == 2
