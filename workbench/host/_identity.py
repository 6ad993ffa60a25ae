"""What an estimator *is*, as a content hash: the key a prediction cache needs.

A name is not an identity: ``"default"`` is whatever model the host was given, and a plugin's class name stays
the same while its files are edited. The identity covers everything that decides the estimator's answers:

* the default people counter and the ``models=`` estimators: the ONNX model and the description beside it
  (``model.onnx`` + ``model.json``), and how huge images are handled (``$WORKBENCH_ESTIMATE_MAX_PIXELS``,
  ``$WORKBENCH_LARGE_IMAGES``, read by ``estimators._tiling.tiling_from_environment``); the vendor SDK's
  (``default="sdk"``): the core's binding and the configuration files, with its version and settings in the label
  (``factory_settings``);
* a replacement plugin: every file of its plugin folder (code, requirements, models kept there) and what it
  declares beside them in ``identityInputs()``: the files it reads from elsewhere (a model named by an environment
  variable, a shared models folder), the environment variables it reads, and the settings it goes by. A plugin
  without ``identityInputs()`` cannot be identified (its folder alone did not show a model switched by
  ``$PEOPLE_COUNT_ONNX_MODEL``: 24 of 24 answers came from the old model's cache), so ``estimator_identity`` raises
  ``UnidentifiedEstimatorError`` and its results are computed, never served from a cache;
* any other factory (a test's, a user's callable): the source file that defines it.

The identity is read when an estimator's pool is built, beside its instances' own reading of their model and
environment (``EstimatorSlot.built_identity``), and an open pool answers with that one: a variable changed after
the served estimator was built must not give its old model's answers the new model's key.

``identityInputs()`` is the plugin's own method, which the service never calls: it returns a mapping with any of
``"files"`` (paths; one that does not exist counts as absent, so creating it changes the identity),
``"environment"`` (variable names; their values, or their absence, count) and ``"settings"`` (JSON values, e.g.
the device the plugin chose). ``{}`` says the plugin folder is all there is.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "IDENTITY_INPUTS", "DeclaredInputs", "UnidentifiedEstimatorError", "declared_inputs", "factory_files",
    "factory_settings", "files_digest", "plugin_files",
]

#: The method a replacement plugin defines to say what decides its answers beside its folder.
IDENTITY_INPUTS = "identityInputs"
_INPUT_KINDS = ("files", "environment", "settings")
_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints"})


class UnidentifiedEstimatorError(LookupError):
    """An estimator whose answers depend on more than the workbench can see: a cache must not serve it.

    Attributes:
        seen: the identity of what could be seen (its plugin folder), for a store that lives no longer than the
            estimator it holds (the Explorer's keys): never a key another run may be served from.
    """

    def __init__(self, message: str, seen: str) -> None:
        super().__init__(message)
        self.seen = seen


@dataclass(frozen=True)
class DeclaredInputs:
    """What a plugin's ``identityInputs()`` named: its files, and its environment variables' values and settings
    as one canonical text."""

    files: tuple[Path, ...]
    settings: str


def files_digest(label: str, files: Iterable[Path], settings: str = "") -> str:
    """``label:sha256`` over ``settings`` and the files' names and contents (a missing file as absent), in a
    stable order."""
    digest = hashlib.sha256(label.encode())
    if settings:
        digest.update(b"\0settings\0" + settings.encode())
    for path in sorted(set(files)):
        digest.update(path.name.encode() + b"\0")
        if not path.is_file():
            digest.update(b"\0absent\0")
            continue
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


def declared_inputs(plugin: Any, name: str, seen: str) -> DeclaredInputs:
    """What ``plugin``'s ``identityInputs()`` says decides its answers beside its folder (whose identity is
    ``seen``).

    Raises:
        UnidentifiedEstimatorError: the plugin has no ``identityInputs()``.
        TypeError, ValueError: it returned something else than the mapping the module docstring describes; the
            message names the plugin and the wrong part.
    """
    declare = getattr(plugin, IDENTITY_INPUTS, None)
    where = f"{type(plugin).__name__}.{IDENTITY_INPUTS}()"
    if not callable(declare):
        raise UnidentifiedEstimatorError(
            f"estimator {name!r} cannot be identified for the prediction cache: its plugin "
            f"{type(plugin).__name__} does not say what decides its answers beside its folder (a model it reads "
            f"from elsewhere, environment variables, settings); define {where} returning {{'files': [...], "
            "'environment': [...], 'settings': {...}} ({} when the folder is all there is), see "
            "docs/plugin-authors.md. Until then its results are computed every time, never served from a cache",
            seen,
        )
    declared = declare()
    if not isinstance(declared, Mapping):
        raise TypeError(f"{where} returned {type(declared).__name__}; return a dict with {', '.join(_INPUT_KINDS)}")
    unknown = sorted(set(map(str, declared)) - set(_INPUT_KINDS))
    if unknown:
        raise ValueError(f"{where} returned the key(s) {unknown}; the keys are {', '.join(_INPUT_KINDS)}")
    files = declared.get("files", ())
    variables = declared.get("environment", ())
    for kind, values in (("files", files), ("environment", variables)):
        if isinstance(values, (str, bytes, os.PathLike)) or not isinstance(values, Iterable):
            raise TypeError(f"{where}[{kind!r}] must be a list, got {type(values).__name__}")
    paths = []
    for file in files:
        if not isinstance(file, (str, os.PathLike)):
            raise TypeError(f"{where}['files'] holds {type(file).__name__} {file!r}; give paths")
        paths.append(Path(file).expanduser().resolve())
    names = sorted(set(variables))
    if not all(isinstance(variable, str) for variable in names):
        raise TypeError(f"{where}['environment'] must hold the variables' names as str, got {names!r}")
    try:
        settings = json.dumps(
            {"environment": {variable: os.environ.get(variable) for variable in names},
             "settings": declared.get("settings", {})},
            sort_keys=True, allow_nan=False,
        )
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where}['settings'] must hold JSON values: {error}") from None
    return DeclaredInputs(tuple(paths), settings)


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
    vendor SDK's version and settings; for the workbench's models, how huge images are handled (tiled under
    a pixel budget, resized, or neither); nothing for other factories.

    Raises:
        ValueError: ``$WORKBENCH_ESTIMATE_MAX_PIXELS`` or ``$WORKBENCH_LARGE_IMAGES`` is malformed (as building
            the estimator would).
    """
    from ..estimators._tiling import tiling_from_environment
    from ..estimators.default import UserDefaultModel, create_default_people_counter
    from ._vendor_default import VendorDefault

    owner = getattr(factory, "__self__", None)
    if isinstance(owner, VendorDefault):
        return owner.identity_settings
    if factory is create_default_people_counter or isinstance(owner, UserDefaultModel):
        max_pixels, mode = tiling_from_environment()
        return "[untiled]" if mode is None else f"[{mode} over {max_pixels} px]"
    return ""
