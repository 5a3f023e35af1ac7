"""Autologging never breaks the user's training: each logging step that fails is a
warning on the ``mlcli`` logger, and training goes on."""

from __future__ import annotations

import logging
from typing import Any

_log = logging.getLogger("mlcli")


def safely(what: str, action: Any, *args: Any) -> Any:
    """``action(*args)``, or None with a warning naming ``what`` was not logged."""
    try:
        return action(*args)
    except Exception as exc:  # autologging must never break the user's training
        _log.warning("mlcli autolog: %s not logged: %s: %s", what, type(exc).__name__, exc)
    return None
