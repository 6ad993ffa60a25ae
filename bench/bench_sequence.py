"""Sequences: ``compare`` on a video's sampled frames against the same frames as JPEG files, and the memory of a
long video's run.

(a) Throughput. For each ``--every`` N, a video of ``--samples`` x N frames (``--size``, 30 fps, libx264 at its
    default preset, a keyframe every ``--gop`` frames) of drawn people walking over a gradient, its head points in
    the sidecar ``clip.points.json``, and the same sampled frames drawn again and written as JPEG files (quality
    90) with their points in the crowd-mini layout (``images/`` + ``points/``). Each round runs
    ``compare(wb, load_sequence(video, every=N), ["default"], batch_size=...)`` and ``compare`` on
    ``load_dataset(folder)``, in alternating order, each dataset loaded afresh before its run (not timed); it
    prints frames/s and the process's CPU per frame for each, the per-round ratio sequence/images with the
    median's 90 % bootstrap interval against the goal (>= 0.9), and the CPU per sampled frame of decoding alone
    (each sample's ``image`` in order, one thread): what the video's extra frames cost.
(b) Memory. A ``--minutes`` long video (default 10 minutes, 1920x1080 at 30 fps: 18,000 frames; drawn from a
    cycle of ``--gop`` pictures, ``preset=ultrafast``, so that it is written in a minute or two) sampled at one
    frame per second (600 frames), annotated in its sidecar; ``compare`` runs in a child process, which reads its
    own peak resident memory (VmHWM in /proc/self/status: ``ru_maxrss`` would also count this process's memory at
    the fork, see tests/test_tiling.py). The baseline is a child doing the same on the first ``--baseline-samples``
    sampled frames only: what memory grows with the video's length is the difference. Goal: peak under 1 GiB.

    .venv/bin/python bench/bench_sequence.py [--model M.onnx] [--rounds 5] [--every 1 10 30] [--samples 24]
        [--size 1920x1080] [--minutes 10] [--part throughput|memory|both] [--work DIR] [--quick]

``--quick`` makes everything small (720p, 2 rounds, 12 samples, a 1-minute video) for trying the bench. The
material is written to a temporary folder, or to ``--work`` (kept, and reused when already there). Run by hand;
other processes' load moves the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from workbench import Workbench
from workbench.research import compare, load_dataset, load_sequence

from _verdict import verdict
from bench_estimation import load_average

REPO = Path(__file__).resolve().parents[1]
FPS = 30
PEOPLE = 40
GOAL_RATIO = 0.9
GOAL_PEAK = 1 << 30


class Scene:
    """People (a head over a body) walking in straight lines over a gradient, bouncing off the edges."""

    def __init__(self, width: int, height: int, people: int = PEOPLE, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.size = np.array([width, height], dtype=float)
        rows, cols = np.mgrid[0:height, 0:width]
        backdrop = np.stack([60 + cols * 100 // width, 80 + rows * 80 // height, np.full_like(cols, 90)], axis=-1)
        self.backdrop = Image.fromarray(backdrop.astype(np.uint8))
        self.start = rng.uniform(60, self.size - 90, (people, 2))
        self.velocity = rng.uniform(-3, 3, (people, 2))
        self.colours = [tuple(int(c) for c in rng.integers(0, 255, 3)) for _ in range(people)]

    def heads(self, frame: int) -> np.ndarray:
        span = self.size - 150
        moved = self.start - 60 + self.velocity * frame
        return 60 + np.abs(moved % (2 * span) - span)  # a triangle wave: walks to an edge and back

    def picture(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``frame``'s RGB pixels and its head points."""
        picture = self.backdrop.copy()
        draw = ImageDraw.Draw(picture)
        heads = self.heads(frame)
        for (x, y), colour in zip(heads, self.colours):
            draw.ellipse([x - 14, y + 12, x + 14, y + 70], fill=colour)
            draw.ellipse([x - 10, y - 10, x + 10, y + 10], fill=(230, 190, 160))
        return np.asarray(picture), heads


