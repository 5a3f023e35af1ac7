"""``build-docker`` without the ``docker`` extra: writing a context needs no SDK (and
the image it describes gets no SDK either), building one fails with one line naming
the extra."""

from __future__ import annotations

import os
from pathlib import Path

from docker_sdk_absent import mlcli_without_docker


def _env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_STORE"] = str(store)
    env["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
    return env


def test_building_an_image_without_the_sdk_names_the_extra(
    serving_store: Path, tmp_path: Path
) -> None:
    result = mlcli_without_docker(
        "build-docker", "-m", "models:/iris/1", "-n", "x:1", cwd=tmp_path, env=_env(serving_store)
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "mlcli: error: talking to a Docker engine needs the Docker SDK for Python, which is "
        "not installed: pip install 'mlcli[docker]'; to build elsewhere, write the build "
        "context with --output-dir DIR --no-build and run 'docker build DIR'\n"
    )


def test_writing_the_context_needs_no_sdk(serving_store: Path, tmp_path: Path) -> None:
    output = tmp_path / "context"
    result = mlcli_without_docker(
        "build-docker",
        "-m",
        "models:/iris/1",
        "-o",
        str(output),
        "--no-build",
        cwd=tmp_path,
        env=_env(serving_store),
    )
    assert result.returncode == 0, result.stderr
    assert (output / "Dockerfile").is_file()
    # the image gets mlcli's runtime requirements, and nothing only the host needs
    lines = (output / "requirements.txt").read_text().splitlines()
    names = {line.split("==")[0] for line in lines}
    assert {"typer", "rich", "pyyaml", "starlette", "uvicorn"} <= names, lines
    assert not names & {"docker", "gitpython", "virtualenv"}, lines
