"""``workbench check --install``: install a plugin's requirements.txt into a clean virtual environment and
import the plugin there, as the service's install step would.

The clean environment sees only what the plugin declares plus what the service provides: the service's
distributions installed here (aiohttp, numpy, pillow, requests, with their dependencies) are linked into a
folder appended to its path, with the workbench's SDK and framework stand-ins for the ``lunavl`` and
``luna_plugins`` import paths. Anything else the plugin imports must come from its requirements.txt.
"""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import tempfile
import venv
from pathlib import Path

from packaging.requirements import Requirement

from ._findings import INSTALL, Finding, display_path
from ..plugins._requirements_file import normalise_name, read_requirements_file
from ._requirements import SERVICE_PROVIDED

_STANDIN_DEPENDENCIES = ("packaging",)
_INSTALL_TIMEOUT = 900

# The service has no ``workbench`` package, so the clean environment must not have one either (a plugin's
# ``importlib.import_module("workbench")`` must fail there as in the service): the stand-ins for ``lunavl`` and
# ``luna_plugins`` come from the workbench's folder registered under a private name, and ``_compat.install()``
# resolves the service's module paths to modules of that package.
STANDIN_PACKAGE = "_luna_service_standin"

_BOOTSTRAP = """
import importlib, sys, types
sys.path.append({layer!r})
sys.path.insert(0, {plugins_dir!r})
package = types.ModuleType({standin!r})
package.__path__ = [{workbench_dir!r}]
sys.modules[{standin!r}] = package
importlib.import_module({standin!r} + "._compat").install()
for module in {modules!r}:
    importlib.import_module(module)
"""


def _closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` and everything they require (extras left out)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = normalise_name(pending.pop())
        if name in found:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found[name] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(found.values())


def _service_layer(folder: Path) -> None:
    """Link the top-level entries of the service's distributions (as installed here) into ``folder``."""
    folder.mkdir()
    for distribution in _closure([*SERVICE_PROVIDED.values(), *_STANDIN_DEPENDENCIES]):
        for file in distribution.files or []:
            top = file.parts[0]
            source = Path(str(distribution.locate_file(top)))
            target = folder / top
            if top not in ("..", "__pycache__") and source.exists() and not target.exists():
                target.symlink_to(source)


def install_and_import(plugins_dir: Path, package: str, modules: list[str]) -> list[Finding]:
    """Install ``package``'s requirements.txt in a new virtual environment and import ``modules`` there."""
    requirements = plugins_dir / package / "requirements.txt"
    where = display_path(requirements if requirements.is_file() else plugins_dir / package)
    # pip itself installs the file (includes, options and all); it is read here only to skip creating pip in
    # the environment (slow, and online) when nothing would be installed.
    has_requirements = requirements.is_file() and bool(read_requirements_file(requirements).requirements)
    with tempfile.TemporaryDirectory(prefix="workbench-check-") as scratch:
        environment = Path(scratch) / "venv"
        venv.EnvBuilder(with_pip=has_requirements, clear=True).create(environment)
        python = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if has_requirements:
            step = subprocess.run(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(requirements)],
                capture_output=True, text=True, timeout=_INSTALL_TIMEOUT,
            )
            if step.returncode != 0:
                return [Finding(where, 1, f"pip install -r requirements.txt failed in a clean environment: "
                                f"{_last_line(step.stderr or step.stdout)}",
                                "fix the requirement pip names (pip install -r requirements.txt shows the whole log)",
                                INSTALL)]
        layer = Path(scratch) / "service"
        _service_layer(layer)
        script = _BOOTSTRAP.format(
            layer=str(layer), plugins_dir=str(plugins_dir), standin=STANDIN_PACKAGE,
            workbench_dir=str(Path(__file__).resolve().parents[1]), modules=modules,
        )
        step = subprocess.run([str(python), "-I", "-c", script], capture_output=True, text=True,
                              timeout=_INSTALL_TIMEOUT, cwd=scratch)
        if step.returncode != 0:
            return [Finding(where, 1, f"importing {', '.join(modules)} after installing requirements.txt in a clean "
                            f"environment failed: {_last_line(step.stderr)}",
                            "declare in requirements.txt every distribution the plugin imports", INSTALL)]
    return []


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


