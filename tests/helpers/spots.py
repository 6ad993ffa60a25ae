"""A tiny annotated dataset of white spots on black, and replacement plugins to run on it.

The stand-in default estimator (``BrightPixelCounter``) finds exactly the white pixels, so every score on
``spots_dataset`` can be worked out by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# A replacement estimator with a density map: one unit of density per white pixel (4x4 cells), a count one
# too high, and its points shifted 15 px right (missed at a 10 px threshold, matched at 20 px).
DENSITY_PLUGIN = """
    import numpy as np
    from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
    from helpers.fake_estimators import bright_pixels
    from workbench.plugins import EstimatorBase
    from workbench.result import CountResult
    from workbench.sdk import Rect

    class PooledDensity(EstimatorBase):
        def close(self):
            pass

        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            out = []
            for image in images:
                spots = bright_pixels(image, 200)
                density = np.zeros((image.rect.height // 4, image.rect.width // 4), np.float32)
                np.add.at(density, ((spots[:, 1] // 4).astype(int), (spots[:, 0] // 4).astype(int)), 1.0)
                out.append(CountResult(len(spots) + 1, spots + [15.0, 0.0], densityMap=density,
                                       densityArea=image.rect))
            return out

    class DensityPlugin(EstimatorReplacementPlugin):
        @property
        def estimatorBrokerName(self):
            return "peopleCountEstimator"

        def createReplacementEstimator(self):
            return PooledDensity()
"""

FAILING_PLUGIN = """
    from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
    from workbench.plugins import EstimatorBase

    class FailingEstimator(EstimatorBase):
        def close(self):
            pass

        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            raise RuntimeError("this estimator always fails")

    class FailingPlugin(EstimatorReplacementPlugin):
        @property
        def estimatorBrokerName(self):
            return "peopleCountEstimator"

        def createReplacementEstimator(self):
            return FailingEstimator()
"""

SPOTS = {  # image -> (white pixels, annotated head points)
    "spots_1": ([(10, 10), (30, 20), (50, 40)], [(10, 10), (30, 20), (50, 40)]),
    "spots_2": ([(20, 30), (40, 10)], [(20, 30), (40, 10), (70, 50)]),
    "spots_3": ([(5, 5), (15, 15), (25, 25), (35, 35)], [(5, 5)]),
}


@pytest.fixture
def spots_dataset(tmp_path: Path):
    # Imported here, not at the top: conftest registers this module before any test needs the research layer.
    from workbench.research import load_dataset

    root = tmp_path / "spots"
    (root / "images").mkdir(parents=True)
    (root / "points").mkdir()
    for name, (white, heads) in SPOTS.items():
        pixels = np.zeros((64, 96, 3), np.uint8)
        for x, y in white:
            pixels[y, x] = 255
        Image.fromarray(pixels).save(root / "images" / f"{name}.png")
        (root / "points" / f"{name}.json").write_text(json.dumps({"points": heads, "count": len(heads)}))
    return load_dataset(root)
