"""Whether one run of a bench settles a goal on a ratio, when its rounds spread by 10-30 %.

A goal a few per cent from the median of the per-round ratios cannot be told from round-to-round noise: the
median's 90 % bootstrap interval says whether this run settles it ("met" or "missed" only when the whole
interval lies on one side of the goal).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

BOOTSTRAP = 10_000  # resamples of the rounds for a ratio's interval
NOT_SETTLED = "not settled by this run"


class Verdict(NamedTuple):
    goal: float
    said: str  # "met", "missed" or NOT_SETTLED
    low: float
    high: float

    def __str__(self) -> str:
        # Two decimals, or more where two would round an end of the interval onto the goal and hide its side.
        digits = 2
        while digits < 4 and f"{self.goal:.{digits}f}" in (f"{self.low:.{digits}f}", f"{self.high:.{digits}f}"):
            digits += 1
        return f"goal >= {self.goal}: {self.said} (median's 90 % interval {self.low:.{digits}f}-{self.high:.{digits}f})"


def verdict(per_round: Sequence[float], goal: float) -> Verdict:
    """What ratios measured round by round say about reaching ``goal``."""
    rounds = np.asarray(per_round, dtype=float)
    medians = np.median(np.random.default_rng(0).choice(rounds, (BOOTSTRAP, len(rounds))), axis=1)
    low, high = np.percentile(medians, [5, 95])
    said = "met" if low >= goal else "missed" if high < goal else NOT_SETTLED
    return Verdict(goal, said, float(low), float(high))


def overall(verdicts: Iterable[Verdict]) -> str:
    """"met" when every goal is met, "missed" when one is missed, else NOT_SETTLED."""
    said = {v.said for v in verdicts}
    return "missed" if "missed" in said else "met" if said == {"met"} else NOT_SETTLED
