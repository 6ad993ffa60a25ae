"""``OnnxDensityEstimator``: a people-count estimator over any ONNX density-map model.

It honours the service's estimator contract (``EstimatorBase``) and so can be the workbench's default
estimator or be wrapped in a replacement plugin. How it works, and why:

* **Batching.** Images (or detect areas) of one size are stacked into one ``session.run`` (up to
  ``max_batch`` at a time): the host hands the estimator a whole request at once, and on a GPU one run of N
  images costs much less than N runs. ``parallel_runs`` > 1 splits each group over that many concurrent
  runs instead; on the 2-core development machine 1, 2 and 4 gave the same images/s within noise (CPU
  inference is compute-bound either way), so the default is 1. HWC models (one image per run) and models
  with a static batch of 1 run image by image.
* **Off the loop.** All the work of a call (stacking, inference, point finding) runs in the estimator's
  own worker threads (``parallel_runs`` of them), so the host's event loop keeps serving meanwhile.
* **Preprocessing.** In numpy by default (``ModelDescription.preprocess``, vectorised, in the worker
  thread). ``graph_preprocessing=True`` instead puts the preprocessing (cast, luma, normalisation,
  transpose) in front of the model in memory (``workbench.estimators._graph``, the same graph
  ``workbench model wrap`` ships), so onnxruntime does it and receives uint8, a quarter of the bytes, which
  should pay where the input is copied to a GPU. On the 2-core CPU both measured the same within noise
  (10.2 vs 10.7 images/s for wbcount at 1024x768), so the simpler path is the default. Both give the same
  maps; models below opset 13 always use numpy.
* **Geometry.** Each image is padded to a multiple of the model's stride (see ``workbench.estimators.model``);
  points are put at map-cell centres and shifted by the detect area's offset into original-image pixels,
  then clipped to the detect area (a cell in the padding can hold a head cut by the edge).
* **Count.** The map's sum rounded to the nearest whole number (half to even, as Python's ``round``), and
  never below 0. The service's reference plugin truncates (``int(sum)``), which under-counts by 0.5 on
  average.
"""
from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import onnx
import onnxruntime as ort

from ..plugins import EstimatorBase
from ..plugins._config import check_device_class
from ..result import CountResult
from ..images import image_size, parse_targets, pixel_bounds
from ..sdk import ColorFormat, EstimationTargets, ImageForPeopleEstimation, Rect, VLImage
from ._graph import MIN_OPSET, add_preprocessing, opset, takes_pixels
from .model import ModelDescription, ModelGeometry, measure_geometry, stack_padded
from .points import PointStrategy, resolve_point_strategy

__all__ = ["GpuUnavailableWarning", "OnnxDensityEstimator"]

EstimationInput = VLImage | ImageForPeopleEstimation | tuple[VLImage, Rect]

_CUDA = "CUDAExecutionProvider"


class GpuUnavailableWarning(RuntimeWarning):
    """A GPU was asked for but onnxruntime cannot use one here; the estimator runs on the CPU."""


class _Item:
    """One image to estimate: the image, the area to count in, and that area's pixel bounds."""

    __slots__ = ("index", "image", "area", "left", "top", "height", "width")

    def __init__(self, index: int, image: VLImage, area: Rect | None, bounds: tuple[int, int, int, int]) -> None:
        self.index = index
        self.image = image
        self.area = area
        self.left, self.top = bounds[0], bounds[1]
        self.height, self.width = bounds[3] - bounds[1], bounds[2] - bounds[0]

    def pixels(self) -> np.ndarray:
        """The area's RGB pixels (a copy: runs in the worker thread, not on the event loop)."""
        picture = self.image if self.area is None else self.image.crop(Rect(self.left, self.top, self.width, self.height))
        # The SDK's images may be BGR, grey or padded; the model takes RGB.
        return (picture if picture.format is ColorFormat.R8G8B8 else picture.convert(ColorFormat.R8G8B8)).asNPArray()


