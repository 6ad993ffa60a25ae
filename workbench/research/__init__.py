"""The research layer: datasets, metrics and plots for comparing people-count estimators in notebooks.

Datasets and metrics are imported here directly. The plotting functions are importable from here too but
load matplotlib's pyplot only on first use, so scripts that only score results do not pay for it.
"""
from __future__ import annotations

from typing import Any

from .datasets import (
    Dataset,
    DatasetError,
    DatasetWarning,
    Sample,
    detect_format,
    load_dataset,
    make_synthetic_dataset,
)
from .metrics import (
    LatencyStats,
    Localisation,
    LocalisationSummary,
    game,
    game_image,
    game_levels,
    grid_counts_from_density,
    grid_counts_from_points,
    latency_stats,
    localisation,
    localisation_summary,
    mae,
    rmse,
    throughput,
)

_PLOTS = frozenset({
    "plot_count_scatter",
    "plot_density_overlay",
    "plot_estimator_grid",
    "plot_points",
    "plot_ranked_errors",
})

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "LatencyStats",
    "Localisation",
    "LocalisationSummary",
    "Sample",
    "detect_format",
    "game",
    "game_image",
    "game_levels",
    "grid_counts_from_density",
    "grid_counts_from_points",
    "latency_stats",
    "load_dataset",
    "localisation",
    "localisation_summary",
    "mae",
    "make_synthetic_dataset",
    "rmse",
    "throughput",
    *sorted(_PLOTS),
]


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
