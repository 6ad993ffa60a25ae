"""How a video's frames are decoded for a run (issue 33, speed): what is not needed is not decoded, a video's
frames are decoded in order by one task, and a damaged stretch costs only its own frames.

``bench/bench_sequence.py`` measures what these change (frames/s against the same frames as JPEG files, and a
long video's peak memory); here each behaviour is pinned on short generated clips.
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest

from helpers.fake_estimators import BrightPixelCounter
from helpers.videos import frame_number, write_video
from workbench import Workbench
from workbench.images import ImageDecodeError
from workbench.research import compare, load_sequence
from workbench.research.compare import UnreadableImagesError
from workbench.research._runners import decode_by_file
from workbench.research.datasets import Dataset, VideoFile

pytest.importorskip("av", reason="PyAV is the video extra: pip install 'workbench[video]' (make test installs it)")

FRAMES = 60


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """60 frames, a keyframe every 30, x264's default B-frames (some of which nothing is decoded from)."""
    return write_video(tmp_path / "clip.mp4", FRAMES, fps=8, gop=30)


@pytest.fixture
def wb(plugin_folder):
    counter = BrightPixelCounter(threshold=200)
    with Workbench(plugin_folder.root, [], default_estimators={"peopleCountEstimator": lambda config: counter}) as host:
        yield host


def every_frame(clip: Path) -> list[np.ndarray]:
    video = VideoFile(clip)  # wants every frame: nothing is skipped
    return [video.pixels(index).copy() for index in range(video.frames)]


def test_unsampled_frames_nothing_is_decoded_from_are_skipped_and_the_sampled_ones_are_unchanged(clip):
    reference = every_frame(clip)
    dataset = load_sequence(clip, every=3)
    video = dataset[0].video
    for sample in dataset:
        assert np.array_equal(sample.image.asNPArray(), reference[sample.frame]), sample.name
    # Every reference frame up to the last sample is decoded, and the sampled ones; B-frames between are not.
    assert len(dataset) <= video.decoded_frames < FRAMES - 10, video.decoded_frames


@pytest.mark.parametrize("suffix, codec, pixel_format, options", [
    (".mkv", "libx265", "yuv420p", {"x265-params": "log-level=none"}),
    (".webm", "libvpx-vp9", "yuv420p", None),
    (".webm", "libvpx", "yuv420p", None),
    (".avi", "mpeg4", "yuv420p", {"bf": "2"}),
    (".gif", "gif", "rgb8", None),
])
def test_skipping_leaves_the_sampled_frames_of_other_codecs_as_they_are(tmp_path, suffix, codec, pixel_format, options):
    """FFmpeg's decoders each say which of their frames nothing is decoded from (HEVC's sub-layer non-reference
    pictures, VP8/VP9 frames that refresh no reference, MPEG-4 B-frames); the sampled frames must not change."""
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV has no {codec} encoder")
    rng = np.random.default_rng(0)
    backdrop = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    path = tmp_path / f"clip{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, pixel_format
        stream.codec_context.gop_size = 12
        if options:
            stream.options = options
        for index in range(40):
            picture = backdrop.copy()
            picture[index % 50:index % 50 + 12, (index * 2) % 70:(index * 2) % 70 + 24] = index * 6
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    reference = every_frame(path)
    for every in (2, 3, 5):
        video = VideoFile(path)
        video.want(range(0, video.frames, every))
        for index in range(0, video.frames, every):
            assert np.array_equal(video.pixels(index), reference[index]), (every, index)


def test_a_frame_that_was_not_wanted_is_still_the_frame_asked_for(clip):
    reference = every_frame(clip)
    video = VideoFile(clip)
    video.want(range(0, FRAMES, 3))
    # Sampled frames, then frames between them that the decoder skipped on its way: each is decoded again.
    for index in [0, 3, 6, 9, 4, 5, 12, 10, 11, 59, 58, 1]:
        assert np.array_equal(video.pixels(index), reference[index]), index


