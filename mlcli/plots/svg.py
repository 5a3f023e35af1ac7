"""A chart as a self-contained HTML page with an inline SVG: no script, no CDN, no
fonts to fetch, so it opens anywhere, offline included."""

from __future__ import annotations

import math
from html import escape

from mlcli.plots.series import Chart

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
WIDTH, HEIGHT = 960, 540
LEFT, RIGHT, TOP, BOTTOM = 80, 220, 50, 60


def chart_html(chart: Chart) -> str:
    title = escape(chart.title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        "<style>body{font-family:sans-serif;margin:2em;color:#222}</style>\n"
        f"</head>\n<body>\n{chart_svg(chart)}\n</body>\n</html>\n"
    )


def chart_svg(chart: Chart) -> str:
    x_low, x_high, y_low, y_high = chart.bounds()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float) -> float:
        return TOP + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<text x="{WIDTH / 2:.0f}" y="24" text-anchor="middle" font-size="16">'
        f"{escape(chart.title)}</text>",
    ]
    for tick in nice_ticks(y_low, y_high):
        y = sy(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:.6g}</text>'
        )
    for tick in nice_ticks(x_low, x_high):
        x = sx(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 5}" '
            f'stroke="#444"/><text x="{x:.1f}" y="{TOP + plot_h + 20}" '
            f'text-anchor="middle">{tick:.6g}</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#444"/>'
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 15}" text-anchor="middle">'
        f"{escape(chart.x_label)}</text>"
    )
    for index, series in enumerate(chart.series):
        color = PALETTE[index % len(PALETTE)]
        label = escape(series.label)
        points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in series.points)
        parts.append(
            f'<g class="series"><title>{label}</title>'
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>'
            + (
                f'<circle cx="{sx(series.points[0][0]):.1f}" cy="{sy(series.points[0][1]):.1f}" '
                f'r="3" fill="{color}"/>'
                if len(series.points) == 1
                else ""
            )
            + "</g>"
        )
        legend_y = TOP + 10 + index * 20
        parts.append(
            f'<rect x="{LEFT + plot_w + 20}" y="{legend_y - 9}" width="14" height="4" '
            f'fill="{color}"/><text x="{LEFT + plot_w + 40}" y="{legend_y - 3}">{label}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) within [low, high]."""
    span = high - low
    if span <= 0 or not math.isfinite(span):
        return [low]
    raw = span / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks
