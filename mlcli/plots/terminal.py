"""A line chart drawn with text, for the terminal.

With colour, each cell is a braille character (2×4 dots, so lines are smooth) in
the colour of the series drawn last in it. Without colour (piped output, NO_COLOR)
series could not be told apart in braille, so each draws with its own ASCII marker
at cell resolution. Either way the chart has a y axis with three labels, an x axis
with its range, and a legend. The result is lines of text; the caller prints them.
"""

from __future__ import annotations

import itertools

from mlcli.plots.series import Chart

COLORS = ("36", "33", "35", "32", "31", "34", "96", "93", "95", "92", "91", "94")
MARKERS = "*+ox#@%&=~"
_BRAILLE_BASE = 0x2800
# Dot bits of a braille cell by (column, row), rows top to bottom.
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def render_chart(chart: Chart, width: int = 80, height: int = 16, color: bool = True) -> list[str]:
    """The chart in ``width`` columns: ``height`` rows of plot, then the x axis, its
    labels and one legend line per series."""
    x_low, x_high, y_low, y_high = chart.bounds()
    labels = [_number(y_high), _number((y_low + y_high) / 2), _number(y_low)]
    gutter = max(len(label) for label in labels)
    plot_width = max(10, width - gutter - 2)
    height = max(3, height)
    sub_x, sub_y = (2, 4) if color else (1, 1)
    cells: list[list[tuple[int, int]]] = [[(0, -1)] * plot_width for _ in range(height)]

    def put(dot_x: int, dot_y: int, index: int) -> None:
        row, col = dot_y // sub_y, dot_x // sub_x
        mask, _ = cells[row][col]
        bit = _DOT_BITS[dot_x % 2][dot_y % 4] if color else 1
        cells[row][col] = (mask | bit, index)

    dots_x, dots_y = plot_width * sub_x - 1, height * sub_y - 1
    for index, series in enumerate(chart.series):
        scaled = [
            (
                round((x - x_low) / (x_high - x_low) * dots_x),
                dots_y - round((y - y_low) / (y_high - y_low) * dots_y),
            )
            for x, y in series.points
        ]
        for (x0, y0), (x1, y1) in itertools.pairwise(scaled):
            for x, y in _segment(x0, y0, x1, y1):
                put(x, y, index)
        for x, y in scaled:
            put(x, y, index)

    middle = height // 2
    lines = [chart.title.center(gutter + 2 + plot_width).rstrip()] if chart.title else []
    for row in range(height):
        label = labels[0] if row == 0 else labels[1] if row == middle else ""
        label = labels[2] if row == height - 1 else label
        tick = "┤" if label else "│"
        body = "".join(_cell(mask, index, color) for mask, index in cells[row])
        lines.append(f"{label.rjust(gutter)} {tick}{body}".rstrip())
    lines.append(f"{' ' * gutter} └{'─' * plot_width}")
    left, right = _number(x_low), _number(x_high)
    middle_label = chart.x_label
    space = plot_width - len(left) - len(right)
    axis = left + middle_label.center(space) + right if space > len(middle_label) else left
    lines.append(f"{' ' * (gutter + 2)}{axis}".rstrip())
    for index, series in enumerate(chart.series):
        lines.append(f"{' ' * (gutter + 2)}{_swatch(index, color)} {series.label}")
    return lines


def _cell(mask: int, index: int, color: bool) -> str:
    if index < 0:
        return " "
    if not color:
        return MARKERS[index % len(MARKERS)]
    return f"\033[{COLORS[index % len(COLORS)]}m{chr(_BRAILLE_BASE + mask)}\033[0m"


def _swatch(index: int, color: bool) -> str:
    if not color:
        return MARKERS[index % len(MARKERS)] * 2
    return f"\033[{COLORS[index % len(COLORS)]}m━━\033[0m"


def _segment(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """The dots of a straight line between two dots (Bresenham)."""
    points = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    step_x, step_y = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error = dx + dy
    while True:
        points.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return points
        double = 2 * error
        if double >= dy:
            error += dy
            x0 += step_x
        if double <= dx:
            error += dx
            y0 += step_y


def _number(value: float) -> str:
    return f"{value:.4g}"
