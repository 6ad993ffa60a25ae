"""Estimator plugins that take their time, for the tests and the bench of the server's budgets.

Each is plugin source (activate it with ``plugin_folder.add``); both answer a ``PeopleCount`` of nobody.

- ``slow_estimator(seconds)``: ``SlowPlugin``, whose batches sleep ``seconds`` on the loop (awaiting, as a model
  run in threads of its own does); its module records ``BATCHES`` (the images of each batch) and ``MOST``
  (how many batches were running as each one began).
- ``THREADED_ESTIMATOR``: ``ThreadedPlugin``, which works in a one-thread executor of its own, as the example
  plugin runs onnxruntime: an image over 100 pixels wide holds that thread for 1.5 s, and cancelling the batch
  does not stop it; its module records each instance made in ``CREATED``.
"""
from __future__ import annotations

_HEAD = """
    import asyncio
    import time
    from concurrent.futures import ThreadPoolExecutor

    from lunavl.sdk.estimators.image_estimators.people_count import PeopleCount
    from workbench.plugins import EstimatorBase, EstimatorReplacementPlugin

    class Nobody:
        class Points:
            def getPoints(self):
                return []
        count = 0
        points = Points()
"""

_SLOW = """
    RUNNING = []
    MOST = []
    BATCHES = []

    class Slow(EstimatorBase):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            RUNNING.append(1)
            MOST.append(len(RUNNING))
            BATCHES.append(len(images))
            try:
                await asyncio.sleep(SECONDS)
            finally:
                RUNNING.pop()
            return [PeopleCount(Nobody()) for _ in images]
        def close(self):
            pass

    class SlowPlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"
        def createReplacementEstimator(self):
            return Slow()
"""

THREADED_ESTIMATOR = _HEAD + """
    CREATED = []

    class Threaded(EstimatorBase):
        def __init__(self):
            self.executor = ThreadPoolExecutor(max_workers=1)
            CREATED.append(self)
        def work(self, images):
            time.sleep(1.5 if images[0].rect.width > 100 else 0.01)
            return [PeopleCount(Nobody()) for _ in images]
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            return await asyncio.wrap_future(self.executor.submit(self.work, images))
        def close(self):
            self.executor.shutdown(wait=True)

    class ThreadedPlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"
        def createReplacementEstimator(self):
            return Threaded()
"""


def slow_estimator(seconds: float) -> str:
    return _HEAD + _SLOW.replace("SECONDS", repr(seconds))
