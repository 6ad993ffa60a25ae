"""``workbench check``: would these plugins run in the service, unchanged?"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._compat import service_providers
from ..host._surface import service_surface
from ..plugins import ACTIVE_PLUGINS_ENV, parse_active_plugins
from ._exercise import exercise_plugins
from ._findings import CANNOT_VERIFY, MISSING, Finding, display_path
from ._install import install_and_import
from ._static import plugin_files, scan_plugin
from ._waivers import IgnoreComment, Waived, read_ignore_comments, waive_by_comment


@dataclass
class CheckReport:
    """The findings of one check, stamped with the SDK reference commit they were checked against."""

    plugins_dir: Path
    active: list[str]
    findings: list[Finding] = field(default_factory=list)
    # What check could not tell either way here, each with how to find out: not findings, not a pass.
    unverified: list[Finding] = field(default_factory=list)
    # Findings the author accepted (``# workbench: ignore[KIND]``, ``package --allow KIND``), with how.
    waived: list[Waived] = field(default_factory=list)
    # Ignore comments that matched no finding in this check (stale, or for a step that did not run).
    unused_ignores: list[IgnoreComment] = field(default_factory=list)
    reference_commit: str = ""
    ran: bool = True
    installed: bool = False
    providers: dict[str, str] = field(default_factory=dict)
    # What the strict run did (plugins started, requests sent and not sent, batches run), for the summary.
    exercised: list[str] = field(default_factory=list)
    # What the run saw that is no failure, said so that nobody mistakes it for one (a route's deliberate 503).
    information: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        """0: no findings and nothing left unverified; 1: findings; 3: no findings, but something could not
        be verified here (see ``unverified``)."""
        if self.findings:
            return 1
        return 3 if self.unverified else 0

    @property
    def summary(self) -> str:
        steps = ["static scan"] + (["strict run"] if self.ran else []) + (["clean install"] if self.installed else [])
        verdict = "no findings" if self.ok else f"{len(self.findings)} finding{'s' * (len(self.findings) != 1)}"
        if self.unverified:
            verdict += f", {len(self.unverified)} thing{'s' * (len(self.unverified) != 1)} it could not verify"
        if self.waived:
            verdict += f", {len(self.waived)} waived"
        answered = "; ".join(f"{name} from {provider}" for name, provider in self.providers.items())
        lines = [
            f"workbench check: {verdict} in {', '.join(self.active)} ({' + '.join(steps)}; lunavl reference "
            f"{self.reference_commit[:12]}, plugin framework per the service's docs; {answered})"
        ]
        if self.exercised:
            lines.append(f"  exercised: {'; '.join(self.exercised)}")
        lines += [f"  information: {note}" for note in self.information]
        return "\n".join(lines)

    def __str__(self) -> str:
        return "\n".join(self.lines() + [self.summary])

    def lines(self) -> list[str]:
        """The findings, then what could not be verified, what was waived and the ignore comments unused."""
        return [
            *map(str, self.findings),
            *(f"cannot verify: {u}" for u in self.unverified),
            *(f"waived: {w}" for w in self.waived),
            *(f"unused ignore comment: {c}" for c in self.unused_ignores),
        ]

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in self.lines())
        return f"<div><b>{html.escape(self.summary)}</b><ul>{rows}</ul></div>"


def check_plugins(
    plugins_dir: str | Path,
    active: str | Iterable[str] | None = None,
    *,
    run: bool = True,
    install: bool = False,
    default_estimators: Mapping[str, Any] | None = None,
    exercise_writes: bool = False,
) -> CheckReport:
    """Check the ``active`` modules (``None``: ``$LUNA_REMOTE_SDK_ACTIVE_PLUGINS``) of ``plugins_dir``.

    Always a static scan of each active plugin's files and requirements.txt; with ``run`` (the default) a
    strict-mode run that loads, starts and exercises them, in a new, empty working folder (the service's is
    not the plugin's folder); with ``install`` a clean virtual environment where requirements.txt is
    installed and each module imported (slow). The run sends routes only GET, HEAD and OPTIONS requests:
    a method that may write is reported as not verified, and sent only with ``exercise_writes`` (against a
    plugin not wired to a store that matters). ``report.exercised`` says what the run did. Raises
    ``FileNotFoundError`` or ``ValueError`` for a usage error (no such folder, nothing active).
    """
    folder = Path(plugins_dir).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"plugins folder {folder} does not exist or is not a folder")
    modules = parse_active_plugins(active)
    if not modules:
        raise ValueError(f"no active plugins: pass --active my_plugin.plugin or set {ACTIVE_PLUGINS_ENV}")
    surface = service_surface()
    report = CheckReport(folder, modules, reference_commit=surface.reference_commit, ran=run, installed=install,
                         providers={name: str(provider) for name, provider in service_providers().items()})
    missing = [module for module in modules if not _module_exists(folder, module)]
    for module in missing:
        expected = folder.joinpath(*module.split(".")).with_suffix(".py")
        report.findings.append(Finding(
            display_path(expected), 1, f"no module {module} in {display_path(folder)} (nor a package of that name)",
            f"check the name in --active / {ACTIVE_PLUGINS_ENV} and that the plugin folder has an __init__.py", MISSING,
        ))
    present = [module for module in modules if module not in missing]
    packages = list(dict.fromkeys(module.split(".")[0] for module in present))
    for package in packages:
        report.findings += scan_plugin(folder, package, surface)
    if run and present:
        exercise = exercise_plugins(folder, present, default_estimators=default_estimators,
                                    exercise_writes=exercise_writes)
        report.findings += exercise.findings
        report.exercised, report.information = exercise.exercised, exercise.information
    if install:
        for package in packages:
            report.findings += install_and_import(folder, package, [m for m in present if m.split(".")[0] == package])
    comments, bad_comments = read_ignore_comments(
        file for package in packages for file in (*plugin_files(folder, package), folder / package / "requirements.txt")
    )
    everything = _deduplicated(report.findings + bad_comments)
    report.unverified = [f for f in everything if f.kind == CANNOT_VERIFY]
    report.findings, report.waived, report.unused_ignores = waive_by_comment(
        [f for f in everything if f.kind != CANNOT_VERIFY], comments
    )
    return report


def _module_exists(plugins_dir: Path, module: str) -> bool:
    base = plugins_dir.joinpath(*module.split("."))
    package_ok = all((plugins_dir.joinpath(*module.split(".")[:i]) / "__init__.py").is_file() for i in range(1, module.count(".") + 1))
    return package_ok and (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file())


def _deduplicated(findings: list[Finding]) -> list[Finding]:
    """One finding per file, line and kind (the static scan and the strict run often see the same use)."""
    seen: set[tuple[str, int, str]] = set()
    kept = []
    for finding in findings:
        key = (finding.file, finding.line, finding.kind)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return sorted(kept, key=lambda f: (f.file, f.line))
