"""System tags describing who started a run and from where."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mlcli import system_tags

# Set by ``mlcli server --auth-db`` for the request it is handling (see ``acting_as``).
_ACTING_USER: ContextVar[str | None] = ContextVar("mlcli_acting_user", default=None)


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    """Within this block, :func:`current_user` is ``user`` (the server's authenticated
    user, so the registry's audit trail names them); None changes nothing."""
    reset = _ACTING_USER.set(user) if user is not None else None
    try:
        yield
    finally:
        if reset is not None:
            _ACTING_USER.reset(reset)


def acting_user() -> str | None:
    """The user set by :func:`acting_as` for this request, if any."""
    return _ACTING_USER.get()


def current_user() -> str:
    acting = _ACTING_USER.get()
    if acting is not None:
        return acting
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, as in some containers
        return os.environ.get("USER") or "unknown"


def script_source_tags() -> dict[str, str]:
    """``mlcli.source.name``/``.type`` for a run started from a Python process."""
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    tags = {system_tags.SOURCE_TYPE: "LOCAL"}
    if script and script not in ("-c", "-m"):
        tags[system_tags.SOURCE_NAME] = os.path.abspath(script)
    return tags
