"""Write the README's example figures into docs/ (``python notebooks/_docs_figures.py [OUT_DIR]``).

Count scatter and ranked errors come from a real comparison on the crowd-mini test split (they show only
numbers and image names). The figures that show pictures (density overlay, points vs ground truth,
estimator grid) are drawn on SYNTHETIC images and say so: crowd-mini's photos may not be redistributed.
Needs ../shared/data/crowd-mini, the default model and the people_count_onnx plugin's model.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from workbench import Workbench
from workbench.research import load_dataset, make_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]
CROWD_MINI = ROOT.parent / "shared" / "data" / "crowd-mini"
SYNTHETIC_NOTE = "synthetic sample images (drawn by make_synthetic_dataset), not photos"


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    real = load_dataset(CROWD_MINI, split="test")
    drawn = make_synthetic_dataset(tempfile.mkdtemp(prefix="workbench-docs-"), n=12, size=(1024, 768), seed=1)
    synthetic = load_dataset(drawn.root, split="test")
    with Workbench(ROOT / "plugins", "people_count_onnx.plugin") as wb:
        plugin = next(n for n in wb.estimator_choices["peopleCountEstimator"] if n != "default")
        on_real = wb.compare(real, ["default", plugin], progress=False)
        on_synthetic = wb.compare(synthetic, ["default", plugin], progress=False)
    print(on_real.summary.round(3).to_string())
    figures = on_real.figures()
    figures["count_scatter"].savefig(out / "count_scatter.png", dpi=100)
    figures[f"ranked_errors_{plugin}"].savefig(out / "ranked_errors.png", dpi=100)
    drawn_figures = on_synthetic.figures(grid_images=2, detail_images=1)
    picks = {
        "estimator_grid.png": "estimator_grid",
        "density_overlay.png": next(k for k in drawn_figures if k.startswith("density_default_")),
        "points_vs_gt.png": next(k for k in drawn_figures if k.startswith(f"points_{plugin}_")),
    }
    for file_name, key in picks.items():
        drawn_figures[key].suptitle(SYNTHETIC_NOTE, fontsize=9)
        drawn_figures[key].savefig(out / file_name, dpi=90)
    print(f"wrote {', '.join(['count_scatter.png', 'ranked_errors.png', *picks])} to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
