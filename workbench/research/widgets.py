"""``Explorer``: page through a dataset in Jupyter, switch the host's estimator and see its density and points.

The figure is rendered to PNG here and put into the ``Output`` widget's outputs directly, rather than drawn
with pyplot inside ``with output:``: that works the same in a kernel and headless (tests), leaves no pyplot
figure open, and does not depend on the session's matplotlib backend.
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from ..host import UnknownEstimatorError
from ..sdk import EstimationTargets, PeopleCount
from .datasets import Dataset, load_dataset
from .metrics import localisation

if TYPE_CHECKING:
    from ..host import Workbench

__all__ = ["Explorer"]

#: The strategy value that shows the points the estimator itself returned.
OWN_POINTS = "own"
_STRATEGIES = [("estimator's own", OWN_POINTS), ("topk", "topk"), ("peaks", "peaks")]


class Explorer:
    """Interactive view of one estimator's results on a dataset, live on the host.

    Controls: the image (slider, previous/next), the estimator (a dropdown of ``wb.estimator_choices[broker]``;
    changing it calls ``wb.use``, so the host itself switches), the point strategy (the estimator's own
    points, or ``topk``/``peaks`` re-extracted from its density map) with the peak threshold, and the overlay
    opacity. The view shows the density overlay, the points matched against the ground truth at
    ``match_threshold`` pixels, and a line with the count, the error and localisation scores.

    Results are cached per (estimator, image), so moving the sliders re-draws without re-running the
    estimator; call ``refresh()`` after reloading a plugin. A bare ``Explorer(wb, data)`` at the end of a cell
    shows it.
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
        from ..estimators.points import DEFAULT_PEAK_THRESHOLD

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
        self._results: dict[tuple[str, int], PeopleCount] = {}
        self._pixels: tuple[int, np.ndarray] | None = None
        self._syncing = False

        self.index = widgets.IntSlider(0, min=0, max=len(self.dataset) - 1, description="image",
                                       continuous_update=False)
        self.previous = widgets.Button(icon="chevron-left", tooltip="previous image", layout={"width": "3em"})
        self.next = widgets.Button(icon="chevron-right", tooltip="next image", layout={"width": "3em"})
        self.estimator = widgets.Dropdown(options=choices[broker], value=wb.estimators[broker],
                                          description="estimator")
        self.strategy = widgets.Dropdown(options=_STRATEGIES, value=OWN_POINTS, description="points")
        self.threshold = widgets.FloatLogSlider(DEFAULT_PEAK_THRESHOLD, base=10, min=-5, max=-1, step=0.25,
                                                description="peak thr.", readout_format=".1e",
                                                continuous_update=False)
        self.opacity = widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="opacity",
                                           continuous_update=False)
        self.status = widgets.HTML()
        self.note = widgets.HTML()
        self.output = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([self.previous, self.index, self.next, self.estimator]),
            widgets.HBox([self.strategy, self.threshold, self.opacity]),
            self.note,
            self.status,
            self.output,
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
            self._show_error(f"could not switch to {change['new']!r}", error)
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
        """Draw the current image with the current settings into ``output``."""
        try:
            self._render()
        except Exception as error:  # shown in the widget: an exception in a widget callback is otherwise invisible
            self._show_error("could not draw this image", error)

    def _render(self) -> None:
        from matplotlib.figure import Figure

        from .plots import plot_density_overlay, plot_points

        # The host is the truth: another cell may have called wb.use since the dropdown was last touched.
        in_use = self.wb.estimators[self.broker]
        if in_use != self.estimator.value:
            self._set_dropdown(in_use)
        index = self.index.value
        sample = self.dataset[index]
        result = self._result(in_use, index)
        pixels = self._image(index)
        points, how = self._points(result)

        figure = Figure(figsize=(13, 5), layout="constrained")
        left, right = figure.subplots(1, 2)
        plot_density_overlay(pixels, result, ax=left, alpha=self.opacity.value)
        shown = PeopleCount.fromPoints(points, count=result.count, estimatorName=f"{in_use} ({how})")
        plot_points(pixels, shown, sample.points, ax=right, threshold=self.match_threshold)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=72)
        self.output.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<{sample.name}: {in_use}>"},
            "metadata": {},
        },)
        self.status.value = self._status_line(sample, result, points, how)

    def _result(self, estimator: str, index: int) -> PeopleCount:
        key = (estimator, index)
        if key not in self._results:
            [self._results[key]] = self.wb.estimate(self.broker, [self.dataset[index].image], self.targets)
        return self._results[key]

    def _image(self, index: int) -> np.ndarray:
        if self._pixels is None or self._pixels[0] != index:
            self._pixels = (index, self.dataset[index].image.asNPArray())
        return self._pixels[1]

    def _points(self, result: PeopleCount) -> tuple[np.ndarray, str]:
        """The points to show and how they were found; disables the strategy controls without a density map."""
        has_map = result.densityMap is not None
        self.strategy.disabled = not has_map
        self.threshold.disabled = not has_map or self.strategy.value != "peaks"
        if not has_map:
            self.note.value = ("<i>This estimator's results carry no density map: its own points are shown and "
                               "the point strategy does not apply.</i>")
            return result.pointsArray, "own points"
        self.note.value = ""
        if self.strategy.value == OWN_POINTS:
            return result.pointsArray, "own points"
        from ..estimators.points import get_point_strategy

        params = {"threshold": self.threshold.value} if self.strategy.value == "peaks" else {}
        strategy = get_point_strategy(self.strategy.value, **params)
        density = result.densityMap
        area = result.densityArea
        if area is None:
            height, width = self._image(self.index.value).shape[:2]
            scale, offset = width / density.shape[1], (0.0, 0.0)
        else:
            scale, offset = area.width / density.shape[1], (float(area.x), float(area.y))
        label = self.strategy.value + (f" > {self.threshold.value:.1e}" if params else "")
        return strategy.locate(density, result.count, scale=scale, offset=offset), label

    def _status_line(self, sample: Any, result: PeopleCount, points: np.ndarray, how: str) -> str:
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
            parts.append(f"{result.elapsed * 1000:.0f} ms")
        return " · ".join(parts)

    def _show_error(self, what: str, error: BaseException) -> None:
        self.status.value = (f"<span style='color:#cf222e'><b>{html.escape(what)}</b>: "
                             f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</span>")

    # -- display ---------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"<Explorer {self.dataset.name!r} image {self.index.value + 1}/{len(self.dataset)} "
                f"estimator={self.wb.estimators.get(self.broker)!r}>")
