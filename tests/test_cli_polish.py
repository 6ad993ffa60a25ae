"""The command line speaks its own words (issue 32, findings 5 and 8): dataset messages name its flags, a misspelt
``--active`` module is one line with a suggestion, ``workbench`` alone lists its commands, the help is plain text
with every option explained; and the suite's own output says why each skipped test was skipped."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from workbench.cli import build_parser, main
from workbench.plugins import ACTIVE_PLUGINS_ENV


@pytest.fixture
def images_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("day_1", "night_1"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / f"{name}.png")
    return folder


def _compare(folder, tmp_path, *flags: str) -> int:
    return main(["compare", str(folder), "--out", str(tmp_path / "out"), "--plugins-dir", str(tmp_path), *flags])


def test_split_error_names_the_command_line_flags_not_python_arguments(images_folder, tmp_path, capsys):
    assert _compare(images_folder, tmp_path, "--split", "test") == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--split 'test' selects no image" in line and "use --pattern for other names" in line
    assert "split=" not in line and "pattern=" not in line


def test_the_pattern_the_split_error_points_to_is_a_flag(images_folder, tmp_path, capsys):
    assert _compare(images_folder, tmp_path, "--pattern", "dusk_*") == 2
    assert "--pattern 'dusk_*' matches no image file name" in capsys.readouterr().err


def test_a_misspelt_active_module_is_one_line_with_a_suggestion(plugin_folder, capsys):
    plugin_folder.add("people_count_onnx", "VALUE = 1")
    assert main(["plugins", "--plugins-dir", str(plugin_folder.root), "--active", "people_count_onx.plugin"]) == 2
    printed = capsys.readouterr()
    [line] = printed.err.strip().splitlines()
    assert line == (
        f"workbench plugins: --active names 'people_count_onx.plugin', which is not a module of the plugins folder "
        f"{plugin_folder.root}; did you mean 'people_count_onnx.plugin'?"
    )
    assert printed.out == "", "no host was started to report it again"


def test_a_misspelt_module_from_the_services_variable_says_where_it_came_from(plugin_folder, tmp_path, monkeypatch,
                                                                                capsys):
    plugin_folder.add("request_stats", "VALUE = 1")
    monkeypatch.setenv(ACTIVE_PLUGINS_ENV, "request_stat.plugin")
    assert main(["compare", "synthetic", "--out", str(tmp_path / "out"), "--plugins-dir", str(plugin_folder.root)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"${ACTIVE_PLUGINS_ENV} names 'request_stat.plugin'" in line
    assert "did you mean 'request_stats.plugin'?" in line
    assert not (tmp_path / "out").exists(), "refused before the command wrote anything"


def test_an_active_module_of_the_folder_passes_the_check(plugin_folder, capsys):
    module = plugin_folder.add("nothing_here", "VALUE = 1")
    # The module is there: the host loads it and reports that it holds no plugin class (exit 1).
    assert main(["plugins", "--plugins-dir", str(plugin_folder.root), "--active", module]) == 1
    assert "did you mean" not in capsys.readouterr().err


def test_workbench_alone_lists_its_commands(capsys):
    assert main([]) == 2
    printed = capsys.readouterr().out
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"compare", "serve", "plugins", "check", "new", "model", "train"} <= set(commands)
    for command in commands:
        assert f"\n    {command} " in printed, command


def _parsers(parser: argparse.ArgumentParser, path: str):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_help_is_plain_text_and_every_option_has_help():
    from workbench.training.train import build_parser as train_parser

    parsers = [(path, p) for path, p in _parsers(build_parser(), "workbench") if path != "workbench train"]
    # `workbench train` hands its arguments to the training script's own parser.
    parsers.append(("workbench train", train_parser()))
    marked = [path for path, parser in parsers if "``" in parser.format_help()]
    unexplained = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, parser in parsers for action in parser._actions
        if action.help is None and not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
    ]
    assert marked == [], "reStructuredText markup in --help"
    assert unexplained == [], "options without help"


@pytest.mark.slow
def test_pytest_says_why_each_test_was_skipped(repo_root, tmp_path):
    """`make test` printed "18 skipped" and nothing about why: the project's pytest options now list reasons."""
    test = tmp_path / "test_skips.py"
    test.write_text(textwrap.dedent("""
        import pytest

        def test_needs_data():
            pytest.skip("needs the moon's data set in $MOON_DATA")
    """))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(repo_root / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", str(test)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SKIPPED [1] test_skips.py:5: needs the moon's data set in $MOON_DATA" in run.stdout


def test_the_quickstarts_untitled_notebook_is_ignored(repo_root):
    if shutil.which("git") is None or not (repo_root / ".git").exists():
        pytest.skip("needs the git checkout (git check-ignore reads its .gitignore)")
    for notebook in ("Untitled.ipynb", "Untitled1.ipynb", "notebooks/Untitled2.ipynb"):
        check = subprocess.run(["git", "check-ignore", "-q", notebook], cwd=repo_root, timeout=30)
        assert check.returncode == 0, f"{notebook} is not git-ignored"
