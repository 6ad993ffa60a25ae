"""``Explorer``: page through a dataset in Jupyter, switch the host's estimator and see its density and points.

Why it draws the way it does: a click must answer in about 0.1 s. The Explorer keeps one matplotlib figure
(Agg canvas, fixed layout, no pyplot) whose artists are updated in place — ``set_data`` on the images,
``set_offsets`` on the point markers, ``set_alpha`` on the overlay — and sends the rendered frame as JPEG
bytes to an ``ipywidgets.Image``. Everything slow is computed once and cached: the estimate per (estimator,
image), the decoded image downscaled to display size per image, and the density map resampled to display
size per (estimator, image). A redraw is then one Agg draw of a ~960x380 canvas and one JPEG encode. This
works the same in a kernel and headless (tests, ``bench/bench_explorer.py``) and leaves no figure open.

Units: the density overlay, its colour bar and the peak-threshold slider are all in *people per image
pixel* (a map cell covers ``stride x stride`` pixels, so a cell's value is divided by ``stride**2``).
"""
from __future__ import annotations

import html
import io
import math
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from ..host import UnknownEstimatorError
from ..sdk import EstimationTargets
from .datasets import Dataset, Sample, load_dataset
from .metrics import localisation

if TYPE_CHECKING:
    from ..host import Workbench

__all__ = ["Explorer"]

#: The strategy value that shows the points the estimator itself returned.
OWN_POINTS = "own"
#: Local maxima above the threshold slider, however many there are (the slider decides the points).
PEAKS_ABOVE = "peaks_above"
_STRATEGIES = [
    ("estimator's own", OWN_POINTS),
    ("topk (count highest cells)", "topk"),
    ("peaks (count strongest)", "peaks"),
    ("peaks above threshold", PEAKS_ABOVE),
]
#: Longest side of the images as drawn: the figure shows each panel at about 470 px, so more is wasted work.
_DISPLAY_SIDE = 640
#: Decoded images kept; paging back and forth over a few images never decodes twice.
_KEPT_IMAGES = 16
_FIGURE_INCHES = (12.0, 4.6)
_DPI = 80
_JPEG_QUALITY = 88
#: Near-zero density is transparent (the same rule as ``plot_density_overlay``), so the photo stays readable.
_TRANSPARENT_BELOW = 0.02
_THRESHOLD_UNIT = "people/px"


