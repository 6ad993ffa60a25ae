"""Issue 28, finding 13 (second half): a finding the author knows to be wrong can be waived, with a record:
``# workbench: ignore[KIND]`` on its line, ``workbench package --allow KIND``."""
from __future__ import annotations

import pytest
from helpers.fake_estimators import default_factories

from workbench.authoring import PackageRefused, check_plugins, package_plugin
from workbench.authoring._findings import IGNORE_COMMENT, UNDECLARED_IMPORT
from workbench.cli import main

# scipy is installed here but not declared: an undeclared-import finding at line 1, found by the static scan.
EVENT = """\
import scipy{comment}
from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin


class Counter(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        return scipy.__name__
"""


def _plugin(plugin_folder, comment: str = "") -> str:
    return plugin_folder.add("counter", EVENT.format(comment=comment))


def _check(plugin_folder, module):
    return check_plugins(plugin_folder.root, [module], run=False)


def test_ignore_comment_waives_the_finding_on_its_line_and_keeps_a_record(plugin_folder):
    report = _check(plugin_folder, _plugin(plugin_folder, "  # workbench: ignore[undeclared-import]"))
    assert report.findings == [] and report.exit_code == 0, str(report)
    [waived] = report.waived
    assert waived.finding.kind == UNDECLARED_IMPORT and waived.finding.line == 1
    assert "# workbench: ignore[undeclared-import] at" in waived.how
    assert "waived: " in str(report) and "1 waived" in report.summary


def test_ignore_comment_of_another_kind_waives_nothing_and_is_listed_unused(plugin_folder):
    report = _check(plugin_folder, _plugin(plugin_folder, "  # workbench: ignore[runtime]"))
    assert [f.kind for f in report.findings] == [UNDECLARED_IMPORT]
    assert report.waived == []
    assert [c.line for c in report.unused_ignores] == [1]
    assert "unused ignore comment: " in str(report)


@pytest.mark.parametrize("comment", ["  # workbench: ignore", "  # workbench: ignore[no-such-kind]"])
def test_ignore_comment_without_a_known_kind_is_a_finding(plugin_folder, comment):
    report = _check(plugin_folder, _plugin(plugin_folder, comment))
    assert sorted(f.kind for f in report.findings) == sorted([IGNORE_COMMENT, UNDECLARED_IMPORT])
    bad = next(f for f in report.findings if f.kind == IGNORE_COMMENT)
    assert bad.line == 1 and "undeclared-import" in bad.fix  # the fix lists the kinds


@pytest.mark.slow  # over 2 s here
def test_package_allow_packages_despite_a_kind_and_records_it(plugin_folder, tmp_path):
    _plugin(plugin_folder)
    with pytest.raises(PackageRefused):
        package_plugin(plugin_folder.root / "counter", base="registry/luna-remote-sdk:v.1", out=tmp_path / "refused",
                       default_estimators=default_factories())
    assert not (tmp_path / "refused").exists()
    result = package_plugin(plugin_folder.root / "counter", base="registry/luna-remote-sdk:v.1", out=tmp_path / "out",
                            allow=["undeclared-import"], default_estimators=default_factories())
    record = result.record.read_text()
    assert "waived: " in record and "imports scipy" in record and "(waived by package --allow undeclared-import)" in record
    assert result.dockerfile.is_file()


def test_package_allow_names_unknown_kinds_before_running(plugin_folder, tmp_path):
    _plugin(plugin_folder)
    with pytest.raises(ValueError, match="unknown finding kinds no-such-kind; the kinds are: workbench-import"):
        package_plugin(plugin_folder.root / "counter", base="registry/luna-remote-sdk:v.1", out=tmp_path / "out",
                       allow=["no-such-kind"])
    assert not (tmp_path / "out").exists()


def test_package_cli_allow_lists_what_it_waived(plugin_folder, tmp_path, capsys):
    _plugin(plugin_folder)
    out = tmp_path / "out"
    args = ["package", str(plugin_folder.root / "counter"), "--base", "registry/luna-remote-sdk:v.1", "--out", str(out)]
    assert main(args) == 1
    assert "--allow KIND" in capsys.readouterr().err
    assert main([*args, "--allow", "undeclared-import,runtime"]) == 0
    printed = capsys.readouterr().out
    assert "waived: " in printed and "check-record.txt" in printed
