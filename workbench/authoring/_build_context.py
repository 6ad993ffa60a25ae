"""The files ``workbench package`` writes, written so that nothing it did not create is lost.

An output folder holds ``MANIFEST`` listing what ``package`` wrote there; a later run may replace exactly those
entries and refuses to touch anything else that is in the way. The plugin is copied with its links kept as links,
and refused when one leads outside the plugin folder (it would copy a host file into the image) or resolves
nowhere. The copy is made beside its place and moved in at the end, so a failure leaves no half-written context.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

MANIFEST = ".workbench-package.json"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def check_places(plugin: Path, out: Path) -> None:
    """Refuse an output folder inside the plugin, or one that holds the plugin (``out/<name>`` would be it)."""
    if out == plugin or plugin in out.parents:
        raise ValueError(f"--out {out} lies inside the plugin folder {plugin}; choose a folder outside it")
    if out in plugin.parents:
        raise ValueError(f"the plugin folder {plugin} lies inside --out {out}, where package writes a copy of it; "
                         "choose a new or empty folder outside the plugin's")


def check_links(plugin: Path) -> None:
    """Refuse symbolic links that lead outside ``plugin`` or resolve nowhere (a loop, a missing target)."""
    bad = []
    for folder, folders, files in os.walk(plugin):
        for name in (*folders, *files):
            link = Path(folder) / name
            if not link.is_symlink() or _IGNORED(folder, [name]):
                continue
            try:
                target = link.resolve(strict=True)
            except (OSError, RuntimeError):  # RuntimeError: a loop, before Python 3.13
                bad.append(f"{link.relative_to(plugin)} -> {os.readlink(link)} (resolves nowhere)")
                continue
            if target != plugin and plugin not in target.parents:
                bad.append(f"{link.relative_to(plugin)} -> {target} (outside the plugin)")
    if bad:
        raise ValueError(f"the plugin folder {plugin} has links the image must not get: {'; '.join(bad)}; replace "
                         "each with the file it stands for, or remove it")


def written_before(out: Path) -> set[str]:
    """The entries of ``out`` an earlier ``package`` run wrote (none where it has no manifest)."""
    try:
        return set(json.loads((out / MANIFEST).read_text())["written"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def check_free(out: Path, names: list[str]) -> None:
    """Refuse when one of ``names`` exists in ``out`` and no earlier ``package`` run wrote it."""
    ours = written_before(out)
    taken = [name for name in names if (out / name).exists() or (out / name).is_symlink()]
    foreign = [name for name in taken if name not in ours]
    if foreign:
        raise ValueError(f"--out {out} already holds {', '.join(foreign)}, which workbench package did not write "
                         "there; move it away or choose another --out (nothing was changed)")


def write(out: Path, plugin: Path, files: dict[str, str]) -> None:
    """Write the copy of ``plugin`` as ``out/<name>`` and each of ``files`` (name -> text), and the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    context = out / plugin.name
    staging = Path(tempfile.mkdtemp(prefix=f".{plugin.name}-", dir=out))
    try:
        copy = staging / plugin.name
        shutil.copytree(plugin, copy, symlinks=True, ignore=_IGNORED)
        if context.exists() or context.is_symlink():
            shutil.rmtree(context)  # only reached for a context an earlier run wrote (check_free)
        copy.rename(context)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name, text in files.items():
        (out / name).write_text(text)
    (out / MANIFEST).write_text(json.dumps({"written": sorted([plugin.name, *files])}, indent=1) + "\n")
