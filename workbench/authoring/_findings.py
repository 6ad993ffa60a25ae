"""One problem ``workbench check`` found, at one line of one file."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The kinds of finding, for filtering and for the docs.
WORKBENCH_IMPORT = "workbench-import"
UNDECLARED_IMPORT = "undeclared-import"
SDK_SURFACE = "not-in-service"
REQUIREMENTS = "requirements"
DUPLICATE_ACTIVATION = "duplicate-activation"
SYNTAX = "syntax"
MISSING = "missing-module"
RUNTIME = "runtime"
INSTALL = "install"
# Not a problem found: something check could not tell either way here (a requirement whose import names are
# unknown without installing it, ...). Reported apart from the findings, with how to find out; never a failure.
CANNOT_VERIFY = "cannot-verify"
# A ``# workbench: ignore`` comment that names no kind or an unknown one.
IGNORE_COMMENT = "ignore-comment"
KINDS = (
    WORKBENCH_IMPORT, UNDECLARED_IMPORT, SDK_SURFACE, REQUIREMENTS, DUPLICATE_ACTIVATION, SYNTAX, MISSING, RUNTIME, INSTALL,
    IGNORE_COMMENT,
)


@dataclass(frozen=True, order=True)
class Finding:
    """``file:line: what is wrong; how to fix it``."""

    file: str
    line: int
    message: str
    fix: str
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}; {self.fix}"


def display_path(path: str | Path) -> str:
    """``path`` relative to the working folder where it lies below it (shorter lines), else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)
