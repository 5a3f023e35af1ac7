"""Every mlcli command against a team server gives what it gives against a local store.

Each test runs the same commands twice: once with ``MLCLI_STORE`` a local ``.mlruns``,
once with it the URL of a real ``mlcli server`` over a store prepared the same way, and
compares what the user sees (``--json`` with run ids relabelled and times, artifact
URIs and other host-specific values dropped). Both stores live for the whole module and
every test changes both alike, so experiment ids stay in step. The commands that work
on a store's files (gc, fsck, index rebuild, import-mlflow) refuse a server in one line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import TrackingServer, start_tracking_server

from mlcli.store import Store

# What must differ between two stores: when things happened and where files live.
_DROPPED = {
    "start_time",
    "end_time",
    "creation_time",
    "last_update_time",
    "last_activity",
    "duration_ms",
    "timestamp",
    "artifact_uri",
    "artifact_location",
}
_LABEL = re.compile(r"\{(\w+)(?::(\d+))?\}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    directory = tmp_path_factory.mktemp("served")
    started = start_tracking_server(directory / ".mlruns", directory / "server.log")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("local") / ".mlruns"
    Store.initialize(root)
    return root


class Twin:
    """The same command against the local store and against the server. In an
    argument, ``{label}`` is the side's own id of the run created as ``label`` and
    ``{label:N}`` its first N characters."""

    def __init__(self, cli: Any, monkeypatch: pytest.MonkeyPatch, local: Path, url: str):
        self._cli = cli
        self._monkeypatch = monkeypatch
        self.stores = {"local": str(local), "server": url}
        self.ids: dict[str, dict[str, str]] = {"local": {}, "server": {}}  # label -> run id

    def one(self, side: str, *args: str, input: str | None = None) -> Any:
        self._monkeypatch.setenv("MLCLI_STORE", self.stores[side])
        ids = self.ids[side]

        def run_id(match: re.Match[str]) -> str:
            full = ids[match[1]]
            return full[: int(match[2])] if match[2] else full

        return self._cli(*(_LABEL.sub(run_id, arg) for arg in args), input=input)

    def both(self, *args: str, input: str | None = None) -> tuple[Any, Any]:
        return self.one("local", *args, input=input), self.one("server", *args, input=input)

    def same(self, *args: str, input: str | None = None, code: int = 0) -> tuple[Any, Any]:
        """Runs ``args`` on both sides: both exit ``code`` and print the same (ids
        relabelled, times dropped)."""
        local, served = self.both(*args, input=input)
        assert (local.exit_code, served.exit_code) == (code, code), (local, served)
        assert self.shown(local) == self.shown(served), args
        if code == 2:
            assert served.stderr.startswith("mlcli: error: ")
        return local, served

    def json(self, *args: str) -> Any:
        """``args --json`` on both sides, asserted equal once normalised; the value."""
        _, served = self.same(*args, "--json")
        return self.normal(json.loads(served.stdout))

    def lines(self, *args: str) -> list[str]:
        """``args`` on both sides, asserted equal; stdout's lines, ids relabelled."""
        _, served = self.same(*args)
        return self.relabel(served.stdout).splitlines()

    def create_run(self, label: str, *args: str) -> None:
        """``runs create -q ARGS`` on both sides; the run is ``{label}`` from now on (and
        named ``label`` unless ARGS name it: names made up at random differ)."""
        named = args if "-n" in args else (*args, "-n", label)
        local, served = self.both("runs", "create", "-q", *named)
        assert local.exit_code == served.exit_code == 0, (local, served)
        self.ids["local"][label] = local.stdout.strip()
        self.ids["server"][label] = served.stdout.strip()

    def adopt(self, label: str, local_id: str, server_id: str) -> None:
        self.ids["local"][label] = local_id
        self.ids["server"][label] = server_id

    def relabel(self, text: str) -> str:
        for side in self.ids.values():
            for label, run_id in side.items():
                text = text.replace(run_id, f"<{label}>").replace(run_id[:8], f"<{label}>")
        return text

    def normal(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self.relabel(k): self.normal(v) for k, v in value.items() if k not in _DROPPED}
        if isinstance(value, list):
            return [self.normal(item) for item in value]
        if isinstance(value, str):
            return self.relabel(value)
        return value

    def shown(self, result: Any) -> tuple[str, str]:
        try:
            out = json.dumps(self.normal(json.loads(result.stdout)), sort_keys=True)
        except ValueError:
            out = self.relabel(result.stdout)
        return out, self.relabel(result.stderr)


