"""Sharing a store: ``push`` and ``pull`` between a local store and a remote (object
storage, or a directory on a shared filesystem), in the layout of DESIGN.md section
8.2. ``transfer.py`` decides what moves; ``runs.py``, ``experiments.py`` and
``registry.py`` move each kind; ``merge.py`` settles what both sides changed;
``journal.py`` and ``state.py`` make both directions incremental; ``keys.py`` is the
layout on the remote."""

from mlcli.store.sync.context import Report
from mlcli.store.sync.merge import Conflict
from mlcli.store.sync.transfer import Selection, pull, push

__all__ = ["Conflict", "Report", "Selection", "pull", "push"]
