"""Everything a user can read from a store, as one comparable value: two stores hold
the same runs, experiments and models exactly when their snapshots are equal."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mlcli.registry.files import ModelRegistry
from mlcli.store import Store, StoreLayout, ViewType
from mlcli.tracking import TrackingClient


def snapshot(store: Store) -> dict[str, Any]:
    client = TrackingClient(store)
    experiments = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL)}
    runs = {}
    for run_id in store.runs.list_ids():
        run = store.get_run(run_id)
        info = run.info
        runs[run_id] = {
            "experiment": experiments[info.experiment_id].name,
            "name": info.run_name,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "user": info.user_id,
            "parent": info.parent_run_id,
            "params": run.data.params,
            "tags": run.data.tags,
            "metrics": {
                key: [
                    (m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)
                ]
                for key in sorted(run.data.metrics)
            },
            "artifacts": _tree(store.layout.artifacts_dir(run_id)),
        }
    return {
        "experiments": {
            e.name: {"stage": e.lifecycle_stage, "tags": e.tags} for e in experiments.values()
        },
        "runs": runs,
        "models": _models(store),
    }


def _models(store: Store) -> dict[str, Any]:
    registry = ModelRegistry(StoreLayout(store.root), "tester")
    models = {}
    for model in registry.list_models():
        versions = {
            v.version: {
                "run_id": v.run_id,
                "source": v.source,
                "stage": v.stage,
                "tags": v.tags,
                "description": v.description,
                "deleted": v.deleted,
                "files": _tree(store.layout.version_artifacts(model.name, v.version)),
            }
            for v in registry.list_versions(model.name, include_deleted=True)
        }
        models[model.name] = {
            "description": model.description,
            "tags": model.tags,
            "aliases": model.aliases,
            "versions": versions,
            "events": sorted(
                (e.action, e.version, e.from_value, e.to_value) for e in registry.events(model.name)
            ),
        }
    return models


def _tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }
