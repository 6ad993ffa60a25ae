"""Counting error sliced by a per-image label: NWPU-Crowd's scene level, JHU-Crowd++'s weather, a count bucket.

Benchmarks publish per-image labels (``Sample.labels``) so that an estimator can be judged where it matters:
in dense scenes, in rain, at night. ``error_by_label`` turns a comparison's per-image rows into one row per
(label value, estimator); ``plot_error_by_label`` draws it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .report import ComparisonReport

__all__ = ["COUNT_BUCKET", "DEFAULT_BUCKETS", "error_by_label", "plot_error_by_label"]

#: The pseudo-label that buckets images by their true count (every dataset has it).
COUNT_BUCKET = "count_bucket"
#: Lower edges of the count buckets: 0, 1-9, 10-99, 100-499, 500-999, 1000-4999, 5000+ people.
DEFAULT_BUCKETS = (0, 1, 10, 100, 500, 1000, 5000)


def _bucket_names(edges: Sequence[int]) -> list[str]:
    names = []
    for low, high in zip(edges, [*edges[1:], None]):
        if high is None:
            names.append(f"{low}+")
        elif high - low == 1:
            names.append(str(low))
        else:
            names.append(f"{low}-{high - 1}")
    return names


def _count_bucket(count: float, edges: Sequence[int], names: Sequence[str]) -> str | None:
    if math.isnan(count) or count < edges[0]:
        return None
    return names[int(np.searchsorted(edges, count, side="right")) - 1]


def error_by_label(
    report: ComparisonReport, label: str, *, buckets: Sequence[int] = DEFAULT_BUCKETS
) -> pd.DataFrame:
    """MAE, RMSE and image count per (label value, estimator) over the annotated images of ``report``.

    ``label`` is a key of the samples' ``labels`` (``"scene_level"``, ``"weather"``, ...) or ``"count_bucket"``
    (the true count binned at the lower edges ``buckets``). Images without that label are left out. The
    result is indexed by ``(label value, estimator)`` with columns ``images``, ``mae``, ``rmse``, ``mean_true``.
    """
    import pandas as pd

    edges = sorted(int(b) for b in buckets)
    names = _bucket_names(edges)
    rows = report.per_image
    values: dict[str, Any] = {}
    for sample in report.dataset:
        if label == COUNT_BUCKET:
            values[sample.name] = None if sample.count is None else _count_bucket(sample.count, edges, names)
        else:
            values[sample.name] = sample.labels.get(label)
    if label != COUNT_BUCKET and all(v is None for v in values.values()):
        known = sorted({key for sample in report.dataset for key in sample.labels})
        raise ValueError(
            f"no image carries the label {label!r}; this dataset's labels are {', '.join(known) or 'none'} "
            f"(plus {COUNT_BUCKET!r})"
        )
    scored = rows[rows["true_count"].notna()].assign(**{label: rows["image"].map(values)})
    scored = scored[scored[label].notna()]
    grouped = scored.groupby([label, "estimator"], sort=True)
    table = pd.DataFrame({
        "images": grouped.size(),
        "mae": grouped["abs_error"].mean(),
        "rmse": grouped["error"].apply(lambda e: float(np.sqrt(np.mean(np.square(e))))),
        "mean_true": grouped["true_count"].mean(),
    })
    if label == COUNT_BUCKET:
        order = {name: i for i, name in enumerate(names)}
        table = table.sort_index(level=0, key=lambda index: index.map(lambda v: order.get(v, len(order))))
    return table


def plot_error_by_label(table: pd.DataFrame, *, metric: str = "mae", ax: Axes | None = None) -> Figure:
    """Grouped bars of ``metric`` per label value, one bar per estimator, from :func:`error_by_label`."""
    from matplotlib.figure import Figure

    if ax is None:
        ax = Figure(figsize=(6.4, 3.6), layout="constrained").add_subplot()
    label = table.index.names[0]
    wide = table[metric].unstack("estimator")
    positions = np.arange(len(wide.index))
    width = 0.8 / max(1, len(wide.columns))
    for i, estimator in enumerate(wide.columns):
        ax.bar(positions + i * width - 0.4 + width / 2, wide[estimator].to_numpy(), width, label=str(estimator))
    ax.set_xticks(positions, [str(v) for v in wide.index])
    ax.set_xlabel(str(label))
    ax.set_ylabel(metric.upper())
    ax.set_title(f"{metric.upper()} by {label}")
    ax.legend(fontsize="small")
    return cast(Figure, ax.figure)  # a SubFigure where the caller's axes lie in one, as in plots