@pytest.fixture
def twin(
    cli: Any, monkeypatch: pytest.MonkeyPatch, local_store: Path, server: TrackingServer
) -> Twin:
    return Twin(cli, monkeypatch, local_store, server.url)


def _only(experiments: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [e for e in experiments if e["name"] in names]


# -- experiments ----------------------------------------------------------------------------


def test_experiments_create_list_rename_delete_restore(twin: Twin) -> None:
    twin.same("experiments", "create", "exp-a", "--tag", "team=growth")
    twin.same("experiments", "create", "exp-b", "--json")
    twin.same("experiments", "create", "exp-a", code=2)  # taken: one line, both alike
    twin.create_run("r", "-x", "exp-a")

    listed = _only(twin.json("experiments", "list"), "exp-a", "exp-b")
    assert [(e["name"], e["tags"], e["run_count"]) for e in listed] == [
        ("exp-a", {"team": "growth"}, 1),
        ("exp-b", {}, 0),
    ]
    twin.same("experiments", "list", "-q")

    twin.same("experiments", "rename", "exp-b", "exp-c")
    twin.same("experiments", "rename", "no-such", "x", code=2)
    twin.same("experiments", "delete", "exp-c")
    assert _only(twin.json("experiments", "list"), "exp-c") == []
    deleted = _only(twin.json("experiments", "list", "--deleted"), "exp-c")
    assert [e["lifecycle_stage"] for e in deleted] == ["deleted"]
    twin.json("experiments", "list", "--all")
    twin.same("experiments", "delete", "exp-c", code=2)  # not active any more
    twin.same("experiments", "restore", "exp-c")
    restored = _only(twin.json("experiments", "list"), "exp-c")
    assert [e["name"] for e in restored] == ["exp-c"]
    twin.same("experiments", "rename", restored[0]["experiment_id"], "exp-d")  # by id

    # A deleted experiment's runs are hidden until it is restored.
    twin.same("experiments", "delete", "exp-a")
    assert "<r>" not in twin.lines("runs", "list", "-q")
    twin.same("runs", "list", "-x", "exp-a", code=2)
    twin.same("experiments", "restore", "exp-a")
    assert twin.lines("runs", "list", "-x", "exp-a", "-q") == ["<r>"]


# -- log ------------------------------------------------------------------------------------


def test_log_param_metric_tag_and_batch(twin: Twin) -> None:
    twin.create_run("logged", "-x", "logging", "-n", "logged")
    twin.same("log", "param", "lr", "0.1", "--run", "{logged:10}")
    twin.same("log", "metric", "loss", "0.5", "--step", "1", "--run", "{logged}")
    twin.same("log", "metric", "loss", "0.25", "--step", "2", "--run", "{logged}")
    twin.same("log", "metric", "odd", "nan", "--run", "{logged}")
    twin.same("log", "metric", "--run", "{logged}", "big", "--", "-inf")
    twin.same("log", "tag", "stage", "tuning", "--run", "{logged}")
    lines = (
        '{"metric": "acc", "value": 0.9, "step": 3}\n'
        '{"param": "m", "value": "rf"}\n'
        '{"tag": "stage", "value": "final"}\n'
    )
    twin.same("log", "batch", "-", "--run", "{logged}", input=lines)
    # Refusals: a malformed line logs nothing; a param never changes; a run must exist.
    bad = '{"metric": "acc", "value": 0.1}\n{"nonsense": 1}\n'
    twin.same("log", "batch", "-", "--run", "{logged}", input=bad, code=2)
    local, served = twin.both("log", "param", "lr", "0.2", "--run", "{logged}")
    assert local.exit_code == served.exit_code != 0
    assert twin.shown(local) == twin.shown(served)
    twin.same("log", "tag", "k", "v", "--run", "abcdef0123", code=2)

    shown = twin.json("runs", "show", "{logged}")
    assert shown["params"] == {"lr": "0.1", "m": "rf"}
    assert shown["metrics"] == {"acc": 0.9, "big": "-Infinity", "loss": 0.25, "odd": "NaN"}
    assert shown["tags"]["stage"] == "final"
    assert shown["experiment_name"] == "logging"


# -- runs -----------------------------------------------------------------------------------


def test_runs_list_filter_order_limit_show_end(twin: Twin) -> None:
    for number, (model, acc) in enumerate([("rf", "0.7"), ("gb", "0.9"), ("rf", "0.8")]):
        label = f"r{number}"
        twin.create_run(label, "-x", "listing", "-n", label, "-t", f"model={model}")
        twin.same("log", "metric", "acc", acc, "--run", "{" + label + "}")
        twin.same("log", "param", "model", model, "--run", "{" + label + "}")
    twin.create_run("child", "-x", "listing", "-n", "child", "--parent", "{r0}")
    twin.same("runs", "end", "{r1}", "--status", "FAILED")
    twin.json("runs", "end", "{r2}")

    assert twin.lines("runs", "list", "-x", "listing", "-q") == [
        "<child>",
        "<r2>",
        "<r1>",
        "<r0>",
    ]
    listed = twin.json("runs", "list", "-x", "listing")
    assert [(r["run_name"], r["status"], r["parent_run_id"]) for r in listed] == [
        ("child", "RUNNING", "<r0>"),
        ("r2", "FINISHED", None),
        ("r1", "FAILED", None),
        ("r0", "RUNNING", None),
    ]
    assert twin.lines(
        "runs", "list", "-x", "listing", "-f", "params.model = 'rf'", "-o", "metrics.acc DESC", "-q"
    ) == ["<r2>", "<r0>"]
    assert twin.lines("runs", "list", "-f", "metrics.acc > 0.75 and tags.model != 'gb'", "-q") == [
        "<r2>"
    ]
    assert twin.lines("runs", "list", "-x", "listing", "-o", "metrics.acc", "-n", "2", "-q") == [
        "<r0>",
        "<r2>",
    ]
    assert twin.lines("runs", "list", "-x", "listing", "-f", "status = 'FAILED'", "-q") == ["<r1>"]
    twin.same("runs", "list", "-x", "listing", "-f", "metrics.acc >", code=2)
    twin.same("runs", "list", "-x", "no-such-experiment", code=2)
    twin.same("runs", "list", "-x", "listing", "-o", "nonsense.key", code=2)

    shown = twin.json("runs", "show", "{r1:6}")
    assert (shown["run_name"], shown["status"], shown["metrics"]) == ("r1", "FAILED", {"acc": 0.9})
    twin.same("runs", "end", "{r0}", "--status", "DONE", code=2)
    timed = ("started", "ended", "duration", "artifacts")
    local, served = twin.both("runs", "show", "{child}")
    assert local.exit_code == served.exit_code == 0
    texts = [
        [
            line
            for line in twin.relabel(r.stdout).splitlines()
            if line.split()[:1] != [] and line.split()[0] not in timed
        ]
        for r in (local, served)
    ]
    assert texts[0] == texts[1]
    assert "  parent      <r0>" in texts[1]


def test_runs_delete_restore_and_the_deleted_view(twin: Twin) -> None:
    twin.create_run("keep", "-x", "deleting", "-n", "keep")
    twin.create_run("drop", "-x", "deleting", "-n", "drop")
    twin.same("runs", "delete", "{drop}")
    assert twin.lines("runs", "list", "-x", "deleting", "-q") == ["<keep>"]
    assert twin.lines("runs", "list", "-x", "deleting", "--deleted", "-q") == ["<drop>"]
    assert twin.lines("runs", "list", "-x", "deleting", "--all", "-q") == ["<drop>", "<keep>"]
    assert twin.json("runs", "show", "{drop}")["lifecycle_stage"] == "deleted"
    twin.same("runs", "restore", "{drop:12}")
    assert twin.lines("runs", "list", "-x", "deleting", "-q") == ["<drop>", "<keep>"]
    twin.same("runs", "delete", "{keep}", "{drop}")
    assert twin.lines("runs", "list", "-x", "deleting", "-q") == []
    twin.same("runs", "restore", "{keep}", "{drop}")


def test_unknown_and_ambiguous_run_ids_are_one_line_exit_2(twin: Twin) -> None:
    twin.same("runs", "show", "0123456789abcdef0123456789abcdef", code=2)
    twin.same("runs", "show", "not-hex", code=2)
    for result in twin.both("runs", "show", "0123456789abcdef0123456789abcdef"):
        assert result.stderr.count("\n") == 1
    twin.same("runs", "delete", "0123456789abcdef0123456789abcdef", code=2)
    twin.same(
        "diff", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", code=2
    )
    # Seventeen runs: at least two of them share a first hex digit, on each side.
    for number in range(17):
        twin.create_run(f"a{number}", "-x", "ambiguous")
    for side in ("local", "server"):
        firsts = [run_id[0] for run_id in twin.ids[side].values()]
        shared = next(c for c in firsts if firsts.count(c) > 1)
        result = twin.one(side, "runs", "show", shared)
        assert result.exit_code == 2, result
        assert result.stderr.startswith(f"mlcli: error: run id prefix '{shared}' is ambiguous")
        assert result.stderr.count("\n") == 1
        everything = twin.one(side, "runs", "list", "--all", "-q").stdout.split()
        missing = next(c for c in "0123456789abcdef" if c not in {r[0] for r in everything})
        result = twin.one(side, "runs", "show", missing)
        assert (result.exit_code, result.stderr) == (
            2,
            f"mlcli: error: no run with an id starting with '{missing}'\n",
        )


# -- compare, select, diff ------------------------------------------------------------------


def test_compare_select_and_diff(twin: Twin, tmp_path: Path) -> None:
    for number, (lr, acc, loss) in enumerate([("0.1", "0.8", "0.5"), ("0.01", "0.9", "0.4")]):
        label = f"c{number}"
        twin.create_run(label, "-x", "comparing", "-n", label, "-t", f"kind=k{number}")
        twin.same("log", "param", "lr", lr, "--run", "{" + label + "}")
        twin.same("log", "param", "same", "x", "--run", "{" + label + "}")
        for step, value in enumerate([loss, str(float(loss) / 2)]):
            twin.same("log", "metric", "loss", value, "-s", str(step), "--run", "{" + label + "}")
        twin.same("log", "metric", "acc", acc, "--run", "{" + label + "}")
        twin.same("runs", "end", "{" + label + "}")

    rows = twin.json("compare", "-x", "comparing")
    assert [(r["run_name"], r["params.lr"], r["metrics.loss"]) for r in rows] == [
        ("c1", "0.01", 0.2),
        ("c0", "0.1", 0.25),
    ]
    twin.json("compare", "{c0}", "{c1:8}", "--only-changed")
    twin.json("compare", "-x", "comparing", "-c", "params.lr,metrics.*", "-o", "metrics.acc")
    twin.same("compare", "-x", "comparing", "--csv", "-c", "params.lr,metrics.acc")
    twin.same("compare", "-x", "comparing", "--md", "-c", "params.lr,metrics.acc,tags.kind")
    twin.same("compare", "-x", "comparing", "-f", "params.lr = '0.1'", "--json")
    charts = [tmp_path / "local.html", tmp_path / "server.html"]
    for side, chart in zip(("local", "server"), charts, strict=True):
        plotted = twin.one(
            side, "compare", "-x", "comparing", "--plot", "loss", "--plot-file", str(chart)
        )
        assert plotted.exit_code == 0, plotted
    assert twin.relabel(charts[0].read_text()) == twin.relabel(charts[1].read_text())

    assert twin.lines("select", "--max", "metrics.acc", "-x", "comparing") == ["<c1>"]
    assert twin.lines("select", "--min", "metrics.acc", "-x", "comparing") == ["<c0>"]
    twin.json("select", "--min", "metrics.loss", "-f", "params.lr = '0.1'", "-x", "comparing")
    local, served = twin.both("select", "--max", "metrics.nothing", "-x", "comparing")
    assert local.exit_code == served.exit_code == 1
    assert twin.shown(local) == twin.shown(served)

    changes = twin.json("diff", "{c0}", "{c1}", "--lower-is-better", "loss")
    assert changes["params"]["changed"] == {"lr": {"a": "0.1", "b": "0.01"}}
    assert changes["tags"]["changed"]["kind"] == {"a": "k0", "b": "k1"}
    assert [(m["key"], m["better"]) for m in changes["metrics"]] == [("acc", True), ("loss", True)]
    twin.same("diff", "{c0:8}", "{c1:8}")


# -- the commands that work on a store's files ----------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("gc",), ("gc", "--dry-run"), ("fsck",), ("fsck", "--repair"), ("index", "rebuild")],
)
def test_file_commands_refuse_a_server_in_one_line(twin: Twin, args: tuple[str, ...]) -> None:
    result = twin.one("server", *args)
    command = " ".join(a for a in args if not a.startswith("-"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"mlcli: error: 'mlcli {command}' works on a store directory; "
        f"{twin.stores['server']} is a team server: run it on the server's host\n",
    )
    assert twin.one("local", *args).exit_code in (0, 1)


def test_import_mlflow_refuses_a_server_in_one_line(twin: Twin, tmp_path: Path) -> None:
    mlruns = tmp_path / "mlruns"
    (mlruns / "0").mkdir(parents=True)
    (mlruns / "0" / "meta.yaml").write_text(
        "experiment_id: '0'\nname: Default\nlifecycle_stage: active\n"
        f"artifact_location: {(mlruns / '0').as_uri()}\n"
    )
    result = twin.one("server", "import-mlflow", str(mlruns))
    assert (result.exit_code, result.stderr) == (
        2,
        f"mlcli: error: 'mlcli import-mlflow' works on a store directory; "
        f"{twin.stores['server']} is a team server: run it on the server's host\n",
    )
    assert twin.one("local", "import-mlflow", str(mlruns)).exit_code == 0


# -- mlcli run ------------------------------------------------------------------------------

_MLPROJECT = """\
name: tiny
entry_points:
  main:
    parameters:
      x: {type: float, default: 1}
    command: "python train.py {x}"
"""
_TRAIN = """\
import sys

import mlcli

x = float(sys.argv[1])
mlcli.log_param("doubled", str(x * 2))
for step in range(3):
    mlcli.log_metric("score", x * 10 + step, step=step)
"""


def _mlcli_process(store: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcli", *args],
        cwd=cwd,
        env={**os.environ, "MLCLI_STORE": store},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "MLproject").write_text(_MLPROJECT)
    (directory / "train.py").write_text(_TRAIN)
    return directory


def test_mlcli_run_logs_the_run_on_the_server(twin: Twin, project: Path) -> None:
    for side, store in twin.stores.items():
        args = ("run", ".", "-P", "x=3", "-x", "projects", "--env-manager", "local")
        done = _mlcli_process(store, *args, "--run-name", "tiny-run", "-q", cwd=project)
        assert done.returncode == 0, done.stderr
        twin.ids[side]["tiny"] = done.stdout.strip()

    shown = twin.json("runs", "show", "{tiny}")
    assert (shown["status"], shown["run_name"], shown["experiment_name"]) == (
        "FINISHED",
        "tiny-run",
        "projects",
    )
    assert shown["params"] == {"x": "3", "doubled": "6.0"}
    assert shown["metrics"] == {"score": 32.0}
    assert shown["tags"]["mlcli.project.exitCode"] == "0"


def test_a_sweep_makes_its_parent_and_trials_on_the_server(twin: Twin, project: Path) -> None:
    for side, store in twin.stores.items():
        args = ("run", ".", "-P", "x=[1,2]", "-x", "sweeps", "--env-manager", "local")
        more = ("--objective", "metrics.score", "--direction", "maximize", "--run-name", "sw")
        done = _mlcli_process(store, *args, *more, cwd=project)
        assert done.returncode == 0, done.stderr
        listed = twin.one(side, "runs", "list", "-x", "sweeps", "-o", "attributes.run_name", "-q")
        for label, run_id in zip(("sweep", "trial1", "trial2"), listed.stdout.split(), strict=True):
            twin.ids[side][label] = run_id

    runs = twin.json("runs", "list", "-x", "sweeps", "-o", "attributes.run_name")
    assert [(r["run_name"], r["status"], r["parent_run_id"]) for r in runs] == [
        ("sw", "FINISHED", None),
        ("sw-1", "FINISHED", "<sweep>"),
        ("sw-2", "FINISHED", "<sweep>"),
    ]
    assert runs[0]["tags"]["mlcli.sweep.bestRunId"] == "<trial2>"
    assert [(r["params"]["x"], r["metrics"]["score"]) for r in runs[1:]] == [
        ("1", 12.0),
        ("2", 22.0),
    ]
    trials = twin.json("compare", "--parent", "{sweep}")
    assert [row["run_name"] for row in trials] == ["sw-2", "sw-1"]


# -- the Python API -------------------------------------------------------------------------


def _log_with_the_api(store: str) -> str:
    """A script's logging through mlcli's fluent API into ``store``: the run's id."""
    import mlcli

    mlcli.set_tracking_uri(store)
    mlcli.set_experiment("api")
    run = mlcli.start_run(run_name="api-run")
    mlcli.log_param("alpha", 0.5)
    mlcli.log_params({"beta": "b", "gamma": 3})
    for step in range(1000):
        mlcli.log_metric("loss", 1.0 / (step + 1), step=step)
    mlcli.log_metrics({"acc": 0.75, "f1": 0.5})
    mlcli.set_tag("stage", "api")
    mlcli.set_tags({"team": "t", "gone": "soon"})
    mlcli.delete_tag("gone")
    mlcli.end_run()
    return run.info.run_id


def test_the_fluent_api_and_the_clients_against_the_server(twin: Twin) -> None:
    import mlcli
    from mlcli import MlcliClient, TrackingClient

    for side, store in twin.stores.items():
        twin.ids[side]["api"] = _log_with_the_api(store)
        assert mlcli.get_tracking_uri() == store

    shown = twin.json("runs", "show", "{api}")
    assert (shown["status"], shown["run_name"], shown["experiment_name"]) == (
        "FINISHED",
        "api-run",
        "api",
    )
    assert shown["params"] == {"alpha": "0.5", "beta": "b", "gamma": "3"}
    assert shown["metrics"] == {"acc": 0.75, "f1": 0.5, "loss": 0.001}
    assert {k: v for k, v in shown["tags"].items() if not k.startswith("mlcli.")} == {
        "stage": "api",
        "team": "t",
    }

    seen: dict[str, Any] = {}
    for side, store in twin.stores.items():
        run_id = twin.ids[side]["api"]
        mlcli.set_tracking_uri(store)
        found = mlcli.search_runs(
            experiments=["api"],
            filter="params.alpha = '0.5' and metrics.loss < 0.01",
            output_format="list",
        )
        got = mlcli.get_run(run_id)
        history = mlcli.get_metric_history(run_id, "loss")
        client = MlcliClient(store)
        tracking = TrackingClient(store)
        seen[side] = (
            [run.info.run_id == run_id for run in found],
            (got.info.run_name, got.info.status, got.experiment_name, got.data.params),
            {key: metric.value for key, metric in got.data.latest_metrics.items()},
            [(m.step, m.value) for m in history],
            [(m.step, m.value) for m in client.get_metric_history(run_id, "loss")],
            twin.normal(tracking.get_run(run_id).data.params),
            [r.info.run_name for r in tracking.search_runs(None, "params.gamma = '3'")],
        )
    assert seen["local"] == seen["server"]
    found, _, _, history, client_history, _, names = seen["server"]
    assert found == [True]
    assert history == client_history and len(history) == 1000
    assert history[:2] == [(0, 1.0), (1, 0.5)]
    assert names == ["api-run"]


def test_mlcli_tracking_uri_in_the_environment(twin: Twin, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "import mlcli\n"
        "with mlcli.start_run(run_name='from-env') as run:\n"
        "    mlcli.log_metric('m', 1.5)\n"
        "print(run.info.run_id)\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_STORE")}
    for side, store in twin.stores.items():
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env={**environ, "MLCLI_TRACKING_URI": store},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        twin.ids[side]["env"] = done.stdout.strip()
    shown = twin.json("runs", "show", "{env}")
    assert (shown["run_name"], shown["metrics"]) == ("from-env", {"m": 1.5})


