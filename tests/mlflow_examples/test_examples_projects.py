"""MLflow 3's Projects examples with only the import changed: an ``MLproject`` with a
``python_env`` and two entry points with typed parameters, run from Python by
``mlflow.run`` and ``mlflow.projects.run`` (``env_manager="local"``), synchronously and
not, and a failing entry point raising MLflow's ``ExecutionException``. The project's
own code imports mlflow as the example does (changed to mlcli with it). Run with mlcli
and with the real mlflow, and the answers compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exampletools import ok

pytest.importorskip("mlflow")

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]

PROJECT = {
    "MLproject": """
        name: My Project

        python_env: python_env.yaml

        entry_points:
          main:
            parameters:
              data_file: path
              regularization: {type: float, default: 0.1}
            command: "python train.py -r {regularization} {data_file}"
          validate:
            parameters:
              data_file: path
            command: "python validate.py {data_file}"
    """,
    "python_env.yaml": """
        python: "3.11"
        build_dependencies:
          - pip
        dependencies: []
    """,
    "data.csv": """
        x,y
        1,2
        2,4
        3,7
    """,
    "train.py": """
        import argparse
        import csv

        import mlflow

        parser = argparse.ArgumentParser()
        parser.add_argument("-r", "--regularization", type=float)
        parser.add_argument("data_file")
        args = parser.parse_args()

        with open(args.data_file) as f:
            rows = list(csv.DictReader(f))

        with mlflow.start_run():
            slope = sum(float(r["y"]) for r in rows) / sum(float(r["x"]) for r in rows)
            mlflow.log_metric("slope", slope / (1 + args.regularization))
            mlflow.log_metric("rows", len(rows))
            mlflow.set_tag("stage", "train")
            mlflow.log_text(f"regularization={args.regularization}", "notes/train.txt")
    """,
    "validate.py": """
        import sys

        with open(sys.argv[1]) as f:
            if not f.readline().startswith("x,y"):
                sys.exit("bad header")
        print("valid")
    """,
    "bad.csv": """
        a,b
    """,
}

EXAMPLE = """
import mlflow

submitted = mlflow.run(
    ".",
    entry_point="main",
    parameters={"data_file": "data.csv", "regularization": 0.5},
    experiment_name="projects-demo",
    env_manager="local",
)
print(f"run {submitted.run_id}: {submitted.get_status()}")
run = mlflow.get_run(submitted.run_id)
experiment = mlflow.get_experiment(run.info.experiment_id)

background = mlflow.projects.run(
    ".", "validate", parameters={"data_file": "data.csv"}, env_manager="local",
    synchronous=False,
)
finished = background.wait()
validated = mlflow.get_run(background.run_id)

try:
    mlflow.projects.run(
        ".", "validate", parameters={"data_file": "bad.csv"}, env_manager="local"
    )
    failure = None
except Exception as error:
    failure = type(error).__name__

failed = mlflow.search_runs(
    search_all_experiments=True, filter_string="attributes.status = 'FAILED'"
)
report(
    status=run.info.status,
    experiment=experiment.name,
    params=run.data.params,
    metrics=run.data.metrics,
    stage=run.data.tags.get("stage"),
    entry_point=run.data.tags.get("mlflow.project.entryPoint"),
    notes=mlflow.artifacts.load_text(f"runs:/{submitted.run_id}/notes/train.txt"),
    background=(finished, background.get_status(), validated.data.params),
    failure=failure,
    failed=len(failed),
)
"""


def test_projects_run(tmp_path: Path) -> None:
    ours = ok(EXAMPLE, tmp_path / "mlcli", files=PROJECT)
    theirs = ok(EXAMPLE, tmp_path / "mlflow", files=PROJECT, oracle=True)
    assert ours.result == theirs.result
    result = ours.result
    assert result["status"] == "FINISHED"
    assert result["experiment"] == "projects-demo"
    assert result["params"] == {"data_file": "data.csv", "regularization": "0.5"}
    assert result["metrics"] == {"slope": 2.1666666666666665 / 1.5, "rows": 3.0}
    assert result["entry_point"] == "main"
    assert result["notes"] == "regularization=0.5"
    assert result["background"] == [True, "FINISHED", {"data_file": "data.csv"}]
    assert result["failure"] == "ExecutionException"
    assert result["failed"] == 1
