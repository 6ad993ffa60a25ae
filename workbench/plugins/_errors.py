"""Errors of the plugin framework: each names the plugin (or module) and what to fix."""
from __future__ import annotations


class PluginError(Exception):
    """A plugin could not be loaded, validated or run."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin
        self.reason = message


class PluginRequirementsError(PluginError):
    """A plugin's ``requirements.txt`` is not met by the running environment."""

    def __init__(self, plugin: str, requirements_file: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            plugin,
            f"requirements not met ({requirements_file}): {', '.join(missing)}. "
            f"Install them with: pip install -r {requirements_file}",
        )


class EstimatorContractError(PluginError):
    """A replacement estimator does not honour the estimator contract."""
