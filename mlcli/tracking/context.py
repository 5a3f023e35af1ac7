"""System tags describing who started a run and from where."""

from __future__ import annotations

import getpass
import os
import sys

from mlcli import system_tags


def current_user() -> str:
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
