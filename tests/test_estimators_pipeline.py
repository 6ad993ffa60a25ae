"""OnnxDensityEstimator's pipeline: runs in an inference thread while a helper thread prepares inputs and
results (or the lane itself, where the lanes take every CPU); order, failures, concurrent calls and
cancellation. Functional only: speed is in bench/."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from helpers.onnx_models import counting, dots, make_pool_model
import workbench.estimators.onnx_density as onnx_density
from workbench.estimators import OnnxDensityEstimator, PointStrategy, peaks


class RecordingPeaks(PointStrategy):
    """``peaks``, recording the thread each map is located in; raises for maps that sum to ``poison``."""

    name = "recording"

    def __init__(self, poison: int | None = None) -> None:
        self.poison = poison
        self.threads: list[str] = []

    def locate(self, density, count, *, scale, offset=(0.0, 0.0)):
        self.threads.append(threading.current_thread().name)
        if count == self.poison:
            raise RuntimeError(f"cannot place {count} points")
        return peaks(density, count, scale=scale, offset=offset)


class GatedPeaks(RecordingPeaks):
    """Blocks on its first map until ``release`` is set, after setting ``entered``; sets ``later`` on any other map."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.later = threading.Event()

    def locate(self, density, count, *, scale, offset=(0.0, 0.0)):
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(10), "the test never released the first map"
        else:
            self.later.set()
        return super().locate(density, count, scale=scale, offset=offset)


@pytest.fixture
def pool_model(tmp_path):
    return make_pool_model(tmp_path / "pool.onnx", stride=4)


def pretend_cpus(monkeypatch, n: int) -> None:
    """Make the estimators built from here on see ``n`` usable CPUs."""
    monkeypatch.setattr(onnx_density, "usable_cpus", lambda: n)


@pytest.fixture(params=["helper threads", "the lanes themselves"])
def work_around_runs(request, monkeypatch):
    """Who prepares inputs and results for the one-thread lanes of these tests: a helper thread (a CPU to
    spare) or each lane between its runs (the lanes take every CPU)."""
    pretend_cpus(monkeypatch, 64 if request.param == "helper threads" else 1)
    return request.param


def mixed_images(n: int) -> list:
    """Three sizes interleaved, image ``i`` holding ``i % 5`` white pixels."""
    sizes = [(32, 32), (64, 96), (48, 40)]
    return [dots(*sizes[i % 3], [(2 + 4 * k, 3 + 2 * k) for k in range(i % 5)]) for i in range(n)]


@pytest.mark.parametrize("parallel_runs", [1, 2])
def test_results_come_back_in_the_images_order_across_many_runs(pool_model, work_around_runs, parallel_runs):
    images = mixed_images(11)
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1, max_batch=2, parallel_runs=parallel_runs)
    try:
        spy = counting(est)
        together = est.estimate(images)
        assert len(spy.runs) == 6  # sizes: 4, 4 and 3 images, in runs of at most 2
        alone = [est.estimate([image])[0] for image in images]
    finally:
        est.close()
    assert [r.count for r in together] == [i % 5 for i in range(11)]
    for batched, single in zip(together, alone):
        np.testing.assert_array_equal(batched.pointsArray, single.pointsArray)
        np.testing.assert_array_equal(batched.densityMap, single.densityMap)
        assert batched.elapsed is not None and batched.elapsed > 0


def test_on_the_cpu_several_runs_share_the_threads_in_two_lanes_and_one_image_keeps_them_all(pool_model):
    # A two-thread run waits at every operator for a thread the work around inference pre-empted; two
    # one-thread runs side by side do not (bench/bench_estimation.py), but one image still wants both threads.
    est = OnnxDensityEstimator(pool_model, intra_op_threads=2, max_batch=2)
    try:
        assert est.parallel_runs == 2 and est.preprocessing == "graph"  # each lane preprocesses its own run
        assert est._session.get_session_options().intra_op_num_threads == 2
        assert est._lane_session.get_session_options().intra_op_num_threads == 1
        spy = counting(est)
        assert [r.count for r in est.estimate(mixed_images(1))] == [0]
        assert spy.own_runs == 1 and est._lane_session.own_runs == 0
        assert [r.count for r in est.estimate([dots(32, 32, [(4, 4)])] * 6)] == [1] * 6
        assert spy.own_runs == 1 and est._lane_session.own_runs == 4  # runs of 2, 1, 2, 1 images
    finally:
        est.close()


