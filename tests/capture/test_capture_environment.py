"""Environment capture: the package listing matches pip's, every run records it and
the machine's facts, and ``mlcli diff`` shows the package that differs between two
real virtualenvs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from capturehelpers import only_run, runs_in, write_wheel

from mlcli.capture.environment import (
    LISTING_SCRIPT,
    parse_freeze_output,
)
from mlcli.compare.packages import parse_requirements
from mlcli.projects.capture import CaptureOptions, RunCapture, plan_capture
from mlcli.projects.envs.base import Environment, RunContext
from mlcli.tracking import TrackingClient


def listing(python: str = sys.executable) -> str:
    result = subprocess.run(
        [python, str(LISTING_SCRIPT)], capture_output=True, text=True, check=True
    )
    return result.stdout


def test_the_listing_is_what_pip_freeze_all_prints() -> None:
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        pytest.skip("pip is not available")
    ours = parse_freeze_output(listing()).requirements_text()
    assert _lines(ours) == _lines(pip.stdout)


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _editable(site: Path, name: str, source: Path) -> None:
    """The metadata pip leaves for ``pip install -e <source>`` (PEP 660)."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n")
    direct = {"url": source.as_uri(), "dir_info": {"editable": True}}
    (info / "direct_url.json").write_text(json.dumps(direct))


