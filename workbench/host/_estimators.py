"""Estimator slots: for each broker, its estimators' pools by name (one instance per worker) and the one served."""
from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import logging
import time
from collections import Counter
from typing import Any, Awaitable, Callable

from .._checks import unknown_estimators_message
from ..plugins import EstimatorContractError, EstimatorReplacementPlugin
from ._loop import PLUGIN_FAILURES, Deadlines, PluginTimeoutError, describe_failure, within
from ._output import checked_output
from ..result import CountResult
from ._service_sdk import InputConverter, service_input_converter

DEFAULT = "default"
# Where the SDK defines the result type of the people-count estimator a plugin replaces.
PEOPLE_COUNT_MODULE = "lunavl.sdk.estimators.image_estimators.people_count"

EstimatorFactory = Callable[[], Any]
# Builds one more instance of a pool's estimator, checked, for one whose batch missed its deadline.
InstanceBuilder = Callable[[], Awaitable[Any]]


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


async def close_off_loop(obj: Any, what: str, logger: logging.Logger, timeout: float) -> str | None:
    """``close_quietly``, with a synchronous ``close()`` run in a thread: one that waits for work still running
    (an executor's ``shutdown(wait=True)`` behind a batch past its deadline) would hold the loop as long, past
    the close deadline."""
    close = getattr(obj, "close", None)
    if close is None or inspect.iscoroutinefunction(close):
        return await close_quietly(obj, what, logger, timeout)
    try:
        result = await within(asyncio.to_thread(close), timeout, f"{what} close()")
        if inspect.isawaitable(result):
            await within(result, timeout, f"{what} close()")
    except PluginTimeoutError as error:
        logger.warning("%s; it was abandoned", error)
        return str(error)
    except PLUGIN_FAILURES as error:
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


class _Borrowed:
    """The instance one batch borrowed from its pool, handed back once: to the pool, or retired."""

    __slots__ = ("instance", "settled")

    def __init__(self) -> None:
        self.instance: Any = None
        self.settled = False


