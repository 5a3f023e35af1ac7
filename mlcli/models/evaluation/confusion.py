"""The confusion matrix of a classifier, as JSON and as a picture.

The picture is a PNG drawn with matplotlib when it is installed (through its
object-oriented API, without pyplot's global state), and otherwise an SVG written
here: a real image either way, with the counts in the cells and the labels on the axes.
"""

from __future__ import annotations

import html
import io
from typing import Any

from mlcli.models.packages import installed_version, require

JSON_FILE = "confusion_matrix.json"
_BLUES = ((247, 239), (251, 203), (255, 148))  # white to dark blue: (start, span) per channel


def confusion_matrix(targets: Any, predictions: Any) -> tuple[list[Any], list[list[int]]]:
    """The labels (sorted) and the matrix: rows are true labels, columns predicted ones."""
    np = require("numpy", "computing a confusion matrix")
    m = require("sklearn.metrics", "computing a confusion matrix")
    labels = sorted(set(np.asarray(targets).tolist()) | set(np.asarray(predictions).tolist()))
    matrix = m.confusion_matrix(targets, predictions, labels=labels)
    return labels, matrix.tolist()


def render(labels: list[Any], matrix: list[list[int]]) -> tuple[str, bytes]:
    """``(file name, bytes)`` of the picture: PNG with matplotlib, SVG without."""
    if installed_version("matplotlib"):
        return "confusion_matrix.png", _png(labels, matrix)
    return "confusion_matrix.svg", svg(labels, matrix)


def _png(labels: list[Any], matrix: list[list[int]]) -> bytes:
    figure_module = require("matplotlib.figure", "drawing the confusion matrix")
    agg = require("matplotlib.backends.backend_agg", "drawing the confusion matrix")
    size = max(4.0, 0.6 * len(labels) + 2.5)
    figure = figure_module.Figure(figsize=(size, size), dpi=100)
    agg.FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = range(len(labels))
    axes.set_xticks(ticks, [str(label) for label in labels], rotation=45, ha="right")
    axes.set_yticks(ticks, [str(label) for label in labels])
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    axes.set_title("Confusion matrix")
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            color = "white" if peak and count > peak / 2 else "black"
            axes.text(j, i, str(count), ha="center", va="center", color=color)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def svg(labels: list[Any], matrix: list[list[int]]) -> bytes:
    cell, margin = 56, 130
    n = len(labels)
    width = height = margin + n * cell + 20
    peak = max((max(row) for row in matrix), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}" '
        'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height + 30}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="16">Confusion matrix</text>',
    ]
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            x, y = margin + j * cell, margin + i * cell
            shade = count / peak
            fill = "rgb({},{},{})".format(*(int(a - b * shade) for a, b in _BLUES))
            text = "white" if shade > 0.5 else "black"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
                'stroke="#999"/>'
            )
            parts.append(
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 5}" text-anchor="middle" '
                f'fill="{text}">{count}</text>'
            )
    for k, label in enumerate(labels):
        name = html.escape(str(label))
        center = margin + k * cell + cell / 2
        parts.append(f'<text x="{margin - 8}" y="{center + 5}" text-anchor="end">{name}</text>')
        parts.append(
            f'<text x="{center}" y="{margin - 8}" text-anchor="start" '
            f'transform="rotate(-45 {center} {margin - 8})">{name}</text>'
        )
    parts.append(
        f'<text x="{margin + n * cell / 2}" y="{height + 20}" text-anchor="middle">'
        "Predicted label</text>"
    )
    parts.append(
        f'<text x="16" y="{margin + n * cell / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {margin + n * cell / 2})">True label</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts).encode()