class Explorer:
    """Interactive view of one estimator's results on a dataset, live on the host.

    Controls: the image (slider, previous/next), the estimator (a dropdown of ``wb.estimator_choices[broker]``;
    changing it calls ``wb.use``, so the host itself switches), the point strategy (the estimator's own
    points, ``topk``/``peaks`` re-extracted from its density map, or every peak above the threshold slider,
    in people per pixel like the colour bar, where it is marked) and the overlay opacity. The view shows the
    density overlay, the points matched against the ground truth at ``match_threshold`` pixels, and a line
    with the count, the error and localisation scores.

    Results are cached per (estimator, image), so moving the controls redraws without re-running the
    estimator; call ``refresh()`` after reloading a plugin. If the host is closed, cached images still show
    and the rest say so. A bare ``Explorer(wb, data)`` at the end of a cell shows it.
    """

    def __init__(
        self,
        wb: Workbench,
        dataset: Dataset | str | Path,
        *,
        broker: str = "peopleCountEstimator",
        targets: EstimationTargets | str = "T1",
        match_threshold: float = 10.0,
    ) -> None:
        choices = wb.estimator_choices
        if broker not in choices:
            raise UnknownEstimatorError(
                f"unknown estimator broker {broker!r}; this host has {', '.join(map(repr, choices)) or 'none'}"
            )
        self.wb = wb
        self.dataset = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
        if len(self.dataset) == 0:
            raise ValueError("the dataset has no images to explore")
        self.broker = broker
        self.targets = EstimationTargets.parse(targets)
        self.match_threshold = float(match_threshold)
        self._results: dict[tuple[str, int], Any] = {}
        self._images: OrderedDict[int, _Frame] = OrderedDict()
        self._overlays: dict[tuple[str, int], np.ndarray] = {}
        self._syncing = False
        self._view = _View()

        self.index = widgets.IntSlider(0, min=0, max=len(self.dataset) - 1, description="image #",
                                       continuous_update=False)
        self.previous = widgets.Button(icon="chevron-left", tooltip="previous image", layout={"width": "3em"})
        self.next = widgets.Button(icon="chevron-right", tooltip="next image", layout={"width": "3em"})
        self.estimator = widgets.Dropdown(options=choices[broker], value=wb.estimators[broker],
                                          description="estimator")
        self.strategy = widgets.Dropdown(options=_STRATEGIES, value=OWN_POINTS, description="points")
        # 2e-5 people/px is the points module's default per-cell threshold (1e-3) at the default model's 8 px
        # cells; the range reaches past any density a map can hold per pixel (a whole person in one pixel).
        self.threshold = widgets.FloatLogSlider(2e-5, base=10, min=-6, max=0, step=0.1,
                                                description=f"peak ≥ ({_THRESHOLD_UNIT})", readout_format=".1e",
                                                continuous_update=False, style={"description_width": "initial"})
        self.opacity = widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="opacity (0–1)",
                                           continuous_update=False, style={"description_width": "initial"})
        self.status = widgets.HTML()
        self.note = widgets.HTML()
        self.picture = widgets.Image(format="jpeg", layout={"max_width": "100%"})
        self.widget = widgets.VBox([
            widgets.HBox([self.previous, self.index, self.next, self.estimator]),
            widgets.HBox([self.strategy, self.threshold, self.opacity]),
            self.note,
            self.status,
            self.picture,
        ])

        self.previous.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        self.estimator.observe(self._on_estimator, names="value")
        for control in (self.index, self.strategy, self.threshold, self.opacity):
            control.observe(lambda _: self.render(), names="value")
        self.render()

    # -- actions ---------------------------------------------------------------------------------------

    def show(self, index: int) -> None:
        """Go to image ``index`` (dataset order) and draw it."""
        self.index.value = index

    def refresh(self) -> None:
        """Forget cached results (e.g. after ``wb.reload``) and draw the current image again."""
        self._results.clear()
        self._overlays.clear()
        self.render()

    def _step(self, delta: int) -> None:
        self.index.value = min(max(self.index.value + delta, 0), self.index.max)

    def _on_estimator(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self.wb.use(self.broker, change["new"])
        except Exception as error:  # shown in the widget: an exception in a widget callback is otherwise invisible
            self._set_dropdown(change["old"])
            self._show_error(f"could not switch to {change['new']!r}; still showing {change['old']!r}", error)
            return
        self.render()

    def _set_dropdown(self, name: str) -> None:
        self._syncing = True
        try:
            self.estimator.value = name
        finally:
            self._syncing = False

    # -- drawing ---------------------------------------------------------------------------------------

    def render(self) -> None:
        """Draw the current image with the current settings."""
        try:
            self._render()
        except Exception as error:  # shown in the widget: an exception in a widget callback is otherwise invisible
            self._show_error("could not draw this image", error)

    def _render(self) -> None:
        estimator = self.estimator.value
        if self.wb.running:
            # The host is the truth: another cell may have called wb.use since the dropdown was last touched.
            estimator = self.wb.estimators[self.broker]
            if estimator != self.estimator.value:
                self._set_dropdown(estimator)
        index = self.index.value
        sample = self.dataset[index]
        result = self._result(estimator, index)
        frame = self._frame(index)
        points, how = self._points(result, frame)
        overlay = self._overlay(estimator, index, result, frame)
        peak_line = self.threshold.value if self.strategy.value == PEAKS_ABOVE else None
        self.picture.value = self._view.draw(
            frame, result, overlay, points, sample.points, opacity=self.opacity.value,
            threshold_px=self.match_threshold, peak_line=peak_line, title=f"{estimator} ({how})",
        )
        self.status.value = self._status_line(sample, result, points, how)

    def _result(self, estimator: str, index: int) -> Any:
        key = (estimator, index)
        if key not in self._results:
            if not self.wb.running:
                raise RuntimeError(
                    f"the Workbench is closed, and {estimator!r} has not estimated this image yet: start the host "
                    "again (wb.start()) and make a new Explorer; images seen before still show"
                )
            [self._results[key]] = self.wb.estimate(self.broker, [self.dataset[index].image], self.targets)
        return self._results[key]

    def _frame(self, index: int) -> _Frame:
        if index in self._images:
            self._images.move_to_end(index)
        else:
            self._images[index] = _Frame.of(self.dataset[index])
            while len(self._images) > _KEPT_IMAGES:
                self._images.popitem(last=False)
        return self._images[index]

    def _overlay(self, estimator: str, index: int, result: Any, frame: _Frame) -> np.ndarray | None:
        if result.densityMap is None:
            return None
        key = (estimator, index)
        if key not in self._overlays:
            self._overlays[key] = _display_density(result, frame)
        return self._overlays[key]

    def _points(self, result: Any, frame: _Frame) -> tuple[np.ndarray, str]:
        """The points to show and how they were found; disables the strategy controls without a density map."""
        has_map = result.densityMap is not None
        self.strategy.disabled = not has_map
        self.threshold.disabled = not has_map or self.strategy.value != PEAKS_ABOVE
        if not has_map:
            self.note.value = ("<i>This estimator's results carry no density map: its own points are shown and "
                               "the point strategy does not apply.</i>")
            return np.asarray(result.pointsArray, dtype=np.float64).reshape(-1, 2), "own points"
        self.note.value = ""
        if self.strategy.value == OWN_POINTS:
            return np.asarray(result.pointsArray, dtype=np.float64).reshape(-1, 2), "own points"
        from ..estimators.points import get_point_strategy

        density = np.asarray(result.densityMap)
        while density.ndim > 2:
            density = density[0]
        area = result.densityArea
        if area is None:
            scale, offset = frame.width / density.shape[1], (0.0, 0.0)
        else:
            scale, offset = area.width / density.shape[1], (float(area.x), float(area.y))
        if self.strategy.value == PEAKS_ABOVE:
            # The slider is in people per image pixel (the colour bar's unit); the map holds people per cell.
            strategy = get_point_strategy("peaks", threshold=self.threshold.value * scale * scale, limit=None)
            label = f"peaks ≥ {self.threshold.value:.1e} {_THRESHOLD_UNIT}"
        else:
            strategy = get_point_strategy(self.strategy.value)
            label = self.strategy.value
        return strategy.locate(density, result.count, scale=scale, offset=offset), label

    def _status_line(self, sample: Sample, result: Any, points: np.ndarray, how: str) -> str:
        parts = [f"<b>{html.escape(sample.name)}</b> ({self.index.value + 1}/{len(self.dataset)})",
                 f"predicted <b>{result.count}</b>"]
        if sample.count is not None:
            parts.append(f"true <b>{sample.count}</b>, error <b>{result.count - sample.count:+d}</b>")
            loc = localisation(points, sample.points, self.match_threshold)
            parts.append(f"{len(points)} points ({html.escape(how)}): P {loc.precision:.2f} · R {loc.recall:.2f} · "
                         f"F1 {loc.f1:.2f} @ {self.match_threshold:g} px")
        else:
            parts.append(f"no annotation; {len(points)} points ({html.escape(how)})")
        if result.elapsed is not None and math.isfinite(result.elapsed):
            parts.append(f"estimate {result.elapsed * 1000:.0f} ms")
        return " · ".join(parts)

    def _show_error(self, what: str, error: BaseException) -> None:
        self.status.value = (f"<span style='color:#cf222e'><b>{html.escape(what)}</b>: "
                             f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</span>")

    # -- display ---------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        in_use = self.wb.estimators.get(self.broker) if self.wb.running else f"{self.estimator.value} (host closed)"
        return (f"<Explorer {self.dataset.name!r} image {self.index.value + 1}/{len(self.dataset)} "
                f"estimator={in_use!r}>")


class _Frame:
    """One decoded image, downscaled once for display; ``width``/``height`` are the original pixels."""

    def __init__(self, pixels: np.ndarray, width: int, height: int) -> None:
        self.pixels, self.width, self.height = pixels, width, height

    @classmethod
    def of(cls, sample: Sample) -> _Frame:
        from PIL import Image

        pixels = sample.image.asNPArray()
        height, width = pixels.shape[:2]
        shrink = min(1.0, _DISPLAY_SIDE / max(width, height))
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
        return cls(pixels, width, height)


def _display_density(result: Any, frame: _Frame) -> np.ndarray:
    """The density map over its area at display resolution, in people per original image pixel."""
    from PIL import Image

    from .plots import upsampled_density

    values, (left, right, bottom, top) = upsampled_density(result, (frame.width, frame.height))
    shrink = frame.pixels.shape[1] / frame.width
    size = (max(1, round((right - left) * shrink)), max(1, round((bottom - top) * shrink)))
    # A box filter averages, so the values stay people per original pixel.
    return np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))


