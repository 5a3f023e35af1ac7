"""The team store's registry (PostgreSQL + a bucket) behaves as the files registry: the
behaviours of test_registry.py and test_promotion.py run on both, against a real
PostgreSQL and a real S3 server; then what only the team registry has to survive
(several processes registering at once, PostgreSQL restarting, a failed upload)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcli.client import MlcliClient
from mlcli.errors import ConflictError, InvalidInputError, MlcliError, NotFoundError, StoreError
from mlcli.objects import open_objects
from mlcli.registry import ModelRegistry, Promotion, PromotionRefused
from mlcli.registry.files import PENDING
from mlcli.registry.postgres import PostgresRegistry, ensure_registry_tables
from mlcli.registry.promotion import promote
from mlcli.registry.protocol import Registry
from mlcli.store import StoreLayout
from mlcli.store.sync.keys import version_artifact_key
from mlcli.store.team.database import Database, IndexUnavailableError

USER = "alice"


# -- fixtures: the two registries ----------------------------------------------------------------


@pytest.fixture
def bucket_url(moto_server: Any, s3_env: Any) -> str:
    s3_env(moto_server)
    return f"s3://{moto_server.new_bucket()}/team"


@pytest.fixture
def database_url(postgres: Any) -> str:
    return str(postgres.new_database())


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    found = Database(database_url)
    ensure_registry_tables(found)
    yield found
    found.close()


@pytest.fixture
def team_registry(database: Database, bucket_url: str) -> PostgresRegistry:
    return PostgresRegistry(database, open_objects(bucket_url), USER)


@pytest.fixture
def files_registry(store_root: Path) -> ModelRegistry:
    return ModelRegistry(StoreLayout(store_root), USER)


@pytest.fixture(params=["files", "postgres"])
def registry(request: pytest.FixtureRequest) -> Registry:
    """Each shared test runs on the files registry and on the team store's."""
    fixture = "files_registry" if request.param == "files" else "team_registry"
    found: Registry = request.getfixturevalue(fixture)
    return found


@pytest.fixture
def register(tmp_path: Path) -> Callable[..., int]:
    """``register(registry, run_id)``: a model folder whose weights are the run's id (or
    ``content``) becomes the next version; returns its number."""
    made = iter(range(10**6))

    def make(
        registry: Registry,
        run_id: str | None = None,
        name: str = "m",
        content: str | None = None,
        **options: Any,
    ) -> int:
        folder = tmp_path / f"model-{next(made)}"
        (folder / "data").mkdir(parents=True)
        (folder / "MLmodel").write_text("flavors: {}\n")
        (folder / "data" / "weights.bin").write_text(content or run_id or "none")
        source = f"runs:/{run_id}/model" if run_id else str(folder)
        return registry.create_version(name, folder, source, run_id, **options).version

    return make


def _weights(registry: Registry, name: str, version: int) -> str:
    return (registry.artifacts_path(name, version) / "data" / "weights.bin").read_text()


# -- the behaviours of test_registry.py ------------------------------------------------------------


def test_register_copies_the_model_and_records_its_run_and_commit(
    registry: Registry, register: Callable[..., int]
) -> None:
    assert register(registry, "run1", git_commit="abc1234def", tags={"k": "v"}) == 1
    version = registry.get_version("m", 1)
    assert (version.run_id, version.git_commit, version.tags) == ("run1", "abc1234def", {"k": "v"})
    assert version.source == "runs:/run1/model" and version.stage == "None"
    assert (version.user_id, version.status) == (USER, "READY")
    assert _weights(registry, "m", 1) == "run1"
    assert registry.get_model("m").latest_version == 1


def test_versions_are_numbered_from_one_and_never_reused(
    registry: Registry, register: Callable[..., int]
) -> None:
    for _ in range(3):
        register(registry)
    registry.delete_version("m", 3, comment="bad")
    assert register(registry) == 4
    assert [v.version for v in registry.list_versions("m")] == [1, 2, 4]
    deleted = registry.list_versions("m", include_deleted=True)[2]
    assert (deleted.version, deleted.deleted, deleted.stage) == (3, True, "Archived")
    with pytest.raises(NotFoundError, match="has no version 3"):
        registry.get_version("m", 3)
    assert registry.events("m")[-2].comment == "bad"


