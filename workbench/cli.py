"""The ``workbench`` command: compare estimators, serve plugins, check plugins, model tools, training."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .authoring._cli import register as register_authoring
from .authoring.scaffold import register as register_new
from .estimators._cli import register as register_model
from .host import (
    Workbench, add_host_arguments, deadline_options, default_options, example_plugins_dir, whole_number,
)
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


#: What ``workbench demo`` compares: the default people counter against the example replacement plugin.
DEMO_ESTIMATORS = "default,PeopleCountOnnxPlugin"
DEMO_PLUGIN = "people_count_onnx.plugin"


def _demo(args: argparse.Namespace) -> int:
    # The demo is compare with the example plugins shipped in the package, so it needs no checkout or plugins
    # folder; everything else is compare's own (its checks, its report, its exit codes).
    compare_argv = [
        "compare", args.data, "--estimators", DEMO_ESTIMATORS, "--plugins-dir", str(example_plugins_dir()),
        "--active", DEMO_PLUGIN, "--out", str(args.out),
        *(["--split", args.split] if args.split else []),
        *(["--limit", str(args.limit)] if args.limit else []),
        *(["--no-progress"] if args.no_progress else []),
    ]
    compare_args = build_parser().parse_args(compare_argv)
    result: int = compare_args.func(compare_args)
    return result


def _register_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="compare the default estimator with the example plugin PeopleCountOnnxPlugin, as an HTML report",
        description=(
            f"workbench compare DATA --estimators {DEMO_ESTIMATORS} --active {DEMO_PLUGIN} with the example "
            "plugins that ship with the workbench (no plugins folder needed): report.html and its CSV, JSON and "
            "figures in --out."
        ),
    )
    parser.add_argument(
        "data", nargs="?", default="synthetic", metavar="DATA",
        help="a dataset folder (any layout compare reads) or 'synthetic' for drawn sample images (the default)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/demo"),
                        help="folder for the report files (default: reports/demo)")
    parser.add_argument("--split", help="the dataset split to run, e.g. test")
    parser.add_argument("--limit", type=whole_number, metavar="N",
                        help="run only the first N images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_demo)


def _train(train_args: list[str]) -> int:
    from .training import main as train_main

    return train_main(train_args)


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    # Listed for --help only: main() hands everything after "train" to the training script's own parser.
    subparsers.add_parser(
        "train", help="train the default density model (needs the train extra: pip install -e '.[train]')"
    )


class _PlainTextParser(argparse.ArgumentParser):
    """A parser whose help is plain text: descriptions come from docstrings, whose ``literal`` markup (two
    backquotes each side) is for the API docs, not a terminal. Its sub-commands' parsers are of this class too."""

    def format_usage(self) -> str:
        return super().format_usage().replace("``", "")

    def format_help(self) -> str:
        return super().format_help().replace("``", "")


def build_parser() -> argparse.ArgumentParser:
    parser = _PlainTextParser(prog="workbench", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log plugin and host messages at INFO")
    # Not required: `workbench` alone prints the help, which lists the commands (argparse said only that one
    # is required).
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_new(subparsers)
    _register_demo(subparsers)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if hasattr(args, "check_host_arguments"):  # a misspelt --active module: one line, before a host starts
            args.check_host_arguments(args)
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (FileNotFoundError, ValueError, LookupError, RuntimeError, ImportError) as error:
        print(f"workbench {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
