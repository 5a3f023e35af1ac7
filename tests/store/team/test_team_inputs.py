"""A team store keeps a run's inputs as a local store does: read back from PostgreSQL,
and flushed to the bucket as the run's ``inputs.jsonl``, which a clone reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlcli.store import Dataset, DatasetInput, ModelInput, RunStatus
from mlcli.store.inputs import fold_inputs


def test_inputs_are_kept_once_and_reach_a_clone(
    team_store: Any, team_urls: Any, tmp_path: Path
) -> None:
    experiment = team_store.experiments.get_or_create("demo")
    run_id = team_store.runs.create(
        experiment_id=experiment.experiment_id, run_name="r", user_id="ann", tags={}
    ).run_id
    train = DatasetInput(Dataset("iris", "abc", "local", "{}"), {"mlflow.data.context": "train"})
    again = DatasetInput(Dataset("iris", "abc", "http", "{}"), {"mlflow.data.context": "eval"})
    model = ModelInput("m-" + "2" * 32)
    team_store.runs.log_inputs(run_id, [train], [model])
    team_store.runs.log_inputs(run_id, [again, DatasetInput(Dataset("b", "d", "code", ""))])
    inputs = team_store.get_run(run_id).inputs
    assert [(d.dataset.name, d.dataset.source_type) for d in inputs.dataset_inputs] == [
        ("iris", "local"),
        ("b", "code"),
    ]
    assert inputs.model_inputs == [model]
    assert team_store.get_runs([run_id])[run_id].inputs == inputs

    team_store.runs.set_status(run_id, RunStatus.FINISHED)
    team_store.flusher.flush_all(idle_seconds=0)
    target = tmp_path / "copy"
    env = {**os.environ, **team_urls.env}
    done = subprocess.run(
        [sys.executable, "-m", "mlcli", "clone", team_urls.store, str(target)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = (target / ".mlruns" / "runs" / run_id / "inputs.jsonl").read_text().splitlines()
    assert fold_inputs(json.loads(line) for line in lines) == inputs