@pytest.mark.parametrize("name", ["a/b", "../x", ".hidden", "c:d", "", "x\ny"])
def test_unsafe_model_names_are_refused(registry: Registry, name: str) -> None:
    with pytest.raises(InvalidInputError):
        registry.create_model(name)
    assert registry.list_models() == []


def test_stages_case_insensitive_and_archive_existing(
    registry: Registry, register: Callable[..., int]
) -> None:
    for _ in range(3):
        register(registry)
    registry.transition_stage("m", 1, "production")
    registry.transition_stage("m", 2, "PRODUCTION")
    stages = [v.stage for v in registry.list_versions("m")]
    assert stages == ["Production", "Production", "None"]
    assert registry.latest_versions("m", ["Production"])[0].version == 2
    registry.transition_stage("m", 3, "Production", archive_existing=True)
    assert [v.stage for v in registry.list_versions("m")] == ["Archived", "Archived", "Production"]
    archived = [e for e in registry.events("m") if e.to_value == "Archived"]
    assert [e.comment for e in archived] == ["archived by the promotion of version 3"] * 2
    with pytest.raises(InvalidInputError, match="invalid stage 'Live'"):
        registry.transition_stage("m", 1, "Live")
    with pytest.raises(InvalidInputError, match="only applies to a transition to Staging"):
        registry.transition_stage("m", 1, "Archived", archive_existing=True)


def test_aliases_move_and_reserved_names(registry: Registry, register: Callable[..., int]) -> None:
    for _ in range(2):
        register(registry)
    registry.set_alias("m", "champion", 1)
    registry.set_alias("m", "champion", 2)
    registry.set_alias("m", "backup", 1)
    assert registry.version_by_alias("m", "champion").version == 2
    assert registry.get_version("m", 2).aliases == ("champion",)
    assert registry.get_model("m").aliases == {"champion": 2, "backup": 1}
    assert registry.version_by_alias("m", "latest").version == 2
    for reserved in ("latest", "Latest", "v1", "V22"):
        with pytest.raises(InvalidInputError, match="is reserved"):
            registry.set_alias("m", reserved, 1)
    with pytest.raises(InvalidInputError, match="invalid alias"):
        registry.set_alias("m", "bad alias", 1)
    registry.delete_version("m", 2)  # removes the alias pointing to it
    with pytest.raises(NotFoundError, match="has no alias 'champion'"):
        registry.version_by_alias("m", "champion")
    registry.delete_alias("m", "backup")
    with pytest.raises(NotFoundError, match="has no alias 'backup'"):
        registry.delete_alias("m", "backup")
    assert registry.get_model("m").aliases == {}


def test_history_records_every_change(registry: Registry, register: Callable[..., int]) -> None:
    register(registry)
    registry.transition_stage("m", 1, "Staging")
    registry.set_alias("m", "champion", 1)
    registry.update_version("m", 1, "first")
    registry.update_model("m", tags={"team": "ml"})
    registry.delete_tag("m", "team")
    registry.delete_alias("m", "champion")
    events = registry.events("m")
    actions = [(e.action, e.version, e.from_value, e.to_value) for e in events]
    assert actions == [
        ("create_model", None, None, None),
        ("register", 1, None, actions[1][3]),
        ("transition", 1, "None", "Staging"),
        ("set_alias", 1, None, "champion"),
        ("describe", 1, "", "first"),
        ("tag", None, None, "team=ml"),
        ("untag", None, "ml", "team"),
        ("delete_alias", 1, "champion", None),
    ]
    assert {e.user for e in events} == {USER}
    times = [e.time for e in events]
    assert times == sorted(times) and registry.get_model("m").last_update_time >= times[-1]


