"""The command-line options every command that starts a host shares."""
from __future__ import annotations

import argparse

from typing import Any

from ..plugins import ACTIVE_PLUGINS_ENV
from ._loop import Deadlines


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


def add_host_arguments(parser: argparse.ArgumentParser, *, workers: bool = False) -> None:
    """``--plugins-dir``, ``--active`` (falling back to the service's variable), ``--device``, ``--default-model``,
    ``--strict`` [, ``--workers``]."""
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
