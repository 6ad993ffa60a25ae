"""``Workbench``: the in-process plugin host."""
from __future__ import annotations

import asyncio
import functools
import html
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence, TypeVar

from ..plugins import AppConfig, PluginError, Route, parse_active_plugins
from .._system import usable_cpus
from ..plugins._config import check_device_class
from ..plugins._loader import check_plugin_module_name
from .._checks import unknown_broker_message, whole_number
from ..images import check_image_list, estimation_input, needs_decoding, parse_targets
from ..result import CountResult
from ..sdk import EstimationTargets
from ._activation import Activation, active_routes
from ._defaults import default_factories, default_provider, estimator_label, model_factories
from ._estimators import DEFAULT, EstimatorSlot, UnknownEstimatorError
from ._events import EventDelivery, deliver, event_listeners
from ._lease import EstimatorLease
from ._loop import (
    PLUGIN_FAILURES,
    Deadlines,
    HostLoopDead,
    LoopThread,
    PluginTimeoutError,
    describe_failure,
    within,
)
from ._modules import PluginModules
from ._watchdog import LoopStall, LoopWatchdog
from ._records import ACTIVE, PluginRecord, PluginTable
from ._strict import StrictApp, StrictImport, StrictScope, StrictViolation, enter_strict, leave_strict, parse_strict
from ._vendor_default import SdkOptions

DefaultEstimatorFactory = Callable[[AppConfig], Any]
T = TypeVar("T")



