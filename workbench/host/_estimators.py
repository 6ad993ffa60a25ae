"""Estimator slots: for each broker, the estimator in use, one instance per worker, swappable live."""
from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import time
from typing import Any, Callable

from ..plugins import EstimatorContractError, EstimatorReplacementPlugin
from ._loop import PLUGIN_FAILURES, Deadlines, PluginTimeoutError, describe_failure, within
from ..result import CountResult
from ._service_sdk import InputConverter, service_input_converter

DEFAULT = "default"
# Where the SDK defines the result type of the people-count estimator a plugin replaces.
PEOPLE_COUNT_MODULE = "lunavl.sdk.estimators.image_estimators.people_count"

EstimatorFactory = Callable[[], Any]


class UnknownEstimatorError(LookupError):
    """An estimator broker or estimator name the host does not know."""

    def __str__(self) -> str:
        return str(self.args[0])


async def close_quietly(obj: Any, what: str, logger: logging.Logger, timeout: float | None = None) -> str | None:
    """Call ``obj.close()`` (sync or async) for at most ``timeout`` s; return the error text instead of raising it."""
    close = getattr(obj, "close", None)
    if close is None:
        return None
    try:
        result = close()
        if inspect.isawaitable(result):
            await within(result, timeout, f"{what} close()")
    except PluginTimeoutError as error:
        logger.warning("%s; it was abandoned", error)
        return str(error)
    except PLUGIN_FAILURES as error:  # one failing close must not stop the others
        logger.error("closing %s failed: %s", what, describe_failure(error), exc_info=error)
        return describe_failure(error)
    return None


def check_estimator(estimator: Any, owner: str) -> None:
    """Reject an estimator that cannot honour the contract, before it takes any request."""
    method = getattr(estimator, "estimateBatch", None)
    if method is None:
        raise EstimatorContractError(
            owner, f"createReplacementEstimator() returned {type(estimator).__name__}, which has no estimateBatch(); "
            "subclass EstimatorBase"
        )
    if not inspect.iscoroutinefunction(method):
        raise EstimatorContractError(
            owner, f"{type(estimator).__name__}.estimateBatch is not a coroutine function: declare it "
            "`async def estimateBatch(self, images, estimationTargets, asyncEstimate=True)`"
        )
    if not callable(getattr(estimator, "close", None)):
        raise EstimatorContractError(owner, f"{type(estimator).__name__} has no close(): subclass EstimatorBase")


def check_results(results: Any, n_images: int, owner: str, estimator: Any) -> list[Any]:
    """The estimator's results, once checked to be one ``PeopleCount`` per image.

    Checked by class, as the service's code takes them: the ``PeopleCount`` that the SDK's import path gives
    here (the service's real class where its ``lunavl`` is installed, else the stand-in's). An object that
    merely has ``.count`` and ``.coordinates`` (a namedtuple, a dataclass) is refused: the service's own code
    is written against the SDK's class. The workbench's own ``CountResult`` is accepted too: it is what the
    workbench's estimators return, and a plugin that returns it imports ``workbench``, which check reports.
    """
    where = f"{type(estimator).__name__}.estimateBatch"
    if not isinstance(results, (list, tuple)):
        raise EstimatorContractError(
            owner, f"{where} returned {type(results).__name__}; return a list with one PeopleCount per image"
        )
    if len(results) != n_images:
        raise EstimatorContractError(owner, f"{where} returned {len(results)} results for {n_images} images")
    accepted = (_service_people_count(), CountResult)
    wrong = [r for r in results if not isinstance(r, accepted)]
    if wrong:
        looks_alike = hasattr(wrong[0], "count") and hasattr(wrong[0], "coordinates")
        raise EstimatorContractError(
            owner, f"{where} returned {type(wrong[0]).__name__} objects; return "
            f"{PEOPLE_COUNT_MODULE}.PeopleCount, one per image"
            + (" (having .count and .coordinates is not enough: the service's code takes the SDK's class; build "
               "PeopleCount(estimation) from an object with .count and .points.getPoints())" if looks_alike else "")
        )
    return list(results)


def _service_people_count() -> type:
    """The ``PeopleCount`` class a plugin gets from the SDK's import path in this process."""
    return importlib.import_module(PEOPLE_COUNT_MODULE).PeopleCount