def test_a_single_image_beside_a_call_in_flight_runs_as_a_lane(pool_model):
    # Concurrent one-image calls (a server's clients, the Explorer's prefetch) would each ask for every thread.
    strategy = GatedPeaks()
    est = OnnxDensityEstimator(pool_model, intra_op_threads=2, points=strategy)
    spy = counting(est)

    async def two_calls():
        first = asyncio.ensure_future(est.estimateBatch([dots(32, 32, [(4, 4)])]))
        assert await asyncio.to_thread(strategy.entered.wait, 10)  # the first call is in flight
        second = asyncio.ensure_future(est.estimateBatch([dots(32, 32, [(8, 8)])]))
        # Its map is located while the first call is still held: it ran beside it, not after it.
        assert await asyncio.to_thread(strategy.later.wait, 10)
        strategy.release.set()
        return await asyncio.gather(first, second)

    try:
        first, second = asyncio.run(two_calls())
        assert (first[0].count, second[0].count) == (1, 1)
        assert spy.own_runs == 1 and est._lane_session.own_runs == 1
        assert [r.count for r in est.estimate([dots(32, 32, [(4, 4)])])] == [1]
        assert spy.own_runs == 2  # idle again: one image has all the threads
    finally:
        strategy.release.set()
        est.close()


def test_a_single_thread_or_a_gpu_style_setting_keeps_one_session(pool_model):
    for est in (OnnxDensityEstimator(pool_model, intra_op_threads=1), OnnxDensityEstimator(pool_model, parallel_runs=1)):
        try:
            assert est.parallel_runs == 1 and est._lane_session is est._session and est.preprocessing == "numpy"
            assert est.max_batch == 2
        finally:
            est.close()


def test_two_lanes_run_one_image_each_so_that_two_images_are_in_flight_as_before(pool_model):
    est = OnnxDensityEstimator(pool_model, intra_op_threads=2)
    try:
        assert est.parallel_runs == 2 and est.max_batch == 1
        spy = counting(est)
        assert [r.count for r in est.estimate([dots(32, 32, [(4, 4)])] * 5)] == [1] * 5
        assert sorted(shape[0] for shape, _ in spy.runs) == [1] * 5
    finally:
        est.close()


def test_runs_are_cut_so_that_every_lane_gets_the_same_number_of_images(pool_model):
    est = OnnxDensityEstimator(pool_model, intra_op_threads=2, max_batch=2, parallel_runs=2)
    per_lane: list[int] = []
    pipeline = est._pipeline

    def recording_pipeline(session, chunks, targets, call):
        # Counted per lane, not per thread: a lane that ends at once (a tiny model) frees its thread for the
        # next lane, so two lanes may run one after the other on one thread.
        per_lane.append(sum(len(chunk) for chunk in chunks))
        return pipeline(session, chunks, targets, call)

    est._pipeline = recording_pipeline
    try:
        spy = counting(est)
        assert [r.count for r in est.estimate([dots(32, 32, [(4, 4)])] * 38)] == [1] * 38
    finally:
        est.close()
    assert sum(shape[0] for shape, _ in spy.runs) == 38 and max(shape[0] for shape, _ in spy.runs) == 2
    # 19 runs of 2 dealt in turn would give one lane 20 images and leave it running alone at the end.
    assert sorted(per_lane) == [19, 19]


def test_with_a_cpu_to_spare_points_and_results_are_made_off_the_inference_thread(pool_model, monkeypatch):
    pretend_cpus(monkeypatch, 2)  # one one-thread lane: the helper has the other CPU
    strategy = RecordingPeaks()
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1, points=strategy)
    try:
        spy = counting(est)
        est.estimate(mixed_images(6))
    finally:
        est.close()
    run_threads = {thread for _, thread in spy.runs}
    assert strategy.threads and all(thread.endswith(tuple("0123456789")) for thread in run_threads)
    assert all("-helper" in thread for thread in strategy.threads)
    assert not run_threads & set(strategy.threads)


@pytest.mark.parametrize(
    ("cpus", "settings", "by_the_lanes"),
    [
        (2, {}, True),  # the default on 2 CPUs: two one-thread lanes
        (4, {"parallel_runs": 4, "intra_op_threads": 4}, True),
        (1, {}, True),  # one lane, one thread, one CPU
        (4, {}, False),  # two two-thread lanes: a helper fills their runs' barriers
        (2, {"intra_op_threads": 1}, False),  # one one-thread lane: the helper has the other CPU
    ],
)
def test_lanes_that_take_every_cpu_prepare_their_own_inputs_and_results(
    pool_model, monkeypatch, cpus, settings, by_the_lanes
):
    # A helper thread with no CPU of its own pre-empts a lane's run: that lane ends later than the others
    # (bench/bench_lanes.py; 2 CPUs: 0.7 % more images/s when each lane does this work itself, 5.9 % with numpy).
    pretend_cpus(monkeypatch, cpus)
    strategy = RecordingPeaks()
    est = OnnxDensityEstimator(pool_model, points=strategy, **settings)
    try:
        spy = counting(est)
        assert [r.count for r in est.estimate([dots(32, 32, [(4, 4)])] * 8)] == [1] * 8
    finally:
        est.close()
    run_threads = {thread for _, thread in spy.runs}
    assert len(strategy.threads) == 8
    if by_the_lanes:
        assert set(strategy.threads) <= run_threads
    else:
        assert all("-helper" in thread for thread in strategy.threads)
        assert not run_threads & set(strategy.threads)


