"""GAME conventions: the exact (area-weighted) grid and the integer blocks of the published evaluation code."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.research.metrics import game, game_image, grid_counts_from_density, grid_counts_from_points
from workbench.result import CountResult

# A 5x5 image: at level 1 the exact cells are 2.5 px wide, the published blocks 2 px (row/column 4 is in none).
SIZE = (5, 5)
GT = np.array([[0.5, 0.5], [2.5, 0.5], [3.5, 3.5], [4.5, 2.0]])
UNIFORM = np.full((5, 5), 0.2)  # a density map at full resolution, 1.0 per image row


def test_blocks_match_a_hand_computation_on_an_indivisible_size() -> None:
    # Blocks of 2x2 px, each holding 4 px of 0.2 = 0.8 predicted. True: (0.5,0.5) -> block (0,0);
    # (2.5,0.5) -> pixel column 2 -> block (0,1); (3.5,3.5) -> (1,1); (4.5,2.0) -> pixel column 4: no block.
    np.testing.assert_allclose(grid_counts_from_density(UNIFORM, None, SIZE, 1, convention="blocks"), [[0.8] * 2] * 2)
    np.testing.assert_array_equal(grid_counts_from_points(GT, SIZE, 1, convention="blocks"), [[1, 1], [0, 1]])
    by_hand = abs(0.8 - 1) + abs(0.8 - 1) + abs(0.8 - 0) + abs(0.8 - 1)
    assert game_image(UNIFORM_RESULT, GT, SIZE, 1, convention="blocks") == pytest.approx(by_hand)  # 1.4
    # The exact grid: 2.5x2.5 px cells of 1.25 each; (4.5, 2.0) falls in cell (0, 1).
    np.testing.assert_array_equal(grid_counts_from_points(GT, SIZE, 1), [[1, 2], [0, 1]])
    exact = abs(1.25 - 1) + abs(1.25 - 2) + abs(1.25 - 0) + abs(1.25 - 1)  # 2.5
    assert game_image(UNIFORM_RESULT, GT, SIZE, 1) == pytest.approx(exact)
    assert game_image(UNIFORM_RESULT, GT, SIZE, 1, convention="blocks") != pytest.approx(exact)


def test_conventions_agree_when_the_size_divides() -> None:
    density = np.random.default_rng(0).random((8, 12))
    result = density_result(density)
    points = np.random.default_rng(1).uniform(0, 8, size=(30, 2)) * [1.5, 1]
    for level in (0, 1, 2):
        assert game([result], [points], [(12, 8)], level, convention="blocks") == pytest.approx(
            game([result], [points], [(12, 8)], level)
        )


def test_blocks_with_a_coarse_map_box_upsample_it() -> None:
    # A stride-2 map over a 5x5 image: each map pixel spreads over 2.5x2.5 image pixels.
    coarse = np.array([[1.0, 2.0], [3.0, 4.0]])
    blocks = grid_counts_from_density(coarse, None, SIZE, 1, convention="blocks")
    # Block (0,0) is pixels [0,2)x[0,2): 4 of the 6.25 px of map pixel (0,0) -> 1.0 * 4/6.25.
    assert blocks[0, 0] == pytest.approx(4 / 6.25)
    assert blocks.sum() < coarse.sum()  # the dropped last row/column held mass


def test_unknown_convention_is_named() -> None:
    with pytest.raises(ValueError, match=r"convention must be one of 'exact', 'blocks', got 'integer'"):
        game_image(GT, GT, SIZE, 1, convention="integer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="would be empty"):
        grid_counts_from_points(GT, SIZE, 3, convention="blocks")


def density_result(density: np.ndarray) -> CountResult:
    """A result carrying ``density`` as its map over the whole image (GAME reads a map from a CountResult only)."""
    return CountResult(int(round(density.sum())), densityMap=density)


UNIFORM_RESULT = density_result(UNIFORM)
