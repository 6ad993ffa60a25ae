"""Estimation throughput on 1024x768 images: the workbench's estimator against raw inference and the
reference plugin's pattern, all on the same model, and ``compare`` against ``wb.estimate``.

(a) raw: ``session.run`` on already-preprocessed batches of 8 images (the ceiling the issue set: no decoding,
    no preprocessing, no points);
(a') raw in runs of the estimator's ``max_batch`` (the same arithmetic as (c) does, for reference);
(b) reference plugin: the service documentation's example estimator plugin, verbatim (read from
    ../shared/reference/service-plugins.txt), in a ``Workbench`` host, on the same model with the
    preprocessing inside the graph (uint8 HWC input, as it feeds the model): one ``run_async`` per image,
    gathered, and its T1 post-processing (``int(sum)``, an argsort of the map for the points, ``PeopleCount``);
    its session takes onnxruntime's default intra-op threads (one per physical core), whatever ``--threads``;
(b') the reference's inference pattern alone: one ``run_async`` per image, gathered, the count only (no
    points, no host): what (b) was before this bench ran the plugin itself;
(c) workbench: ``wb.estimate`` through a ``Workbench`` host with ``OnnxDensityEstimator`` as the default
    estimator (T1: preprocessing, batching, inference, peaks, ``CountResult``), CPU defaults (with 2 threads
    or more: two lanes of one-thread runs of 1 image, preprocessing inside the graph; with ``--threads 1``:
    one lane, numpy preprocessing in the helper thread);
(c') the same with the other preprocessing (``graph_preprocessing=`` the opposite of the default; a second
    host);
(d) ``compare(wb, dataset, ["default"])`` on the same images (read from their files: decoding and scoring
    included, as a user waits for them), with ``--compare-batch`` images per ``wb.estimate`` call;
(cf) ``wb.estimate`` on the same image files, in the same calls as (d) makes: what a user's own loop over the
    files costs, so that (d)/(cf) is what ``compare`` adds to it (scoring, bookkeeping), decoding on both sides.

Goals: (c) >= 0.95 x (a), (c) >= 1.5 x (b), (d) >= 0.9 x (cf): ``compare`` against ``wb.estimate`` on the same
image files. (d)/(c) is printed too: there ``compare`` decodes JPEGs that (c) was handed decoded, so where (c)
already keeps every core busy the decoding's CPU bounds it (the CPU per image (c)/(d), printed beside it) and
(cf)/(c) shows that ``wb.estimate`` itself reads no higher on files. (b) and (c)
both answer T1 (count and points) through a host, so they do the same job; (b') leaves out the reference's points and is printed for comparison. The configurations are interleaved round by
round so that a burst of load from other processes hits all of them alike; the median round is reported with
the spread, and the load average before and after. Each goal's ratio is the median of the per-round ratios,
with that median's 90 % bootstrap interval: "met" or "missed" only when the whole interval is on one side of
the goal, else "not settled by this run" (on a shared 2-core machine rounds spread by 10-30 %).

    .venv/bin/python bench/bench_estimation.py [--model M.onnx] [--rounds 7] [--threads 2] [--compare-batch 8]
        [--split all|test]

The images are crowd-mini's 38 images (``--split test``: its 8 test images) when ../shared is present, else 8
random images (and no (b), no (d)); all are 1024x768. Speed only is measured here, so the train split may be
used; with 38 images ``compare`` runs several calls, which is where its read-ahead decoding can overlap. The model is MCNN-B when ../shared is present, else models/wbcount.onnx. Run by hand; on a shared
machine other processes' load moves the figures.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from workbench import VLImage, Workbench
from workbench.estimators import ModelDescription, OnnxDensityEstimator
from workbench.estimators.tools import wrap_preprocessing
from workbench.research import compare, load_dataset

from _verdict import Verdict, verdict

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
REFERENCE_DOCS = REPO.parent / "shared" / "reference"
RAW_BATCH = 8
A, A_RUNS, B, B_PATTERN, C, C_OTHER, C_FILES, D = "a", "a'", "b", "b'", "c", "c'", "cf", "d"
MCNN = SHARED / "models" / "mcnn_shtechB.onnx"
MCNN_DESCRIPTION = ModelDescription(name="mcnn_shtechB", layout="NCHW", dtype="float32", channels="gray")


def session(model: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


async def run_async(sess: ort.InferenceSession, output: str, feed: dict[str, np.ndarray]) -> np.ndarray:
    """One ``run_async`` resolved into an asyncio future: the reference plugin's way to await inference."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def done(result: list[np.ndarray], _user_data: object, error: str) -> None:
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result((result, error)))

    sess.run_async([output], feed, done, None)
    result, error = await future
    if error:
        raise RuntimeError(error)
    return result[0]