def test_a_frame_wanted_after_the_decoder_skipped_it_is_still_the_frame_asked_for(clip):
    reference = every_frame(clip)
    video = VideoFile(clip)
    video.want(range(0, FRAMES, 6))
    assert np.array_equal(video.pixels(6), reference[6])  # the decoder has read past frame 6, skipping
    video.want(range(FRAMES))
    for index in range(7, 20):
        assert np.array_equal(video.pixels(index), reference[index]), index


def test_compare_decodes_a_video_once_to_check_it_and_once_per_estimator(wb, clip):
    one_pass = load_sequence(clip, every=3)
    for sample in one_pass:
        sample.image
    dataset = load_sequence(clip, every=3)
    compare(wb, dataset, ["default"], progress=False, batch_size=4)
    # Two passes in order (the check, the run): no frame decoded twice in a pass, no seek back, no skipped frame
    # decoded. Before, both passes decoded every one of the 60 frames, and the check's two threads could make
    # each other seek back.
    assert dataset[0].video.decoded_frames == 2 * one_pass[0].video.decoded_frames < 2 * FRAMES - 20


def test_the_check_decodes_with_a_decoder_of_its_own(clip):
    video = VideoFile(clip)
    video.pixels(40)
    video.check(2)  # in the first group: the run's decoder would have had to seek back to frame 0 for it
    before = video.decoded_frames
    assert frame_number(video.pixels(41)) == 41
    assert video.decoded_frames - before <= 2, "the run's decoder went on from frame 40"


def open_handles(path: Path) -> int:
    """How many of this process's file descriptors are open on ``path`` (Linux's /proc)."""
    descriptors = Path("/proc/self/fd")
    if not descriptors.is_dir():
        pytest.skip("counts open files through /proc/self/fd (Linux)")
    opened = []
    for descriptor in descriptors.iterdir():
        try:
            opened.append(Path(descriptor.readlink()))
        except OSError:  # closed between the listing and the reading
            continue
    return opened.count(path.resolve())


class HandleCounter(BrightPixelCounter):
    """Counts, at each call, the file descriptors open on ``watched``."""

    def __init__(self, watched: Path) -> None:
        super().__init__(threshold=200)
        self.watched = watched
        self.open_at_each_call: list[int] = []

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        self.open_at_each_call.append(open_handles(self.watched))
        return await super().estimateBatch(images, estimationTargets, asyncEstimate)


def test_compare_closes_the_checks_decoder_before_the_run(plugin_folder, clip):
    counter = HandleCounter(clip)
    estimators = {"peopleCountEstimator": lambda config: counter}
    with Workbench(plugin_folder.root, [], default_estimators=estimators) as host:
        compare(host, load_sequence(clip, every=3), ["default"], progress=False, batch_size=4)
    # The run's decoder only: the check's (its decoded pictures, its file) was closed when the check ended.
    assert counter.open_at_each_call and set(counter.open_at_each_call) == {1}, counter.open_at_each_call


class ReadAheadWatcher(BrightPixelCounter):
    """At its first call, waits (up to 10 s) until ``video``'s decoders have given ``frames`` frames."""

    def __init__(self, video: VideoFile, frames: int) -> None:
        super().__init__(threshold=200)
        self.video, self.frames = video, frames
        self.reached: bool | None = None

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        if self.reached is None:
            deadline = time.monotonic() + 10
            while self.video.decoded_frames < self.frames and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            self.reached = self.video.decoded_frames >= self.frames
        return await super().estimateBatch(images, estimationTargets, asyncEstimate)


def test_the_next_calls_frames_are_decoded_while_the_estimator_runs(plugin_folder, clip):
    whole = load_sequence(clip, every=3)
    for sample in whole:
        sample.image
    to_second_call = VideoFile(clip)  # calls of 4: the second call's last frame is frame 21
    to_second_call.want(range(0, FRAMES, 3))
    for index in range(0, 22, 3):
        to_second_call.pixels(index)
    dataset = load_sequence(clip, every=3)
    # The check's pass over the video, then the run's decoding up to frame 21, all during the first call.
    watcher = ReadAheadWatcher(dataset[0].video, whole[0].video.decoded_frames + to_second_call.decoded_frames)
    with Workbench(plugin_folder.root, [], default_estimators={"peopleCountEstimator": lambda config: watcher}) as host:
        compare(host, dataset, ["default"], progress=False, batch_size=4)
    assert watcher.reached, "the second call's frames were not decoded while the first call was estimated"


