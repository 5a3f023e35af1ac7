"""The chart renderers: text for the terminal, SVG for files."""

from __future__ import annotations

from mlcli.plots import Chart, Series, render_chart
from mlcli.plots.svg import chart_svg, nice_ticks

CHART = Chart(
    title="loss",
    x_label="step",
    y_label="loss",
    series=(
        Series("a", ((0.0, 1.0), (1.0, 0.5), (2.0, 0.0))),
        Series("b", ((0.0, 0.0), (2.0, 1.0))),
    ),
)


def _visible(line: str) -> str:
    import re

    return re.sub(r"\033\[[0-9;]*m", "", line)


def test_ascii_chart_layout() -> None:
    lines = render_chart(CHART, width=40, height=5, color=False)
    assert lines[0].strip() == "loss"
    plot = lines[1:6]
    assert [line.split()[0] for line in plot] == ["1", "│", "0.5", "│", "0"]
    assert plot[0].endswith("+") and plot[-1].endswith("*")  # b ends high, a ends low
    assert plot[0][plot[0].index("┤") + 1] == "*" and plot[-1][plot[-1].index("┤") + 1] == "+"
    assert lines[6].lstrip().startswith("└")
    assert lines[7].split() == ["0", "step", "2"]
    assert lines[8:] == ["     ** a", "     ++ b"]
    assert all(len(line) <= 40 for line in lines)


def test_color_chart_uses_braille_and_stays_in_width() -> None:
    lines = render_chart(CHART, width=50, height=6, color=True)
    body = "".join(_visible(line) for line in lines[1:7])
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in body)
    assert all(len(_visible(line)) <= 50 for line in lines)
    assert "\033[36m" in lines[1] + lines[6]


def test_single_point_and_flat_series() -> None:
    flat = Chart("x", "step", "x", (Series("only", ((3.0, 2.0),)),))
    lines = render_chart(flat, width=30, height=3, color=False)
    assert sum(line.count("*") for line in lines[1:4]) == 1
    assert "<circle" in chart_svg(flat)


def test_nice_ticks() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 19) == [0, 5, 10, 15]
    assert nice_ticks(2, 2) == [2]
