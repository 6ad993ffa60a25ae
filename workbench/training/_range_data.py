"""What the range calibration and its measurement share: their common options, reading the data they are given,
one model run per image kept as an ``Observation`` (annotations, estimate, density map), and the tallies.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.estimators import ModelDescription, OnnxDensityEstimator
from workbench.research.datasets import Dataset, DatasetError, load_dataset


@dataclass(frozen=True)
class Observation:
    """One annotated image as the model saw it."""

    data: str
    name: str
    points: np.ndarray
    area_pixels: int
    density: np.ndarray

    @property
    def truth(self) -> int:
        return len(self.points)

    @property
    def estimate(self) -> int:
        """The count the estimator answers (the map's sum, rounded)."""
        return max(0, round(float(self.density.sum(dtype=np.float64))))

    def off_by_more_than(self, tolerance: float) -> bool:
        """Whether the estimate misses the annotated count by more than ``tolerance`` of it (an empty image:
        whether any person was counted)."""
        return abs(self.estimate - self.truth) > tolerance * self.truth if self.truth else self.estimate > 0


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """``PATH`` or ``PATH:SPLIT`` (a split as ``load_dataset`` takes it: ``train``, ``test``)."""
    path, _, split = spec.rpartition(":")
    if path and split and "/" not in split:
        return Path(path).expanduser(), split
    return Path(spec).expanduser(), None


def load_spec(spec: str) -> Dataset:
    """The annotated dataset of a ``PATH[:SPLIT]`` spec: any layout ``load_dataset`` reads (the Mall dataset too).

    Raises:
        DatasetError: the folder cannot be read, or some image has no annotation (nothing to calibrate on).
    """
    path, split = parse_spec(spec)
    dataset = load_dataset(path, split=split)
    unannotated = [sample.name for sample in dataset if not sample.annotated]
    if unannotated:
        raise DatasetError(f"{spec}: {len(unannotated)} image(s) without head points (first: {unannotated[0]}); "
                           "the range is calibrated and measured on annotated images only")
    return dataset


def observe(
    estimator: OnnxDensityEstimator, datasets: Iterable[tuple[str, Dataset]], progress: bool
) -> list[Observation]:
    """Run ``estimator`` once per image (count only: the map is what is kept)."""
    from tqdm.auto import tqdm

    observations = []
    for spec, dataset in datasets:
        for sample in tqdm(dataset, desc=spec, disable=not progress, unit="img"):
            [result] = estimator.estimate([sample.image], "T2")
            width, height = sample.size
            # load_spec keeps annotated images only, and an OnnxDensityEstimator always gives its map.
            points, density = np.asarray(sample.points), np.asarray(result.densityMap)
            observations.append(Observation(spec, sample.name, points, width * height, density))
    return observations


#: How a tally names the verdicts ``True``, ``None`` and ``False``.
VERDICT_WORDS = {False: "outside", None: "cannot tell", True: "inside"}


def tally(
    observations: Iterable[Observation], verdicts: Iterable[bool | None], tolerance: float
) -> dict[str, dict[str, int]]:
    """How many images off by more than ``tolerance`` (``"off"``) and within it (``"within"``) got each verdict."""
    counts = {group: {"images": 0, **{word: 0 for word in VERDICT_WORDS.values()}} for group in ("off", "within")}
    for observation, verdict in zip(observations, verdicts, strict=True):
        group = counts["off" if observation.off_by_more_than(tolerance) else "within"]
        group["images"] += 1
        group[VERDICT_WORDS[verdict]] += 1
    return counts


def tally_line(counts: dict[str, dict[str, int]], tolerance: float) -> str:
    """``off by > 30 %: flagged 12/14 (cannot tell 1) | within 30 %: flagged 1/20 (cannot tell 3)``."""
    percent = f"{tolerance:.0%}".replace("%", " %")
    parts = []
    for group, label in (("off", f"off by > {percent}"), ("within", f"within {percent}")):
        numbers = counts[group]
        parts.append(f"{label}: flagged {numbers['outside']}/{numbers['images']} "
                     f"(cannot tell {numbers['cannot tell']}, inside {numbers['inside']})")
    return " | ".join(parts)


def model_arguments(
    prog: str, purpose: str, check_data: Callable[[str], str], data_help: str
) -> argparse.ArgumentParser:
    """The options both commands take: the model, its description, the data (checked by ``check_data``), the
    tolerance, and whether to show progress."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=purpose)
    parser.add_argument("--model", type=Path, required=True, help="the ONNX density model")
    parser.add_argument("--description", type=Path,
                        help="its model description JSON (default: beside the model; calibrate_range --write updates it)")
    parser.add_argument("--data", type=check_data, action="append", required=True, help=data_help)
    parser.add_argument("--tolerance", type=float, default=0.3, help="an image is off beyond this relative error")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def observe_model(args: argparse.Namespace, description: ModelDescription) -> list[Observation]:
    """Run ``args.model`` (fed as ``description`` says) once on each image of every ``args.data``."""
    estimator = OnnxDensityEstimator(args.model, description)
    try:
        return observe(estimator, [(spec, load_spec(spec)) for spec in args.data], not args.no_progress)
    finally:
        estimator.close()


def description_path(args: argparse.Namespace) -> Path:
    """``--description``, else the JSON beside the model."""
    return args.description or args.model.with_suffix(".json")
