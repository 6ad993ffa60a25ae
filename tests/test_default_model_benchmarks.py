"""The default model against the public benchmark it was trained for (issue 30): on ShanghaiTech's full test
splits it must beat MCNN's published weights (Part A MAE 109.8, Part B 25.2 as the issue measured them) and hold
the figures its model card states. Needs the data (skipped, saying where to put it, when absent)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.datasets import shanghaitech_part
from workbench.training.evaluate import evaluate_model, load_images

#: MCNN's MAE on each part's test split, as the issue measured its published weights: the bar to beat.
MCNN_MAE = {"A": 109.8, "B": 25.2}
#: The card's figures come from `compare` (its own preprocessing); evaluate's may differ by this much.
CARD_MARGIN = 1.0


def _card_mae(repo_root: Path, part: str) -> float:
    card = (repo_root / "models" / "MODEL_CARD.md").read_text()
    row = re.search(rf"\| {part} \(\d+\) \| \*\*default \(wbcount\)\*\* \| \*\*([0-9.]+)\*\* \|", card)
    assert row, f"the model card states the default's Part {part} MAE in its Results table"
    return float(row.group(1))


@pytest.mark.slow  # the default model over a full test split
@pytest.mark.parametrize("part", ["A", "B"])
def test_the_default_beats_mcnn_on_the_full_test_split(repo_root: Path, part: str) -> None:
    data = shanghaitech_part(part)
    result = evaluate_model(str(repo_root / "models" / "wbcount.onnx"), load_images(data, "test"), repeats=1)
    assert result.mae < MCNN_MAE[part], result.mae
    assert result.mae <= _card_mae(repo_root, part) + CARD_MARGIN, result.mae
