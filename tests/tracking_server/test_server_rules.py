"""The server's small rules, without a server: tag renaming, entity filters, page
tokens, logged-model documents, and what ``mlcli server --help`` imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.search.entity_filter import EntityFilter, Record, sort_records
from mlcli.store import Store
from mlcli.store.logged_models import LoggedModelFiles
from mlcli.tracking import TrackingClient
from mlcli.tracking_server.paging import decode_token, encode_token, page
from mlcli.tracking_server.tags import filter_to_store, order_by_to_store, to_mlflow, to_store


def test_system_tags_are_renamed_one_for_one() -> None:
    assert to_store("mlflow.runName") == "mlcli.runName"
    assert to_mlflow("mlcli.source.git.commit") == "mlflow.source.git.commit"
    assert to_store("team") == to_mlflow("team") == "team"
    assert filter_to_store("tags.mlflow.parentRunId = 'abc' AND metrics.x > 1") == (
        "tags.mlcli.parentRunId = 'abc' AND metrics.x > 1.0"
    )
    assert filter_to_store("tags.`mlflow.user` = 'a' OR params.p = 'b'") == (
        "tags.mlcli.user = 'a' OR params.p = 'b'"
    )
    assert filter_to_store("  ") is None
    assert order_by_to_store(["tags.mlflow.runName DESC", "metrics.acc"]) == [
        "tags.mlcli.runName DESC",
        "metrics.acc ASC",
    ]


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("name = 'iris'", True),
        ("name != 'iris'", False),
        ("name LIKE 'ir%'", True),
        ("name LIKE 'IR%'", False),
        ("name ILIKE 'IR%'", True),
        ("attributes.name = 'iris' AND tags.team = 'vision'", True),
        ("tags.`mlflow.user` = 'ann'", True),
        ("creation_time > 5", True),
        ("creation_time <= 5", False),
        ("name IN ('a', 'iris')", True),
        ("name NOT IN ('iris')", False),
        ("tags.missing IS NULL", True),
        ("tags.team IS NOT NULL", True),
    ],
)
def test_entity_filters(text: str, matches: bool) -> None:
    record = Record({"name": "iris", "creation_time": 10}, {"team": "vision", "mlcli.user": "ann"})
    condition = EntityFilter(text, {"name": "text", "creation_time": "number"})
    assert condition.matches(record) is matches


@pytest.mark.parametrize(
    "text",
    [
        "name =",
        "name = 5",
        "creation_time = 'x'",
        "color = 'red'",
        "metrics.x > 1",
        "name = 'a' OR name = 'b'",
        "name IS NULL",
        "name IN 'a'",
        "name NOT LIKE 'a'",
        "name = 'unterminated",
    ],
)
def test_bad_entity_filters_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInputError):
        EntityFilter(text, {"name": "text", "creation_time": "number"})


def test_sorting_puts_missing_values_last_either_way() -> None:
    items = [{"n": 2}, {"n": None}, {"n": 1}]
    fields = {"n": lambda item: item["n"]}
    assert sort_records(items, ["n ASC"], fields, ()) == [{"n": 1}, {"n": 2}, {"n": None}]
    assert sort_records(items, ["n DESC"], fields, ()) == [{"n": 2}, {"n": 1}, {"n": None}]
    with pytest.raises(InvalidInputError):
        sort_records(items, ["n SIDEWAYS"], fields, ())


def test_page_tokens() -> None:
    assert decode_token(encode_token(40)) == 40
    assert decode_token(None) == 0
    assert page(list(range(5)), 0, 2) == ([0, 1], encode_token(2))
    assert page(list(range(5)), 4, 2) == ([4], None)
    for bad in ("!!!", encode_token(-1), "eyJ4IjogMX0"):
        with pytest.raises(InvalidInputError):
            decode_token(bad)


def test_logged_models_live_with_their_run(tmp_path: Path) -> None:
    store, _ = Store.initialize(tmp_path / ".mlruns")
    run = TrackingClient(store).create_run()
    models = LoggedModelFiles(store.layout)
    first = models.create(run_id=run.run_id, experiment_id="0", name="model")
    second = models.create(run_id=run.run_id, experiment_id="0", name="model")
    assert first.artifact_path == "model"
    assert second.artifact_path == f"model-{second.model_id[2:10]}"
    assert (store.layout.artifacts_dir(run.run_id) / "model").is_dir()
    fresh = LoggedModelFiles(store.layout)  # no memory of the ids: found by listing
    assert fresh.get(first.model_id).run_id == run.run_id
    updated = fresh.update(first.model_id, status="READY", tags={"a": "1"}, params={"p": "2"})
    assert (updated.status, updated.tags, updated.params) == ("READY", {"a": "1"}, {"p": "2"})
    assert fresh.update(first.model_id, tags={"a": None}).tags == {}
    assert [m.model_id for m in fresh.of_run(run.run_id)] == [first.model_id, second.model_id]
    with pytest.raises(ConflictError):
        models.create(run_id=run.run_id, experiment_id="0", name="x", model_id=first.model_id)
    with pytest.raises(NotFoundError):
        fresh.get("m-" + "0" * 32)
    with pytest.raises(InvalidInputError):
        fresh.get("../escape")
    with pytest.raises(InvalidInputError):
        models.create(run_id=run.run_id, experiment_id="0", name="../up")


def test_a_run_can_keep_a_given_id(tmp_path: Path) -> None:
    client = TrackingClient(tmp_path / ".mlruns")
    run = client.create_run(run_id="0123456789abcdef0123456789abcdef", user_id="ann")
    assert (run.run_id, run.info.user_id) == ("0123456789abcdef0123456789abcdef", "ann")
    with pytest.raises(ConflictError):
        client.create_run(run_id=run.run_id)
    with pytest.raises(InvalidInputError):
        client.create_run(run_id="not-hex")


def test_server_help_imports_no_server_stack(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom mlcli.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)"
    )
    for args in (["server", "--help"], ["import-mlflow", "--help"], ["--help"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=tmp_path
        )
        loaded = set(result.stderr.strip().splitlines()[-1].split(","))
        assert not loaded & {"starlette", "uvicorn", "mlflow", "yaml", "sqlite3"}, args
