"""Matplotlib figures for people-count results: density overlays, matched points, estimator grids, error plots,
and counts over time (a ``Timeline`` of a sequence: counts, errors and frame-to-frame changes per sampled frame).

No backend is forced: in Jupyter the inline backend shows the returned figures, in scripts and tests pick one
with ``matplotlib.use`` (``"Agg"`` for files). Every single-panel function takes ``ax=None`` (a new figure is
made when ``None``) and returns the figure it drew on.

Images may be given as ``VLImage``, dataset ``Sample``, numpy array (HxW or HxWx3/4), ``PIL.Image`` or a file
path. Coordinates follow the SDK: ``(0, 0)`` is the top-left corner of the top-left pixel, so images are
drawn with ``extent=(0, width, height, 0)`` and points land on the pixels they name.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from PIL import Image

from ..result import CountResult, as_counts, as_points
from .metrics import localisation, mae

if TYPE_CHECKING:
    from .timeline import Timeline

__all__ = [
    "plot_count_scatter",
    "plot_counts_over_time",
    "plot_density_overlay",
    "plot_error_over_time",
    "plot_estimator_grid",
    "plot_frame_changes",
    "plot_points",
    "plot_ranked_errors",
    "upsampled_density",
]

#: Longest side of an upsampled density map; a finer overlay is invisible on screen and costs memory.
_MAX_OVERLAY_SIDE = 2048
#: Density below this fraction of the colour scale's top is drawn transparent, so the photo stays readable.
_TRANSPARENT_BELOW = 0.02
_DENSITY_LABEL = "density (people / pixel)"


def _rgb(image: Any) -> np.ndarray:
    """The pixels of any supported image input, as a numpy array for ``imshow``."""
    if hasattr(image, "asNPArray"):
        return image.asNPArray()
    if hasattr(image, "image_path"):  # a dataset Sample: decode the same way estimators see it
        return image.image.asNPArray()
    if isinstance(image, (str, Path)):
        from workbench.images import load_image

        return load_image(image).asNPArray()
    if isinstance(image, Image.Image):
        return np.asarray(image)
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise TypeError(
            f"image must be a VLImage, Sample, path, PIL image or an HxW(xC) array, got {type(image).__name__}"
        )
    return array


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (8, 6)) -> tuple[Figure, Axes]:
    if ax is not None:
        # A SubFigure where the caller's axes lie in one: these functions draw through the axes and hand back
        # whatever figure holds them, so the type says Figure, the usual case.
        return cast(Figure, ax.figure), ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _show_image(ax: Axes, pixels: np.ndarray) -> tuple[int, int]:
    height, width = pixels.shape[:2]
    ax.imshow(pixels, extent=(0, width, height, 0), cmap="gray" if pixels.ndim == 2 else None)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    return width, height


def upsampled_density(
    result: CountResult, image_size: tuple[int, int]
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The result's density map resized (bilinear) to its ``densityArea``, for display.

    Returns ``(map, extent)`` where ``extent`` is ``(left, right, bottom, top)`` in image pixels for ``imshow``
    and the map's values are people per original image pixel: the resize is renormalised so that the map
    still sums to the model's count. Only for display; metrics integrate the raw map (``metrics``).
    """
    if result.densityMap is None:
        raise ValueError("the result has no densityMap to draw; plot its points with plot_points instead")
    density = np.asarray(result.densityMap, dtype=np.float32)
    area = result.densityArea
    if area is None:
        x, y, w, h = 0.0, 0.0, float(image_size[0]), float(image_size[1])
    else:
        x, y, w, h = float(area.x), float(area.y), float(area.width), float(area.height)
    shrink = min(1.0, _MAX_OVERLAY_SIDE / max(w, h))
    out_w, out_h = max(1, round(w * shrink)), max(1, round(h * shrink))
    resized = np.asarray(
        Image.fromarray(density, mode="F").resize((out_w, out_h), Image.Resampling.BILINEAR), dtype=np.float64
    )
    total, resized_total = float(density.sum()), float(resized.sum())
    if resized_total > 0:
        # Each display pixel stands for (w*h)/(out_w*out_h) image pixels.
        resized *= total / resized_total * (out_w * out_h) / (w * h)
    return resized, (x, x + w, y + h, y)


