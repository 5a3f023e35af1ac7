"""A store holding everything the dashboard shows, built with the real mlcli APIs:
a sweep of runs with metric histories, git lineage with an uncommitted diff,
artifacts of every previewable kind, a logged model with a signature, a registered
model with versions, and a run whose name, params, tags and artifacts hold HTML and
scripts (which must show as text and never run)."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from mlcli import system_tags
from mlcli.client import MlcliClient
from mlcli.models.mlmodel import Model
from mlcli.models.signature import ColSpec, ModelSignature, Schema

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_PARAM = "<script>alert(2)</script>"
XSS_TAG = '"><svg onload=alert(3)>'
FORMULA = '=HYPERLINK("http://example.com")'
COMMIT = "5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e"
DIFF = (
    "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n"
    "@@ -1 +1 @@\n-lr = 0.1\n+lr = 0.01\n"
)


@dataclass
class UiStore:
    root: Path
    experiment_id: str
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id
    xss_run: str = ""
    model_name: str = "churn"


def build_store(work: Path) -> UiStore:
    client = MlcliClient(work / ".mlruns")
    client.writable_store()
    experiment_id = client.get_or_create_experiment("sweep").experiment_id
    built = UiStore(work / ".mlruns", experiment_id)
    start = 1_700_000_000_000
    for index, (lr, depth, model) in enumerate(
        [(0.1, 2, "rf"), (0.01, 4, "rf"), (0.001, 8, "mlp"), (0.05, 6, "mlp"), (0.2, 3, "svm")]
    ):
        name = f"trial-{index}"
        run = client.create_run(experiment_id, run_name=name, start_time=start + index * 60_000)
        run_id = run.run_id
        built.runs[name] = run_id
        client.log_batch(
            run_id,
            params={"lr": lr, "depth": depth, "model": model},
            tags={"team": "vision" if index % 2 else "nlp"},
        )
        accuracy = 0.70 + 0.05 * index
        points = [
            ("loss", 1.0 / (step + 1) / (index + 1), step, start + index * 60_000 + step * 1000)
            for step in range(20)
        ]
        points += [
            ("accuracy", accuracy * (step + 1) / 20, step, start + step) for step in range(20)
        ]
        client.log_batch(run_id, metrics=points)
        client.set_terminated(run_id, end_time=start + index * 60_000 + 30_000 + index * 1000)
    first = built.runs["trial-0"]
    _add_lineage(client, first)
    _add_artifacts(client, first, work)
    _add_model(client, first, work)
    built.xss_run = _add_hostile_run(client, experiment_id, work)
    _register(client, built)
    client.get_or_create_experiment("empty")
    client.store.close()
    return built


def _add_lineage(client: MlcliClient, run_id: str) -> None:
    client.log_batch(
        run_id,
        tags={
            "mlcli.source.git.commit": COMMIT,
            "mlcli.source.git.branch": "main",
            "mlcli.source.git.repoURL": "https://example.com/team/repo.git",
            "mlcli.source.git.dirty": "true",
        },
    )
    client.log_text(run_id, DIFF, "source/uncommitted.diff")


def _add_artifacts(client: MlcliClient, run_id: str, work: Path) -> None:
    client.log_text(run_id, "hello from the run\nsecond line\n", "notes.txt")
    client.log_dict(run_id, {"optimizer": "adam", "layers": [64, 32]}, "config.json")
    client.log_dict(run_id, {"epochs": 10, "schedule": "cosine"}, "params.yaml")
    client.log_text(
        run_id, "epoch,loss,acc\n1,0.9,0.5\n2,0.5,0.7\n3,0.3,0.8\n", "tables/history.csv"
    )
    client.store.artifacts(run_id).write_bytes("plots/curve.png", tiny_png())


def _add_model(client: MlcliClient, run_id: str, work: Path) -> None:
    directory = work / "model-src"
    directory.mkdir()
    signature = ModelSignature(
        inputs=Schema((ColSpec("double", "sepal_length"), ColSpec("double", "sepal_width"))),
        outputs=Schema((ColSpec("long"),)),
    )
    Model(
        flavors={"python_function": {"loader_module": "mlcli.pyfunc", "python_version": "3.11"}},
        run_id=run_id,
        artifact_path="model",
        signature=signature,
    ).save(directory)
    (directory / "weights.bin").write_bytes(b"\x00\x01\x02")
    client.log_artifacts(run_id, directory, "model")
    entry = {"run_id": run_id, "artifact_path": "model", "flavors": {"python_function": {}}}
    client.set_tag(run_id, system_tags.LOG_MODEL_HISTORY, json.dumps([entry]))


def _add_hostile_run(client: MlcliClient, experiment_id: str, work: Path) -> str:
    run = client.create_run(experiment_id, run_name=XSS_NAME, start_time=1_600_000_000_000)
    client.log_batch(
        run.run_id,
        params={"lr": 0.3, "payload": XSS_PARAM, "formula": FORMULA},
        tags={"note": XSS_TAG},
        metrics=[("loss", 0.9, 0, 1_600_000_000_000)],
    )
    client.log_text(run.run_id, "<script>alert(4)</script><b>bold?</b>", "evil.html")
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(5)</script></svg>'
    client.log_text(run.run_id, svg, "evil.svg")
    client.log_text(run.run_id, "a,b\n<img src=x onerror=alert(6)>,2\n", "evil.csv")
    client.set_terminated(run.run_id, end_time=1_600_000_001_000)
    return run.run_id


def _register(client: MlcliClient, built: UiStore) -> None:
    for name in ("trial-0", "trial-1"):
        run_id = built.runs[name]
        if name != "trial-0":
            directory = client.artifact_path(built.runs["trial-0"], "model")
            client.log_artifacts(run_id, directory, "model")
        client.register_model(f"runs:/{run_id}/model", built.model_name)
    client.transition_model_version_stage(built.model_name, 1, "Production")


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG (a red square), written by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
