"""Errors of the plugin framework: each names the plugin (or module) and what to fix."""
from __future__ import annotations


class PluginError(Exception):
    """A plugin could not be loaded, validated or run."""

    def __init__(self, plugin: str, message: str, *, missing_module: str | None = None) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin
        self.reason = message
        # The module whose absence made the import fail, when that was the cause.
        self.missing_module = missing_module


class PluginRequirementsError(PluginError):
    """A plugin's ``requirements.txt`` is not met by the running environment."""

    def __init__(self, plugin: str, requirements_file: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            plugin,
            f"requirements not met ({requirements_file}): {', '.join(missing)}. "
            f"Install them with: pip install -r {requirements_file}",
        )


class PluginAnswerError(TypeError):
    """A route handler answered something that is not a response (its message is the workbench's own)."""


class EstimatorContractError(PluginError):
    """A replacement estimator does not honour the estimator contract."""


def missing_module_of(error: BaseException | None) -> str | None:
    """The module whose absence raised ``error`` (or an error it was raised from or during), if that was the
    cause: a ``ModuleNotFoundError`` naming it, or a ``PluginError`` that recorded it."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, PluginError) and error.missing_module:
            return error.missing_module
        if isinstance(error, ModuleNotFoundError) and error.name:
            return error.name
        error = error.__cause__ or error.__context__
    return None