def _draw_density(ax: Axes, result: CountResult, image_size: tuple[int, int], alpha: float, cmap: str,
                  vmax: float | None) -> AxesImage:
    values, extent = upsampled_density(result, image_size)
    top = vmax if vmax is not None else float(values.max())
    top = top if top > 0 else 1e-6
    masked = np.ma.masked_less_equal(values, _TRANSPARENT_BELOW * top)
    colours = plt.get_cmap(cmap).with_extremes(bad=(0, 0, 0, 0))
    return ax.imshow(masked, extent=extent, cmap=colours, alpha=alpha, vmin=0, vmax=top,
                     interpolation="bilinear")


def _label(result: Any, label: str | None) -> str:
    """The estimator's name for a title: ``label`` where given, else the result's; a plain point array has none."""
    if label is not None:
        return label
    return (result.estimatorName if isinstance(result, CountResult) else None) or "prediction"


def plot_density_overlay(
    image: Any, result: CountResult, ax: Axes | None = None, alpha: float = 0.5, cmap: str = "jet",
    label: str | None = None,
) -> Figure:
    """Draw the result's density map, upsampled to its ``densityArea``, over the image; title with the count.

    The title names the estimator ``label`` (default: the result's ``estimatorName``). Near-zero density is
    transparent. A result without a density map is drawn as its points instead (and the
    title says so), so the function can be used on any estimator's output.
    """
    fig, ax = _new_axes(ax)
    pixels = _rgb(image)
    size = _show_image(ax, pixels)
    if result.densityMap is None:
        points = as_points(result, "result")
        ax.scatter(points[:, 0], points[:, 1], s=18, c="red", edgecolors="white", linewidths=0.5)
        ax.set_title(f"{_label(result, label)}: count {result.count} (no density map; points shown)")
        return fig
    overlay = _draw_density(ax, result, size, alpha, cmap, vmax=None)
    fig.colorbar(overlay, ax=ax, label=_DENSITY_LABEL, shrink=0.8)
    map_sum = float(np.sum(result.densityMap, dtype=np.float64))
    ax.set_title(f"{_label(result, label)}: count {result.count} (map sum {map_sum:.1f})")
    return fig


def plot_points(
    image: Any, result: Any, gt_points: Any = None, ax: Axes | None = None, threshold: float = 10,
    label: str | None = None,
) -> Figure:
    """Predicted head points over the image; with ``gt_points``, matched and unmatched marked apart.

    Matching is :func:`workbench.research.metrics.localisation` at ``threshold`` pixels (one-to-one). Marks:
    true positives green circles joined to their ground-truth point by a thin line, false positives red
    crosses, missed ground-truth points (false negatives) yellow squares; the legend gives their numbers and the
    title precision/recall/F1, after the estimator ``label`` (default: the result's ``estimatorName``).
    ``result`` may be a ``CountResult`` or an ``(N, 2)`` point array.
    """
    fig, ax = _new_axes(ax)
    _show_image(ax, _rgb(image))
    pred = as_points(result, "result")
    if gt_points is None:
        ax.scatter(pred[:, 0], pred[:, 1], s=24, c="red", edgecolors="white", linewidths=0.6,
                   label=f"predicted ({len(pred)})")
        ax.legend(loc="upper right", framealpha=0.8)
        ax.set_title(f"{_label(result, label)}: {len(pred)} points")
        return fig
    gt = as_points(gt_points, "gt_points")
    loc = localisation(pred, gt, threshold)
    matched_pred, matched_gt = pred[loc.matches[:, 0]], gt[loc.matches[:, 1]]
    ax.add_collection(LineCollection(list(np.stack([matched_pred, matched_gt], axis=1)), colors="white",
                                     linewidths=0.8))
    fp, fn = pred[loc.unmatched_pred], gt[loc.unmatched_gt]
    ax.scatter(matched_pred[:, 0], matched_pred[:, 1], s=30, marker="o", c="lime", edgecolors="black",
               linewidths=0.6, label=f"TP ({loc.tp})")
    ax.scatter(fp[:, 0], fp[:, 1], s=40, marker="x", c="red", linewidths=1.5, label=f"FP ({loc.fp})")
    ax.scatter(fn[:, 0], fn[:, 1], s=36, marker="s", facecolors="none", edgecolors="yellow", linewidths=1.5,
               label=f"FN, missed GT ({loc.fn})")
    ax.legend(loc="upper right", framealpha=0.8)
    ax.set_title(f"{_label(result, label)}: P {loc.precision:.2f} · R {loc.recall:.2f} · F1 {loc.f1:.2f} "
                 f"@ {threshold:g} px")
    return fig


