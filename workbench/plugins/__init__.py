"""The plugin framework, with the service's names: base classes, responses, config, loader.

Plugins written for the service import these through ``luna_plugins...`` paths (see ``workbench._compat``).
"""
from ._base import (
    HTTP_METHODS,
    BaseBackgroundHandler,
    BaseBackgroundPlugin,
    BaseEventPlugin,
    BasePlugin,
    PluginHTTPResponse,
    Route,
    pluginHTTPResponse,
)
from ._config import AppConfig, EstimatorSettings, EstimatorsSettings
from ._errors import EstimatorContractError, PluginAnswerError, PluginError, PluginRequirementsError
from ._estimator import EstimatorBase, EstimatorReplacementPlugin
from ._events import MONITORING_EVENT, MonitoringPoint
from ._loader import ACTIVE_PLUGINS_ENV, PLUGIN_KINDS, parse_active_plugins, plugin_kind

__all__ = [
    "ACTIVE_PLUGINS_ENV",
    "HTTP_METHODS",
    "MONITORING_EVENT",
    "PLUGIN_KINDS",
    "AppConfig",
    "BaseBackgroundHandler",
    "BaseBackgroundPlugin",
    "BaseEventPlugin",
    "BasePlugin",
    "EstimatorBase",
    "EstimatorContractError",
    "EstimatorReplacementPlugin",
    "EstimatorSettings",
    "EstimatorsSettings",
    "MonitoringPoint",
    "PluginAnswerError",
    "PluginError",
    "PluginHTTPResponse",
    "PluginRequirementsError",
    "Route",
    "parse_active_plugins",
    "plugin_kind",
    "pluginHTTPResponse",
]
