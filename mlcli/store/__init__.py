"""The ``.mlruns`` store: plain files as the source of truth, a SQLite index for speed."""

from mlcli.store.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlcli.store.store import Store, open_store

__all__ = [
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "Store",
    "ViewType",
    "open_store",
]
