"""The command-line options every command that starts a host shares."""
from __future__ import annotations

import argparse

from typing import Any

from ..plugins import ACTIVE_PLUGINS_ENV
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


def add_host_arguments(parser: argparse.ArgumentParser, *, workers: bool = False) -> None:
    """``--plugins-dir``, ``--active`` (falling back to the service's variable), ``--device``, ``--default``,
    ``--default-model``, the ``--sdk-*`` settings, ``--strict`` [, ``--workers``]."""
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
