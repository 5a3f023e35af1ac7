"""What makes a store document damaged: the checks that readers (the index, ``runs
show``) and ``mlcli fsck`` share, so that all of them call the same file damaged.

A damaged document is reported, never guessed at: the index leaves the run out and
says so (``runs list`` warns with the path), and ``mlcli fsck`` lists it.
"""

from __future__ import annotations

from typing import Any

from mlcli.store.entities import LifecycleStage, RunStatus

_STAGES = (LifecycleStage.ACTIVE, LifecycleStage.DELETED)


def run_doc_problem(doc: Any) -> str | None:
    """What is wrong with a parsed ``run.json`` (None when it can be read as a run)."""
    if not isinstance(doc, dict):
        return f"not a JSON object but {type(doc).__name__}"
    if not isinstance(doc.get("run_id"), str) or not doc["run_id"]:
        return "no run_id"
    if doc.get("status", RunStatus.RUNNING) not in RunStatus.ALL:
        return f"unknown status {doc.get('status')!r}"
    if doc.get("lifecycle_stage", LifecycleStage.ACTIVE) not in _STAGES:
        return f"unknown lifecycle_stage {doc.get('lifecycle_stage')!r}"
    for name in ("start_time", "end_time", "deleted_time"):
        if not _optional_integer(doc.get(name)):
            return f"{name} is not a time in milliseconds: {doc.get(name)!r}"
    if not isinstance(doc.get("experiment_id", "0"), (str, int)):
        return f"experiment_id is not an id: {doc.get('experiment_id')!r}"
    for name in ("run_name", "user_id", "parent_run_id"):
        if doc.get(name) is not None and not isinstance(doc[name], str):
            return f"{name} is not a string: {doc[name]!r}"
    return None


def experiment_doc_problem(doc: Any) -> str | None:
    """What is wrong with a parsed ``experiment.json``."""
    if not isinstance(doc, dict):
        return f"not a JSON object but {type(doc).__name__}"
    if not isinstance(doc.get("experiment_id"), (str, int)):
        return "no experiment_id"
    if not isinstance(doc.get("name"), str):
        return "no name"
    if doc.get("lifecycle_stage", LifecycleStage.ACTIVE) not in _STAGES:
        return f"unknown lifecycle_stage {doc.get('lifecycle_stage')!r}"
    return None


def _optional_integer(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))
