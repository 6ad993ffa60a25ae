"""The in-process plugin host."""
from ._estimators import DEFAULT
from ._records import PluginRecord, PluginTable
from ._workbench import DuplicateActivationWarning, EventDelivery, UnknownEstimatorError, Workbench

__all__ = [
    "DEFAULT",
    "DuplicateActivationWarning",
    "EventDelivery",
    "PluginRecord",
    "PluginTable",
    "UnknownEstimatorError",
    "Workbench",
]
