"""Keeping the index's experiments table in step with the experiment.json files."""

from __future__ import annotations

import os

from mlcli.files.fileio import read_document
from mlcli.store.damage import experiment_doc_problem
from mlcli.store.index.session import IndexSession
from mlcli.store.scan import file_signature


def changed_experiments(session: IndexSession) -> list[tuple[str, str | None]]:
    """(experiment id, signature or None when gone) for experiments whose document
    differs from what the index holds."""
    indexed = dict(session.db.execute("SELECT experiment_id, signature FROM experiments"))
    try:
        names = [n for n in os.listdir(session.layout.experiments_dir) if not n.startswith(".")]
    except FileNotFoundError:
        names = []
    changed: list[tuple[str, str | None]] = []
    for name in names:
        signature = file_signature(session.layout.experiment_doc(name))
        damaged = session.left_out.experiments.get(name)
        if damaged is not None and damaged[0] == signature:
            continue
        if signature is not None and indexed.get(name) != signature:
            changed.append((name, signature))
    changed += [(name, None) for name in indexed if name not in names]
    return changed


def store_experiments(session: IndexSession, changed: list[tuple[str, str | None]]) -> None:
    """Write the experiments ``changed_experiments`` found (inside a write transaction)."""
    db, left_out = session.db, session.left_out
    for experiment_id, signature in changed:
        if signature is None:
            db.execute("DELETE FROM experiments WHERE experiment_id = ?", (experiment_id,))
            continue
        try:
            doc, problem = read_document(session.layout.experiment_doc(experiment_id))
        except FileNotFoundError:
            continue
        problem = problem or experiment_doc_problem(doc)
        if problem is not None:  # left out, with its runs, and said so
            left_out.experiments[experiment_id] = (signature, problem)
            db.execute("DELETE FROM experiments WHERE experiment_id = ?", (experiment_id,))
            continue
        left_out.experiments.pop(experiment_id, None)
        db.execute(
            "INSERT OR REPLACE INTO experiments (experiment_id, name, lifecycle_stage, "
            "creation_time, last_update_time, signature) VALUES (?, ?, ?, ?, ?, ?)",
            (
                experiment_id,
                doc.get("name", ""),
                doc.get("lifecycle_stage", "active"),
                doc.get("creation_time"),
                doc.get("last_update_time"),
                signature,
            ),
        )
