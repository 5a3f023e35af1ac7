"""``--env-manager conda``, against a recording stand-in for conda/micromamba.

No conda channel is reachable from the machines that run these tests, so the stand-in
records the exact commands mlcli runs (creation, caching, activation) and acts them
out: ``env create`` makes the prefix, ``run -p PREFIX CMD`` runs CMD "inside" it.
The entry point itself runs for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from projecthelpers import MakeProject, all_runs, only_run

from mlcli.capture.environment import LISTING_SCRIPT
from mlcli.store import RunStatus

STAND_IN = """#!{python}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["CONDA_RECORD"], "a") as record:
    record.write(json.dumps([os.path.basename(sys.argv[0]), *args]) + "\\n")
prefix = args[args.index("-p") + 1]
if args[0] in ("env", "create"):
    spec = open(args[args.index("-f") + 1]).read()
    os.makedirs(os.path.join(prefix, "conda-meta"))
    if "sleep-me" in spec:
        time.sleep(60)
    if "fail-me" in spec:
        sys.stderr.write("Solving environment: failed\\nPackagesNotFoundError: fail-me\\n")
        sys.exit(1)
    open(os.path.join(prefix, "conda-meta", "history"), "w").write(spec)
elif args[0] == "run":
    command = args[args.index("-p") + 2:]
    os.environ["CONDA_PREFIX"] = prefix
    os.execvp(command[0], command)
"""

CONDA_YAML = "name: demo\nchannels: [conda-forge]\ndependencies: [python=3.11, pip]\n"


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``conda`` and ``micromamba`` stand-ins on PATH; returns the record file."""
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    for name in ("conda", "micromamba"):
        path = folder / name
        path.write_text(STAND_IN.format(python=sys.executable))
        path.chmod(0o755)
    record = tmp_path / "conda-record.jsonl"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CONDA_RECORD", str(record))
    monkeypatch.delenv("MLCLI_CONDA_EXE", raising=False)
    return record


def recorded(record: Path) -> list[list[str]]:
    """The stand-in's calls, less the package listing that runs beside every entry
    point (mlcli/capture/environment.py)."""
    if not record.exists():
        return []
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return [call for call in calls if not any(str(LISTING_SCRIPT) in arg for arg in call)]


@pytest.fixture
def conda_project(make_project: MakeProject) -> Path:
    return make_project(
        {
            "MLproject": """
                name: condaproj
                conda_env: conda.yaml
                entry_points:
                  main:
                    parameters: {tag: {type: string, default: x}}
                    command: "python inside.py {tag} && mlcli log metric shell 2"
            """,
            "conda.yaml": CONDA_YAML,
            "inside.py": """
                import os, sys
                import mlcli
                with mlcli.start_run():
                    mlcli.log_metric("inside", 1)
                print("prefix", os.environ["CONDA_PREFIX"], sys.argv[1])
            """,
        },
        name="condaproj",
    )


def test_create_once_then_run_inside_it(
    cli, store_root: Path, workdir: Path, conda_project: Path, stand_in: Path, tmp_path: Path
):
    result = cli("run", str(conda_project), "-P", "tag=first")
    assert result.exit_code == 0, result.stderr
    (prefix,) = (tmp_path / "mlcli-envs").glob("conda-*")
    conda = str(stand_in.parent / "fake-bin" / "conda")
    command = "python inside.py first && mlcli log metric shell 2"
    assert recorded(stand_in) == [
        [
            "conda",
            "env",
            "create",
            "--quiet",
            "-p",
            str(prefix),
            "-f",
            str(conda_project / "conda.yaml"),
        ],
        ["conda", "run", "--no-capture-output", "-p", str(prefix), "/bin/bash", "-c", command],
    ]
    assert f"prefix {prefix} first" in result.stdout
    run = only_run(workdir)
    assert run.info.status == RunStatus.FINISHED
    assert run.data.metrics == {"inside": 1.0, "shell": 2.0}
    assert run.data.tags["mlcli.project.env"] == "conda"
    assert run.data.tags["mlcli.project.condaExe"] == conda
    assert run.data.tags["mlcli.project.envCached"] == "false"

    # Cached: the second run only activates.
    stand_in.unlink()
    result = cli("run", str(conda_project), "-P", "tag=second")
    assert result.exit_code == 0, result.stderr
    assert [entry[:2] for entry in recorded(stand_in)] == [["conda", "run"]]
    second = max(all_runs(workdir), key=lambda r: r.info.start_time)
    assert second.data.tags["mlcli.project.envCached"] == "true"

    # A different conda.yaml is a different environment.
    (conda_project / "conda.yaml").write_text(CONDA_YAML.replace("pip", "pip, numpy"))
    stand_in.unlink()
    assert cli("run", str(conda_project)).exit_code == 0
    creates = [entry for entry in recorded(stand_in) if entry[1] == "env"]
    assert len(creates) == 1 and creates[0][5] != str(prefix)


