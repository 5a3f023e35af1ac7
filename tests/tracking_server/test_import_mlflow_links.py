"""``mlcli import-mlflow`` of an MLflow file store in which links were planted (issue
15, finding 4): nothing outside the MLflow store is imported, neither as an artifact
nor as a param value, and each link left out is a warning."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SECRET = "TOP-SECRET-0b77"
RUN_ID = "0123456789abcdef0123456789abcdef"


def _mlflow_store(base: Path) -> Path:
    """A hand-written MLflow file store: one run whose params and artifacts hold links
    to files outside the store."""
    (base / "secret.txt").write_text(SECRET)
    (base / "secret-dir").mkdir()
    (base / "secret-dir" / "key").write_text(SECRET)
    root = base / "mlruns"
    experiment = root / "0"
    experiment.mkdir(parents=True)
    (experiment / "meta.yaml").write_text(
        "experiment_id: '0'\nname: Default\nlifecycle_stage: active\n"
        f"artifact_location: file://{experiment}\n"
    )
    run = experiment / RUN_ID
    for folder in ("params", "metrics", "tags", "artifacts"):
        (run / folder).mkdir(parents=True)
    (run / "meta.yaml").write_text(
        f"run_id: {RUN_ID}\nrun_uuid: {RUN_ID}\nrun_name: planted\nexperiment_id: '0'\n"
        "status: 3\nstart_time: 1700000000000\nend_time: 1700000001000\n"
        f"lifecycle_stage: active\nuser_id: me\nartifact_uri: file://{run / 'artifacts'}\n"
    )
    (run / "params" / "lr").write_text("0.1")
    os.symlink(base / "secret.txt", run / "params" / "stolen")
    os.symlink(base / "secret-dir", run / "tags" / "nested")
    (run / "artifacts" / "data.txt").write_text("data")
    os.symlink(base / "secret.txt", run / "artifacts" / "secret")
    os.symlink(base / "secret-dir", run / "artifacts" / "keys")
    return root


def test_links_in_an_imported_store_bring_nothing_from_outside(cli: Any, tmp_path: Path) -> None:
    source = _mlflow_store(tmp_path)
    store = tmp_path / ".mlruns"
    result = cli("--store", str(store), "import-mlflow", str(source), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["runs_imported"] == 1 and report["artifact_files"] == 1
    artifacts = source / "0" / RUN_ID / "artifacts"
    assert report["warnings"] == [
        f"skipped keys -> {tmp_path / 'secret-dir'}: a symbolic link leading outside {artifacts}",
        f"skipped secret -> {tmp_path / 'secret.txt'}: a symbolic link leading outside {artifacts}",
    ]
    assert result.stderr.splitlines()[1:] == [f"mlcli: warning: {w}" for w in report["warnings"]]
    shown = cli("--store", str(store), "runs", "show", RUN_ID, "--json").json()
    assert shown["params"] == {"lr": "0.1"}
    assert not any(k.startswith("nested") for k in shown["tags"])
    for directory, _, files in os.walk(store):
        for name in files:
            path = Path(directory, name)
            assert not path.is_symlink(), path
            assert SECRET.encode() not in path.read_bytes(), path
