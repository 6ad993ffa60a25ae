"""The ``workbench compare`` command: run a comparison headless and write its report files.

``workbench.cli`` builds the top-level parser and calls :func:`register`; everything the command does is here.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
import warnings
from pathlib import Path

from ..host import UnknownEstimatorError, Workbench, add_host_arguments, deadline_options, default_options, whole_number
from .compare import ON_ERROR, UnreadableImagesError, compare
from .datasets import (
    FORMATS,
    POINTS_FRAMES,
    STRAY_POINTS,
    Dataset,
    DatasetError,
    is_video,
    load_dataset,
    load_sequence,
    make_synthetic_dataset,
)

__all__ = ["register"]

#: Images the ``synthetic`` data set gets: a third of them (here 4) form its test split.
SYNTHETIC_IMAGES = 12

#: ``load_dataset``'s and ``load_sequence``'s arguments, which the datasets' messages name, as this command's flags.
_DATASET_FLAGS = {name: "--" + name.replace("_", "-") for name in ("split", "pattern", "format", "points_frame",
                                                                   "stray_points", "every", "every_seconds", "fps")}
#: The flags that read DATA as a sequence (``load_sequence``), by their ``args`` names.
_SEQUENCE_FLAGS = ("every", "every_seconds", "fps")
#: The flags that pick images of a folder, which a video file has none of (its rate is read from the file).
_FOLDER_FLAGS = ("split", "pattern", "format", "points_frame", "fps")
# ``split='x'`` (a value follows) or ``pattern=`` alone (none does: a space or a punctuation mark follows).
_PYTHON_ARGUMENT = re.compile(rf"\b({'|'.join(_DATASET_FLAGS)})=([^\s,;:.)]?)")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``compare`` sub-command to ``subparsers``; ``args.func(args)`` runs it and returns the exit code."""
    parser = subparsers.add_parser(
        "compare",
        help="compare people-count estimators on a dataset and write an HTML/CSV/JSON report",
        description=(
            "Start a workbench host with the given plugins, run each estimator over DATA, and write report.html, "
            "per_image.csv, summary.csv, report.json and the figures (PNG) into --out."
        ),
    )
    parser.add_argument(
        "data",
        metavar="DATA",
        help="dataset folder (crowd-mini JSON, ShanghaiTech, UCF-QNRF, NWPU-Crowd, JHU-Crowd++, Mall, or images "
        "only), a video file (.mp4, .mkv, .avi, .mov, ...; points in clip.points.json beside clip.mp4), or the word "
        "'synthetic' to generate drawn sample images into OUT/data",
    )
    parser.add_argument(
        "--estimators",
        help="comma-separated estimator names: 'default' and replacement plugins' class names "
        "(default: every estimator the host offers)",
    )
    add_host_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="folder for the report files (created if missing)")
    parser.add_argument("--split", help="the dataset split to run, e.g. test (a split list, a subfolder or a name token)")
    parser.add_argument("--pattern", metavar="GLOB",
                        help="run only the images whose file name (or name without suffix) matches GLOB, e.g. "
                        "'*_day_*'; with --split, of that split")
    parser.add_argument("--format", choices=FORMATS,
                        help="the dataset's layout, where it cannot be told from the folder (default: detected)")
    parser.add_argument("--points-frame", choices=POINTS_FRAMES,
                        help="where the head points of images with an EXIF orientation were clicked: stored (on the "
                        "pixels as stored) or upright (on the photo as the orientation turns it); default: the "
                        "format's convention (the benchmarks: stored), else the one frame the points fit")
    parser.add_argument("--stray-points", default="drop", choices=STRAY_POINTS,
                        help="annotation points outside their image: drop them (up to 10%% of an image's points, "
                        "with a warning naming each; the default) or refuse the dataset")
    parser.add_argument("--targets", default="T1", choices=["T1", "T2"], help="T1: count and points; T2: count only")
    parser.add_argument("--broker", default="peopleCountEstimator", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=whole_number, metavar="N", help="run only the first N images")
    parser.add_argument("--batch-size", type=whole_number, default=1, metavar="N",
                        help="images per wb.estimate call (default 1: each image's latency is its own call's; more "
                        "lets an estimator stack images, as a request of several images does in the service)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--game-convention", default="exact", choices=["exact", "blocks"],
                        help="GAME cells: exact (area-weighted, default) or blocks (the published code's integer blocks)")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        help="SQLite prediction cache: reuse results computed before, resume an interrupted run")
    parser.add_argument("--engine", default="local", choices=["local", "ray"],
                        help="local: this process; ray: a pool of Ray actors (pip install 'workbench[ray]')")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster address (auto, ray://head:10001); default: start a one-machine Ray")
    parser.add_argument("--actors", type=whole_number, default=2, metavar="N", help="Ray actors per estimator (default 2)")
    sequence = parser.add_argument_group(
        "sequences", "a video, Mall, or a folder read as frames in name order (with --every, --every-seconds or "
        "--fps): the report adds counts over time and their stability")
    sequence.add_argument("--every", type=whole_number, metavar="N", help="run every N-th frame (default: every frame)")
    sequence.add_argument("--every-seconds", type=float, metavar="T",
                          help="run the first frame at or after each multiple of T seconds (a folder needs --fps)")
    sequence.add_argument("--fps", type=float, metavar="F",
                          help="a frame folder's rate (frames per second), which gives each frame its time; a "
                          "video's is read from the file")
    sequence.add_argument("--smoothing", type=whole_number, metavar="N",
                          help="draw counts over time and read a second stability table after a moving average over "
                          "N sampled frames (default: none)")
    parser.add_argument("--on-error", default="fail", choices=ON_ERROR,
                        help="images of DATA that cannot be decoded (every image is decoded once before the run to "
                        "find them): fail (exit 2 naming each of them, before anything is estimated; the default) "
                        "or skip (score the others, and list these in the report, skipped.csv and here)")
    parser.set_defaults(func=run_compare)
    return parser


def run_compare(args: argparse.Namespace) -> int:
    """Run ``workbench compare``; returns 0 (also when ``--on-error skip`` left unreadable images out: they are
    listed on stderr), 2 with one line on stderr for bad input (data, an image that cannot be decoded, --out,
    names), or 1 with one line when an estimator or plugin fails during the run (also when the report was written
    but some images failed: the host refused an estimator's result for them)."""
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out} is a file; pass a folder for the report files (it is created if missing)")
    synthetic = args.data == "synthetic"
    try:
        if synthetic:
            data_dir = out / "data"
            make_synthetic_dataset(data_dir, n=SYNTHETIC_IMAGES)
            print(f"SYNTHETIC data: {SYNTHETIC_IMAGES} drawn images (not photos) written to {data_dir}; "
                  "scores on them say nothing about real crowds")
        else:
            data_dir = Path(args.data)
        # What loading resolved (stray points dropped, turned images, unannotated images) is one line each here,
        # not a Python warning with a source line.
        with warnings.catch_warnings(record=True) as resolved:
            warnings.simplefilter("always")
            dataset = _load(data_dir, args)
    except DatasetError as error:
        return _fail(_in_cli_words(str(error)))
    for warning in resolved:
        print(f"workbench compare: warning: {warning.message}", file=sys.stderr)
    if args.smoothing is not None and not dataset.is_sequence:
        return _fail(f"--smoothing {args.smoothing}: {data_dir} is not read as a sequence; pass a video file, Mall, "
                     "or a frame folder with --every, --every-seconds or --fps")
    if args.limit is not None:
        dataset = dataset[: args.limit]
    try:
        workbench = Workbench(
            args.plugins_dir, args.active, device=args.device, strict=args.strict, **default_options(args),
            **deadline_options(args),
        )
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        # The command line's settings cannot make a workbench (e.g. --default sdk without its data folder): a usage
        # error, exit 2, before anything is written.
        return _fail(str(error))
    try:
        with workbench as wb:
            for record in wb.plugins.failed:
                print(f"workbench compare: plugin {record.name} ({record.module}) failed: {record.error}",
                      file=sys.stderr)
            report = compare(
                wb,
                dataset,
                args.estimators,
                broker=args.broker,
                targets=args.targets,
                batch_size=args.batch_size,
                progress=not args.no_progress,
                game_convention=args.game_convention,
                cache=args.cache,
                engine=args.engine,
                ray_address=args.ray_address,
                actors=args.actors,
                on_error=args.on_error,
            )
    except UnreadableImagesError as error:
        return _fail(error.message("--on-error skip"))
    except DatasetError as error:
        return _fail(_in_cli_words(str(error)))
    except (UnknownEstimatorError, FileNotFoundError, ImportError) as error:
        # ImportError: --engine ray without the ray extra, or --default sdk without the vendor's SDK; the message
        # says how to install it.
        return _fail(str(error))
    except Exception as error:  # an estimator or plugin broke the run: one line, the traceback only with -v
        logging.getLogger("workbench.compare").info("the comparison failed", exc_info=True)
        print(f"workbench compare: error: the run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if synthetic:
        report.data_label = "synthetic sample images"  # not "data", the folder they were written to
        report.notes.append(
            "SYNTHETIC data: drawn sample images made by make_synthetic_dataset, not photos; these scores only "
            "show that the pipeline runs."
        )
    if args.smoothing is not None:
        report.smoothing = args.smoothing
    report.to_csv(out)
    report.to_json(out / "report.json")
    figures = report.figures()
    report.save_figures(out, figures=figures)
    page = report.to_html(out, figures=figures)
    print(report.summary.rename(index=report.labels).to_string(float_format=lambda v: f"{v:.3f}"))
    if report.timeline is not None:
        print(report.stability().to_string(float_format=lambda v: f"{v:.3f}"))
        for line in report.divergence_notes():
            print(line)
    for line in report.range_notes():
        print(f"warning: {line}")
    print(f"report: {page}")
    for row in report.skipped.itertuples():
        print(f"workbench compare: warning: skipped {row.path}: {row.reason}", file=sys.stderr)
    failures = report.failure_notes()
    for line in failures:
        print(f"workbench compare: error: {line}", file=sys.stderr)
    return 1 if failures else 0


def _load(data: Path, args: argparse.Namespace) -> Dataset:
    """DATA as the flags ask: a video, or any folder with --every/--every-seconds/--fps, through ``load_sequence``
    (a sequence: the report adds counts over time); any other folder through ``load_dataset`` (Mall's is a sequence
    as it is)."""
    if is_video(data):
        given = [_DATASET_FLAGS[name] for name in _FOLDER_FLAGS if getattr(args, name) is not None]
        if given:
            verb, them = ("applies", "it") if len(given) == 1 else ("apply", "them")
            raise DatasetError(f"{data} is a video file: {', '.join(given)} {verb} to a folder of frames (a video's "
                               f"rate and timestamps are read from the file); leave {them} out")
    if is_video(data) or any(getattr(args, name) is not None for name in _SEQUENCE_FLAGS):
        return load_sequence(data, every=args.every, every_seconds=args.every_seconds, fps=args.fps,
                             split=args.split, pattern=args.pattern, format=args.format,
                             points_frame=args.points_frame, stray_points=args.stray_points)
    return load_dataset(data, split=args.split, pattern=args.pattern, format=args.format,
                        points_frame=args.points_frame, stray_points=args.stray_points)


def _in_cli_words(message: str) -> str:
    """A dataset's message as this command says it: ``split='x'`` is ``--split 'x'``, ``pattern=`` is
    ``--pattern`` (the datasets speak Python: ``load_dataset``'s arguments)."""
    return _PYTHON_ARGUMENT.sub(lambda m: _DATASET_FLAGS[m[1]] + (f" {m[2]}" if m[2] else ""), message)


def _fail(message: str) -> int:
    print(f"workbench compare: error: {message}", file=sys.stderr)
    return 2
