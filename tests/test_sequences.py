"""Sequences as datasets: video files (PyAV), the Mall layout, and frame folders read in name order."""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.videos import frame_colour, frame_number, mall_folder, write_mall, write_video
from workbench.research.datasets import (
    DatasetError,
    DatasetWarning,
    VideoFile,
    detect_format,
    load_dataset,
    load_sequence,
    load_video,
)

pytest.importorskip("av", reason="PyAV is the video extra: pip install 'workbench[video]' (make test installs it)")


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.mp4", 40, fps=8, gop=6)


def test_every_frame_decodes_as_itself_in_order_with_its_time(clip):
    dataset = load_sequence(clip)
    assert dataset.format == "video" and dataset.is_sequence and dataset.fps == 8
    assert len(dataset) == 40
    assert [frame_number(sample.image.asNPArray()) for sample in dataset] == list(range(40))
    assert [sample.frame for sample in dataset] == list(range(40))
    assert [sample.time for sample in dataset] == pytest.approx([i / 8 for i in range(40)])
    assert dataset[0].name == "clip_f000000" and dataset[0].size == (64, 48)


def test_frames_asked_out_of_order_are_the_frames_asked_for(clip):
    """Backwards (a seek), forwards past a keyframe (a seek), forwards within a group (decoding on)."""
    video = VideoFile(clip)
    order = [30, 2, 39, 0, 13, 25, 26, 26, 5, 38]
    assert [frame_number(video.pixels(i)) for i in order] == order


