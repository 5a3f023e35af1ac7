"""Compare two local stores exactly, as a push then a clone must leave them.

``snapshot(root)`` reads everything a remote carries into one plain structure:
experiments by name, runs by id (document with the experiment's name in place of its
per-store id, params, tags, every metric point with step and timestamp in log order,
artifact and logged-model bytes as SHA-256), and the registry (each model's synced
fields, aliases, versions with their artifact bytes, and its event log).
``differences(a, b)`` lists where two snapshots differ, one path a line;
``assert_same_stores(a, b)`` fails with that list.

Per-store identities are left out on purpose: experiment ids, the store's writer id,
its sync state, index and locks. So is a model's ``last_update_time``, which the
remote does not carry (``registry.MODEL_FIELDS``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mlcli.store import Store
from mlcli.store.entities import ViewType

MODEL_FIELDS = ("name", "description", "tags", "creation_time")
EXPERIMENT_FIELDS = ("lifecycle_stage", "deleted_time", "creation_time", "tags")


def snapshot(root: Path) -> dict[str, Any]:
    """Everything of the store at ``root`` (a ``.mlruns``) that a remote carries."""
    store = Store.open(root)
    try:
        names = {}
        experiments = {}
        for experiment in store.experiments.list(ViewType.ALL):
            names[experiment.experiment_id] = experiment.name
            doc = _read_json(store.layout.experiment_doc(experiment.experiment_id))
            experiments[experiment.name] = {k: doc.get(k) for k in EXPERIMENT_FIELDS}
        runs = {run_id: run_snapshot(store, run_id, names) for run_id in store.runs.list_ids()}
        return {"experiments": experiments, "runs": runs, "models": _registry(store)}
    finally:
        store.close()


def run_snapshot(store: Store, run_id: str, names: dict[str, str]) -> dict[str, Any]:
    """One run: its document (experiment by name), params, tags, metric histories
    (key -> [(step, timestamp, value)] in logged order), artifact and logged-model
    hashes."""
    doc = dict(store.runs.read_doc(run_id))
    doc["experiment"] = names.get(str(doc.pop("experiment_id", "0")), "?")
    metrics: dict[str, list[tuple[int, int, float]]] = {}
    for point in store.runs.read_metric_history(run_id):
        metrics.setdefault(point.key, []).append((point.step, point.timestamp, point.value))
    return {
        "doc": doc,
        "params": store.runs.read_params(run_id),
        "tags": store.runs.read_tags(run_id),
        "metrics": metrics,
        "artifacts": tree_hashes(store.layout.artifacts_dir(run_id)),
        "logged_models": tree_hashes(store.layout.logged_models_dir(run_id)),
    }


def tree_hashes(root: Path) -> dict[str, str]:
    """relative path -> SHA-256 of every file under ``root`` (hidden temporary names
    of writers left out); empty when there is no such folder."""
    found = {}
    for directory, folders, files in os.walk(root):
        folders[:] = [f for f in folders if not f.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(directory, name)
            found[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _registry(store: Store) -> dict[str, Any]:
    layout = store.layout
    try:
        names = sorted(os.listdir(layout.models_dir))
    except FileNotFoundError:
        return {}
    models = {}
    for name in names:
        if not layout.model_doc(name).is_file():
            continue
        doc = _read_json(layout.model_doc(name))
        versions = {}
        try:
            entries = os.listdir(layout.versions_dir(name))
        except FileNotFoundError:
            entries = []
        for entry in sorted(e for e in entries if e.isdigit()):
            number = int(entry)
            if layout.version_doc(name, number).is_file():
                versions[number] = {
                    "doc": _read_json(layout.version_doc(name, number)),
                    "artifacts": tree_hashes(layout.version_artifacts(name, number)),
                }
        aliases_path = layout.model_aliases(name)
        events_path = layout.model_events(name)
        models[name] = {
            "model": {k: doc.get(k) for k in MODEL_FIELDS},
            "aliases": _read_json(aliases_path) if aliases_path.is_file() else {},
            "versions": versions,
            "events": [
                json.loads(line)
                for line in (events_path.read_text().splitlines() if events_path.is_file() else [])
                if line.strip()
            ],
        }
    return models


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two snapshots (or any JSON-like values) differ: one line per path."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted({*a, *b}, key=str):
            where = f"{path}/{key}"
            if key not in a:
                found.append(f"{where}: only in the second")
            elif key not in b:
                found.append(f"{where}: only in the first")
            else:
                found.extend(differences(a[key], b[key], where))
        return found
    if a != b:
        return [f"{path or '/'}: {_short(a)} != {_short(b)}"]
    return []


def assert_same_stores(first: Path, second: Path) -> None:
    """Fail, naming every difference, unless the two stores hold the same things."""
    found = differences(snapshot(first), snapshot(second))
    assert not found, "the stores differ:\n" + "\n".join(found[:50])


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