def plot_estimator_grid(
    images: Sequence[Any],
    results_by_estimator: Mapping[str, Sequence[CountResult]],
    gt_counts: Sequence[Any] | None = None,
    *,
    names: Sequence[str] | None = None,
    fig: Figure | None = None,
    cell_size: float = 3.0,
    alpha: float = 0.5,
    cmap: str = "jet",
) -> Figure:
    """A grid with one row per image and one column per estimator, each cell the estimator's density overlay.

    It has no ``ax`` argument because it needs a whole grid of axes: pass an empty ``fig`` to draw into it,
    or leave ``fig=None`` for a new figure sized ``cell_size`` inches per cell. Within a row all cells share
    one colour scale (one colourbar per row), so estimators can be compared on the same image. Cells of
    results without a density map show their points. Cell titles give the count and, with ``gt_counts``, the
    signed error; row labels are ``names`` or the samples' names.
    """
    if not results_by_estimator:
        raise ValueError("results_by_estimator is empty; pass {estimator name: [CountResult per image]}")
    for estimator, results in results_by_estimator.items():
        if len(results) != len(images):
            raise ValueError(f"estimator {estimator!r} has {len(results)} results for {len(images)} images; "
                             "pass one result per image, in the images' order")
    if gt_counts is not None and len(gt_counts) != len(images):
        raise ValueError(f"gt_counts has {len(gt_counts)} values for {len(images)} images")
    if names is None:
        names = [getattr(img, "name", None) or f"image {i}" for i, img in enumerate(images)]
    truths = None if gt_counts is None else as_counts(gt_counts, "gt_counts")
    estimators = list(results_by_estimator)
    n_rows, n_cols = len(images), len(estimators)
    if fig is None:
        fig = plt.figure(figsize=(cell_size * n_cols + 1.0, cell_size * 0.8 * n_rows + 0.5), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for row, image in enumerate(images):
        pixels = _rgb(image)
        size = (pixels.shape[1], pixels.shape[0])
        row_results = [results_by_estimator[e][row] for e in estimators]
        with_maps = [r for r in row_results if r.densityMap is not None]
        vmax = max((float(upsampled_density(r, size)[0].max()) for r in with_maps), default=None)
        overlay = None
        for col, result in enumerate(row_results):
            ax = axes[row, col]
            _show_image(ax, pixels)
            if result.densityMap is not None:
                overlay = _draw_density(ax, result, size, alpha, cmap, vmax)
            else:
                points = as_points(result, f"{estimators[col]} result {row}")
                ax.scatter(points[:, 0], points[:, 1], s=8, c="red", edgecolors="white", linewidths=0.3)
            title = f"count {result.count}"
            if truths is not None:
                title += f" ({result.count - truths[row]:+g} vs GT {truths[row]:g})"
            ax.set_title(f"{estimators[col]}\n{title}" if row == 0 else title, fontsize=9)
            if col == 0:
                ax.set_ylabel(names[row], fontsize=9)
        if overlay is not None:
            fig.colorbar(overlay, ax=list(axes[row]), label=_DENSITY_LABEL, shrink=0.8)
    return fig


def plot_count_scatter(
    true_counts: Sequence[Any], preds_by_estimator: Mapping[str, Sequence[Any]], ax: Axes | None = None
) -> Figure:
    """Predicted against true count, one scatter per estimator (its MAE in the legend), with the y = x line."""
    fig, ax = _new_axes(ax, figsize=(6, 6))
    true = as_counts(true_counts, "true_counts")
    top = float(true.max()) if true.size else 1.0
    for name, preds in preds_by_estimator.items():
        pred = as_counts(preds, f"preds_by_estimator[{name!r}]")
        error = mae(true, pred)
        ax.scatter(true, pred, s=28, alpha=0.8, label=f"{name} (MAE {error:.2f})")
        top = max(top, float(pred.max()))
    limit = top * 1.05 + 1
    ax.plot([0, limit], [0, limit], "--", color="grey", linewidth=1, label="y = x (perfect)")
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("true count")
    ax.set_ylabel("predicted count")
    ax.set_title("Predicted vs true count")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


def plot_ranked_errors(
    names: Sequence[str],
    true_counts: Sequence[Any],
    pred_counts: Sequence[Any],
    ax: Axes | None = None,
    top: int | None = None,
) -> Figure:
    """Horizontal bars of the signed count error, images ranked by absolute error (largest at the top).

    Bars right of zero are over-counts, left under-counts (coloured apart); ``top`` keeps the ``top`` worst
    images. Ties keep the input order.
    """
    true = as_counts(true_counts, "true_counts")
    pred = as_counts(pred_counts, "pred_counts")
    if not (len(names) == len(true) == len(pred)):
        raise ValueError(f"got {len(names)} names, {len(true)} true and {len(pred)} predicted counts; "
                         "pass one of each per image")
    if top is not None and top < 1:
        raise ValueError(f"top must be a positive number of images or None, got {top!r}")
    error = pred - true
    order = np.argsort(-np.abs(error), kind="stable")[:top]
    fig, ax = _new_axes(ax, figsize=(7, 1.5 + 0.3 * len(order)))
    rank = np.arange(len(order))
    groups = (
        (error[order] > 0, "tab:red", "over-count"),
        (error[order] < 0, "tab:blue", "under-count"),
        (error[order] == 0, "tab:grey", "exact"),
    )
    for mask, colour, label in groups:
        if mask.any():
            ax.barh(rank[mask], error[order][mask], color=colour, label=label)
    ax.set_yticks(rank, [f"{names[i]}  ({true[i]:g} → {pred[i]:g})" for i in order], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("predicted − true count")
    shown = f"top {len(order)} of {len(true)}" if len(order) < len(true) else f"all {len(true)}"
    ax.set_title(f"Count errors, ranked by |error| ({shown}; MAE {mae(true, pred):.2f})")
    ax.legend(loc="lower right")
    return fig


# -- counts over time ----------------------------------------------------------------------------------------
# The x axis is ``timeline.axis``: seconds where every frame has a time, else frame numbers. An estimator keeps its
# colour in every figure (``C0``, ``C1``, ... in the timeline's order, whichever are shown); the truth is black.

#: Up to this many sampled frames, each is marked on its line: a short sequence is read point by point.
_MARKED_FRAMES = 60


def plot_counts_over_time(
    timeline: Timeline, ax: Axes | None = None, *, estimators: Sequence[str] | None = None, window: int = 1,
) -> Figure:
    """The annotated count (black) and each estimator's count (a coloured line) per sampled frame.

    ``estimators`` picks names of ``timeline.estimators`` (default: all); ``window`` draws every series as a
    centred moving average over that many sampled frames (``Timeline.smoothed``). Gaps are frames without a
    value (unannotated, or the estimator's result refused).
    """
    fig, ax = _new_axes(ax, figsize=(12, 4))
    names = _chosen(timeline, estimators)
    series = timeline.smoothed(window)
    x, unit = series.axis
    if series.annotated:
        ax.plot(x, series.truth, color="black", linewidth=2, marker=_marker(series), markersize=3, label="truth")
    _lines(ax, series, names, lambda name: series.counts[name])
    _finish(ax, unit, "count (people)", f"Counts over time{_of(timeline)}{_smoothing(window)}")
    return fig


def plot_error_over_time(
    timeline: Timeline,
    ax: Axes | None = None,
    *,
    estimators: Sequence[str] | None = None,
    window: int = 1,
    reference: str = "default",
    divergence_window: int | None = 10,
) -> Figure:
    """Each estimator's count minus the truth per sampled frame, around a zero line.

    Where ``reference`` is in the timeline and ``divergence_window`` is not None, each other estimator's stretch
    of ``divergence_window`` sampled frames that departs most from ``reference`` (``Timeline.divergence``, on the
    counts as answered, as the report's lines say it) is shaded in its colour. ``window`` smooths the lines as in
    ``plot_counts_over_time``. Needs annotated frames.
    """
    if not timeline.annotated:
        raise ValueError(
            f"timeline {timeline.name!r} has no annotated frame, so no error to plot; plot_counts_over_time shows "
            "its counts, Timeline.divergence where estimators disagree"
        )
    fig, ax = _new_axes(ax, figsize=(12, 4))
    names = _chosen(timeline, estimators)
    series = timeline.smoothed(window)
    x, unit = series.axis
    ax.axhline(0, color="black", linewidth=0.8)
    _lines(ax, series, names, series.errors)
    if divergence_window is not None and reference in timeline.counts:
        for name in names:
            if name == reference:
                continue
            try:
                stretch = timeline.divergence(name, reference, divergence_window)
            except ValueError:  # the two answered no frame in common: there is no stretch to shade
                continue
            # Where its first and last frame lie on the x axis (seconds or frame numbers).
            start, end = x[np.searchsorted(series.frames, [stretch.first_frame, stretch.last_frame])]
            ax.axvspan(float(start), float(end), color=_colour(timeline, name), alpha=0.12, linewidth=0,
                       label=f"{timeline.labels[name]} departs most from {timeline.labels[reference]} "
                       f"({stretch.mean_difference:+.1f})")
    _finish(ax, unit, "predicted − true count", f"Error over time{_of(timeline)}{_smoothing(window)}")
    return fig


def plot_frame_changes(
    timeline: Timeline, ax: Axes | None = None, *, estimators: Sequence[str] | None = None, window: int = 1,
) -> Figure:
    """How far each count moves between consecutive sampled frames: the cumulative share of steps (ECDF) of
    ``|count[t+1] - count[t]|`` per estimator, against the truth's (black).

    A curve right of the truth's is a counter that moves more than the crowd does (``Timeline.stability`` gives
    the means); ``window`` smooths first, as in ``plot_counts_over_time``.
    """
    fig, ax = _new_axes(ax, figsize=(6, 4))
    names = _chosen(timeline, estimators)
    series = timeline.smoothed(window)
    if series.annotated:
        _ecdf(ax, series.truth, color="black", linewidth=2, label="truth")
    for name in names:
        _ecdf(ax, series.counts[name], color=_colour(timeline, name), linewidth=1.2, label=timeline.labels[name])
    ax.set_ylim(0, 1.02)
    _finish(ax, "|change| between consecutive sampled frames (people)", "share of steps at or below",
            f"Frame-to-frame changes{_smoothing(window)}", legend="lower right")
    return fig


def _chosen(timeline: Timeline, estimators: Sequence[str] | None) -> list[str]:
    if estimators is None:
        return list(timeline.estimators)
    if isinstance(estimators, str):
        raise TypeError(f"estimators={estimators!r}: pass a list of names, e.g. [{estimators!r}]")
    unknown = [name for name in estimators if name not in timeline.counts]
    if unknown:
        raise ValueError(f"no estimator {', '.join(map(repr, unknown))} in this timeline; it has "
                         f"{', '.join(map(repr, timeline.estimators))}")
    return list(estimators)


def _colour(timeline: Timeline, name: str) -> str:
    return f"C{timeline.estimators.index(name) % 10}"


def _marker(timeline: Timeline) -> str | None:
    return "o" if len(timeline) <= _MARKED_FRAMES else None


def _lines(ax: Axes, timeline: Timeline, names: Sequence[str], values: Callable[[str], np.ndarray]) -> None:
    """One line per estimator of ``values(name)`` against the timeline's axis, in the estimator's colour."""
    x, _ = timeline.axis
    for name in names:
        ax.plot(x, values(name), color=_colour(timeline, name), linewidth=1.2, marker=_marker(timeline), markersize=3,
                label=timeline.labels[name])


def _finish(ax: Axes, x_label: str, y_label: str, title: str,
            legend: Literal["best", "lower right"] = "best") -> None:
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a one-frame sequence has no step to draw
        ax.legend(loc=legend, fontsize=8)


def _ecdf(ax: Axes, values: np.ndarray, **style: object) -> None:
    steps = np.abs(np.diff(values))
    steps = np.sort(steps[np.isfinite(steps)])
    if not len(steps):
        return
    share = np.arange(1, len(steps) + 1) / len(steps)
    ax.step(np.concatenate([[0.0], steps]), np.concatenate([[0.0], share]), where="post", **style)  # type: ignore[arg-type]


def _of(timeline: Timeline) -> str:
    return f": {timeline.name}" if timeline.name else ""


def _smoothing(window: int) -> str:
    return "" if window == 1 else f" (moving average over {window} frames)"
