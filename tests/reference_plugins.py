"""Moved to ``helpers.reference_plugins``; this re-export keeps test modules not yet updated working until they are."""
from helpers.reference_plugins import MODULES, reference_sources, write_reference_plugins  # noqa: F401
