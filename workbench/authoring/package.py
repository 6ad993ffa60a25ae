"""``workbench package``: the service's container recipe for one checked plugin.

Writes what the service's documentation describes for containers: a Dockerfile ``FROM`` the service's
image that copies the plugin folder into ``./luna_remote_sdk/plugins/<name>`` owned by ``1001:0`` and
installs its ``requirements.txt``, beside a copy of the plugin (the build context). Refuses when
``check_plugins`` finds a problem.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..plugins import ACTIVE_PLUGINS_ENV
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
    default_estimators: Mapping[str, Any] | None = None,
) -> PackageResult:
    """Check the plugin in ``plugin_dir`` and write ``out/Dockerfile`` and ``out/<name>/`` for ``docker build out``.

    ``active``: the plugin's modules to activate (default: ``<name>.plugin``). Raises ``PackageRefused`` when
    the check finds problems, ``ValueError``/``FileNotFoundError`` for bad arguments.
    """
    folder = Path(plugin_dir).expanduser().resolve()
    if not (folder / "__init__.py").is_file():
        raise FileNotFoundError(f"{folder} is not a plugin folder (a package with an __init__.py)")
    if not _IMAGE.match(base or ""):
        raise ValueError(f"--base must name the service's image, e.g. my-registry/luna-remote-sdk:v.x.x.x, got {base!r}")
    modules = active or default_modules(folder)
    foreign = [m for m in modules if m.split(".")[0] != folder.name]
    if foreign:
        raise ValueError(f"modules {foreign} are not in the plugin {folder.name}: name modules like {folder.name}.plugin")
    report = check_plugins(folder.parent, modules, default_estimators=default_estimators)
    if not report.ok:
        raise PackageRefused(report)
    destination = Path(out).expanduser().resolve()
    if folder == destination or folder in destination.parents:
        raise ValueError(f"--out {destination} lies inside the plugin folder; choose a folder outside it")
    destination.mkdir(parents=True, exist_ok=True)
    context = destination / folder.name
    if context.exists():
        shutil.rmtree(context)
    shutil.copytree(folder, context, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    requirements = folder / "requirements.txt"
    dockerfile = destination / "Dockerfile"
    dockerfile.write_text(dockerfile_text(folder.name, base, install_requirements=requirements.is_file()))
    result = PackageResult(dockerfile, context, ",".join(modules), report)
    (destination / "active-plugins.env").write_text(result.environment + "\n")
    return result
