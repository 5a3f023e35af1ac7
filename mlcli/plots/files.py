"""Writing a chart to a file, by its suffix: ``.html`` (an inline SVG we generate)
or ``.png`` (through matplotlib, when it is installed)."""

from __future__ import annotations

from pathlib import Path

from mlcli.errors import EnvironmentFailure, InvalidInputError
from mlcli.files.fileio import write_bytes_atomic
from mlcli.plots.series import Chart
from mlcli.plots.svg import PALETTE, chart_html

SUFFIXES = (".html", ".htm", ".png")


def write_chart(chart: Chart, path: Path) -> Path:
    """Write ``chart`` to ``path``; returns the path written."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(
            f"cannot write a plot to {path.name!r}: use a file ending in .html or .png"
        )
    if not path.parent.is_dir():
        raise InvalidInputError(f"cannot write {path}: no such directory {path.parent}")
    if suffix == ".png":
        write_bytes_atomic(path, chart_png(chart))
    else:
        write_bytes_atomic(path, chart_html(chart).encode())
    return path


def chart_png(chart: Chart) -> bytes:
    """The chart as PNG bytes, drawn by matplotlib (imported here, lazily)."""
    try:  # a bare Figure draws with Agg and leaves pyplot's global backend alone
        from matplotlib.figure import Figure
    except ImportError:
        raise EnvironmentFailure(
            "writing a .png plot needs matplotlib (pip install matplotlib); "
            "or write a self-contained .html plot instead: --plot-file plot.html"
        ) from None
    import io

    figure = Figure(figsize=(9.6, 5.4), dpi=100)
    axes = figure.add_subplot()
    for index, series in enumerate(chart.series):
        xs = [x for x, _ in series.points]
        ys = [y for _, y in series.points]
        color = PALETTE[index % len(PALETTE)]
        axes.plot(xs, ys, label=series.label, color=color, marker="o" if len(xs) == 1 else None)
    axes.set_title(chart.title)
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
