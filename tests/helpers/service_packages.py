"""Writes a stand-in for the service's real ``luna_plugins`` and ``lunavl`` packages into a folder.

The real packages cannot be installed here (``lunavl`` needs the vendor's C++ core), so tests write a small
package tree with the reference sources' module paths, class names and signatures, and their ``dist-info``
folders so a version is reported. Put the folder first on ``PYTHONPATH`` of a subprocess: these packages then
win over the workbench's alias finder, as the real ones do in the service's container image.

The classes are deliberately not the workbench's: route registration goes to ``app.add_route`` (the service's
web app, which the workbench does not run), a route answers the package's own response type, images are
built from numpy arrays only, and ``PeopleCount`` has a count and coordinates and no density map.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
LUNA_PLUGINS_VERSION = "5.14.1"
LUNAVL_VERSION = "2.4.7"

_BASE_PLUGINS = '''
"""Service plugin bases (test stand-in for the real luna_plugins)."""
from abc import ABC, abstractmethod


class PluginHTTPResponse:
    def __init__(self, statusCode=200, body=None, headers=None):
        self.statusCode = statusCode
        self.body = body
        self.headers = dict(headers or {})


def pluginHTTPResponse(statusCode=200, body=None, headers=None):
    return PluginHTTPResponse(statusCode=statusCode, body=body, headers=headers)


class BasePlugin(ABC):
    def __init__(self, app):
        self.app = app

    async def initialize(self):
        pass

    async def start(self):
        pass

    async def close(self):
        pass


class BaseEventPlugin(BasePlugin):
    eventName = None

    @abstractmethod
    async def handleEvent(self, points, logger):
        pass


class BaseBackgroundHandler:
    def __init__(self, app):
        self.app = app

    def response(self, body=None, headers=None, statusCode=200):
        return pluginHTTPResponse(statusCode=statusCode, body=body, headers=headers)


class BaseBackgroundPlugin(BasePlugin):
    def addRoute(self, path, handler, methods=None):
        self.app.add_route(handler, path, methods=methods)
'''

_ESTIMATOR_PLUGIN = '''
"""Estimator replacement bases (test stand-in for the real luna_plugins)."""
from abc import ABC, abstractmethod


class EstimatorBase(ABC):
    @abstractmethod
    def close(self):
        pass

    @abstractmethod
    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        pass


class EstimatorReplacementPlugin(ABC):
    def __init__(self, app):
        self.app = app

    @property
    def appConfig(self):
        return self.app.config

    @property
    def globalDeviceClass(self):
        return self.appConfig.globalDeviceClass

    @property
    def defaultGpuDevice(self):
        return self.appConfig.defaultGpuDevice

    @property
    def deviceClass(self):
        return self.globalDeviceClass

    @property
    @abstractmethod
    def estimatorBrokerName(self):
        pass

    @abstractmethod
    def createReplacementEstimator(self):
        pass

    def close(self):
        pass
'''

_BASE = '''
from abc import ABC, abstractmethod


class BaseEstimation(ABC):
    def __init__(self, coreEstimation):
        self._coreEstimation = coreEstimation

    @property
    def coreEstimation(self):
        return self._coreEstimation

    @abstractmethod
    def asDict(self):
        pass
'''

_GEOMETRY = '''
from typing import NamedTuple


class Vec2D(NamedTuple):
    x: float
    y: float


class Rect:
    def __init__(self, x=0, y=0, width=0, height=0):
        self.x, self.y, self.width, self.height = x, y, width, height

    def asDict(self):
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}
'''

_IMAGE = '''
from enum import Enum

import numpy as np

from .geometry import Rect


class ColorFormat(Enum):
    B8G8R8 = "B8G8R8"
    R8G8B8 = "R8G8B8"
    IR_X8X8X8 = "IR_X8X8X8"


class VLImage:
    """Built from numpy arrays only: decoding needs the vendor's core."""

    def __init__(self, body, colorFormat=None, filename=""):
        if not isinstance(body, np.ndarray):
            raise TypeError("this test SDK builds images from numpy arrays only")
        self._pixels = body
        self._format = colorFormat or ColorFormat.R8G8B8
        self.filename = filename

    @classmethod
    def fromNumpyArray(cls, arr, inputColorFormat=None, colorFormat=None, filename=""):
        source = ColorFormat(inputColorFormat) if isinstance(inputColorFormat, str) else inputColorFormat
        pixels = arr[..., ::-1] if source == ColorFormat.B8G8R8 else arr
        return cls(np.ascontiguousarray(pixels), colorFormat or ColorFormat.R8G8B8, filename)

    @property
    def format(self):
        return self._format

    @property
    def rect(self):
        return Rect(0, 0, self._pixels.shape[1], self._pixels.shape[0])

    def asNPArray(self):
        return self._pixels.copy()

    def crop(self, rect):
        x, y = int(rect.x), int(rect.y)
        return VLImage(self._pixels[y:y + int(rect.height), x:x + int(rect.width)], self._format, self.filename)
'''

_PEOPLE_COUNT = '''
from enum import Enum
from typing import NamedTuple, Optional

from ...base import BaseEstimation
from ...image_utils.geometry import Rect, Vec2D
from ...image_utils.image import VLImage


class EstimationTargets(Enum):
    T1 = 1
    T2 = 2


class PeopleCount(BaseEstimation):
    @property
    def count(self):
        return self._coreEstimation.count

    @property
    def coordinates(self):
        return tuple(Vec2D(point.x, point.y) for point in self._coreEstimation.points.getPoints())

    def asDict(self):
        return {"count": self.count, "coordinates": self.coordinates}


class ImageForPeopleEstimation(NamedTuple):
    image: VLImage
    detectArea: Optional[Rect] = None
'''

_MODULES = {
    "luna_plugins/base/plugins_meta/base_plugins.py": _BASE_PLUGINS,
    "luna_plugins/estimator_plugins/estimator_replacement_plugin.py": _ESTIMATOR_PLUGIN,
    "lunavl/sdk/base.py": _BASE,
    "lunavl/sdk/image_utils/geometry.py": _GEOMETRY,
    "lunavl/sdk/image_utils/image.py": _IMAGE,
    "lunavl/sdk/estimators/image_estimators/people_count.py": _PEOPLE_COUNT,
}
_DISTRIBUTIONS = {"luna_plugins": ("luna-plugins", LUNA_PLUGINS_VERSION), "lunavl": ("lunavl", LUNAVL_VERSION)}


def write_service_packages(root: Path) -> Path:
    """Write the package tree (with ``dist-info`` metadata) under ``root``; returns ``root`` for ``sys.path``."""
    for relative, source in _MODULES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source.lstrip())
        for package in path.relative_to(root).parents:
            if package != Path("."):
                (root / package / "__init__.py").touch()
    for top, (distribution, version) in _DISTRIBUTIONS.items():
        info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "top_level.txt").write_text(f"{top}\n")
    return root


def service_env(service_root: Path) -> dict[str, str]:
    """This process's environment for a subprocess: the written packages first on ``PYTHONPATH``, then ``tests/``
    (for ``helpers``) and the repository."""
    paths = [str(service_root), str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


@pytest.fixture(scope="module")
def service_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in packages, written once per test module."""
    return write_service_packages(tmp_path_factory.mktemp("service-site-packages"))