def test_awkward_names_and_values_round_trip(twin: Twin) -> None:
    name = "team/ü project?&# 100%"
    twin.same("experiments", "create", name, "--tag", "a key=a value/ü")
    twin.create_run("odd", "-x", name, "-n", "ünï cödé 'quoted'", "-t", "multi=line1\nline2")
    long_value = "v" * 6000
    twin.same("log", "param", "a param/with spaces", long_value, "--run", "{odd}")
    twin.same("log", "param", "empty", "", "--run", "{odd}")
    for key, value in (("huge", "1e300"), ("tiny", "-1e-300"), ("int", "3"), ("zero", "-0.0")):
        twin.same("log", "metric", "--run", "{odd}", "--", key, value)
    twin.same("log", "metric", "stamped", "1.5", "--timestamp", "1700000000000", "--run", "{odd}")
    twin.same("log", "tag", "mlcli.note", "user's own", "--run", "{odd}")
    twin.same("log", "tag", "tag.with.dots", "x", "--run", "{odd}")

    shown = twin.json("runs", "show", "{odd}")
    assert shown["experiment_name"] == name
    assert shown["run_name"] == "ünï cödé 'quoted'"
    assert shown["params"] == {"a param/with spaces": long_value, "empty": ""}
    assert shown["metrics"] == {
        "huge": 1e300,
        "int": 3.0,
        "stamped": 1.5,
        "tiny": -1e-300,
        "zero": -0.0,
    }
    assert shown["tags"]["multi"] == "line1\nline2"
    assert shown["tags"]["mlcli.note"] == "user's own"
    listed = _only(twin.json("experiments", "list"), name)
    assert [e["tags"] for e in listed] == [{"a key": "a value/ü"}]
    twin.lines("runs", "list", "-x", name, "-q")
    assert twin.lines("runs", "list", "-f", "attributes.run_name LIKE 'ünï cödé%'", "-q") == [
        "<odd>"
    ]
    assert twin.lines("runs", "list", "-f", "params.`a param/with spaces` LIKE 'vvv%'", "-q") == [
        "<odd>"
    ]
    assert twin.lines("runs", "list", "-f", "tags.`tag.with.dots` = 'x'", "-q") == ["<odd>"]
    assert twin.lines("runs", "list", "-f", "tags.mlcli.note = 'user''s own'", "-q") == ["<odd>"]
    twin.same("experiments", "rename", name, name + " (old)")
    twin.same("experiments", "delete", name + " (old)")
    twin.same("experiments", "restore", name + " (old)")


