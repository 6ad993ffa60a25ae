"""The in-process plugin host."""
from ._cli_args import add_host_arguments, whole_number
from ._estimators import DEFAULT, UnknownEstimatorError
from ._records import PluginRecord, PluginTable
from ._workbench import DuplicateActivationWarning, EventDelivery, Workbench

__all__ = [
    "add_host_arguments",
    "whole_number",
    "DEFAULT",
    "DuplicateActivationWarning",
    "EventDelivery",
    "PluginRecord",
    "PluginTable",
    "UnknownEstimatorError",
    "Workbench",
]
