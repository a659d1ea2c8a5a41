"""Charts drawn on the server as inline SVG: no chart library, no CDN, nothing to load, so a
chart works offline and under the dashboard's strict Content-Security-Policy (which is also why
colours are SVG presentation attributes, never `style=` attributes: those would need
'unsafe-inline'). Every chart is a <figure> holding an <svg role="img"> with its title, axis
labels and ticks, and a <table> of the same numbers inside a <details>, for screen readers and
for anyone who wants the exact figures.

    line_chart(chart_id="deliveries", title="Deliveries per minute", x_label="Minute (UTC)",
               y_label="Deliveries", x_ticks=["10:00", "10:01"],
               series=[Series("Accepted", [3, 5]), Series("Delivered", [2, 4])])

The markup is well-formed XML (tests parse it), and every label is escaped."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640  # viewBox units; the SVG scales to its container's width
HEIGHT = 300
MARGIN_LEFT = 64  # room for the y tick labels and the rotated y axis label
MARGIN_RIGHT = 16
MARGIN_TOP = 40  # room for the legend
MARGIN_BOTTOM = 56  # room for the x tick labels and the x axis label
PLOT_WIDTH = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
PLOT_HEIGHT = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
Y_TICKS = 5  # horizontal grid lines, about
MAX_X_LABELS = 12  # more x ticks than this: label every k-th, so the labels never overlap
MAX_MARKERS = 60  # a line with more points than this is drawn without a dot per point
BAR_GROUP_FILL = 0.8  # share of a category's width its bars take, the rest is the gap
# Colours that keep at least 4.5:1 contrast on white (WCAG AA), told apart by hue and lightness.
PALETTE = ("#1f5fbf", "#b8420f", "#1b7a3d", "#7b2fb0", "#a4161a", "#0e6a80")
INK = "#1d2330"
GRID = "#d5d9e0"
FONT = 'font-family="system-ui, sans-serif"'
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Series:
    """One line, or one bar per category: its values line up with the chart's x_ticks."""

    label: str
    values: Sequence[float]


def line_chart(
    *,
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[str],
    series: Sequence[Series],
) -> Markup:
    """A line per series over the x ticks (a dot per point when there are few points)."""
    return _chart(chart_id, title, x_label, y_label, x_ticks, series, _lines)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[str],
    series: Sequence[Series],
) -> Markup:
    """Bars per x tick, one per series side by side."""
    return _chart(chart_id, title, x_label, y_label, x_ticks, series, _bars)


@dataclass(frozen=True)
class _Scale:
    top: float  # the value at the top of the plot; the bottom is 0

    def y(self, value: float) -> float:
        return MARGIN_TOP + PLOT_HEIGHT * (1 - max(value, 0) / self.top)


_Draw = Callable[[Sequence[Series], int, _Scale], list[str]]


def _chart(
    chart_id: str,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[str],
    series: Sequence[Series],
    draw: _Draw,
) -> Markup:
    _check(chart_id, x_ticks, series)
    count = len(x_ticks)
    empty = count == 0 or not series
    values = [v for s in series for v in s.values]
    top = _nice_top(max(values, default=0))
    if all(float(v).is_integer() for v in values):
        top = max(top, Y_TICKS)  # counts: whole-number ticks, never 0.2 of a subscriber
    scale = _Scale(top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" aria-labelledby="{chart_id}-title" {FONT} font-size="12">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        *_y_axis(scale, y_label),
        *_x_axis(x_ticks, x_label),
    ]
    if empty:
        parts.append(_text(MARGIN_LEFT + PLOT_WIDTH / 2, MARGIN_TOP + PLOT_HEIGHT / 2, "No data"))
    else:
        parts += draw(series, count, scale)
        parts += _legend(series)
    parts.append("</svg>")
    svg = "".join(parts)
    table = _table(chart_id, title, x_label, x_ticks, series)
    return Markup(
        f'<figure class="chart" id="{chart_id}">'
        f'<figcaption id="{chart_id}-caption">{escape(title)}</figcaption>'
        f"{svg}{table}</figure>"
    )