class Workbench:
    """Loads the service's plugins from ``plugins_dir`` (default ``./plugins``, which need not exist while no
    plugin is active) and runs them in this process.

    ``active_plugins`` lists module names (``"my_plugin.plugin"``) as a list or a comma-separated string;
    ``None`` reads ``LUNA_REMOTE_SDK_ACTIVE_PLUGINS`` like the service. ``device`` is the global device
    class ("cpu" or "gpu"); ``workers`` the number of estimator instances per broker. ``default_model`` is
    the path of your own ONNX density model to use as the default people counter (else
    ``$WORKBENCH_DEFAULT_MODEL``, else the bundled ``wbcount``); it is checked here, see
    ``workbench.estimators.default.load_default_model``. ``models`` names more people-count models that run beside
    the default, each by its name (``{"mcnn_A": "mcnn_shtechA.onnx"}``: ``estimate(..., estimator="mcnn_A")``, a
    row of ``compare``), checked the same way. ``default="sdk"`` makes the vendor SDK's own people
    counter the default instead, where the real ``lunavl`` and its C++ core are installed, with ``sdk_options``
    (``SdkOptions`` or a dict of its settings: data folder, configuration files, licence, launch options); it is
    checked here too, and raises ``VendorSdkMissing`` where the SDK is absent (``workbench.host._vendor_default``).

    Deadlines, in seconds, for plugin code: ``start_timeout`` for each plugin's ``initialize()``/``start()``
    and each estimator's construction (past it the plugin is marked failed); ``estimate_timeout`` for one
    estimate call (past it the call raises ``TimeoutError`` naming the estimator); ``close_timeout`` for each
    ``close()`` and for the batches of a swapped-out estimator (past it the work is cancelled, abandoned if
    it will not stop, and a warning says so). ``watchdog_threshold`` is how long plugin code may block the
    host's loop before a warning names it (``wb.loop_stalls`` keeps the latest).

    ``strict=True`` (or ``"raise"``) makes plugin code that uses what the service's SDK or plugin framework
    lacks fail at that line, naming the member and what to use instead; ``strict="warn"`` warns instead.
    ``wb.strict_violations`` lists them (see ``workbench.host._strict``).

    ``require_installed=False`` imports a plugin whose ``requirements.txt`` this environment does not meet
    (``workbench check`` does: the service installs them, and a plugin may import them only where it uses
    them); an import that then fails names the missing module in ``wb.plugins``.
    """

    def __init__(
        self,
        plugins_dir: str | Path = "plugins",
        active_plugins: str | Iterable[str] | None = None,
        *,
        device: str = "cpu",
        workers: int = 1,
        config: AppConfig | None = None,
        default_estimators: Mapping[str, DefaultEstimatorFactory] | None = None,
        default_model: str | Path | None = None,
        models: Mapping[str, str | Path] | None = None,
        default: str = "model",
        sdk_options: SdkOptions | Mapping[str, Any] | None = None,
        logger: logging.Logger | None = None,
        start_timeout: float = Deadlines.start,
        estimate_timeout: float = Deadlines.estimate,
        close_timeout: float = Deadlines.close,
        watchdog_threshold: float = 0.5,
        strict: bool | str = False,
        require_installed: bool = True,
    ) -> None:
        self.plugins_dir = Path(plugins_dir).expanduser().resolve()
        self.require_installed = require_installed
        self.active_plugins = parse_active_plugins(active_plugins)
        # The folder matters only to the plugins it holds: with none active (the default estimator alone, or
        # plugins activated later, which name the folder if it is missing) there may be none.
        if self.active_plugins and not self.plugins_dir.is_dir():
            raise FileNotFoundError(
                f"plugins folder {self.plugins_dir} does not exist or is not a folder, and the active plugins "
                f"{', '.join(self.active_plugins)} are to be loaded from it; pass the folder that holds them "
                "(--plugins-dir, or Workbench's first argument)"
            )
        self.workers = whole_number(workers, "workers", minimum=1)
        self.deadlines = Deadlines(start=start_timeout, estimate=estimate_timeout, close=close_timeout)
        self.config = config or AppConfig(globalDeviceClass=check_device_class(device, allow_global=False, what="device"))
        self.ctx = SimpleNamespace(logger=logger or logging.getLogger("workbench.plugins"))
        if default_estimators is not None and default_model is not None:
            raise ValueError("pass default_model (your people-count model) or default_estimators (every factory), not both")
        if default_estimators is not None and (default != "model" or sdk_options is not None):
            raise ValueError(
                "pass default='sdk' with sdk_options (the vendor SDK's estimator) or default_estimators (every "
                "factory), not both"
            )
        #: The people-count model given as ``default_model`` (``None``: the environment's or the bundled one).
        self.default_model = None if default_model is None else Path(default_model).expanduser().resolve()
        #: ``"model"`` (the workbench's model is the default) or ``"sdk"`` (the vendor SDK's estimator), and the
        #: SDK's settings for the latter.
        self.default = default
        self.sdk_options = None if sdk_options is None else SdkOptions.of(sdk_options)
        # Resolved (and a user's model or the vendor SDK checked) here, so that a bad setting fails before
        # anything starts.
        self._default_estimators = (
            default_estimators if default_estimators is not None
            else default_factories(default, default_model, self.sdk_options)
        )
        #: The estimators built from ``models`` (broker -> name -> factory), beside the default.
        self._model_estimators = model_factories(models)
        #: The model files given as ``models`` (name -> absolute path).
        self.models = {name: Path(path).expanduser().resolve() for name, path in (models or {}).items()}
        self._loop = LoopThread()
        self._watchdog = LoopWatchdog(watchdog_threshold, self.plugins_dir, self.ctx.logger)
        self._records: list[PluginRecord] = []
        self._slots: dict[str, EstimatorSlot] = {}
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        self.strict = parse_strict(strict)
        self._strict_scope: StrictScope | None = None
        # What plugins and their route handlers get as ``app``: the host, or under strict mode its strict view.
        self.plugin_app: Any = StrictApp(self) if self.strict else self
        self._modules = PluginModules(self.plugins_dir)
        self._activation = Activation(
            self._modules, self._records, self._slots, plugin_app=self.plugin_app, logger=self.ctx.logger,
            deadlines=self.deadlines, require_installed=require_installed,
        )
        self._state = "new"

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> "Workbench":
        """Load, initialise and start the active plugins; returns the host (for chaining)."""
        self._begin()
        try:
            self._loop.run(self._startup(), "wb.astart()")
        except BaseException:
            self.close()
            raise
        self._activation.flush_warnings()
        return self

    async def astart(self) -> "Workbench":
        self._begin()
        try:
            await self._loop.arun(self._startup())
        except BaseException:
            await self.aclose()
            raise
        self._activation.flush_warnings()
        return self

    def close(self) -> None:
        """Close every plugin and estimator, cancel what they left running, and stop the host's loop.

        Each close has ``close_timeout`` seconds; what does not stop in time is abandoned with a warning.
        """
        if not self._close_begins():
            return
        try:
            self._loop.run(self._shutdown(), "wb.aclose()", timeout=self._shutdown_budget())
        except (HostLoopDead, TimeoutError) as error:
            self._shutdown_failed(error)
        finally:
            self._loop.stop(self.deadlines.close)
            self._forget_modules()

    async def aclose(self) -> None:
        if not self._close_begins():
            return
        try:
            await asyncio.wait_for(self._loop.arun(self._shutdown()), self._shutdown_budget())
        except (HostLoopDead, TimeoutError) as error:
            self._shutdown_failed(error)
        finally:
            # Stopping joins the loop's thread: off the caller's loop.
            await asyncio.to_thread(self._loop.stop, self.deadlines.close)
            self._forget_modules()

    def _close_begins(self) -> bool:
        """Whether this call closes the host (it is running, and no other close has begun)."""
        if self._state != "running":
            return False
        self._state = "closing"
        return True

    def _shutdown_failed(self, error: BaseException) -> None:
        # A PluginTimeoutError names the blocked loop; a bare timeout of the async wait says nothing itself.
        reason = str(error) if isinstance(error, PluginTimeoutError) else describe_failure(error)
        self.ctx.logger.warning("closing the host: %s", reason)

    def _shutdown_budget(self) -> float:
        """Seconds a whole shutdown may take when every close runs to its deadline (then some slack)."""
        pools = sum(max(1, len(slot.pools)) for slot in self._slots.values())
        closes = len(self._cleanups) + len(self._records) + pools * (2 * self.workers + 1)
        return self.deadlines.close * (closes + 1) + 5.0

    def __enter__(self) -> "Workbench":
        return self if self._state == "running" else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> "Workbench":
        return self if self._state == "running" else await self.astart()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def running(self) -> bool:
        return self._state == "running" and self._loop.death is None

    @property
    def loop_stalls(self) -> list[LoopStall]:
        """The latest times plugin code blocked the host's loop past ``watchdog_threshold`` (newest last)."""
        return self._watchdog.stalls

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The host's event loop, where plugins, estimators and the embedded server run."""
        return self._loop.loop

    async def run_on_host(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the host's loop from async code on any loop (plugins' state lives there).

        Cancelling the caller cancels the coroutine too.
        """
        if self._state not in ("running", "closing"):
            coro.close()
            raise RuntimeError(f"the Workbench is {self._state}: its plugins and estimators are not running")
        return await self._loop.arun(coro)

    def add_cleanup(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``await callback()`` on the host's loop when it closes, before the plugins close."""
        self._cleanups.append(callback)

    def _begin(self) -> None:
        if self._state == "running":
            raise RuntimeError("this Workbench is already started")
        if self._state != "new":
            raise RuntimeError("this Workbench was closed; create a new Workbench(...) to start again")
        self._state = "running"
        if self.strict:
            self._strict_scope = enter_strict(self.plugins_dir, self.strict)
        self._loop.start()
        self._watchdog.watch(self._loop)

    async def _startup(self) -> None:
        self._modules.add_folder_to_path()
        for broker, factory in self._default_estimators.items():
            models = {name: self._bind(model) for name, model in self._model_estimators.get(broker, {}).items()}
            self._slots[broker] = EstimatorSlot(
                broker, self._bind(factory), self.workers, self.ctx.logger, self.deadlines, models=models,
                identify=functools.partial(self._identity_now, broker),
            )
        for module in self.active_plugins:
            await self._activation.activate(self._activation.load_module(module), startup=True)

    def _bind(self, factory: DefaultEstimatorFactory) -> Callable[[], Any]:
        return lambda: factory(self.config)

    async def _shutdown(self) -> None:
        for callback in reversed(self._cleanups):
            try:
                await within(callback(), self.deadlines.close, "a cleanup callback of the host")
            except PLUGIN_FAILURES:
                self.ctx.logger.exception("a cleanup callback failed while closing the host")
        self._cleanups.clear()
        for record in reversed(self._records):
            await self._activation.close_record(record)
        for slot in self._slots.values():
            await slot.close()

    def _forget_modules(self) -> None:
        """After the loop has stopped: the watchdog stops, strict mode ends for this host, its modules go."""
        self._watchdog.stop()
        self._state = "closed"
        if self._strict_scope is not None:
            leave_strict(self._strict_scope)
        self._modules.forget_all()

    # -- plugins ---------------------------------------------------------------------------------------

    @property
    def plugins(self) -> PluginTable:
        """Every plugin with its module, kind, status and error; a table in Jupyter."""
        return PluginTable(self._records)

    @property
    def strict_violations(self) -> list[StrictViolation]:
        """What strict mode found plugin code using that the service lacks, in the order it was met."""
        return list(self._strict_scope.violations) if self._strict_scope is not None else []

    @property
    def strict_imports(self) -> list[StrictImport]:
        """The third-party modules plugin code imported while this strict host ran (any way: ``import``,
        ``importlib``, ``__import__``, ``exec``), in the order met; ``workbench check`` judges them against each
        plugin's requirements.txt. Empty for a host that is not strict."""
        return list(self._strict_scope.imports) if self._strict_scope is not None else []

    @property
    def routes(self) -> list[Route]:
        """The routes registered by the active background plugins."""
        return active_routes(self._records)

    def reload(self, module: str) -> PluginTable:
        """Re-import an edited plugin module (its old instances closed first); returns its new plugins.

        Only a module of the plugins folder is accepted: any other name raises ``ValueError`` before
        anything is imported, closed or forgotten.
        """
        return self._loop.run(self._reloading(module), "wb.areload(module)")

    async def areload(self, module: str) -> PluginTable:
        return await self._loop.arun(self._reloading(module))

    def _reloading(self, module: str) -> Coroutine[Any, Any, PluginTable]:
        """The body of ``reload``/``areload``: the checks, in the caller, then the coroutine for the loop."""
        self._require_running()
        return self._reload(self._reloadable(module))

    def _reloadable(self, module: str) -> str:
        names = parse_active_plugins([module])
        if not names:
            raise ValueError(f"wb.reload needs a plugin module name such as 'my_plugin.plugin', got {module!r}")
        try:
            check_plugin_module_name(self.plugins_dir, names[0])
        except PluginError as error:
            raise ValueError(f"cannot reload {error}") from None
        return names[0]

    async def _reload(self, module: str) -> PluginTable:
        records = await self._activation.reload(module, self.active_plugins)
        self._activation.flush_warnings()
        return PluginTable(records)

    # -- estimators ------------------------------------------------------------------------------------

    @property
    def estimators(self) -> dict[str, str]:
        """Broker name -> the estimator in use ("default" or a replacement plugin's class name)."""
        return {broker: slot.active for broker, slot in self._slots.items()}

    @property
    def estimator_labels(self) -> dict[str, str]:
        """Broker name -> the estimator in use as ``estimator_label`` shows it (``"default (wbcount)"``)."""
        return {broker: self.estimator_label(broker, name) for broker, name in self.estimators.items()}

    def estimator_label(self, broker: str, name: str) -> str:
        """``name`` as it is shown: the default with what provides it (``"default (wbcount)"``,
        ``"default (vendor SDK 5.14.0)"``), any other estimator by its name."""
        factory = self._default_estimators.get(broker) if name == DEFAULT else self._model_factory(broker, name)
        return estimator_label(name, None if factory is None else default_provider(factory))

    def _model_factory(self, broker: str, name: str) -> DefaultEstimatorFactory | None:
        """The factory of model estimator ``name`` (``models=``), or ``None`` when ``name`` is not one."""
        return self._model_estimators.get(broker, {}).get(name)

    @property
    def estimator_choices(self) -> dict[str, list[str]]:
        """Broker name -> every estimator ``wb.use`` accepts for it."""
        return {broker: slot.choices() for broker, slot in self._slots.items()}

    def estimator_identity(self, broker: str, name: str) -> str:
        """A content hash of what decides ``name``'s answers for ``broker`` (its model files and the settings that
        change them, or its plugin's files and what the plugin declares it reads beside them) and the device, so
        that results can be cached across runs; see ``workbench.host._identity``.

        An estimator already built (served, leased) answers with what it was built from, so its identity is the
        one read then: a variable or a file changed since changes the answers only once it is built again
        (``wb.reload``, or its pool closed and opened).

        Raises:
            UnknownEstimatorError: an unknown broker or estimator name.
            UnidentifiedEstimatorError: a replacement plugin that does not declare what it reads
                (``identityInputs()``): its results must not be served from a cache.
        """
        built = self._slot(broker).built_identity(name)
        return built if built is not None else self._identity_now(broker, name)

    def _identity_now(self, broker: str, name: str) -> str:
        """``estimator_identity`` from the files, the environment and the declarations as they are now."""
        from ._identity import declared_inputs, factory_files, factory_settings, files_digest, plugin_files

        slot = self._slot(broker)
        label = f"{name}@{self.config.globalDeviceClass}"
        model = self._model_factory(broker, name)
        if name == DEFAULT or model is not None:
            factory = self._default_estimators[broker] if model is None else model
            return files_digest(f"{name}{factory_settings(factory)}@{self.config.globalDeviceClass}",
                                factory_files(factory))
        slot.require(name)  # raises the message listing the choices
        plugin = slot.replacements[name]
        folder = plugin_files(plugin, self.plugins_dir)
        declared = declared_inputs(plugin, name, seen=files_digest(label, folder))
        return files_digest(label, folder + list(declared.files), declared.settings)

    def use(self, broker: str, name: str) -> None:
        """Switch the estimator that ``broker`` serves (the server's answers, ``estimate`` with no
        ``estimator=``) in every worker, live. A pool already open for ``name`` (held by a lease or a running
        ``estimate(..., estimator=name)``) is reused; the pool left behind is closed once its batches end
        (within ``close_timeout``) unless a lease holds it."""
        self._loop.run(self._using(broker, name), "wb.ause(broker, name)")

    async def ause(self, broker: str, name: str) -> None:
        await self._loop.arun(self._using(broker, name))

    def _using(self, broker: str, name: str) -> Coroutine[Any, Any, None]:
        """The body of ``use``/``ause``: the checks, in the caller, then the coroutine for the loop."""
        self._require_running()
        return self._use(broker, name)

    async def _use(self, broker: str, name: str) -> None:
        await self._slot(broker).use(name)

    def _slot(self, broker: str) -> EstimatorSlot:
        slot = self._slots.get(broker)
        if slot is None:
            raise UnknownEstimatorError(unknown_broker_message(broker, self._slots))
        return slot

    def estimate(
        self, broker: str, images: Sequence[Any], targets: EstimationTargets | str = "T1", *,
        estimator: str | None = None,
    ) -> list[CountResult]:
        """Run an estimator of ``broker`` on a list of images; one ``CountResult`` per image.

        ``estimator=None`` runs the one served (``wb.estimators[broker]``); a name from
        ``wb.estimator_choices[broker]`` runs that one without changing what is served: its pool is built on
        first use, shared with concurrent callers of the same name, and closed after the call unless it is
        served or held by ``wb.lease_estimator`` (hold one for many calls, so the pool is built once).

        Images may be ``VLImage``, ``ImageForPeopleEstimation``, ``(image, Rect)``, or anything
        ``workbench.images.load_image`` reads (a path, bytes, a numpy array, a PIL image).
        """
        return self._loop.run(
            self._estimating(broker, images, targets, estimator), "wb.aestimate(broker, images)",
            timeout=self._estimate_budget(),
        )

    async def aestimate(
        self, broker: str, images: Sequence[Any], targets: EstimationTargets | str = "T1", *,
        estimator: str | None = None,
    ) -> list[CountResult]:
        return await self._loop.arun(self._estimating(broker, images, targets, estimator))

    def _estimating(
        self, broker: str, images: Sequence[Any], targets: EstimationTargets | str, estimator: str | None
    ) -> Coroutine[Any, Any, list[CountResult]]:
        """The body of ``estimate``/``aestimate``: the checks and the images' decoding in the caller (its
        thread, not the host's loop, which keeps serving meanwhile), then the coroutine for the loop."""
        self._require_running()
        batch, parsed = self._prepare(broker, images, targets, estimator)
        return self._slots[broker].estimate(batch, parsed, estimator)

    def lease_estimator(self, broker: str, name: str) -> EstimatorLease:
        """Keep estimator ``name`` of ``broker`` open while the lease is held (``with`` or ``async with``),
        for ``estimate(..., estimator=name)`` calls that should not build it each time; what is served does
        not change. Entering builds the pool if none is open (a bad factory fails there); leaving the last
        lease closes it unless it is served.

        Raises:
            UnknownEstimatorError: an unknown broker or estimator name (at once, before anything is built).
        """
        self._require_running()
        slot = self._slot(broker)
        slot.require(name)
        return EstimatorLease(slot, name, self._loop, self._estimate_budget())

    def _estimate_budget(self) -> float:
        """Seconds a blocking wait on an estimate or a lease may take: building a pool (under the start
        deadline), one batch, then closing a pool no longer held; beyond it the loop itself is stuck."""
        return self.deadlines.start * self.workers + self.deadlines.estimate + self.deadlines.close * (
            self.workers + 2
        ) + 1.0

    def _prepare(
        self, broker: str, images: Sequence[Any], targets: EstimationTargets | str, estimator: str | None
    ) -> tuple[list[Any], EstimationTargets]:
        slot = self._slot(broker)
        if estimator is not None:
            slot.require(estimator)
        return _estimation_inputs(check_image_list(images)), parse_targets(targets)

    # -- events ----------------------------------------------------------------------------------------

    def emit(self, event_name: str, points: Sequence[Any]) -> list[EventDelivery]:
        """Deliver ``points`` to every active event plugin listening for ``event_name``."""
        return self._loop.run(self._emitting(event_name, points), "wb.aemit(event_name, points)")

    async def aemit(self, event_name: str, points: Sequence[Any]) -> list[EventDelivery]:
        return await self._loop.arun(self._emitting(event_name, points))

    def _emitting(self, event_name: str, points: Sequence[Any]) -> Coroutine[Any, Any, list[EventDelivery]]:
        """The body of ``emit``/``aemit``: the check, in the caller, then the coroutine for the loop."""
        self._require_running()
        return self.dispatch_event(event_name, points)

    def listeners(self, event_name: str) -> list[PluginRecord]:
        """The active event plugins listening for ``event_name``."""
        return event_listeners(self._records, event_name)

    async def dispatch_event(self, event_name: str, points: Sequence[Any]) -> list[EventDelivery]:
        """The coroutine behind ``emit``, to be awaited on the host's loop (the server does)."""
        batch = list(points)
        return list(await asyncio.gather(*(self.deliver_to(r, batch) for r in self.listeners(event_name))))

    async def deliver_to(self, record: PluginRecord, points: list[Any]) -> EventDelivery:
        """Hand ``points`` to one event plugin on the host's loop; its failure is reported, not raised."""
        return await deliver(record, points, self.ctx.logger)

    def _require_running(self) -> None:
        if self._loop.death is not None:
            raise HostLoopDead(f"{self._loop.death}; close this Workbench and create a new one")
        if self._state != "running":
            raise RuntimeError(f"the Workbench is {self._state}: call wb.start() (or use `with Workbench(...) as wb:`)")

    def __repr__(self) -> str:
        active = sum(1 for r in self._records if r.status == ACTIVE)
        state = self._state if self._loop.death is None else f"broken ({self._loop.death})"
        return (
            f"<Workbench {state} plugins_dir={str(self.plugins_dir)!r} plugins={active} active/"
            f"{len(self._records)} estimators={self.estimator_labels}>"
        )

    def _repr_html_(self) -> str:
        estimators = ", ".join(f"{b}: <b>{html.escape(n)}</b>" for b, n in self.estimator_labels.items()) or "none"
        return (
            f"<div><b>Workbench</b> ({self._state}) &mdash; {self.plugins_dir}<br>estimators: {estimators}</div>"
            + self.plugins._repr_html_()
        )


# Decoding threads for one call's image files: enough to use the cores, few enough to start in no time.
_MAX_DECODERS = 8


def _estimation_inputs(images: Sequence[Any]) -> list[Any]:
    """Every entry of an estimate call as ``estimation_input`` makes it, image files and encoded bytes decoded
    in parallel (simplejpeg and Pillow release the GIL while they decode).

    Why: the call waits for every image before its estimator starts; decoded one after another, the other
    cores would idle meanwhile (measured: ``docs/benchmarks.md``). The error raised is that of the first bad
    entry in the call's order, as when decoding one by one.
    """
    decoders = min(sum(map(needs_decoding, images)), usable_cpus(), _MAX_DECODERS)
    if decoders < 2:
        return [estimation_input(image, index) for index, image in enumerate(images)]
    with ThreadPoolExecutor(decoders, thread_name_prefix="workbench-decode") as pool:
        return list(pool.map(estimation_input, images, range(len(images))))