def test_micromamba_commands(
    cli, store_root: Path, conda_project: Path, stand_in: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLCLI_CONDA_EXE", "micromamba")
    result = cli("run", str(conda_project))
    assert result.exit_code == 0, result.stderr
    create, run = recorded(stand_in)
    assert create[:4] == ["micromamba", "create", "--yes", "--quiet"] and create[4] == "-p"
    assert run[:4] == ["micromamba", "run", "-p", create[5]]
    assert run[4:6] == ["/bin/bash", "-c"]


def test_no_conda_executable_is_a_clear_error_before_the_run(
    cli,
    store_root: Path,
    workdir: Path,
    conda_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("MLCLI_CONDA_EXE", raising=False)
    result = cli("run", str(conda_project))
    assert result.exit_code == 1
    assert "no conda executable found: install conda, mamba or micromamba" in result.stderr
    assert all_runs(workdir) == []
    monkeypatch.setenv("MLCLI_CONDA_EXE", "/nowhere/conda")
    result = cli("run", str(conda_project))
    assert "MLCLI_CONDA_EXE=/nowhere/conda is not an executable" in result.stderr


def test_a_failed_creation_fails_the_run_and_removes_the_prefix(
    cli, store_root: Path, workdir: Path, conda_project: Path, stand_in: Path, tmp_path: Path
):
    (conda_project / "conda.yaml").write_text(CONDA_YAML + "# fail-me\n")
    result = cli("run", str(conda_project))
    assert result.exit_code == 1
    assert "creating the conda environment failed: PackagesNotFoundError: fail-me" in result.stderr
    run = only_run(workdir)
    assert run.info.status == RunStatus.FAILED
    assert "PackagesNotFoundError" in run.data.tags["mlcli.project.failureReason"]
    assert list((tmp_path / "mlcli-envs").glob("conda-*")) == []


@pytest.mark.slow
def test_an_interrupted_creation_is_killed_and_cleaned_up(
    store_root: Path, workdir: Path, conda_project: Path, stand_in: Path, tmp_path: Path
):
    (conda_project / "conda.yaml").write_text(CONDA_YAML + "# sleep-me\n")
    runner = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "run", str(conda_project)],
        cwd=workdir,
        env={**os.environ, "MLCLI_STORE": str(store_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not list((tmp_path / "mlcli-envs").glob("conda-*/conda-meta")):
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.05)
    runner.send_signal(signal.SIGTERM)
    runner.communicate(timeout=30)
    assert runner.returncode == 143
    assert only_run(workdir).info.status == RunStatus.KILLED
    assert list((tmp_path / "mlcli-envs").glob("conda-*")) == []


def test_a_prefix_left_half_made_is_made_again(
    cli, store_root: Path, conda_project: Path, stand_in: Path, tmp_path: Path
):
    assert cli("run", str(conda_project)).exit_code == 0
    (prefix,) = (tmp_path / "mlcli-envs").glob("conda-*")
    (prefix / ".mlcli-complete").unlink()  # as if the creation had been killed -9
    stand_in.unlink()
    assert cli("run", str(conda_project)).exit_code == 0
    assert [entry[1] for entry in recorded(stand_in)] == ["env", "run"]
