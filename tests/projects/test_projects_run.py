"""``mlcli run`` end to end: real projects, real git repositories, real subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from projecthelpers import MakeProject, all_runs, artifact_text, git, git_repository, only_run

from mlcli.store import RunStatus

ECHO_ARGS = "import sys; print(' '.join(sys.argv[1:]))"

PROJECT = {
    "MLproject": """
        name: demo
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              epochs: {type: int, default: 3}
              name: {type: string, default: plain}
              data: {type: path, default: data/train.csv}
            command: "python show.py --alpha {alpha} --epochs {epochs} --name {name} --data {data}"
          fail:
            parameters:
              code: {type: int, default: 3}
            command: "echo going down >&2; exit {code}"
          log:
            command: "python inside.py && mlcli log metric from_shell 7 && mlcli log tag shell yes"
          sleep:
            command: "python sleeper.py"
    """,
    "show.py": """
        import os, sys
        print("args:", " ".join(sys.argv[1:]))
        print("cwd:", os.getcwd())
        print("run:", os.environ["MLCLI_RUN_ID"], os.environ["MLCLI_EXPERIMENT_ID"])
        print("store:", os.environ["MLCLI_STORE"])
        print("python:", sys.executable)
        print("a warning", file=sys.stderr)
    """,
    "inside.py": """
        import mlcli
        with mlcli.start_run() as run:
            mlcli.log_param("from_python", "yes")
            mlcli.log_metric("from_python", 1.5, step=2)
        print("logged into", run.run_id)
    """,
    "sleeper.py": """
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "60"])
        with open("pids.tmp", "w") as handle:
            handle.write(f"{os.getpid()} {child.pid}")
        os.rename("pids.tmp", "pids")
        time.sleep(60)
    """,
    "data/train.csv": "x\n1\n",
}


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    return make_project(PROJECT)


def test_a_clean_run_from_a_git_repository(cli, store_root: Path, workdir: Path, project: Path):
    commit = git_repository(project)
    git(project, "remote", "add", "origin", "https://me:token@git.example.com/demo.git")
    result = cli("run", str(project), "-P", "alpha=0.25", "-P", "name=hello world")
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)
    run_id = run.info.run_id
    assert run.info.status == RunStatus.FINISHED
    assert result.stdout.splitlines()[-1] == run_id  # the run id is printed last
    data_file = project / "data" / "train.csv"
    assert f"args: --alpha 0.25 --epochs 3 --name hello world --data {data_file}" in result.stdout
    assert f"cwd: {project}" in result.stdout
    assert f"run: {run_id} 0" in result.stdout
    assert f"store: {store_root}" in result.stdout
    assert "a warning" in result.stderr
    # Params are the user's values (not shell-quoted), defaults included; paths as given.
    assert run.data.params == {
        "alpha": "0.25",
        "epochs": "3",
        "name": "hello world",
        "data": "data/train.csv",
    }
    tags = run.data.tags
    assert tags["mlcli.source.git.commit"] == commit
    assert tags["mlcli.source.git.branch"] == "main"
    assert tags["mlcli.source.git.dirty"] == "false"
    assert tags["mlcli.source.git.repoURL"] == "https://git.example.com/demo.git"
    assert tags["mlcli.source.name"] == str(project)
    assert tags["mlcli.source.type"] == "PROJECT"
    assert tags["mlcli.project.entryPoint"] == "main"
    assert tags["mlcli.project.env"] == "local"
    assert tags["mlcli.project.name"] == "demo"
    assert tags["mlcli.project.exitCode"] == "0"
    assert tags["mlcli.user"] and tags["mlcli.runName"] == run.info.run_name
    assert tags["mlcli.python.version"] == platform.python_version()
    assert tags["mlcli.platform"] == platform.platform()
    assert tags["mlcli.host"]
    assert tags["mlcli.project.command"] == (
        "python show.py --alpha 0.25 --epochs 3 --name 'hello world' "
        f"--data {shlex.quote(str(data_file))}"
    )
    # Output was teed into artifacts; a clean tree has no diff artifact.
    assert "args: --alpha 0.25" in artifact_text(workdir, run, "logs/stdout.txt")
    assert artifact_text(workdir, run, "logs/stderr.txt") == "a warning\n"
    names = {f.path for f in result_artifacts(workdir, run_id)}
    assert "source" not in names


def result_artifacts(workdir: Path, run_id: str) -> list:
    from mlcli.tracking import TrackingClient

    return TrackingClient(workdir / ".mlruns").list_artifacts(run_id)


def test_local_python_is_the_interpreter_running_mlcli(cli, store_root: Path, project: Path):
    result = cli("run", str(project))
    assert result.exit_code == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("python: "))
    reported = Path(line.removeprefix("python: "))
    assert reported.resolve() == Path(sys.executable).resolve()


def test_a_dirty_run_saves_the_uncommitted_diff(
    cli, store_root: Path, workdir: Path, project: Path
):
    commit = git_repository(project)
    (project / "show.py").write_text((project / "show.py").read_text() + "print('changed')\n")
    (project / "new_notes.txt").write_text("untracked\n")
    result = cli("run", str(project))
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)
    assert run.data.tags["mlcli.source.git.dirty"] == "true"
    assert run.data.tags["mlcli.source.git.commit"] == commit
    diff = artifact_text(workdir, run, "source/uncommitted.diff")
    assert diff.startswith(f"# mlcli: uncommitted changes in {project} against {commit}")
    assert "#   new_notes.txt" in diff
    assert "diff --git a/show.py b/show.py" in diff
    assert "+print('changed')" in diff
    assert "new_notes.txt" not in diff.split("diff --git", 1)[1]  # listed, not diffed
    # Recorded before the run, the user's tree is as it was.
    assert "show.py" in git(project, "status", "--porcelain")


def test_a_failing_entry_point_fails_the_run_with_its_exit_code(
    cli, store_root: Path, workdir: Path, project: Path
):
    result = cli("run", str(project), "-e", "fail", "-P", "code=7")
    assert result.exit_code == 7
    run = only_run(workdir)
    assert run.info.status == RunStatus.FAILED
    assert run.info.end_time is not None
    assert run.data.tags["mlcli.project.exitCode"] == "7"
    assert "going down" in result.stderr
    assert artifact_text(workdir, run, "logs/stderr.txt") == "going down\n"
    assert result.stdout.strip() == run.info.run_id


def test_logging_inside_the_entry_point_lands_in_the_same_run(
    cli, store_root: Path, workdir: Path, project: Path
):
    result = cli("run", str(project), "-e", "log", "--run-name", "attached")
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)  # one run: the child attached, it created none
    assert f"logged into {run.info.run_id}" in result.stdout
    assert run.info.run_name == "attached"
    assert run.data.params == {"from_python": "yes"}
    assert run.data.metrics == {"from_python": 1.5, "from_shell": 7.0}
    assert run.data.tags["shell"] == "yes"
    assert run.info.status == RunStatus.FINISHED


def test_undeclared_params_are_appended_and_logged(
    cli, store_root: Path, workdir: Path, project: Path
):
    result = cli("run", str(project), "-P", "extra=5", "-P", "tricky=a b")
    assert result.exit_code == 0, result.stderr
    assert "--data" in result.stdout and "--extra 5 --tricky a b" in result.stdout
    run = only_run(workdir)
    assert run.data.params["extra"] == "5" and run.data.params["tricky"] == "a b"
    assert run.data.tags["mlcli.project.command"].endswith("--extra 5 --tricky 'a b'")


def test_path_params_resolve_against_the_project(
    cli, store_root: Path, workdir: Path, project: Path
):
    (project / "data" / "other.csv").write_text("y\n")
    result = cli("run", str(project), "-P", "data=data/other.csv")
    assert result.exit_code == 0, result.stderr
    assert f"--data {project / 'data' / 'other.csv'}" in result.stdout
    assert only_run(workdir).data.params["data"] == "data/other.csv"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-P", "alpha=abc"], "invalid value 'abc' for float parameter 'alpha'"),
        (["-P", "epochs=1.5"], "invalid value '1.5' for int parameter 'epochs'"),
        (["-P", "data=missing.csv"], "for path parameter 'data': no such file or directory"),
        (["-e", "nope"], "unknown entry point 'nope'"),
        (["-e", "ghost.py"], "no script 'ghost.py'"),
        (["-P", "alpha"], "-P expects NAME=VALUE"),
        (["-P", "alpha=1", "-P", "alpha=2"], "parameter 'alpha' is given twice"),
        (["--env-manager", "pyenv"], "unknown environment manager 'pyenv' (valid: local, "),
        (["--env-manager", "conda"], "needs a conda_env"),
        (["--env-manager", "docker"], "needs a docker_env"),
        (["-A", "gpus=all"], None),  # docker options are checked only for docker
    ],
)
def test_invalid_requests_create_no_run(
    cli, store_root: Path, workdir: Path, project: Path, args: list[str], message: str | None
):
    result = cli("run", str(project), *args)
    if message is None:
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("mlcli: error: ") and result.stderr.count("\n") == 1
    assert all_runs(workdir) == []


@pytest.mark.parametrize(
    ("mlproject", "message"),
    [
        ("name: [broken\n", "is not valid YAML"),
        ("python_env: p.yaml\ndocker_env: {image: x}\n", "at most one environment"),
        ("entry_points: {main: {command: x, parameters: {a: double}}}\n", "unknown type"),
    ],
)
def test_a_malformed_mlproject_creates_no_run(
    cli, store_root: Path, workdir: Path, make_project: MakeProject, mlproject: str, message: str
):
    root = make_project({"MLproject": mlproject, "p.yaml": "dependencies: []\n"}, name="bad")
    result = cli("run", str(root))
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert all_runs(workdir) == []


def test_required_params_are_listed_together(
    cli, store_root: Path, workdir: Path, make_project: MakeProject
):
    root = make_project(
        {
            "MLproject": "entry_points: {main: {parameters: {a: int, b: str, c: {type: float, "
            "default: 1}}, command: 'echo {a} {b}'}}\n"
        },
        name="req",
    )
    result = cli("run", str(root))
    assert result.exit_code == 2
    assert "required parameter(s) 'a', 'b'" in result.stderr
    assert all_runs(workdir) == []


def test_scripts_run_without_an_mlproject(
    cli, store_root: Path, workdir: Path, make_project: MakeProject
):
    root = make_project(
        {"train.py": ECHO_ARGS, "job.sh": 'echo "bash got $*"; echo "$0"\n'}, name="bare"
    )
    result = cli("run", str(root), "-e", "train.py", "-P", "lr=0.1")
    assert result.exit_code == 0, result.stderr
    assert "--lr 0.1" in result.stdout
    result = cli("run", str(root), "-e", "job.sh", "-P", "x=1")
    assert result.exit_code == 0, result.stderr
    assert "bash got --x 1" in result.stdout
    runs = {r.data.tags["mlcli.project.entryPoint"]: r for r in all_runs(workdir)}
    assert set(runs) == {"train.py", "job.sh"}
    assert runs["train.py"].data.params == {"lr": "0.1"}
    assert runs["job.sh"].data.tags["mlcli.project.command"] == "bash job.sh --x 1"


def test_experiment_and_run_name(cli, store_root: Path, workdir: Path, project: Path):
    result = cli("run", str(project), "--experiment", "tuning", "--run-name", "first")
    assert result.exit_code == 0, result.stderr
    run = only_run(workdir)
    assert run.experiment_name == "tuning" and run.info.run_name == "first"
    assert f"run: {run.info.run_id} {run.info.experiment_id}" in result.stdout


def test_the_experiment_can_come_from_the_environment(
    cli, store_root: Path, workdir: Path, project: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MLCLI_EXPERIMENT_NAME", "from-env")
    assert cli("run", str(project)).exit_code == 0
    assert only_run(workdir).experiment_name == "from-env"


def test_the_environment_names_the_experiment_as_for_start_run(
    cli, store_root: Path, workdir: Path, project: Path, monkeypatch: pytest.MonkeyPatch
):
    """One rule: ``MLCLI_EXPERIMENT_NAME`` is a name for ``mlcli run`` as for the Python
    API, even when it looks like the id of another experiment."""
    import mlcli
    from mlcli.tracking import TrackingClient

    other = TrackingClient(store_root).create_experiment("other")
    monkeypatch.setenv("MLCLI_EXPERIMENT_NAME", other)
    assert cli("run", str(project)).exit_code == 0
    with mlcli.start_run():
        pass
    assert [run.experiment_name for run in all_runs(workdir)] == [other, other]


def test_quiet_prints_only_the_run_id_on_stdout(
    cli, store_root: Path, workdir: Path, project: Path
):
    result = cli("run", str(project), "-q")
    assert result.exit_code == 0
    run_id = only_run(workdir).info.run_id
    assert result.stdout == f"{run_id}\n"
    assert "args: --alpha 0.5" in result.stderr  # the entry point's output is still shown
    assert "Run " not in result.stderr  # notices are hidden


def test_json_reports_the_outcome(cli, store_root: Path, workdir: Path, project: Path):
    result = cli("run", str(project), "-e", "fail", "--json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    run = only_run(workdir)
    assert report == {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment_id": "0",
        "status": "FAILED",
        "exit_code": 3,
        "env_manager": "local",
        "command": "echo going down >&2; exit 3",
    }


def test_a_project_run_inside_a_run_is_its_child(
    cli, store_root: Path, workdir: Path, make_project: MakeProject
):
    root = make_project(
        {
            "MLproject": "entry_points:\n"
            "  outer: {command: 'mlcli run . -e inner -q'}\n"
            "  inner: {command: 'echo inner'}\n"
        },
        name="nested",
    )
    result = cli("run", str(root), "-e", "outer")
    assert result.exit_code == 0, result.stderr
    runs = {r.data.tags["mlcli.project.entryPoint"]: r for r in all_runs(workdir)}
    assert runs["inner"].info.parent_run_id == runs["outer"].info.run_id


# -- versions from git -------------------------------------------------------------------------


@pytest.fixture
def tagged_repo(make_project: MakeProject) -> Path:
    root = make_project(
        {
            "MLproject": "name: versioned\nentry_points: {main: {command: 'python v.py'}}\n",
            "v.py": "print('version one')\n",
            "sub/MLproject": "entry_points: {main: {command: 'echo in subdir'}}\n",
        },
        name="origin-repo",
    )
    git_repository(root)
    git(root, "tag", "v1")
    (root / "v.py").write_text("print('version two')\n")
    git(root, "commit", "-q", "-am", "two")
    return root


def _repo_state(root: Path) -> tuple[str, str, str, bytes, str]:
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "status", "--porcelain"),
        git(root, "remote", "-v"),
        (root / ".git" / "config").read_bytes(),
        git(root, "for-each-ref"),
    )


def test_a_tag_of_a_local_repository_leaves_the_repository_alone(
    cli, store_root: Path, workdir: Path, tagged_repo: Path
):
    before = _repo_state(tagged_repo)
    tag_commit = git(tagged_repo, "rev-parse", "v1^{commit}").strip()
    result = cli("run", str(tagged_repo), "--version", "v1")
    assert result.exit_code == 0, result.stderr
    assert "version one" in result.stdout
    run = only_run(workdir)
    tags = run.data.tags
    assert tags["mlcli.source.git.commit"] == tag_commit
    assert "mlcli.source.git.branch" not in tags  # a tag is not a branch
    assert tags["mlcli.source.git.repoURL"] == str(tagged_repo)
    assert tags["mlcli.source.git.dirty"] == "false"
    assert tags["mlcli.project.version"] == "v1"
    assert _repo_state(tagged_repo) == before
    assert (tagged_repo / "v.py").read_text() == "print('version two')\n"


def test_a_git_url_at_a_branch_and_a_subdirectory(
    cli, store_root: Path, workdir: Path, tagged_repo: Path
):
    url = f"file://{tagged_repo}"
    result = cli("run", url, "-v", "main")
    assert result.exit_code == 0, result.stderr
    assert "version two" in result.stdout
    result = cli("run", f"{url}#sub")
    assert result.exit_code == 0, result.stderr
    assert "in subdir" in result.stdout
    runs = sorted(all_runs(workdir), key=lambda r: r.info.start_time)
    assert runs[0].data.tags["mlcli.source.git.branch"] == "main"
    assert runs[1].data.tags["mlcli.source.name"] == f"{url}#sub"
    assert runs[1].data.tags["mlcli.source.git.branch"] == "main"  # the remote's HEAD


def test_a_new_commit_is_fetched_on_the_next_run(
    cli, store_root: Path, workdir: Path, tagged_repo: Path
):
    assert "version two" in cli("run", f"file://{tagged_repo}").stdout
    (tagged_repo / "v.py").write_text("print('version three')\n")
    git(tagged_repo, "commit", "-q", "-am", "three")
    assert "version three" in cli("run", f"file://{tagged_repo}").stdout


def test_an_unknown_version_creates_no_run(cli, store_root: Path, workdir: Path, tagged_repo: Path):
    result = cli("run", str(tagged_repo), "--version", "v9")
    assert result.exit_code == 2
    assert "version 'v9' is not a branch, tag or commit" in result.stderr
    assert all_runs(workdir) == []


def test_version_needs_a_repository(cli, store_root: Path, workdir: Path, project: Path):
    result = cli("run", str(project), "--version", "main")
    assert result.exit_code == 2 and "--version needs a git repository" in result.stderr


# -- interruption ------------------------------------------------------------------------------


def _wait_for(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_kills_the_process_group_and_the_run(
    store_root: Path, workdir: Path, project: Path, signum: int, code: int
):
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    runner = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "run", str(project), "-e", "sleep"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        pid, grandchild = map(int, _wait_for(project / "pids").split())
        runner.send_signal(signum)
        stdout, stderr = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == code, stderr
    assert _gone(pid) and _gone(grandchild), "the entry point's process group outlived the run"
    run = only_run(workdir)
    assert run.info.status == RunStatus.KILLED
    assert run.info.end_time is not None
    assert stdout.decode().strip() == run.info.run_id


def test_a_background_process_holding_the_output_does_not_hold_the_run(
    cli, store_root: Path, workdir: Path, make_project: MakeProject
):
    pid_file = workdir / "daemon.pid"
    command = f"echo started; (sleep 300 & echo $! > {pid_file}); exit 0"
    root = make_project(
        {"MLproject": f"entry_points: {{main: {{command: '{command}'}}}}\n"}, name="daemon"
    )
    result = cli("run", str(root))
    daemon = int(pid_file.read_text())
    try:
        assert result.exit_code == 0 and "started" in result.stdout
        os.kill(daemon, 0)  # still sleeping: the run did not wait for it to end
        assert only_run(workdir).info.status == RunStatus.FINISHED
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon, signal.SIGKILL)


def _ended(pid: int, timeout: float = 60) -> bool:
    """Whether ``pid`` is gone (or a zombie nobody has reaped yet) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


