"""``workbench package``: the service's container recipe for one checked plugin.

Writes what the service's documentation describes for containers: a Dockerfile ``FROM`` the service's
image that copies the plugin folder into ``./luna_remote_sdk/plugins/<name>`` owned by ``1001:0`` and
installs its ``requirements.txt``, beside a copy of the plugin (the build context). Refuses when
``check_plugins`` finds a problem, except findings of the kinds the author allows (``allow``, the CLI's
``--allow KIND``); what was allowed, waived by comment or could not be verified is written beside the
Dockerfile (``check-record.txt``) and listed in the output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..plugins import ACTIVE_PLUGINS_ENV
from . import _build_context
from ._waivers import allowed_kinds, waive_kinds
from .check import CheckReport, check_plugins

SERVICE_PLUGINS_FOLDER = "./luna_remote_sdk/plugins"
PLUGIN_OWNER = "1001:0"
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


class PackageRefused(Exception):
    """``check`` found problems; the report says which."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(f"not packaged: workbench check found {len(report.findings)} problem(s)")
        self.report = report


@dataclass
class PackageResult:
    """What was written, and the value of ``LUNA_REMOTE_SDK_ACTIVE_PLUGINS`` to set in the service."""

    dockerfile: Path
    context: Path
    active_plugins: str
    report: CheckReport
    record: Path

    @property
    def environment(self) -> str:
        return f"{ACTIVE_PLUGINS_ENV}={self.active_plugins}"


def default_modules(plugin_dir: Path) -> list[str]:
    """The module to activate: ``<name>.plugin`` where the folder has a plugin.py, else the package itself."""
    name = plugin_dir.name
    return [f"{name}.plugin"] if (plugin_dir / "plugin.py").is_file() else [name]


def dockerfile_text(name: str, base: str, *, install_requirements: bool) -> str:
    target = f"{SERVICE_PLUGINS_FOLDER}/{name}"
    lines = [
        f"FROM {base}",
        "",
        "# Copy the plugin into the service's plugins folder, owned by the service's user",
        f"COPY --chown={PLUGIN_OWNER} {name} {target}",
    ]
    if install_requirements:
        lines += ["", "# Install the plugin's dependencies before the service starts",
                  f"RUN pip install --no-cache-dir -r {target}/requirements.txt"]
    return "\n".join(lines) + "\n"


def package_plugin(
    plugin_dir: str | Path,
    *,
    base: str,
    out: str | Path,
    active: list[str] | None = None,
    allow: Iterable[str] = (),
    default_estimators: Mapping[str, Any] | None = None,
) -> PackageResult:
    """Check the plugin in ``plugin_dir`` and write ``out/Dockerfile`` and ``out/<name>/`` for ``docker build out``.

    ``active``: the plugin's modules to activate (default: ``<name>.plugin``). ``allow``: finding kinds the
    author knows to be wrong here; they do not refuse the package and are recorded in ``out/check-record.txt``.
    Raises ``PackageRefused`` when the check finds other problems, ``ValueError``/``FileNotFoundError`` for bad
    arguments.
    """
    allowed = allowed_kinds(allow)  # an unknown kind is a usage error before anything runs
    folder = Path(plugin_dir).expanduser().resolve()
    if not (folder / "__init__.py").is_file():
        raise FileNotFoundError(f"{folder} is not a plugin folder (a package with an __init__.py)")
    if not _IMAGE.match(base or ""):
        raise ValueError(f"--base must name the service's image, e.g. my-registry/luna-remote-sdk:v.x.x.x, got {base!r}")
    modules = active or default_modules(folder)
    foreign = [m for m in modules if m.split(".")[0] != folder.name]
    if foreign:
        raise ValueError(f"modules {foreign} are not in the plugin {folder.name}: name modules like {folder.name}.plugin")
    destination = Path(out).expanduser().resolve()
    outputs = ["Dockerfile", "check-record.txt", "active-plugins.env"]
    # Before the check runs: a refused output costs nothing, and nothing is written.
    _build_context.check_places(folder, destination)
    _build_context.check_links(folder)
    _build_context.check_free(destination, [folder.name, *outputs])
    report = check_plugins(folder.parent, modules, default_estimators=default_estimators)
    report.findings, allowed_findings = waive_kinds(report.findings, allowed)
    report.waived += allowed_findings
    if not report.ok:
        raise PackageRefused(report)
    result = PackageResult(destination / "Dockerfile", destination / folder.name, ",".join(modules), report,
                           destination / "check-record.txt")
    dockerfile = dockerfile_text(folder.name, base, install_requirements=(folder / "requirements.txt").is_file())
    _build_context.write(destination, folder, dict(zip(outputs, [dockerfile, f"{report}\n", f"{result.environment}\n"])))
    return result
