"""The life of a real scikit-learn model, driven from the shell as a new user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

TRAIN = """
import sys
import mlcli
import mlcli.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True, as_frame=True)
strength = float(sys.argv[1])
with mlcli.start_run(experiment="iris") as run:
    model = LogisticRegression(C=strength, max_iter=500).fit(X, y)
    mlcli.log_param("C", strength)
    mlcli.log_metric("accuracy", model.score(X, y))
    mlcli.sklearn.log_model(model, "model", input_example=X.head(3))
    probabilities = model.predict_proba(X.head(2))[:, 0].round(6).tolist()
print(run.run_id, *probabilities)
"""


def test_train_register_promote_and_load_by_stage_and_alias(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(textwrap.dedent(TRAIN))

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args, cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result

    def mlcli(*args: str) -> subprocess.CompletedProcess[str]:
        return sh(sys.executable, "-m", "mlcli", *args)

    weak = sh(sys.executable, "train.py", "0.01").stdout.split()
    strong = sh(sys.executable, "train.py", "10").stdout.split()
    for run_id in (weak[0], strong[0]):
        mlcli("register", f"runs:/{run_id[:8]}/model", "--name", "iris", "-q")
    mlcli("promote", "iris", "1", "--stage", "Production")
    mlcli("promote", "iris", "2", "--stage", "Staging")
    mlcli(
        "promote",
        "iris",
        "2",
        "--stage",
        "Production",
        "--archive-existing",
        "--require",
        "metrics.accuracy >= 0.8",
        "--better-than",
        "Production",
        "--metric",
        "accuracy",
    )
    mlcli("promote", "iris", "1", "--alias", "champion")

    shown = json.loads(mlcli("models", "show", "iris", "--json").stdout)
    assert [(v["version"], v["stage"], v["aliases"], v["run_id"]) for v in shown["versions"]] == [
        (1, "Archived", ["champion"], weak[0]),
        (2, "Production", [], strong[0]),
    ]
    history = json.loads(mlcli("models", "history", "iris", "--json").stdout)
    assert ("transition", 1, "Production", "Archived") in [
        (e["action"], e["version"], e["from"], e["to"]) for e in history
    ]

    request = tmp_path / "rows.json"
    rows = {
        "dataframe_split": {
            "columns": [
                "sepal length (cm)",
                "sepal width (cm)",
                "petal length (cm)",
                "petal width (cm)",
            ],
            "data": [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2]],
        },
        "params": {"predict_method": "predict_proba"},
    }
    request.write_text(json.dumps(rows))

    def first_class_probability(uri: str) -> list[float]:
        out = mlcli(
            "models",
            "predict",
            "-m",
            uri,
            "--input",
            str(request),
            "--content-type",
            "json",
        ).stdout
        predictions = json.loads(out)["predictions"]
        return [round(row[0] if isinstance(row, list) else row["0"], 6) for row in predictions]

    assert first_class_probability("models:/iris/Production") == [float(p) for p in strong[1:]]
    assert first_class_probability("models:/iris@champion") == [float(p) for p in weak[1:]]
    assert first_class_probability("models:/iris/latest") == [float(p) for p in strong[1:]]
