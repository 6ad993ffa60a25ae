"""The vendor SDK's own people counter as the host's ``default``, where the real ``lunavl`` and its core are installed.

The service counts people with the SDK's ``PeopleCountEstimatorV2``, made by
``VLFaceEngine(pathToData, faceEngineConf, runtimeConf).createPeopleCountEstimatorV2(estimatorType, launchOptions)``
(``lunavl.sdk.faceengine.engine``). ``Workbench(..., default="sdk", sdk_options=...)`` runs that estimator as
``"default"``, so a replacement plugin is compared against what the service actually runs.

It needs the vendor's package, never the workbench's stand-in: the stand-in answers ``lunavl`` only where no real
package is importable, and its ``VLFaceEngine`` is a placeholder. ``VendorDefault`` checks, when the host is
built, that the real ``lunavl`` answers, that its engine module imports (it imports the C++ core, ``FaceEngine``)
and that the data folder, configuration files and licence exist, and raises saying what is missing and how to
install or point to it. Nothing falls back to the workbench's model.
"""
from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .._checks import choice, whole_number
from .._compat import service_providers
from ..plugins import AppConfig
from ..result import CountResult
from ._service_sdk import service_input_converter

__all__ = ["SdkOptions", "VendorDefault", "VendorPeopleCounter", "VendorSdkMissing"]

#: Where ``VLFaceEngine`` reads its data folder when it is given none, as the SDK does.
FSDK_ROOT_ENV = "FSDK_ROOT"
# The SDK's modules the default needs, by what this module calls them.
_SDK_MODULES = {
    "engine": "lunavl.sdk.faceengine.engine",
    "settings": "lunavl.sdk.faceengine.setting_provider",
    "launch": "lunavl.sdk.launch_options",
    "version": "lunavl.sdk.version",
}
# The C++ core's Python binding, which the SDK's modules import at their top.
_CORE_MODULE = "FaceEngine"
_INSTALL = (
    "install the vendor's LUNA SDK for Python (its lunavl package and the FaceEngine binding of its C++ core, "
    "with the core's libraries on the loader path) into this Python environment, or put their folders on "
    "PYTHONPATH; or leave default='sdk' (--default sdk) out to use the workbench's model"
)


class VendorSdkMissing(ImportError):
    """``default="sdk"`` was asked for where the vendor's ``lunavl`` or its C++ core cannot be imported."""


