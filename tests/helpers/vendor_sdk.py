"""Writes a package tree with the vendor SDK's engine interface and a core, for tests of ``default="sdk"``.

The real ``lunavl`` needs the vendor's C++ core (``FaceEngine``), which cannot be installed here. On top of the
service packages ``helpers.service_packages`` writes, this adds the SDK's modules the vendor default calls, with the
reference sources' module paths, names and signatures (``lunavl.sdk.faceengine.engine.VLFaceEngine`` and
``createPeopleCountEstimatorV2``, ``setting_provider``, ``launch_options``, ``version``, ``async_task``,
``PeopleCountEstimatorV2``), and a pure-Python ``FaceEngine`` module in the core's place. As in the SDK, the
``lunavl`` modules import ``FaceEngine`` at their top, so a tree written without the core fails to import them.

The core counts, in each image's detect area, the pixels whose red value is not 0 (one person each, its point
that pixel), so a test knows every count. It records what the SDK asked of it in ``FaceEngine.CALLS`` (data
path, configuration files, licence, estimator type, launch options) for the tests to read, and refuses a
settings file that starts with ``broken``.
"""
from __future__ import annotations

from pathlib import Path

from helpers.service_packages import write_service_packages

#: The core's version, as ``lunavl.sdk.version.getVersion()`` reads it; the default shows it.
CORE_VERSION = "5.14.0"

_CORE = '''
"""A pure-Python stand-in for the vendor's C++ core, written by tests/helpers/vendor_sdk.py."""
import asyncio
import os
from enum import Enum

import numpy as np

VERSION = "%(version)s"
#: (call, arguments...) in the order the SDK made them.
CALLS = []


def getVersionString():
    return f"fsdk_version: {VERSION}"


def getVersionHash():
    return "fsdk_hash: 0f1e2d3c"


class DeviceClass(Enum):
    CPU_AVX2 = 0
    CPU_ARM = 1
    GPU = 2


class LaunchOptions:
    def __init__(self):
        self.deviceClass = DeviceClass.CPU_AVX2
        self.deviceId = 0
        self.runConcurrently = True


class CrowdEstimatorType(Enum):
    CET_DEFAULT = 0
    CET_V1 = 1
    CET_V2 = 2


class CrowdRequest:
    estimateHeadCountAndCoords = 1
    estimateHeadCount = 2


class FSDKErrorResult:
    isOk = True
    isError = False
    what = "Ok"


class _Points:
    def __init__(self, points):
        self._points = points

    def getPoints(self):
        return list(self._points)


class _Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class CrowdEstimation:
    def __init__(self, points, withPoints):
        self.count = len(points)
        self.points = _Points(points if withPoints else [])


class _Task:
    """The core's async task: awaitable on a running asyncio loop, or joined with get()."""

    def __init__(self, run):
        self._run = run
        self._result = None

    def get(self):
        return self._run()

    def __await__(self):
        self._result = yield from asyncio.get_running_loop().run_in_executor(None, self._run).__await__()

    def getResult(self):
        return self._result


class _CrowdEstimator:
    def __init__(self, estimatorType, launchOptions):
        self.estimatorType = estimatorType
        self.launchOptions = launchOptions

    def estimate(self, images, detectAreas, request):
        results = []
        for pixels, (x, y, width, height) in zip(images, detectAreas):
            rows, columns = np.nonzero(pixels[y:y + height, x:x + width, 0])
            points = [_Point(float(x + c), float(y + r)) for r, c in zip(rows, columns)]
            results.append(CrowdEstimation(points, request == CrowdRequest.estimateHeadCountAndCoords))
        return FSDKErrorResult(), results

    def asyncEstimate(self, images, detectAreas, request):
        return _Task(lambda: self.estimate(images, detectAreas, request))


class _SettingsProvider:
    def __init__(self, path):
        self.path = path


def createSettingsProvider(path):
    CALLS.append(("createSettingsProvider", path))
    if not os.path.isfile(path):
        raise RuntimeError(f"cannot read the settings file {path}")
    with open(path) as settings:
        if settings.read().startswith("broken"):
            raise RuntimeError(f"cannot parse the settings file {path}")
    return _SettingsProvider(path)


class _FaceEngine:
    def __init__(self, dataPath, configPath):
        self.dataPath, self.configPath = dataPath, configPath

    def getLicense(self):
        return "license-object"

    def activateLicense(self, license, path):
        CALLS.append(("activateLicense", path))
        return True

    def setSettingsProvider(self, provider):
        CALLS.append(("setSettingsProvider", provider.path))

    def setRuntimeSettingsProvider(self, provider):
        CALLS.append(("setRuntimeSettingsProvider", provider.path))

    def createCrowdEstimator(self, estimatorType, launchOptions=None):
        CALLS.append(("createCrowdEstimator", estimatorType.name, launchOptions.deviceClass.name,
                      launchOptions.deviceId, launchOptions.runConcurrently))
        return _CrowdEstimator(estimatorType, launchOptions)


def createFaceEngine(dataPath, configPath):
    CALLS.append(("createFaceEngine", dataPath, configPath))
    if not os.path.isdir(dataPath):
        raise RuntimeError(f"no data folder {dataPath}")
    return _FaceEngine(dataPath, configPath)
'''