def test_a_batch_larger_than_one_request(twin: Twin) -> None:
    """2,500 points, 150 params and 120 tags: more than MLflow's log-batch takes at once."""
    from mlcli import TrackingClient

    lines = [json.dumps({"metric": "loss", "value": 1 / (i + 1), "step": i}) for i in range(2500)]
    lines += [json.dumps({"param": f"p{i:03}", "value": str(i)}) for i in range(150)]
    lines += [json.dumps({"tag": f"t{i:03}", "value": f"v{i}"}) for i in range(120)]
    twin.create_run("big", "-x", "batches", "-n", "big")
    twin.same("log", "batch", "-", "--run", "{big}", input="\n".join(lines) + "\n")

    shown = twin.json("runs", "show", "{big}")
    assert len(shown["params"]) == 150 and shown["params"]["p149"] == "149"
    assert sum(1 for key in shown["tags"] if key.startswith("t")) == 120
    assert shown["metrics"] == {"loss": 1 / 2500}
    histories = [
        [(m.step, m.value) for m in TrackingClient(store).get_metric_history(ids["big"], "loss")]
        for store, ids in ((twin.stores[side], twin.ids[side]) for side in ("local", "server"))
    ]
    assert histories[0] == histories[1] and len(histories[1]) == 2500


def test_empty_answers_and_prefix_references(twin: Twin) -> None:
    twin.same("experiments", "create", "empty")
    assert twin.lines("runs", "list", "-x", "empty", "-q") == []
    assert twin.json("runs", "list", "-x", "empty") == []
    assert twin.json("compare", "-x", "empty") == []
    local, served = twin.both("select", "--max", "metrics.acc", "-x", "empty")
    assert local.exit_code == served.exit_code == 1
    assert twin.shown(local) == twin.shown(served)
    twin.create_run("parent", "-x", "empty")
    twin.create_run("kid", "-x", "empty", "--parent", "{parent:7}")
    assert twin.lines("runs", "list", "-x", "empty", "-n", "0", "-q") == []
    assert twin.json("runs", "show", "{kid}")["parent_run_id"] == "<parent>"
    assert twin.lines("runs", "list", "-f", "tags.mlcli.parentRunId = '{parent}'", "-q") == [
        "<kid>"
    ]


