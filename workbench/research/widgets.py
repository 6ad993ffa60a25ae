"""``Explorer``: page through a dataset in Jupyter, choose an estimator by name and see its density and points.

Why it draws the way it does: a click must answer in about 0.1 s, and a matplotlib figure of two images
takes 0.3 to 0.6 s to draw on a busy 2-core machine even with its artists updated in place (resampling and
text layout dominate). So the picture is composed directly with numpy and Pillow and sent as JPEG bytes to an
``ipywidgets.Image``: the two panels, the colour bar with its ticks, the point markers and the titles.
Everything slow is computed once and kept: the estimate in the prediction store (``PredictionCache``, shared
with ``compare``), the decoded image resized to the panel's pixel size per image, and the density map coloured
at that size per estimate. A redraw is then a numpy blend (opacity), a few hundred marker strokes and one JPEG
encode of a ~980x390 frame.
The figures for reports and papers stay matplotlib (``plot_density_overlay``, ``plot_points``). This
works the same in a kernel and headless (tests, ``bench/bench_explorer.py``) and leaves no figure open.

A sequence (a video, a frame folder read with ``load_sequence``) gets a timeline strip under the panels, drawn
the same way (Pillow, PNG: line art stays crisp): the truth's and the estimators' counts over the frames and a
marker at the current frame. The frame slider lies under the strip, its track spanning the strip's plot area, so
dragging it along the curves scrubs to the frame under the handle (an ``ipywidgets.Image`` has no click events, and
ipyevents would be a dependency for one gesture). The curves are a finished comparison's (``report=`` or
``timeline=``), or else the frames estimated so far (by this Explorer, or found in a shared ``cache=``).

Units: the density overlay, its colour bar and the peak-threshold slider are all in *people per image
pixel* (a map cell covers ``stride x stride`` pixels, so a cell's value is divided by ``stride**2``).
"""
from __future__ import annotations

import html
import io
import math
import threading
from collections import OrderedDict
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from .._checks import unknown_broker_message
from ..host import UnidentifiedEstimatorError, UnknownEstimatorError
from ..images import parse_targets
from ..sdk import EstimationTargets
from .cache import PredictionCache, prediction_key
from .datasets import Dataset, Sample, load_dataset
from .metrics import localisation
from .timeline import Timeline

if TYPE_CHECKING:
    from ..host import Workbench
    from .report import ComparisonReport

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
#: The Explorer's warning for a result whose image lies outside the estimator's declared training range.
OUTSIDE_RANGE = "outside the estimator's training range: expect large errors (see its model card)"
#: Decoded images kept; paging back and forth over a few images never decodes twice.
_KEPT_IMAGES = 16
#: Each image panel's size in pixels: images are resized to fit once, then pasted 1:1.
_PANEL_PX = (420, 330)
_JPEG_QUALITY = 88
#: Near-zero density is transparent (the same rule as ``plot_density_overlay``), so the photo stays readable.
_TRANSPARENT_BELOW = 0.02
_THRESHOLD_UNIT = "people/px"
#: The peak-threshold slider's bounds (people per image pixel), its start, and its label's and track's widths.
THRESHOLD_RANGE = (1e-5, 1e-1)
_THRESHOLD_START = 5e-4
_THRESHOLD_LABEL_PX, _THRESHOLD_TRACK_PX = 130, 480
#: Where the timeline strip's curves come from: a finished comparison, or the frames estimated so far.
FROM_REPORT, FROM_CACHE = "report", "cache"