def _check(chart_id: str, x_ticks: Sequence[str], series: Sequence[Series]) -> None:
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"chart_id {chart_id!r}: a letter, then letters, digits, - or _")
    for one in series:
        if len(one.values) != len(x_ticks):
            raise ValueError(
                f"series {one.label!r} has {len(one.values)} values for {len(x_ticks)} x ticks"
            )
        if not all(math.isfinite(v) for v in one.values):
            raise ValueError(f"series {one.label!r} has a value that is not a finite number")


def _nice_top(largest: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above the largest value (1 for none)."""
    if largest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(largest))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= largest:
            return float(step * power)
    return float(10 * power)  # pragma: no cover: the loop ends at 10 × power ≥ largest


def _y_axis(scale: _Scale, y_label: str) -> list[str]:
    parts = []
    for i in range(Y_TICKS + 1):
        value = scale.top * i / Y_TICKS
        y = scale.y(value)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(MARGIN_LEFT - 6, y + 4, _number(value), anchor="end"))
    middle = MARGIN_TOP + PLOT_HEIGHT / 2
    parts.append(
        f'<text x="14" y="{middle:.1f}" text-anchor="middle" fill="{INK}" '
        f'transform="rotate(-90 14 {middle:.1f})">{escape(y_label)}</text>'
    )
    return parts


def _x_axis(x_ticks: Sequence[str], x_label: str) -> list[str]:
    bottom = MARGIN_TOP + PLOT_HEIGHT
    parts = [
        f'<line x1="{MARGIN_LEFT}" y1="{bottom}" x2="{WIDTH - MARGIN_RIGHT}" y2="{bottom}" '
        f'stroke="{INK}" stroke-width="1"/>'
    ]
    every = max(1, math.ceil(len(x_ticks) / MAX_X_LABELS))
    for i, tick in enumerate(x_ticks):
        if i % every == 0:
            parts.append(_text(_centre(i, len(x_ticks)), bottom + 16, tick, anchor="middle"))
    parts.append(_text(MARGIN_LEFT + PLOT_WIDTH / 2, HEIGHT - 8, x_label, anchor="middle"))
    return parts


def _centre(index: int, count: int) -> float:
    """The x of a category's centre: categories share the plot's width evenly."""
    return MARGIN_LEFT + PLOT_WIDTH * (index + 0.5) / max(count, 1)


def _lines(series: Sequence[Series], count: int, scale: _Scale) -> list[str]:
    parts = []
    for n, one in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = [(_centre(i, count), scale.y(v)) for i, v in enumerate(one.values)]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        if len(points) <= MAX_MARKERS:  # a single point is only visible as a dot
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points
            ]
    return parts


def _bars(series: Sequence[Series], count: int, scale: _Scale) -> list[str]:
    group = PLOT_WIDTH / count * BAR_GROUP_FILL
    width = group / len(series)
    bottom = MARGIN_TOP + PLOT_HEIGHT
    parts = []
    for n, one in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        for i, value in enumerate(one.values):
            x = _centre(i, count) - group / 2 + n * width
            y = scale.y(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{bottom - y:.1f}" '
                f'fill="{colour}"/>'
            )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    """A swatch and a label per series, along the top (a single series needs none)."""
    if len(series) < 2:
        return []
    parts = []
    x = float(MARGIN_LEFT)
    for n, one in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="12" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, 22, one.label))
        x += 16 + 7 * len(one.label) + 20  # about 7 units a character at font-size 12
    return parts


def _text(x: float, y: float, content: str, *, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}">'
        f"{escape(content)}</text>"
    )


def _table(
    chart_id: str, title: str, x_label: str, x_ticks: Sequence[str], series: Sequence[Series]
) -> str:
    head = "".join(f'<th scope="col" class="number">{escape(s.label)}</th>' for s in series)
    rows = []
    for i, tick in enumerate(x_ticks if series else []):
        cells = "".join(f'<td class="number">{_number(s.values[i])}</td>' for s in series)
        rows.append(f'<tr><th scope="row">{escape(tick)}</th>{cells}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{len(series) + 1}">No data</td></tr>')
    return (
        f"<details><summary>The numbers: {escape(title)}</summary>"
        f'<table id="{chart_id}-table"><caption>{escape(title)}</caption>'
        f'<thead><tr><th scope="col">{escape(x_label)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _number(value: float) -> str:
    """Whole numbers without a decimal point; others to two places."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"