LONG_SLEEPER = {
    "MLproject": "entry_points: {main: {command: 'python sleeper.py'}}\n",
    "sleeper.py": """
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "600"])
        with open("pids.tmp", "w") as handle:
            handle.write(f"{os.getpid()} {child.pid}")
        os.rename("pids.tmp", "pids")
        time.sleep(600)
    """,
}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_sigkilled_mlcli_run_takes_its_entry_point_along_and_its_run_ends_failed(
    store_root: Path, workdir: Path, make_project: MakeProject
):
    project = make_project(LONG_SLEEPER, name="quiet")
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    runner = subprocess.Popen(
        [sys.executable, "-m", "mlcli", "run", str(project)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pids = [int(pid) for pid in _wait_for(project / "pids").split()]
    finally:
        runner.kill()  # SIGKILL: mlcli run can neither forward it nor end its run
        runner.wait()
    try:
        assert all(_ended(pid) for pid in pids), "the entry point outlived mlcli run"
    finally:
        for pid in pids:  # a failure here must not leave them running for ten minutes
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    (run_id,) = os.listdir(store_root / "runs")
    shown = subprocess.run(
        [sys.executable, "-m", "mlcli", "runs", "show", run_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert run["status"] == RunStatus.FAILED and run["end_time"] is not None
    reason = (
        f"owner process {runner.pid} on host {socket.gethostname()} exited without ending the run"
    )
    assert run["tags"]["mlcli.endReason"] == reason