@dataclass(frozen=True)
class SdkOptions:
    """The vendor SDK's settings for ``default="sdk"``; each ``None`` is the SDK's own default.

    Attributes:
        data_path: the SDK's data folder (``VLFaceEngine(pathToData=)``); ``None``: ``$FSDK_ROOT/data``.
        faceengine_conf: ``faceengine.conf`` (``faceEngineConf=``); ``None``: the one in the data folder.
        runtime_conf: ``runtime.conf`` (``runtimeConf=``); ``None``: the one in the data folder.
        license: the licence file the engine is activated with (``VLFaceEngine.license``); ``None``: none.
        estimator_type: a ``PeopleCountEstimatorType`` name: ``"DEFAULT"`` (the type faceengine.conf names),
            ``"PEOPLE_COUNT_V1"`` or ``"PEOPLE_COUNT_V2"``.
        device_id: the GPU of the launch options; ``None``: the host's ``defaultGpuDevice``. The device class
            is the host's people-counter device (``Workbench(device=)``, ``--device``).
        run_concurrently: ``LaunchOptions(runConcurrently=)``.

    Raises:
        TypeError, ValueError: a setting of the wrong type or out of range; the message names it.
    """

    data_path: str | None = None
    faceengine_conf: str | None = None
    runtime_conf: str | None = None
    license: str | None = None
    estimator_type: str = "DEFAULT"
    device_id: int | None = None
    run_concurrently: bool = True

    def __post_init__(self) -> None:
        for name in ("data_path", "faceengine_conf", "runtime_conf", "license"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"sdk_options {name} must be a path (str or Path) or None, got {type(value).__name__}")
            # Kept as text, so the options pickle and print the same wherever a host is built from them.
            object.__setattr__(self, name, None if value is None else os.fspath(value))
        if not isinstance(self.estimator_type, str):
            raise TypeError(f"sdk_options estimator_type must be a PeopleCountEstimatorType name, got "
                            f"{type(self.estimator_type).__name__}")
        if self.device_id is not None:
            whole_number(self.device_id, "sdk_options device_id", minimum=0)
        if not isinstance(self.run_concurrently, bool):
            raise TypeError(f"sdk_options run_concurrently must be True or False, got {self.run_concurrently!r}")

    @classmethod
    def of(cls, value: SdkOptions | Mapping[str, Any] | None) -> SdkOptions:
        """``value`` as options: options as they are, a mapping by field name, ``None`` as every default.

        Raises:
            TypeError: neither, or a mapping with a name that is not a setting (the message lists them).
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"sdk_options must be SdkOptions or a dict of its settings, got {type(value).__name__}")
        known = [field.name for field in fields(cls)]
        unknown = [key for key in value if key not in known]
        if unknown:
            raise TypeError(f"sdk_options has no setting {', '.join(map(repr, unknown))}; the settings are "
                            f"{', '.join(known)}")
        return cls(**value)


@dataclass(frozen=True)
class _SdkFiles:
    """The files the engine is built from, resolved and checked."""

    data: Path
    faceengine_conf: Path
    runtime_conf: Path
    license: Path | None


class VendorDefault:
    """The vendor SDK's people counter, checked when the host is built; ``create`` makes one per worker.

    All workers share one ``VLFaceEngine`` (the SDK's root object, loading its data once) and get an estimator
    each.

    Raises:
        VendorSdkMissing: the real ``lunavl`` or its core is not importable here.
        ValueError: no data folder is given and ``$FSDK_ROOT`` is unset, or the estimator type is unknown.
        FileNotFoundError: the data folder, a configuration file or the licence does not exist.
    """

    def __init__(self, options: SdkOptions) -> None:
        self.options = options
        self._sdk = _import_vendor_sdk()
        types = [member.name for member in self._sdk.settings.PeopleCountEstimatorType]
        self._estimator_type = choice(options.estimator_type, "sdk_options estimator_type (--sdk-estimator-type)", types)
        self.files = _resolve_files(options)
        version = self._sdk.version.getVersion().version
        #: What provides the default, as results, reports and the server name it.
        self.provider = f"vendor SDK {version.major}.{version.minor}.{version.patch}"
        self._engine: Any = None
        self._engine_lock = threading.Lock()

    def create(self, config: AppConfig) -> VendorPeopleCounter:
        """One estimator on the host's people-counter device (the host calls this once per worker).

        Raises:
            RuntimeError: the SDK could not build its engine or estimator (a bad licence, data or
                configuration); the message carries the SDK's own.
        """
        from ..estimators.default import people_counter_device

        sdk = self._sdk
        launch = sdk.launch.LaunchOptions(
            deviceClass=sdk.launch.DeviceClass(people_counter_device(config)),
            deviceId=config.defaultGpuDevice if self.options.device_id is None else self.options.device_id,
            runConcurrently=self.options.run_concurrently,
        )
        estimator_type = sdk.settings.PeopleCountEstimatorType[self._estimator_type]
        try:
            estimator = self._face_engine().createPeopleCountEstimatorV2(estimator_type, launch)
        except Exception as error:  # the core raises its own types; all mean "no estimator from these settings"
            raise RuntimeError(
                f"the vendor SDK could not create its people-count estimator ({type(error).__name__}: {error}); "
                f"check the data folder {self.files.data}, the configuration files, the licence and the launch "
                f"options ({launch!r})"
            ) from error
        return VendorPeopleCounter(estimator, self.provider)

    def _face_engine(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                files = self.files
                engine_class = self._sdk.engine.VLFaceEngine
                if files.license is not None:
                    # The SDK activates a licence in VLFaceEngine.__init__, before it sets the settings providers,
                    # from the class attribute ``license``; a subclass carries it without changing the SDK's class
                    # for every other engine in the process.
                    engine_class = type("LicensedVLFaceEngine", (engine_class,), {"license": str(files.license)})
                self._engine = engine_class(
                    pathToData=str(files.data), faceEngineConf=str(files.faceengine_conf),
                    runtimeConf=str(files.runtime_conf),
                )
            return self._engine

    def identity_files(self) -> list[Path]:
        """The files that decide the answers, for a prediction cache's key: the core's binding (one build of
        the SDK) and the configuration files. The data folder's models are not read: they come with a build."""
        core = Path(inspect.getfile(self._sdk.core))
        return [core, self.files.faceengine_conf, self.files.runtime_conf]

    @property
    def identity_settings(self) -> str:
        """The settings beside those files that change the answers, for the same key."""
        options = self.options
        return (f"[{self.provider} {self._estimator_type} device_id={options.device_id} "
                f"concurrent={options.run_concurrently}]")


class VendorPeopleCounter:
    """The SDK's ``PeopleCountEstimatorV2`` under the estimator contract the host runs (``async estimateBatch``,
    ``close``); its ``PeopleCount`` results become ``CountResult`` named after the SDK's version."""

    def __init__(self, estimator: Any, provider: str) -> None:
        self._estimator = estimator
        self.provider = provider
        converter = service_input_converter()
        if converter is None:  # VendorDefault checked the real lunavl: only a process that lost it gets here
            raise VendorSdkMissing(f"the real lunavl no longer answers its imports in this process; {_INSTALL}")
        self._convert = converter

    async def estimateBatch(self, images: list[Any], estimationTargets: Any, asyncEstimate: bool = True) -> list[CountResult]:
        """Estimate ``images`` (in the workbench's or the SDK's types) with the SDK: awaiting its ``AsyncTask``
        (``asyncEstimate=True``, what the host asks), or its blocking call in a worker thread."""
        batch, targets = self._convert(list(images), estimationTargets)
        if asyncEstimate:
            counts = await self._estimator.estimateBatch(batch, targets, asyncEstimate=True)
        else:
            counts = await asyncio.to_thread(self._estimator.estimateBatch, batch, targets, False)
        return [CountResult.fromPeopleCount(count, estimatorName=self.provider) for count in counts]

    def close(self) -> None:
        """The SDK's estimators have no close: the reference is dropped and the core frees it."""
        self._estimator = None


def _import_vendor_sdk() -> SimpleNamespace:
    """The SDK's modules the default needs, from the real ``lunavl``; never the stand-in's placeholders.

    Raises:
        VendorSdkMissing: the stand-in answers ``lunavl`` (no real package is importable), the package lacks
            the engine's modules, or the C++ core does not import; the message says which and how to fix it.
    """
    lunavl = service_providers()["lunavl"]
    if not lunavl.real:
        raise VendorSdkMissing(
            "default='sdk' runs the vendor SDK's own people counter, but no real lunavl is importable here: "
            f"'lunavl' resolves to the workbench's stand-in, which has no C++ core; {_INSTALL}"
        )
    where = f"the installed lunavl {lunavl.version} ({lunavl.location})"
    modules = {}
    for key, module in _SDK_MODULES.items():
        try:
            modules[key] = importlib.import_module(module)
        except ImportError as error:
            if error.name is not None and error.name.split(".")[0] == _CORE_MODULE:
                raise VendorSdkMissing(
                    f"{where} is there, but its C++ core is not: importing {module} needs the '{_CORE_MODULE}' "
                    f"module ({error}); {_INSTALL}"
                ) from None
            if error.name is not None and error.name.split(".")[0] == "lunavl":
                raise VendorSdkMissing(
                    f"{where} has no module {error.name} (importing {module}): it is not the vendor's full SDK; "
                    f"{_INSTALL}"
                ) from None
            raise VendorSdkMissing(
                f"{where} cannot load its C++ core: importing {module} failed ({type(error).__name__}: {error}); "
                f"check that the core's libraries are on the loader path (LD_LIBRARY_PATH); {_INSTALL}"
            ) from None
    return SimpleNamespace(core=importlib.import_module(_CORE_MODULE), **modules)


def _resolve_files(options: SdkOptions) -> _SdkFiles:
    """The data folder and the files read from it, as the SDK finds them, each checked to exist."""
    if options.data_path is not None:
        data, data_origin = Path(options.data_path).expanduser(), "sdk_options data_path (--sdk-data)"
    elif os.environ.get(FSDK_ROOT_ENV):
        data, data_origin = Path(os.environ[FSDK_ROOT_ENV]).expanduser() / "data", f"${FSDK_ROOT_ENV}/data"
    else:
        raise ValueError(
            f"the vendor SDK needs its data folder: pass sdk_options data_path= (--sdk-data DIR) or set "
            f"${FSDK_ROOT_ENV} to the SDK's folder (its data/ is used, as VLFaceEngine does)"
        )
    if not data.is_dir():
        raise FileNotFoundError(
            f"the vendor SDK's data folder {data} (from {data_origin}) does not exist or is not a folder; point it "
            "at the data/ folder of the LUNA SDK installation"
        )

    def conf(given: str | None, name: str, what: str, flag: str) -> Path:
        path, origin = (Path(given).expanduser(), f"sdk_options {what} ({flag})") if given else (
            data / name, f"the data folder, from {data_origin}")
        if not path.is_file():
            raise FileNotFoundError(
                f"the vendor SDK's {name} {path} (from {origin}) does not exist; pass its path with sdk_options "
                f"{what}= ({flag} FILE) or put it in the data folder"
            )
        return path

    licence_file = None
    if options.license is not None:
        licence_file = Path(options.license).expanduser()
        if not licence_file.is_file():
            raise FileNotFoundError(
                f"the vendor SDK's licence file {licence_file} (from sdk_options license, --sdk-license) does not "
                "exist; pass the path of the licence file the vendor issued"
            )
    return _SdkFiles(
        data, conf(options.faceengine_conf, "faceengine.conf", "faceengine_conf", "--sdk-faceengine-conf"),
        conf(options.runtime_conf, "runtime.conf", "runtime_conf", "--sdk-runtime-conf"), licence_file,
    )
