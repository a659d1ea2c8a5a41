"""The server-side SVG charts: well-formed markup, a title and axis labels, the numbers table,
escaped labels, and the edge cases (no data, one point)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from pushgate.dashboard.charts import Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
CHARTS = [line_chart, bar_chart]


def _draw(chart, **overrides):  # type: ignore[no-untyped-def]
    values = dict(
        chart_id="deliveries",
        title="Deliveries per minute",
        x_label="Minute (UTC)",
        y_label="Deliveries",
        x_ticks=["10:00", "10:01", "10:02"],
        series=[Series("Accepted", [3, 5, 0]), Series("Delivered", [2, 4.5, 1])],
    )
    values.update(overrides)
    markup = chart(**values)
    assert isinstance(markup, Markup)
    return markup, ET.fromstring(str(markup))  # raises on markup that is not well-formed


def _texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_is_a_figure_with_an_accessible_svg_and_axis_labels(chart) -> None:  # type: ignore[no-untyped-def]
    markup, figure = _draw(chart)
    assert figure.tag == "figure" and figure.get("id") == "deliveries"
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "deliveries-title"
    title = svg.find(f"{SVG}title")
    assert title is not None and title.text == "Deliveries per minute"
    assert title.get("id") == "deliveries-title"
    texts = _texts(svg)
    assert "Minute (UTC)" in texts and "Deliveries" in texts
    assert {"10:00", "10:01", "10:02"} <= set(texts)
    assert {"Accepted", "Delivered"} <= set(texts)  # the legend
    # Nothing to run and nothing to fetch: the dashboard's CSP allows neither.
    assert "<script" not in markup and "href" not in markup and "style=" not in markup
    assert "http://" not in markup.replace('xmlns="http://www.w3.org/2000/svg"', "")


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_table_holds_every_number(chart) -> None:  # type: ignore[no-untyped-def]
    _, figure = _draw(chart)
    table = figure.find("details/table")
    assert table is not None and table.get("id") == "deliveries-table"
    assert "".join(table.find("caption").itertext()) == "Deliveries per minute"  # type: ignore[union-attr]
    head = ["".join(th.itertext()) for th in table.iter("th") if th.get("scope") == "col"]
    assert head == ["Minute (UTC)", "Accepted", "Delivered"]
    rows = [["".join(c.itertext()) for c in tr] for tr in table.find("tbody")]  # type: ignore[union-attr]
    assert rows == [["10:00", "3", "2"], ["10:01", "5", "4.50"], ["10:02", "0", "1"]]


def test_line_chart_draws_a_line_per_series_and_bar_chart_a_bar_per_value() -> None:
    _, lines = _draw(line_chart)
    assert len(lines.findall(f".//{SVG}polyline")) == 2
    _, bars = _draw(bar_chart)
    # Six bars plus the two legend swatches.
    assert len(bars.findall(f".//{SVG}rect")) == 6 + 2


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_labels_are_escaped(chart) -> None:  # type: ignore[no-untyped-def]
    evil = '<script>alert("x")</script> & co'
    markup, figure = _draw(
        chart,
        title=evil,
        x_label=evil,
        y_label=evil,
        x_ticks=[evil],
        series=[Series(evil, [1]), Series("b", [2])],
    )
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert evil in _texts(svg)
    assert figure.find(f"{SVG}svg/{SVG}title").text == evil  # type: ignore[union-attr]


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_without_data_says_so(chart) -> None:  # type: ignore[no-untyped-def]
    for ticks, series in (([], [Series("Accepted", [])]), (["10:00"], [])):
        _, figure = _draw(chart, x_ticks=ticks, series=series)
        svg = figure.find(f"{SVG}svg")
        assert svg is not None and "No data" in _texts(svg)
        assert not svg.findall(f".//{SVG}polyline") and not svg.findall(f".//{SVG}circle")
        table = figure.find("details/table")
        assert table is not None
        assert "No data" in "".join(table.find("tbody").itertext())  # type: ignore[union-attr]


def test_line_chart_with_one_point_draws_a_dot() -> None:
    _, figure = _draw(line_chart, x_ticks=["10:00"], series=[Series("Accepted", [7])])
    assert not figure.findall(f".//{SVG}polyline")  # a one-point line would be invisible
    assert len(figure.findall(f".//{SVG}circle")) == 1


def test_bar_chart_with_one_point_draws_one_bar() -> None:
    _, figure = _draw(bar_chart, x_ticks=["Clicked"], series=[Series("People", [7])])
    assert len(figure.findall(f".//{SVG}rect")) == 1


def test_many_x_ticks_are_thinned_but_the_table_keeps_them_all() -> None:
    ticks = [f"{m // 60:02d}:{m % 60:02d}" for m in range(120)]
    _, figure = _draw(line_chart, x_ticks=ticks, series=[Series("Accepted", list(range(120)))])
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    labelled = [t for t in _texts(svg) if t in ticks]
    assert 2 <= len(labelled) <= 12
    assert len(figure.findall("details/table/tbody/tr")) == 120


def test_y_axis_reaches_a_round_number_above_the_largest_value() -> None:
    _, figure = _draw(bar_chart, x_ticks=["a"], series=[Series("n", [730])])
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert "1,000" in _texts(svg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chart_id": "1 bad id"}, "chart_id"),
        ({"chart_id": 'x" onload="y'}, "chart_id"),
        ({"series": [Series("short", [1])]}, "has 1 values for 3 x ticks"),
        ({"series": [Series("nan", [1, float("nan"), 2])]}, "finite"),
    ],
)
def test_chart_refuses_bad_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _draw(line_chart, **overrides)


def test_small_counts_get_whole_number_ticks() -> None:
    _, figure = _draw(bar_chart, x_ticks=["a", "b"], series=[Series("n", [1, 2])])
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    ticks = [t for t in _texts(svg) if t.replace(".", "").isdigit()]
    assert ticks == ["0", "1", "2", "3", "4", "5"]
    _, figure = _draw(line_chart, x_ticks=["a"], series=[Series("rate", [0.3])])
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    assert "0.20" in _texts(svg)  # fractions keep their fine scale
