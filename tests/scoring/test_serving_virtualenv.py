"""``mlcli serve --env-manager virtualenv``: the model is served from a virtualenv built
from its requirements, offline.

The model needs ``mlcli-test-offset``, a package that exists only as a wheel made by
the test. Every other package comes from a local wheel folder packed from this
interpreter's installed distributions (see ``wheelhouse``); pip and uv are told to use
no index and no configuration, so the test needs no network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from servinghelpers import Server
from servingmodels import SCALE_SIGNATURE, OffsetFromPackageModel
from wheelhouse import make_wheelhouse, write_wheel

import mlcli.pyfunc
from mlcli.scoring.requirements import requirement_name, serving_requirements

pytestmark = pytest.mark.slow


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    """A model needing ``mlcli-test-offset``, and the environment variables that make
    every install come from one local folder."""
    model = tmp_path / "model"
    mlcli.pyfunc.save_model(
        model,
        python_model=OffsetFromPackageModel(),
        signature=SCALE_SIGNATURE,
        extra_pip_requirements=["mlcli-test-offset==1.0"],
    )
    # the saving environment's pip/setuptools/wheel pins would need those wheels too
    (model / "python_env.yaml").write_text("python: '3.11'\ndependencies:\n- -r requirements.txt\n")
    wheels = tmp_path / "wheels"
    write_wheel(wheels, "mlcli-test-offset", "1.0", {"mlcli_test_offset.py": "OFFSET = 7.0\n"})
    needs = serving_requirements(model)
    names = {requirement_name(line) for line in needs.lines} - {"", "mlcli-test-offset"}
    make_wheelhouse(names, wheels)
    return {
        "MODEL": str(model),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "UV_NO_CONFIG": "1",
        "UV_NO_INDEX": "1",
        "UV_FIND_LINKS": str(wheels),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "MLCLI_CACHE_DIR": str(tmp_path / "cache"),
        "MLCLI_ENV_ROOT": str(tmp_path / "envs"),
    }


def test_serves_from_an_environment_built_from_the_models_requirements(
    serve: Callable[..., Server], offline: dict[str, str], tmp_path: Path
) -> None:
    env = dict(offline)
    model = env.pop("MODEL")
    # the model's python_env.yaml was rewritten by hand (see above): mlcli did not write
    # it, so building an environment from it (installing what it names) needs the opt-in
    refused = serve("-m", model, "--env-manager", "virtualenv", wait=False, **env)
    assert refused.process.wait(120) == 2
    assert "python_env.yaml: it is an environment file" in refused.log()
    assert "--allow-pickle" in refused.log() and not (tmp_path / "envs").exists()
    server = serve("-m", model, "--env-manager", "virtualenv", "--allow-pickle", **env)
    assert server.post({"inputs": {"x": [1.0, 2.0]}}).json() == {"predictions": [8.0, 9.0]}
    # the server runs on the environment's interpreter, under the env root
    pid = int(server.log().split("(pid ")[1].split(")")[0])
    argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    assert argv0.startswith(str(tmp_path / "envs")), argv0
    environment = Path(argv0).parent.parent
    assert list(environment.glob("lib/python*/site-packages/mlcli_test_offset.py"))
    assert list(environment.glob("lib/python*/site-packages/mlcli-*.dist-info"))
    assert not list(environment.glob("lib/python*/site-packages/sklearn"))  # only what it needs
    assert server.stop() == 0

    # a second start reuses the cached environment
    again = serve("-m", model, "--env-manager", "virtualenv", "--allow-pickle", **env)
    assert again.post({"inputs": {"x": [0.5]}}).json() == {"predictions": [7.5]}
    assert len(list((tmp_path / "envs").glob("virtualenv-*"))) == 1
