"""Issue 32, finding 6: the HTML report's page, as a reader sees it.

The summary fits the page (two tables, each in a box that scrolls sideways on its own where it must), the
figures share rows in a grid instead of one column, the default estimator has one name everywhere (its label,
``default (wbcount)``, where the figures used to say the model's ``wbcount``), the title says what was compared
on which data, and the images the range warning counts are listed on the page, not only in a CSV.
The real default model runs on the three tiny spots images (a second or two).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from helpers.fake_estimators import default_factories
from helpers.spots import DENSITY_PLUGIN
from workbench import Workbench
from workbench.cli import main
from workbench.research import compare
from workbench.research.report import _CSS

DEFAULT_LABEL = "default (wbcount)"


class _Page(HTMLParser):
    """The parts of a report page the tests read: the title, each table's enclosing box and header cells, the
    figure grid's figures, and the text under the range section."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.open: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self.tables: list[dict[str, object]] = []
        self.figures_in_grid = 0
        self.figures = 0
        self.text_by_section: dict[str, str] = {}
        self._section = ""
        self.feed(text)

    def _classes(self, attrs: dict[str, str | None]) -> set[str]:
        return set((attrs.get("class") or "").split())

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "table":
            parent_tag, parent_attrs = self.open[-1]
            self.tables.append({"box": parent_tag == "div" and "table-box" in self._classes(parent_attrs),
                                "headers": []})
        if tag == "figure":
            self.figures += 1
            self.figures_in_grid += any(t == "div" and "figures" in self._classes(a) for t, a in self.open)
        if tag == "h2":
            self._section = ""
        if tag not in ("img", "meta", "br", "input"):
            self.open.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        tags = [t for t, _ in self.open]
        if tags and tags[-1] == "title":
            self.title += data
        elif tags and tags[-1] == "h2":
            self._section += data
        elif "th" in tags and "thead" in tags and self.tables:
            self.tables[-1]["headers"].append(data.strip())  # type: ignore[union-attr]
        if self._section and "h2" not in tags:
            self.text_by_section[self._section] = self.text_by_section.get(self._section, "") + data


@pytest.fixture
def report(plugin_folder, spots_dataset):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module]) as wb:  # the real default model, labelled by its model
        yield compare(wb, spots_dataset, ["default", "DensityPlugin"], progress=False)


@pytest.fixture
def page(report, tmp_path) -> _Page:
    return _Page(report.to_html(tmp_path / "report").read_text())


def test_every_table_scrolls_in_its_own_box_and_the_summary_is_split_to_fit(report, page):
    assert page.tables and all(table["box"] for table in page.tables), "each table inside a div.table-box"
    box_rule = re.search(r"\.table-box\s*\{([^}]*)\}", _CSS)
    assert box_rule and "overflow-x: auto" in box_rule.group(1), "the box scrolls sideways, not the page"
    # The summary's columns are all on the page, in two tables of at most 14 columns each (the 22 side by side
    # were 1,631 px wide on a 1,200 px page, cutting off the latency columns).
    summary_tables = page.tables[:2]
    shown = [header for table in summary_tables for header in table["headers"] if header]  # type: ignore[union-attr]
    assert set(report.summary.columns) <= set(shown)
    assert "MAE" in summary_tables[0]["headers"] and "p99 ms" in summary_tables[1]["headers"]  # type: ignore[operator]
    assert all(len([h for h in t["headers"] if h]) <= 15 for t in summary_tables)  # type: ignore[union-attr]


def test_the_skipped_images_table_scrolls_in_its_box_too(plugin_folder, spots_dataset, tmp_path):
    broken = spots_dataset[1].image_path
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])  # its header reads, its pixels do not
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        report = compare(wb, spots_dataset, ["default"], progress=False, on_error="skip")
    page = _Page(report.to_html(tmp_path / "report").read_text())
    assert len(report.skipped) == 1 and len(page.tables) >= 4  # summary (2), skipped, per image, all scores
    assert all(table["box"] for table in page.tables), "each table inside a div.table-box"


def test_figures_share_rows_in_a_responsive_grid(report, page):
    assert page.figures == page.figures_in_grid == len(report.figures()), "every figure is in div.figures"
    grid_rule = re.search(r"\.figures\s*\{([^}]*)\}", _CSS)
    assert grid_rule and "display: grid" in grid_rule.group(1)
    assert "auto-fill" in grid_rule.group(1), "as many columns as the window holds"


def test_the_default_has_one_name_in_figures_tables_and_notes(report, page, tmp_path):
    assert report.labels["default"] == DEFAULT_LABEL
    assert report.results["default"][0].estimatorName == "wbcount", "the result names its model"
    for key, figure in report.figures().items():
        words = " ".join(
            [ax.get_title() for ax in figure.axes]
            + [text.get_text() for ax in figure.axes if ax.get_legend() for text in ax.get_legend().get_texts()]
        )
        assert "wbcount" not in words.replace(DEFAULT_LABEL, ""), f"{key}: {words!r}"
        if "default" in key or key in ("count_scatter", "estimator_grid"):
            assert DEFAULT_LABEL in words, f"{key}: {words!r}"
    per_image_headers = [h for table in page.tables for h in table["headers"]]  # type: ignore[attr-defined]
    assert f"{DEFAULT_LABEL} error" in per_image_headers and "default error" not in per_image_headers
    assert all(note.startswith((DEFAULT_LABEL, "DensityPlugin")) for note in report.notes), report.notes


def test_the_title_names_the_estimators_the_data_and_its_size(page, spots_dataset):
    assert page.title == f"Estimator comparison: {DEFAULT_LABEL}, DensityPlugin on {spots_dataset.name} (3 images)"


@pytest.mark.slow  # the default model on a generated image, through the command line
def test_the_demo_on_generated_images_is_not_titled_after_their_folder(tmp_path, capsys):
    (tmp_path / "plugins").mkdir()
    status = main(["compare", "synthetic", "--out", str(tmp_path / "out"), "--limit", "1", "--no-progress",
                   "--estimators", "default", "--plugins-dir", str(tmp_path / "plugins"), "--active", ""])
    assert status == 0, capsys.readouterr().err
    title = _Page((tmp_path / "out" / "report.html").read_text()).title
    assert title == f"Estimator comparison: {DEFAULT_LABEL} on synthetic sample images (1 image)", title


def test_the_images_outside_the_range_are_listed_where_the_warning_points(report, page):
    flagged = report.per_image[report.per_image["in_range"] == False]  # noqa: E712 (elementwise)
    assert len(flagged), "the spots images (1 to 3 people in 96x64 px) are outside the default's range"
    listed = page.text_by_section["Outside the training range"]
    for row in flagged.itertuples():
        assert row.image in listed and row.range_reason in listed
    note = next(note for note in report.notes if "outside its declared training range" in note)
    assert "listed in the report's 'Outside the training range' table" in note
