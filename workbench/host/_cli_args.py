"""The command-line options every command that starts a host shares."""
from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

from ..plugins import ACTIVE_PLUGINS_ENV, parse_active_plugins
from ._defaults import DEFAULT_KINDS
from ._loop import Deadlines
from ._vendor_default import FSDK_ROOT_ENV, SdkOptions


def whole_number(text: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Parse an option's whole number within bounds, or raise the error argparse prints."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise argparse.ArgumentTypeError(f"{text!r} must be {bounds}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive, finite number of seconds")
    return value


def deadline_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Workbench`` keyword arguments of the deadline options ``add_host_arguments`` added."""
    return {"start_timeout": args.start_timeout, "estimate_timeout": args.estimate_timeout, "close_timeout": args.close_timeout}


# The ``--sdk-*`` flags, by the ``SdkOptions`` setting each one gives.
_SDK_FLAGS = {
    "data_path": "sdk_data", "faceengine_conf": "sdk_faceengine_conf", "runtime_conf": "sdk_runtime_conf",
    "license": "sdk_license", "estimator_type": "sdk_estimator_type", "device_id": "sdk_device_id",
    "run_concurrently": "sdk_run_concurrently",
}


def default_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Workbench`` keyword arguments of the default-estimator options ``add_host_arguments`` added:
    ``default``, ``default_model`` and, when any ``--sdk-*`` flag is given, ``sdk_options``."""
    given = {setting: getattr(args, flag) for setting, flag in _SDK_FLAGS.items() if getattr(args, flag) is not None}
    return {"default": args.default, "default_model": args.default_model, "models": dict(args.model or []),
            "sdk_options": SdkOptions(**given) if given else None}


def _named_model(value: str) -> tuple[str, str]:
    """``NAME=MODEL.onnx`` of ``--model``."""
    name, separator, path = value.partition("=")
    if not separator or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=MODEL.onnx (e.g. mcnn_A=mcnn_shtechA.onnx), got {value!r}")
    return name, path


def check_active_modules(args: argparse.Namespace) -> None:
    """Refuse an active module name (``--active``, else ``$LUNA_REMOTE_SDK_ACTIVE_PLUGINS``) that is not in the
    plugins folder, in one message with the closest name there: a host started without the misspelt plugin
    reported it once as it loaded, again as the command listed failed plugins, and a third time as its estimator
    was missing.

    Raises:
        ValueError: a name has neither ``<dir>/a/b.py`` nor ``<dir>/a/b/__init__.py``.
    """
    folder = Path(args.plugins_dir)
    if not folder.is_dir():
        return  # the host's own message says what is wrong with the folder
    source = "--active" if args.active is not None else f"${ACTIVE_PLUGINS_ENV}"
    present = _plugin_modules(folder)
    for name in parse_active_plugins(args.active):
        base = folder.joinpath(*name.split("."))
        if name in present or base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            continue
        close = difflib.get_close_matches(name, sorted(present), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"its modules: {', '.join(sorted(present)) or 'none'}"
        raise ValueError(f"{source} names {name!r}, which is not a module of the plugins folder {folder}; {hint}")


def _plugin_modules(folder: Path) -> set[str]:
    """The module names the plugins folder offers to activate: its packages, their modules and subpackages."""
    modules = set()
    for entry in folder.iterdir():
        if (entry / "__init__.py").is_file():
            modules.add(entry.name)
            modules.update(
                f"{entry.name}.{child.stem}" for child in entry.iterdir()
                if (child.suffix == ".py" and child.stem != "__init__") or (child / "__init__.py").is_file()
            )
        elif entry.suffix == ".py" and entry.stem != "__init__":
            modules.add(entry.stem)
    return modules


def add_host_arguments(parser: argparse.ArgumentParser, *, workers: bool = False) -> None:
    """``--plugins-dir``, ``--active`` (falling back to the service's variable), ``--device``, ``--default``,
    ``--default-model``, the ``--sdk-*`` settings, ``--strict`` [, ``--workers``].

    ``args.check_host_arguments(args)`` (``check_active_modules``) checks the active names before a host starts:
    the ``workbench`` command calls it for every command that took these options.
    """
    parser.set_defaults(check_host_arguments=check_active_modules)
    parser.add_argument("--plugins-dir", default="plugins", metavar="DIR", help="the plugins folder (default: ./plugins)")
    parser.add_argument(
        "--active", default=None, metavar="MOD1,MOD2",
        help=f"comma-separated plugin modules to activate, e.g. my_plugin.plugin (default: ${ACTIVE_PLUGINS_ENV})",
    )
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="global device class (default: cpu)")
    parser.add_argument(
        "--default-model", default=None, metavar="MODEL.onnx",
        help="your own ONNX density model as the 'default' people counter, fed as its <stem>.json beside it says "
        "(default: $WORKBENCH_DEFAULT_MODEL, else the bundled wbcount)",
    )
    parser.add_argument(
        "--model", action="append", type=_named_model, metavar="NAME=MODEL.onnx",
        help="another ONNX density model to run beside the default under NAME (compare --estimators "
        "default,NAME), fed as its <stem>.json says; repeat for more",
    )
    parser.add_argument(
        "--default", choices=DEFAULT_KINDS, default="model",
        help="what the 'default' people counter is: model (the workbench's ONNX model, see --default-model) or sdk "
        "(the vendor SDK's own PeopleCountEstimatorV2; needs the real lunavl with its FaceEngine core) "
        "(default: model)",
    )
    sdk = parser.add_argument_group("the vendor SDK's estimator (--default sdk)")
    sdk.add_argument("--sdk-data", metavar="DIR", help=f"the SDK's data folder (default: ${FSDK_ROOT_ENV}/data)")
    sdk.add_argument("--sdk-faceengine-conf", metavar="FILE", help="faceengine.conf (default: the data folder's)")
    sdk.add_argument("--sdk-runtime-conf", metavar="FILE", help="runtime.conf (default: the data folder's)")
    sdk.add_argument("--sdk-license", metavar="FILE", help="the licence file to activate the SDK with (default: none)")
    sdk.add_argument(
        "--sdk-estimator-type", metavar="TYPE",
        help="PeopleCountEstimatorType: DEFAULT (the one faceengine.conf names), PEOPLE_COUNT_V1 or PEOPLE_COUNT_V2 "
        "(default: DEFAULT)",
    )
    sdk.add_argument(
        "--sdk-device-id", type=lambda text: whole_number(text, minimum=0), metavar="N",
        help="the GPU of the launch options (default: 0); the device class is --device",
    )
    sdk.add_argument(
        "--sdk-run-concurrently", action=argparse.BooleanOptionalAction, default=None,
        help="the launch options' runConcurrently (default: on)",
    )
    parser.add_argument(
        "--strict", nargs="?", const="raise", default=False, choices=("raise", "warn"),
        help="report plugin code that uses what the service's SDK or plugin framework lacks: fail at that line "
        "(--strict, --strict raise) or warn (--strict warn)",
    )
    deadlines = parser.add_argument_group("deadlines for plugin code (seconds)")
    deadlines.add_argument(
        "--start-timeout", type=_seconds, default=Deadlines.start, metavar="S",
        help=f"each plugin's initialize()/start() and each estimator's construction; past it the plugin fails "
        f"(default: {Deadlines.start:g})",
    )
    deadlines.add_argument(
        "--estimate-timeout", type=_seconds, default=Deadlines.estimate, metavar="S",
        help=f"one estimate call; past it the call fails naming the estimator (default: {Deadlines.estimate:g})",
    )
    deadlines.add_argument(
        "--close-timeout", type=_seconds, default=Deadlines.close, metavar="S",
        help=f"each close(); past it the work is abandoned with a warning (default: {Deadlines.close:g})",
    )
    if workers:
        parser.add_argument(
            "--workers", type=whole_number, default=1, metavar="N", help="estimator instances per broker (default: 1)"
        )
