"""``workbench check`` and ``workbench package``."""
from __future__ import annotations

import argparse
import sys

from ..plugins import ACTIVE_PLUGINS_ENV
from ._findings import KINDS
from .check import check_plugins
from .package import PackageRefused, package_plugin


def _run_check(args: argparse.Namespace) -> int:
    try:
        report = check_plugins(args.plugins_dir, args.active, run=not args.static_only, install=args.install,
                               exercise_writes=args.exercise_writes)
    except (FileNotFoundError, ValueError) as error:
        print(f"workbench check: {error}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    print(report.summary, file=sys.stderr)
    return report.exit_code


def _run_package(args: argparse.Namespace) -> int:
    active = [m.strip() for m in args.active.split(",") if m.strip()] if args.active else None
    allow = [kind.strip() for value in args.allow for kind in value.split(",") if kind.strip()]
    try:
        result = package_plugin(args.plugin_dir, base=args.base, out=args.out, active=active, allow=allow)
    except PackageRefused as refused:
        for line in refused.report.lines():
            print(line)
        print(f"workbench package: {refused}; fix them (or, for a finding you know to be wrong, add "
              "# workbench: ignore[KIND] on its line or pass --allow KIND) and run it again", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f"workbench package: {error}", file=sys.stderr)
        return 2
    for line in result.report.lines():
        print(line)
    print(f"wrote {result.dockerfile} and {result.context}/ (build with: docker build -t IMAGE {result.dockerfile.parent}); "
          f"what check waived or could not verify is in {result.record}")
    print("set in the service (add to the modules already active there, comma-separated):")
    print(result.environment)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser(
        "check",
        help="would these plugins run in the service? exit 0 yes, 1 with one line per finding, 2 usage error, "
        "3 no findings but something it could not verify (said how to)",
        description="Static scan, then a strict-mode run that loads, starts and exercises each active plugin. "
        "Prints one line per finding: file:line: what is wrong; how to fix it.",
    )
    check.add_argument("--plugins-dir", default="plugins", metavar="DIR", help="the plugins folder (default: ./plugins)")
    check.add_argument("--active", default=None, metavar="MOD1,MOD2",
                       help=f"plugin modules to check, e.g. my_plugin.plugin (default: ${ACTIVE_PLUGINS_ENV})")
    check.add_argument("--static-only", action="store_true", help="only read the files; do not run the plugins")
    check.add_argument("--install", action="store_true",
                       help="also install each plugin's requirements.txt in a clean virtual environment and import it "
                       "there (slow; needs the package index for non-empty requirements)")
    check.add_argument("--exercise-writes", action="store_true",
                       help="also send POST, PUT, PATCH and DELETE to the plugins' routes (by default only GET, HEAD "
                       "and OPTIONS are sent, and the others are listed as not verified): only against plugins "
                       "not wired to a store that matters")
    check.set_defaults(func=_run_check)

    package = subparsers.add_parser(
        "package",
        help="write the service's Dockerfile for a plugin (refused when check finds problems)",
        description="Check the plugin, then write OUT/Dockerfile (FROM --base, COPY --chown=1001:0 into "
        "./luna_remote_sdk/plugins/NAME, pip install its requirements.txt) and OUT/NAME/, and print the "
        f"{ACTIVE_PLUGINS_ENV} value to set.",
    )
    package.add_argument("plugin_dir", metavar="PLUGIN_DIR", help="the plugin's folder, e.g. plugins/my_plugin")
    package.add_argument("--base", required=True, metavar="IMAGE", help="the service's image, e.g. my-registry/luna-remote-sdk:v.x.x.x")
    package.add_argument("--out", required=True, metavar="DIR", help="folder for the Dockerfile and the build context")
    package.add_argument("--active", default=None, metavar="MOD1,MOD2", help="modules to activate (default: NAME.plugin)")
    package.add_argument("--allow", action="append", default=[], metavar="KIND",
                         help=f"package despite findings of this kind, recorded in OUT/check-record.txt (repeat or "
                         f"comma-separate; kinds: {', '.join(KINDS)}); for one line, prefer # workbench: ignore[KIND]")
    package.set_defaults(func=_run_package)