class EstimatorPool:
    """The instances of one estimator, one per worker; a request borrows one for its whole batch."""

    def __init__(
        self, name: str, instances: list[Any], deadlines: Deadlines, convert_inputs: InputConverter | None = None,
    ) -> None:
        self.name = name
        self.convert_inputs = convert_inputs
        self.instances = instances
        self.deadlines = deadlines
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        for instance in instances:
            self._idle.put_nowait(instance)
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    async def estimate(self, images: list[Any], targets: Any) -> list[CountResult]:
        self._in_flight += 1
        self._quiet.clear()
        try:
            results, elapsed, instance = await within(
                self._run_batch(images, targets), self.deadlines.estimate, f"estimator {self.name!r} estimateBatch()",
                grace=self.deadlines.close,
            )
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._quiet.set()
        results = check_results(results, len(images), self.name, instance)
        return [self._wrap(result, elapsed / max(1, len(results))) for result in results]

    async def _run_batch(self, images: list[Any], targets: Any) -> tuple[Any, float, Any]:
        instance = await self._idle.get()
        try:
            if self.convert_inputs is not None:
                images, targets = self.convert_inputs(images, targets)
            started = time.perf_counter()
            try:
                results = await instance.estimateBatch(images, targets, asyncEstimate=True)
            except (SystemExit, KeyboardInterrupt) as error:
                raise EstimatorContractError(
                    self.name, f"estimateBatch() raised {type(error).__name__}({error}); an estimator must raise an "
                    "Exception, never exit"
                ) from error
            return results, time.perf_counter() - started, instance
        finally:
            # A batch that swallows its cancellation never gets here: its hung instance stays out of the pool.
            self._idle.put_nowait(instance)

    def _wrap(self, result: Any, elapsed: float) -> CountResult:
        """The result as a ``CountResult``; the timing and name fill what the estimator left empty."""
        try:
            # A CountResult is immutable: kept as it is, not rebuilt (a copy of its map and points per image
            # on the host's loop, for nothing).
            wrapped = result if isinstance(result, CountResult) else CountResult.fromPeopleCount(result)
        except (TypeError, ValueError) as error:
            raise EstimatorContractError(self.name, f"returned an unusable PeopleCount: {error}") from None
        missing: dict[str, Any] = {}
        if wrapped.elapsed is None:
            missing["elapsed"] = elapsed
        if wrapped.estimatorName is None:
            missing["estimatorName"] = self.name
        return wrapped.replace(**missing) if missing else wrapped

    async def drain_and_close(self, logger: logging.Logger) -> list[str]:
        """Wait for the batches already started on this pool, then close every instance.

        The caller has already routed new requests elsewhere, so the pool only gets quieter. Batches still
        running after the close deadline (a hung estimator) are abandoned with a warning.
        """
        try:
            await asyncio.wait_for(self._quiet.wait(), self.deadlines.close)
        except asyncio.TimeoutError:
            logger.warning(
                "estimator %r: %d batch(es) still running %g s after it was swapped out or closed; they are "
                "abandoned and the instances closed", self.name, self._in_flight, self.deadlines.close,
            )
        errors = []
        for instance in self.instances:
            error = await close_quietly(instance, f"estimator {self.name}", logger, self.deadlines.close)
            if error:
                errors.append(error)
        return errors


class EstimatorSlot:
    """One broker: its default factory, the replacement plugins for it, and the pool in use."""

    def __init__(
        self, broker: str, default_factory: EstimatorFactory, workers: int, logger: logging.Logger,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.broker = broker
        self.deadlines = deadlines or Deadlines()
        self.default_factory = default_factory
        self.workers = workers
        self.replacements: dict[str, EstimatorReplacementPlugin] = {}
        self.pool: EstimatorPool | None = None
        self.active = DEFAULT
        self._logger = logger
        self._swap_lock = asyncio.Lock()

    def choices(self) -> list[str]:
        return [DEFAULT, *self.replacements]

    def _factory(self, name: str) -> EstimatorFactory:
        if name == DEFAULT:
            return self.default_factory
        plugin = self.replacements.get(name)
        if plugin is None:
            raise UnknownEstimatorError(
                f"no estimator {name!r} for {self.broker!r}; choose one of {', '.join(map(repr, self.choices()))} "
                "(a replacement plugin is named by its class name)"
            )
        return plugin.createReplacementEstimator

    async def _build(self, name: str) -> EstimatorPool:
        factory = self._factory(name)
        loop = asyncio.get_running_loop()
        instances: list[Any] = []
        try:
            for _ in range(self.workers):
                # Model loading blocks; off the loop it does not stall the server or background plugins.
                instance = await within(
                    loop.run_in_executor(None, factory), self.deadlines.start,
                    f"estimator {name!r} createReplacementEstimator()",
                )
                instances.append(instance)
                check_estimator(instance, name)
        except BaseException:
            for instance in instances:
                await close_quietly(instance, f"estimator {name}", self._logger, self.deadlines.close)
            raise
        # Plugins get their inputs in the SDK they import (the service's real lunavl where installed).
        convert = None if name == DEFAULT else service_input_converter()
        return EstimatorPool(name=name, instances=instances, deadlines=self.deadlines, convert_inputs=convert)

    async def use(self, name: str) -> None:
        """Make ``name`` the estimator of every worker; the old instances finish their batches, then close."""
        async with self._swap_lock:
            if self.pool is not None and self.active == name:
                return
            new_pool = await self._build(name)
            old_pool, self.pool, self.active = self.pool, new_pool, name
        if old_pool is not None:
            await old_pool.drain_and_close(self._logger)

    async def estimate(self, images: list[Any], targets: Any) -> list[CountResult]:
        if self.pool is None:
            await self.use(self.active)
        assert self.pool is not None
        return await self.pool.estimate(images, targets)

    async def drop_replacement(self, name: str) -> bool:
        """Forget a replacement plugin (unloaded or reloaded); returns whether it was in use."""
        self.replacements.pop(name, None)
        if self.active != name:
            return False
        async with self._swap_lock:
            old_pool, self.pool, self.active = self.pool, None, DEFAULT
        if old_pool is not None:
            await old_pool.drain_and_close(self._logger)
        return True

    async def close(self) -> None:
        async with self._swap_lock:
            old_pool, self.pool = self.pool, None
        if old_pool is not None:
            await old_pool.drain_and_close(self._logger)
