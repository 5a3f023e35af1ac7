"""``mlcli build-docker``: the build context, and images built by a real engine (Podman
or Docker behind the Docker API of DOCKER_HOST) that serve the model.

Engine tests skip when no engine answers, and fail instead when
CONTAINER_TESTS_REQUIRED=1 (CI sets it). One image is built per session (an uncached
scikit-learn image takes about a minute); containers are labelled ``mlcli-test`` and
removed in ``finally``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servinghelpers import request
from servingmodels import GIT_COMMIT

BASE_IMAGE = "python:3.11-slim"
TAG = "mlcli-test-iris:1"
ROWS = {"dataframe_split": {
    "columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    "data": [[5.1, 3.5, 1.4, 0.2], [6.0, 2.2, 4.0, 1.0], [6.9, 3.1, 5.4, 2.1]],
}}  # fmt: skip


def build_docker(
    *args: str, store: Path | None = None, check: bool = True, data_dir: Path | None = None
) -> Any:
    """``mlcli build-docker ARGS``; ``data_dir`` stands for the user's data folder (its
    trust records), the session's by default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    env["MLCLI_DATA_DIR"] = str(data_dir or os.environ["MLCLI_DATA_DIR"])
    if store is not None:
        env["MLCLI_STORE"] = str(store)
    result = subprocess.run(
        [sys.executable, "-m", "mlcli", "build-docker", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"build-docker failed ({result.returncode}):\n{result.stderr}")
    return result


# -- the build context, without an engine ---------------------------------------------------------


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory, serving_store: Path) -> Path:
    directory = tmp_path_factory.mktemp("context") / "ctx"
    result = build_docker(
        "-m", "models:/iris@champion", "--output-dir", str(directory), "--no-build",
        store=serving_store,
    )  # fmt: skip
    assert result.stdout.strip() == str(directory)
    return directory


def test_the_context_holds_dockerfile_model_requirements_and_wheel(context: Path) -> None:
    names = sorted(p.name for p in context.iterdir())
    assert names == [
        ".dockerignore",
        ".mlcli-build-context",
        "Dockerfile",
        "mlcli-0.1.0-py3-none-any.whl",
        "model",
        "requirements.txt",
        "trusted-models",
    ]
    assert (context / "model" / "MLmodel").is_file()
    requirements = (context / "requirements.txt").read_text().splitlines()
    names_pinned = {line.split("==")[0]: line for line in requirements}
    assert "mlcli" not in names_pinned  # the wheel stands in for it
    for name in ("scikit-learn", "starlette", "uvicorn", "pandas", "numpy"):
        assert "==" in names_pinned[name], requirements


def test_the_dockerfile_installs_requirements_before_copying_the_model(context: Path) -> None:
    lines = (context / "Dockerfile").read_text().splitlines()
    instructions = [line.split(" ", 1)[0] for line in lines if line[:1].isalpha()]
    assert instructions[0] == "FROM" and lines[1] == f"FROM {BASE_IMAGE}"
    # classic instructions only: no BuildKit syntax directive, no RUN --mount
    assert set(instructions) <= {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE",
                                 "HEALTHCHECK", "LABEL", "ENTRYPOINT", "CMD"}  # fmt: skip
    assert not any("--mount" in line or "syntax=" in line for line in lines)
    requirements = next(n for n, line in enumerate(lines) if "-r /opt/mlcli/requirements" in line)
    wheel = next(n for n, line in enumerate(lines) if line.startswith("COPY mlcli-"))
    model = next(n for n, line in enumerate(lines) if line.startswith("COPY model "))
    user = next(n for n, line in enumerate(lines) if line.startswith("USER "))
    assert requirements < wheel < model < user
    assert "USER 10001:10001" in lines and "EXPOSE 8080" in lines
    healthcheck = next(line for line in lines if line.startswith("HEALTHCHECK"))
    assert "/ping" in healthcheck and "python" in healthcheck and "curl" not in healthcheck
    entry = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT"))[11:])
    assert entry == ["mlcli", "serve", "-m", "/opt/ml/model", "--host", "0.0.0.0", "--port",
                     "8080", "--allow-unauthenticated"]  # fmt: skip
    # the image trusts the files mlcli wrote, as the builder did, and nobody may add to it
    records = next(n for n, line in enumerate(lines) if line.startswith("COPY trusted-models "))
    assert model < records < user
    assert "MLCLI_DATA_DIR=/opt/mlcli/data" in next(line for line in lines if "HOME=" in line)
    assert lines[records] == "COPY trusted-models /opt/mlcli/data/trusted-models"