def test_io_binding_gives_the_same_results(pool_model):
    images = mixed_images(5)
    plain = OnnxDensityEstimator(pool_model, intra_op_threads=1, io_binding=False)
    bound = OnnxDensityEstimator(pool_model, intra_op_threads=1, io_binding=True, graph_preprocessing=True)
    try:
        assert not plain.io_binding and bound.io_binding and bound.preprocessing == "graph"
        # The CPU defaults: numpy preprocessing (in-graph costs more CPU there), runs of 2.
        assert plain.preprocessing == "numpy" and plain.max_batch == 2
        for a, b in zip(plain.estimate(images), bound.estimate(images)):
            assert a.count == b.count
            np.testing.assert_allclose(a.densityMap, b.densityMap, rtol=1e-6)
    finally:
        plain.close()
        bound.close()


def test_a_failing_run_names_its_images_and_the_estimator_keeps_working(pool_model, work_around_runs):
    images = [dots(32, 32, [(4 * k, 4) for k in range(i)]) for i in range(6)]  # image i: i points
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1, max_batch=2, points=RecordingPeaks(poison=5))
    try:
        with pytest.raises(RuntimeError, match="cannot place 5 points") as caught:
            est.estimate(images)
        assert any("image(s) 4, 5 of the batch" in note for note in caught.value.__notes__)
        assert [r.count for r in est.estimate(images[:5])] == [0, 1, 2, 3, 4]
    finally:
        est.close()


def test_a_failing_call_does_not_disturb_a_concurrent_call(pool_model, work_around_runs):
    poisoned = [dots(32, 32, [(4 * k, 4) for k in range(i)]) for i in range(6)]
    healthy = mixed_images(9)
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1, max_batch=1, parallel_runs=2,
                               points=RecordingPeaks(poison=5))

    async def both():
        return await asyncio.gather(est.estimateBatch(poisoned), est.estimateBatch(healthy), return_exceptions=True)

    try:
        failed, results = asyncio.run(both())
        assert isinstance(failed, RuntimeError)
        assert [r.count for r in results] == [i % 5 for i in range(9)]
    finally:
        est.close()


def test_cancelling_a_call_stops_its_remaining_runs(pool_model, work_around_runs):
    strategy = GatedPeaks()
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1, max_batch=1, points=strategy)
    spy = counting(est)
    images = [dots(32, 32, [(4, 4)])] * 8

    async def cancel_during_the_first_result():
        task = asyncio.ensure_future(est.estimateBatch(images))
        assert await asyncio.to_thread(strategy.entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(cancel_during_the_first_result())
        strategy.release.set()
    finally:
        strategy.release.set()
        est.close()  # waits for what the call still had in flight
    # The first result blocked the helper, so the second input was never ready before the cancellation.
    assert len(spy.runs) <= 2 and len(strategy.threads) <= 2
    est_again = OnnxDensityEstimator(est.model_path, intra_op_threads=1, max_batch=1)
    try:
        assert [r.count for r in est_again.estimate(images)] == [1] * 8
    finally:
        est_again.close()


def test_the_sync_wait_cancels_the_other_lanes_when_one_fails(pool_model, work_around_runs):
    images = [dots(32, 32, [(4 * k, 4) for k in range(i % 6)]) for i in range(12)]
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1, max_batch=1, parallel_runs=2,
                               points=RecordingPeaks(poison=1))
    try:
        spy = counting(est)
        with pytest.raises(RuntimeError, match="cannot place 1 points"):
            est.estimate(images)
        est.close()
        # Image 1 fails on the first round of lane 1; lane 0 stops at its next run instead of running all 6.
        assert len(spy.runs) < len(images)
    finally:
        est.close()


def test_the_host_hands_a_complete_count_result_on_without_copying_it(tmp_path):
    from workbench import CountResult, Workbench
    from workbench.plugins import EstimatorBase

    made = CountResult(2, [(1.0, 2.0), (3.0, 4.0)], densityMap=np.ones((2, 2)), elapsed=0.01, estimatorName="fixed")

    class Fixed(EstimatorBase):
        def close(self):
            pass

        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            return [made for _ in images]

    (tmp_path / "plugins").mkdir()
    with Workbench(tmp_path / "plugins", [], default_estimators={"peopleCountEstimator": lambda config: Fixed()}) as wb:
        [result] = wb.estimate("peopleCountEstimator", [dots(8, 8, [])])
    assert result is made
