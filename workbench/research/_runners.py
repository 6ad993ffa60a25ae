"""How ``compare`` gets one estimator's results for a list of images: here, or on a pool of Ray actors.

A runner takes ``(index, sample)`` pairs and calls ``on_result(index, result)`` in the caller's thread as each
result arrives (in any order), which is where ``compare`` scores it, stores it in the cache and moves the
progress bar. It returns the seconds the estimator was busy: for the local runner the time inside
``wb.estimate``; for Ray the sum over actors, which is larger than the wall time when actors run in parallel.

What both runners share (``HostSpec``, one timed call) is in ``_runner_parts``, which the Ray runner imports
without importing this module back.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._system import usable_cpus
from ..host import UnidentifiedEstimatorError
from ..result import CountResult
from ..sdk import EstimationTargets
from ._runner_parts import FailedImage, HostSpec, OnResult, estimate_timed
from .cache import PredictionCache, prediction_key

if TYPE_CHECKING:
    from ..host import Workbench
    from ..sdk import VLImage
    from .datasets import Sample

__all__ = ["ENGINES", "FailedImage", "HostSpec", "OnResult", "decode_by_file", "estimate_dataset", "run_local"]

ENGINES = ("local", "ray")
# Two decoders let a call's images decode in parallel where the process has the cores for it; more would only
# take cores from the estimator.
_MAX_DECODERS = 2

Decoded = TypeVar("Decoded")


def decode_by_file(
    pool: Executor, samples: Sequence[Sample], decode: Callable[[Sample], Decoded]
) -> list[Future[Decoded]]:
    """``decode(sample)`` for each of ``samples`` on ``pool``, one future per sample in their order.

    Samples read from one file (a video's frames) are decoded by one task, one after the other in the order
    given: they share one decoder that goes forward, so two tasks would only wait on each other, and one that
    overtook the other would make it seek back and decode again from a keyframe. Each image file is a task of
    its own, so image files decode in parallel. A future cancelled before its turn is not decoded.
    """
    futures: list[Future[Decoded]] = [Future() for _ in samples]
    by_file: dict[Path, list[int]] = {}
    for position, sample in enumerate(samples):
        by_file.setdefault(sample.image_path, []).append(position)

    def decode_in_order(positions: list[int]) -> None:
        for position in positions:
            future = futures[position]
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(decode(samples[position]))
            except BaseException as error:  # handed to whoever waits on the future, as pool.submit would
                future.set_exception(error)

    for positions in by_file.values():
        pool.submit(decode_in_order, positions)
    return futures


def run_local(
    wb: Workbench,
    broker: str,
    name: str,
    items: Sequence[tuple[int, Sample]],
    targets: EstimationTargets,
    batch_size: int,
    on_result: OnResult,
) -> float:
    """Estimator ``name`` of ``wb`` over ``items``, ``batch_size`` images per call; returns busy seconds.

    The estimator is used by name under a lease for the whole run (built once, closed after unless it is the
    one served): what ``wb`` serves never changes, so its server and other callers are not disturbed.

    The next call's images are decoded in background threads while the current call is estimated (the image
    decoders and onnxruntime release the GIL), so the estimator does not wait for JPEG decoding between calls;
    at most two calls' images are held decoded at a time. A file that cannot be decoded fails the run when
    its call comes, after the earlier calls' results have been delivered, as without the read-ahead.
    """
    chunks = [items[start:start + batch_size] for start in range(0, len(items), batch_size)]
    busy = 0.0
    decoders_wanted = min(_MAX_DECODERS, usable_cpus())
    with wb.lease_estimator(broker, name), ThreadPoolExecutor(
        max_workers=decoders_wanted, thread_name_prefix="workbench-decode"
    ) as decoders:

        def decode(chunk: Sequence[tuple[int, Sample]]) -> list[Future[VLImage]]:
            return decode_by_file(decoders, [sample for _, sample in chunk], attrgetter("image"))

        upcoming = decode(chunks[0]) if chunks else []
        try:
            for position, chunk in enumerate(chunks):
                # Decoding is outside the timed call: it is the same for every estimator and not theirs to pay.
                images = [future.result() for future in upcoming]
                upcoming = decode(chunks[position + 1]) if position + 1 < len(chunks) else []
                batch, seconds = estimate_timed(wb, broker, name, images, targets)
                busy += seconds
                for (index, _), result in zip(chunk, batch):
                    on_result(index, result)
        finally:
            for future in upcoming:
                future.cancel()
    return busy


def estimate_dataset(
    wb: Workbench,
    broker: str,
    name: str,
    dataset: Sequence[Sample],
    targets: EstimationTargets,
    batch_size: int,
    bar: Any,
    *,
    engine: str = "local",
    actors: int = 2,
    ray_address: str | None = None,
    cache: PredictionCache | None = None,
    on_each: OnResult | None = None,
) -> tuple[list[CountResult | FailedImage], float, list[bool]]:
    """Every image's result from estimator ``name``: from ``cache`` where it has them, the rest computed by
    ``engine`` (and stored in ``cache`` one by one, so an interrupted run resumes). An image whose result the
    host refused is a ``FailedImage``; it is not cached, so a later run asks the estimator again.

    Returns the results in dataset order, the busy seconds spent computing, and which results were cache hits
    (flagged ``extras["cached"] = True``; their ``elapsed`` is the original run's, not this one's). An
    estimator the host cannot identify (``UnidentifiedEstimatorError``) is run without ``cache``, with a warning.
    ``on_each(index, result)`` is called for every result as soon as it is known, cache hits first.
    """
    results: list[CountResult | FailedImage | None] = [None] * len(dataset)
    hits = [False] * len(dataset)
    keys: dict[int, tuple[str, str]] = {}
    if cache is not None:
        try:
            identity = wb.estimator_identity(broker, name)
        except UnidentifiedEstimatorError as error:
            warnings.warn(str(error), stacklevel=3)  # compare's caller sees it, beside the results it still gets
            cache = None
    if cache is not None:
        for index, sample in enumerate(dataset):
            digest = sample.content_digest()
            keys[index] = (prediction_key(identity, digest, None, targets.name), digest)
        found = cache.get_many(key for key, _ in keys.values())
        for index, (key, _) in keys.items():
            if key in found:
                hit = results[index] = found[key].replace(extras={**found[key].extras, "cached": True})
                hits[index] = True
                if on_each is not None:
                    on_each(index, hit)
        bar.update(sum(hits))

    def on_result(index: int, result: CountResult | FailedImage) -> None:
        results[index] = result
        if cache is not None and isinstance(result, CountResult):
            key, digest = keys[index]
            cache.put(key, result, estimator=identity, image_sha256=digest, targets=targets.name)
        if on_each is not None:
            on_each(index, result)
        bar.update(1)

    todo = [(index, sample) for index, sample in enumerate(dataset) if results[index] is None]
    busy = 0.0
    if todo and engine == "ray":
        from ._ray_runner import RayEstimatorPool

        with RayEstimatorPool(HostSpec.from_host(wb), broker, name, actors=actors, address=ray_address) as pool:
            busy = pool.run(todo, targets, batch_size, on_result)
    elif todo:
        busy = run_local(wb, broker, name, todo, targets, batch_size, on_result)
    missing = [dataset[index].name for index, result in enumerate(results) if result is None]
    if missing:
        raise RuntimeError(f"{engine} runner returned no result for {len(missing)} image(s): {', '.join(missing[:5])}")
    return results, busy, hits  # type: ignore[return-value]  # no None left, checked above