def test_the_image_carries_the_trust_records_of_the_model_mlcli_wrote(
    context: Path, serving_store: Path
) -> None:
    import hashlib

    written = ("model.skops", "requirements.txt", "python_env.yaml", "conda.yaml")
    digests = {hashlib.sha256((context / "model" / n).read_bytes()).hexdigest() for n in written}
    records = {p.name for p in (context / "trusted-models").iterdir()}
    assert records == {".keep", *digests}


def test_a_pickle_mlcli_did_not_write_is_built_only_with_allow_pickle(
    tmp_path: Path, serving_store: Path
) -> None:
    """The scale model is a cloudpickle; for a user without its trust record (another
    user's data folder) it is refused before anything is built, and with --allow-pickle
    the image serves it with --allow-pickle."""
    stranger = tmp_path / "stranger-data"
    args = ("-m", "models:/scale/1", "--no-build")
    refused = build_docker(*args, "-o", str(tmp_path / "a"), store=serving_store,
                           check=False, data_dir=stranger)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--allow-pickle" in refused.stderr
    assert "python_model.pkl" in refused.stderr and not (tmp_path / "a").exists()
    build_docker(*args, "-o", str(tmp_path / "b"), "--allow-pickle", store=serving_store,
                 data_dir=stranger)  # fmt: skip
    lines = (tmp_path / "b" / "Dockerfile").read_text().splitlines()
    entry = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT"))[11:])
    assert entry[-2:] == ["--allow-unauthenticated", "--allow-pickle"]
    # its own user (the session's records) needs no opt-in: the records go into the image
    build_docker(*args, "-o", str(tmp_path / "c"), store=serving_store)
    lines = (tmp_path / "c" / "Dockerfile").read_text().splitlines()
    assert "--allow-pickle" not in next(line for line in lines if line.startswith("ENTRYPOINT"))
    pickle = (tmp_path / "c" / "model" / "python_model.pkl").read_bytes()
    import hashlib

    assert (tmp_path / "c" / "trusted-models" / hashlib.sha256(pickle).hexdigest()).is_file()


def test_the_dockerfile_labels_the_model(context: Path) -> None:
    text = (context / "Dockerfile").read_text()
    label = text[text.index("\nLABEL ") : text.index("\nENTRYPOINT")]
    assert '"org.mlcli.model.uri"="models:/iris@champion"' in label
    assert '"org.mlcli.model.version"="1"' in label
    assert f'"org.mlcli.model.git_commit"="{GIT_COMMIT}"' in label
    assert '"org.mlcli.model.run_id"=' in label