def test_tags_of_models_and_versions(registry: Registry, register: Callable[..., int]) -> None:
    registry.create_model("m", description="d", tags={"a": "1"})
    register(registry, tags={"x": "1"})
    registry.update_model("m", description="d2", tags={"b": "2", "a": "3"})
    assert registry.get_model("m").tags == {"a": "3", "b": "2"}
    assert registry.get_model("m").description == "d2"
    registry.update_version("m", 1, tags={"y": "2"})
    registry.delete_tag("m", "x", version=1)
    assert registry.get_version("m", 1).tags == {"y": "2"}
    with pytest.raises(NotFoundError, match="model 'm' version 1 has no tag 'x'"):
        registry.delete_tag("m", "x", version=1)
    with pytest.raises(NotFoundError, match="model 'm' has no tag 'zz'"):
        registry.delete_tag("m", "zz")
    with pytest.raises(InvalidInputError, match="invalid tag key"):
        registry.update_model("m", tags={"bad key!": "v"})


def test_create_and_delete_registered_models(
    registry: Registry, register: Callable[..., int]
) -> None:
    registry.create_model("m", tags={"a": "b"}, description="d")
    with pytest.raises(ConflictError, match="already exists"):
        registry.create_model("m")
    register(registry)
    register(registry, name="another")
    assert [m.name for m in registry.list_models()] == ["another", "m"]
    registry.delete_model("m")
    assert [m.name for m in registry.list_models()] == ["another"]
    with pytest.raises(NotFoundError, match="no registered model named 'm'"):
        registry.get_model("m")
    assert register(registry) == 1  # a new model of the name starts again
    assert registry.get_model("m").tags == {}


def test_a_pending_version_is_finished_once(
    registry: Registry, register: Callable[..., int]
) -> None:
    register(registry, status=PENDING)
    assert registry.get_version("m", 1).status == PENDING
    assert registry.finish_version("m", 1).status == "READY"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="is READY, not PENDING_REGISTRATION"):
        registry.finish_version("m", 1, failed=True)  # type: ignore[attr-defined]


# -- the behaviours of test_promotion.py -----------------------------------------------------------


@pytest.fixture
def two_versions(
    registry: Registry, client: MlcliClient, model_run: Any, register: Callable[..., int]
) -> Registry:
    register(registry, model_run(0.82), name="churn")
    register(registry, model_run(0.86), name="churn")
    promote(registry, client, Promotion("churn", 1, stage="Production"))
    return registry


def _stages(registry: Registry) -> list[str]:
    return [v.stage for v in registry.list_versions("churn")]


def test_gated_promotion_that_passes_records_its_checks(
    two_versions: Registry, client: MlcliClient
) -> None:
    request = Promotion(
        "churn",
        2,
        stage="Production",
        archive_existing=True,
        require="metrics.accuracy >= 0.8",
        better_than="Production",
        metric="accuracy",
    )
    result = promote(two_versions, client, request)
    assert result.changed and _stages(two_versions) == ["Archived", "Production"]
    assert result.checks == (
        "require 'metrics.accuracy >= 0.8' holds (metrics.accuracy=0.86)",
        "metrics.accuracy of version 2 (0.86) is better than Production "
        "(version 1: 0.82; higher is better)",
    )
    assert "is better than Production" in (two_versions.events("churn")[-2].comment or "")


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"require": "metrics.accuracy >= 0.9"}, "does not hold (metrics.accuracy=0.86)"),
        (
            {"better_than": "Production", "metric": "accuracy", "higher_is_better": False},
            "is not better than Production (version 1: 0.82; lower is better)",
        ),
        (
            {"better_than": "Production", "metric": "loss"},
            "version 2's run has no value for metrics.loss",
        ),
    ],
)
def test_refused_promotions_change_nothing(
    two_versions: Registry, client: MlcliClient, request_args: dict[str, Any], message: str
) -> None:
    before = two_versions.events("churn")
    with pytest.raises(PromotionRefused) as refused:
        promote(two_versions, client, Promotion("churn", 2, stage="Production", **request_args))
    assert message in str(refused.value) and refused.value.exit_code == 1
    assert _stages(two_versions) == ["Production", "None"]
    assert two_versions.events("churn") == before


def test_promoting_to_what_it_holds_is_a_no_op(two_versions: Registry, client: MlcliClient) -> None:
    before = two_versions.events("churn")
    held = Promotion("churn", 1, stage="production", require="metrics.accuracy > 0.99")
    assert not promote(two_versions, client, held).changed
    promote(two_versions, client, Promotion("churn", 2, alias="champion"))
    assert not promote(two_versions, client, Promotion("churn", 2, alias="champion")).changed
    assert len(two_versions.events("churn")) == len(before) + 1


