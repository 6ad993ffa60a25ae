"""Recognising the service's plugin classes by contract, whichever package provides them.

Where the service's real ``luna_plugins`` is installed it wins on the import path (the workbench's alias
finder sits last), so a plugin subclasses the real base classes, not the workbench's stand-ins. A class is
therefore taken for a service base class when it is the stand-in, or when its qualified name is the service's
(``luna_plugins.base.plugins_meta.base_plugins.BaseEventPlugin``...), or when it is the object the service's
module exports under that name (a base defined in a private module and re-exported).
"""
from __future__ import annotations

import sys
from typing import Any

# Plugin kind -> the service's qualified name of its base class.
SERVICE_PLUGIN_BASES: dict[str, str] = {
    "event": "luna_plugins.base.plugins_meta.base_plugins.BaseEventPlugin",
    "background": "luna_plugins.base.plugins_meta.base_plugins.BaseBackgroundPlugin",
    "estimator": "luna_plugins.estimator_plugins.estimator_replacement_plugin.EstimatorReplacementPlugin",
}
SERVICE_HANDLER_BASE = "luna_plugins.base.plugins_meta.base_plugins.BaseBackgroundHandler"


def _is_service_class(base: type, qualified: str, stand_in: type) -> bool:
    if base is stand_in:
        return True
    module, _, name = qualified.rpartition(".")
    if f"{base.__module__}.{base.__qualname__}" == qualified:
        return True
    exported = getattr(sys.modules.get(module), name, None)
    return exported is base


def derives_from(cls: Any, qualified: str, stand_in: type) -> bool:
    """Whether ``cls`` is a class with the service's ``qualified`` base (or the stand-in) in its MRO."""
    mro = getattr(cls, "__mro__", None)
    if not isinstance(cls, type) or mro is None:
        return False
    return any(_is_service_class(base, qualified, stand_in) for base in mro)


def is_service_base(cls: Any, qualified: str, stand_in: type) -> bool:
    """Whether ``cls`` is the service's base class itself (real or stand-in), which is never activated."""
    return isinstance(cls, type) and _is_service_class(cls, qualified, stand_in)
