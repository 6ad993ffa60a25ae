"""Which people counter a host runs as ``"default"``, and the one way the default is named where it is shown.

``default="model"`` (the workbench's ONNX model: ``default_model``, ``$WORKBENCH_DEFAULT_MODEL``, else the bundled
``wbcount``, see ``workbench.estimators.default``) or ``default="sdk"`` (the vendor SDK's own estimator,
``workbench.host._vendor_default``). Results, reports, the server, the Explorer and reprs show the default with
what provides it, through ``estimator_label``: ``default (wbcount)``, ``default (vendor SDK 5.14.0)``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._checks import choice
from ._vendor_default import SdkOptions, VendorDefault

__all__ = ["DEFAULT_KINDS", "default_factories", "default_provider", "estimator_label", "model_factories"]

_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

#: What ``Workbench(default=)`` and ``--default`` accept.
DEFAULT_KINDS = ("model", "sdk")


def default_factories(
    default: str, default_model: str | os.PathLike[str] | None, sdk_options: SdkOptions | None
) -> dict[str, Callable[[Any], Any]]:
    """The default estimators by broker for ``default``; a user's model or the vendor SDK is checked here.

    Raises:
        ValueError: an unknown ``default``, ``default_model`` with ``default="sdk"``, or SDK options without it.
        VendorSdkMissing, FileNotFoundError: see ``VendorDefault``; FileNotFoundError, ModelDescriptionError:
            see ``workbench.estimators.default.load_default_model``.
    """
    # Imported when a host is built, not with the package: it loads onnxruntime.
    from ..estimators.default import PEOPLE_COUNTER, default_estimator_factories

    choice(default, "default (--default)", DEFAULT_KINDS)
    if default == "model":
        if sdk_options is not None:
            raise ValueError(
                "sdk_options (the --sdk-* flags) are the vendor SDK's settings; they need default='sdk' "
                "(--default sdk), or leave them out to use the workbench's model"
            )
        return default_estimator_factories(default_model)
    if default_model is not None:
        raise ValueError(
            "default_model (--default-model) is the workbench's model as the default; with default='sdk' "
            "(--default sdk) the vendor SDK's estimator is the default: pass one of them"
        )
    return {PEOPLE_COUNTER: VendorDefault(sdk_options or SdkOptions()).create}


def model_factories(
    models: Mapping[str, str | os.PathLike[str]] | None,
) -> dict[str, dict[str, Callable[[Any], Any]]]:
    """Broker -> name -> factory: named people-count estimators from model files (``models={"mcnn_A": "mcnn_shtechA.onnx"}``, ``--model``),
    each checked and fed as its description says, like ``default_model``; they sit beside the default so that one
    ``compare`` scores several models (a published one, a candidate) without a plugin for each.

    Raises:
        ValueError: a name that is not a plain name (letters, digits, ``_``, ``-``, ``.``) or is ``default``.
        FileNotFoundError, ModelDescriptionError: see ``workbench.estimators.default.load_default_model``.
    """
    if not models:
        return {}
    from ..estimators.default import PEOPLE_COUNTER, load_default_model

    factories: dict[str, Callable[[Any], Any]] = {}
    for name, path in models.items():
        if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name) or name == "default":
            raise ValueError(
                f"model estimator name {name!r} must be a plain name (letters, digits, '_', '-', '.'), not "
                "'default': e.g. models={'mcnn_A': 'mcnn_shtechA.onnx'} or --model mcnn_A=mcnn_shtechA.onnx"
            )
        factories[name] = load_default_model(path, origin=f"--model {name}=...", role="model estimator").create
    return {PEOPLE_COUNTER: factories}


def default_provider(factory: Callable[[Any], Any]) -> str | None:
    """What a default factory runs, as it is shown: the vendor SDK and its version, or the model's name;
    ``None`` for a factory the workbench did not make (a test's, a user's callable)."""
    from ..estimators.default import DEFAULT_MODEL, UserDefaultModel, create_default_people_counter

    owner = getattr(factory, "__self__", None)
    if isinstance(owner, VendorDefault):
        return owner.provider
    if isinstance(owner, UserDefaultModel):
        return owner.description.name
    if factory is create_default_people_counter:
        return Path(DEFAULT_MODEL).stem
    return None


def estimator_label(name: str, provider: str | None) -> str:
    """An estimator's name with what provides it, when known: ``default (vendor SDK 5.14.0)``."""
    return name if provider is None else f"{name} ({provider})"