def test_better_than_an_alias_and_nothing_to_beat(
    two_versions: Registry, client: MlcliClient
) -> None:
    first = promote(
        two_versions,
        client,
        Promotion("churn", 1, alias="champion", better_than="champion", metric="accuracy"),
    )
    assert first.checks == ("nothing holds champion yet, so there is nothing to beat",)
    second = Promotion("churn", 2, alias="champion", better_than="champion", metric="accuracy")
    assert promote(two_versions, client, second).changed
    assert two_versions.version_by_alias("churn", "champion").version == 2


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"version": 9, "stage": "Staging"}, NotFoundError, "has no version 9"),
        ({"version": 2, "alias": "latest"}, InvalidInputError, "is reserved"),
        ({"version": 2}, InvalidInputError, "exactly one of --stage and --alias"),
        (
            {"version": 2, "stage": "Staging", "require": "metrics.x >"},
            InvalidInputError,
            "expected",
        ),
    ],
)
def test_invalid_promotions(
    two_versions: Registry, client: MlcliClient, args: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        promote(two_versions, client, Promotion("churn", **args))
    assert _stages(two_versions) == ["Production", "None"]


# -- the same one-line errors --------------------------------------------------------------------


ERRORS: list[tuple[str, Callable[[Registry], Any]]] = [
    ("bad name", lambda r: r.get_model("a/b")),
    ("bad name, version", lambda r: r.get_version("../x", 1)),
    ("bad name, versions", lambda r: r.list_versions(".hidden")),
    ("bad name, alias", lambda r: r.version_by_alias("c:d", "champion")),
    ("bad name, events", lambda r: r.events("x\ny")),
    ("unknown model", lambda r: r.get_model("nope")),
    ("unknown model, version", lambda r: r.get_version("nope", 1)),
    ("unknown model, stage", lambda r: r.transition_stage("nope", 1, "Staging")),
    ("unknown model, alias", lambda r: r.set_alias("nope", "champion", 1)),
    ("unknown model, delete", lambda r: r.delete_model("nope")),
    ("unknown model, history", lambda r: r.events("nope")),
    ("unknown version", lambda r: r.get_version("m", 7)),
    ("unknown version, stage", lambda r: r.transition_stage("m", 7, "Staging")),
    ("unknown version, alias", lambda r: r.set_alias("m", "champion", 7)),
    ("unknown version, files", lambda r: r.artifacts_path("m", 7)),
    ("unknown version, update", lambda r: r.update_version("m", 7, "d")),
    ("unknown version, delete", lambda r: r.delete_version("m", 7)),
    ("unknown version, tag", lambda r: r.delete_tag("m", "k", 7)),
    ("unknown alias", lambda r: r.version_by_alias("m", "nope")),
    ("unknown alias, delete", lambda r: r.delete_alias("m", "nope")),
    ("no versions", lambda r: r.latest_version("empty")),
    ("bad stage first", lambda r: r.transition_stage("nope", 1, "Live")),
    ("bad alias first", lambda r: r.set_alias("nope", "v1", 1)),
]


@pytest.mark.parametrize("call", [c for _, c in ERRORS], ids=[i for i, _ in ERRORS])
def test_bad_names_and_unknown_versions_give_the_files_registrys_errors(
    files_registry: ModelRegistry,
    team_registry: PostgresRegistry,
    register: Callable[..., int],
    call: Callable[[Registry], Any],
) -> None:
    found = []
    for registry in (files_registry, team_registry):
        register(registry)
        registry.create_model("empty")
        with pytest.raises(MlcliError) as raised:
            call(registry)
        found.append((type(raised.value), str(raised.value)))
    assert found[0] == found[1] and "\n" not in found[1][1]


# -- the team registry only: the bucket and the cache ------------------------------------------


@pytest.fixture(params=["moto", "seaweedfs"])
def any_bucket(request: pytest.FixtureRequest, s3_env: Any) -> str:
    server = request.getfixturevalue("moto_server" if request.param == "moto" else "seaweedfs")
    s3_env(server)
    return f"s3://{server.new_bucket()}/team"


def test_files_are_in_the_bucket_and_downloaded_once_into_a_private_cache(
    database: Database, any_bucket: str, register: Callable[..., int], tmp_path: Path
) -> None:
    objects = open_objects(any_bucket)
    registry = PostgresRegistry(database, objects, USER)
    register(registry, content="weights", name="churn model")
    key = version_artifact_key("churn model", 1, "data/weights.bin")
    assert objects.get(key)[0] == b"weights"
    first = registry.artifacts_path("churn model", 1)
    assert first.is_relative_to(tmp_path / "cache" / "mlcli" / "team-registry")
    assert stat.S_IMODE(os.stat(first.parent.parent).st_mode) == 0o700
    assert sorted(p.name for p in first.rglob("*")) == ["MLmodel", "data", "weights.bin"]
    objects.delete(key)  # a cached version is read from the cache, not the bucket again
    assert registry.artifacts_path("churn model", 1) == first
    assert (first / "data" / "weights.bin").read_text() == "weights"
    registry.delete_version("churn model", 1)
    assert list(objects.list(version_artifact_key("churn model", 1, ""))) == []


def test_a_pending_version_has_no_files_to_read(
    team_registry: PostgresRegistry, register: Callable[..., int]
) -> None:
    register(team_registry, status=PENDING)
    with pytest.raises(InvalidInputError, match="has no files to read: it is PENDING"):
        team_registry.artifacts_path("m", 1)


def test_deleting_a_model_removes_its_files(
    team_registry: PostgresRegistry, register: Callable[..., int]
) -> None:
    register(team_registry)
    register(team_registry)
    team_registry.delete_model("m")
    assert list(team_registry.objects.list("models/")) == []


def test_a_failed_upload_leaves_no_version(
    database: Database, bucket_url: str, register: Callable[..., int]
) -> None:
    absent = PostgresRegistry(database, open_objects("s3://no-such-bucket-mlcli/x"), USER)
    with pytest.raises(StoreError):
        register(absent)
    registry = PostgresRegistry(database, open_objects(bucket_url), USER)
    assert registry.list_versions("m", include_deleted=True) == []
    made = register(registry)
    assert [v.version for v in registry.list_versions("m")] == [made]
    assert [e.action for e in registry.events("m")] == ["create_model", "register"]


def test_nul_characters_are_refused_in_one_line(team_registry: PostgresRegistry) -> None:
    with pytest.raises(InvalidInputError, match="contains a NUL character"):
        team_registry.create_model("m", description="a\x00b")
    assert team_registry.list_models() == []


def test_the_tables_are_made_once_whoever_asks(database: Database) -> None:
    threads = [threading.Thread(target=ensure_registry_tables, args=(database,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert database.query("SELECT count(*) FROM registry_models") == [(0,)]


# -- the team registry only: several writers, PostgreSQL going away -----------------------------


def test_threads_registering_at_once_get_distinct_consecutive_numbers(
    team_registry: PostgresRegistry, register: Callable[..., int]
) -> None:
    made: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def work(who: int) -> None:
        try:
            for i in range(5):
                content = f"t{who}-{i}"
                made.append((register(team_registry, content=content), content))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(v for v, _ in made) == list(range(1, 21))
    for version, content in made:
        assert _weights(team_registry, "m", version) == content
    assert [e.action for e in team_registry.events("m")].count("create_model") == 1


REGISTER_TWENTY = """
import sys, tempfile
from pathlib import Path
from mlcli.objects import open_objects
from mlcli.registry.postgres import PostgresRegistry
from mlcli.store.team.database import Database

database_url, bucket_url, who = sys.argv[1:4]
registry = PostgresRegistry(Database(database_url, max_size=2), open_objects(bucket_url), who)
for i in range(20):
    folder = Path(tempfile.mkdtemp())
    (folder / "MLmodel").write_text("flavors: {}\\n")
    (folder / "weights.bin").write_text(f"{who}-{i}")
    made = registry.create_version("shared", folder, str(folder), None, tags={"made": f"{who}-{i}"})
    print(made.version, flush=True)
"""


@pytest.mark.slow
def test_two_processes_registering_twenty_versions_each_get_forty_numbers(
    database: Database, database_url: str, bucket_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "register.py"
    script.write_text(textwrap.dedent(REGISTER_TWENTY))
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), database_url, bucket_url, who],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("p0", "p1")
    ]
    numbers: list[int] = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        numbers.extend(int(line) for line in out.split())
    assert sorted(numbers) == list(range(1, 41))
    registry = PostgresRegistry(database, open_objects(bucket_url), USER)
    versions = registry.list_versions("shared")
    assert [v.version for v in versions] == list(range(1, 41))
    assert {v.user_id for v in versions} == {"p0", "p1"}
    for version in versions:  # each version holds its own files, named by its tag
        copy = registry.artifacts_path("shared", version.version)
        assert (copy / "weights.bin").read_text() == version.tags["made"]
    actions = [e.action for e in registry.events("shared")]
    assert (actions.count("create_model"), actions.count("register")) == (1, 40)


REGISTER_ONE = """
import sys
from pathlib import Path
from mlcli.objects import open_objects
from mlcli.registry.postgres import PostgresRegistry
from mlcli.store.team.database import Database

database_url, bucket_url, folder = sys.argv[1:4]
registry = PostgresRegistry(Database(database_url), open_objects(bucket_url), "killed")
registry.create_version("m", Path(folder), folder, None)
"""


@pytest.mark.slow
def test_a_registration_killed_half_way_leaves_no_half_version(
    database: Database,
    database_url: str,
    bucket_url: str,
    team_registry: PostgresRegistry,
    register: Callable[..., int],
    tmp_path: Path,
) -> None:
    register(team_registry)
    big = tmp_path / "big"
    big.mkdir()
    (big / "MLmodel").write_text("flavors: {}\n")
    (big / "weights.bin").write_bytes(os.urandom(96 << 20))
    script = tmp_path / "register_one.py"
    script.write_text(textwrap.dedent(REGISTER_ONE))
    process = subprocess.Popen(
        [sys.executable, str(script), database_url, bucket_url, str(big)],
        stderr=subprocess.PIPE,
        text=True,
    )
    claimed = "SELECT last_version FROM registry_models WHERE name = 'm'"
    deadline = time.monotonic() + 120  # a bound on waiting, not an assertion on speed
    while database.query(claimed) != [(2,)] and process.poll() is None:
        assert time.monotonic() < deadline, "version 2 was never claimed"
        time.sleep(0.005)
    process.kill()  # while it uploads (or, on a very fast machine, after it finished)
    process.communicate(timeout=60)
    versions = team_registry.list_versions("m")
    if len(versions) == 2:  # it finished first: then the version is whole
        copy = team_registry.artifacts_path("m", 2) / "weights.bin"
        assert copy.read_bytes() == (big / "weights.bin").read_bytes()
    else:
        assert [v.version for v in versions] == [1]
        assert [e.action for e in team_registry.events("m")] == ["create_model", "register"]
    assert register(team_registry, content="after") == 3  # 2 is never handed out again
    assert _weights(team_registry, "m", 3) == "after"


def test_calls_work_again_after_postgresql_restarts(
    postgres: Any, team_registry: PostgresRegistry, register: Callable[..., int]
) -> None:
    register(team_registry)
    team_registry.set_alias("m", "champion", 1)
    with postgres.stopped():
        pass  # every pooled connection is broken now
    assert team_registry.get_version("m", 1).aliases == ("champion",)
    assert register(team_registry) == 2
    team_registry.set_alias("m", "champion", 2)
    assert team_registry.version_by_alias("m", "champion").version == 2
    assert _weights(team_registry, "m", 2) == "none"


@pytest.mark.slow
def test_a_call_while_postgresql_is_down_is_one_line_and_changes_nothing(
    postgres: Any, team_registry: PostgresRegistry, register: Callable[..., int]
) -> None:
    register(team_registry)
    with postgres.stopped():
        with pytest.raises(IndexUnavailableError) as down:
            register(team_registry)  # the pool waits for PostgreSQL (30 s) before saying so
        assert "\n" not in str(down.value)
    assert [v.version for v in team_registry.list_versions("m")] == [1]
    assert register(team_registry) == 2
