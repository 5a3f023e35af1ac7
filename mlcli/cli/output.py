"""Everything the CLI writes, and the TTY facts that decide how.

Data goes to stdout: JSON with ``--json``, bare ids with ``-q``, a rich table on a
terminal, plain aligned text when piped (stable for ``grep``/``awk``). Progress,
notices and errors go to stderr; progress bars only when stderr is a terminal.
This is the only module that imports rich, and only when it draws.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

ProgressCallback = Callable[[int, int], None]


@dataclass
class Output:
    json_mode: bool = False
    quiet: bool = False
    stdout_tty: bool = field(default_factory=lambda: _isatty(sys.stdout))
    stderr_tty: bool = field(default_factory=lambda: _isatty(sys.stderr))

    # -- stdout ------------------------------------------------------------------------------

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")

    def json_stream(self, items: Iterable[Any]) -> None:
        """A JSON array written an item at a time: the same text as :meth:`json` of
        the list, with memory that of one item."""
        first = True
        for item in items:
            text = json.dumps(item, indent=2, ensure_ascii=False, allow_nan=False)
            sys.stdout.write(("[\n" if first else ",\n") + _indented(text))
            first = False
        sys.stdout.write("[]\n" if first else "\n]\n")

    def line(self, text: str = "") -> None:
        sys.stdout.write(f"{text}\n")

    def lines(self, texts: Sequence[str]) -> None:
        sys.stdout.write("".join(f"{t}\n" for t in texts))

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        title: str = "",
        styles: Sequence[Sequence[str | None]] | None = None,
        header_styles: Sequence[str | None] | None = None,
    ) -> None:
        """A table: rich on a terminal, aligned plain text otherwise. ``styles`` (one
        rich style or None per cell) and ``header_styles`` apply on a terminal only."""
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        if self.stdout_tty:
            self._rich_table(columns, cells, title, styles, header_styles)
            return
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        for row in [list(columns), *cells]:
            padded = (value.ljust(width) for value, width in zip(row, widths, strict=True))
            sys.stdout.write("  ".join(padded).rstrip() + "\n")

    def table_stream(
        self, columns: Sequence[str], rows: Iterable[Sequence[Any]], sample: int = 1000
    ) -> None:
        """A table of rows that come as a stream: up to ``sample`` rows are one
        :meth:`table`; beyond that, plain aligned text whose widths the first ``sample``
        rows set (a longer value widens its row only), written as the rows come."""
        stream = iter(rows)
        first = list(itertools.islice(stream, sample))
        more = next(stream, None)
        if more is None:
            self.table(columns, first)
            return
        cells = [["" if v is None else str(v) for v in row] for row in first]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        header = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
        sys.stdout.write(self._bold(header) + "\n")
        for row in itertools.chain(cells, [more], stream):
            values = ("" if v is None else str(v) for v in row)
            padded = (value.ljust(width) for value, width in zip(values, widths, strict=True))
            sys.stdout.write("  ".join(padded).rstrip() + "\n")

    def fields(self, pairs: Sequence[tuple[str, Any]], title: str = "") -> None:
        """Labelled values, one per line (``runs show``)."""
        if title:
            self.line(self._bold(title))
        width = max((len(label) for label, _ in pairs), default=0)
        for label, value in pairs:
            self.line(f"  {label.ljust(width)}  {'' if value is None else value}")

    @property
    def color(self) -> bool:
        """Whether stdout takes colours (a terminal, and NO_COLOR unset)."""
        return self.stdout_tty and _color_allowed()

    @property
    def width(self) -> int:
        """The terminal's width in columns (100 when it cannot be told)."""
        return shutil.get_terminal_size((100, 24)).columns

    def paint(self, text: str, color: str) -> str:
        """``text`` in one of the basic ANSI colours (red, green, yellow, blue, magenta,
        cyan, dim, bold) when stdout takes colours; unchanged otherwise."""
        code = _ANSI.get(color)
        return f"\033[{code}m{text}\033[0m" if code and self.color else text

    # -- stderr ------------------------------------------------------------------------------

    def info(self, text: str) -> None:
        """A notice for people; hidden by -q."""
        if not self.quiet:
            sys.stderr.write(f"{text}\n")

    def warn(self, text: str) -> None:
        sys.stderr.write(f"mlcli: warning: {text}\n")

    @contextlib.contextmanager
    def progress(self, description: str) -> Iterator[ProgressCallback]:
        """A progress bar on stderr when it is a terminal; the callback takes
        (done, total)."""
        if not self.stderr_tty or self.quiet:
            yield lambda done, total: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            f"[bold]{description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update

    # -- internals -----------------------------------------------------------------------------

    def _rich_table(
        self,
        columns: Sequence[str],
        cells: list[list[str]],
        title: str,
        styles: Sequence[Sequence[str | None]] | None = None,
        header_styles: Sequence[str | None] | None = None,
    ) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title or None, header_style="bold", box=None, pad_edge=False)
        for index, column in enumerate(columns):
            style = header_styles[index] if header_styles else None
            table.add_column(column, overflow="fold", header_style=style or "bold")
        for number, row in enumerate(cells):
            if styles is None:
                table.add_row(*row, style=_row_style(columns, row))
            else:
                texts = [Text(v, style=st or "") for v, st in zip(row, styles[number], strict=True)]
                table.add_row(*texts)
        Console(highlight=False).print(table)

    def _bold(self, text: str) -> str:
        return f"\033[1m{text}\033[0m" if self.stdout_tty and _color_allowed() else text


_ANSI = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}


def _row_style(columns: Sequence[str], row: list[str]) -> str | None:
    if "STATUS" in columns:
        status = row[list(columns).index("STATUS")]
        return {"FAILED": "red", "KILLED": "yellow", "RUNNING": "cyan"}.get(status)
    return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _color_allowed() -> bool:
    return "NO_COLOR" not in os.environ


def byte_size(size: int) -> str:
    """A size for people: ``512 B``, ``1.5 KB``, ``117.0 MB`` (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


class BackgroundProgress:
    """A progress bar on stderr for work a command did not ask for by name (its first
    query reading many runs into the index): drawn only when stderr is a terminal and
    the work is large, from the first report to the last (``done == total``)."""

    def __init__(self, description: str, at_least: int) -> None:
        self.description, self.at_least = description, at_least
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if total < self.at_least or not _isatty(sys.stderr):
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._bar = Progress(
                f"[bold]{self.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=total)
        self._bar.update(self._task, completed=done, total=total)
        if done >= total:
            self._bar.stop()
            self._bar = None


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in text.split("\n"))