_LAUNCH_OPTIONS = '''
from enum import Enum

import FaceEngine as CoreFE


class DeviceClass(Enum):
    cpu = "cpu"
    gpu = "gpu"


class LaunchOptions:
    def __init__(self, deviceClass=None, deviceId=None, runConcurrently=True):
        self._coreLaunchOptions = CoreFE.LaunchOptions()
        gpu = deviceClass == DeviceClass.gpu
        self._coreLaunchOptions.deviceClass = CoreFE.DeviceClass.GPU if gpu else CoreFE.DeviceClass.CPU_AVX2
        if deviceId:
            self._coreLaunchOptions.deviceId = deviceId
        self._coreLaunchOptions.runConcurrently = runConcurrently

    @property
    def deviceClass(self):
        return DeviceClass.gpu if self._coreLaunchOptions.deviceClass == CoreFE.DeviceClass.GPU else DeviceClass.cpu

    @property
    def deviceId(self):
        return self._coreLaunchOptions.deviceId

    @property
    def runConcurrently(self):
        return self._coreLaunchOptions.runConcurrently

    @property
    def coreLaunchOptions(self):
        return self._coreLaunchOptions

    def __repr__(self):
        return (f"{self.__class__.__name__}(deviceClass={self.deviceClass.name}, deviceId={self.deviceId}, "
                f"runConcurrently={self.runConcurrently})")
'''

_SETTING_PROVIDER = '''
import os
from enum import Enum
from pathlib import Path

import FaceEngine as CoreFE


class PeopleCountEstimatorType(Enum):
    DEFAULT = 0
    PEOPLE_COUNT_V1 = 1
    PEOPLE_COUNT_V2 = 2

    @property
    def coreEstimatorType(self):
        return CoreFE.CrowdEstimatorType(self.value)


class RuntimeSettings:
    def __init__(self, coreSettingProvider):
        self._coreSettingProvider = coreSettingProvider

    @property
    def deviceClass(self):
        return None


class BaseSettingsProvider:
    defaultConfName = ""

    def __init__(self, pathToConfig=None):
        if pathToConfig is None:
            if "FSDK_ROOT" in os.environ:
                self.pathToConfig = Path(os.environ["FSDK_ROOT"]).joinpath("data", self.defaultConfName)
            else:
                raise ValueError("Failed on path to faceengine luna data folder, set variable pathToData or set"
                                 "environment variable *FSDK_ROOT*")
        else:
            self.pathToConfig = Path(pathToConfig)
        self._coreSettingProvider = CoreFE.createSettingsProvider(str(self.pathToConfig))

    @property
    def coreProvider(self):
        return self._coreSettingProvider


class FaceEngineSettingsProvider(BaseSettingsProvider):
    defaultConfName = "faceengine.conf"


class RuntimeSettingsProvider(BaseSettingsProvider):
    defaultConfName = "runtime.conf"

    @property
    def runtimeSettings(self):
        return RuntimeSettings(self._coreSettingProvider)
'''

_ENGINE = '''
import os

import FaceEngine as CoreFE

from ..estimators.image_estimators.people_count import PeopleCountEstimatorV2
from ..launch_options import DeviceClass, LaunchOptions
from .setting_provider import FaceEngineSettingsProvider, PeopleCountEstimatorType, RuntimeSettingsProvider


class VLFaceEngine:
    license = None

    def __init__(self, pathToData=None, faceEngineConf=None, runtimeConf=None):
        if pathToData is None:
            if "FSDK_ROOT" in os.environ:
                pathToData = os.path.join(os.environ["FSDK_ROOT"], "data")
            else:
                raise ValueError("Failed on path to faceengine luna data folder, set variable pathToData or set"
                                 "environment variable *FSDK_ROOT*")
        if faceEngineConf is None:
            self.faceEngineProvider = FaceEngineSettingsProvider()
        elif isinstance(faceEngineConf, str):
            self.faceEngineProvider = FaceEngineSettingsProvider(faceEngineConf)
        else:
            self.faceEngineProvider = faceEngineConf
        if runtimeConf is None:
            self.runtimeProvider = RuntimeSettingsProvider()
        elif isinstance(runtimeConf, str):
            self.runtimeProvider = RuntimeSettingsProvider(runtimeConf)
        else:
            self.runtimeProvider = runtimeConf
        self.dataPath = pathToData
        self._faceEngine = CoreFE.createFaceEngine(
            dataPath=pathToData, configPath=str(self.faceEngineProvider.pathToConfig)
        )
        if self.license:
            self.activate(self.license)
        self._faceEngine.setSettingsProvider(self.faceEngineProvider.coreProvider)
        self._faceEngine.setRuntimeSettingsProvider(self.runtimeProvider.coreProvider)

    def getLaunchOptions(self, launchOptions=None):
        if not launchOptions:
            device = self.runtimeProvider.runtimeSettings.deviceClass
            launchOptions = LaunchOptions(deviceClass=device or DeviceClass.cpu)
        return launchOptions

    def activate(self, pathToLicense):
        _license = self._faceEngine.getLicense()
        return self._faceEngine.activateLicense(_license, str(pathToLicense))

    def createPeopleCountEstimatorV2(self, estimatorType, launchOptions=None):
        launchOptions = self.getLaunchOptions(launchOptions)
        return PeopleCountEstimatorV2(
            self._faceEngine.createCrowdEstimator(
                estimatorType.coreEstimatorType, launchOptions=launchOptions.coreLaunchOptions
            ),
            launchOptions,
        )
'''

