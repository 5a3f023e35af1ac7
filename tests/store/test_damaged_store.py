"""A damaged file never makes a run vanish silently, and ``mlcli fsck`` finds every
damaged file, torn line and orphan, repairing what is safe (issue 15, finding 7)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mlcli.client import MlcliClient
from mlcli.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / ".mlruns"
    Store.initialize(root)
    return root


@pytest.fixture
def mlcli(mlcli_process, store: Path):
    """``mlcli(*args)``: the real command over ``store``, its result (any exit code)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    environ["MLCLI_STORE"] = str(store)
    return lambda *args: mlcli_process(*args, env=environ, check=False)


def _runs(store: Path, *names: str, finished: bool = True) -> list[str]:
    client = MlcliClient(Store.open(store))
    ids = []
    for name in names:
        run_id = client.create_run("0", run_name=name).run_id
        client.log_metric(run_id, "loss", 0.5)
        if finished:
            client.set_terminated(run_id)
        ids.append(run_id)
    client.store.close()
    return ids


def _warning(store: Path, run_id: str, problem: str) -> str:
    path = store / "runs" / run_id / "run.json"
    return f"mlcli: warning: run {run_id} left out, damaged: {path}: {problem}; see 'mlcli fsck'"


def test_a_run_with_a_damaged_run_json_is_listed_as_damaged(store: Path, mlcli) -> None:
    good, bad = _runs(store, "good", "bad")
    (store / "runs" / bad / "run.json").write_text('{"run_id": "')
    problem = "not valid JSON (Unterminated string starting at: line 1 column 12 (char 11))"

    listed = mlcli("runs", "list", "-q")
    assert listed.returncode == 0
    assert listed.stdout.split() == [good]
    assert listed.stderr.splitlines() == [_warning(store, bad, problem)]

    rebuilt = mlcli("index", "rebuild")
    assert rebuilt.returncode == 0
    assert rebuilt.stderr.startswith("Indexed 1 run(s)")
    assert rebuilt.stderr.splitlines()[1:] == [_warning(store, bad, problem)]

    compared = mlcli("compare", "--json")
    assert compared.returncode == 0
    assert [row["run_id"] for row in json.loads(compared.stdout)] == [good]
    assert compared.stderr.splitlines() == [_warning(store, bad, problem)]

    shown = mlcli("runs", "show", bad)
    assert shown.returncode == 1
    assert shown.stderr.startswith(f"mlcli: error: {store / 'runs' / bad / 'run.json'} is not")
    assert len(shown.stderr.splitlines()) == 1


def test_a_run_json_of_the_wrong_shape_is_damaged_not_a_traceback(store: Path, mlcli) -> None:
    good, bad = _runs(store, "good", "bad")
    doc_path = store / "runs" / bad / "run.json"
    doc = json.loads(doc_path.read_text())
    doc["start_time"] = "yesterday"
    doc_path.write_text(json.dumps(doc))
    problem = "start_time is not a time in milliseconds: 'yesterday'"

    listed = mlcli("runs", "list", "-q")
    assert (listed.returncode, listed.stdout.split()) == (0, [good])
    assert listed.stderr.splitlines() == [_warning(store, bad, problem)]
    shown = mlcli("runs", "show", bad)
    assert shown.returncode == 1
    assert shown.stderr == f"mlcli: error: {doc_path} is damaged: {problem}; see 'mlcli fsck'\n"


def test_a_run_damaged_after_it_was_indexed_is_not_listed_as_it_was(store: Path, mlcli) -> None:
    (live,) = _runs(store, "live", finished=False)  # a live run is read again each time
    assert mlcli("runs", "list", "-q").stdout.split() == [live]
    (store / "runs" / live / "run.json").write_text("")
    listed = mlcli("runs", "list", "-q")
    assert (listed.returncode, listed.stdout) == (0, "")
    assert listed.stderr.splitlines() == [_warning(store, live, "empty (a write cut short?)")]


