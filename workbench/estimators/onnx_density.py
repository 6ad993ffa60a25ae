"""``OnnxDensityEstimator``: a people-count estimator over any ONNX density-map model.

It honours the service's estimator contract (``EstimatorBase``) and so can be the workbench's default
estimator or be wrapped in a replacement plugin. How it works, and why:

* **Batching.** Images (or detect areas) of one size are stacked into runs of at most ``max_batch`` images
  (8 on a GPU; on the CPU 1 with two lanes, else 2): the host hands the estimator a whole request at once,
  and on a GPU one run of N images costs much less than N runs, while on the CPU runs of 1, 2 and 8 cost the
  same per image, so the CPU's runs are kept small: two images in flight bound the memory, and small runs
  leave room for the pipeline below. HWC models (one image per run) and models with a static batch of 1 run
  image by image.
* **Lanes.** A call of several runs spreads them over ``parallel_runs`` concurrent ``session.run`` lanes,
  the runs cut so that every lane gets the same number of images. On the CPU (2 lanes by default where
  there are 2 threads or more) the lanes run on a second session whose runs each take an equal share of
  ``intra_op_threads``: on 2 cores, two one-thread runs side by side instead of one two-thread run. A
  one-thread run never waits at onnxruntime's per-operator barrier for a thread that the work around
  inference has pre-empted, which is what held a two-thread run back. A call of a single run
  (one image) keeps the first session, with all the threads, for its latency, unless another call is in
  flight (concurrent requests to a server, a prefetch beside the Explorer's own call): then it is a lane
  too, so that concurrent calls never ask for more threads than there are.
* **Pipeline.** Each lane runs ``session.run`` on its runs one after the other in an inference thread,
  while a helper thread of its own stacks and preprocesses the lane's next input and turns the previous
  run's maps into points and ``CountResult`` objects. Only the first run's input and the last run's results
  are prepared with nothing to overlap, so the work around inference mostly hides behind it. That pays where
  the runs leave CPU time to spare: a GPU run, the barriers of a multi-thread run, a core no lane uses. Where
  one-thread lanes take every CPU (the default on 2 cores) there is none: a helper thread would only pre-empt
  another lane's run, making that lane end later than the others, so each lane does that work itself, in
  the same order. Results come back in the images' order whatever order the runs end in.
  An error in one run fails the call with a note naming its images and stops the call's other runs; other
  calls on the same estimator are not affected. A cancelled call stops its lanes at the next run and ends a
  run in progress through onnxruntime's ``RunOptions.terminate``.
* **Off the loop.** All the work of a call runs in the estimator's own threads, so the host's event loop
  keeps serving meanwhile.
* **Preprocessing.** By default inside the onnxruntime session: the preprocessing (cast, luma, normalisation,
  transpose) is put in front of the model in memory (``workbench.estimators._graph``, the same graph
  ``workbench model wrap`` ships), so the helper only stacks uint8 pixels. A model that starts with a
  convolution over RGB has that convolution read the pixels in place, with no transpose (``_graph``). On a
  GPU the input copied to the device is then a quarter of the bytes (with IO binding there); on the CPU each
  lane preprocesses its own run on its own thread, leaving the helpers only the stacking. With a
  single lane (one thread) it is done in numpy in the helper thread (``ModelDescription.preprocess``: one
  multiply-add per element written straight into the model's layout), overlapped with the run on another
  core. ``graph_preprocessing=`` chooses either way; models below opset 13 always use numpy. Both give the
  same maps.
* **Geometry.** Each image is padded to a multiple of the model's stride (see ``workbench.estimators.model``);
  points are put at map-cell centres and shifted by the detect area's offset into original-image pixels,
  then clipped to the detect area (a cell in the padding can hold a head cut by the edge).
* **Count.** The map's sum rounded to the nearest whole number (half to even, as Python's ``round``), and
  never below 0. The service's reference plugin truncates (``int(sum)``), which under-counts by 0.5 on
  average.

What each of these choices gained, measured, is in ``docs/benchmarks.md`` (*The estimator's design, measured*).
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
import warnings
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, CancelledError, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import onnx
import onnxruntime as ort

from .._system import usable_cpus
from .._checks import whole_number
from ..plugins import EstimatorBase
from ..plugins._config import check_device_class
from ..result import CountResult
from ..images import check_image_list, image_size, parse_targets, pixel_bounds, rgb_pixels
from ..sdk import EstimationTargets, ImageForPeopleEstimation, Rect, VLImage
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
        """The area's RGB pixels, read-only (runs in a helper or lane thread, not on the event loop)."""
        return rgb_pixels(self.image, None if self.area is None else Rect(self.left, self.top, self.width, self.height))


