"""The service documentation's three example plugins, extracted verbatim into a plugins folder.

The examples live as indented code blocks in ``../shared/reference/*.txt``; tests load them unchanged, in the
service's folder layout, to prove the workbench runs published plugins as they are.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

# (module folder, the line that opens the block, the text of the line that follows the block)
_BLOCKS = {
    "reference_monitoring": ("Monitoring plugin example:", "This plugin demonstrates the sending"),
    "reference_background": ("Plugin example:", "This plugin demonstrates background work"),
    "reference_estimator": ("Plugin example:", "This plugin demonstrates replacement"),
}
MODULES = {name: f"{name}.plugin" for name in _BLOCKS}


def _extract(lines: list[str], opener: str, closer: str, skip: int) -> str:
    starts = [i for i, line in enumerate(lines) if line.strip() == opener]
    start = starts[skip] + 1
    end = next(i for i in range(start, len(lines)) if lines[i].strip().startswith(closer))
    return textwrap.dedent("\n".join(lines[start:end])).strip() + "\n"


def reference_sources(reference_dir: Path) -> dict[str, str]:
    """Module folder name -> the example's source code."""
    lines = (reference_dir / "service-plugins.txt").read_text().splitlines()
    sources = {}
    seen: dict[str, int] = {}
    for name, (opener, closer) in _BLOCKS.items():
        sources[name] = _extract(lines, opener, closer, seen.get(opener, 0))
        seen[opener] = seen.get(opener, 0) + 1
    return sources


def write_reference_plugins(reference_dir: Path, plugins_dir: Path) -> dict[str, str]:
    """Write each example as ``<plugins_dir>/<name>/plugin.py`` with an ``__init__.py``; returns name -> module."""
    for name, source in reference_sources(reference_dir).items():
        folder = plugins_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
        (folder / "plugin.py").write_text(source)
    return dict(MODULES)