class OnnxDensityEstimator(EstimatorBase):
    """Counts people with an ONNX density-map model; returns ``CountResult`` with points and the map.

    Args:
        model_path: the ``.onnx`` file.
        description: how to feed the model: a ``ModelDescription``, a path to its JSON, or ``None`` to read
            ``<stem>.json`` beside the model (or the description embedded in its metadata).
        device_class: ``"cpu"`` or ``"gpu"``. ``"gpu"`` uses onnxruntime's CUDA provider on ``gpu_device``;
            where it is unavailable a ``GpuUnavailableWarning`` is issued and the CPU is used.
        gpu_device: the CUDA device index.
        points: ``"peaks"``, ``"topk"`` or a ``PointStrategy`` (e.g. ``get_point_strategy("peaks", size=5)``).
        intra_op_threads: onnxruntime intra-op threads; ``None`` lets onnxruntime choose (all physical cores).
        name: the ``estimatorName`` of the results; defaults to the description's name.
        max_batch: the most images stacked into one run; bounds the memory of a large same-size request
            (a 1024x768 image needs tens of MB of activations in a typical counter).
        graph_preprocessing: run the preprocessing inside the onnxruntime session instead of numpy (same
            results; see above).
        parallel_runs: concurrent ``session.run`` calls (worker threads) a same-size group is split over.

    Raises:
        FileNotFoundError: the model (or its description) is missing.
        ModelDescriptionError: the description is invalid or does not match the model (names, rank, dtype,
            channels, stride).
        ValueError: a bad argument, or a file onnxruntime cannot load.
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        description: ModelDescription | str | os.PathLike | None = None,
        *,
        device_class: Literal["cpu", "gpu"] = "cpu",
        gpu_device: int = 0,
        points: str | PointStrategy = "peaks",
        intra_op_threads: int | None = None,
        name: str | None = None,
        max_batch: int = 8,
        graph_preprocessing: bool = False,
        parallel_runs: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"ONNX model {self.model_path} not found (cwd is {os.getcwd()})")
        if isinstance(description, ModelDescription):
            self.description = description
        elif description is None:
            self.description = ModelDescription.for_model(self.model_path)
        else:
            self.description = ModelDescription.load(description)
        check_device_class(device_class, allow_global=False, what="device_class")
        if isinstance(gpu_device, bool) or not isinstance(gpu_device, int) or gpu_device < 0:
            raise ValueError(f"gpu_device must be a CUDA device index >= 0, got {gpu_device!r}")
        if intra_op_threads is not None and (
            isinstance(intra_op_threads, bool) or not isinstance(intra_op_threads, int) or intra_op_threads < 1
        ):
            raise ValueError(f"intra_op_threads must be a whole number >= 1 or None, got {intra_op_threads!r}")
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a whole number >= 1, got {max_batch!r}")
        if isinstance(parallel_runs, bool) or not isinstance(parallel_runs, int) or parallel_runs < 1:
            raise ValueError(f"parallel_runs must be a whole number >= 1, got {parallel_runs!r}")
        self.points = resolve_point_strategy(points)
        self.name = name or self.description.name
        self.max_batch = max_batch

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads is not None:
            options.intra_op_num_threads = intra_op_threads
        providers: list[Any] = ["CPUExecutionProvider"]
        if device_class == "gpu":
            if _CUDA in ort.get_available_providers():
                providers.insert(0, (_CUDA, {"device_id": gpu_device}))
            else:
                warnings.warn(
                    f"{self.name}: device_class='gpu' but this onnxruntime has no CUDA provider (available: "
                    f"{', '.join(ort.get_available_providers())}); running on the CPU. Install onnxruntime-gpu "
                    "in place of onnxruntime for GPU inference",
                    GpuUnavailableWarning,
                    stacklevel=2,
                )
        try:
            session = ort.InferenceSession(str(self.model_path), options, providers=providers)
        except Exception as error:  # onnxruntime's load errors have no common public base class
            raise ValueError(f"onnxruntime cannot load {self.model_path}: {error}") from None
        # Checked and measured on the model as described, so that errors speak of the user's description.
        self.geometry: ModelGeometry = measure_geometry(session, self.description, str(self.model_path))
        self._feed = self.description
        if graph_preprocessing and not takes_pixels(self.description, self.description.batched):
            proto = onnx.load(str(self.model_path))
            if opset(proto) >= MIN_OPSET:
                self._feed = add_preprocessing(
                    proto, self.description, batched=self.description.batched, model=str(self.model_path)
                )
                session = ort.InferenceSession(proto.SerializeToString(), options, providers=providers)
        self._session: ort.InferenceSession | None = session
        if device_class == "gpu" and len(providers) > 1 and _CUDA not in self._session.get_providers():
            # onnxruntime falls back to the CPU by itself when the CUDA provider fails to start (no driver).
            warnings.warn(
                f"{self.name}: the CUDA provider failed to start on GPU {gpu_device}; running on the CPU",
                GpuUnavailableWarning,
                stacklevel=2,
            )
        self.parallel_runs = parallel_runs
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=parallel_runs, thread_name_prefix=f"onnx-density-{self.name}"
        )

    @property
    def providers(self) -> list[str]:
        """The onnxruntime execution providers in use (``["CPUExecutionProvider"]`` on the CPU)."""
        return self._require_session().get_providers()

    @property
    def device_class(self) -> Literal["cpu", "gpu"]:
        """Where inference really runs (``"cpu"`` after a GPU fallback)."""
        return "gpu" if _CUDA in self.providers else "cpu"

    @property
    def preprocessing(self) -> Literal["graph", "numpy"]:
        """Where the model input is prepared: inside the onnxruntime session, or in numpy."""
        return "numpy" if self._feed is self.description else "graph"

    @property
    def stride(self) -> int:
        """Input pixels per density-map cell."""
        return self.geometry.stride

    def close(self) -> None:
        """Wait for running batches, then release the worker threads and the onnxruntime session."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._session = None

    async def estimateBatch(
        self,
        images: Sequence[EstimationInput],
        estimationTargets: EstimationTargets | str = EstimationTargets.T1,
        asyncEstimate: bool = True,
    ) -> list[CountResult]:
        """One ``CountResult`` per image, in order; T1: count and points, T2: count only.

        ``asyncEstimate=False`` waits for the result without yielding to the event loop (blocking it), for
        callers that need the service's synchronous mode; prefer the default.
        """
        items, targets = self._prepare(images, estimationTargets)
        futures = self._submit(items, targets)
        if not asyncEstimate:
            return self._collect([future.result() for future in futures], len(images))
        return self._collect(await asyncio.gather(*map(asyncio.wrap_future, futures)), len(images))

    def estimate(
        self, images: Sequence[EstimationInput], targets: EstimationTargets | str = EstimationTargets.T1
    ) -> list[CountResult]:
        """The synchronous twin of ``estimateBatch`` for scripts (not for code running on an event loop)."""
        items, parsed = self._prepare(images, targets)
        return self._collect([future.result() for future in self._submit(items, parsed)], len(images))

    # -- internals ---------------------------------------------------------------------------------------

    def _require_session(self) -> ort.InferenceSession:
        if self._session is None:
            raise RuntimeError(f"estimator {self.name!r} is closed; create a new OnnxDensityEstimator")
        return self._session

    def _require_executor(self) -> ThreadPoolExecutor:
        self._require_session()
        assert self._executor is not None
        return self._executor

    @staticmethod
    def _prepare(images: Sequence[Any], targets: EstimationTargets | str) -> tuple[list[_Item], EstimationTargets]:
        """Check the inputs on the caller's thread (cheap, no pixel copies), so that a bad one fails before
        any work starts."""
        parsed_targets = parse_targets(targets)
        if not isinstance(images, (list, tuple)) or (
            isinstance(images, tuple) and len(images) == 2 and isinstance(images[1], Rect)
        ):
            raise TypeError(f"images must be a list of images, got {type(images).__name__}; wrap one image as [image]")
        items = []
        for index, entry in enumerate(images):
            if isinstance(entry, ImageForPeopleEstimation):
                image, area = entry.image, entry.detectArea
            elif isinstance(entry, VLImage):
                image, area = entry, None
            elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], VLImage) and isinstance(entry[1], Rect):
                image, area = entry
            else:
                raise TypeError(
                    f"image {index}: expected a VLImage, an ImageForPeopleEstimation or a (VLImage, Rect) pair, "
                    f"got {type(entry).__name__}"
                )
            width, height = image_size(image)
            if area is None:
                bounds = (0, 0, width, height)
            else:
                try:
                    bounds = pixel_bounds(area, width, height, "detectArea")
                except ValueError as error:
                    raise ValueError(f"image {index}: {error}") from None
            items.append(_Item(index, image, area, bounds))
        return items, parsed_targets

    def _chunks(self, items: list[_Item]) -> list[list[_Item]]:
        """Same-size groups cut into runs: at most ``max_batch`` each, and at least ``parallel_runs`` runs
        per group (when it has that many images) so that every worker has a share."""
        if not self.description.batched or self.geometry.fixed_batch is not None:
            size = self.geometry.fixed_batch or 1
            return [items[i : i + size] for i in range(0, len(items), size)]
        groups: dict[tuple[int, int], list[_Item]] = defaultdict(list)
        for item in items:
            groups[(item.height, item.width)].append(item)
        chunks = []
        for group in groups.values():
            runs = max(-(-len(group) // self.max_batch), min(self.parallel_runs, len(group)))
            chunks += [list(part) for part in np.array_split(np.array(group, dtype=object), runs)]
        return chunks

    def _submit(self, items: list[_Item], targets: EstimationTargets) -> list[Future[list[tuple[int, CountResult]]]]:
        executor = self._require_executor()
        return [executor.submit(self._estimate_chunk, chunk, targets) for chunk in self._chunks(items)]

    @staticmethod
    def _collect(parts: list[list[tuple[int, CountResult]]], n_images: int) -> list[CountResult]:
        results: list[CountResult | None] = [None] * n_images
        for part in parts:
            for index, result in part:
                results[index] = result
        return results  # type: ignore[return-value]

    def _estimate_chunk(self, chunk: list[_Item], targets: EstimationTargets) -> list[tuple[int, CountResult]]:
        """Runs in a worker thread: one ``session.run`` and the results; ``elapsed`` is the run's share."""
        started = time.perf_counter()
        maps = self._run(chunk)
        done = [self._result(item, density, targets) for item, density in zip(chunk, maps)]
        elapsed = (time.perf_counter() - started) / len(chunk)
        return [(item.index, result.replace(elapsed=elapsed)) for item, result in zip(chunk, done)]

    def _run(self, chunk: list[_Item]) -> np.ndarray:
        """Density maps ``(n, H', W')`` of a chunk of same-size images, from one ``session.run``."""
        session = self._require_session()
        feed = self._feed
        padded = self.geometry.padded_size(chunk[0].height, chunk[0].width)
        batch = stack_padded([item.pixels() for item in chunk], *padded, self.description.pad_pixel)
        fixed = self.geometry.fixed_batch
        if fixed is not None and fixed > len(chunk):
            # A static batch axis must be filled; the extra blank images' maps are dropped below.
            batch = np.concatenate([batch, np.zeros((fixed - len(chunk), *batch.shape[1:]), np.uint8)])
        (output,) = session.run([feed.output], {feed.input: feed.preprocess(batch)})
        n = batch.shape[0]
        map_h, map_w = output.shape[-2:]
        if output.size != n * map_h * map_w:
            raise ValueError(
                f"{self.model_path}: output {feed.output!r} has shape {output.shape} for {n} image(s); "
                "expected the batch, size-1 axes and the map ([N, 1, H', W'] or [N, H', W'])"
            )
        return output.reshape(n, map_h, map_w)[: len(chunk)]

    def _result(self, item: _Item, density: np.ndarray, targets: EstimationTargets) -> CountResult:
        stride = self.geometry.stride
        map_h, map_w = density.shape
        count = max(0, round(float(density.sum(dtype=np.float64))))
        if targets is EstimationTargets.T1:
            located = self.points.locate(density, count, scale=stride, offset=(item.left, item.top))
            points = np.array(located, dtype=np.float64).reshape(-1, 2)
            # A cell in the padding lies partly outside the area; its head is on the edge.
            np.clip(points[:, 0], item.left, item.left + item.width - 0.5, out=points[:, 0])
            np.clip(points[:, 1], item.top, item.top + item.height - 0.5, out=points[:, 1])
        else:
            points = np.zeros((0, 2))
        return CountResult(
            count,
            points,
            densityMap=density,  # CountResult keeps its own read-only copy
            densityArea=Rect(item.left, item.top, map_w * stride, map_h * stride),
            estimatorName=self.name,
        )

    def __repr__(self) -> str:
        state = "closed" if self._session is None else f"stride={self.geometry.stride}, providers={self.providers}"
        return f"OnnxDensityEstimator({str(self.model_path)!r}, name={self.name!r}, {state}, points={self.points!r})"