class EstimatorPool:
    """The instances of one estimator, one per worker; a request borrows one for its whole batch.

    An instance whose batch misses the estimate deadline is retired: cancelling the batch does not stop work an
    estimator runs in a thread of its own (the example plugin's ``session.run`` on a huge image), and the next
    batches would queue behind it and miss their deadlines too. A new instance (``build_instance``) takes its
    place, and the retired one is closed off the loop once its close deadline allows.
    """

    def __init__(
        self, name: str, instances: list[Any], deadlines: Deadlines, convert_inputs: InputConverter | None = None,
        build_instance: InstanceBuilder | None = None, logger: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.convert_inputs = convert_inputs
        self.instances = instances
        #: What the instances were built from, as the prediction cache keys it (``EstimatorSlot.built_identity``).
        self.identity: str | None = None
        self.deadlines = deadlines
        self._build_instance = build_instance
        self._logger = logger or logging.getLogger("workbench.host")
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        for instance in instances:
            self._idle.put_nowait(instance)
        self._in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._retiring: set[asyncio.Task[None]] = set()

    async def estimate(self, images: list[Any], targets: Any) -> list[CountResult]:
        self._in_flight += 1
        self._quiet.clear()
        borrowed = _Borrowed()
        batch = asyncio.ensure_future(self._run_batch(images, targets, borrowed))
        try:
            results, elapsed, instance = await within(
                batch, self.deadlines.estimate, f"estimator {self.name!r} estimateBatch()", grace=self.deadlines.close,
            )
        except PluginTimeoutError:
            self._retire(borrowed)
            raise
        except asyncio.CancelledError:
            # The caller went away and the batch was cancelled with it: its instance goes back once it has ended.
            batch.add_done_callback(lambda _: self._give_back(borrowed))
            raise
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._quiet.set()
        results = check_results(results, len(images), self.name, instance)
        share = elapsed / max(1, len(results))
        return checked_output(self.name, results, images, lambda result: self._complete(result, share))

    async def _run_batch(self, images: list[Any], targets: Any, borrowed: _Borrowed) -> tuple[Any, float, Any]:
        instance = borrowed.instance = await self._idle.get()
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
        except asyncio.CancelledError:
            raise  # estimate() knows whether the deadline or the caller cancelled it, and settles the instance
        except BaseException:
            self._give_back(borrowed)
            raise
        self._give_back(borrowed)  # a batch abandoned past its deadline may end after all: retired, it stays out
        return results, time.perf_counter() - started, instance

    def _give_back(self, borrowed: _Borrowed) -> None:
        if borrowed.instance is not None and not borrowed.settled:
            borrowed.settled = True
            self._idle.put_nowait(borrowed.instance)

    def _retire(self, borrowed: _Borrowed) -> None:
        """Replace the instance of a batch that missed its deadline (it may still be working on it)."""
        if borrowed.instance is None or borrowed.settled:
            return  # the batch was still waiting for an instance
        borrowed.settled = True
        if self._build_instance is None:
            self._idle.put_nowait(borrowed.instance)
            return
        task = asyncio.ensure_future(self._replace(borrowed.instance))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _replace(self, retired: Any) -> None:
        assert self._build_instance is not None
        try:
            fresh = await self._build_instance()
        except PLUGIN_FAILURES as error:
            self._logger.error(
                "estimator %r: no new instance in place of one that missed its deadline (%s); it is kept",
                self.name, describe_failure(error),
            )
            self._idle.put_nowait(retired)
            return
        self.instances = [fresh if instance is retired else instance for instance in self.instances]
        self._idle.put_nowait(fresh)
        self._logger.warning(
            "estimator %r: an instance missed the estimate deadline (%g s) and was replaced by a new one",
            self.name, self.deadlines.estimate,
        )
        await close_off_loop(retired, f"estimator {self.name}", self._logger, self.deadlines.close)

    def _complete(self, result: CountResult, elapsed: float) -> CountResult:
        """The timing and name filled where the estimator left them empty (a result already complete is kept as
        it is, not rebuilt: a copy of its map and points per image on the host's loop, for nothing)."""
        missing: dict[str, Any] = {}
        if result.elapsed is None:
            missing["elapsed"] = elapsed
        if result.estimatorName is None:
            missing["estimatorName"] = self.name
        return result.replace(**missing) if missing else result

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
        if self._retiring:  # replacements being built are closed with the rest
            await asyncio.wait(set(self._retiring))
        errors = []
        for instance in self.instances:
            error = await close_off_loop(instance, f"estimator {self.name}", logger, self.deadlines.close)
            if error:
                errors.append(error)
        return errors


class EstimatorSlot:
    """One broker: its default factory, the replacement plugins for it, and its estimator pools by name.

    ``active`` names the served pool: the one ``estimate`` uses when no estimator is named (the server's
    requests, ``wb.estimate(broker, images)``). Any other choice gets a pool of its own on first use by name,
    shared by everyone who uses that name at the same time. A pool lives while it is served or held (by a
    lease, ``hold``/``release``, or by a call that names it for the call's length); when the last hold ends on
    a pool that is not served, it is closed then. ``use`` only moves ``active``: it reuses the named pool if
    one is open, and closes the pool it leaves unless something holds it.
    """

    def __init__(
        self, broker: str, default_factory: EstimatorFactory, workers: int, logger: logging.Logger,
        deadlines: Deadlines | None = None, models: dict[str, EstimatorFactory] | None = None,
        identify: Callable[[str], str] | None = None,
    ) -> None:
        self.broker = broker
        # The host's estimator_identity as it is now, read when a pool is built (see built_identity).
        self._identify = identify
        self.deadlines = deadlines or Deadlines()
        self.default_factory = default_factory
        #: Named estimators built from model files (``Workbench(models=)``, ``--model``), beside the default.
        self.models: dict[str, EstimatorFactory] = dict(models or {})
        self.workers = workers
        self.replacements: dict[str, EstimatorReplacementPlugin] = {}
        self.pools: dict[str, EstimatorPool] = {}
        self.active = DEFAULT
        self._holds: Counter[str] = Counter()
        self._logger = logger
        # Held while pools are built, taken out or switched: one build per name, however many callers wait.
        self._swap_lock = asyncio.Lock()

    @property
    def pool(self) -> EstimatorPool | None:
        """The served pool, once built."""
        return self.pools.get(self.active)

    def choices(self) -> list[str]:
        return [DEFAULT, *self.models, *self.replacements]

    def require(self, name: str) -> None:
        """Raise ``UnknownEstimatorError`` (listing the choices) unless ``name`` is one of this broker's."""
        if name not in self.choices():
            raise UnknownEstimatorError(unknown_estimators_message([name], self.broker, self.choices()))

    def _factory(self, name: str) -> EstimatorFactory:
        self.require(name)
        if name == DEFAULT:
            return self.default_factory
        return self.models[name] if name in self.models else self.replacements[name].createReplacementEstimator

    def built_identity(self, name: str) -> str | None:
        """The identity of the open pool of ``name`` as it was when the pool was built, or ``None`` (no pool, or it
        could not be told then). Its instances read their model and settings then: a variable changed since
        (``$PEOPLE_COUNT_ONNX_MODEL``) changes the identity computed now, not the answers they give."""
        pool = self.pools.get(name)
        return None if pool is None else pool.identity

    def _identity_now(self, name: str) -> str | None:
        if self._identify is None:
            return None
        try:
            return self._identify(name)
        except PLUGIN_FAILURES:  # not identifiable, or its declaration fails: estimator_identity says why if asked
            return None

    async def _build(self, name: str) -> EstimatorPool:
        factory = self._factory(name)
        # Read beside the instances' own reading of the environment and their files (hashed off the loop).
        identity = await asyncio.to_thread(self._identity_now, name)
        instances: list[Any] = []
        try:
            for _ in range(self.workers):
                instances.append(await self._instance(name, factory))
        except BaseException:
            for instance in instances:
                await close_quietly(instance, f"estimator {name}", self._logger, self.deadlines.close)
            raise
        # Plugins get their inputs in the SDK they import (the service's real lunavl where installed).
        convert = None if name == DEFAULT or name in self.models else service_input_converter()
        pool = EstimatorPool(
            name=name, instances=instances, deadlines=self.deadlines, convert_inputs=convert,
            build_instance=functools.partial(self._instance, name, factory), logger=self._logger,
        )
        pool.identity = identity
        return pool

    async def _instance(self, name: str, factory: EstimatorFactory) -> Any:
        """One checked instance from ``factory``; closed again if the check refuses it."""
        # Model loading blocks; off the loop it does not stall the server or background plugins.
        instance = await within(
            asyncio.get_running_loop().run_in_executor(None, factory), self.deadlines.start,
            f"estimator {name!r} createReplacementEstimator()",
        )
        try:
            check_estimator(instance, name)
        except BaseException:
            await close_quietly(instance, f"estimator {name}", self._logger, self.deadlines.close)
            raise
        return instance

    async def _open(self, name: str) -> EstimatorPool:
        """The open pool of ``name``; the caller holds the swap lock."""
        pool = self.pools.get(name)
        if pool is None:
            pool = self.pools[name] = await self._build(name)
        return pool

    def _take_out_if_unused(self, name: str) -> EstimatorPool | None:
        """Remove the pool of ``name`` when it is neither served nor held; the caller closes what comes back."""
        if name == self.active or self._holds[name] > 0:
            return None
        return self.pools.pop(name, None)

    async def use(self, name: str) -> None:
        """Serve ``name`` from every worker; the pool left is closed after its batches unless it is held."""
        async with self._swap_lock:
            if self.pool is not None and self.active == name:
                return
            await self._open(name)
            left, self.active = self.active, name
            unused = self._take_out_if_unused(left)
        if unused is not None:
            await unused.drain_and_close(self._logger)

    async def hold(self, name: str) -> EstimatorPool:
        """Keep the pool of ``name`` open (built now if needed) until a matching ``release``."""
        self.require(name)
        self._holds[name] += 1
        try:
            async with self._swap_lock:
                return await self._open(name)
        except BaseException:
            await self.release(name)
            raise

    async def release(self, name: str) -> None:
        """End one ``hold``; the last one closes the pool unless it is served."""
        self._holds[name] -= 1
        if self._holds[name] <= 0:
            del self._holds[name]
        async with self._swap_lock:
            unused = self._take_out_if_unused(name)
        if unused is not None:
            await unused.drain_and_close(self._logger)

    async def estimate(self, images: list[Any], targets: Any, name: str | None = None) -> list[CountResult]:
        """Estimate with ``name`` (held for the call), or with the served estimator when ``name`` is None."""
        if name is not None:
            pool = await self.hold(name)
            try:
                return await pool.estimate(images, targets)
            finally:
                await self.release(name)
        if self.pool is None:
            await self.use(self.active)
        assert self.pool is not None
        return await self.pool.estimate(images, targets)

    async def drop_replacement(self, name: str) -> bool:
        """Forget a replacement plugin (unloaded or reloaded) and close its pool; returns whether it was served."""
        self.replacements.pop(name, None)
        async with self._swap_lock:
            served = self.active == name
            if served:
                self.active = DEFAULT
            old_pool = self.pools.pop(name, None)
        if old_pool is not None:
            await old_pool.drain_and_close(self._logger)
        return served

    async def close(self) -> None:
        async with self._swap_lock:
            old_pools, self.pools = list(self.pools.values()), {}
        for old_pool in old_pools:
            await old_pool.drain_and_close(self._logger)
