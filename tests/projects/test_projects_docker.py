"""``--env-manager docker`` against a real engine (Podman behind the Docker API in CI).

Skipped when no engine answers, and failed instead when CONTAINER_TESTS_REQUIRED=1.
Every container is labelled mlcli-test and removed; nothing is published.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from projecthelpers import MakeProject, all_runs, artifact_text, only_run

from mlcli.store import RunStatus

BASE_IMAGE = "python:3.11-slim"
LABEL = "mlcli-test"

pytestmark = pytest.mark.slow


@pytest.fixture
def engine(container_engine: Any) -> Iterator[Any]:
    """The client; every container labelled mlcli-test is removed afterwards."""
    try:
        yield container_engine
    finally:
        for container in container_engine.containers.list(all=True, filters={"label": LABEL}):
            with contextlib.suppress(Exception):
                container.remove(force=True)


def _labelled(client: Any) -> list[Any]:
    return client.containers.list(all=True, filters={"label": LABEL})


@pytest.fixture
def docker_project(make_project: MakeProject, tmp_path: Path) -> Path:
    outside = tmp_path / "outside.txt"
    outside.write_text("from outside the project\n")
    return make_project(
        {
            "MLproject": f"""
                name: Docker Demo
                docker_env:
                  image: {BASE_IMAGE}
                  volumes: ["./shared:/shared"]
                  environment: [["MODE", "fast"], "MLCLI_TEST_FROM_HOST"]
                entry_points:
                  main:
                    parameters:
                      code: {{type: int, default: 0}}
                      data: {{type: path, default: data/in.csv}}
                      extra: {{type: path, default: {outside}}}
                    command: >-
                      python inside.py {{data}} {{extra}}
                      && mlcli log metric from_shell 2.5
                      && echo "to stderr" >&2
                      && exit {{code}}
                  sleep:
                    command: "touch started-sleeping && sleep 60"
            """,
            "inside.py": """
                import os, sys
                import mlcli
                with mlcli.start_run():
                    mlcli.log_param("inside", "container")
                    mlcli.log_metric("from_python", 1.5)
                print("cwd", os.getcwd())
                print("mode", os.environ["MODE"], os.environ["MLCLI_TEST_FROM_HOST"])
                print("data", sys.argv[1], open(sys.argv[1]).read().strip())
                print("extra", sys.argv[2], open(sys.argv[2]).read().strip())
                print("shared", open("/shared/note.txt").read().strip())
                print("python", sys.version.split()[0])
            """,
            "data/in.csv": "a,b\n",
            "shared/note.txt": "shared volume\n",
        },
        name="dockerproj",
    )


def test_an_entry_point_runs_in_a_container_and_logs_to_the_host_store(
    cli,
    engine: Any,
    store_root: Path,
    workdir: Path,
    docker_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    monkeypatch.setenv("MLCLI_TEST_FROM_HOST", "copied")
    result = cli("run", str(docker_project), "-P", "code=3", "-A", f"label={LABEL}")
    assert result.exit_code == 3, result.stderr  # the exit code comes back
    out = result.stdout
    assert "cwd /mlcli/project" in out
    assert "mode fast copied" in out
    assert "data /mlcli/project/data/in.csv a,b" in out  # a project path, as seen inside
    outside = tmp_path / "outside.txt"
    assert f"extra {outside} from outside the project" in out  # mounted read-only
    assert "shared shared volume" in out
    assert "to stderr" in result.stderr
    run = only_run(workdir)  # what the container logged is in the host's run
    assert run.info.status == RunStatus.FAILED
    assert run.data.params == {
        "code": "3",
        "data": "data/in.csv",
        "extra": str(outside),
        "inside": "container",
    }
    assert run.data.metrics == {"from_python": 1.5, "from_shell": 2.5}
    tags = run.data.tags
    assert tags["mlcli.project.env"] == "docker"
    assert tags["mlcli.project.exitCode"] == "3"
    assert tags["mlcli.docker.image.uri"].startswith("mlcli-runtime:")
    assert tags["mlcli.docker.image.id"] == engine.images.get(tags["mlcli.docker.image.uri"]).id
    assert tags["mlcli.docker.baseImage"] == BASE_IMAGE
    assert "python 3.11" in artifact_text(workdir, run, "logs/stdout.txt")
    assert artifact_text(workdir, run, "logs/stderr.txt") == "to stderr\n"
    assert _labelled(engine) == []  # the container was removed


def test_build_image_builds_the_project_image_once(
    cli,
    engine: Any,
    store_root: Path,
    workdir: Path,
    docker_project: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MLCLI_TEST_FROM_HOST", "x")
    first = cli("run", str(docker_project), "--build-image", "-A", f"label={LABEL}")
    assert first.exit_code == 0, first.stderr
    second = cli("run", str(docker_project), "--build-image", "-A", f"label={LABEL}")
    assert second.exit_code == 0, second.stderr
    assert "Building mlcli-project-docker-demo:" not in second.stderr  # reused
    runs = sorted(all_runs(workdir), key=lambda r: r.info.start_time)
    images = [r.data.tags["mlcli.docker.image.uri"] for r in runs]
    assert images[0] == images[1] and images[0].startswith("mlcli-project-docker-demo:")
    assert "cwd /mlcli/project" in second.stdout
    # A changed project is a new image.
    (docker_project / "data" / "in.csv").write_text("c,d\n")
    third = cli("run", str(docker_project), "--build-image", "-A", f"label={LABEL}", "--json")
    assert third.exit_code == 0, third.stderr
    assert "data /mlcli/project/data/in.csv c,d" in third.stderr
    latest = max(all_runs(workdir), key=lambda r: r.info.start_time)
    assert latest.data.tags["mlcli.docker.image.uri"] != images[0]


def test_docker_options_are_checked_before_the_run(
    cli,
    engine: Any,
    store_root: Path,
    workdir: Path,
    docker_project: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MLCLI_TEST_FROM_HOST", "x")
    result = cli("run", str(docker_project), "-A", "detach")
    assert result.exit_code == 2
    assert "unsupported docker option -A 'detach' (supported: add-host," in result.stderr
    monkeypatch.delenv("MLCLI_TEST_FROM_HOST")
    result = cli("run", str(docker_project))
    assert result.exit_code == 2
    assert "copies MLCLI_TEST_FROM_HOST from the host, but it is not set" in result.stderr
    assert all_runs(workdir) == []


def test_a_missing_image_is_an_error_before_the_run(
    cli, engine: Any, store_root: Path, workdir: Path, make_project: MakeProject
):
    root = make_project(
        {
            "MLproject": "docker_env: {image: 'mlcli-test-absent:1'}\n"
            "entry_points: {main: {command: 'true'}}\n"
        },
        name="absent",
    )
    result = cli("run", str(root))
    assert result.exit_code == 1
    assert "the image mlcli-test-absent:1 is not on the Docker engine" in result.stderr
    assert "docker pull mlcli-test-absent:1" in result.stderr
    assert all_runs(workdir) == []


def test_a_signal_kills_the_container_and_the_run(
    engine: Any, store_root: Path, workdir: Path, docker_project: Path
):
    env = {**os.environ, "MLCLI_STORE": str(store_root), "MLCLI_TEST_FROM_HOST": "x"}
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlcli",
            "run",
            str(docker_project),
            "-e",
            "sleep",
            "-A",
            f"label={LABEL}",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (docker_project / "started-sleeping").exists():
            assert time.monotonic() < deadline and runner.poll() is None, runner.stderr
            time.sleep(0.1)
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 143
    assert only_run(workdir).info.status == RunStatus.KILLED
    assert _labelled(engine) == []


def test_no_engine_is_a_clear_error_before_the_run(
    cli,
    store_root: Path,
    workdir: Path,
    make_project: MakeProject,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    root = make_project(
        {
            "MLproject": f"docker_env: {{image: '{BASE_IMAGE}'}}\n"
            "entry_points: {main: {command: 'true'}}\n"
        },
        name="noengine",
    )
    result = cli("run", str(root))
    assert result.exit_code == 1
    assert f"no Docker engine is reachable at unix://{tmp_path}/no-engine.sock" in result.stderr
    assert result.stderr.count("\n") == 1
    assert all_runs(workdir) == []