def test_sampling_every_n_frames_and_every_t_seconds(clip):
    assert [s.frame for s in load_sequence(clip, every=7)] == [0, 7, 14, 21, 28, 35]
    by_time = load_sequence(clip, every_seconds=1.5)
    assert [s.frame for s in by_time] == [0, 12, 24, 36]
    assert "every 1.5 s" in by_time.name
    with pytest.raises(DatasetError, match="not both"):
        load_sequence(clip, every=2, every_seconds=1.0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(DatasetError, match="every="):
            load_sequence(clip, every=bad)
    with pytest.raises(DatasetError, match="every_seconds="):
        load_sequence(clip, every_seconds=0)


def test_sidecar_points_annotate_their_frames(clip):
    clip.with_name("clip.points.json").write_text(json.dumps(
        {"video": "clip.mp4", "frames": {"0": [[10, 10], [20, 30]], "8": [], "16": [[5, 5]]}}))
    with pytest.warns(DatasetWarning, match=r"sampled frame\(s\) have no points"):
        dataset = load_sequence(clip, every=8)
    # Frames 0, 8 (annotated empty: zero people) and 16; frames 24 and 32 are not listed.
    assert dataset.counts == [2, 0, 1, None, None]
    assert dataset[0].annotation_path == clip.with_name("clip.points.json")


@pytest.mark.parametrize("frames, message", [
    ({"40": [[1, 1]]}, "frame 40 is annotated but clip.mp4 has frames 0 to 39"),
    ({"first": [[1, 1]]}, "frame key 'first' is not a frame number"),
    ({"0": [[1, 2, 3]]}, r"shape \(N, 2\)"),
    ({"0": [[500, 500], [600, 600]]}, "lie outside the 64x48 image"),
])
def test_a_sidecar_that_does_not_fit_the_video_is_refused_by_name(clip, frames, message):
    clip.with_name("clip.points.json").write_text(json.dumps({"frames": frames}))
    with pytest.raises(DatasetError, match=message):
        load_sequence(clip)


def test_a_sidecar_of_another_clip_and_a_stray_point(clip, tmp_path):
    sidecar = clip.with_name("clip.points.json")
    sidecar.write_text(json.dumps({"video": "other.mp4", "frames": {}}))
    with pytest.raises(DatasetError, match="names 'other.mp4', not 'clip.mp4'"):
        load_sequence(clip)
    points = [[10, 10]] * 10 + [[300, 10]]
    sidecar.write_text(json.dumps({"video": "clip.mp4", "frames": {str(i): points for i in range(40)}}))
    with pytest.warns(DatasetWarning, match=r"clip.points.json#frame=0 point 11 of 11"):
        dataset = load_sequence(clip)
    assert dataset[0].count == 10
    with pytest.raises(DatasetError, match="outside"):
        load_sequence(clip, stray_points="refuse")
    named = tmp_path / "truth.json"
    named.write_text(json.dumps({"frames": {"3": [[1, 1]]}}))
    with pytest.warns(DatasetWarning, match=r"truth.json: 13 sampled frame\(s\) have no points"):
        assert load_sequence(clip, annotations=named, every=3)[1].count == 1
    with pytest.raises(DatasetError, match="no such annotation file"):
        load_sequence(clip, annotations=tmp_path / "missing.json")


def test_what_is_not_a_video_is_said_to_be_so(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    with pytest.raises(DatasetError, match="notes.mp4: not a readable video file"):
        load_sequence(fake)
    with pytest.raises(DatasetError, match="no such video file"):
        VideoFile(tmp_path / "gone.mp4")
    sound = tmp_path / "tone.mkv"
    import av

    with av.open(str(sound), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(DatasetError, match="holds no video stream"):
        load_sequence(sound)


def test_a_raw_stream_without_timestamps_is_refused_saying_how_to_contain_it(tmp_path):
    """A camera's raw .h264 dump lists no frame: it was refused as "holds no frames", which is false."""
    raw = write_video(tmp_path / "cam.h264", 5, container_format="h264")
    with pytest.raises(DatasetError, match=r"its 5 frame packets carry no timestamps .* ffmpeg -i cam.h264 -c copy cam.mp4"):
        VideoFile(raw)


def test_without_pyav_the_error_says_how_to_install_it(clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(DatasetError, match=r"pip install 'workbench\[video\]'"):
        load_sequence(clip)


def test_frames_over_the_pixel_budget_are_refused_before_decoding(clip, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "1000")
    with pytest.raises(DatasetError, match=r"64x48 = 3072 pixels, over the budget of 1000"):
        load_sequence(clip)


def test_load_dataset_reads_a_video_as_its_frames(clip):
    assert detect_format(clip) == "video"
    dataset = load_dataset(clip)
    assert dataset.is_sequence and len(dataset) == 40
    with pytest.raises(DatasetError, match="do not apply to a video file"):
        load_dataset(clip, split="test")
    with pytest.raises(DatasetError, match="fps apply to a folder of frames"):
        load_sequence(clip, fps=25)


def test_a_video_frame_has_its_own_cache_identity_and_travels_as_bytes(clip):
    dataset = load_sequence(clip, every=10)
    digests = [sample.content_digest() for sample in dataset]
    assert len(set(digests)) == len(dataset) and all(d.startswith(VideoFile(clip).digest()) for d in digests)
    name, data = dataset[2].encoded()
    assert name == "clip_f000020.bmp"
    from workbench.images import load_image

    assert frame_number(load_image(data).asNPArray()) == 20
    copy = pickle.loads(pickle.dumps(dataset))
    assert frame_number(copy[3].image.asNPArray()) == 30


def test_a_frame_folder_is_a_sequence_in_name_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(12):
        Image.new("RGB", (32, 24), frame_colour(index)).save(folder / f"frame_{index + 1}.png")
    dataset = load_sequence(folder, fps=4)
    assert [frame_number(s.image.asNPArray()) for s in dataset] == list(range(12))  # frame_2 before frame_10
    assert [s.time for s in dataset] == pytest.approx([i / 4 for i in range(12)])
    assert [s.frame for s in load_sequence(folder, fps=4, every_seconds=1)] == [0, 4, 8]
    assert [s.frame for s in load_sequence(folder, every=5)] == [0, 5, 10]
    assert load_sequence(folder)[3].time is None
    with pytest.raises(DatasetError, match="needs the folder's frame rate: pass fps="):
        load_sequence(folder, every_seconds=1)
    with pytest.raises(DatasetError, match="fps=0"):
        load_sequence(folder, fps=0)
    assert not load_dataset(folder).is_sequence


def test_the_mall_layout_is_read_with_its_frame_numbers_and_splits(tmp_path):
    points = [np.array([[10.0, 10.0]] * (i % 3 + 1)) for i in range(6)]
    root = write_mall(tmp_path / "Mall", points)
    assert detect_format(root) == "mall"
    dataset = load_dataset(root)
    assert dataset.format == "mall" and dataset.is_sequence
    assert dataset.counts == [1, 2, 3, 1, 2, 3] and [s.frame for s in dataset] == list(range(6))
    assert [frame_number(s.image.asNPArray()) for s in dataset] == list(range(6))
    assert len(load_dataset(root, split="train")) == 6 and load_dataset(root, split="train").name == "Mall[train]"
    with pytest.raises(DatasetError, match="Mall's splits are 'train'"):
        load_dataset(root, split="val")
    timed = load_sequence(root, fps=2, every=2)
    assert [(s.frame, s.time) for s in timed] == [(0, 0.0), (2, 1.0), (4, 2.0)]


def test_a_mall_count_that_disagrees_with_its_points_is_refused(tmp_path):
    root = write_mall(tmp_path / "Mall", [np.array([[1.0, 1.0]])] * 3, counts=[1, 5, 1])
    with pytest.raises(DatasetError, match=r"count\(2\) says 5 but 1 points are listed"):
        load_dataset(root)


def test_the_real_mall_sequence():
    dataset = load_dataset(mall_folder())
    assert len(dataset) == 2000 and dataset.total_count == 62315
    assert dataset[0].count == 29 and dataset[0].frame == 0 and dataset[-1].frame == 1999
    assert len(load_dataset(mall_folder(), split="test")) == 1200


@pytest.mark.parametrize("name, codec, b_frames", [
    ("program_stream.mpg", "mpeg2video", 0),     # the container flags every packet a keyframe and seeks by bytes
    ("program_stream_b.mpg", "mpeg2video", 2),
    ("part2_b.avi", "mpeg4", 2),                 # MPEG-4 Part 2 in AVI flags P-frames as keyframes
    ("part2_b.mp4", "mpeg4", 2),
    ("h264.mkv", "libx264", 0),
])
def test_any_order_of_frames_gives_the_decoders_own_pictures(tmp_path, name, codec, b_frames):
    """Frames asked for in any order are the pictures a plain decode from the start gives: a seek to a keyframe the
    container flags wrongly (or an inexact one) fell on the wrong frame and failed the frame, before."""
    import random

    import av

    path = write_video(tmp_path / name, 40, gop=12, codec=codec, b_frames=b_frames)
    with av.open(str(path)) as container:
        plain = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    video = VideoFile(path)
    assert video.frames == len(plain) == 40
    order = list(range(40))
    random.Random(1).shuffle(order)
    for index in order + list(range(40)):
        assert np.array_equal(video.pixels(index), plain[index]), f"frame {index}"
    sampled = load_sequence(path, every=7)
    assert all(np.array_equal(s.image.asNPArray(), plain[s.frame]) for s in sampled)


def test_the_servers_clip_decoding_skips_unsampled_b_frames_and_keeps_the_sampled_pixels(tmp_path):
    """decode_chosen (the server's clips) decoded every frame up to the last sampled one; frames nothing is decoded
    from are now skipped unless sampled, as the datasets' reader does, and the sampled pictures stay the same."""
    import av

    from workbench._video import decode_chosen, decode_stream, index_frames

    path = write_video(tmp_path / "clip.mp4", 36, gop=12, b_frames=2)
    with av.open(str(path)) as container:
        plain = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(path)) as container:
        index = index_frames(container)
    chosen = list(range(0, 36, 5))
    with av.open(str(path)) as container:
        sampled = dict(decode_chosen(container, index, chosen))
    assert sorted(sampled) == chosen and all(np.array_equal(sampled[n], plain[n]) for n in chosen)
    wanted = {index.pts[n] for n in chosen}
    with av.open(str(path)) as container:
        decoded = sum(1 for _ in decode_stream(container, lambda at: at is None or at in wanted))
    assert decoded < len(plain), "unsampled B-frames were decoded"
