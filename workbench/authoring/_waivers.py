"""Findings an author accepts, with a record: ``# workbench: ignore[KIND]`` on the finding's line, and
``workbench package --allow KIND``.

A waived finding is not dropped: the report lists it apart, with the comment or flag that waived it, so the
record travels with the output (and ``package`` writes it into the build context). An ignore comment must name
the kinds it waives: a bare ``# workbench: ignore`` or an unknown kind is itself a finding, and a comment that
matched nothing is listed, so stale ones can be removed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ._findings import IGNORE_COMMENT, KINDS, Finding, display_path

_COMMENT = re.compile(r"#\s*workbench:\s*ignore\b(?:\[([^\]]*)\])?")


@dataclass(frozen=True)
class Waived:
    """A finding the author accepted, and how: the ignore comment's place or the ``package --allow`` flag."""

    finding: Finding
    how: str

    def __str__(self) -> str:
        return f"{self.finding} (waived by {self.how})"


@dataclass(frozen=True)
class IgnoreComment:
    """One ``# workbench: ignore[KIND, ...]`` comment."""

    file: str
    line: int
    kinds: frozenset[str]

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: # workbench: ignore[{', '.join(sorted(self.kinds))}]"


def read_ignore_comments(files: Iterable[Path]) -> tuple[list[IgnoreComment], list[Finding]]:
    """The ignore comments of ``files``, and a finding for each one that names no kind or an unknown kind."""
    comments: list[IgnoreComment] = []
    problems: list[Finding] = []
    for file in files:
        try:
            lines = file.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, start=1):
            match = _COMMENT.search(text)
            if match is None:
                continue
            where = display_path(file)
            kinds = frozenset(k.strip() for k in (match.group(1) or "").split(",") if k.strip())
            unknown = sorted(kinds - set(KINDS))
            if not kinds or unknown:
                what = f"names unknown kinds {', '.join(unknown)}" if unknown else "names no kind"
                problems.append(Finding(
                    where, number, f"the comment '# workbench: ignore' {what}",
                    f"write # workbench: ignore[KIND] with one of: {', '.join(KINDS)}", IGNORE_COMMENT,
                ))
                continue
            comments.append(IgnoreComment(where, number, kinds))
    return comments, problems


def waive_by_comment(
    findings: list[Finding], comments: list[IgnoreComment]
) -> tuple[list[Finding], list[Waived], list[IgnoreComment]]:
    """Split ``findings`` into those kept and those an ignore comment on their line waives; the comments that
    waived nothing come third."""
    by_place = {(c.file, c.line): c for c in comments}
    kept: list[Finding] = []
    waived: list[Waived] = []
    used: set[IgnoreComment] = set()
    for finding in findings:
        comment = by_place.get((finding.file, finding.line))
        if comment is not None and finding.kind in comment.kinds:
            waived.append(Waived(finding, f"# workbench: ignore[{finding.kind}] at {comment.file}:{comment.line}"))
            used.add(comment)
        else:
            kept.append(finding)
    return kept, waived, [c for c in comments if c not in used]


def allowed_kinds(kinds: Iterable[str]) -> frozenset[str]:
    """The finding kinds given to ``package --allow``; an unknown one is a usage error naming the known ones."""
    allowed = frozenset(kinds)
    unknown = sorted(allowed - set(KINDS))
    if unknown:
        raise ValueError(f"--allow names unknown finding kinds {', '.join(unknown)}; the kinds are: {', '.join(KINDS)}")
    return allowed


def waive_kinds(findings: list[Finding], allowed: frozenset[str]) -> tuple[list[Finding], list[Waived]]:
    """Split ``findings`` into those kept and those of the ``allowed`` kinds (``package --allow``)."""
    kept = [f for f in findings if f.kind not in allowed]
    waived = [Waived(f, f"package --allow {f.kind}") for f in findings if f.kind in allowed]
    return kept, waived
