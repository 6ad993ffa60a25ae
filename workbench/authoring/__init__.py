"""Tools for plugin authors: ``check_plugins`` (would these plugins run in the service?) and
``package_plugin`` (the service's container recipe for a plugin). The CLI's ``workbench check`` and
``workbench package`` call these."""
from ._findings import KINDS, Finding
from .check import CheckReport, check_plugins
from .package import PackageRefused, PackageResult, package_plugin

__all__ = ["KINDS", "CheckReport", "Finding", "PackageRefused", "PackageResult", "check_plugins", "package_plugin"]
