"""The ``workbench`` command: compare estimators, serve plugins, check plugins, model tools, training."""
from __future__ import annotations

import argparse
import logging
import sys

from .authoring._cli import register as register_authoring
from .authoring.scaffold import register as register_new
from .estimators._cli import register as register_model
from .host import Workbench, add_host_arguments, deadline_options, default_options
from .research._cli import register as register_compare
from .server._cli import register as register_serve


def _check_plugins(args: argparse.Namespace) -> int:
    with Workbench(
        args.plugins_dir, args.active, device=args.device, strict=args.strict, **default_options(args),
        **deadline_options(args),
    ) as wb:
        print(wb.plugins)
        print(f"estimators: {wb.estimator_labels}")
        return 1 if wb.plugins.failed else 0


def _register_plugins(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plugins",
        help="load a plugins folder, print each plugin's status, exit 1 if any failed",
        description="Load the active plugins as the service would and report each one's status and error.",
    )
    add_host_arguments(parser)
    parser.set_defaults(func=_check_plugins)


def _train(train_args: list[str]) -> int:
    from .training import main as train_main

    return train_main(train_args)


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    # Listed for --help only: main() hands everything after "train" to the training script's own parser.
    subparsers.add_parser(
        "train", help="train the default density model (needs the train extra: pip install -e '.[train]')"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log plugin and host messages at INFO")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_new(subparsers)
    register_compare(subparsers)
    register_serve(subparsers)
    _register_plugins(subparsers)
    register_authoring(subparsers)
    register_model(subparsers)
    _register_train(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        return _train(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, LookupError, RuntimeError, ImportError) as error:
        print(f"workbench {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
