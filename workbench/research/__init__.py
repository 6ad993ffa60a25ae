"""The research layer: datasets, metrics, plots, comparisons and widgets for people-count estimators.

Datasets, metrics and ``compare`` are imported here directly. The plotting functions, ``ComparisonReport``
and the ``Explorer`` widget are importable from here too but load matplotlib, pandas and ipywidgets only on
first use, so scripts that only score results do not pay for them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Imported eagerly: the function shares its submodule's name, and a lazy import would leave the package
# attribute bound to the submodule once anything imports ``workbench.research.compare``.
from ._samples import sample_dataset
from .compare import compare
from .datasets import (
    Dataset,
    DatasetError,
    DatasetWarning,
    Sample,
    detect_format,
    load_dataset,
    load_sequence,
    make_synthetic_dataset,
)
from .metrics import (
    LatencyStats,
    Localisation,
    LocalisationSummary,
    box_thresholds,
    density_count,
    game,
    game_image,
    game_levels,
    grid_counts_from_density,
    grid_counts_from_points,
    latency_stats,
    localisation,
    localisation_summary,
    mae,
    nae,
    rmse,
    throughput,
)

if TYPE_CHECKING:  # the lazy names below, as type checkers must see them (``__getattr__`` gives them only Any)
    from .cache import PredictionCache
    from .plots import (
        plot_count_scatter,
        plot_counts_over_time,
        plot_density_overlay,
        plot_error_over_time,
        plot_estimator_grid,
        plot_frame_changes,
        plot_points,
        plot_ranked_errors,
    )
    from .report import ComparisonReport
    from .slices import error_by_label, plot_error_by_label
    from .timeline import Timeline
    from .widgets import Explorer

_PLOTS = frozenset({
    "plot_count_scatter",
    "plot_counts_over_time",
    "plot_density_overlay",
    "plot_error_over_time",
    "plot_estimator_grid",
    "plot_frame_changes",
    "plot_points",
    "plot_ranked_errors",
})

_LAZY = {
    **{name: "plots" for name in _PLOTS},
    "ComparisonReport": "report",
    "Explorer": "widgets",
    "PredictionCache": "cache",
    "Timeline": "timeline",
    "error_by_label": "slices",
    "plot_error_by_label": "slices",
}

__all__ = [
    "ComparisonReport",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "Explorer",
    "LatencyStats",
    "Localisation",
    "LocalisationSummary",
    "PredictionCache",
    "Sample",
    "Timeline",
    "box_thresholds",
    "compare",
    "density_count",
    "detect_format",
    "error_by_label",
    "game",
    "game_image",
    "game_levels",
    "grid_counts_from_density",
    "grid_counts_from_points",
    "latency_stats",
    "load_dataset",
    "load_sequence",
    "localisation",
    "localisation_summary",
    "mae",
    "make_synthetic_dataset",
    "nae",
    "plot_error_by_label",
    "rmse",
    "sample_dataset",
    "throughput",
    *sorted(_PLOTS),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
