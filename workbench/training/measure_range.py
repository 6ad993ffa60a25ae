"""Measure a model's range flag on annotated data outside its training: is every image it miscounts flagged?

    python -m workbench.training.measure_range --model models/wbcount.onnx \\
        --data ../data/ShanghaiTech_A:test --data ../data/ShanghaiTech_B:test --data ../data/Mall \\
        --data ../shared/data/crowd-mini:test

For each dataset and in total, the images the model counts off by more than ``--tolerance`` (30 %) and those
within it, and how many of each the flag calls outside (``False``), cannot tell (``None``) or inside (``True``),
judged two ways, as ``compare`` judges them (``estimators/_range.py``):

* by annotations: the annotated people and head spacing against the declared bounds (what ``compare`` does
  on an annotated dataset);
* by evidence: the density map's evidence and an estimate above the declared bounds, the annotations unused
  (what the estimator's own ``inRange`` says, and ``compare`` on unannotated images).

The issue's bar: every image off by more than 30 % flagged, at most 1 in 10 of those within 30 %. ``train``
splits are refused: the range was calibrated on them. ``--csv`` writes one row per image.
"""
from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workbench.estimators import ModelDescription
from workbench.estimators._range import TrainingRange, Verdict
from workbench.training._range_data import (
    Observation,
    description_path,
    model_arguments,
    observe_model,
    parse_spec,
    tally,
    tally_line,
)

#: The two ways an image is judged, as a table names them.
JUDGEMENTS = ("by annotations", "by evidence")


def judge(declared: TrainingRange, observation: Observation) -> dict[str, Verdict]:
    """Both verdicts on one image."""
    estimate = float(observation.density.sum(dtype=np.float64))
    return {
        "by annotations": declared.judge_annotated(observation.points, observation.area_pixels),
        "by evidence": declared.judge_estimate(observation.density, estimate, observation.area_pixels),
    }


def report(declared: TrainingRange, observations: Sequence[Observation], tolerance: float) -> list[str]:
    """The lines printed: per dataset, then in total, each judgement's tally."""
    verdicts = [judge(declared, o) for o in observations]
    specs = dict.fromkeys(o.data for o in observations)
    groups = {spec: [i for i, o in enumerate(observations) if o.data == spec] for spec in specs}
    groups["total"] = list(range(len(observations)))
    lines = []
    for spec, indices in groups.items():
        chosen = [observations[i] for i in indices]
        lines.append(f"{spec} ({len(chosen)} images)")
        for how in JUDGEMENTS:
            counts = tally(chosen, [verdicts[i][how].in_range for i in indices], tolerance)
            lines.append(f"  {how:<15} {tally_line(counts, tolerance)}")
    return lines


def write_csv(path: Path, declared: TrainingRange, observations: Sequence[Observation], tolerance: float) -> None:
    """One row per image: data, name, truth, estimate, off, and each judgement's verdict and reason."""
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["data", "image", "true_count", "pred_count", f"off_by_more_than_{tolerance:g}",
                         *[f"{how.replace(' ', '_')}_{part}" for how in JUDGEMENTS for part in ("in_range", "reason")]])
        for observation in observations:
            verdicts = judge(declared, observation)
            writer.writerow([observation.data, observation.name, observation.truth, observation.estimate,
                             observation.off_by_more_than(tolerance),
                             *[part for how in JUDGEMENTS for part in (verdicts[how].in_range, verdicts[how].reason)]])


def _held_out(spec: str) -> str:
    _, split = parse_spec(spec)
    if split is not None and split.lower() == "train":
        raise argparse.ArgumentTypeError(f"{spec!r}: the range was calibrated on training splits; measure it on "
                                         "data outside training (a test split, Mall)")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = model_arguments(
        "workbench.training.measure_range",
        "Measure a model's declared range flag on annotated data outside its training.",
        _held_out, "annotated held-out data, PATH[:SPLIT] (a Mall folder too); repeat for several",
    )
    parser.add_argument("--csv", type=Path, help="also write one row per image here")
    args = parser.parse_args(argv)

    json_path = description_path(args)
    description = ModelDescription.load(json_path)
    if description.range is None:
        parser.error(f"{json_path} declares no range; calibrate it first "
                     "(python -m workbench.training.calibrate_range)")
    observations = observe_model(args, description)
    print("\n".join(report(description.range, observations, args.tolerance)))
    if args.csv:
        write_csv(args.csv, description.range, observations, args.tolerance)
        print(f"per image: {args.csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
