"""The dashboard's JSON API, against a real ``mlcli ui`` over a real store."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest
from uihelpers import UiServer
from uistore import COMMIT, FORMULA, XSS_NAME, XSS_PARAM, UiStore

from mlcli.search.runs import count_matching_runs, search_runs
from mlcli.store import Store


def test_experiments_have_run_counts_and_last_activity(ui_server: UiServer) -> None:
    experiments = {e["name"]: e for e in ui_server.api("experiments")["experiments"]}
    assert experiments["sweep"]["run_count"] == 6
    assert experiments["empty"]["run_count"] == 0
    assert experiments["sweep"]["last_activity"] >= 1_700_000_000_000


def test_runs_page_pages_and_counts(ui_server: UiServer, built_store: UiStore) -> None:
    exp = built_store.experiment_id
    first = ui_server.api("runs", experiment=exp, limit=4)
    second = ui_server.api("runs", experiment=exp, limit=4, offset=4)
    assert first["total"] == second["total"] == 6
    assert len(first["runs"]) == 4 and len(second["runs"]) == 2
    ids = [r["run_id"] for r in first["runs"] + second["runs"]]
    assert len(set(ids)) == 6
    names = [r["run_name"] for r in first["runs"]]
    assert names == ["trial-4", "trial-3", "trial-2", "trial-1"]  # newest first
    keys = [c["key"] for c in first["columns"]]
    assert keys[:4] == ["status", "start_time", "duration", "git_commit"]
    assert "params.lr" in keys and "metrics.loss" in keys


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("-metrics.accuracy", "trial-4"),
        ("metrics.accuracy", "trial-0"),
        ("-duration", "trial-4"),
        ("run_name", "<img"),
        ("-git_commit", "trial-0"),
        ("params.lr", "trial-2"),
    ],
)
def test_every_column_sorts(
    ui_server: UiServer, built_store: UiStore, sort: str, first: str
) -> None:
    page = ui_server.api("runs", experiment=built_store.experiment_id, sort=sort)
    assert page["runs"][0]["run_name"].startswith(first)


def test_filter_with_the_compare_language(ui_server: UiServer, built_store: UiStore) -> None:
    page = ui_server.api(
        "runs",
        experiment=built_store.experiment_id,
        filter="params.model = 'rf' and metrics.accuracy > 0.72",
        columns="params.model,metrics.accuracy,tags.team",
    )
    assert page["total"] == 1
    assert page["runs"][0]["values"] == {
        "params.model": "rf",
        "metrics.accuracy": pytest.approx(0.75),
        "tags.team": "vision",
    }
    finished = ui_server.api(
        "runs", experiment=built_store.experiment_id, filter="duration > 32000"
    )
    assert {r["run_name"] for r in finished["runs"]} == {"trial-3", "trial-4"}


def test_filter_errors_say_where(ui_server: UiServer, built_store: UiStore) -> None:
    reply = ui_server.get(
        "/api/runs", experiment=built_store.experiment_id, filter="metrics.loss >> 1"
    )
    assert reply.status == 400
    body = reply.json()
    assert body["position"] == 14
    assert body["text"] == "metrics.loss >> 1"
    assert body["message"].startswith("invalid filter at column 15")


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"experiment": "1", "columns": "bogus"}, 400, "unknown column 'bogus'"),
        ({"experiment": "1", "limit": "0"}, 400, "invalid limit 0"),
        ({"experiment": "1", "offset": "x"}, 400, "invalid offset 'x'"),
        ({"experiment": "999"}, 404, "999"),
        ({}, 400, "name the experiment"),
    ],
)
def test_bad_views_are_one_line_errors(
    ui_server: UiServer, params: dict[str, str], status: int, message: str
) -> None:
    reply = ui_server.get("/api/runs", **params)
    assert reply.status == status
    assert message in reply.json()["message"]
    assert "Traceback" not in reply.text


def test_csv_is_what_is_shown(ui_server: UiServer, built_store: UiStore) -> None:
    reply = ui_server.get(
        "/api/runs.csv",
        experiment=built_store.experiment_id,
        sort="start_time",
        columns="params.formula,params.payload,metrics.loss",
        limit=2,
    )
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(reply.text)))
    assert rows[0] == ["run_id", "run_name", "params.formula", "params.payload", "metrics.loss"]
    assert len(rows) == 3  # the page of 2
    assert rows[1][1] == XSS_NAME
    assert rows[1][2] == "'" + FORMULA  # not a formula in a spreadsheet
    assert rows[1][3] == XSS_PARAM
    assert float(rows[1][4]) == 0.9
    every = ui_server.get("/api/runs.csv", experiment=built_store.experiment_id, limit=2, all=1)
    assert len(every.text.splitlines()) == 7


def test_run_detail_has_lineage_and_models(ui_server: UiServer, built_store: UiStore) -> None:
    detail = ui_server.api(f"runs/{built_store.runs['trial-0'][:8]}")
    assert detail["run"]["run_name"] == "trial-0"
    assert detail["params"] == {"depth": "2", "lr": "0.1", "model": "rf"}
    assert {m["key"] for m in detail["metrics"]} == {"accuracy", "loss"}
    assert detail["tags"] == {"team": "nlp"}
    assert detail["system_tags"]["mlcli.source.git.commit"] == COMMIT
    lineage = detail["lineage"]
    assert (lineage["commit"], lineage["branch"], lineage["dirty"]) == (COMMIT, "main", True)
    assert "+lr = 0.01" in lineage["diff"]["text"]
    [model] = detail["models"]
    assert model["path"] == "model" and model["flavors"] == ["python_function"]
    inputs = model["signature"]["inputs"]
    assert [(s["name"], s["type"]) for s in inputs] == [
        ("sepal_length", "double"),
        ("sepal_width", "double"),
    ]


def test_unknown_runs_are_404(ui_server: UiServer) -> None:
    reply = ui_server.get("/api/runs/ffffffff")
    assert reply.status == 404
    assert reply.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert ui_server.get("/api/runs/not-hex").status == 400
    missing = ui_server.get("/api/nothing/here")
    assert missing.status == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_artifact_previews(ui_server: UiServer, built_store: UiStore) -> None:
    run = built_store.runs["trial-0"]
    root = ui_server.api(f"runs/{run}/artifacts")
    names = [e["name"] for e in root["entries"]]
    assert names[:4] == ["model", "plots", "source", "tables"]  # directories first
    assert {"config.json", "notes.txt", "params.yaml"} <= set(names)

    def preview(path: str) -> dict:
        return ui_server.api(f"runs/{run}/artifacts/preview", path=path)

    assert preview("notes.txt")["text"].startswith("hello from the run")
    config = preview("config.json")
    assert config["kind"] == "json" and json.loads(config["text"])["optimizer"] == "adam"
    assert preview("params.yaml")["kind"] == "yaml"
    assert preview("model/MLmodel")["kind"] == "yaml"
    table = preview("tables/history.csv")
    assert table["kind"] == "table" and table["rows"][0] == ["epoch", "loss", "acc"]
    assert preview("plots/curve.png")["kind"] == "image"
    assert preview("model/weights.bin")["kind"] == "binary"
    assert ui_server.api(f"runs/{run}/artifacts", path="tables")["entries"][0]["name"] == (
        "history.csv"
    )


@pytest.mark.parametrize(
    "path", ["../run.json", "../../../VERSION", "/etc/passwd", "tables/../../run.json"]
)
def test_artifact_paths_cannot_escape(ui_server: UiServer, built_store: UiStore, path: str) -> None:
    run = built_store.runs["trial-0"]
    for endpoint in ("artifacts/preview", "artifacts/file", "artifacts"):
        reply = ui_server.get(f"/api/runs/{run}/{endpoint}", path=path)
        assert reply.status == 400, (endpoint, reply.status, reply.body)
        assert "escapes" in reply.json()["message"] or "relative" in reply.json()["message"]


def test_symlinks_out_of_the_artifacts_are_refused(
    fresh_store: UiStore, serve_ui, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    run = fresh_store.runs["trial-1"]
    artifacts = fresh_store.root / "runs" / run / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    os.symlink(secret, artifacts / "link.txt")
    server = serve_ui(fresh_store.root)
    for endpoint in ("artifacts/preview", "artifacts/file"):
        reply = server.get(f"/api/runs/{run}/{endpoint}", path="link.txt")
        assert reply.status == 400 and b"do not serve" not in reply.body


def test_artifact_files_never_run_in_the_page(ui_server: UiServer, built_store: UiStore) -> None:
    run, hostile = built_store.runs["trial-0"], built_store.xss_run
    image = ui_server.get(f"/api/runs/{run}/artifacts/file", path="plots/curve.png")
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    assert image.body.startswith(b"\x89PNG")
    assert image.headers["content-disposition"].startswith("inline")
    for path in ("evil.html", "evil.svg", "evil.csv"):
        reply = ui_server.get(f"/api/runs/{hostile}/artifacts/file", path=path)
        assert reply.status == 200
        assert "text/html" not in reply.headers["content-type"]
        assert "sandbox" in reply.headers["content-security-policy"]
        assert reply.headers["x-content-type-options"] == "nosniff"
    html = ui_server.get(f"/api/runs/{hostile}/artifacts/file", path="evil.html")
    assert html.headers["content-disposition"].startswith("attachment")
    download = ui_server.get(f"/api/runs/{run}/artifacts/file", path="plots/curve.png", download=1)
    assert download.headers["content-disposition"].startswith("attachment")


def test_metric_histories(ui_server: UiServer, built_store: UiStore) -> None:
    runs = [built_store.runs["trial-0"], built_store.runs["trial-1"]]
    answer = ui_server.api("metric-history", runs=",".join(runs), keys="loss")
    assert [r["run_name"] for r in answer["runs"]] == ["trial-0", "trial-1"]
    loss = answer["runs"][0]["metrics"]["loss"]
    assert list(answer["runs"][0]["metrics"]) == ["loss"]
    assert loss["steps"] == list(range(20)) and loss["total_points"] == 20
    assert loss["values"][0] == 1.0
    every = ui_server.api("metric-history", runs=runs[0])
    assert set(every["runs"][0]["metrics"]) == {"accuracy", "loss"}
    assert ui_server.get("/api/metric-history").status == 400


def test_long_histories_are_thinned_for_drawing(fresh_store: UiStore, serve_ui) -> None:
    from mlcli.tracking import TrackingClient

    client = TrackingClient(fresh_store.root)
    run = client.create_run(fresh_store.experiment_id, run_name="long").run_id
    client.log_batch(
        run, metrics=[("x", 100.0 if i == 4321 else float(i % 7), i, i) for i in range(10_000)]
    )
    client.store.close()
    series = serve_ui(fresh_store.root).api("metric-history", runs=run)["runs"][0]["metrics"]["x"]
    assert series["total_points"] == 10_000
    assert len(series["values"]) <= 2_000
    assert 100.0 in series["values"]  # a spike survives thinning
    assert series["steps"] == sorted(series["steps"])


def test_compare_marks_differences_and_best(ui_server: UiServer, built_store: UiStore) -> None:
    runs = [built_store.runs["trial-0"], built_store.runs["trial-2"]]
    data = ui_server.api("compare", runs=",".join(runs))
    assert [r["run_name"] for r in data["runs"]] == ["trial-0", "trial-2"]
    assert "params.lr" in data["changed"] and "status" not in data["changed"]
    assert data["best"]["metrics.accuracy"] == [1]
    assert data["best"]["metrics.loss"] == [1]
    assert data["rows"][0]["params.model"] == "rf"
    assert data["param_keys"] == ["depth", "lr", "model"]


def test_registry_models_and_history(ui_server: UiServer) -> None:
    [model] = ui_server.api("models")["models"]
    assert model["name"] == "churn" and model["version_count"] == 2
    assert model["stages"] == {"Production": 1}
    detail = ui_server.api("models/churn")
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["versions"][1]["run_name"] == "trial-0"
    assert detail["events"][0]["action"] == "transition"  # newest first


def test_promotion_goes_through_the_gates_and_the_history(fresh_store: UiStore, serve_ui) -> None:
    server = serve_ui(fresh_store.root)
    path = "/api/models/churn/versions/2/promote"
    refused = server.request(
        "POST", path, body={"stage": "Production", "require": "metrics.accuracy >= 0.99"}
    )
    assert refused.status == 409
    assert "refused" in refused.json()["message"] and "metrics.accuracy=0.75" in refused.text
    assert server.api("models/churn")["versions"][0]["stage"] == "None"

    done = server.request(
        "POST",
        path,
        body={
            "stage": "production",
            "archive_existing": True,
            "require": "metrics.accuracy >= 0.7",
            "comment": "from the dashboard",
        },
    )
    assert done.status == 200, done.body
    assert done.json()["changed"] is True
    detail = server.api("models/churn")
    assert [(v["version"], v["stage"]) for v in detail["versions"]] == [
        (2, "Production"),
        (1, "Archived"),
    ]
    newest = detail["events"][1]  # the archiving of v1 came after v2's transition
    assert (newest["action"], newest["version"], newest["to"]) == ("transition", 2, "Production")
    assert newest["comment"].startswith("from the dashboard; require")
    alias = server.request(
        "POST", "/api/models/churn/versions/1/promote", body={"alias": "champion"}
    )
    assert alias.status == 200
    assert server.api("models/churn")["model"]["aliases"] == {"champion": 1}
    # The same history mlcli reads.
    from mlcli.client import MlcliClient

    history = MlcliClient(fresh_store.root).get_model_history("churn")
    assert history[-1].action == "set_alias" and history[-1].to_value == "champion"


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b'{"stage": "Production"}', {"Content-Type": "text/plain"}, 415, "JSON"),
        (
            b'{"stage": "Production"}',
            {"Content-Type": "application/json", "Origin": "http://evil.example"},
            403,
            "dashboard's pages",
        ),
        (b"{not json", {"Content-Type": "application/json"}, 400, "not valid JSON"),
        (
            b'{"stage": "Production", "force": true}',
            {"Content-Type": "application/json"},
            400,
            "unknown field 'force'",
        ),
        (b'{"stage": 3}', {"Content-Type": "application/json"}, 400, "invalid stage"),
        (b'{"stage": "Gold"}', {"Content-Type": "application/json"}, 400, "invalid stage 'Gold'"),
        (b"{}", {"Content-Type": "application/json"}, 400, "exactly one of"),
    ],
)
def test_bad_promotions_change_nothing(
    ui_server: UiServer, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    reply = ui_server.request("POST", "/api/models/churn/versions/2/promote", None, body, headers)
    assert reply.status == status, reply.body
    assert message in reply.json()["message"]
    assert ui_server.api("models/churn")["versions"][0]["stage"] == "None"


def test_foreign_host_names_are_refused(ui_server: UiServer) -> None:
    rebound = ui_server.request("GET", "/api/experiments", headers={"Host": "attacker.example"})
    assert rebound.status == 403  # the same answer as mlcli server and mlcli serve give
    assert rebound.json() == {
        "error_code": "PERMISSION_DENIED",
        "message": "this server does not answer for host 'attacker.example'",
    }
    assert rebound.headers["x-frame-options"] == "DENY"  # refusals carry the headers too
    local = ui_server.request(
        "GET", "/api/experiments", headers={"Host": f"localhost:{ui_server.port}"}
    )
    assert local.status == 200


def test_pages_and_assets_carry_security_headers(ui_server: UiServer) -> None:
    for path in (
        "/",
        "/experiments/1",
        "/runs/abc",
        "/compare",
        "/models/churn",
        "/static/app.css",
        "/api/experiments",
        "/api/nothing",
    ):
        reply = ui_server.get(path)
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
    page = ui_server.get("/runs/abc")
    assert page.headers["content-type"].startswith("text/html")
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts and all("src=" in tag for tag in scripts)  # no inline script
    assert ui_server.get("/static/js/main.js").headers["content-type"].startswith("text/javascript")


def test_a_damaged_store_is_a_json_error_not_a_traceback(fresh_store: UiStore, serve_ui) -> None:
    server = serve_ui(fresh_store.root)
    doc = fresh_store.root / "runs" / fresh_store.runs["trial-0"] / "run.json"
    doc.write_text("{ damaged")
    reply = server.get(f"/api/runs/{fresh_store.runs['trial-0']}")
    assert reply.status == 500
    assert reply.headers["content-type"] == "application/json"
    assert "damaged" in reply.json()["message"]
    assert "Traceback" not in reply.text


def test_listens_on_loopback_unless_told(ui_server: UiServer) -> None:
    assert ui_server.url.startswith("http://127.0.0.1:")


def test_store_paging_offset_and_count(built_store: UiStore) -> None:
    store = Store.open(built_store.root)
    try:
        exp = [built_store.experiment_id]
        every = [r.run_id for r in search_runs(store, exp, order_by=["start_time ASC"])]
        paged = [
            r.run_id
            for offset in (0, 2, 4)
            for r in search_runs(store, exp, None, ["start_time ASC"], 2, offset=offset)
        ]
        assert paged == every and len(every) == 6
        assert [r.run_id for r in search_runs(store, exp, None, ["start_time ASC"], offset=5)] == (
            every[5:]
        )
        assert count_matching_runs(store, exp) == 6
        assert count_matching_runs(store, exp, "params.model = 'mlp'") == 2
        assert store.run_keys(exp)["params"] == ["depth", "formula", "lr", "model", "payload"]
        count, last = store.experiment_activity()[built_store.experiment_id]
        assert count == 6 and last == max(
            r.info.end_time or r.info.start_time for r in search_runs(store, exp)
        )
    finally:
        store.close()