_VERSION = '''
from typing import NamedTuple

import FaceEngine as CoreFE


class SemVer(NamedTuple):
    major: int
    minor: int
    patch: int


class Version(NamedTuple):
    version: SemVer
    hash: str


def getVersion():
    version = SemVer(*CoreFE.getVersionString()[len("fsdk_version: "):].split("."))
    return Version(version, CoreFE.getVersionHash()[len("fsdk_hash: "):])


SDK_VERSION = getVersion()
'''

_ASYNC_TASK = '''
class AsyncTask:
    __slots__ = ["coreTask", "postProcessing"]

    def __init__(self, coreTask, postProcessing):
        self.coreTask = coreTask
        self.postProcessing = postProcessing

    def get(self):
        return self.postProcessing(*self.coreTask.get())

    def __await__(self):
        yield from self.coreTask.__await__()
        return self.postProcessing(*self.coreTask.getResult())
'''

_BASE_ESTIMATOR = '''
class BaseEstimator:
    def __init__(self, coreEstimator, launchOptions):
        self._coreEstimator = coreEstimator
        self.launchOptions = launchOptions
'''

# Appended to the service tree's people_count module: the estimator the engine makes.
_PEOPLE_COUNT_ESTIMATOR = '''

import FaceEngine  # noqa: E402  (the SDK's module imports the core at its top)

from ...async_task import AsyncTask  # noqa: E402
from ..base import BaseEstimator  # noqa: E402


def getEstimatorArgsFromImages(images):
    """The core's images and detect areas; as in the SDK, a pair's second item must be a rect."""
    coreImages, detectAreas = [], []
    for image in images:
        if isinstance(image, VLImage):
            img, area = image, image.rect
        else:
            img, area = image[0], image[1]
        if not isinstance(img, VLImage):
            raise TypeError(f"expected this SDK's VLImage, got {type(img).__module__}.{type(img).__name__}")
        coreImages.append(img.asNPArray())
        detectAreas.append((int(area.x), int(area.y), int(area.width), int(area.height)))
    return coreImages, detectAreas


def postProcessingBatchV2(error, crowdEstimations):
    assert error.isOk, error.what
    return [PeopleCount(estimation) for estimation in crowdEstimations]


class PeopleCountEstimatorV2(BaseEstimator):
    def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=False):
        coreImages, detectAreas = getEstimatorArgsFromImages(images)
        targets = estimationTargets.value
        if asyncEstimate:
            task = self._coreEstimator.asyncEstimate(coreImages, detectAreas, targets)
            return AsyncTask(task, postProcessingBatchV2)
        error, crowdEstimations = self._coreEstimator.estimate(coreImages, detectAreas, targets)
        return postProcessingBatchV2(error, crowdEstimations)
'''

_MODULES = {
    "lunavl/sdk/launch_options.py": _LAUNCH_OPTIONS,
    "lunavl/sdk/faceengine/setting_provider.py": _SETTING_PROVIDER,
    "lunavl/sdk/faceengine/engine.py": _ENGINE,
    "lunavl/sdk/version.py": _VERSION,
    "lunavl/sdk/async_task.py": _ASYNC_TASK,
    "lunavl/sdk/estimators/base.py": _BASE_ESTIMATOR,
}
_PEOPLE_COUNT = "lunavl/sdk/estimators/image_estimators/people_count.py"


def write_vendor_sdk(root: Path, *, core: bool = True) -> Path:
    """The service packages plus the SDK's engine modules under ``root`` (for ``sys.path``), and the core
    (``FaceEngine.py``) unless ``core=False``; returns ``root``."""
    write_service_packages(root)
    for relative, source in _MODULES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source.lstrip())
    people_count = root / _PEOPLE_COUNT
    people_count.write_text(people_count.read_text() + _PEOPLE_COUNT_ESTIMATOR)
    if core:
        (root / "FaceEngine.py").write_text((_CORE % {"version": CORE_VERSION}).lstrip())
    return root


def write_sdk_data(folder: Path) -> Path:
    """An SDK data folder with the two configuration files the engine reads from it; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "faceengine.conf").write_text("<settings/>\n")
    (folder / "runtime.conf").write_text("<settings/>\n")
    return folder