def damage_keyframe(clip: Path) -> Path:
    """Overwrite the first keyframe's coded picture: frames 0-29 (its group) cannot be decoded, 30-59 can."""
    with av.open(str(clip)) as container:
        first = next(packet for packet in container.demux(container.streams.video[0]) if packet.size)
        where, size = first.pos, first.size
    data = bytearray(clip.read_bytes())
    data[where + 5:where + size] = b"\xff" * (size - 5)
    clip.write_bytes(bytes(data))
    return clip


def test_a_damaged_keyframe_costs_only_its_own_group(clip):
    video = VideoFile(damage_keyframe(clip))
    for index in (0, 12, 29):
        with pytest.raises(ImageDecodeError, match=rf"clip.mp4#frame={index}: cannot decode"):
            video.pixels(index)
    # Before, each later frame was decoded from the start of the file again, through the damaged picture, and
    # failed too.
    assert [frame_number(video.pixels(index)) for index in (30, 45, 59)] == [30, 45, 59]


def test_compare_skips_only_the_frames_of_the_damaged_group(wb, clip):
    dataset = load_sequence(damage_keyframe(clip), every=5)
    report = compare(wb, dataset, ["default"], progress=False, on_error="skip")
    assert report.skipped["image"].tolist() == [f"clip_f{index:06d}" for index in range(0, 30, 5)]
    assert report.per_image["image"].tolist() == [f"clip_f{index:06d}" for index in range(30, 60, 5)]


def test_a_refused_run_names_each_bad_frame_of_a_video(wb, clip):
    with pytest.raises(UnreadableImagesError) as caught:
        compare(wb, load_sequence(damage_keyframe(clip), every=10), ["default"], progress=False)
    # The path alone named the same file for each frame: "clip.mp4: cannot decode the frame (...)" three times.
    assert [row["path"] for row in caught.value.unreadable] == [f"{clip}#frame={index}" for index in (0, 10, 20)]
    assert f"{clip}#frame=20: cannot decode the frame" in str(caught.value)


def test_a_files_samples_are_decoded_in_order_by_one_task_and_image_files_in_parallel(tmp_path, clip):
    video_frames = list(load_sequence(clip, every=5))
    images = Dataset.from_images(write_pictures(tmp_path / "images", 4))
    samples = [video_frames[0], images[0], video_frames[1], images[1], video_frames[2], images[2], images[3]]
    seen: list[tuple[str, int]] = []

    def decode(sample):
        seen.append((sample.name, threading.get_ident()))
        time.sleep(0.02)  # long enough for the other thread to take the next sample if it may
        return sample.image

    with ThreadPoolExecutor(2) as pool:
        futures = decode_by_file(pool, samples, decode)
        decoded = [future.result() for future in futures]
    assert [frame_number(image.asNPArray()) for image in decoded[0:5:2]] == [0, 5, 10]
    video_seen = [(name, thread) for name, thread in seen if name.startswith("clip_")]
    assert [name for name, _ in video_seen] == ["clip_f000000", "clip_f000005", "clip_f000010"]
    assert len({thread for _, thread in video_seen}) == 1, "one task decodes a video's frames"
    assert len({thread for _, thread in seen}) == 2, "image files decode beside it"


def test_a_cancelled_sample_is_not_decoded(clip):
    samples = list(load_sequence(clip, every=5))
    gate = threading.Event()
    decoded: list[str] = []

    def decode(sample):
        gate.wait(5)
        decoded.append(sample.name)
        return sample.image

    with ThreadPoolExecutor(1) as pool:
        futures = decode_by_file(pool, samples[:3], decode)
        assert futures[2].cancel()
        gate.set()
        assert futures[1].result() is not None
    assert decoded == ["clip_f000000", "clip_f000005"]


def write_pictures(folder: Path, count: int) -> Path:
    from PIL import Image

    folder.mkdir()
    for index in range(count):
        Image.new("RGB", (64, 48), (index * 40, 80, 120)).save(folder / f"picture_{index}.png")
    return folder
