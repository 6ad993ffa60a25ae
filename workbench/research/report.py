"""``ComparisonReport``: what ``compare`` returns; tables, figures and exports of one comparison.

Figures are built on ``matplotlib.figure.Figure`` objects, never through pyplot: making a report's figures
changes no global matplotlib state (backend, current figure), leaks no figure, and does not make Jupyter's
inline backend draw every figure at the end of a cell that only writes files. Files are rendered with the
Agg renderer whatever the session's backend is.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import io
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._checks import whole_number
from ..estimators._range import ANNOTATIONS, DENSITY_MAP, ESTIMATE, ESTIMATOR, NO_RANGE
from .datasets import Dataset
from .metrics import latency_stats, mae, nae, precision_recall_f1, rmse, throughput
from .timeline import Timeline

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..result import CountResult

__all__ = ["DIVERGENCE_FRAMES", "ComparisonReport"]

#: Rows of the per-image table shown in a notebook; the exports always hold every row.
_REPR_ROWS = 20
#: Resolution of figures embedded in the HTML page: enough to read, small enough to keep the page light.
_HTML_DPI = 80
_FILE_DPI = 110
#: The stretch of a sequence (sampled frames) over which the report looks for where an estimator departs most
#: from the default: long enough that one odd frame does not decide it.
DIVERGENCE_FRAMES = 10


class ComparisonReport:
    """Per-image scores, the summary per estimator and the raw results of one ``compare`` run.

    Attributes:
        dataset: the ``Dataset`` that was run.
        per_image: one row per image x estimator (see ``compare``); columns ``image``, ``estimator``,
            ``true_count`` (NaN when unannotated), ``pred_count``, ``pred_sum`` (the count before rounding: the
            density map's sum), ``error`` (predicted - true), ``abs_error``, ``latency_ms``, ``game_<L>`` per GAME
            level and ``tp/fp/fn/precision/recall/f1@<threshold>`` (``@box``: NWPU-Crowd's per-head distances,
            where the dataset has head boxes), ``in_range`` (True/False, or None: cannot tell or no range
            declared), ``range_evidence`` (what judged it: ``"annotations"``, ``"density map"``, ``"estimate"``,
            ``"estimator"``, or None) and ``range_reason`` (why, in words); ``failure`` where some image failed: why
            the host refused the estimator's result for it (``None`` for the others; a failed row has no scores).
        results: estimator name -> the ``CountResult`` of each image, in dataset order (``None`` where it failed).
        estimators: the estimator names in the order they were run.
        skipped: the dataset's images left out because they cannot be decoded (``compare(..., on_error="skip")``),
            one row each: ``image``, ``path``, ``reason``; empty when none was. ``dataset`` holds the others.
        labels: estimator name -> how headings and the summary table show it: the default with what provides it
            (``"default (vendor SDK 5.14.0)"``, from ``wb.estimator_label``), others by their names.
        notes: lines shown above the tables in every rendering (the command line adds "synthetic data" here).
        data_label: how the title names the data; None: by the dataset's name (the command line names its
            generated images "synthetic sample images", not after the folder they were written to).
        timeline: counts over time (``Timeline``) where the dataset is a sequence, else None.
        smoothing: for a sequence, the moving average (over this many sampled frames) that the over-time figures
            draw and the second stability table reads; 1, the default: none. ``workbench compare --smoothing N``.
    """

    def __init__(
        self,
        dataset: Dataset,
        rows: Sequence[Mapping[str, Any]],
        results: Mapping[str, list[CountResult | None]],
        *,
        broker: str,
        targets: str,
        thresholds: Sequence[float],
        game_levels: Sequence[int],
        busy_seconds: Mapping[str, float],
        labels: Mapping[str, str] | None = None,
        skipped: Sequence[Mapping[str, str]] = (),
    ) -> None:
        self.dataset = dataset
        # Columns in a scored row's order: a failed row has only a few of them, and may come first.
        self.per_image = pd.DataFrame(list(rows), columns=list(dict.fromkeys(
            key for row in sorted(rows, key=len, reverse=True) for key in row
        )))
        self.results = dict(results)
        self.estimators = list(results)
        self.labels = {name: (labels or {}).get(name, name) for name in self.estimators}
        self.skipped = pd.DataFrame(list(skipped), columns=["image", "path", "reason"])
        self.broker = broker
        self.targets = targets
        self.thresholds = tuple(thresholds)
        self.game_levels = tuple(game_levels)
        self.busy_seconds = dict(busy_seconds)
        self.created = datetime.now(timezone.utc)
        self.notes: list[str] = []
        self.data_label: str | None = None
        self._summary: pd.DataFrame | None = None
        self._timeline: Timeline | None = None
        self._smoothing = 1

    @property
    def timeline(self) -> Timeline | None:
        """Counts over time (``Timeline``) when the dataset is a sequence (a video, Mall, a folder loaded with
        ``load_sequence``), else ``None``."""
        # A report may be built from rows alone (no dataset), to score them: that is no sequence either.
        if not isinstance(self.dataset, Dataset) or not self.dataset.is_sequence:
            return None
        if self._timeline is None:
            self._timeline = Timeline.from_rows(self.dataset, self.per_image, self.estimators, self.labels)
        return self._timeline

    @property
    def smoothing(self) -> int:
        return self._smoothing

    @smoothing.setter
    def smoothing(self, window: int) -> None:
        self._smoothing = whole_number(window, "smoothing", minimum=1, unit="frames", note="1: no smoothing")

    def stability(self) -> pd.DataFrame:
        """For a sequence: ``Timeline.stability`` of the counts as answered, and after the ``smoothing`` moving
        average where it is above 1, as one table indexed by ``window`` (sampled frames; 1: as answered) and
        ``series`` (each estimator by its label, and the truth). Empty for a dataset that is not a sequence."""
        timeline = self.timeline
        if timeline is None:
            return pd.DataFrame()
        return pd.concat(
            [timeline.stability(window).rename_axis("series").reset_index().assign(window=window)
             for window in dict.fromkeys([1, self.smoothing])], ignore_index=True,
        ).set_index(["window", "series"])

    def divergence_notes(self) -> list[str]:
        """For a sequence, one line per estimator besides the default (or besides the first estimator, where the
        default was not run): the stretch of the recording where it departs most from it (``Timeline.divergence``
        over ``DIVERGENCE_FRAMES`` sampled frames)."""
        timeline = self.timeline
        if timeline is None or len(self.estimators) < 2:
            return []
        reference = self._reference()
        lines = []
        for name in self.estimators:
            if name == reference:
                continue
            try:
                stretch = timeline.divergence(name, reference, DIVERGENCE_FRAMES)
            except ValueError as error:  # the two answered no frame in common
                lines.append(f"{self.labels[name]}: {error}")
                continue
            # Under the labels the tables use: "departs most from default (wbcount)".
            lines.append(dataclasses.replace(stretch, estimator=self.labels[name],
                                             reference=self.labels[reference]).describe())
        return lines

    def _reference(self) -> str:
        """What the other estimators of a sequence are held against: the default, else the first estimator run."""
        return "default" if "default" in self.estimators else self.estimators[0]

    # -- tables ----------------------------------------------------------------------------------------

    @property
    def summary(self) -> pd.DataFrame:
        """One row per estimator: counting error, GAME, localisation (micro-averaged) and speed.

        Columns: ``images``, ``annotated``, ``MAE``, ``RMSE`` (of the rounded counts, as the service answers),
        ``GAME(L)`` per level, ``MAE (sum)``, ``RMSE (sum)``, ``NAE (sum)`` (of the density map's sum before
        rounding, as papers report; NAE leaves out images with no people, see ``metrics.nae``),
        ``P@t``/``R@t``/``F1@t`` per threshold ``t`` (pixels; ``@box``: NWPU-Crowd's per-head distance, only for
        datasets with head boxes), ``mean ms``, ``p50 ms``, ``p99 ms`` (per-image latency as the host
        measured it), ``images/s`` (images over the seconds spent inside ``wb.estimate``) and ``outside range``
        (images judged outside the estimator's declared training range: by their annotations where they have
        them, else by the result's evidence, see ``range_evidence`` per image; NaN where nothing was judged).
        A sequence adds ``mean abs change``: the mean of ``|count[t+1] - count[t]|`` over consecutive sampled
        frames (people per step; the truth's is in ``stability()``).
        Scores that cannot be computed (no annotation, count-only results) are NaN. Where some image failed (its
        result refused by the host), ``failed`` counts them per estimator, and its scores cover the others only.
        """
        if self._summary is None:
            self._summary = pd.DataFrame(
                [self._summarise(name) for name in self.estimators], index=pd.Index(self.estimators, name="estimator")
            )
        return self._summary

    def _answered(self, name: str) -> pd.DataFrame:
        """``name``'s rows of the images it answered (a failed image has no scores to count)."""
        rows = self.per_image[self.per_image["estimator"] == name]
        return rows[rows["failure"].isna()] if "failure" in rows else rows

    def _summarise(self, name: str) -> dict[str, float]:
        out: dict[str, float] = {"images": int((self.per_image["estimator"] == name).sum())}
        rows = self._answered(name)
        scored = rows[rows["true_count"].notna()]
        out["annotated"] = len(scored)
        if len(scored):
            out["MAE"] = mae(scored["true_count"], scored["pred_count"])
            out["RMSE"] = rmse(scored["true_count"], scored["pred_count"])
        else:
            out["MAE"] = out["RMSE"] = math.nan
        for level in self.game_levels:
            # skipna=False: an estimator that could not be scored on some image gets no flattering average.
            column = scored[f"game_{level}"]
            out[f"GAME({level})"] = float(column.mean(skipna=False)) if len(column) else math.nan
        out.update(self._unrounded_errors(scored))
        if self.timeline is not None:  # a sequence: how much the count moves per step (stability() has the rest)
            out["mean abs change"] = float(self.timeline.stability().loc[self.labels[name], "mean abs change"])
        # "@box" (NWPU-Crowd's per-head distances) is scored only where the dataset gives head boxes.
        box_tag = ["@box"] if "tp@box" in scored else []
        for tag in [f"@{threshold:g}" for threshold in self.thresholds] + box_tag:
            tp, fp, fn = (scored[f"{key}{tag}"] for key in ("tp", "fp", "fn"))
            if len(scored) and tp.notna().all():
                precision, recall, f1 = precision_recall_f1(int(tp.sum()), int(fp.sum()), int(fn.sum()))
            else:
                precision = recall = f1 = math.nan
            out[f"P{tag}"], out[f"R{tag}"], out[f"F1{tag}"] = precision, recall, f1
        latencies = rows["latency_ms"].dropna()
        if len(latencies):
            stats = latency_stats(latencies / 1000.0)
            out.update({"mean ms": stats.mean_ms, "p50 ms": stats.p50_ms, "p99 ms": stats.p99_ms})
        else:
            out.update({"mean ms": math.nan, "p50 ms": math.nan, "p99 ms": math.nan})
        busy = self.busy_seconds.get(name, 0.0)
        # Cache hits (compare's ``cached`` column) cost no estimator time: only computed images count.
        computed = rows[~rows["cached"].astype(bool)] if "cached" in rows else rows
        out["images/s"] = throughput(len(computed), busy) if busy > 0 else math.nan
        out["outside range"] = self._outside_range(rows)
        if "failure" in self.per_image:
            out["failed"] = out["images"] - len(rows)
        return out

    @staticmethod
    def _unrounded_errors(scored: pd.DataFrame) -> dict[str, float]:
        """MAE, RMSE and NAE of the counts before rounding (``pred_sum``), the readings papers publish."""
        if not len(scored) or "pred_sum" not in scored:
            return {"MAE (sum)": math.nan, "RMSE (sum)": math.nan, "NAE (sum)": math.nan}
        true, pred = scored["true_count"], scored["pred_sum"]
        return {
            "MAE (sum)": mae(true, pred),
            "RMSE (sum)": rmse(true, pred),
            # NaN where every annotated image is empty: NAE has no value there (metrics.nae).
            "NAE (sum)": nae(true, pred) if (true > 0).any() else math.nan,
        }

    @staticmethod
    def _outside_range(rows: pd.DataFrame) -> float:
        # NaN, not 0, for an estimator that declares no training range: nothing was checked.
        if "in_range" not in rows or rows["in_range"].isna().all():
            return math.nan
        return float((rows["in_range"] == False).sum())  # noqa: E712 (elementwise, and None stays unflagged)

    def failure_notes(self) -> list[str]:
        """One line per estimator whose results the host refused for some images: how many, and the first
        image's reason (every reason is in ``per_image``'s ``failure``)."""
        if "failure" not in self.per_image:
            return []
        lines = []
        for name in self.estimators:
            failed = self.per_image[(self.per_image["estimator"] == name) & self.per_image["failure"].notna()]
            if len(failed):
                first = failed.iloc[0]
                lines.append(
                    f"{self.labels[name]}: failed on {len(failed)} of {len(self.dataset)} images, left out of its "
                    f"scores (failure in per_image.csv); {first['image']}: {first['failure']}"
                )
        return lines

    def range_notes(self) -> list[str]:
        """One line per estimator whose results put some images outside its declared training range, saying what
        judged them (``range_evidence``); one per estimator with images it could not tell about."""
        lines = []
        for name in self.estimators:
            rows = self._answered(name)
            if "in_range" not in rows:
                continue
            outside = rows[rows["in_range"] == False]  # noqa: E712 (elementwise, and None stays unflagged)
            if len(outside):
                kinds = outside["range_evidence"].value_counts(sort=False)
                how = ", ".join(f"{n} {_JUDGED_BY[kind]}" for kind, n in kinds.items())
                lines.append(
                    f"{self.labels[name]}: {len(outside)} of {len(self.dataset)} images outside its declared "
                    f"training range ({how}; listed in the report's '{_OUTSIDE_RANGE_HEADING}' table, in_range "
                    "false and range_reason in per_image.csv); its scores there are extrapolation, see its model card"
                )
            unknown = rows["in_range"].isna() & (rows["range_reason"] != NO_RANGE)
            if unknown.any():
                lines.append(
                    f"{self.labels[name]}: cannot tell for {int(unknown.sum())} of {len(self.dataset)} images whether "
                    "they are inside its declared training range (no annotations, and no conclusive density-map "
                    "evidence; range_reason in per_image.csv)"
                )
        return lines

    def summary_table(self) -> Any:
        """``summary`` formatted for reading (a pandas ``Styler``): one precision per column, whole counts,
        the units in a caption, and sideways scrolling where it is wider than the notebook (see ``styled``)."""
        return self.styled(self.summary.rename(index=self.labels)).set_caption(self._summary_units())

    def _summary_units(self) -> str:
        return _SUMMARY_UNITS + ("" if self.timeline is None else _SEQUENCE_UNITS)

    @staticmethod
    def styled(table: pd.DataFrame) -> Any:
        """Any of the report's tables (or a pandas aggregate of them) as a ``Styler`` with one format per column.

        The format is chosen from the column's name: counts, errors and tp/fp/fn as whole numbers, ratios
        (precision, recall, F1) with 3 decimals, count errors (MAE, RMSE, GAME) with 2, milliseconds and
        images/s with 1; NaN shows as "–". A table wider than the notebook scrolls instead of being cut.
        """
        formats = {column: _column_format(column, table[column]) for column in table.columns
                   if pd.api.types.is_numeric_dtype(table[column])}
        # display:block lets the table itself scroll sideways where it is wider than the notebook or the page.
        return table.style.format(formats, na_rep="–").set_table_attributes(
            'class="wb" style="display:block;overflow-x:auto;max-width:100%"')

    def counts_table(self) -> pd.DataFrame:
        """Images as rows: the true count, then each estimator's predicted count and signed error (people).

        Counts are whole numbers (pandas ``Int64``; missing ones are ``<NA>``). Sorted by the largest absolute
        error over the estimators, worst first (dataset order when unannotated).
        """
        table = self.per_image.pivot(index="image", columns="estimator", values="pred_count")[self.estimators]
        table = table.reindex(self.dataset.names)
        true = pd.Series(self.dataset.counts, index=self.dataset.names, dtype="float64")
        columns: dict[str, pd.Series] = {"true": true}
        for name in self.estimators:
            columns[f"{name}"] = table[name]
            columns[f"{name} error"] = table[name] - true
        out = pd.DataFrame(columns).astype("Int64")
        out.index.name = "image"
        errors = out[[f"{name} error" for name in self.estimators]].abs().max(axis=1)
        if errors.notna().any():
            out = out.loc[errors.sort_values(ascending=False, kind="stable").index]
        return out

    def worst_images(self, n: int = 3) -> list[int]:
        """Dataset indices of the ``n`` images with the largest absolute error of any estimator, among those every
        estimator answered (the figures show each estimator's result on them)."""
        position = {name: i for i, name in enumerate(self.dataset.names)}
        answered = [position[name] for name in self.counts_table().index if self._answered_by_all(position[name])]
        return answered[:n]

    def _answers(self, name: str, indices: Sequence[int]) -> list[CountResult]:
        """``name``'s results on ``indices``, images it answered (the callers choose them so)."""
        return [result for index in indices if (result := self.results[name][index]) is not None]

    def _answered_by_all(self, index: int) -> bool:
        return all(self.results[name][index] is not None for name in self.estimators)

    # -- figures ---------------------------------------------------------------------------------------

    def figures(self, *, grid_images: int = 3, detail_images: int = 2) -> dict[str, Figure]:
        """Every figure of the report, by a file-name-safe key.

        Figures name estimators by ``labels``, as the tables do. ``count_scatter`` and ``ranked_errors_<estimator>``
        (annotated datasets only), ``estimator_grid``
        (the ``grid_images`` worst images, each estimator's density overlay), and for ``detail_images``
        images (the worst and a typical one) ``density_<estimator>_<image>`` and ``points_<estimator>_<image>``
        (predicted points matched against the ground truth at the first threshold). A sequence adds
        ``counts_over_time``, ``error_over_time`` (annotated sequences; the stretch where each estimator departs
        most from the default shaded) and ``frame_changes``, smoothed over ``smoothing`` sampled frames.
        """
        _let_jupyter_draw_figures()
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

        figures: dict[str, Figure] = {}
        # Images an estimator failed on (no result) are left out of its figures.
        annotated = [i for i, sample in enumerate(self.dataset) if sample.annotated and self._answered_by_all(i)]
        if annotated:
            true = [self.dataset[i].count for i in annotated]
            preds = {self.labels[name]: [result.count for result in self._answers(name, annotated)]
                     for name in self.estimators}
            figures["count_scatter"] = plot_count_scatter(true, preds, ax=_axes((6, 6)))
        for name in self.estimators:
            ranked = [
                i for i, sample in enumerate(self.dataset) if sample.annotated and self.results[name][i] is not None
            ]
            if not ranked:
                continue
            shown = min(len(ranked), 20)
            ax = _axes((7, 1.5 + 0.3 * shown))
            figures[f"ranked_errors_{_safe(name)}"] = plot_ranked_errors(
                [self.dataset[i].name for i in ranked], [self.dataset[i].count for i in ranked],
                [result.count for result in self._answers(name, ranked)], ax=ax, top=shown,
            )
            ax.set_title(f"{self.labels[name]}\n{ax.get_title()}")  # the plot does not know whose errors it ranks
        timeline = self.timeline
        if timeline is not None:
            figures["counts_over_time"] = plot_counts_over_time(timeline, ax=_axes((12, 4)), window=self.smoothing)
            if timeline.annotated:
                figures["error_over_time"] = plot_error_over_time(
                    timeline, ax=_axes((12, 4)), window=self.smoothing, divergence_window=DIVERGENCE_FRAMES,
                    reference=self._reference(),
                )
            figures["frame_changes"] = plot_frame_changes(timeline, ax=_axes((6, 4)), window=self.smoothing)
        worst = self.worst_images(grid_images)
        if worst:
            grid = _new_figure((3.0 * len(self.estimators) + 1.0, 2.4 * len(worst) + 0.5))
            figures["estimator_grid"] = plot_estimator_grid(
                [self.dataset[i] for i in worst],
                {self.labels[name]: self._answers(name, worst) for name in self.estimators},
                [self.dataset[i].count for i in worst] if all(self.dataset[i].annotated for i in worst) else None,
                fig=grid,
            )
        threshold = self.thresholds[0] if self.thresholds else 10.0
        for index in self._detail_images(detail_images):
            sample = self.dataset[index]
            for name in self.estimators:
                [result] = self._answers(name, [index])
                key = f"{_safe(name)}_{_safe(sample.name)}"
                # Titled with the report's label: the result's own estimatorName is the model's (e.g. wbcount).
                label = self.labels[name]
                figures[f"density_{key}"] = plot_density_overlay(sample, result, ax=_axes((8, 6)), label=label)
                figures[f"points_{key}"] = plot_points(
                    sample, result, sample.points, ax=_axes((8, 6)), threshold=threshold, label=label
                )
        return figures

    def _detail_images(self, n: int) -> list[int]:
        order = self.worst_images(len(self.dataset))
        picks = order[:1] + ([order[len(order) // 2]] if len(order) > 2 else order[1:2])
        return list(dict.fromkeys(picks))[:n] if n > 0 else []

    def save_figures(
        self, directory: str | Path, *, dpi: int = _FILE_DPI, figures: Mapping[str, Figure] | None = None
    ) -> dict[str, Path]:
        """Write every figure as ``<key>.png`` into ``directory``; returns key -> path.

        ``figures`` defaults to ``figures()``; pass the dict you already made (and perhaps edited) to reuse it.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for key, figure in (self.figures() if figures is None else figures).items():
            written[key] = out / f"{key}.png"
            figure.savefig(written[key], dpi=dpi, format="png")
        return written

    # -- exports ---------------------------------------------------------------------------------------

    def to_csv(self, directory: str | Path) -> dict[str, Path]:
        """Write ``per_image.csv`` and ``summary.csv`` (``skipped.csv`` where images were skipped; for a sequence
        ``timeline.csv``, ``Timeline.table()``, and ``stability.csv``, ``stability()``) into ``directory``;
        returns their paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"per_image": out / "per_image.csv", "summary": out / "summary.csv"}
        self.per_image.to_csv(paths["per_image"], index=False)
        self.summary.to_csv(paths["summary"])
        if self.timeline is not None:
            paths["timeline"], paths["stability"] = out / "timeline.csv", out / "stability.csv"
            self.timeline.table().to_csv(paths["timeline"], index=False)
            self.stability().to_csv(paths["stability"])
        if len(self.skipped):
            paths["skipped"] = out / "skipped.csv"
            self.skipped.to_csv(paths["skipped"], index=False)
        return paths

    def to_json(self, path: str | Path) -> Path:
        """Write the whole report as one JSON document: settings, summary, per-image rows, every result's points,
        and for a sequence ``timeline``: ``frames``, ``times``, ``truth``, ``counts`` per estimator (null where
        missing), ``smoothing``, ``stability`` (rows of ``stability()``) and ``divergence`` (the notes' lines)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        document = {
            **self._settings(),
            "notes": self.notes,
            "skipped": _records(self.skipped),
            "summary": _records(self.summary.reset_index()),
            "per_image": _records(self.per_image),
            **({} if self.timeline is None else {"timeline": self._timeline_document(self.timeline)}),
            "results": {
                name: [
                    {"image": sample.name, "failed": True} if result is None
                    else dict(result.asDict(), image=sample.name)
                    for sample, result in zip(self.dataset, results)
                ]
                for name, results in self.results.items()
            },
        }
        target.write_text(json.dumps(document, indent=1, allow_nan=False), encoding="utf-8")
        return target

    def _timeline_document(self, timeline: Timeline) -> dict[str, Any]:
        def values(array: np.ndarray) -> list[float | None]:
            return [None if math.isnan(value) else float(value) for value in array]

        return {
            "frames": [int(frame) for frame in timeline.frames],
            "times": values(timeline.times),
            "truth": values(timeline.truth),
            "counts": {name: values(counts) for name, counts in timeline.counts.items()},
            "smoothing": self.smoothing,
            "stability": _records(self.stability().reset_index()),
            "divergence": self.divergence_notes(),
        }

    def to_html(self, path_or_dir: str | Path, *, figures: Mapping[str, Figure] | None = None) -> Path:
        """Write a single self-contained HTML page (figures embedded as PNG); returns its path.

        A path ending in ``.html`` is the file to write; anything else is a folder that gets ``report.html``.
        ``figures`` defaults to ``figures()``; pass the dict you already made (and perhaps edited) to reuse it.
        """
        target = Path(path_or_dir)
        if target.suffix.lower() not in (".html", ".htm"):
            target = target / "report.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        # A grid of figures, as many columns as the window holds; a wide figure (the estimator grid) takes a row.
        figures_html = "".join(
            f"<figure class='{'wide' if fig.get_size_inches()[0] > _WIDE_FIGURE_INCHES else ''}'>"
            f"<img alt='{html.escape(key)}' src='data:image/png;base64,{_png_base64(fig)}'>"
            f"<figcaption>{html.escape(key)}.png</figcaption></figure>"
            for key, fig in (self.figures() if figures is None else figures).items()
        )
        full = self.per_image.assign(estimator=self.per_image["estimator"].map(self.labels))
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(self.title)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>"
            f"{self._header_html()}"
            f"<h2>Summary</h2>{self._summary_html()}"
            f"{self._stability_html()}"
            f"{self._outside_range_html()}"
            f"<h2>Per image</h2>{self._counts_html(limit=None)}"
            f"<details><summary>All per-image scores</summary>{_table_box(self.styled(full).hide(axis='index'))}"
            "</details>"
            f"<h2>Figures</h2><div class='figures'>{figures_html}</div>"
            "</body></html>"
        )
        target.write_text(page, encoding="utf-8")
        return target

    # -- rendering -------------------------------------------------------------------------------------

    @property
    def title(self) -> str:
        """The page's title: what was compared, on which data (``data_label``) and how many images."""
        images = f"{len(self.dataset)} image{'' if len(self.dataset) == 1 else 's'}"
        data = self.dataset.name if self.data_label is None else self.data_label
        return f"Estimator comparison: {', '.join(self.labels.values())} on {data} ({images})"

    def outside_range(self) -> pd.DataFrame:
        """The images some estimator put outside its declared training range (``in_range`` false): ``image``,
        ``estimator`` (its label), ``true_count``, ``pred_count``, ``range_evidence`` and ``range_reason``."""
        columns = ["image", "estimator", "true_count", "pred_count", "range_evidence", "range_reason"]
        if "in_range" not in self.per_image:
            return pd.DataFrame(columns=columns)
        flagged = self.per_image[self.per_image["in_range"] == False]  # noqa: E712 (elementwise; None unflagged)
        return flagged.assign(estimator=flagged["estimator"].map(self.labels))[columns].reset_index(drop=True)

    def _settings(self) -> dict[str, Any]:
        return {
            "dataset": {"name": self.dataset.name, "root": str(self.dataset.root), "format": self.dataset.format,
                        "images": len(self.dataset), "annotated": bool(self.dataset.annotated)},
            "broker": self.broker,
            "targets": self.targets,
            "estimators": self.estimators,
            "labels": self.labels,
            "thresholds": list(self.thresholds),
            "game_levels": list(self.game_levels),
            "created": self.created.isoformat(timespec="seconds"),
        }

    def _header_html(self) -> str:
        notes = "".join(f"<p class='note'>{html.escape(note)}</p>" for note in self.notes)
        skipped = "" if not len(self.skipped) else (
            f"<details open><summary>Skipped images ({len(self.skipped)}, not decodable)</summary>"
            f"{_table_box(self.styled(self.skipped).hide(axis='index'))}</details>"
        )
        return (
            f"{notes}{skipped}<p>Dataset <b>{html.escape(self.dataset.name)}</b> ({len(self.dataset)} images, "
            f"{html.escape(str(self.dataset.root))}) · broker <code>{html.escape(self.broker)}</code> · "
            f"targets {html.escape(self.targets)} · localisation at "
            f"{', '.join(f'{t:g}' for t in self.thresholds) or '–'} px · "
            f"{self.created.strftime('%Y-%m-%d %H:%M UTC')}</p>"
        )

    def _summary_html(self) -> str:
        """The summary in two tables, counting errors then localisation, speed and range: its 20-odd columns side
        by side are wider than a laptop's page. Each scrolls in its own box where even half is too wide."""
        table = self.summary.rename(index=self.labels)
        columns = list(table.columns)
        split = next((i for i, column in enumerate(columns) if column.startswith(("P@", "mean ms"))), len(columns))
        parts = [part for part in (columns[:split], columns[split:]) if part]
        return "".join(
            _table_box(self.styled(table[part]).set_caption(self._summary_units()) if part is parts[-1]
                       else self.styled(table[part]))
            for part in parts
        )

    def _stability_html(self) -> str:
        """A sequence's stability table and where each estimator departs most from the default (nothing else)."""
        if self.timeline is None:
            return ""
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in self.divergence_notes())
        return (f"<h2 id='stability'>{_STABILITY_HEADING}</h2>"
                f"{_table_box(self.styled(self.stability()).set_caption(_STABILITY_UNITS))}{lines}")

    def _outside_range_html(self) -> str:
        """The flagged images the range notes count, where a reader of the page sees them (nothing when none)."""
        flagged = self.outside_range()
        if not len(flagged):
            return ""
        return (f"<h2 id='outside-range'>{_OUTSIDE_RANGE_HEADING}</h2><p>Images an estimator's declared training "
                "range does not cover: its scores on them are extrapolation.</p>"
                f"{_table_box(self.styled(flagged).hide(axis='index'))}")

    def _counts_html(self, limit: int | None) -> str:
        table = self.counts_table()
        caption = ""
        if limit is not None and len(table) > limit:
            caption = f"<p>The {limit} images with the largest error of {len(table)}; all are in <code>per_image</code>.</p>"
            table = table.head(limit)
        # Columns under the labels the summary uses: "default (wbcount) error", not "default error".
        table = table.rename(columns={
            column: self.labels[name] + column[len(name):] for column in table.columns for name in self.estimators
            if column in (name, f"{name} error")
        })
        return caption + _table_box(self.styled(table))

    def _repr_html_(self) -> str:
        return (
            f"<div><b>ComparisonReport</b> {html.escape(', '.join(self.labels.values()))}{self._header_html()}"
            f"{self._summary_html()}{self._stability_html()}{self._outside_range_html()}"
            "<details><summary>Per image (worst first)</summary>"
            f"{self._counts_html(limit=_REPR_ROWS)}</details></div>"
        )

    def __repr__(self) -> str:
        scores = ", ".join(
            f"{self.labels[name]}: MAE {row['MAE']:.2f}" for name, row in self.summary.iterrows()
        )
        return f"<ComparisonReport {self.dataset.name!r} n={len(self.dataset)} {scores}>"


def _new_figure(figsize: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _axes(figsize: tuple[float, float]) -> Any:
    return _new_figure(figsize).add_subplot()


def _let_jupyter_draw_figures() -> None:
    """Register Jupyter's PNG formatter for figures made without pyplot.

    The inline backend registers it only when pyplot first loads the backend, which a notebook that only
    used reports never does; importing the backend module registers it when (and only when) it is the
    session's backend, so nothing changes outside Jupyter.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return
    with contextlib.suppress(ImportError):
        import matplotlib_inline.backend_inline  # noqa: F401


def _table_box(styler: Any) -> str:
    """A styled table in a box of its own that scrolls sideways where the table is wider than the page, so the
    page itself never does (the summary has some 20 columns)."""
    return f"<div class='table-box'>{styler.to_html()}</div>"


def _png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_HTML_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "x"


#: How a range note says what judged its images (``range_evidence``, see ``workbench.estimators._range``).
_JUDGED_BY = {
    ANNOTATIONS: "by their annotated people and head spacing",
    DENSITY_MAP: "by its density maps' evidence (not annotated)",
    ESTIMATE: "by its own estimate, above the declared bound (not annotated)",
    ESTIMATOR: "as the estimator flagged them (it declares no range with its results)",
}

_OUTSIDE_RANGE_HEADING = "Outside the training range"
_STABILITY_HEADING = "Stability"

_STABILITY_UNITS = (
    "Steps are between consecutive sampled frames · window: the moving average (sampled frames) taken first; 1: the "
    "counts as answered · mean/max abs change: people per step · vs truth: mean abs change over the truth's (1: "
    "moves as much as the crowd; above: jumpier) · change error: mean |Δcount − Δtruth| (0: follows every change of "
    "the crowd and nothing else) · steps: the steps counted"
)

#: Figures wider than this (inches) take a whole row of the page's grid; the others share rows.
_WIDE_FIGURE_INCHES = 8.5

_SEQUENCE_UNITS = " · mean abs change: people per step between consecutive sampled frames (see Stability)"

_SUMMARY_UNITS = (
    "MAE, RMSE, GAME(L): people per image (MAE, RMSE: of the rounded counts; (sum): of the density map's sum "
    "before rounding, as papers report) · NAE: mean error per true person (images without people left out) · "
    "P/R/F1@t: fraction 0–1, heads matched within t pixels (@box: within each head's box half-diagonal) · "
    "mean/p50/p99 ms: milliseconds per image · images/s: throughput inside wb.estimate"
)


def _column_format(column: Any, values: pd.Series) -> str:
    """The display format of a numeric column, from its name (any level of a pandas MultiIndex column).

    Counts and errors are whole numbers; where they are not (a mean of counts), one decimal.
    """
    names = [str(part) for part in (column if isinstance(column, tuple) else (column,))]
    if any(name.startswith(("P@", "R@", "F1@", "precision", "recall", "f1")) for name in names):
        return "{:.3f}"
    if any(name.startswith("NAE") for name in names):
        return "{:.3f}"
    if any(name.startswith(("MAE", "RMSE", "GAME", "game_")) for name in names):
        return "{:.2f}"
    if any(name.endswith(("abs change", "change error", "vs truth")) for name in names):  # a sequence's stability
        return "{:.2f}"
    if any(name.endswith((" ms", "_ms", "images/s")) for name in names):
        return "{:.1f}"
    finite = values.dropna().astype("float64")
    return "{:.0f}" if bool(np.all(np.mod(finite, 1) == 0)) else "{:.1f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # NaN is not JSON: missing scores become null. Numpy scalars become plain numbers.
    return [
        {key: (None if isinstance(v, float) and math.isnan(v) else v.item() if isinstance(v, np.generic) else v)
         for key, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1400px; color: #222; }
.table-box { overflow-x: auto; max-width: 100%; margin: 0.5em 0 1.5em; }
table.wb { border-collapse: collapse; font-size: 12px; }
/* The box scrolls, not the table (styled() lets a table scroll itself in notebooks): its caption stays put. */
.table-box > table.wb { display: table !important; max-width: none !important; overflow: visible !important; }
table.wb tbody th { position: sticky; left: 0; background: #fff; }
table.wb caption { caption-side: bottom; text-align: left; font-size: 12px; color: #555; padding-top: 0.4em; }
table.wb th, table.wb td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
table.wb thead th { background: #f0f0f0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 1em;
           align-items: start; }
.figures figure { margin: 0; min-width: 0; }
.figures figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #555; }
.note { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; }
details { margin-bottom: 1.5em; }
"""
