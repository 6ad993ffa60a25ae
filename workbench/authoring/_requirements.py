"""Reading a plugin's ``requirements.txt`` as ``pip install -r`` would, and mapping imports to distributions."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..plugins._requirements_file import DeclaredRequirement, read_requirements_file
from ._findings import REQUIREMENTS, Finding, display_path
from ._import_names import distributions_providing, import_names, provides

# What the service's environment provides to every plugin: the SDK and plugin framework with what they
# import (lunavl's image module imports numpy, PIL and requests), and aiohttp, which the service's own
# monitoring example imports without a requirements.txt. Import name -> distribution.
SERVICE_PROVIDED: dict[str, str] = {
    "lunavl": "lunavl",
    "luna_plugins": "luna-plugins",
    "sdk_loop": "sdk-loop",
    "aiohttp": "aiohttp",
    "numpy": "numpy",
    "PIL": "pillow",
    "requests": "requests",
}


@dataclass
class Requirements:
    """What a plugin's ``requirements.txt`` declares (read as pip reads it), and the lines pip would refuse.

    ``declared`` holds normalised distribution names; ``unnamed`` the requirements whose distribution pip
    learns only by building them (a local path, a URL without ``#egg=``), which could provide any module.
    """

    file: Path | None
    declared: set[str] = field(default_factory=set)
    unnamed: list[DeclaredRequirement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def read_requirements(file: Path) -> Requirements:
    """Read ``file`` with the reader the host uses (includes, options, continuations, markers, URLs)."""
    result = Requirements(file if file.is_file() else None)
    if result.file is None:
        return result
    parsed = read_requirements_file(file)
    for requirement in parsed.requirements:
        if requirement.name is None:
            result.unnamed.append(requirement)
        else:
            result.declared.add(requirement.name)
    result.findings = [Finding(display_path(p.file), p.line, p.message, p.fix, REQUIREMENTS) for p in parsed.problems]
    return result


@dataclass(frozen=True)
class ImportVerdict:
    """Whether the service would find a module a plugin imports: ``status`` is "provided" (stdlib or the
    service's image), "declared" (a requirement provides it), "undeclared" (nothing does: a finding) or
    "unknown" (cannot tell here, e.g. a declared distribution that is not installed and not in the table);
    ``message`` and ``fix`` say what and how, for the last two."""

    status: str
    message: str = ""
    fix: str = ""


def judge_import(module: str, requirements: Requirements, requirements_path: str) -> ImportVerdict:
    """Would ``import module`` (a dotted name) find its module in the service, given the plugin's requirements?

    "undeclared" only when that is certain: every declared distribution's modules are known (installed here or
    in the table) and none is ``module``. Where some are unknown, "unknown", with how to find out.
    """
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__" or top in SERVICE_PROVIDED:
        return ImportVerdict("provided")
    unknown: list[str] = []
    for distribution in sorted(requirements.declared):
        names = import_names(distribution)
        if names is None:
            unknown.append(distribution)
        elif provides(names, module):
            return ImportVerdict("declared")
    # Why each kind cannot be told: a named distribution for want of its metadata, a path or URL for want of a build.
    reasons = ["it is not installed here and not in the workbench's table"] if unknown else []
    if requirements.unnamed:
        reasons.append("a path or URL, whose modules pip learns only by building it")
    unknown += [f"{r.text} (line {r.line})" for r in requirements.unnamed]
    if unknown:
        return ImportVerdict(
            "unknown",
            f"imports {module}, which may come from {', '.join(unknown)} in {requirements_path}: the workbench cannot "
            f"tell which modules that installs ({'; '.join(reasons)})",
            f"install the requirements here (pip install -r {requirements_path}) and check again, or run "
            "workbench check --install",
        )
    providers = distributions_providing(module)
    if providers:
        others = f" (or {', '.join(providers[1:])})" if len(providers) > 1 else ""
        fix = f"add {providers[0]}{others} to {requirements_path}"
    else:
        fix = (f"declare in {requirements_path} the distribution that provides the module {top} "
               f"(its name on PyPI may differ from {top})")
    return ImportVerdict(
        "undeclared",
        f"imports {module}, which the plugin's requirements.txt does not declare and the service does not provide",
        fix,
    )
