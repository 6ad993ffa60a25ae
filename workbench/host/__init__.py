"""The in-process plugin host."""
from ._cli_args import add_host_arguments, deadline_options, default_options, whole_number
from ._estimators import DEFAULT, UnknownEstimatorError
from ._loop import PLUGIN_FAILURES, HostLoopDead, PluginAbort, PluginTimeoutError
from ._identity import UnidentifiedEstimatorError
from ._output import EstimatorOutputError
from ._routes import RESERVED_PATHS, is_reserved_path
from ._watchdog import LoopStall
from ._records import PluginRecord, PluginTable
from ._activation import DuplicateActivationWarning
from ._events import EventDelivery
from ._examples import example_plugins_dir
from ._workbench import Workbench
from ._vendor_default import SdkOptions, VendorSdkMissing

__all__ = [
    "add_host_arguments",
    "deadline_options",
    "default_options",
    "whole_number",
    "DEFAULT",
    "EstimatorOutputError",
    "PLUGIN_FAILURES",
    "RESERVED_PATHS",
    "HostLoopDead",
    "LoopStall",
    "PluginAbort",
    "PluginTimeoutError",
    "is_reserved_path",
    "DuplicateActivationWarning",
    "EventDelivery",
    "example_plugins_dir",
    "PluginRecord",
    "PluginTable",
    "UnidentifiedEstimatorError",
    "UnknownEstimatorError",
    "SdkOptions",
    "VendorSdkMissing",
    "Workbench",
]
