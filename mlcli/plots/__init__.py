"""Charts of metric histories: in the terminal, or written to a file.

metric_chart(metric, runs, histories)   the series to draw, one per run
render_chart(chart, width, height, color)  lines of text (braille or ASCII)
write_chart(chart, path)                .html (inline SVG) or .png (matplotlib)
"""

from mlcli.plots.files import write_chart
from mlcli.plots.series import Chart, Series, metric_chart
from mlcli.plots.terminal import render_chart

__all__ = ["Chart", "Series", "metric_chart", "render_chart", "write_chart"]