class Explorer:
    """Interactive view of one estimator's results on a dataset, live on the host.

    Controls: the image (slider, previous/next), the estimator (a dropdown of ``wb.estimator_choices[broker]``,
    first showing the one the host serves; it chooses what the Explorer shows and estimates with, by name, and
    never changes what the host serves), the point strategy (the estimator's own points, ``topk``/``peaks``
    re-extracted from its density map, or every peak above the threshold slider, in people per pixel like the
    colour bar, where it is marked) and the overlay opacity. The view shows the density overlay, the points
    matched against the ground truth at ``match_threshold`` pixels, and a line with the count, the error and
    localisation scores.

    Results are kept in ``cache``, a ``PredictionCache`` keyed by the estimator's identity and the image's
    content (default: a new one in memory, ``explorer.cache``): moving the controls redraws without re-running
    the estimator, and given the store ``compare`` used (or passing ``explorer.cache`` to ``compare``), neither
    estimates an image the other already did. After ``wb.reload`` of an edited plugin call ``refresh()``: its
    identity changes, so its images are estimated again. With ``prefetch`` (the default) the next image's
    estimate runs in a background thread while you look at the current one, so "next" answers at once. If the
    host is closed, images already estimated still show and the rest say so. A bare ``Explorer(wb, data)`` at
    the end of a cell shows it.

    On a sequence (``dataset.is_sequence``: a video or frames loaded with ``load_sequence``) the slider is the
    frame scrubber, under a timeline strip (``timeline_picture``) of the counts over the frames with the current
    frame marked. Its curves are ``report``'s (a ``ComparisonReport`` of this sequence: every frame, every
    estimator compared) or ``timeline``'s; without either, the truth and the counts of the frames estimated so
    far, which fill in as you move (and, given ``compare``'s ``cache``, what it estimated). ``strip_source``
    says which.
    """

    def __init__(
        self,
        wb: Workbench,
        dataset: Dataset | str | Path,
        *,
        broker: str = "peopleCountEstimator",
        targets: EstimationTargets | str = "T1",
        match_threshold: float = 10.0,
        prefetch: bool = True,
        cache: PredictionCache | None = None,
        report: ComparisonReport | None = None,
        timeline: Timeline | None = None,
    ) -> None:
        choices = wb.estimator_choices
        if broker not in choices:
            raise UnknownEstimatorError(unknown_broker_message(broker, choices))
        self.wb = wb
        self.dataset = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
        if len(self.dataset) == 0:
            raise ValueError("the dataset has no images to explore")
        self.broker = broker
        self.targets = parse_targets(targets)
        self.match_threshold = float(match_threshold)
        #: The prediction store this Explorer reads and writes; pass it to ``compare`` to share its results.
        self.cache = PredictionCache() if cache is None else cache
        #: The finished comparison's counts the timeline strip draws; None: the frames estimated so far.
        self.timeline = _given_timeline(self.dataset, report, timeline)
        #: Where the strip's curves come from: ``FROM_REPORT``, ``FROM_CACHE``, or None (not a sequence).
        self.strip_source = None if not self.dataset.is_sequence else FROM_CACHE if self.timeline is None else FROM_REPORT
        # Estimator -> {position: count} of the frames estimated so far (the strip's curves without a report). A
        # store passed in may hold another run's results: it is read once per estimator, the first time it is drawn.
        self._counts: dict[str, dict[int, float]] = {}
        self._unread_store = cache is not None
        # Hashing an estimator's files or an image's bytes per redraw would cost more than the redraw itself.
        self._identities: dict[str, str] = {}
        self._digests: dict[int, str] = {}
        self._images: OrderedDict[int, _Frame] = OrderedDict()
        # Prediction key -> its density map coloured at the panel's size.
        self._overlays: dict[str, _Overlay] = {}
        self._last_decoded: tuple[int, Any] | None = None
        self.prefetch = prefetch
        # Prediction key -> the background estimate of it, done once its result is in the store (or it failed).
        self._pending: dict[str, Future[None]] = {}
        # The lease on the estimator last estimated with (``_held_name``): estimating by name builds and closes
        # an estimator that is neither served nor leased on every call. Taken from the prefetch thread too.
        self._held = ExitStack()
        self._held_name: str | None = None
        self._holding = threading.Lock()
        self._view = _View()
        self._strip = _Strip(self._view)

        sequence = self.dataset.is_sequence
        self.index = widgets.IntSlider(0, min=0, max=len(self.dataset) - 1, description="image #",
                                       continuous_update=False)
        #: The current frame's number, time and position (sequences only: the frame slider has no readout).
        self.frame_readout = widgets.Label()
        #: The timeline strip (sequences only; None otherwise).
        self.timeline_picture = widgets.Image(format="png", layout=_fixed_width(_Strip.WIDTH)) if sequence else None
        if sequence:
            # The slider's track spans the strip's plot area: the handle sits under the current frame's marker.
            self.index.description, self.index.readout = "frame", False
            self.index.layout = _fixed_width(_Strip.WIDTH)
            self.index.style.description_width = f"{_Strip.SLIDER_LABEL_PX}px"
        self.previous = widgets.Button(icon="chevron-left", tooltip="previous image", layout={"width": "3em"})
        self.next = widgets.Button(icon="chevron-right", tooltip="next image", layout={"width": "3em"})
        self.estimator = widgets.Dropdown(options=choices[broker], value=wb.estimators[broker],
                                          description="estimator")
        self.strategy = widgets.Dropdown(options=_STRATEGIES, value=OWN_POINTS, description="points")
        # Four decades over a 480 px track (120 px each), not six in 79 px: below 1e-5 people/px only the
        # maps' background ripples are added, and 0.1 is a person within a 3x3-pixel head, past any crowd photo.
        # The default model's peaks on crowd-mini are 7e-4 to 9e-3 and its points localise best near 1e-3.
        self.threshold = widgets.FloatLogSlider(
            _THRESHOLD_START, base=10, min=math.log10(THRESHOLD_RANGE[0]), max=math.log10(THRESHOLD_RANGE[1]),
            step=0.05, description=f"peak ≥ ({_THRESHOLD_UNIT})", readout=False, continuous_update=False,
            layout={"width": f"{_THRESHOLD_LABEL_PX + _THRESHOLD_TRACK_PX}px"},
            style={"description_width": f"{_THRESHOLD_LABEL_PX}px"},
        )
        self.threshold_readout = widgets.Label(_threshold_text(self.threshold.value))
        self.opacity = widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="opacity (0–1)",
                                           continuous_update=False, style={"description_width": "initial"})
        self.status = widgets.HTML()
        self.note = widgets.HTML()
        self.picture = widgets.Image(format="jpeg", layout={"max_width": "100%"})
        navigation = [self.previous, self.next, self.frame_readout] if sequence else [self.previous, self.index, self.next]
        self.widget = widgets.VBox([
            widgets.HBox([*navigation, self.estimator]),
            widgets.HBox([self.strategy, self.opacity]),
            widgets.HBox([self.threshold, self.threshold_readout]),
            self.note,
            self.status,
            self.picture,
            *([self.timeline_picture, self.index] if self.timeline_picture is not None else []),
        ])

        self.previous.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        self.threshold.observe(lambda change: setattr(self.threshold_readout, "value",
                                                      _threshold_text(change["new"])), names="value")
        for control in (self.index, self.estimator, self.strategy, self.threshold, self.opacity):
            control.observe(lambda _: self.render(), names="value")
        self.render()

    # -- actions ---------------------------------------------------------------------------------------

    def show(self, index: int) -> None:
        """Go to image ``index`` (dataset order) and draw it."""
        self.index.value = index

    def refresh(self) -> None:
        """Hash the estimators' files and the images again (e.g. after ``wb.reload`` of an edited plugin) and
        draw the current image: what changed is estimated again, the rest comes from the store."""
        self._identities.clear()
        self._digests.clear()
        self.render()

    def release(self) -> None:
        """Let the host close the estimator this Explorer keeps open for its estimates (unless it is served or
        leased elsewhere); images already estimated still show, and a new one takes it again."""
        with self._holding:
            self._held_name = None
            self._held.close()

    def _hold(self, estimator: str) -> None:
        """Keep ``estimator`` open on the host, in place of the one held before."""
        with self._holding:
            if self._held_name == estimator:
                return
            self._held.close()
            self._held_name = None
            self._held.enter_context(self.wb.lease_estimator(self.broker, estimator))
            self._held_name = estimator

    def _step(self, delta: int) -> None:
        self.index.value = min(max(self.index.value + delta, 0), self.index.max)

    # -- drawing ---------------------------------------------------------------------------------------

    def render(self) -> None:
        """Draw the current image with the current settings (and, for a sequence, the timeline strip)."""
        try:
            self._render()
        except Exception as error:  # shown in the widget: an exception in a widget callback is otherwise invisible
            self._show_error("could not draw this image", error)
        if self.timeline_picture is not None:
            # After the image: its estimate is then on the curve. Drawn even when the image failed, so the marker
            # still follows the slider.
            try:
                self._render_strip()
            except Exception as error:
                self._show_error("could not draw the timeline", error)

    def _render(self) -> None:
        estimator = self.estimator.value
        index = self.index.value
        sample = self.dataset[index]
        result, key = self._result(estimator, index)
        frame = self._frame(index)
        points, how = self._points(result, frame)
        overlay = self._overlay(key, result, frame)
        peak_line = self.threshold.value if self.strategy.value == PEAKS_ABOVE else None
        self.picture.value = self._view.draw(
            frame, result, overlay, points, sample.points, opacity=self.opacity.value,
            threshold_px=self.match_threshold, peak_line=peak_line,
            title=f"{self.wb.estimator_label(self.broker, estimator)} ({how})",
        )
        self.status.value = self._status_line(sample, result, points, how)
        self._prefetch(estimator, index + 1)

    def _render_strip(self) -> None:
        """Draw the timeline strip with the current frame marked, and say which frame it is."""
        assert self.timeline_picture is not None
        index, total = self.index.value, len(self.dataset)
        sample = self.dataset[index]
        self.frame_readout.value = _frame_text(sample, index, total)
        estimator = self.estimator.value
        if self.timeline is not None:
            timeline = self.timeline
            caption = f"counts over time, from the comparison report ({len(timeline)} frames)"
        else:
            timeline = self._timeline_so_far()
            done = int(np.isfinite(timeline.counts[estimator]).sum()) if estimator in timeline.counts else 0
            caption = (f"counts over time, of the frames estimated so far ({done} of {total} by "
                       f"{self.wb.estimator_label(self.broker, estimator)}): the gaps fill in as you visit them")
        # The marker goes where the current frame is on the curves (frame order), whatever the dataset's order.
        row = int(np.searchsorted(timeline.frames, sample.frame))
        self.timeline_picture.value = self._strip.draw(timeline, row, current=estimator,
                                                       order=list(self.estimator.options), caption=caption)

    def _timeline_so_far(self) -> Timeline:
        """The truth and the counts of the frames estimated so far, NaN for the rest."""
        if self._unread_store:
            self._read_store()
        total = len(self.dataset)
        counts: dict[str, np.ndarray] = {}
        for estimator, found in list(self._counts.items()):  # copied: the prefetch thread adds to it
            found = dict(found)
            values = np.full(total, np.nan)
            values[list(found)] = list(found.values())
            counts[estimator] = values
        return Timeline(
            [sample.frame for sample in self.dataset],  # type: ignore[misc]  # a sequence: every frame is set
            [sample.time for sample in self.dataset],
            [sample.count for sample in self.dataset],
            counts,
            labels={estimator: self.wb.estimator_label(self.broker, estimator) for estimator in counts},
            name=self.dataset.name,
        )

    def _read_store(self) -> None:
        """The counts a store passed in already holds for these frames (``compare``'s, run with it): read once,
        when the host can name its estimators."""
        if not self.wb.running:
            return
        self._unread_store = False
        for estimator in self.estimator.options:
            keys: dict[str, int] = {}
            for index in range(len(self.dataset)):
                try:
                    keys[self._where(estimator, index)[0]] = index
                except OSError:  # an unreadable frame: its own visit shows why
                    continue
            for key, count in self.cache.counts(keys).items():
                self._counts.setdefault(estimator, {})[keys[key]] = float(count)

    def _result(self, estimator: str, index: int) -> tuple[Any, str]:
        """The estimate of image ``index`` by ``estimator`` and its key in the store, estimated if not there."""
        key, identity, digest = self._where(estimator, index)
        pending = self._pending.pop(key, None)
        if pending is not None:
            # Being estimated in the background already: wait for it rather than run it twice.
            pending.result()
        result = self.cache.get(key)
        if result is None:
            if not self.wb.running:
                raise self._closed(estimator)
            result = self._estimate(estimator, index, self._decoded(index), key, identity, digest)
        self._counts.setdefault(estimator, {})[index] = float(result.count)
        return result, key

    def _estimate(self, estimator: str, index: int, image: Any, key: str, identity: str, digest: str) -> Any:
        """``image`` (image ``index``) estimated by ``estimator`` (kept held for the next estimate) and put in the
        store."""
        self._hold(estimator)
        [result] = self.wb.estimate(self.broker, [image], self.targets, estimator=estimator)
        self.cache.put(key, result, estimator=identity, image_sha256=digest, targets=self.targets.name)
        self._counts.setdefault(estimator, {})[index] = float(result.count)
        return result

    def _where(self, estimator: str, index: int) -> tuple[str, str, str]:
        """``(key, estimator identity, image digest)`` of an estimate in the store, as ``compare`` keys it."""
        if estimator not in self._identities:
            if not self.wb.running:  # a closed host's plugins are unloaded: their files cannot be found
                raise self._closed(estimator)
            try:
                self._identities[estimator] = self.wb.estimator_identity(self.broker, estimator)
            except UnidentifiedEstimatorError as error:
                # What could be seen (its plugin folder), in a key of this Explorer's alone: an image it estimated
                # shows again here, but no other run or Explorer is served it (compare runs such an estimator
                # uncached, with a warning).
                self._identities[estimator] = f"{error.seen}@this-explorer:{id(self)}"
        if index not in self._digests:
            self._digests[index] = self.dataset[index].content_digest()
        identity, digest = self._identities[estimator], self._digests[index]
        return prediction_key(identity, digest, None, self.targets.name), identity, digest

    def _closed(self, estimator: str) -> RuntimeError:
        return RuntimeError(
            f"the Workbench is closed, and {estimator!r} has not estimated this image yet: start the host "
            "again (wb.start()) and make a new Explorer; images seen before still show"
        )

    def _prefetch(self, estimator: str, index: int) -> None:
        """Estimate image ``index`` in a background thread (one at a time) into the store, for the next visit."""
        # A finished prefetch left its result in the store (or failed, and the visit estimates again).
        self._pending = {key: future for key, future in self._pending.items() if not future.done()}
        if not self.prefetch or index > self.index.max or self._pending or not self.wb.running:
            return
        try:
            key, identity, digest = self._where(estimator, index)
        except OSError:  # an unreadable next image: its own visit shows why
            return
        if key in self.cache:
            return
        future: Future[None] = Future()
        self._pending[key] = future

        def run() -> None:
            try:
                if self.estimator.value != estimator:  # chosen away from meanwhile: keep the other one held
                    return
                self._estimate(estimator, index, self.dataset[index].image, key, identity, digest)
            except BaseException:  # noqa: BLE001 - the visit itself estimates again and shows the error
                pass
            finally:
                future.set_result(None)

        threading.Thread(target=run, name="explorer-prefetch", daemon=True).start()

    def _decoded(self, index: int) -> Any:
        """The image ``index`` decoded, kept for the current image: a first visit decodes it once for both the
        estimator and the display."""
        if self._last_decoded is None or self._last_decoded[0] != index:
            self._last_decoded = (index, self.dataset[index].image)
        return self._last_decoded[1]

    def _frame(self, index: int) -> _Frame:
        if index in self._images:
            self._images.move_to_end(index)
        else:
            self._images[index] = _Frame.of(self._decoded(index))
            while len(self._images) > _KEPT_IMAGES:
                self._images.popitem(last=False)
        return self._images[index]

    def _overlay(self, key: str, result: Any, frame: _Frame) -> _Overlay | None:
        if result.densityMap is None:
            return None
        if key not in self._overlays:
            self._overlays[key] = _Overlay.of(result, frame)
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
        # False only when the estimator declares a training range and this image is outside it (None: none declared).
        if result.inRange is False:
            parts.append(f"<span style='color:#cf222e'><b>{OUTSIDE_RANGE}</b></span>")
        return " · ".join(parts)

    def _show_error(self, what: str, error: BaseException) -> None:
        self.status.value = (f"<span style='color:#cf222e'><b>{html.escape(what)}</b>: "
                             f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</span>")

    # -- display ---------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        closed = "" if self.wb.running else " (host closed)"
        index, total = self.index.value, len(self.dataset)
        where = (_frame_text(self.dataset[index], index, total) if self.dataset.is_sequence
                 else f"image {index + 1}/{total}")
        return f"<Explorer {self.dataset.name!r} {where} estimator={self.estimator.value!r}{closed}>"


class _Frame:
    """One decoded image, resized once to fit a panel; ``width``/``height`` are its original pixels."""

    def __init__(self, pixels: np.ndarray, width: int, height: int) -> None:
        self.pixels, self.width, self.height = pixels, width, height

    @property
    def shrink(self) -> float:
        """Panel pixels per original pixel."""
        return self.pixels.shape[1] / self.width

    @classmethod
    def of(cls, image: Any) -> _Frame:
        """From a decoded image (a ``VLImage``: anything with ``asNPArray()``)."""
        from PIL import Image

        pixels = image.asNPArray()
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        pixels = np.ascontiguousarray(pixels[..., :3])
        height, width = pixels.shape[:2]
        fit = min(_PANEL_PX[0] / width, _PANEL_PX[1] / height)
        size = (max(1, round(width * fit)), max(1, round(height * fit)))
        # Smooth when shrinking; blocky when enlarging a small image, so single pixels stay visible.
        resample = Image.Resampling.BILINEAR if fit < 1 else Image.Resampling.NEAREST
        return cls(np.asarray(Image.fromarray(pixels).resize(size, resample)), width, height)


class _Overlay:
    """A result's density map coloured once at the panel's size, ready to blend over the image.

    ``top`` is the colour scale's top in people per original image pixel; cells under 2 % of it stay
    transparent (the same rule as ``plot_density_overlay``), so the photo stays readable.
    """

    def __init__(self, colours: np.ndarray, shown: np.ndarray, top: float) -> None:
        self.colours, self.shown, self.top = colours, shown, top

    @classmethod
    def of(cls, result: Any, frame: _Frame) -> _Overlay:
        import matplotlib as mpl
        from PIL import Image

        from .plots import upsampled_density

        values, (left, right, bottom, top_edge) = upsampled_density(result, (frame.width, frame.height))
        height, width = frame.pixels.shape[:2]
        x0, y0 = round(left * frame.shrink), round(top_edge * frame.shrink)
        size = (max(1, round((right - left) * frame.shrink)), max(1, round((bottom - top_edge) * frame.shrink)))
        # A box filter averages, so the values stay people per original pixel.
        area = np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
        density = np.zeros((height, width), np.float32)
        xs, ys, xe, ye = max(0, x0), max(0, y0), min(width, x0 + size[0]), min(height, y0 + size[1])
        if xe > xs and ye > ys:  # a detect area may reach past the image's border
            density[ys:ye, xs:xe] = area[ys - y0:ye - y0, xs - x0:xe - x0]
        top = float(density.max()) if density.max() > 0 else 1e-6
        colours = (mpl.colormaps["jet"](density / top)[..., :3] * 255).astype(np.uint8)
        return cls(colours, density > _TRANSPARENT_BELOW * top, top)

    def over(self, pixels: np.ndarray, opacity: float) -> np.ndarray:
        """``pixels`` with the overlay blended in at ``opacity`` (0 to 1)."""
        out = pixels.copy()
        blended = pixels[self.shown] * (1.0 - opacity) + self.colours[self.shown] * opacity
        out[self.shown] = blended.astype(np.uint8)
        return out


class _View:
    """Composes the Explorer's picture with Pillow: [density panel | colour bar | points panel], titles above.

    After each ``draw`` its attributes say what was drawn (the tests and the bench read them): ``titles``,
    ``top`` (the colour scale's top, people/px; None without a map), ``peak_line`` (the threshold marked on the
    colour bar, or None), ``own_points`` and ``marks`` (TP/FP/FN point counts).
    """

    _TITLE_PX = 36
    _LEGEND_PX = 22
    _BAR_PX = (14, 250)
    _BAR_BLOCK = 96  # the colour bar with its tick labels
    _GAP = 12
    COLOUR_BAR_LABEL = f"density ({_THRESHOLD_UNIT})"

    def __init__(self) -> None:
        import matplotlib as mpl
        from matplotlib import font_manager
        from PIL import ImageFont

        width, height = _PANEL_PX
        self.size = (2 * width + self._BAR_BLOCK + 2 * self._GAP, self._TITLE_PX + height + self._LEGEND_PX)
        self.left_origin = (0, self._TITLE_PX)
        self.bar_origin = (width + self._GAP, self._TITLE_PX + (height - self._BAR_PX[1]) // 2)
        self.right_origin = (width + self._BAR_BLOCK + 2 * self._GAP, self._TITLE_PX)
        path = font_manager.findfont("DejaVu Sans")
        self.font = ImageFont.truetype(path, 13)
        self.small = ImageFont.truetype(path, 11)
        ramp = mpl.colormaps["jet"](np.linspace(1.0, 0.0, self._BAR_PX[1]))[:, :3] * 255
        self.bar = np.repeat(ramp.astype(np.uint8)[:, None, :], self._BAR_PX[0], axis=1)
        self.titles: tuple[str, str] = ("", "")
        self.top: float | None = None
        self.peak_line: float | None = None
        self.own_points = np.empty((0, 2))
        self.marks = {"TP": 0, "FP": 0, "FN": 0}

    def draw(self, frame: _Frame, result: Any, overlay: _Overlay | None, points: np.ndarray, truth: Any, *,
             opacity: float, threshold_px: float, peak_line: float | None, title: str) -> bytes:
        """Compose the picture for this view; returns it as JPEG bytes."""
        from PIL import Image, ImageDraw

        canvas = Image.new("RGB", self.size, "white")
        left_pixels = frame.pixels if overlay is None else overlay.over(frame.pixels, opacity)
        left = self._paste(canvas, left_pixels, self.left_origin)
        right = self._paste(canvas, frame.pixels, self.right_origin)
        draw = ImageDraw.Draw(canvas)
        self._draw_density(draw, canvas, frame, result, overlay, peak_line, left)
        self._draw_points(draw, frame, points, truth, threshold_px, title, right)
        buffer = io.BytesIO()
        canvas.save(buffer, format="JPEG", quality=_JPEG_QUALITY)
        return buffer.getvalue()

    def _paste(self, canvas: Any, pixels: np.ndarray, origin: tuple[int, int]) -> tuple[int, int]:
        """Paste an image centred in its panel; returns its top-left corner on the canvas."""
        from PIL import Image

        height, width = pixels.shape[:2]
        corner = (origin[0] + (_PANEL_PX[0] - width) // 2, origin[1] + (_PANEL_PX[1] - height) // 2)
        canvas.paste(Image.fromarray(pixels), corner)
        return corner

    def _draw_density(self, draw: Any, canvas: Any, frame: _Frame, result: Any, overlay: _Overlay | None,
                      peak_line: float | None, corner: tuple[int, int]) -> None:
        from PIL import Image

        if overlay is None:
            self.top = self.peak_line = None
            self.own_points = np.asarray(result.pointsArray, dtype=np.float64).reshape(-1, 2)
            for x, y in _on_canvas(self.own_points, frame, corner):
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill="red", outline="white")
            left_title = f"count {result.count} (no density map; own points shown)"
        else:
            self.top, self.own_points = overlay.top, np.empty((0, 2))
            x0, y0 = self.bar_origin
            bar_w, bar_h = self._BAR_PX
            canvas.paste(Image.fromarray(self.bar), (x0, y0))
            draw.rectangle((x0, y0, x0 + bar_w, y0 + bar_h), outline="black")
            for fraction in (0.0, 0.5, 1.0):
                y = y0 + round((1 - fraction) * bar_h)
                draw.line((x0 + bar_w, y, x0 + bar_w + 4, y), fill="black")
                draw.text((x0 + bar_w + 6, y), f"{fraction * overlay.top:.1e}", fill="black", font=self.small,
                          anchor="lm")
            draw.text((x0, y0 - 6), self.COLOUR_BAR_LABEL, fill="black", font=self.small, anchor="ld")
            self.peak_line = peak_line if peak_line is not None and peak_line <= overlay.top else None
            if self.peak_line is not None:
                y = y0 + round((1 - self.peak_line / overlay.top) * bar_h)
                draw.line((x0 - 4, y, x0 + bar_w + 4, y), fill="white", width=3)
                draw.line((x0 - 4, y, x0 + bar_w + 4, y), fill="black", width=1)
            map_sum = float(np.sum(result.densityMap, dtype=np.float64))
            left_title = f"density: count {result.count} (map sum {map_sum:.1f} people)"
        draw.text((self.left_origin[0] + 4, 19), left_title, fill="black", font=self.font)
        self.titles = (left_title, self.titles[1])

    def _draw_points(self, draw: Any, frame: _Frame, points: np.ndarray, truth: Any, threshold_px: float,
                     title: str, corner: tuple[int, int]) -> None:
        if truth is None:
            matched, false, missed, links = points, points[:0], points[:0], []
            scores = f"{len(points)} points (no annotation)"
        else:
            truth = np.asarray(truth, dtype=np.float64).reshape(-1, 2)
            loc = localisation(points, truth, threshold_px)
            matched, false = points[loc.matches[:, 0]], points[loc.unmatched_pred]
            missed = truth[loc.unmatched_gt]
            links = list(zip(_on_canvas(matched, frame, corner), _on_canvas(truth[loc.matches[:, 1]], frame, corner)))
            scores = f"TP {loc.tp} · FP {loc.fp} · FN {loc.fn} · F1 {loc.f1:.2f} @ {threshold_px:g} px"
        for start, end in links:
            draw.line((*start, *end), fill="white", width=1)
        for x, y in _on_canvas(matched, frame, corner):
            draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill="lime", outline="black")
        for x, y in _on_canvas(false, frame, corner):
            draw.line((x - 4, y - 4, x + 4, y + 4), fill="red", width=2)
            draw.line((x - 4, y + 4, x + 4, y - 4), fill="red", width=2)
        for x, y in _on_canvas(missed, frame, corner):
            draw.rectangle((x - 4, y - 4, x + 4, y + 4), outline="yellow", width=2)
        self.marks = {"TP": len(matched), "FP": len(false), "FN": len(missed)}
        draw.text((self.right_origin[0] + 4, 2), title, fill="black", font=self.font)
        draw.text((self.right_origin[0] + 4, 19), scores, fill="black", font=self.font)
        legend = ("lime ●: TP (matched head) · red ✕: FP · yellow □: FN (missed head)" if truth is not None
                  else "lime ●: predicted points")
        draw.text((self.right_origin[0] + 4, self._TITLE_PX + _PANEL_PX[1] + 4), legend, fill="#444444",
                  font=self.small)
        self.titles = (self.titles[0], f"{title}: {scores}")


class _Strip:
    """The timeline strip of a sequence, drawn with Pillow: counts over the frames (the truth in black, one colour
    per estimator, the one on show thicker) and the current frame's marker with each count there as a dot.

    Frames are spaced evenly (one per sampled frame, as the slider's steps are) across the plot area, from
    ``PLOT_LEFT`` to ``WIDTH - PLOT_RIGHT``. The frame slider under the strip is as wide, with a label of
    ``SLIDER_LABEL_PX``: its track then spans the same pixels, and its handle sits under the marker.

    After each ``draw`` its attributes say what was drawn (the tests read them): ``caption``, ``marker_x``,
    ``series`` (each curve's label -> its values) and ``top`` (the count at the top of the plot).
    """

    WIDTH = 2 * _PANEL_PX[0] + _View._BAR_BLOCK + 2 * _View._GAP  # the panels' width
    HEIGHT = 180
    PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 64, 6, 46, 24
    #: The frame slider's label width: its track starts where the plot area does (measured in Chromium).
    SLIDER_LABEL_PX = 50
    TRUTH = "#222222"
    MARKER = "#cf222e"
    #: Estimator colours (matplotlib's tab10 without its red, which the marker has), by the dropdown's order.
    COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")

    def __init__(self, view: _View) -> None:
        self.font, self.small = view.font, view.small
        self.caption = ""
        self.marker_x = 0.0
        self.series: dict[str, np.ndarray] = {}
        self.top = 1.0

    @classmethod
    def x_of(cls, row: int, rows: int) -> float:
        """The x pixel of row ``row`` of ``rows`` (the slider's handle at that value)."""
        width = cls.WIDTH - cls.PLOT_RIGHT - cls.PLOT_LEFT
        return cls.PLOT_LEFT + (width / 2 if rows < 2 else row * width / (rows - 1))

    def y_of(self, count: float) -> float:
        bottom = self.HEIGHT - self.PLOT_BOTTOM
        return bottom - count / self.top * (bottom - self.PLOT_TOP)

    def draw(self, timeline: Timeline, row: int, *, current: str, order: list[str], caption: str) -> bytes:
        """Compose the strip: ``timeline``'s curves, frame row ``row`` marked; returns it as PNG bytes."""
        from PIL import Image, ImageDraw

        curves = [("truth", timeline.truth, self.TRUTH, 1)] if timeline.annotated else []
        for estimator in timeline.estimators:
            place = order.index(estimator) if estimator in order else len(order) + timeline.estimators.index(estimator)
            curves.append((timeline.labels[estimator], timeline.counts[estimator],
                           self.COLOURS[place % len(self.COLOURS)], 2 if estimator == current else 1))
        self.series = {label: values for label, values, _, _ in curves}
        highest = max((float(np.nanmax(values)) for values in self.series.values() if np.isfinite(values).any()),
                      default=0.0)
        self.top = _round_up(highest * 1.05)
        self.caption = caption

        canvas = Image.new("RGB", (self.WIDTH, self.HEIGHT), "white")
        draw = ImageDraw.Draw(canvas)
        self._draw_axes(draw, timeline)
        rows = len(timeline)
        for _, values, colour, width in curves:
            for run in _finite_runs(values):
                points = [(self.x_of(i, rows), self.y_of(values[i])) for i in run]
                if len(points) == 1:  # a lone estimated frame: a dot, not an invisible line
                    (x, y), = points
                    draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
                else:
                    draw.line(points, fill=colour, width=width, joint="curve")
        self.marker_x = self.x_of(row, rows)
        draw.line((self.marker_x, self.PLOT_TOP - 4, self.marker_x, self.HEIGHT - self.PLOT_BOTTOM),
                  fill=self.MARKER, width=2)
        for _, values, colour, _ in curves:
            if 0 <= row < rows and np.isfinite(values[row]):
                y = self.y_of(values[row])
                draw.ellipse((self.marker_x - 3, y - 3, self.marker_x + 3, y + 3), fill=colour, outline="white")
        draw.text((self.PLOT_LEFT, 4), caption, fill="black", font=self.font)
        self._draw_legend(draw, curves)
        buffer = io.BytesIO()
        canvas.save(buffer, format="PNG", compress_level=1)  # fast: the strip is redrawn on every move
        return buffer.getvalue()

    def _draw_axes(self, draw: Any, timeline: Timeline) -> None:
        left, right, bottom = self.PLOT_LEFT, self.WIDTH - self.PLOT_RIGHT, self.HEIGHT - self.PLOT_BOTTOM
        for fraction in (0.0, 0.5, 1.0):
            value = fraction * self.top
            y = self.y_of(value)
            draw.line((left, y, right, y), fill="#000000" if fraction == 0 else "#dddddd")
            draw.text((left - 6, y), f"{value:g}", fill="black", font=self.small, anchor="rm")
        draw.text((4, self.PLOT_TOP - 10), "people", fill="#444444", font=self.small, anchor="lm")
        values, unit = timeline.axis
        rows = len(timeline)
        ticks = sorted({round(i * (rows - 1) / 5) for i in range(6)}) if rows > 1 else [0]
        # Seconds to the precision the span needs: 0.12 s apart on a short clip, whole seconds over minutes.
        span = float(values[-1] - values[0]) if rows else 0.0
        decimals = 0 if span >= 50 else 1 if span >= 5 else 2
        for tick in ticks:
            x = self.x_of(tick, rows)
            draw.line((x, bottom, x, bottom + 4), fill="black")
            label = f"{values[tick]:.{decimals}f} s" if unit.startswith("time") else f"frame {int(values[tick])}"
            anchor = "la" if tick == ticks[0] and rows > 1 else "ra" if tick == ticks[-1] and rows > 1 else "ma"
            draw.text((x, bottom + 6), label, fill="black", font=self.small, anchor=anchor)

    def _draw_legend(self, draw: Any, curves: list[tuple[str, np.ndarray, str, int]]) -> None:
        x, y = float(self.PLOT_LEFT), 30.0
        for label, _, colour, width in curves:
            text_width = draw.textlength(label, font=self.small)
            if x + 26 + text_width > self.WIDTH - self.PLOT_RIGHT:  # no room left: the rest stay unnamed
                break
            draw.line((x, y, x + 18, y), fill=colour, width=width + 1)
            draw.text((x + 22, y), label, fill="black", font=self.small, anchor="lm")
            x += 22 + text_width + 18


def _finite_runs(values: np.ndarray) -> list[range]:
    """The runs of consecutive finite entries of ``values`` (each a range of positions)."""
    runs, start = [], None
    for position, finite in enumerate(np.isfinite(values)):
        if finite and start is None:
            start = position
        elif not finite and start is not None:
            runs.append(range(start, position))
            start = None
    if start is not None:
        runs.append(range(start, len(values)))
    return runs


def _round_up(value: float) -> float:
    """A round number at or above ``value`` (at least 1) for a plot's top: 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8
    x 10^k, so that the curves fill most of the height and the half-way tick is round too."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * power >= value)


def _frame_text(sample: Sample, index: int, total: int) -> str:
    """``frame 120 · 4.80 s (7/30)``: the frame number, its time where known, and its place in the dataset."""
    when = "" if sample.time is None else f" · {sample.time:.2f} s"
    return f"frame {sample.frame}{when} ({index + 1}/{total})"


def _fixed_width(pixels: int) -> dict[str, str]:
    """A layout exactly ``pixels`` wide: the strip and the slider under it must not be stretched apart."""
    return {"width": f"{pixels}px", "min_width": f"{pixels}px", "max_width": f"{pixels}px"}


def _given_timeline(dataset: Dataset, report: ComparisonReport | None, timeline: Timeline | None) -> Timeline | None:
    """The finished comparison's timeline to draw (``report``'s or ``timeline``), checked against ``dataset``."""
    if report is not None and timeline is not None:
        raise ValueError("pass report= or timeline=, not both (timeline= is for a Timeline built another way)")
    if report is not None:
        timeline = report.timeline
        if timeline is None:
            raise ValueError(
                f"report= compared on {report.dataset.name!r}, which is not a sequence, so it has no counts over "
                "time to draw; compare on a video or frames loaded with load_sequence(path) first"
            )
    if timeline is None:
        return None
    if not dataset.is_sequence:
        raise ValueError(
            f"dataset {dataset.name!r} is not a sequence (its samples have no frame numbers), so there is no "
            "timeline to draw its counts on; load it with load_sequence(path), or leave out report=/timeline="
        )
    frames = sorted(sample.frame for sample in dataset)  # type: ignore[type-var]  # a sequence: every frame is set
    if frames != timeline.frames.tolist():
        raise ValueError(
            f"the timeline has {len(timeline)} frames ({timeline!r}) but dataset {dataset.name!r} has "
            f"{len(frames)} (frames {frames[0]} to {frames[-1]}): explore the dataset the comparison ran on, "
            "Explorer(wb, report.dataset, report=report)"
        )
    return timeline


def _on_canvas(points: np.ndarray, frame: _Frame, corner: tuple[int, int]) -> list[tuple[float, float]]:
    """Original-image points (x, y) as canvas pixels of a panel whose image starts at ``corner``."""
    xy = np.asarray(points, dtype=np.float64).reshape(-1, 2) * frame.shrink + np.asarray(corner, dtype=np.float64)
    return [(float(x), float(y)) for x, y in xy]


def _threshold_text(value: float) -> str:
    """The peak threshold in its unit, and as the pixels one person spreads over there (easier to picture)."""
    return f"{value:.1e} {_THRESHOLD_UNIT}: one person per {1 / value:,.0f} px"