def test_no_build_needs_an_output_dir(cli: Any, serving_store: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MLCLI_STORE", str(serving_store))
    result = cli("build-docker", "-m", "models:/iris/1", "--no-build")
    assert result.exit_code == 2 and "--no-build needs --output-dir" in result.stderr


def test_an_unrelated_output_dir_is_refused(
    cli: Any, serving_store: Path, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLCLI_STORE", str(serving_store))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = cli("build-docker", "-m", "models:/iris/1", "-o", str(tmp_path / "mine"), "--no-build")
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_no_engine_is_a_clear_error_suggesting_output_dir(
    cli: Any, serving_store: Path, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLCLI_STORE", str(serving_store))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = cli("build-docker", "-m", "models:/iris/1", "-n", "x:1")
    assert result.exit_code == 1
    assert "no Docker engine is reachable" in result.stderr
    assert "--output-dir" in result.stderr and result.stderr.count("\n") == 1


# -- images built by a real engine ---------------------------------------------------------------


@pytest.fixture(scope="session")
def engine(container_engine: Any) -> Any:
    return container_engine


@dataclass
class Built:
    tag: str
    image: Any
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def iris_image(engine: Any, serving_store: Path) -> Built:
    """``models:/iris@champion`` built once per session."""
    started = time.monotonic()
    result = build_docker("-m", "models:/iris@champion", "-n", TAG, store=serving_store)
    assert result.stdout.strip() == TAG
    return Built(TAG, engine.images.get(TAG), result.stderr, time.monotonic() - started)


def run_container(engine: Any, tag: str) -> Any:
    return engine.containers.run(
        tag,
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", None)},
        labels={"mlcli-test": "1"},
    )


def host_port(container: Any) -> int:
    for _ in range(100):
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get("8080/tcp")
        if bindings:
            return int(bindings[0]["HostPort"])
        time.sleep(0.1)
    raise AssertionError("the container's port was not published")


def wait_ready(container: Any, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if request("127.0.0.1", port, "GET", "/ping", timeout=2).status == 200:
                return
        except OSError:
            pass
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.2)
    logs = container.logs().decode(errors="replace")
    raise AssertionError(f"the container did not answer /ping:\n{logs}")


@pytest.mark.slow
def test_the_image_serves_predictions_and_passes_its_health_check(
    engine: Any, iris_image: Built
) -> None:
    from servingmodels import iris_classifier

    model, _ = iris_classifier()
    frame = __import__("pandas").DataFrame(**ROWS["dataframe_split"])
    container = run_container(engine, iris_image.tag)
    try:
        port = host_port(container)
        wait_ready(container, port)
        reply = request("127.0.0.1", port, "POST", "/invocations", json.dumps(ROWS))
        assert reply.status == 200, reply.body
        assert json.loads(reply.body) == {"predictions": model.predict(frame).tolist()}
        bad = request("127.0.0.1", port, "POST", "/invocations", '{"rows": []}')
        assert bad.status == 400 and json.loads(bad.body)["error_code"] == "BAD_REQUEST"
        # The image's own HEALTHCHECK, run where the engine runs it (Podman without
        # systemd keeps no health timers, so the command is run here through exec).
        container.reload()
        test = container.attrs["Config"]["Healthcheck"]["Test"]
        assert test[0] == "CMD"
        code, output = container.exec_run(test[1:])
        assert code == 0, output
        whoami = container.exec_run(["python", "-c", "import os; print(os.getuid())"])
        assert whoami.output.decode().strip() == "10001"
        logs = container.logs().decode(errors="replace")
        assert "serving /opt/ml/model on http://0.0.0.0:8080" in logs
        assert '"POST /invocations HTTP/1.1" 200' in logs
    finally:
        container.remove(force=True)


@pytest.mark.slow
def test_the_image_is_labelled_with_the_model(iris_image: Built) -> None:
    labels = iris_image.image.labels
    assert labels["org.mlcli.model.uri"] == "models:/iris@champion"
    assert labels["org.mlcli.model.name"] == "iris"
    assert labels["org.mlcli.model.version"] == "1"
    assert labels["org.mlcli.model.git_commit"] == GIT_COMMIT
    assert len(labels["org.mlcli.model.run_id"]) == 32
    assert labels["org.opencontainers.image.revision"] == GIT_COMMIT
    assert "Step 1/" in iris_image.stderr and "Built mlcli-test-iris:1" in iris_image.stderr


@pytest.mark.slow
def test_a_second_build_comes_from_the_cache(
    engine: Any, iris_image: Built, serving_store: Path
) -> None:
    result = build_docker(
        "-m", "models:/iris@champion", "-n", TAG, "--json", store=serving_store
    )  # fmt: skip
    build = json.loads(result.stdout)["build"]
    assert build["image_id"] == iris_image.image.id
    assert build["cached_steps"] >= build["steps"] - 2  # FROM and LABEL-like steps need none


@pytest.mark.slow
def test_a_failing_step_is_shown_with_its_output(
    engine: Any, tmp_path: Path, iris_image: Built
) -> None:
    """An unusable requirement fails pip at once (no network needed); the error names the
    step and shows what pip printed."""
    from servingmodels import iris_classifier

    import mlcli.sklearn

    model, _ = iris_classifier()
    mlcli.sklearn.save_model(model, tmp_path / "broken", pip_requirements=["this is not valid!!"])
    result = build_docker("-m", str(tmp_path / "broken"), "-n", "mlcli-test-broken:1", check=False)
    assert result.returncode == 1
    assert "building mlcli-test-broken:1 failed at step" in result.stderr
    assert "pip install" in result.stderr and "requirements.txt" in result.stderr
    assert "| " in result.stderr and "Invalid requirement" in result.stderr
