"""``workbench new NAME --kind event|background|estimator [--dir plugins]``: start a plugin in the service's layout.

Writes ``<dir>/NAME/__init__.py``, ``plugin.py``, ``requirements.txt``, ``README.md`` (a working minimal plugin
of that kind, importing only the service's names) and ``tests/test_NAME.py`` (which runs it through the
workbench's pytest fixtures). It never overwrites: if any of those files exists, nothing is written. A name
the service's host would refuse to load (the host's own check decides) is refused, with a name it would take.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from .._compat import SERVICE_PACKAGES
from ..plugins._errors import PluginError
from ..plugins._loader import MAX_MODULE_NAME, check_plugin_module_name
from . import _templates

__all__ = ["KINDS", "ScaffoldRefused", "register", "scaffold_plugin"]

KINDS: tuple[str, ...] = ("event", "background", "estimator")
# The module the service is told to activate, inside the plugin's package.
_MODULE = "plugin"


class ScaffoldRefused(Exception):
    """``workbench new`` wrote nothing: a bad name or kind, or files that already exist."""


def _class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) + "Plugin"


def _refusal(name: str, folder: Path) -> str | None:
    """Why the service's host would refuse to load ``name``'s plugin module, or None when it would load it."""
    if name in SERVICE_PACKAGES:
        # Not installed here, but installed in the service, where the host resolves the name to that package.
        return f"{name!r} is the service's own package, which its host imports instead of the plugin"
    try:
        check_plugin_module_name(folder, f"{name}.{_MODULE}", written=False)
    except PluginError as error:
        return error.reason
    return None


def _suggested_name(name: str, folder: Path) -> str | None:
    """A name close to ``name`` that the host accepts: ``json_plugin`` for ``json``, ``my_plugin`` for ``My-Plugin``."""
    stem = re.sub(r"\W+", "_", name).strip("_").lower()
    if not stem[:1].isalpha():
        stem = f"plugin_{stem}".rstrip("_")
    stem = stem[:MAX_MODULE_NAME - len(f"_plugin.{_MODULE}")]
    return next((c for c in (stem, f"{stem}_plugin") if c != name and _refusal(c, folder) is None), None)


def _check_name(name: str, folder: Path) -> None:
    """Refuse a name the service's host would refuse, with the host's reason and a name it would accept."""
    reason = _refusal(name, folder)
    if reason is not None:
        suggestion = _suggested_name(name, folder)
        instead = f"; try {suggestion!r}" if suggestion else "; choose another name"
        raise ScaffoldRefused(f"plugin name {name!r} is refused, as the service would refuse it: {reason}{instead}")


def scaffold_plugin(name: str, kind: str, plugins_dir: str | os.PathLike = "plugins",
                    root: str | os.PathLike = ".") -> list[Path]:
    """Write a new plugin ``name`` of ``kind`` into ``root/plugins_dir`` and its test into ``root/tests``.

    Returns the files written. Raises ``ScaffoldRefused`` (writing nothing) for a bad name or kind, or when
    any of the files exists already.
    """
    if kind not in KINDS:
        raise ScaffoldRefused(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    root_dir = Path(root).resolve()
    folder = (root_dir / plugins_dir).resolve()
    _check_name(name, folder)
    package = folder / name
    # The test finds the plugins folder from its own place, so the repository can be checked out anywhere.
    plugins_relative = Path(os.path.relpath(folder, root_dir)).as_posix()
    fields = {"name": name, "cls": _class_name(name), "kind": kind, "plugins": plugins_relative}
    files = {
        package / "__init__.py": _templates.INIT,
        package / "plugin.py": _templates.PLUGIN[kind].format(**fields),
        package / "requirements.txt": _templates.REQUIREMENTS[kind],
        package / "README.md": _templates.README.format(**fields, what=_templates.WHAT[kind].format(**fields)),
        root_dir / "tests" / f"test_{name}.py": _templates.TEST[kind].format(**fields),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ScaffoldRefused(f"not overwriting {', '.join(existing)}; remove them or choose another name")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``workbench new`` to the top-level parser's subcommands."""
    parser = subparsers.add_parser(
        "new",
        help="start a plugin in the service's layout, with a test that runs it through the workbench",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("name", help="the plugin's package name, e.g. my_plugin")
    parser.add_argument("--kind", required=True, choices=KINDS, help="event, background or estimator (replacement)")
    parser.add_argument("--dir", default="plugins", help="the plugins folder (default: plugins); tests go to ./tests")
    parser.set_defaults(func=_new)


def _new(args: argparse.Namespace) -> int:
    try:
        written = scaffold_plugin(args.name, args.kind, args.dir)
    except ScaffoldRefused as error:
        print(f"workbench new: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {os.path.relpath(path)}")
    print(f"next: pytest tests/test_{args.name}.py; workbench serve --plugins-dir {args.dir} --active {args.name}.plugin")
    return 0
