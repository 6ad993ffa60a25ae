"""How comparisons show themselves: per-estimator progress bars, one precision per column, whole counts, units,
tables that scroll instead of being cut."""
from __future__ import annotations

import re

import pytest

from helpers.fake_estimators import default_factories
from helpers.spots import DENSITY_PLUGIN
from workbench import Workbench
from workbench.research import compare


@pytest.fixture
def report(plugin_folder, spots_dataset, capsys):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        yield compare(wb, spots_dataset, ["default", "DensityPlugin"], progress=True)


def test_each_estimator_has_its_own_named_progress_bar(report, capsys):
    bars = capsys.readouterr().err
    for name in ("default", "DensityPlugin"):
        assert re.search(rf"{name}: estimating: 100%[^\r\n]*3/3", bars), f"no finished bar for {name}: {bars!r}"


def _cells(table_html: str) -> dict[str, list[str]]:
    headings = dict(re.findall(r'class="col_heading level0 col(\d+)" >([^<]*)</th>', table_html))
    columns: dict[str, list[str]] = {}
    for column, text in re.findall(r'class="data row\d+ col(\d+)" >([^<]*)</td>', table_html):
        columns.setdefault(headings[column], []).append(text)
    return columns


def test_summary_shows_one_precision_per_column_whole_counts_and_units(report):
    page = report.summary_table().to_html()
    columns = _cells(page)
    assert columns["images"] == ["3", "3"] and columns["annotated"] == ["3", "3"], "counts, not 3.0"
    for name, places in (("MAE", 2), ("F1@10", 3), ("p50 ms", 1), ("images/s", 1)):
        assert all(re.fullmatch(rf"\d+\.\d{{{places}}}", value) for value in columns[name]), (name, columns[name])
    assert "milliseconds" in page and "people" in page, "the caption gives the units"
    assert "overflow-x:auto" in page, "a wide table scrolls instead of being cut"
    assert "overflow-x:auto" in report._repr_html_()


@pytest.mark.slow  # over 2 s here
def test_counts_are_integers_in_every_rendering(report, tmp_path):
    table = report.counts_table()
    assert all(str(dtype) == "Int64" for dtype in table.dtypes)
    assert not re.search(r"<td>\d+\.\d+</td>", table.to_html())
    page = report.to_html(tmp_path / "report.html").read_text()
    counts = _cells(page.split("<h2>Per image</h2>", 1)[1].split("</table>", 1)[0])
    assert counts["true"] == ["1", "3", "3"] and counts["default error"] == ["3", "0", "-1"], counts
