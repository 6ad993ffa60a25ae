"""workbench: run the service's plugins in a notebook kernel, compare people-count estimators, serve them.

Importing ``workbench`` makes the service's import paths (``luna_plugins...``, ``lunavl...``) resolve to
the workbench's classes where the service's own packages are not installed.
"""
from . import _compat
from ._facade import Workbench
from .host import DuplicateActivationWarning, EventDelivery, UnknownEstimatorError
from .plugins import (
    AppConfig,
    BaseBackgroundHandler,
    BaseBackgroundPlugin,
    BaseEventPlugin,
    EstimatorBase,
    EstimatorContractError,
    EstimatorReplacementPlugin,
    MonitoringPoint,
    PluginError,
    PluginHTTPResponse,
    pluginHTTPResponse,
)
from .result import CountResult
from .sdk import EstimationTargets, ImageForPeopleEstimation, PeopleCount, Rect, Vec2D, VLImage
from ._version import __version__

_compat.install()

__all__ = [
    "AppConfig",
    "BaseBackgroundHandler",
    "BaseBackgroundPlugin",
    "BaseEventPlugin",
    "CountResult",
    "DuplicateActivationWarning",
    "EstimationTargets",
    "EstimatorBase",
    "EstimatorContractError",
    "EstimatorReplacementPlugin",
    "EventDelivery",
    "ImageForPeopleEstimation",
    "MonitoringPoint",
    "PeopleCount",
    "PluginError",
    "PluginHTTPResponse",
    "Rect",
    "UnknownEstimatorError",
    "Vec2D",
    "VLImage",
    "Workbench",
    "pluginHTTPResponse",
]