def write_video(path: Path, pictures: Iterator[np.ndarray | av.VideoFrame], width: int, height: int, gop: int,
                preset: str | None = None) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        if preset is not None:
            stream.options = {"preset": preset}
        for index, picture in enumerate(pictures):
            frame = picture if isinstance(picture, av.VideoFrame) else av.VideoFrame.from_ndarray(
                picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)  # a cycle's pictures are sent again: new times
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_sidecar(video: Path, points: dict[int, np.ndarray]) -> None:
    frames = {str(frame): heads.round(1).tolist() for frame, heads in points.items()}
    video.with_name(video.stem + ".points.json").write_text(json.dumps({"video": video.name, "frames": frames}))


def throughput_material(work: Path, width: int, height: int, every: int, samples: int, gop: int) -> tuple[Path, Path]:
    """``clip_everyN.mp4`` with its sidecar, and ``frames_everyN/`` with the sampled frames as JPEG files."""
    video, folder = work / f"clip_every{every}.mp4", work / f"frames_every{every}"
    if video.is_file() and (folder / "points").is_dir():
        return video, folder
    scene = Scene(width, height)
    partial = video.with_name("partial_" + video.name)
    write_video(partial, (scene.picture(frame)[0] for frame in range(samples * every)), width, height, gop)
    write_sidecar(video, {frame: scene.heads(frame) for frame in range(0, samples * every, every)})
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "points").mkdir(exist_ok=True)
    for frame in range(0, samples * every, every):
        pixels, heads = scene.picture(frame)
        name = f"frame_{frame:06d}"
        Image.fromarray(pixels).save(folder / "images" / f"{name}.jpg", quality=90)
        (folder / "points" / f"{name}.json").write_text(json.dumps({"image": f"{name}.jpg", "points": heads.tolist()}))
    partial.rename(video)  # last: a folder left half-written by an interrupted run is written again
    return video, folder


def decode_cpu_ms(dataset: object) -> float:
    """CPU ms per sample to decode every sample's image in order, on this thread."""
    cpu = time.process_time()
    for sample in dataset:  # type: ignore[attr-defined]
        sample.image
    return (time.process_time() - cpu) * 1000 / len(dataset)  # type: ignore[arg-type]


def run_throughput(args: argparse.Namespace, work: Path, width: int, height: int) -> None:
    plugins = work / "plugins"
    plugins.mkdir(exist_ok=True)
    print(f"(a) throughput: {args.samples} sampled frames of {width}x{height} per run, keyframe every {args.gop} "
          f"frames, batch_size={args.batch_size}, {args.rounds} alternating rounds; load average {load_average()}")
    with Workbench(plugins, [], default_model=args.model) as wb:
        for every in args.every:
            video, folder = throughput_material(work, width, height, every, args.samples, args.gop)

            def sequence() -> object:
                return load_sequence(video, every=every)

            def images() -> object:
                return load_dataset(folder)

            loaders = {"sequence": sequence, "images": images}
            decoding = {way: decode_cpu_ms(load()) for way, load in loaders.items()}
            for load in loaders.values():  # warm-up
                compare(wb, load(), ["default"], progress=False, batch_size=args.batch_size)
            rates: dict[str, list[float]] = {way: [] for way in loaders}
            cpu: dict[str, list[float]] = {way: [] for way in loaders}
            for index in range(args.rounds):
                for way in (loaders if index % 2 == 0 else list(loaders)[::-1]):
                    dataset = loaders[way]()
                    start, cpu_start = time.perf_counter(), time.process_time()
                    compare(wb, dataset, ["default"], progress=False, batch_size=args.batch_size)
                    rates[way].append(len(dataset) / (time.perf_counter() - start))  # type: ignore[arg-type]
                    cpu[way].append((time.process_time() - cpu_start) * 1000 / len(dataset))  # type: ignore[arg-type]
            print(f"  every {every} frames ({video.stat().st_size / 1e6:.1f} MB video):")
            for way, per_round in rates.items():
                print(f"    {way:8s} {statistics.median(per_round):6.2f} frames/s (rounds {min(per_round):.2f} to "
                      f"{max(per_round):.2f}), {statistics.median(cpu[way]):4.0f} ms CPU per frame in compare; "
                      f"decoding alone {decoding[way]:5.1f} ms CPU per sampled frame")
            ratios = [s / i for s, i in zip(rates["sequence"], rates["images"])]
            print(f"    sequence/images {statistics.median(ratios):.3f} (rounds {min(ratios):.3f} to "
                  f"{max(ratios):.3f}); {verdict(ratios, GOAL_RATIO)}")
    print(f"  load average after: {load_average()}")


