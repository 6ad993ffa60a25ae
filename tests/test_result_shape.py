"""One result shape: ``CountResult.asDict()``/``fromDict()`` with a version key, used by the server's estimate answer
and the prediction cache; ``as_counts``/``as_points`` instead of probing results (issue 29)."""
from __future__ import annotations

import ast
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from helpers.fake_estimators import default_factories, spot_image
from workbench.research import PredictionCache
from workbench.research.datasets import Sample
from workbench.result import RESULT_DICT_VERSION, CountResult, as_counts, as_points
from workbench.sdk import Rect, Vec2D

SPOTS = [(3, 4), (10, 20), (40, 30)]
WORKBENCH = Path(__file__).resolve().parent.parent / "workbench"


def full_result() -> CountResult:
    return CountResult(
        2, [(1.5, 2.5), (3.0, 4.0)], densityMap=np.random.default_rng(0).random((3, 4)),
        densityArea=Rect(0, 0, 16, 12), elapsed=0.0125, estimatorName="onnx", inRange=False,
        extras={"model": "wbcount", "tiles": [1, 2], "scale": np.float64(0.5), "flags": {"large": None}},
    )


# --- asDict / fromDict ---------------------------------------------------------------------------------------


def test_as_dict_has_a_version_and_reads_back_exactly_through_json() -> None:
    result = full_result()
    data = result.asDict(includeDensityMap=True)
    assert data["version"] == RESULT_DICT_VERSION == 1
    assert CountResult.fromDict(json.loads(json.dumps(data))) == result, "numbers, points, map, area, extras"


def test_as_dict_leaves_the_density_map_out_unless_asked() -> None:
    result = full_result()
    data = result.asDict()
    assert "densityMap" not in data and data["densityArea"] == {"x": 0, "y": 0, "width": 16, "height": 12}
    assert CountResult.fromDict(data) == result.replace(densityMap=None)
    assert CountResult(0).asDict(includeDensityMap=True)["densityMap"] is None


def test_from_dict_ignores_the_keys_of_the_documents_around_a_result() -> None:
    data = {**CountResult(1, [(2, 3)]).asDict(), "image": "a.jpg", "request_id": "r1", "points": [[2.0, 3.0]]}
    assert CountResult.fromDict(data) == CountResult(1, [(2, 3)])


def test_from_dict_refuses_an_unknown_version_or_a_missing_key() -> None:
    data = CountResult(1).asDict()
    with pytest.raises(ValueError, match="version 2 is not supported: this workbench reads version 1"):
        CountResult.fromDict({**data, "version": 2})
    with pytest.raises(ValueError, match="no 'version' key"):
        CountResult.fromDict({key: value for key, value in data.items() if key != "version"})
    with pytest.raises(ValueError, match=r"lacks the key\(s\) \['inRange'\]"):
        CountResult.fromDict({key: value for key, value in data.items() if key != "inRange"})
    with pytest.raises(TypeError, match="takes the dict asDict"):
        CountResult.fromDict([("count", 1)])  # type: ignore[arg-type]


def test_extras_must_be_json_values_named_in_the_error() -> None:
    assert CountResult(0, extras={"n": np.int64(3), "pair": (1, 2)}).extras == {"n": 3, "pair": [1, 2]}
    with pytest.raises(TypeError, match=r"extras\['model'\] is of type object, not a JSON value"):
        CountResult(0, extras={"model": object()})
    with pytest.raises(TypeError, match=r"extras\['sizes'\]\[1\] is of type ndarray"):
        CountResult(0, extras={"sizes": [1, np.zeros(2)]})
    with pytest.raises(ValueError, match=r"extras\['score'\] is nan"):
        CountResult(0, extras={"score": float("nan")})
    with pytest.raises(TypeError, match="str keys only"):
        CountResult(0, extras={"by": {1: "a"}})


# --- the server's answer -------------------------------------------------------------------------------------


