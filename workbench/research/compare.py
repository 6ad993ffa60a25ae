"""Run several estimators over a dataset on a live host and score them side by side.

``compare`` runs each estimator on the host by name (``wb.estimate(..., estimator=name)``, under a lease for
its run), so a replacement plugin is measured inside the same host, worker count and image path as the default
estimator. It never calls ``wb.use``: what the host serves (its server's answers, ``wb.estimators``) does not
change during a comparison, whether it finishes, fails or is interrupted.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._checks import choice, number, unknown_broker_message, unknown_estimators_message, whole_number
from .._system import usable_cpus
from ..host import UnknownEstimatorError
from ..estimators._range import judge_result
from ..images import ImageDecodeError, parse_targets
from ..result import CountResult
from ..sdk import EstimationTargets
from ._runners import ENGINES, FailedImage, decode_by_file, estimate_dataset
from .cache import PredictionCache
from .datasets import Dataset, DatasetError, Sample, VideoFrame, load_dataset
from .datasets._errors import some
from .metrics import GAME_CONVENTIONS, GameConvention, box_thresholds, density_count, game_image, localisation

if TYPE_CHECKING:
    from ..host import Workbench
    from .report import ComparisonReport

__all__ = ["ON_ERROR", "UnreadableImagesError", "compare"]

#: What ``compare`` does about dataset images that cannot be decoded: refuse the run, or leave them out.
ON_ERROR = ("fail", "skip")
# Threads that decode the images once before the run to find unreadable ones (decoders release the GIL).
_MAX_CHECKERS = 2


class UnreadableImagesError(DatasetError):
    """Images of the dataset that cannot be decoded, found by ``compare`` before it estimated anything.

    ``unreadable`` holds one ``{"image", "path", "reason"}`` row per such image, in dataset order; ``total`` is
    the number of images that were checked. ``message(how_to_skip)`` words the advice for the caller's
    interface (the command line says ``--on-error skip``).
    """

    def __init__(self, unreadable: list[dict[str, str]], total: int) -> None:
        self.unreadable = unreadable
        self.total = total
        super().__init__(self.message("on_error='skip'"))

    def message(self, how_to_skip: str) -> str:
        listed = some([f"{row['path']}: {row['reason']}" for row in self.unreadable], separator="; ")
        if len(self.unreadable) == self.total:
            return f"none of the {self.total} images can be read, so nothing was estimated: {listed}"
        return (
            f"{len(self.unreadable)} of {self.total} images cannot be read, so nothing was estimated: {listed}. "
            f"Replace or remove the file(s), or pass {how_to_skip} to score the other images and list these in "
            "the report"
        )


def compare(
    wb: Workbench,
    dataset: Dataset | str | Path,
    estimators: Sequence[str] | None = None,
    *,
    broker: str = "peopleCountEstimator",
    targets: EstimationTargets | str = "T1",
    thresholds: Sequence[float] = (10, 20),
    game_levels: Sequence[int] = (0, 1, 2, 3),
    progress: bool = True,
    batch_size: int = 1,
    game_convention: GameConvention = "exact",
    cache: PredictionCache | str | Path | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    actors: int = 2,
    on_error: str = "fail",
) -> ComparisonReport:
    """Run ``estimators`` (default: every choice of ``broker``) over ``dataset`` and return the scored report.

    Args:
        wb: a started ``Workbench``; each estimator is run on it by name in turn, and what it serves is
            never switched.
        dataset: a ``Dataset``, or a dataset folder (read with ``load_dataset``).
        estimators: estimator names as ``wb.estimator_choices[broker]`` lists them (``"default"`` or a
            replacement plugin's class name), in the order to run and show them.
        broker: the estimator broker to compare on.
        targets: ``"T1"`` (count and points: localisation is scored) or ``"T2"`` (count only).
        thresholds: localisation match distances in pixels. Where the dataset gives head boxes (NWPU-Crowd),
            each image is also scored with a distance per head (NWPU's protocol, ``metrics.box_thresholds``:
            half the box's diagonal), in the ``...@box`` columns.
        game_levels: GAME levels to score (each level ``L`` splits the image into ``4**L`` cells).
        progress: show one progress bar per estimator, named after it (``tqdm.auto``: a widget in Jupyter,
            text in a terminal).
        batch_size: images per ``wb.estimate`` call.
        game_convention: ``"exact"`` (area-weighted cells) or ``"blocks"`` (the published code's integer
            blocks); see ``workbench.research.metrics.game_image``.
        cache: a ``PredictionCache`` or the path of its SQLite file: results found there are not computed
            again (they are flagged in the ``cached`` column and left out of the latency figures), new ones
            are stored as they come, so an interrupted run resumes where it stopped.
        engine: ``"local"`` (this host, each estimator by name in a pool of its own while it runs) or
            ``"ray"`` (a pool of ``actors`` Ray actors per estimator, each with its own host built like
            ``wb``). The report is the same either way, and neither switches what ``wb`` serves.
        ray_address: the Ray cluster to use (``"auto"``, ``"ray://head:10001"``); ``None`` connects to the Ray
            already initialised in this process, or starts a one-machine Ray.
        actors: Ray actors per estimator (each takes one CPU, or one GPU when the host's device is "gpu").
        on_error: what to do about images that cannot be decoded (truncated, corrupt, not an image, over the
            pixel budget); every image is decoded once before any estimator runs, to find them. ``"fail"``
            raises ``UnreadableImagesError`` naming each of them, before anything is estimated; ``"skip"``
            leaves them out of the run: the report's ``skipped`` lists them with the reason, and its notes say
            so.

    An image whose result the host refuses (``EstimatorOutputError``: a non-finite or negative map, points outside
    the image or more than the count, ...) fails alone: its row holds the reason in ``failure``, its result is
    ``None``, the report's notes name it and the estimator's scores leave it out; the other images are scored.

    Raises:
        UnknownEstimatorError: an unknown broker or estimator name (raised before any image is run).
        UnreadableImagesError: some image cannot be decoded and ``on_error`` is ``"fail"``, or none can (a
            ``DatasetError``).
        RuntimeError: the host is not running.
        ValueError: a bad ``batch_size``, threshold, GAME level or ``on_error``.
    """
    if not wb.running:
        raise RuntimeError("the Workbench is not running: call wb.start() (or use `with Workbench(...) as wb:`)")
    choices = wb.estimator_choices
    if broker not in choices:
        raise UnknownEstimatorError(unknown_broker_message(broker, choices))
    names = list(choices[broker]) if estimators is None else _check_estimators(estimators, choices[broker], broker)
    parsed_targets = parse_targets(targets)
    thresholds = _check_thresholds(thresholds)
    levels = _check_levels(game_levels)
    whole_number(batch_size, "batch_size", minimum=1)
    choice(engine, "engine", ENGINES)
    choice(game_convention, "game_convention", GAME_CONVENTIONS)
    choice(on_error, "on_error", ON_ERROR)
    if not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset)
    if len(dataset) == 0:
        raise ValueError("the dataset has no images; nothing to compare")

    # Imported here so that importing the research package does not load pandas and tqdm.
    from tqdm.auto import tqdm

    from .report import ComparisonReport

    checked = len(dataset)
    dataset, skipped = _readable_images(dataset, on_error, progress)

    rows: list[dict[str, Any]] = []
    results: dict[str, list[CountResult | None]] = {}
    busy_seconds: dict[str, float] = {}
    sizes: dict[int, tuple[int, int]] = {}  # read from the file headers once, in the scoring thread
    store = PredictionCache(cache) if isinstance(cache, (str, Path)) else cache
    # Each result is scored as it comes, in a thread of its own, while the next images are estimated: scored
    # afterwards, the scoring (and reading the sizes) ran on one core with the estimator idle.
    scorer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-score")

    def score(index: int, name: str, result: CountResult | FailedImage) -> dict[str, Any]:
        if isinstance(result, FailedImage):  # nothing to score: the row says why (ComparisonReport.failure_notes)
            return {"image": dataset[index].name, "estimator": name, "true_count": dataset[index].count,
                    "failure": result.reason}
        if index not in sizes:
            sizes[index] = dataset[index].size
        return _score(dataset[index], sizes[index], name, result, parsed_targets, thresholds, levels, game_convention)

    try:
        for name in names:
            scored: dict[int, Future[dict[str, Any]]] = {}

            def score_later(
                index: int, result: CountResult | FailedImage, name: str = name,
                scored: dict[int, Future[dict[str, Any]]] = scored,
            ) -> None:
                scored[index] = scorer.submit(score, index, name, result)

            # One bar per estimator, named after it: a finished bar keeps saying whose run it was.
            with tqdm(total=len(dataset), desc=f"{name}: estimating", disable=not progress, unit="img") as bar:
                answers, busy_seconds[name], hits = estimate_dataset(
                    wb, broker, name, dataset, parsed_targets, batch_size, bar,
                    engine=engine, actors=actors, ray_address=ray_address, cache=store, on_each=score_later,
                )
            results[name] = [answer if isinstance(answer, CountResult) else None for answer in answers]
            for index in range(len(dataset)):
                row = scored[index].result()
                rows.append({**row, "cached": hits[index], **({"latency_ms": math.nan} if hits[index] else {})})
    finally:
        scorer.shutdown(wait=True, cancel_futures=True)
        if store is not None and store is not cache:
            store.close()
    report = ComparisonReport(
        dataset,
        rows,
        results,
        broker=broker,
        targets=parsed_targets.name,
        thresholds=thresholds,
        game_levels=levels,
        busy_seconds=busy_seconds,
        labels={name: wb.estimator_label(broker, name) for name in names},
        skipped=skipped,
    )
    if skipped:
        reasons = [f"{row['image']}: {row['reason']}" for row in skipped]
        report.notes.append(
            f"{len(skipped)} of {checked} images cannot be read and were skipped, as asked; no score counts them "
            f"(listed under 'Skipped images' and in skipped.csv): {some(reasons, separator='; ')}"
        )
    report.notes.extend(report.failure_notes() + report.range_notes())
    return report


def _readable_images(dataset: Dataset, on_error: str, progress: bool) -> tuple[Dataset, list[dict[str, str]]]:
    """``dataset``'s images that decode, and a row per image that does not (``image``, ``path``: a video frame's
    with ``#frame=N``, ``reason``).

    Every image is decoded once before the run, by the decoder the run uses (a video's frames by a decoder of
    the video's own that makes no pixels: ``VideoFile.check``), so that a bad file fails the run
    before any estimator time is spent (``on_error="fail"``), or is left out for every estimator alike
    (``"skip"``) rather than breaking the run when its turn comes.
    """
    from tqdm.auto import tqdm

    workers = min(_MAX_CHECKERS, usable_cpus())
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workbench-check") as decoders, tqdm(
        total=len(dataset), desc="checking images", disable=not progress, unit="img"
    ) as bar:
        failures = []
        for checked_one in decode_by_file(decoders, dataset, _decode_failure):
            failures.append(checked_one.result())
            bar.update(1)
    # The check's decoders are done with: closed, they hold no decoded pictures (and no file) through the run.
    for video in {sample.video for sample in dataset if isinstance(sample, VideoFrame) and sample.video is not None}:
        video.close()
    unreadable = [
        {"image": sample.name, "path": failure[0], "reason": failure[1]}
        for sample, failure in zip(dataset, failures) if failure is not None
    ]
    if not unreadable:
        return dataset, []
    if on_error == "fail" or len(unreadable) == len(dataset):
        raise UnreadableImagesError(unreadable, len(dataset))
    readable = [sample for sample, failure in zip(dataset, failures) if failure is None]
    return dataset.replace(readable), unreadable


def _decode_failure(sample: Sample) -> tuple[str, str] | None:
    """Where (the file; a video frame's with ``#frame=N``) and why ``sample``'s image cannot be decoded, or
    ``None`` when it can."""
    try:
        sample.check()  # a video frame's by a decoder of the video's own that makes no pixels
    except ImageDecodeError as error:
        # The decoder's message starts with where it read: the path, a video frame's with "#frame=N", which
        # tells a video's bad frames apart where the path alone would name the same file for each.
        text = str(error)
        where, separator, reason = text.partition(": ")
        if separator and where.startswith(str(sample.image_path)):
            return where, reason
        return str(sample.image_path), text
    return None


def _check_estimators(estimators: Sequence[str], choices: list[str], broker: str) -> list[str]:
    if isinstance(estimators, str):
        # A comma-separated string, as the command line gives it, is accepted rather than iterated by letter.
        estimators = [part.strip() for part in estimators.split(",") if part.strip()]
    names = list(dict.fromkeys(estimators))
    if not names:
        raise ValueError(f"no estimators given; choose from {', '.join(map(repr, choices))} (or pass None for all)")
    unknown = [name for name in names if name not in choices]
    if unknown:
        raise UnknownEstimatorError(unknown_estimators_message(unknown, broker, choices))
    return names


def _check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    checked = [number(value, "each of thresholds", minimum=0, unit="pixels") for value in thresholds]
    return tuple(dict.fromkeys(checked))


def _check_levels(levels: Sequence[int]) -> tuple[int, ...]:
    checked = [whole_number(level, "each of game_levels", minimum=0) for level in levels]
    return tuple(dict.fromkeys(checked))


def _score(
    sample: Sample,
    size: tuple[int, int],
    estimator: str,
    result: CountResult,
    targets: EstimationTargets,
    thresholds: tuple[float, ...],
    levels: tuple[int, ...],
    game_convention: GameConvention = "exact",
) -> dict[str, Any]:
    """One per-image row: counts, error, latency, GAME and localisation (NaN where it cannot be scored)."""
    true = sample.count
    # By the annotated heads where the image has them, else by the result's evidence (estimators/_range.py).
    verdict = judge_result(result, sample.points, size[0] * size[1])
    row: dict[str, Any] = {
        "image": sample.name,
        "estimator": estimator,
        "true_count": true,
        "pred_count": result.count,
        # Before rounding: what the literature's MAE/RMSE/NAE are computed from (the report's "(sum)" columns).
        "pred_sum": density_count(result),
        "error": math.nan if true is None else result.count - true,
        "abs_error": math.nan if true is None else abs(result.count - true),
        "latency_ms": math.nan if result.elapsed is None else result.elapsed * 1000.0,
        # None where the estimator declares no training range or nothing could tell; range_evidence names
        # what decided (annotations, density map, estimate, estimator) and range_reason says why.
        "in_range": verdict.in_range,
        "range_evidence": verdict.evidence,
        "range_reason": verdict.reason,
    }
    # A count-only result (no map, no points) can only be scored on the whole image.
    placeable = result.densityMap is not None or len(result.pointsArray) > 0 or result.count == 0
    for level in levels:
        scorable = true is not None and (level == 0 or placeable)
        row[f"game_{level}"] = (
            game_image(result, sample.points, size, level, convention=game_convention) if scorable else math.nan
        )
    distances: list[tuple[str, Any]] = [(f"@{t:g}", t) for t in thresholds]
    if sample.boxes is not None:
        # Each head's own distance from its box: NWPU-Crowd's protocol, beside the fixed distances.
        distances.append(("@box", box_thresholds(sample.boxes)))
    for tag, threshold in distances:
        if true is None or targets is not EstimationTargets.T1:
            row.update({f"{key}{tag}": math.nan for key in ("tp", "fp", "fn", "precision", "recall", "f1")})
            continue
        loc = localisation(result, sample.points, threshold)
        row.update({
            f"tp{tag}": loc.tp, f"fp{tag}": loc.fp, f"fn{tag}": loc.fn,
            f"precision{tag}": loc.precision, f"recall{tag}": loc.recall, f"f1{tag}": loc.f1,
        })
    return row
