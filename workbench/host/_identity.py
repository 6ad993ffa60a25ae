"""What an estimator *is*, as a content hash: the key a prediction cache needs.

A name is not an identity: ``"default"`` is whatever model the host was given, and a plugin's class name stays
the same while its files are edited. The identity hashes the files that decide the estimator's answers:

* the default people counter: its ONNX model and the description beside it (``model.onnx`` + ``model.json``);
  the vendor SDK's (``default="sdk"``): the core's binding and the configuration files, with its version and
  settings in the label (``factory_settings``);
* a replacement plugin: every file of its plugin folder (code, requirements, models kept there);
* any other factory (a test's, a user's callable): the source file that defines it.

Files a plugin reads from elsewhere (a model named by an environment variable, say) are not seen: change the
plugin folder, or clear the cache, when only such a file changes.
"""
from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["factory_files", "factory_settings", "files_digest", "plugin_files"]

_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints"})


def files_digest(label: str, files: Iterable[Path]) -> str:
    """``label:sha256`` over the files' names and contents, in a stable order."""
    digest = hashlib.sha256(label.encode())
    for path in sorted(set(files)):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return f"{label}:{digest.hexdigest()[:32]}"


def plugin_files(plugin: Any, plugins_dir: Path) -> list[Path]:
    """The files of the plugin folder that defines ``plugin``'s class (its top-level package in ``plugins_dir``)."""
    source = Path(inspect.getfile(type(plugin))).resolve()
    try:
        top = plugins_dir / source.relative_to(plugins_dir).parts[0]
    except ValueError:  # defined outside the plugins folder: its own file is all there is to hash
        return [source]
    if top.is_file():
        return [top]
    return [
        p for p in top.rglob("*")
        if p.is_file() and p.suffix != ".pyc" and not _SKIPPED_DIRS.intersection(p.relative_to(top).parts)
    ]


def factory_files(factory: Any) -> list[Path]:
    """The files behind a default-estimator factory: its model and description, or its source file."""
    from ..estimators.default import DEFAULT_MODEL, create_default_people_counter, models_dir
    from ._vendor_default import VendorDefault

    owner = getattr(factory, "__self__", None)
    if isinstance(owner, VendorDefault):
        return owner.identity_files()
    model = getattr(owner, "path", None)
    if factory is create_default_people_counter:
        model = models_dir() / DEFAULT_MODEL
    if isinstance(model, Path):
        return [p for p in (model, model.with_suffix(".json")) if p.is_file()]
    return [Path(inspect.getfile(factory)).resolve()]


def factory_settings(factory: Any) -> str:
    """What else decides a default factory's answers beside its files, for the label of its identity: the
    vendor SDK's version and settings; nothing for a model (its files say it all)."""
    from ._vendor_default import VendorDefault

    owner = getattr(factory, "__self__", None)
    return owner.identity_settings if isinstance(owner, VendorDefault) else ""
