"""Calibrate a density model's training range on TRAINING data and write it into its model description.

    python -m workbench.training.calibrate_range --model models/wbcount.onnx \\
        --data ../data/ShanghaiTech_A:train --data ../data/ShanghaiTech_B:train \\
        --data ../shared/data/crowd-mini:train --write

The model is run once on every annotated training image, and each image is marked "off" when its count misses
the annotation by more than ``--tolerance`` (30 %). From that (see ``estimators/_range.py`` for how each part
is judged):

* ``people`` and ``head_spacing_px``: the span of the annotated people per image and of the median
  nearest-neighbour distance between heads over the images the model got *within* tolerance (the scenes it
  was trained on and counts well), less ``--quantile`` of them at each end (default 0: the whole span).
  ``head_size_px`` (documentation) is kept from the description; ``people_per_megapixel`` is not written (it
  depends on the image's resolution: a 512x384 image of 30 people is as easy as a 1024x768 one).
* ``evidence``: a logistic model of "off" over the density map's statistics (``MAP_STATISTICS``), class-balanced
  with a small L2 penalty; ``outside_above`` is the score that at most ``--false-alarms`` of the within-tolerance
  images exceed, ``inside_below`` the lowest score of an "off" image (so no calibration image that was off is
  called inside), ``inside`` the range of each statistic over the within-tolerance images.

Only ``train`` splits are accepted: the figures measured on held-out data (``measure_range``) would otherwise
be tuned on the data they measure. Without ``--write`` the range is printed, not saved.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from workbench.estimators import ModelDescription
from workbench.estimators._range import MAP_STATISTICS, DensityEvidence, TrainingRange, head_spacing, map_statistics
from workbench.training._range_data import (
    Observation,
    description_path,
    model_arguments,
    observe_model,
    parse_spec,
    tally,
    tally_line,
)

#: Fewest images of each kind (off / within tolerance) the evidence is fitted on.
MIN_EACH = 5
#: The L2 penalty of the logistic fit, on standardised statistics: keeps the weights finite where the
#: calibration images separate perfectly.
L2 = 0.01


def fit_range(
    observations: Sequence[Observation],
    *,
    tolerance: float = 0.3,
    false_alarms: float = 0.05,
    quantile: float = 0.0,
    min_people: float = 1.0,
    head_size_px: tuple[float | None, float | None] | None = None,
    calibration: dict[str, Any] | None = None,
) -> TrainingRange:
    """The training range and density-map evidence of the model that made ``observations`` (see the module).

    Raises:
        ValueError: fewer than ``MIN_EACH`` images off or within tolerance among those whose map holds at least
            ``min_people`` (the evidence cannot be fitted), or a setting out of its range.
    """
    if not (tolerance > 0 and 0 <= false_alarms < 1 and 0 <= quantile < 0.5):
        raise ValueError(f"need tolerance > 0, 0 <= false_alarms < 1 and 0 <= quantile < 0.5; got {tolerance}, "
                         f"{false_alarms}, {quantile}")
    within = [o for o in observations if not o.off_by_more_than(tolerance)]
    judged = [o for o in observations if o.density.sum(dtype=np.float64) >= min_people]
    off = np.array([o.off_by_more_than(tolerance) for o in judged])
    if off.sum() < MIN_EACH or (~off).sum() < MIN_EACH:
        raise ValueError(
            f"the calibration data has {int(off.sum())} image(s) off by more than {tolerance:.0%} and "
            f"{int((~off).sum())} within it (maps holding at least {min_people:g} people); fitting the evidence "
            f"needs {MIN_EACH} of each: add training images"
        )
    statistics = np.array([[s[key] for key in MAP_STATISTICS] for s in map(_statistics, judged)])
    mean, scale = statistics.mean(axis=0), statistics.std(axis=0)
    scale[scale == 0] = 1.0  # a statistic that never varied carries no evidence; its weight stays near 0
    standard = (statistics - mean) / scale
    weights, bias = _fit_logistic(standard, off)
    scores = standard @ weights + bias
    outside_above = float(np.quantile(scores[~off], 1 - false_alarms))
    inside_below = min(float(scores[off].min()) - 1e-9, outside_above)
    good = statistics[~off]
    evidence = DensityEvidence(
        tuple(mean.tolist()), tuple(scale.tolist()), tuple(weights.tolist()), float(bias), outside_above,
        inside_below, {key: (float(good[:, i].min()), float(good[:, i].max())) for i, key in enumerate(MAP_STATISTICS)},
        min_people,
    )
    spacings = [s for s in (head_spacing(o.points) for o in within) if s is not None]
    people = [o.truth for o in within]
    declared = TrainingRange(
        people=(float(np.floor(np.quantile(people, quantile))), float(np.ceil(np.quantile(people, 1 - quantile)))),
        # To 0.1 px, outwards: the bounds never cut off the images they come from.
        head_spacing_px=(float(np.floor(np.quantile(spacings, quantile) * 10) / 10),
                         float(np.ceil(np.quantile(spacings, 1 - quantile) * 10) / 10)),
        head_size_px=head_size_px,
        evidence=evidence,
    )
    # The record says how the evidence does on the very images it was fitted on (the optimistic figure).
    counts = evidence_tally(declared, observations, tolerance)
    recorded = replace(evidence, calibration={**(calibration or {}), "on_calibration_data": counts})
    return replace(declared, evidence=recorded)


def evidence_tally(
    declared: TrainingRange, observations: Sequence[Observation], tolerance: float
) -> dict[str, dict[str, int]]:
    """The verdicts of ``declared`` without annotations (its density-map evidence) on ``observations``."""
    verdicts = [declared.judge_estimate(o.density, float(o.density.sum(dtype=np.float64)), o.area_pixels).in_range
                for o in observations]
    return tally(observations, verdicts, tolerance)


def _statistics(observation: Observation) -> dict[str, float]:
    statistics = map_statistics(observation.density)
    if statistics is None:  # fit_range keeps maps holding at least min_people > 0
        raise ValueError(f"{observation.data}/{observation.name}: an empty density map has no statistics")
    return statistics


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Class-balanced logistic regression with an L2 penalty on the weights: ``(weights, bias)``."""
    from scipy.optimize import minimize

    target = y.astype(np.float64)
    # Each class weighs half: the rarer kind of image is not drowned by the commoner one.
    balance = np.where(y, 0.5 / y.mean(), 0.5 / (1 - y.mean())) / len(y)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ params[1:] + params[0]
        probability = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        value = float(balance @ (np.logaddexp(0, z) - target * z) + L2 * params[1:] @ params[1:])
        residual = balance * (probability - target)
        return value, np.concatenate([[residual.sum()], x.T @ residual + 2 * L2 * params[1:]])

    fitted = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return fitted.x[1:], float(fitted.x[0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _training_split(spec: str) -> str:
    _, split = parse_spec(spec)
    if split is None or split.lower() != "train":
        raise argparse.ArgumentTypeError(
            f"{spec!r}: calibration reads training data only; give PATH:train (held-out splits are for "
            "`python -m workbench.training.measure_range`)"
        )
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = model_arguments(
        "workbench.training.calibrate_range",
        "Calibrate a density model's training range and density-map evidence on training data.",
        _training_split, "an annotated training split, PATH:train (repeat for several datasets)",
    )
    parser.add_argument("--false-alarms", type=float, default=0.05,
                        help="share of within-tolerance calibration images the evidence may call outside")
    parser.add_argument("--quantile", type=float, default=0.0,
                        help="the people/spacing bounds leave out this share of within-tolerance images at each end")
    parser.add_argument("--write", action="store_true", help="write the range into the description JSON")
    args = parser.parse_args(argv)

    json_path = description_path(args)
    description = ModelDescription.load(json_path)
    observations = observe_model(args, description)
    calibration = {
        "command": "python -m workbench.training.calibrate_range " + " ".join(sys.argv[1:] if argv is None else argv),
        "model_sha256": _sha256(args.model),
        "data": args.data,
        "images": len(observations),
        "tolerance": args.tolerance,
        "false_alarms": args.false_alarms,
        "date": date.today().isoformat(),
    }
    head_size = None if description.range is None else description.range.head_size_px
    declared = fit_range(observations, tolerance=args.tolerance, false_alarms=args.false_alarms,
                         quantile=args.quantile, head_size_px=head_size, calibration=calibration)
    counts = evidence_tally(declared, observations, args.tolerance)
    off = counts["off"]["images"]
    print(f"calibration data: {len(observations)} images, {off} off by more than {args.tolerance:.0%}")
    print(f"density-map evidence on the calibration data: {tally_line(counts, args.tolerance)}")
    fitted = ModelDescription.from_dict({**description.to_dict(), "range": declared.to_dict()}, str(json_path))
    if args.write:
        fitted.to_json(json_path)
        print(f"wrote the range into {json_path}")
    else:
        print(json.dumps({"range": declared.to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
