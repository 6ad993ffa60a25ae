"""Issue 31, finding 1: ``workbench package`` never deletes or overwrites what it did not create, refuses an output
inside the plugin or the plugin inside the output, and refuses links that leave the plugin folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.fake_estimators import default_factories
from workbench.authoring import package_plugin
from workbench.cli import main

EVENT = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Counter(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        return None
"""


@pytest.fixture
def plugin(plugin_folder) -> Path:
    plugin_folder.add("counter", EVENT)
    return plugin_folder.root / "counter"


def _package(plugin: Path, out: Path):
    return package_plugin(plugin, base="registry/luna-remote-sdk:v.1", out=out, default_estimators=default_factories())


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_out_set_to_the_folder_holding_the_plugin_is_refused_and_the_source_kept(plugin):
    """It removed ``out/<name>`` before copying, and that was the plugin's own source."""
    before = _snapshot(plugin)
    with pytest.raises(ValueError, match="lies inside --out"):
        _package(plugin, plugin.parent)
    assert _snapshot(plugin) == before
    assert not (plugin.parent / "Dockerfile").exists()


def test_out_inside_the_plugin_is_refused(plugin):
    with pytest.raises(ValueError, match="lies inside the plugin folder"):
        _package(plugin, plugin / "image")
    assert not (plugin / "image").exists()


def test_an_unrelated_folder_of_the_plugins_name_in_out_is_kept(plugin, tmp_path):
    """An existing ``DIR/<name>/`` under ``--out DIR`` was deleted without a word."""
    out = tmp_path / "out"
    (out / "counter").mkdir(parents=True)
    (out / "counter" / "notes.txt").write_text("mine")
    (out / "Dockerfile").write_text("FROM mine\n")
    with pytest.raises(ValueError, match=r"already holds counter, Dockerfile, which workbench package did not write"):
        _package(plugin, out)
    assert (out / "counter" / "notes.txt").read_text() == "mine" and (out / "Dockerfile").read_text() == "FROM mine\n"


def test_a_second_run_replaces_what_the_first_wrote(plugin, tmp_path):
    out = tmp_path / "out"
    _package(plugin, out)
    (plugin / "extra.py").write_text("VALUE = 1\n")
    result = _package(plugin, out)
    assert (result.context / "extra.py").read_text() == "VALUE = 1\n"
    assert sorted(p.name for p in out.iterdir()) == [
        ".workbench-package.json", "Dockerfile", "active-plugins.env", "check-record.txt", "counter"]


def test_a_link_out_of_the_plugin_is_refused_and_nothing_written(plugin, tmp_path):
    """A link to a host file or folder was copied into the build context, so into the image."""
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (plugin / "data.txt").symlink_to(secret)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"data.txt -> .*secret.txt \(outside the plugin\)"):
        _package(plugin, out)
    assert not out.exists()


def test_a_link_loop_is_refused_without_copying(plugin, tmp_path):
    """A link loop was copied 40 levels deep, then failed with a traceback and a half-written context."""
    os.symlink("b", plugin / "a")
    os.symlink("a", plugin / "b")
    with pytest.raises(ValueError, match=r"a -> b \(resolves nowhere\)"):
        _package(plugin, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_link_inside_the_plugin_is_kept_as_a_link(plugin, tmp_path):
    (plugin / "models").mkdir()
    (plugin / "models" / "weights.txt").write_text("w")
    (plugin / "current").symlink_to("models")
    (plugin / "here").symlink_to(".")  # a loop back into the plugin: kept as a link, never walked
    result = _package(plugin, tmp_path / "out")
    assert os.readlink(result.context / "current") == "models" and os.readlink(result.context / "here") == "."
    assert (result.context / "current" / "weights.txt").read_text() == "w"


def test_the_cli_says_what_is_in_the_way_with_exit_2(plugin, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "counter").mkdir(parents=True)
    assert main(["package", str(plugin), "--base", "registry/luna-remote-sdk:v.1", "--out", str(out)]) == 2
    assert "already holds counter, which workbench package did not write" in capsys.readouterr().err
