"""``workbench serve``: the host and its server from the command line, until SIGINT or SIGTERM."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from ..host import Workbench, add_host_arguments, deadline_options, default_options, whole_number
from ._launch import DEFAULT_IDLE_TIMEOUT, start_server


def register(subparsers: "argparse._SubParsersAction[Any]") -> argparse.ArgumentParser:
    """Add the ``serve`` command to a parser's subcommands; ``args.func(args)`` runs it."""
    parser = subparsers.add_parser(
        "serve",
        help="serve plugins and estimators over HTTP",
        description="Load the plugins like the service does and serve their routes, the estimators and the "
        "monitoring events over HTTP until interrupted (Ctrl-C or SIGTERM).",
    )
    add_host_arguments(parser, workers=True)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=_port, default=5000, help="port to listen on; 0 picks a free one (default: 5000)")
    parser.add_argument(
        "--allow-estimator-switching", action="store_true",
        help="let clients switch estimators with PUT /estimators/{broker} (off by default: it affects every client)",
    )
    parser.add_argument(
        "--max-body-size", type=whole_number, default=20 * 2**20, metavar="BYTES",
        help="largest request body accepted (default: 20 MiB)",
    )
    parser.add_argument(
        "--max-pixels", type=whole_number, default=None, metavar="N",
        help="most pixels an image header may claim; bigger images are refused (413) before decoding "
        "(default: $WORKBENCH_MAX_PIXELS, else 64000000)",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT, metavar="S",
        help=f"close connections that send no request for S seconds (default: {DEFAULT_IDLE_TIMEOUT:g})",
    )
    parser.set_defaults(func=serve)
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the ``serve`` command; returns the exit status."""
    stop = threading.Event()
    # Installed before the host starts, so an interrupt during a slow start still ends in a clean close.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        wb = Workbench(
            args.plugins_dir, args.active, device=args.device, workers=args.workers, strict=args.strict,
            **default_options(args), **deadline_options(args),
        )
    except (FileNotFoundError, ValueError, TypeError, ImportError) as error:
        print(f"workbench serve: {error}", file=sys.stderr)
        return 2
    try:
        wb.start()
    except Exception as error:  # the host has closed itself; say why in one line rather than a traceback
        print(f"workbench serve: the plugins host did not start: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    try:
        try:
            handle = start_server(
                wb, host=args.host, port=args.port,
                allow_estimator_switching=args.allow_estimator_switching, max_body_size=args.max_body_size,
                max_pixels=args.max_pixels, idle_timeout=args.idle_timeout,
            )
        except (OSError, ValueError) as error:
            print(f"workbench serve: {error}", file=sys.stderr)
            return 1
        print(f"serving on {handle.url}", flush=True)
        print(wb.plugins, flush=True)
        # A timed wait, because a signal handler only runs when the main thread gets back to Python code.
        while not stop.wait(0.5):
            pass
        print("stopping", flush=True)
    finally:
        wb.close()
    return 0


def _port(text: str) -> int:
    return whole_number(text, minimum=0, maximum=65535)
