"""compare(engine="ray") on a one-machine Ray: the same report as the local run, and a dead actor's shard retried.

One ``ray.init`` for the whole module (num_cpus=2, no dashboard): starting Ray costs seconds.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'workbench[ray]')")

from helpers.local_ray import start_local_ray  # noqa: E402
from workbench import Workbench  # noqa: E402
from workbench.research import compare, make_synthetic_dataset  # noqa: E402
from workbench.research._ray_runner import RayEstimatorPool  # noqa: E402
from workbench.research._runners import HostSpec  # noqa: E402
from workbench.sdk import EstimationTargets  # noqa: E402

pytestmark = pytest.mark.slow  # a local Ray cluster
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
BROKER = "peopleCountEstimator"
SCORES = ["image", "estimator", "true_count", "pred_count", "error", "abs_error", "game_0", "game_1", "game_2",
          "game_3", "tp@10", "fp@10", "fn@10", "f1@20"]


@pytest.fixture(scope="module")
def local_ray():
    start_local_ray(ray, num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("ray") / "data", n=6, size=(160, 120))


@pytest.fixture(scope="module")
def wb():
    with Workbench(PLUGINS, ["people_count_onnx.plugin"]) as host:
        yield host


def test_ray_report_equals_local(local_ray, dataset, wb: Workbench) -> None:
    names = ["default", "PeopleCountOnnxPlugin"]
    in_use = wb.estimators[BROKER]
    local = compare(wb, dataset, names, progress=False)
    remote = compare(wb, dataset, names, engine="ray", actors=2, progress=False)
    assert local.per_image[SCORES].equals(remote.per_image[SCORES])
    assert local.summary.drop(columns=["mean ms", "p50 ms", "p99 ms", "images/s"]).equals(
        remote.summary.drop(columns=["mean ms", "p50 ms", "p99 ms", "images/s"])
    )
    for name in names:
        assert [r.count for r in local.results[name]] == [r.count for r in remote.results[name]]
    assert remote.per_image["latency_ms"].notna().all()
    assert wb.estimators[BROKER] == in_use


def test_a_videos_frames_are_sent_to_the_actors_as_pixels(local_ray, dataset, wb: Workbench, tmp_path: Path) -> None:
    """A video frame's image_path is the whole video: the actors get each sampled frame's own pixels (BMP)."""
    pytest.importorskip("av", reason="PyAV is the video extra: pip install 'workbench[video]'")
    from helpers.videos import write_video
    from workbench.research import load_sequence

    pictures = [sample.image.asNPArray() for sample in dataset]
    sequence = load_sequence(write_video(tmp_path / "clip.mp4", 12, size=(160, 120), pictures=pictures), every=2)
    local = compare(wb, sequence, ["default"], progress=False)
    remote = compare(wb, sequence, ["default"], engine="ray", actors=1, progress=False)
    assert local.per_image["pred_count"].tolist() == remote.per_image["pred_count"].tolist()
    assert remote.timeline is not None and list(remote.timeline.frames) == [0, 2, 4, 6, 8, 10]


def test_shard_of_a_killed_actor_runs_elsewhere(local_ray, dataset, wb: Workbench) -> None:
    expected = [r.count for r in compare(wb, dataset, ["default"], progress=False).results["default"]]
    got: dict[int, int] = {}
    with RayEstimatorPool(HostSpec.from_host(wb), BROKER, "default", actors=2) as pool:
        victim = pool.actors[0]
        # Started first: a kill that reaches an actor still being created can be lost on a loaded machine (seen
        # here: the "killed" actor then answered).
        ray.get(victim.pid.remote(), timeout=120)
        # Dead for certain before the run: killed once a shard's result is back, it could finish its other shard
        # first (these images take milliseconds) and nothing would be retried. The pool meets the death the same
        # way either way, as a RayActorError from the shards it gave the actor.
        ray.kill(victim, no_restart=True)
        # The kill is asynchronous: a call sent right after it may still be served (seen on a loaded machine).
        deadline = time.monotonic() + 60
        while True:
            try:
                ray.get(victim.pid.remote(), timeout=60)
            except ray.exceptions.RayActorError:
                break
            assert time.monotonic() < deadline, "the killed actor still answers after 60 s"
            time.sleep(0.2)

        def on_result(index, result):  # noqa: ANN001, ANN202
            got[index] = result.count

        pool.run(list(enumerate(dataset)), EstimationTargets.T1, 1, on_result, shard_images=2)
        # 3 shards of 2 images: the first two went to the dead actor (2 in flight per actor) and ran again.
        assert pool.retried_shards == 2
    assert [got[i] for i in range(len(dataset))] == expected


def test_unknown_estimator_fails_before_any_actor_starts(local_ray, dataset, wb: Workbench) -> None:
    from workbench import UnknownEstimatorError

    with pytest.raises(UnknownEstimatorError, match="Nope"):
        compare(wb, dataset, ["Nope"], engine="ray", progress=False)


def test_cli_engine_ray(local_ray, dataset, tmp_path: Path) -> None:
    from workbench.cli import main

    code = main(["compare", str(dataset.root), "--estimators", "default", "--plugins-dir", str(PLUGINS),
                 "--active", "people_count_onnx.plugin", "--engine", "ray", "--actors", "1", "--limit", "3",
                 "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 0
    assert (tmp_path / "out" / "per_image.csv").read_text().count("\n") == 4  # header + 3 images