def load_images(n: int, split: str) -> tuple[list[VLImage], object | None]:
    """crowd-mini (as images and as a dataset for ``compare``), else ``n`` random images."""
    folder = SHARED / "crowd-mini"
    if folder.is_dir():
        dataset = load_dataset(folder, split=None if split == "all" else split)
        return [sample.image for sample in dataset], dataset
    rng = np.random.default_rng(0)
    return [VLImage(rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8)) for _ in range(n)], None


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="float ONNX model (default: MCNN-B, else wbcount)")
    parser.add_argument("--images", type=int, default=8, help="random images when crowd-mini is absent")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for every configuration")
    parser.add_argument("--compare-batch", type=int, default=8, help="compare's batch_size")
    parser.add_argument("--split", choices=("all", "test"), default="all", help="crowd-mini images to use")
    args = parser.parse_args()

    model = args.model or (MCNN if MCNN.is_file() else REPO / "models" / "wbcount.onnx")
    description = MCNN_DESCRIPTION if model == MCNN else ModelDescription.for_model(model)
    images, dataset = load_images(args.images, args.split)
    n_images = len(images)
    batch = description.preprocess(np.stack([im.asNPArray() for im in images]))
    pixels = [im.asNPArray() for im in images]
    load_before = load_average()

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp, contextlib.ExitStack() as hosts:
        wrapped = Path(tmp) / "wrapped_hwc.onnx"
        wrap_preprocessing(model, description, wrapped)
        raw = session(model, args.threads)
        # run_async needs an intra-op pool, which one thread does not have.
        reference = session(wrapped, max(2, args.threads))
        plugins = Path(tmp) / "plugins"
        plugins.mkdir()

        def host(**options: object) -> Workbench:
            def factory(config: object) -> OnnxDensityEstimator:
                return OnnxDensityEstimator(model, description, intra_op_threads=args.threads, **options)

            return hosts.enter_context(Workbench(plugins, [], default_estimators={"peopleCountEstimator": factory}))

        probe = OnnxDensityEstimator(model, description, intra_op_threads=args.threads)
        run_size, default_preprocessing = probe.max_batch, probe.preprocessing
        probe.close()
        wb, wb_other = host(), host(graph_preprocessing=default_preprocessing == "numpy")
        reference_wb = None
        if REFERENCE_DOCS.is_dir():
            sys.path.insert(0, str(REPO / "tests"))
            from helpers.reference_plugins import write_reference_plugins

            reference_plugins = Path(tmp) / "reference_plugins"
            modules = write_reference_plugins(REFERENCE_DOCS, reference_plugins)
            # The plugin loads csrnet_uint8.onnx beside itself: the same model, preprocessing in the graph.
            shutil.copy(wrapped, reference_plugins / "reference_estimator" / "csrnet_uint8.onnx")
            reference_wb = hosts.enter_context(Workbench(reference_plugins, [modules["reference_estimator"]]))

        def run_raw() -> None:
            for start in range(0, n_images, RAW_BATCH):
                raw.run([description.output], {description.input: batch[start : start + RAW_BATCH]})

        def run_raw_in_runs() -> None:
            for start in range(0, n_images, run_size):
                raw.run([description.output], {description.input: batch[start : start + run_size]})

        def run_reference_plugin() -> None:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints twice per call
                reference_wb.estimate("peopleCountEstimator", images)

        def run_reference() -> None:
            async def gather() -> list[np.ndarray]:
                return await asyncio.gather(
                    *(run_async(reference, description.output, {description.input: p}) for p in pixels)
                )

            maps = asyncio.run(gather())
            [max(0, int(m.sum())) for m in maps]

        def run_workbench() -> None:
            wb.estimate("peopleCountEstimator", images)

        def run_workbench_other() -> None:
            wb_other.estimate("peopleCountEstimator", images)

        def run_compare() -> None:
            compare(wb, dataset, ["default"], progress=False, batch_size=args.compare_batch)

        def run_workbench_on_files() -> None:
            files = [sample.image_path for sample in dataset]
            for start in range(0, len(files), args.compare_batch):
                wb.estimate("peopleCountEstimator", files[start : start + args.compare_batch])

        configs = {
            A: run_raw,
            A_RUNS: run_raw_in_runs,
            B_PATTERN: run_reference,
            C: run_workbench,
            C_OTHER: run_workbench_other,
        }
        if reference_wb is not None:
            configs[B] = run_reference_plugin
        if dataset is not None:
            configs[C_FILES] = run_workbench_on_files
            configs[D] = run_compare
        for run in configs.values():
            run()  # warm-up: allocations, thread pools, lazy estimator creation
        times: dict[str, list[float]] = {name: [] for name in configs}
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.rounds):
            for name, run in configs.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                run()
                times[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)

    rates = {name: [n_images / t for t in ts] for name, ts in times.items()}
    per_second = {name: statistics.median(r) for name, r in rates.items()}
    print(f"model {model.name}, {n_images} images of {pixels[0].shape[1]}x{pixels[0].shape[0]}, {args.threads} intra-op "
          f"threads, median of {args.rounds} interleaved rounds; load average {load_before} before, "
          f"{load_average()} after (shared CPU: figures move with load)")
    labels = {A: f"(a) raw session.run, runs of {RAW_BATCH}", A_RUNS: f"(a') raw, runs of {run_size}",
              B: "(b) reference plugin, verbatim", B_PATTERN: f"(b') run_async pattern, count only{'' if args.threads >= 2 else ', 2 thr.'}",
              C: "(c) wb.estimate", C_OTHER: f"(c') wb.estimate, {'numpy' if default_preprocessing == 'graph' else 'in-graph'} pre.", C_FILES: f"(cf) wb.estimate on files, calls of {args.compare_batch}",
              D: f"(d) compare, batch {args.compare_batch}"}
    # CPU time (all threads of this process) per image: what each configuration costs, which other processes'
    # load moves far less than it moves images/s; with 2 busy cores it is about twice the wall time.
    for name, rate in per_second.items():
        cpu_ms = statistics.median(cpu[name]) * 1000 / n_images
        print(f"  {labels[name]:38s} {rate:6.2f} images/s   (rounds: {min(rates[name]):.2f} to {max(rates[name]):.2f})"
              f"   CPU {cpu_ms:6.1f} ms/image")

    def rate_ratios(top: str, bottom: str) -> list[float]:
        # Per round, so that a burst of load that hits one round hits both sides of the ratio.
        return [t / b for t, b in zip(rates[top], rates[bottom])]

    def spread(per_round: list[float]) -> str:
        return f"{statistics.median(per_round):.2f} (rounds {min(per_round):.2f} to {max(per_round):.2f})"

    def ratio(top: str, bottom: str) -> str:
        return spread(rate_ratios(top, bottom))

    def goal(top: str, bottom: str, target: float) -> Verdict:
        return verdict(rate_ratios(top, bottom), target)

    def work_ratio(top: str, bottom: str) -> str:
        # CPU seconds per image, bottom over top: how much of the machine each configuration needs for the same
        # images, a second view of the same rounds (the goals themselves are in images/s). On a shared virtual
        # machine it moves from round to round too, less when the machine is quiet.
        return spread([b / t for t, b in zip(cpu[top], cpu[bottom])])

    print(f"  (c)/(a) = {ratio(C, A)}  {goal(C, A, 0.95)}   CPU per image (a)/(c) = {work_ratio(C, A)}")
    if B in rates:
        print(f"  (c)/(b) = {ratio(C, B)}  {goal(C, B, 1.5)}")
    print(f"  (c)/(b') = {ratio(C, B_PATTERN)}   (c')/(a) = {ratio(C_OTHER, A)}   (c)/(a') = {ratio(C, A_RUNS)}")
    if D in rates:
        print(f"  (d)/(cf) = {ratio(D, C_FILES)}  {goal(D, C_FILES, 0.9)}   CPU per image (cf)/(d) = "
              f"{work_ratio(D, C_FILES)}")
        print(f"  (d)/(c) = {ratio(D, C)}, decoding on (d)'s side only: bounded by the CPU per image (c)/(d) = "
              f"{work_ratio(D, C)}; (cf)/(c) = {ratio(C_FILES, C)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