def test_editable_installs_are_written_as_pip_writes_them(tmp_path: Path) -> None:
    """A git checkout with a remote gives ``-e git+<remote>@<commit>#egg=``, also for a
    project in a subdirectory and for scp shorthand; without a remote or outside git,
    the location."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    _git(upstream, "init", "-q")
    (upstream / "pyproject.toml").write_text("[project]\nname = 'cloned'\n")
    (upstream / "sub").mkdir()
    (upstream / "sub" / "pyproject.toml").write_text("[project]\nname = 'in-sub'\n")
    _git(upstream, "add", ".")
    _git(upstream, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(upstream), str(clone))
    scp = tmp_path / "scp"
    _git(tmp_path, "clone", "-q", str(upstream), str(scp))
    _git(scp, "remote", "set-url", "origin", "git@example.com:team/repo.git")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "setup.py").write_text("")
    site = tmp_path / "site"
    _editable(site, "cloned", clone)
    _editable(site, "in-sub", clone / "sub")
    _editable(site, "scp-remote", scp)
    _editable(site, "no-remote", upstream)
    _editable(site, "plain", plain)

    pip = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--path", str(site)],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        pytest.skip("pip is not available")
    from mlcli.capture.listing import packages

    ours = {reference for _name, _version, reference in packages([str(site)])}
    assert ours == {line for line in pip.stdout.splitlines() if not line.startswith("#")}
    commit = _git(clone, "rev-parse", "HEAD")
    assert f"-e git+{upstream.as_uri()}@{commit}#egg=in_sub&subdirectory=sub" in ours
    assert f"-e git+ssh://git@example.com/team/repo.git@{commit}#egg=scp_remote" in ours
    assert f"-e {plain}" in ours


def test_a_vcs_editable_line_is_read_back_by_its_egg_name() -> None:
    text = "-e git+https://example.com/r.git@abc123#egg=my_pkg&subdirectory=src\n"
    assert parse_requirements(text) == {
        "my-pkg": "-e git+https://example.com/r.git@abc123#egg=my_pkg&subdirectory=src"
    }


IN_PROCESS = """
import json
from dataclasses import asdict
from mlcli.capture.environment import current_environment
print(json.dumps(asdict(current_environment())))
"""


def test_in_process_the_listing_is_the_same(tmp_path: Path) -> None:
    """Run where mlcli runs (not under pytest, whose sys.path puts the source tree, and
    its mlcli.egg-info, first)."""
    result = subprocess.run(
        [sys.executable, "-c", IN_PROCESS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = parse_freeze_output(listing())
    in_process = json.loads(result.stdout)
    assert in_process["python_version"] == expected.python_version
    assert [tuple(p.values()) for p in in_process["packages"]] == [
        (p.name, p.version, p.line) for p in expected.packages
    ]


def _lines(text: str) -> set[str]:
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def test_requirements_read_back_by_name() -> None:
    text = (
        "# a header\n"
        "Scikit_Learn==1.5.0\n"
        "tiny @ file:///wheels/tiny-1.0-py3-none-any.whl\n"
        "# Editable install (mlcli==0.3.0)\n"
        "-e /src/mlcli\n"
    )
    assert parse_requirements(text) == {
        "scikit-learn": "1.5.0",
        "tiny": "@ file:///wheels/tiny-1.0-py3-none-any.whl",
        "mlcli": "-e /src/mlcli",
    }


def test_every_run_records_its_packages_and_machine(cli, store_root: Path, make_project) -> None:
    project = make_project({"hello.py": "print('hi')\n"})
    result = cli("run", str(project), "-e", "hello.py", "--env-manager", "local", "-q")
    assert result.exit_code == 0, result.stderr
    run = only_run(store_root)
    requirements = TrackingClient(store_root).artifact_path(
        run.info.run_id, "environment/requirements.txt"
    )
    packages = parse_requirements(requirements.read_text())
    assert "pytest" in packages and "mlcli" in packages
    tags = run.data.tags
    assert tags["mlcli.python.version"] == ".".join(map(str, sys.version_info[:3]))
    assert int(tags["mlcli.system.cpuCount"]) >= 1
    assert tags["mlcli.system.memory"].endswith(" GB")
    assert tags["mlcli.system.gpuCount"].isdigit()
    assert "mlcli.environment.captureError" not in tags


class NoPython(Environment):
    """An environment whose ``python`` fails, as one without Python would."""

    name = "nopython"

    def wrap(self, command: str) -> list[str]:
        return ["bash", "-c", "echo 'python: command not found' >&2; exit 127"]


def test_a_failed_listing_is_recorded_not_fatal(store_root: Path, tmp_path: Path) -> None:
    client = TrackingClient(store_root)
    run = client.create_run()
    capture = RunCapture(plan_capture(CaptureOptions()), client, run.info.run_id)
    context = RunContext(run.info.run_id, run.info.experiment_id, store_root)
    capture.start_environment(NoPython(), tmp_path, context)
    capture.finish()
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["mlcli.environment.captureError"] == (
        "listing the packages failed: python: command not found"
    )
    assert tags["mlcli.system.cpuCount"]  # the machine is still described
    assert client.list_artifacts(run.info.run_id) == []


@pytest.mark.slow
def test_mlcli_diff_shows_the_package_two_environments_differ_by(
    cli, store_root: Path, make_project, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    write_wheel(wheels, "tinycore", "1.0")
    write_wheel(wheels, "tinyextra", "2.0")
    run_ids = []
    for name, packages in (("a", ["tinycore==1.0"]), ("b", ["tinycore==1.0", "tinyextra==2.0"])):
        project = make_project(
            {
                "MLproject": "python_env: python_env.yaml\n"
                "entry_points: {main: {command: 'python -c \"import tinycore\"'}}\n",
                "python_env.yaml": "build_dependencies: []\ndependencies:\n"
                f"  - --no-index\n  - --find-links {wheels}\n"
                + "".join(f"  - {p}\n" for p in packages),
            },
            name=name,
        )
        result = cli("run", str(project), "-q")
        assert result.exit_code == 0, result.stderr
        run_ids.append(result.stdout.strip())
    assert len(runs_in(store_root)) == 2

    result = cli("diff", *run_ids, "--json")
    assert result.exit_code == 0, result.stderr
    packages = json.loads(result.stdout)["packages"]
    assert packages == {"added": {"tinyextra": "2.0"}, "removed": {}, "changed": {}}

    text = cli("diff", *run_ids).stdout
    section = text.split("Packages", 1)[1].split("\n\n", 1)[0]
    assert "+ tinyextra  2.0" in section
    assert "tinycore" not in section  # unchanged packages are only counted