async def test_the_estimate_answer_is_as_dict_with_the_old_keys_as_aliases(workbench_client, project_plugins):
    client = await workbench_client(project_plugins, [], default_estimators=default_factories())
    buffer = io.BytesIO()
    spot_image(SPOTS).asPillow().save(buffer, "PNG")
    response = await client.post("/estimators/peopleCountEstimator/estimate", data=buffer.getvalue())
    assert response.status == 200
    answer = await response.json()
    result = CountResult.fromDict(answer)
    assert result.count == 3 and sorted(map(tuple, result.pointsArray.tolist())) == sorted(
        (float(x), float(y)) for x, y in SPOTS
    )
    assert answer["version"] == 1 and answer["estimator"] == "default" and answer["inRange"] is None
    assert answer["points"] == answer["coordinates"], "alias kept one release"
    assert answer["elapsed_ms"] == round(answer["elapsed"] * 1000, 3), "alias kept one release"


# --- the prediction cache ------------------------------------------------------------------------------------


def test_a_cache_file_reads_back_what_was_put(tmp_path: Path) -> None:
    result = full_result()
    with PredictionCache(tmp_path / "cache.sqlite") as store:
        store.put("k", result, estimator="e", image_sha256="d")
    with PredictionCache(tmp_path / "cache.sqlite") as store:
        assert store.get("k") == result
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        [(stored,)] = db.execute("SELECT result FROM predictions").fetchall()
    assert json.loads(stored) == result.asDict(), "the row holds asDict(), the map beside it"


def test_a_cache_file_of_the_old_layout_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE predictions (key TEXT PRIMARY KEY, estimator TEXT NOT NULL, image_sha256 TEXT NOT NULL, "
            "detect_area TEXT, targets TEXT NOT NULL, count INTEGER NOT NULL, points BLOB NOT NULL, density BLOB, "
            "density_shape TEXT, density_area TEXT, elapsed REAL, estimator_name TEXT, in_range INTEGER, "
            "extras TEXT NOT NULL, created REAL NOT NULL)"
        )
    db.close()
    with pytest.raises(ValueError, match="of an older workbench .*; delete it"):
        PredictionCache(path)


# --- adapters instead of probing -----------------------------------------------------------------------------


def test_as_counts_and_as_points_take_results_samples_and_plain_values(tmp_path: Path) -> None:
    result = CountResult(2, [Vec2D(1, 2), Vec2D(3, 4)])
    sample = Sample("a", tmp_path / "a.png", points=np.array([[5.0, 6.0]]))
    np.testing.assert_array_equal(as_counts([result, sample, 7, np.int64(1)]), [2, 1, 7, 1])
    np.testing.assert_array_equal(as_points(result), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(as_points(result.coordinates), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(as_points(sample), [[5, 6]])
    assert as_points([]).shape == (0, 2)
    unannotated = Sample("b", tmp_path / "b.png")
    with pytest.raises(ValueError, match=r"truth\[1\] has no count"):
        as_counts([sample, unannotated], "truth")
    with pytest.raises(ValueError, match="truth has no points"):
        as_points(unannotated, "truth")


def test_no_module_imports_a_private_name_of_a_public_sibling() -> None:
    # A private helper another module needs belongs, public, to the module that owns it (e.g. metrics'
    # precision_recall_f1, result's as_points); a private module's helpers stay within its own package.
    offenders = []
    for path in WORKBENCH.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level or not node.module:
                continue
            if node.module.split(".")[-1].startswith("_"):
                continue
            source = path.parent.joinpath(*[".."] * (node.level - 1), *node.module.split("."))
            for alias in node.names:
                is_submodule = (source / f"{alias.name}.py").exists() or (source / alias.name).is_dir()
                if alias.name.startswith("_") and not alias.name.startswith("__") and not is_submodule:
                    offenders.append(f"{path.relative_to(WORKBENCH.parent)}: from {node.module} import {alias.name}")
    assert offenders == []