def test_listings_longer_than_a_page(twin: Twin) -> None:
    """1,050 runs: more than one page of the server's search (1,000)."""
    from mlcli import TrackingClient

    base = 1_700_000_000_000
    order: dict[str, dict[str, int]] = {}  # side -> run id -> number
    for side, store in twin.stores.items():
        client = TrackingClient(store)
        experiment = client.create_experiment("paged")
        order[side] = {}
        for number in range(1050):  # the store's own call: TrackingClient.create_run asks
            info = client.store.runs.create(  # for the experiment each time, a slow call
                experiment_id=experiment,
                run_name=f"p{number}",
                user_id="tester",
                tags={},
                start_time=base + number,
            )
            order[side][info.run_id] = number
            if number % 7 == 0:
                client.log_metric(info.run_id, "m", number % 10)

    def numbers(*args: str) -> list[int]:
        local, served = twin.both("runs", "list", "-x", "paged", "-q", *args)
        assert local.exit_code == served.exit_code == 0, (local, served)
        found = [
            [order[side][r] for r in result.stdout.split()]
            for side, result in (("local", local), ("server", served))
        ]
        assert found[0] == found[1], args
        return found[1]

    assert numbers() == list(range(1049, -1, -1))
    assert numbers("-n", "1001") == list(range(1049, 48, -1))
    assert numbers("-o", "attributes.start_time ASC", "-n", "3") == [0, 1, 2]
    by_metric = numbers("-f", "metrics.m >= 0", "-o", "metrics.m DESC")
    assert len(by_metric) == 150 and by_metric[0] % 10 == 9
    local, served = twin.both("compare", "-x", "paged", "-c", "metrics.m", "-n", "1020", "--json")
    rows = [
        [(order[side][row["run_id"]], row["metrics.m"]) for row in json.loads(result.stdout)]
        for side, result in (("local", local), ("server", served))
    ]
    assert rows[0] == rows[1] and len(rows[1]) == 1020