class _View:
    """The Explorer's figure: built once, its artists updated in place on every redraw."""

    def __init__(self) -> None:
        import matplotlib as mpl
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=_FIGURE_INCHES, dpi=_DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        blank = np.zeros((2, 2, 3), dtype=np.uint8)
        self.left = self.figure.add_axes((0.005, 0.02, 0.43, 0.86))
        self.colour_axes = self.figure.add_axes((0.445, 0.1, 0.012, 0.72))
        self.right = self.figure.add_axes((0.53, 0.02, 0.465, 0.86))
        for ax in (self.left, self.right):
            ax.set_xticks([])
            ax.set_yticks([])
        self.left_image = self.left.imshow(blank, extent=(0, 2, 2, 0))
        self.right_image = self.right.imshow(blank, extent=(0, 2, 2, 0))
        cmap = mpl.colormaps["jet"].with_extremes(bad=(0, 0, 0, 0))
        self.overlay = self.left.imshow(np.zeros((2, 2)), extent=(0, 2, 2, 0), cmap=cmap, vmin=0, vmax=1,
                                        interpolation="bilinear")
        self.colour_bar = self.figure.colorbar(self.overlay, cax=self.colour_axes)
        self.colour_bar.set_label(f"density ({_THRESHOLD_UNIT})", fontsize=9)
        self.colour_axes.tick_params(labelsize=8)
        self.peak_line = self.colour_axes.axhline(0.0, color="white", linewidth=2.5)
        self.own_points = self.left.scatter([], [], s=18, c="red", edgecolors="white", linewidths=0.5)
        self.links = LineCollection([], colors="white", linewidths=0.8)
        self.right.add_collection(self.links)
        self.matched = self.right.scatter([], [], s=30, marker="o", c="lime", edgecolors="black", linewidths=0.6,
                                          label="TP")
        self.false = self.right.scatter([], [], s=40, marker="x", c="red", linewidths=1.5, label="FP")
        self.missed = self.right.scatter([], [], s=36, marker="s", facecolors="none", edgecolors="yellow",
                                         linewidths=1.5, label="FN (missed)")
        self.right.legend(loc="upper right", framealpha=0.8, fontsize=8)

    def draw(self, frame: _Frame, result: Any, overlay: np.ndarray | None, points: np.ndarray, truth: Any, *,
             opacity: float, threshold_px: float, peak_line: float | None, title: str) -> bytes:
        """Update the artists for this view and return the frame as JPEG bytes."""
        extent = (0, frame.width, frame.height, 0)
        for ax, image in ((self.left, self.left_image), (self.right, self.right_image)):
            image.set_data(frame.pixels)
            image.set_extent(extent)
            ax.set_xlim(0, frame.width)
            ax.set_ylim(frame.height, 0)
        self._draw_density(result, overlay, opacity, peak_line)
        self._draw_points(points, truth, threshold_px, title)
        self.canvas.draw()
        rgba = np.asarray(self.canvas.buffer_rgba())
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(rgba[..., :3]).save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        return buffer.getvalue()

    def _draw_density(self, result: Any, overlay: np.ndarray | None, opacity: float,
                      peak_line: float | None) -> None:
        has_map = overlay is not None
        self.overlay.set_visible(has_map)
        self.colour_axes.set_visible(has_map)
        empty = np.empty((0, 2))
        if not has_map:
            own = np.asarray(result.pointsArray, dtype=np.float64).reshape(-1, 2)
            self.own_points.set_offsets(own if len(own) else empty)
            self.left.set_title(f"count {result.count} (no density map; own points shown)", fontsize=10)
            return
        self.own_points.set_offsets(empty)
        area = result.densityArea
        if area is None:
            extent = (0, self.left_image.get_extent()[1], self.left_image.get_extent()[2], 0)
        else:
            extent = (area.x, area.x + area.width, area.y + area.height, area.y)
        top = float(overlay.max()) if overlay.size and overlay.max() > 0 else 1e-6
        self.overlay.set_data(np.ma.masked_less_equal(overlay, _TRANSPARENT_BELOW * top))
        self.overlay.set_extent(extent)
        self.overlay.set_clim(0.0, top)
        self.overlay.set_alpha(opacity)
        self.peak_line.set_visible(peak_line is not None and peak_line <= top)
        if peak_line is not None:
            self.peak_line.set_ydata([peak_line, peak_line])
        map_sum = float(np.sum(result.densityMap, dtype=np.float64))
        self.left.set_title(f"density: count {result.count} (map sum {map_sum:.1f} people)", fontsize=10)

    def _draw_points(self, points: np.ndarray, truth: Any, threshold_px: float, title: str) -> None:
        empty = np.empty((0, 2))
        if truth is None:
            self.matched.set_offsets(points if len(points) else empty)
            self.false.set_offsets(empty)
            self.missed.set_offsets(empty)
            self.links.set_segments([])
            self.right.set_title(f"{title}: {len(points)} points (no annotation)", fontsize=10)
            return
        truth = np.asarray(truth, dtype=np.float64).reshape(-1, 2)
        loc = localisation(points, truth, threshold_px)
        matched_pred, matched_truth = points[loc.matches[:, 0]], truth[loc.matches[:, 1]]
        self.links.set_segments(list(np.stack([matched_pred, matched_truth], axis=1)))
        for artist, xy in ((self.matched, matched_pred), (self.false, points[loc.unmatched_pred]),
                           (self.missed, truth[loc.unmatched_gt])):
            artist.set_offsets(xy if len(xy) else empty)
        self.right.set_title(f"{title}: TP {loc.tp} · FP {loc.fp} · FN {loc.fn} · F1 {loc.f1:.2f} "
                             f"@ {threshold_px:g} px", fontsize=10)
