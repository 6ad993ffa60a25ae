"""``compare`` with an estimator whose output the host refuses (issue 31, finding 7): the image fails alone, named
with the estimator and the reason, and the report is still scored and written. Before, an infinite map ended
``workbench compare`` after the CSVs ("Out of range float values are not JSON compliant", exit 2 as bad input, no
HTML), a count of 1e30 overflowed SQLite with ``--cache``, and 300 points for a count of 3 were scored."""
from __future__ import annotations

import functools
import json
import math

import pandas as pd
import pytest

from helpers.bad_output import ANSWERS, BROKEN, REASONS, broken_plugin_source
from helpers.fake_estimators import default_factories
from helpers.local_ray import start_local_ray
from workbench import Workbench
from workbench.research import PredictionCache, compare

FAILING_IMAGE = "spots_2"


@pytest.fixture
def broken_host(plugin_folder, request):
    """A host whose BrokenPlugin answers ``request.param`` (a key of ``ANSWERS``) for spots_2 only."""
    module = plugin_folder.add("broken", broken_plugin_source(ANSWERS[request.param], marker=FAILING_IMAGE))
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        yield wb


@pytest.mark.parametrize("broken_host", ["infinite map", "more points than count", "NaN map"], indirect=True)
def test_the_failed_image_is_reported_and_the_rest_scored(broken_host, spots_dataset, tmp_path, request):
    case = request.node.callspec.params["broken_host"]
    report = compare(broken_host, spots_dataset, [BROKEN, "default"], progress=False)

    rows = report.per_image.set_index(["estimator", "image"])
    failed = rows.loc[(BROKEN, FAILING_IMAGE)]
    assert REASONS[case] in failed["failure"] and f"estimator {BROKEN!r}" in failed["failure"]
    assert math.isnan(failed["pred_count"]) and math.isnan(failed["game_0"])
    assert rows["failure"].notna().sum() == 1, "the other images and the other estimator are answered"
    assert rows.loc[(BROKEN, "spots_1"), "pred_count"] == 1
    assert report.results[BROKEN][1] is None and report.results[BROKEN][0].count == 1

    summary = report.summary
    assert summary.loc[BROKEN, "failed"] == 1 and summary.loc["default", "failed"] == 0
    assert summary.loc[BROKEN, "annotated"] == 2, "scores cover the answered images"
    # MAE and GAME(0) agree on the answered images (300 points for a count of 3 made them differ by 236).
    assert summary.loc[BROKEN, "MAE"] == pytest.approx(summary.loc[BROKEN, "GAME(0)"])
    assert any(note.startswith(f"{BROKEN}: failed on 1 of 3 images") and REASONS[case] in note
               for note in report.notes)
    assert not any("cannot tell" in note for note in report.notes), "a failed image is not an undecided range"

    document = json.loads(report.to_json(tmp_path / "report.json").read_text())
    assert document["results"][BROKEN][1] == {"image": FAILING_IMAGE, "failed": True}
    assert report.to_html(tmp_path / "report.html", figures=report.figures()).is_file()


@pytest.mark.parametrize("broken_host", ["count 1e30"], indirect=True)
def test_a_huge_count_is_not_cached_and_fails_again(broken_host, spots_dataset, tmp_path):
    """With a cache the count of 1e30 overflowed SQLite's integers in a raw traceback."""
    cache = tmp_path / "cache.sqlite"
    for run in range(2):
        report = compare(broken_host, spots_dataset, [BROKEN], progress=False, cache=cache)
        rows = report.per_image.set_index("image")
        assert "more than the 6144 pixels" in rows.loc[FAILING_IMAGE, "failure"]
        assert rows["cached"].tolist() == [run == 1, False, run == 1]
    with PredictionCache(cache) as store:
        assert len(store) == 2


def test_the_cli_writes_the_report_and_names_the_estimator(plugin_folder, spots_dataset, tmp_path, monkeypatch,
                                                           capsys):
    import workbench.research._cli as compare_cli
    from workbench.cli import main

    module = plugin_folder.add("broken", broken_plugin_source(ANSWERS["infinite map"], marker=FAILING_IMAGE))
    monkeypatch.setattr(compare_cli, "Workbench", functools.partial(Workbench, default_estimators=default_factories()))
    out = tmp_path / "out"
    code = main(["compare", str(spots_dataset.root), "--plugins-dir", str(plugin_folder.root), "--active", module,
                 "--estimators", f"{BROKEN},default", "--out", str(out), "--no-progress"])

    err = capsys.readouterr().err
    assert code == 1, err
    assert f"{BROKEN}: failed on 1 of 3 images" in err and "non-finite cell(s) (inf)" in err
    for name in ("report.html", "report.json", "per_image.csv", "summary.csv"):
        assert (out / name).is_file(), name
    per_image = pd.read_csv(out / "per_image.csv")
    assert per_image["failure"].notna().sum() == 1


@pytest.mark.slow
def test_a_failed_image_comes_back_from_ray_actors(plugin_folder, spots_dataset):
    """The Ray runner's actors check their hosts' output as the local runner does, and hand failures back."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'workbench[ray]')")
    module = plugin_folder.add("broken", broken_plugin_source(ANSWERS["infinite map"], marker=FAILING_IMAGE))
    start_local_ray(ray, num_cpus=1)
    try:
        with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
            report = compare(wb, spots_dataset, [BROKEN], engine="ray", actors=1, progress=False)
    finally:
        ray.shutdown()
    failures = report.per_image.set_index("image")["failure"]
    assert failures.notna().tolist() == [False, True, False]
    assert REASONS["infinite map"] in failures[FAILING_IMAGE] and report.results[BROKEN][0].count == 1
