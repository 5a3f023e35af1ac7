"""The core reports what it chose to leave out (a symbolic link a copy skipped) as
Python warnings, which a library user sees and can filter; a command shows each one
as a one-line notice on stderr instead of Python's two-line warning format."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from mlcli.cli.output import Output


@contextlib.contextmanager
def warnings_as_notices(out: Output | None = None) -> Iterator[None]:
    """Print every UserWarning raised inside the block as ``mlcli: warning: ...``,
    also when the block fails."""
    shown = out or Output()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        finally:
            for warning in caught:
                shown.warn(str(warning.message))