MEMORY_CHILD = """
import sys, time
from pathlib import Path
from workbench import Workbench
from workbench.research import compare, load_sequence

video, model, plugins, samples = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
dataset = load_sequence(video, every_seconds=1)
if samples:
    dataset = dataset.replace(list(dataset)[:samples])
with Workbench(plugins, [], default_model=model) as wb:
    report = compare(wb, dataset, ["default"], progress=False, batch_size=BATCH)
    mae = report.summary.loc["default", "MAE"]
wall = time.perf_counter() - start
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(len(dataset), f"{wall:.1f}", peak_kib, f"{mae:.2f}")
"""


def memory_material(work: Path, width: int, height: int, minutes: float, gop: int) -> Path:
    """A ``minutes`` long video drawn from a cycle of ``gop`` pictures, annotated on each second's first frame."""
    frames = round(minutes * 60 * FPS)
    video = work / f"long_{minutes:g}min_{width}x{height}.mp4"
    if video.is_file():
        return video
    scene = Scene(width, height, seed=1)
    cycle = [av.VideoFrame.from_ndarray(scene.picture(frame)[0], format="rgb24").reformat(format="yuv420p")
             for frame in range(gop)]
    partial = video.with_name("partial_" + video.name)  # an interrupted run leaves no short video to reuse
    write_video(partial, (cycle[frame % gop] for frame in range(frames)), width, height, gop, preset="ultrafast")
    write_sidecar(video, {frame: scene.heads(frame % gop) for frame in range(0, frames, FPS)})
    partial.rename(video)
    return video


def run_memory(args: argparse.Namespace, work: Path, width: int, height: int) -> None:
    start = time.perf_counter()
    video = memory_material(work, width, height, args.minutes, args.gop)
    made = time.perf_counter() - start
    print(f"(b) memory: {video.name} ({video.stat().st_size / 1e6:.0f} MB, {made:.0f} s to make or find), "
          f"sampled at 1 frame per second, batch_size={args.batch_size}; load average {load_average()}")
    plugins = work / "plugins"
    plugins.mkdir(exist_ok=True)
    script = MEMORY_CHILD.replace("BATCH", str(args.batch_size))
    for label, samples in (("baseline", args.baseline_samples), ("whole video", 0)):
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), str(video), str(args.model), str(plugins), str(samples)],
            capture_output=True, text=True, cwd=REPO,
        )
        if run.returncode != 0:
            raise SystemExit(f"the {label} child failed:\n{run.stderr[-3000:]}")
        count, wall, peak_kib, mae = run.stdout.split()[-4:]
        peak = int(peak_kib) * 1024
        print(f"  {label:12s} {count:>4s} frames: peak RSS {peak / 2**20:6.0f} MiB, {float(wall):6.1f} s "
              f"({int(count) / float(wall):.2f} frames/s, start and load included), MAE {mae}"
              + ("" if samples else f"; goal < 1 GiB: {'met' if peak < GOAL_PEAK else 'missed'}"))
    print(f"  load average after: {load_average()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "wbcount.onnx")
    parser.add_argument("--part", choices=("throughput", "memory", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--every", type=int, nargs="+", default=[1, 10, 30], help="frame steps to sample (a)")
    parser.add_argument("--samples", type=int, default=24, help="sampled frames per run (a)")
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the videos")
    parser.add_argument("--gop", type=int, default=60, help="frames from one keyframe to the next")
    parser.add_argument("--batch-size", type=int, default=8, help="compare's images per wb.estimate call")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long video (b)")
    parser.add_argument("--baseline-samples", type=int, default=30, help="sampled frames of the baseline child (b)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the material (kept and reused)")
    parser.add_argument("--quick", action="store_true", help="720p, 2 rounds, 12 samples, a 1-minute video")
    args = parser.parse_args()
    if args.quick:
        args.size, args.rounds, args.samples, args.minutes, args.baseline_samples = "1280x720", 2, 12, 1.0, 10
    width, height = (int(part) for part in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="wb-bench-sequence-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"model {args.model.name}, {os.cpu_count()} CPUs, material in {work}")
        if args.part in ("throughput", "both"):
            run_throughput(args, work, width, height)
        if args.part in ("memory", "both"):
            run_memory(args, work, width, height)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
