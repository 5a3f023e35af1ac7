"""Without the ``docker`` extra, a docker_env project fails with one line naming it."""

from __future__ import annotations

import os
from pathlib import Path

from docker_sdk_absent import mlcli_without_docker
from projecthelpers import MakeProject

EXPECTED = (
    "mlcli: error: the docker environment needs the Docker SDK for Python, which is not "
    "installed: pip install 'mlcli[docker]'\n"
)


def test_a_docker_project_without_the_sdk_names_the_extra(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = make_project(
        {
            "MLproject": """
                name: Docker Demo
                docker_env:
                  image: python:3.11-slim
                entry_points:
                  main:
                    command: "python -c 'print(1)'"
            """
        }
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(tmp_path / ".mlruns")
    result = mlcli_without_docker("run", str(project), cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr == EXPECTED
    assert not (tmp_path / ".mlruns" / "runs").exists() or not any(
        (tmp_path / ".mlruns" / "runs").iterdir()
    ), "no run is created for a project that cannot start"