def test_a_damaged_experiment_is_named_with_its_runs(store: Path, mlcli) -> None:
    client = MlcliClient(Store.open(store))
    experiment_id = client.create_experiment("demo")
    client.create_run(experiment_id, run_name="inside")
    client.store.close()
    doc = store / "experiments" / experiment_id / "experiment.json"
    doc.write_text("[]")
    listed = mlcli("runs", "list", "-q")
    assert (listed.returncode, listed.stdout) == (0, "")
    assert listed.stderr.splitlines() == [
        f"mlcli: warning: experiment {experiment_id} and its runs left out, damaged: {doc}: "
        "not a JSON object but list; see 'mlcli fsck'"
    ]


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_fsck_reports_every_problem_and_repairs_only_what_is_safe(store: Path, mlcli) -> None:
    clean = mlcli("fsck")
    assert (clean.returncode, clean.stdout) == (0, "")
    assert clean.stderr.startswith("Checked ") and clean.stderr.endswith(": 0 problem(s)\n")

    damaged, torn, lines = _runs(store, "damaged", "torn", "lines")
    (store / "runs" / damaged / "run.json").write_text("{")
    torn_log = store / "runs" / torn / "metrics.jsonl"
    whole = torn_log.read_bytes()
    torn_log.write_bytes(whole + b'{"key":"loss","value":0.')
    middle_log = store / "runs" / lines / "params.jsonl"
    middle_log.write_bytes(
        b'{"key":"lr","value":"0.1"}\n{"key":"lr","val\n{"key":"a","value":"1"}\n'
    )
    orphan = store / "runs" / torn / "artifacts" / ".model.pkl.0a1b2c3d.tmp"
    orphan.write_bytes(b"x" * 100)
    _age(orphan, 7200)
    young = store / "runs" / torn / "artifacts" / ".data.csv.4e5f6a7b.tmp"
    young.write_bytes(b"being written")
    index = store / "index.db"
    mlcli("runs", "list")  # an index to damage
    with open(index, "r+b") as handle:
        handle.write(b"\0" * 4096)

    found = mlcli("fsck", "--json")
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["clean"] is False
    by_path = sorted(report["problems"], key=lambda problem: problem["path"])
    index_detail = report["problems"][-1]["detail"]
    assert report["problems"][-1]["path"] == "index.db"
    assert by_path == sorted(
        [
            {
                "path": f"runs/{damaged}/run.json",
                "kind": "damaged-document",
                "detail": "not valid JSON (Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1))",
                "repaired": None,
            },
            {
                "path": f"runs/{lines}/params.jsonl",
                "kind": "damaged-line",
                "detail": 'line 2: not JSON: b\'{"key":"lr","val\\n\'',
                "repaired": None,
            },
            {
                "path": f"runs/{torn}/metrics.jsonl",
                "kind": "torn-line",
                "detail": "line 2 is cut short (24 bytes, no newline)",
                "repaired": None,
            },
            {
                "path": f"runs/{torn}/artifacts/.model.pkl.0a1b2c3d.tmp",
                "kind": "orphan",
                "detail": "a file left by a killed writer (100 bytes)",
                "repaired": None,
            },
            {
                "path": "index.db",
                "kind": "index",
                "detail": index_detail,
                "repaired": None,
            },
        ],
        key=lambda problem: problem["path"],
    )
    assert index_detail.startswith("damaged: ")

    repaired = mlcli("fsck", "--repair")
    assert repaired.returncode == 1  # a person must still look at two of them
    assert sorted(repaired.stdout.splitlines()) == sorted(
        [
            f"runs/{damaged}/run.json: not valid JSON (Expecting property name enclosed in "
            "double quotes: line 1 column 2 (char 1))",
            f'runs/{lines}/params.jsonl: line 2: not JSON: b\'{{"key":"lr","val\\n\'',
            f"runs/{torn}/metrics.jsonl: line 2 is cut short (24 bytes, no newline) "
            "[repaired: trimmed the torn line (24 bytes)]",
            f"runs/{torn}/artifacts/.model.pkl.0a1b2c3d.tmp: a file left by a killed writer "
            "(100 bytes) [repaired: removed]",
            f"index.db: {index_detail} [repaired: rebuilt]",
        ]
    )
    assert repaired.stderr.endswith(": 5 problem(s), 2 left for a person\n")
    assert torn_log.read_bytes() == whole
    assert not orphan.exists() and young.exists()
    assert (store / "runs" / damaged / "run.json").read_text() == "{"  # never guessed at
    assert middle_log.read_bytes().count(b"\n") == 3

    (store / "runs" / damaged / "run.json").unlink()
    (store / "runs" / damaged).rename(store / "runs" / f".purge-{damaged}")
    middle_log.write_bytes(b'{"key":"lr","value":"0.1"}\n{"key":"a","value":"1"}\n')
    final = mlcli("fsck", "--repair", "--json")
    assert json.loads(final.stdout)["problems"] == [
        {
            "path": f"runs/.purge-{damaged}",
            "kind": "orphan",
            "detail": json.loads(final.stdout)["problems"][0]["detail"],
            "repaired": "removed",
        }
    ]
    assert final.returncode == 0
    assert mlcli("fsck").returncode == 0
    listed = mlcli("runs", "list", "-q")
    assert sorted(listed.stdout.split()) == sorted([torn, lines])
