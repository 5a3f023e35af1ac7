"""The same MLflow session (``mlflow_parity_scenario.py``, ``import mlflow``) against
``mlcli server`` and against a real ``mlflow server`` answers the same, field by field,
except where docs/mlflow.md says it differs and why: the list of differences there is
the one this test finds, no more, no less."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import HERE, start_tracking_server

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

DOCS = HERE.parent.parent / "docs" / "mlflow.md"
SECTION = "## What an MLflow client sees differently"
_TIME_KEYS = re.compile(r"(^|_)(time|timestamp)$")
_COMMIT = re.compile(r"\b[0-9a-f]{40}\b")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client_env(url: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLCLI_", "MLFLOW_"))}
    environ["MLFLOW_TRACKING_URI"] = url
    environ["GIT_PYTHON_REFRESH"] = "quiet"
    environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return environ


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@contextlib.contextmanager
def running_mlflow_server(folder: Path) -> Iterator[str]:
    """A real ``mlflow server`` (SQLite, its own artifact proxy), one worker."""
    port = _free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=_client_env(""),
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5):
                    break
            except OSError:
                assert process.poll() is None, (folder / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "mlflow server never answered /health"
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _session(url: str, cwd: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(HERE / "mlflow_parity_scenario.py")],
        cwd=cwd, env=_client_env(url), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-5000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return dict(_normalized(_named(report["results"], report["ids"])))


def _named(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with each id the session made replaced by its name (a string that is
    an id; long ids, of runs and models, within strings too) and git commits by
    ``<commit>``."""
    if isinstance(value, dict):
        return {_named(k, ids): _named(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v, ids) for v in value]
    if isinstance(value, str):
        if value in ids:
            return ids[value]
        for raw, name in ids.items():
            if len(raw) >= 16:
                value = value.replace(raw, name)
        return _COMMIT.sub("<commit>", value)  # the checkout's, whichever it is
    return value


def _normalized(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf as (path, value), times replaced by whether they are set."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if _TIME_KEYS.search(key):
                yield child, "<time>" if item not in (None, 0, "0") else item
            else:
                yield from _normalized(item, child)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _normalized(item, f"{path}[{index}]")
    else:
        yield path, value


def _documented_differences() -> set[str]:
    """The paths docs/mlflow.md lists as differing: those in backquotes that start a
    bullet of its section (``- `versions[0].source`, `by_alias.source`: why``)."""
    text = DOCS.read_text()
    assert SECTION in text, f"docs/mlflow.md has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"^- ", section, flags=re.MULTILINE)[1:]
    heads = [" ".join(b.split()).partition("`: ")[0] + "`" for b in bullets if b[:1] == "`"]
    return {path for head in heads for path in re.findall(r"`([^`]+)`", head)}


@pytest.fixture(scope="module")
def answers(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("parity")
    return mlcli_session(folder), _session(mlflow_server, folder)


def mlcli_session(folder: Path) -> dict[str, Any]:
    server = start_tracking_server(folder / ".mlruns", folder / "server.log")
    try:
        ours = _session(server.url, folder)
        assert " 500 " not in server.log()
    finally:
        server.stop()
    return ours


def test_the_session_answers_as_mlflow_server_does_but_where_documented(answers: Any) -> None:
    ours, theirs = answers
    differing = {
        path: (ours.get(path, "<absent>"), theirs.get(path, "<absent>"))
        for path in sorted(set(ours) | set(theirs))
        if ours.get(path, "<absent>") != theirs.get(path, "<absent>")
    }
    documented = _documented_differences()
    undocumented = {p: v for p, v in differing.items() if p not in documented}
    assert not undocumented, (
        "differences docs/mlflow.md does not list (mlcli, mlflow):\n"
        + "\n".join(f"  {p}: {v[0]!r} != {v[1]!r}" for p, v in undocumented.items())
    )
    stale = sorted(set(documented) - set(differing))
    assert not stale, f"docs/mlflow.md lists differences that are not there (any more): {stale}"


def test_the_session_itself_answered(answers: Any) -> None:
    """The comparison means something only if the session did what it says."""
    ours, theirs = answers
    for answers_of in (ours, theirs):
        assert answers_of["run_params.C"] == "0.5"
        assert answers_of["search_parent_tag[1]"] == "child-1.0"
        assert answers_of["duplicate_experiment"] == "RESOURCE_ALREADY_EXISTS"
        assert answers_of["missing_run"] == "RESOURCE_DOES_NOT_EXIST"
        assert answers_of["deleted_active"] == []
        versions = {answers_of["renamed_versions[0]"], answers_of["renamed_versions[1]"]}
        assert versions == {"1", "2"}
