"""``--env-manager virtualenv`` for real: environments made from python_env.yaml with a
package installed from a local wheel folder (offline), cached, and cleaned up on failure."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from projecthelpers import MakeProject, all_runs, only_run

from mlcli.projects import load_project
from mlcli.projects.envs.virtualenv import VirtualenvManager
from mlcli.projects.feedback import SilentFeedback
from mlcli.store import RunStatus

pytestmark = pytest.mark.slow

CHECK = """
import os, sys
import mlcli
import tinydep
print("prefix", sys.prefix)
print("value", tinydep.VALUE)
with mlcli.start_run():
    mlcli.log_metric("inside_venv", tinydep.VALUE)
"""


def write_wheel(folder: Path, name: str = "tinydep", version: str = "0.1.0") -> Path:
    """A minimal pure-Python wheel with a module and a console script."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = 42\n\ndef hello():\n    print('hello from {name}')\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[console_scripts]\n{name}-hello = {name}:hello\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def venv_project(make_project: MakeProject) -> Path:
    root = make_project(
        {
            "MLproject": """
                name: venvproj
                python_env: python_env.yaml
                entry_points:
                  main:
                    command: "python check.py && tinydep-hello"
            """,
            "python_env.yaml": """
                build_dependencies: []
                dependencies:
                  - -r requirements.txt
            """,
            "requirements.txt": "--no-index\n--find-links wheels\ntinydep==0.1.0\n",
            "check.py": CHECK,
        },
        name="venvproj",
    )
    write_wheel(root / "wheels")
    return root


@pytest.fixture(params=["pip", "uv"])
def installer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "uv" and shutil.which("uv") is None:
        pytest.skip("uv is not installed")
    monkeypatch.setenv("MLCLI_INSTALLER", request.param)
    return request.param


def test_an_environment_is_made_once_then_reused(
    cli, store_root: Path, workdir: Path, venv_project: Path, installer: str, tmp_path: Path
):
    result = cli("run", str(venv_project))
    assert result.exit_code == 0, result.stderr
    env_root = tmp_path / "mlcli-envs"
    (env_dir,) = env_root.iterdir()  # one environment, no temporary leftovers
    assert env_dir.name.startswith("virtualenv-")
    assert f"prefix {env_dir}" in result.stdout  # ran inside it, at its final path
    assert "value 42" in result.stdout
    assert "hello from tinydep" in result.stdout  # its console script survived the move
    run = only_run(workdir)
    assert run.info.status == RunStatus.FINISHED
    assert run.data.metrics == {"inside_venv": 42.0}  # import mlcli worked in the venv
    assert run.data.tags["mlcli.project.env"] == "virtualenv"
    assert run.data.tags["mlcli.project.envPath"] == str(env_dir)
    assert run.data.tags["mlcli.project.envCached"] == "false"
    assert (env_dir / "mlcli-env.json").read_text().count(f'"installer": "{installer}"') == 1

    # The second run finds it, and neither rebuilds nor touches it.
    project = load_project(venv_project)
    marker = env_dir / "mlcli-env.json"
    before = (env_dir.stat().st_mtime_ns, marker.stat().st_mtime_ns, marker.read_bytes())
    environment = VirtualenvManager().prepare(project, SilentFeedback())
    assert environment.tags["mlcli.project.envCached"] == "true"
    assert (env_dir.stat().st_mtime_ns, marker.stat().st_mtime_ns, marker.read_bytes()) == before
    result = cli("run", str(venv_project))
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in env_root.iterdir()] == [env_dir.name]


def test_a_changed_requirements_file_makes_a_new_environment(
    venv_project: Path, monkeypatch: pytest.MonkeyPatch
):
    manager = VirtualenvManager()
    project = load_project(venv_project)
    spec_before = manager.location(project, _spec(project))
    (venv_project / "requirements.txt").write_text(
        "--no-index\n--find-links wheels\ntinydep>=0.1\n"
    )
    assert manager.location(project, _spec(project)) != spec_before


def _spec(project):
    from mlcli.projects.envs.virtualenv import python_env_spec

    return python_env_spec(project)


def test_a_failed_creation_fails_the_run_and_leaves_nothing(
    cli, store_root: Path, workdir: Path, venv_project: Path, tmp_path: Path
):
    (venv_project / "requirements.txt").write_text(
        "--no-index\n--find-links wheels\nno-such-package-anywhere==9.9\n"
    )
    result = cli("run", str(venv_project))
    assert result.exit_code == 1
    assert "installing the dependencies with" in result.stderr
    assert "ended FAILED" in result.stderr and result.stderr.count("mlcli: error:") == 1
    run = only_run(workdir)
    assert run.info.status == RunStatus.FAILED
    assert "installing the dependencies" in run.data.tags["mlcli.project.failureReason"]
    env_root = tmp_path / "mlcli-envs"
    assert list(env_root.iterdir()) == []  # no half-built environment, no temporary folder


def test_an_unavailable_python_is_an_error_naming_the_versions_found(
    cli, store_root: Path, workdir: Path, venv_project: Path
):
    (venv_project / "python_env.yaml").write_text('python: "2.5"\ndependencies: []\n')
    result = cli("run", str(venv_project))
    assert result.exit_code == 1
    assert "Python 2.5 was not found on this machine (found: " in result.stderr
    current = ".".join(map(str, sys.version_info[:3]))
    assert current in result.stderr
    assert all_runs(workdir) == []  # checked before the run exists


def test_the_python_version_must_be_written_as_a_version(
    cli, store_root: Path, workdir: Path, venv_project: Path
):
    (venv_project / "python_env.yaml").write_text("python: latest\n")
    result = cli("run", str(venv_project))
    assert result.exit_code == 2
    assert "'python' must be a version such as" in result.stderr


def test_another_python_version_from_this_machine(
    cli, store_root: Path, workdir: Path, make_project: MakeProject
):
    from mlcli.projects.envs.interpreters import discover

    others = [i for i in discover() if i.version[:2] != sys.version_info[:2]]
    if not others:
        pytest.skip("only one Python version on this machine")
    wanted = ".".join(map(str, others[0].version[:2]))
    root = make_project(
        {
            "MLproject": "python_env: python_env.yaml\n"
            "entry_points: {main: {command: 'python -c \"import sys; print(sys.version)\"'}}\n",
            "python_env.yaml": f'python: "{wanted}"\n',
        },
        name="otherpy",
    )
    result = cli("run", str(root))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(wanted + ".")
    assert only_run(workdir).data.tags["mlcli.python.version"].startswith(wanted + ".")


def test_without_a_python_env_the_env_has_this_python_and_no_packages(
    cli, store_root: Path, workdir: Path, make_project: MakeProject
):
    show = "import sys, os\nprint(sys.prefix != sys.base_prefix, os.environ['VIRTUAL_ENV'])\n"
    root = make_project({"show.py": show}, name="plainvenv")
    result = cli("run", str(root), "-e", "show.py", "--env-manager", "virtualenv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("True ")
    assert os.path.basename(result.stdout.split()[1]).startswith("virtualenv-")