class _Call:
    """One call's cancellation: onnxruntime run options whose ``terminate`` flag ends a run in progress
    and tells the call's lanes to start no further run."""

    __slots__ = ("run_options",)

    def __init__(self) -> None:
        self.run_options = ort.RunOptions()

    @property
    def cancelled(self) -> bool:
        return bool(self.run_options.terminate)

    def cancel(self) -> None:
        self.run_options.terminate = True


_Indexed = tuple[int, CountResult]  # a result and the index of its image in the call


class _InTheLane(Executor):
    """Runs each job at once, in the thread that submits it (the lane's own), and hands back its future."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed on through the future, as a helper thread's job would be
            future.set_exception(error)
        return future


def _model_file(model_path: str | os.PathLike) -> Path:
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {path} not found (cwd is {os.getcwd()})")
    return path


def _check_arguments(
    device_class: str, gpu_device: int, intra_op_threads: int | None, max_batch: int | None, parallel_runs: int | None
) -> None:
    """Refuse a bad argument before any model is loaded."""
    check_device_class(device_class, allow_global=False, what="device_class")
    whole_number(gpu_device, "gpu_device", minimum=0, note="a CUDA device index")
    for name, value in (("intra_op_threads", intra_op_threads), ("max_batch", max_batch), ("parallel_runs", parallel_runs)):
        whole_number(value, name, minimum=1, allow_none=True)


def _providers(device_class: str, gpu_device: int, name: str) -> list[Any]:
    """onnxruntime's providers for ``device_class``: the CPU's, after CUDA's on ``gpu_device`` where asked
    for and available (else a ``GpuUnavailableWarning``, attributed to the estimator's caller)."""
    providers: list[Any] = ["CPUExecutionProvider"]
    if device_class == "gpu":
        if _CUDA in ort.get_available_providers():
            providers.insert(0, (_CUDA, {"device_id": gpu_device}))
        else:
            warnings.warn(
                f"{name}: device_class='gpu' but this onnxruntime has no CUDA provider (available: "
                f"{', '.join(ort.get_available_providers())}); running on the CPU. Install onnxruntime-gpu "
                "in place of onnxruntime for GPU inference",
                GpuUnavailableWarning,
                stacklevel=3,
            )
    return providers


def _load_session(
    source: str | bytes, model_path: Path, options: ort.SessionOptions, providers: list[Any]
) -> ort.InferenceSession:
    """An onnxruntime session of ``source`` (the model's file, or its rewritten graph's bytes)."""
    try:
        return ort.InferenceSession(source, options, providers=providers)
    except Exception as error:  # onnxruntime's load errors have no common public base class
        raise ValueError(f"onnxruntime cannot load {model_path}: {error}") from None


def _with_graph_preprocessing(model_path: Path, description: ModelDescription) -> tuple[ModelDescription, bytes] | None:
    """The model with its preprocessing put in front of it (``_graph``): what feeds it and its bytes; ``None``
    where the model already takes pixels or its opset is too old for the preprocessing's operators."""
    if takes_pixels(description, description.batched):
        return None
    proto = onnx.load(str(model_path))
    if opset(proto) < MIN_OPSET:
        return None
    feed = add_preprocessing(proto, description, batched=description.batched, model=str(model_path))
    return feed, proto.SerializeToString()


@dataclass(frozen=True)
class _SessionPlan:
    """How an estimator spreads a call over its sessions and threads (see Lanes and Pipeline above); chosen
    from the device and the arguments alone, before any session for the lanes is made."""

    parallel_runs: int
    graph_preprocessing: bool
    max_batch: int
    io_binding: bool
    # Threads of each run of the lanes' own session; None: the lanes share the first session.
    lane_threads: int | None
    # The lanes prepare their own inputs and results instead of handing them to helper threads.
    helpers_in_the_lanes: bool

    @classmethod
    def choose(
        cls, *, on_gpu: bool, threads: int, cpus: int, parallel_runs: int | None, graph_preprocessing: bool | None,
        max_batch: int | None, io_binding: bool | None,
    ) -> _SessionPlan:
        if parallel_runs is None:
            parallel_runs = 1 if on_gpu or threads < 2 else 2
        if graph_preprocessing is None:
            graph_preprocessing = on_gpu or parallel_runs > 1
        # On the CPU a run of 1, 2 or 8 costs the same per image; with two lanes, runs of 1 keep two images'
        # activations in flight, as one lane's runs of 2 did.
        max_batch = max_batch or (8 if on_gpu else 1 if parallel_runs > 1 else 2)
        # On the CPU each lane's run takes its share of the threads (see Lanes above).
        lane_threads = max(1, threads // parallel_runs) if parallel_runs > 1 and not on_gpu else None
        # Helper threads overlap the lanes' runs (numpy releases the GIL for the heavy part), unless the lanes
        # take every CPU with one thread each: then a helper would only pre-empt another lane (see Pipeline).
        helpers_in_the_lanes = not on_gpu and (lane_threads or threads) == 1 and parallel_runs >= cpus
        return cls(
            parallel_runs=parallel_runs,
            graph_preprocessing=graph_preprocessing,
            max_batch=max_batch,
            io_binding=on_gpu if io_binding is None else bool(io_binding),
            lane_threads=lane_threads,
            helpers_in_the_lanes=helpers_in_the_lanes,
        )


def _cut_into_runs(items: list[_Item], max_batch: int, parallel_runs: int, model_run: int | None) -> list[list[_Item]]:
    """Same-size groups cut into runs: at most ``max_batch`` each, and at least ``parallel_runs`` runs per group
    (when it has that many images) so that every lane has a share. ``model_run``: the images a run of this model
    must hold (its static batch, or 1 where it takes one image), which cuts the items in order instead."""
    if model_run is not None:
        return [items[i : i + model_run] for i in range(0, len(items), model_run)]
    groups: dict[tuple[int, int], list[_Item]] = defaultdict(list)
    for item in items:
        groups[(item.height, item.width)].append(item)
    chunks = []
    for group in groups.values():
        runs = -(-len(group) // max_batch)
        # A whole number of runs per lane, so that no lane is left running alone at the end.
        runs = min(len(group), -(-runs // parallel_runs) * parallel_runs)
        chunks += [list(part) for part in np.array_split(np.array(group, dtype=object), runs)]
    return chunks


def _session_options(intra_op_threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads is not None:
        options.intra_op_num_threads = intra_op_threads
    # Idle intra-op threads sleep instead of spinning: the helper threads work while a run is in flight,
    # and spinning threads would take their cores (the runs are tens of ms, so waking costs nothing).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


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
        intra_op_threads: onnxruntime intra-op threads of a run of one image, shared equally by the lanes of a
            call of several runs; ``None``: onnxruntime's choice (all physical cores) for the former, the
            CPUs this process may use for the latter.
        name: the ``estimatorName`` of the results; defaults to the description's name.
        max_batch: the most images stacked into one run; ``None``: 8 on a GPU; on the CPU 1 with two lanes,
            else 2 (so that the pipeline has runs to overlap). Also bounds the memory of a large same-size
            request (a 1024x768 image needs tens of MB of activations in a typical counter).
        graph_preprocessing: run the preprocessing inside the onnxruntime session instead of numpy (same
            results; see above); ``None``: on a GPU, or with more than one lane, where the model allows it
            (opset >= 13).
        parallel_runs: concurrent ``session.run`` lanes a call's runs are spread over; ``None``: on the CPU 2
            where there are at least 2 threads (see Lanes above), else 1.
        io_binding: feed and fetch through an onnxruntime IO binding; ``None``: on a GPU only.

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
        max_batch: int | None = None,
        graph_preprocessing: bool | None = None,
        parallel_runs: int | None = None,
        io_binding: bool | None = None,
    ) -> None:
        self.model_path = _model_file(model_path)
        if isinstance(description, ModelDescription):
            self.description = description
        elif description is None:
            self.description = ModelDescription.for_model(self.model_path)
        else:
            self.description = ModelDescription.load(description)
        _check_arguments(device_class, gpu_device, intra_op_threads, max_batch, parallel_runs)
        self.points = resolve_point_strategy(points)
        self.name = name or self.description.name

        providers = _providers(device_class, gpu_device, self.name)
        options = _session_options(intra_op_threads)
        session = _load_session(str(self.model_path), self.model_path, options, providers)
        # Checked and measured on the model as described, so that errors speak of the user's description.
        self.geometry: ModelGeometry = measure_geometry(session, self.description, str(self.model_path))
        plan = _SessionPlan.choose(
            on_gpu=_CUDA in session.get_providers(), threads=intra_op_threads or usable_cpus(), cpus=usable_cpus(),
            parallel_runs=parallel_runs, graph_preprocessing=graph_preprocessing, max_batch=max_batch,
            io_binding=io_binding,
        )
        self.parallel_runs = plan.parallel_runs
        self.max_batch = plan.max_batch
        self.io_binding = plan.io_binding
        self._open_sessions(session, plan, options, providers)
        if device_class == "gpu" and len(providers) > 1 and _CUDA not in self.providers:
            # onnxruntime falls back to the CPU by itself when the CUDA provider fails to start (no driver).
            warnings.warn(
                f"{self.name}: the CUDA provider failed to start on GPU {gpu_device}; running on the CPU",
                GpuUnavailableWarning,
                stacklevel=2,
            )
        self._start_threads(plan)

    def _open_sessions(
        self, session: ort.InferenceSession, plan: _SessionPlan, options: ort.SessionOptions, providers: list[Any]
    ) -> None:
        """The first session (``session``, remade over the rewritten graph where the preprocessing goes into
        it) and the lanes' session (the first one, or on the CPU one whose runs take a share of the threads)."""
        self._feed: ModelDescription = self.description
        source: str | bytes = str(self.model_path)
        if plan.graph_preprocessing:
            rewritten = _with_graph_preprocessing(self.model_path, self.description)
            if rewritten is not None:
                self._feed, source = rewritten
                session = _load_session(source, self.model_path, options, providers)
        self._session: ort.InferenceSession | None = session
        self._lane_session: ort.InferenceSession | None = session
        if plan.lane_threads is not None:
            lane_options = _session_options(plan.lane_threads)
            self._lane_session = _load_session(source, self.model_path, lane_options, ["CPUExecutionProvider"])

    def _start_threads(self, plan: _SessionPlan) -> None:
        """The lanes' inference threads and, unless the lanes do that work themselves, their helper threads."""
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=plan.parallel_runs, thread_name_prefix=f"onnx-density-{self.name}"
        )
        self._lanes_in_flight = 0
        self._in_flight_lock = threading.Lock()
        self._helper: Executor | None = _InTheLane() if plan.helpers_in_the_lanes else ThreadPoolExecutor(
            max_workers=plan.parallel_runs, thread_name_prefix=f"onnx-density-{self.name}-helper"
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
        """Wait for running batches, then release the threads and the onnxruntime session."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._helper is not None:
            self._helper.shutdown(wait=True)
            self._helper = None
        self._session = self._lane_session = None

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
        call = _Call()
        lanes = self._submit(items, targets, call)
        if not asyncEstimate:
            return self._collect(self._wait(lanes, call), len(images))
        try:
            parts = await asyncio.gather(*map(asyncio.wrap_future, lanes))
        except BaseException:
            call.cancel()  # cancelled, or another lane failed: the remaining runs are of no use
            raise
        return self._collect(parts, len(images))

    def estimate(
        self, images: Sequence[EstimationInput], targets: EstimationTargets | str = EstimationTargets.T1
    ) -> list[CountResult]:
        """The synchronous twin of ``estimateBatch`` for scripts (not for code running on an event loop)."""
        items, parsed = self._prepare(images, targets)
        call = _Call()
        return self._collect(self._wait(self._submit(items, parsed, call), call), len(images))

    # -- internals ---------------------------------------------------------------------------------------

    def _require_session(self) -> ort.InferenceSession:
        if self._session is None:
            raise RuntimeError(f"estimator {self.name!r} is closed; create a new OnnxDensityEstimator")
        return self._session

    def _require_executor(self) -> ThreadPoolExecutor:
        self._require_session()
        assert self._executor is not None
        return self._executor

    def _require_helper(self) -> Executor:
        if self._helper is None:
            raise CancelledError(f"estimator {self.name!r} was closed during the call")
        return self._helper

    @staticmethod
    def _prepare(images: Sequence[Any], targets: EstimationTargets | str) -> tuple[list[_Item], EstimationTargets]:
        """Check the inputs on the caller's thread (cheap, no pixel copies), so that a bad one fails before
        any work starts."""
        parsed_targets = parse_targets(targets)
        items = []
        for index, entry in enumerate(check_image_list(images)):
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

    # -- lane scheduling: runs dealt to lanes, each lane a pipeline of runs (no model I/O here) --------------

    def _submit(self, items: list[_Item], targets: EstimationTargets, call: _Call) -> list[Future[list[_Indexed]]]:
        """One pipeline per lane, the runs dealt out in turn; a single run on an idle estimator takes the
        first session."""
        executor = self._require_executor()
        # A model without a free batch axis sets the size of its runs itself.
        model_run = self.geometry.fixed_batch or (None if self.description.batched else 1)
        chunks = _cut_into_runs(items, self.max_batch, self.parallel_runs, model_run)
        lanes = [chunks[lane :: self.parallel_runs] for lane in range(min(self.parallel_runs, len(chunks)))]
        with self._in_flight_lock:
            alone = len(chunks) == 1 and self._lanes_in_flight == 0
            self._lanes_in_flight += len(lanes)
        session = self._require_session() if alone else self._lane_session
        assert session is not None  # the lanes' session is dropped with the first one, in close()
        futures = [executor.submit(self._pipeline, session, lane, targets, call) for lane in lanes]
        for future in futures:
            future.add_done_callback(self._lane_done)
        return futures

    def _lane_done(self, _future: Future[list[_Indexed]]) -> None:
        with self._in_flight_lock:
            self._lanes_in_flight -= 1

    @staticmethod
    def _wait(lanes: list[Future[list[_Indexed]]], call: _Call) -> list[list[_Indexed]]:
        try:
            done, _ = wait(lanes, return_when=FIRST_EXCEPTION)
            for lane in done:
                lane.result()  # the first failure, not the first lane to end, decides
            return [lane.result() for lane in lanes]
        except BaseException:
            call.cancel()
            raise

    @staticmethod
    def _collect(parts: list[list[_Indexed]], n_images: int) -> list[CountResult]:
        results: list[CountResult | None] = [None] * n_images
        for part in parts:
            for index, result in part:
                results[index] = result
        return results  # type: ignore[return-value]

    def _pipeline(
        self, session: ort.InferenceSession, chunks: list[list[_Item]], targets: EstimationTargets, call: _Call
    ) -> list[_Indexed]:
        """Runs in an inference thread: ``session.run`` on each chunk in turn, while the helper thread
        prepares the next chunk's input and turns finished maps into results (or, where the lanes take every
        CPU, this thread does, between its runs).

        Whatever happens, nothing of this call is left queued or running on the helper when it returns.
        """
        helper = self._require_helper()
        upcoming = helper.submit(self._model_input, chunks[0])
        finishing: list[Future[list[_Indexed]]] = []
        current = chunks[0]
        try:
            for position, current in enumerate(chunks):
                batch, preparing = upcoming.result()
                if call.cancelled:
                    raise CancelledError("estimation cancelled")
                for earlier, future in zip(chunks, finishing):
                    if future.done() and future.exception() is not None:
                        current = earlier
                        future.result()  # an earlier chunk's results failed: the call fails, stop here
                if position + 1 < len(chunks):
                    upcoming = helper.submit(self._model_input, chunks[position + 1])
                started = time.perf_counter()
                maps = self._infer(session, batch, len(current), call)
                share = (preparing + time.perf_counter() - started) / len(current)
                finishing.append(helper.submit(self._finish, current, maps, targets, share))
            parts = []
            for future in finishing:
                parts += future.result()
            return parts
        except BaseException as error:
            upcoming.cancel()
            for future in finishing:
                future.cancel()
            pending: list[Future[Any]] = [upcoming, *finishing]
            wait(pending)
            if call.cancelled and not isinstance(error, CancelledError):
                raise CancelledError("estimation cancelled") from error  # a run ended by RunOptions.terminate
            if not isinstance(error, CancelledError):
                indices = ", ".join(str(item.index) for item in current)
                error.add_note(f"{self.name}: while estimating image(s) {indices} of the batch")
            raise

    # -- model I/O: a run's input, the run, its maps turned into results ----------------------------------

    def _model_input(self, chunk: list[_Item]) -> tuple[np.ndarray, float]:
        """Runs in the helper (or lane) thread: the chunk's padded, stacked, preprocessed input, and the seconds
        it took."""
        started = time.perf_counter()
        padded = self.geometry.padded_size(chunk[0].height, chunk[0].width)
        batch = stack_padded([item.pixels() for item in chunk], *padded, self.description.pad_pixel)
        fixed = self.geometry.fixed_batch
        if fixed is not None and fixed > len(chunk):
            # A static batch axis must be filled; the extra blank images' maps are dropped in _infer.
            batch = np.concatenate([batch, np.zeros((fixed - len(chunk), *batch.shape[1:]), np.uint8)])
        return self._feed.preprocess(batch), time.perf_counter() - started

    def _infer(self, session: ort.InferenceSession, batch: np.ndarray, n_images: int, call: _Call) -> np.ndarray:
        """Density maps ``(n_images, H', W')`` from one ``session.run`` on a prepared input."""
        self._require_session()  # closed since the call was submitted: say so rather than run on
        feed = self._feed
        if self.io_binding:
            binding = session.io_binding()
            binding.bind_cpu_input(feed.input, batch)
            binding.bind_output(feed.output, "cpu")
            session.run_with_iobinding(binding, call.run_options)
            (output,) = binding.copy_outputs_to_cpu()
        else:
            (output,) = session.run([feed.output], {feed.input: batch}, call.run_options)
        n = max(n_images, self.geometry.fixed_batch or 0)  # the blank images that fill a static batch too
        map_h, map_w = output.shape[-2:]
        if output.size != n * map_h * map_w:
            raise ValueError(
                f"{self.model_path}: output {feed.output!r} has shape {output.shape} for {n} image(s); "
                "expected the batch, size-1 axes and the map ([N, 1, H', W'] or [N, H', W'])"
            )
        return output.reshape(n, map_h, map_w)[:n_images]

    def _finish(
        self, chunk: list[_Item], maps: np.ndarray, targets: EstimationTargets, share: float
    ) -> list[_Indexed]:
        """Runs in the helper (or lane) thread: each image's result; ``elapsed`` is its share of the chunk's input
        preparation and run."""
        return [(item.index, self._result(item, density, targets, share)) for item, density in zip(chunk, maps)]

    def _result(self, item: _Item, density: np.ndarray, targets: EstimationTargets, elapsed: float) -> CountResult:
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
            elapsed=elapsed,
            # inRange judged from the map (a count alone cannot show an image is inside), and the range itself.
            **({} if self.description.range is None
               else self.description.range.result_fields(density, item.width * item.height)),
        )

    def __repr__(self) -> str:
        state = "closed" if self._session is None else f"stride={self.geometry.stride}, providers={self.providers}"
        return f"OnnxDensityEstimator({str(self.model_path)!r}, name={self.name!r}, {state}, points={self.points!r})"
