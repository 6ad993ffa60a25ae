"""Moved to ``helpers.event_plugins``; this re-export keeps test modules not yet updated working until they are."""
from helpers.event_plugins import COLLECTING_EVENT_PLUGIN  # noqa: F401
