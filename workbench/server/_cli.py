"""``workbench serve``: the host and its server from the command line, until SIGINT or SIGTERM."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from ..host import Workbench, add_host_arguments, deadline_options, default_options, whole_number
from ._budget import DEFAULT_MAX_DECODE_MEMORY, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_SEQUENCE_FRAMES
from ._children import end_descendants
from ._launch import DEFAULT_IDLE_TIMEOUT, start_server

TOKEN_ENV = "WORKBENCH_TOKEN"
# Seconds the processes plugins left running get between SIGTERM and SIGKILL when serve stops.
_CHILDREN_GRACE_S = 2.0


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
        "--token", default=os.environ.get(TOKEN_ENV) or None, metavar="TOKEN",
        help=f"every request must send 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV}; off loopback, a new "
        "token is made and printed when none is given). At least 16 characters",
    )
    parser.add_argument(
        "--insecure-no-token", action="store_true",
        help="serve off loopback without a token: anyone who can reach the address can use every route. Only for a "
        "network you trust entirely",
    )
    parser.add_argument(
        "--allowed-host", action="append", default=[], metavar="NAME",
        help="a Host name to answer besides localhost, 127.0.0.1 and [::1] (repeat for more; '*': any). Other names "
        "are refused on loopback, against DNS rebinding",
    )
    parser.add_argument(
        "--allowed-origin", action="append", default=[], metavar="ORIGIN",
        help="a web page origin (http://localhost:8888) whose requests the built-in routes answer (repeat for more)",
    )
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
        "--max-in-flight", type=whole_number, default=DEFAULT_MAX_IN_FLIGHT, metavar="N",
        help=f"estimate requests handled at once; more are answered 503 with Retry-After (default: {DEFAULT_MAX_IN_FLIGHT})",
    )
    parser.add_argument(
        "--max-decode-memory", type=whole_number, default=None, metavar="BYTES",
        help="memory the images of estimate requests may hold at once, judged from their headers; an image "
        f"over it is refused (413), others wait (default: {DEFAULT_MAX_DECODE_MEMORY // 2**20} MiB, or enough "
        "for an RGB PNG of --max-pixels where that is more)",
    )
    parser.add_argument(
        "--max-sequence-frames", type=whole_number, default=DEFAULT_MAX_SEQUENCE_FRAMES, metavar="N",
        help="most frames one estimate-sequence request may have estimated (sampled from its clip or images); more "
        f"are refused (413) before decoding (default: {DEFAULT_MAX_SEQUENCE_FRAMES})",
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
                max_pixels=args.max_pixels, idle_timeout=args.idle_timeout, token=args.token,
                max_in_flight=args.max_in_flight, max_decode_memory=args.max_decode_memory,
                max_sequence_frames=args.max_sequence_frames,
                insecure_no_token=args.insecure_no_token, allowed_hosts=args.allowed_host,
                allowed_origins=args.allowed_origin,
            )
        except (OSError, ValueError) as error:
            print(f"workbench serve: {error}", file=sys.stderr)
            return 1
        print(f"serving on {handle.url}", flush=True)
        if handle.token is not None:
            given = "the token given (--token or $WORKBENCH_TOKEN)" if args.token else f"the token {handle.token}"
            print(f"every request needs {given} as the header 'Authorization: Bearer <token>'", flush=True)
        print(wb.plugins, flush=True)
        # A timed wait, because a signal handler only runs when the main thread gets back to Python code.
        while not stop.wait(0.5):
            pass
        print("stopping", flush=True)
    finally:
        wb.close()
        _end_plugin_processes()
    return 0


def _end_plugin_processes() -> None:
    """End the processes plugins started and left running: none may outlive serve."""
    ended = end_descendants(_CHILDREN_GRACE_S)
    if ended:
        listed = ", ".join(f"{pid} ({name})" for pid, name in sorted(ended.items()))
        print(f"workbench serve: ended the processes plugins left running: {listed}", file=sys.stderr, flush=True)


def _port(text: str) -> int:
    return whole_number(text, minimum=0, maximum=65535)
