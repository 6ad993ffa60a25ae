"""Reading a plugin's ``requirements.txt`` as ``pip install -r`` would, and mapping imports to distributions."""
from __future__ import annotations

import functools
import importlib.metadata
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from ..plugins._loader import _INTERCHANGEABLE_DISTRIBUTIONS
from ._findings import REQUIREMENTS, Finding, display_path

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

# Import names whose distribution is named otherwise, for when it is not installed here to ask.
IMPORT_TO_DISTRIBUTION: dict[str, str] = {
    "cv2": "opencv-python",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "jwt": "PyJWT",
    "attr": "attrs",
    "Crypto": "pycryptodome",
    "serial": "pyserial",
    "dotenv": "python-dotenv",
    "google": "protobuf",
    "onnxruntime": "onnxruntime",
    "redis": "redis",
    "aio_pika": "aio-pika",
}

_PIP_OPTION = re.compile(r"^(-r|-c|-e|-i|-f|--requirement|--constraint|--editable|--index-url|--extra-index-url"
                         r"|--find-links|--no-binary|--only-binary|--pre|--trusted-host|--prefer-binary)\b")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Requirements:
    """The distributions a ``requirements.txt`` declares, and the lines pip could not read."""

    file: Path | None
    declared: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)

    def declares(self, distribution: str) -> bool:
        name = normalise(distribution)
        # Distributions that install the same module (ONNX Runtime's builds): declaring one declares it.
        family = next((f for f in _INTERCHANGEABLE_DISTRIBUTIONS if name in f), {name})
        return bool(family & self.declared)


def read_requirements(file: Path) -> Requirements:
    """Parse ``file`` line by line (comments, pip options and continuation lines as pip reads them)."""
    result = Requirements(file if file.is_file() else None)
    if result.file is None:
        return result
    for number, raw in enumerate(file.read_text().splitlines(), start=1):
        line = re.split(r"(^|\s)#", raw, maxsplit=1)[0].strip()
        if not line or _PIP_OPTION.match(line):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            result.findings.append(Finding(
                display_path(file), number, f"{line!r} is not a requirement pip can read ({error})",
                "write one distribution per line, e.g. numpy>=1.24 or onnxruntime==1.22.0", REQUIREMENTS,
            ))
            continue
        result.declared.add(normalise(requirement.name))
    return result


@functools.lru_cache(maxsize=1)
def _installed_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(top_level: str) -> list[str]:
    """The distributions that provide the import name ``top_level``: installed ones first, else the table."""
    installed = _installed_distributions().get(top_level)
    if installed:
        return sorted(set(installed))
    return [IMPORT_TO_DISTRIBUTION.get(top_level, top_level)]


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
    """Would ``import module`` (a dotted name) find its module in the service, given the plugin's requirements?"""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "__future__" or top in SERVICE_PROVIDED:
        return ImportVerdict("provided")
    distributions = distributions_of(top)
    if any(requirements.declares(d) for d in distributions):
        return ImportVerdict("declared")
    return ImportVerdict(
        "undeclared",
        f"imports {top} ({' or '.join(distributions)}), which the plugin's requirements.txt does not declare and the "
        "service does not provide",
        f"add {distributions[0]} to {requirements_path}",
    )
