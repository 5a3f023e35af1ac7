"""Artifact writes the file system would refuse are the caller's mistake (issue 15,
finding 10): a clear one-line error with exit code 2, never a traceback, and nothing
half-written left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_commands import mlcli_on

from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError

LONG = "a" * 300


@pytest.fixture
def run(tmp_path: Path) -> tuple[MlcliClient, str]:
    client = MlcliClient(tmp_path / ".mlruns")
    run_id = client.create_run().run_id
    client.log_text(run_id, "a file", "notes.txt")
    client.log_text(run_id, "inside a folder", "folder/inner.txt")
    return client, run_id


def _files(client: MlcliClient, run_id: str) -> list[str]:
    """Every entry under the run's artifacts, temporary files included."""
    root = client.artifact_path(run_id)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("artifact_path", "message"),
    [
        (
            LONG,
            f"cannot write artifact '{'a' * 60}...{'a' * 14}/f.txt': the name "
            f"'{'a' * 60}...{'a' * 20}' is 300 bytes long, longer than the 241 an artifact "
            "name may have",
        ),
        ("notes.txt", "cannot write artifact 'notes.txt/f.txt': 'notes.txt' is a file"),
        (
            "notes.txt/deeper",
            "cannot write artifact 'notes.txt/deeper/f.txt': 'notes.txt' is a file",
        ),
        (
            "/".join(["b" * 200] * 25),
            f"cannot write artifact '{'b' * 60}...{'b' * 14}/f.txt': the path is too long for "
            "the file system",
        ),
    ],
    ids=["name-too-long", "beneath-a-file", "deeper-beneath-a-file", "path-too-long"],
)
def test_log_artifact_refuses_with_one_line(
    run: tuple[MlcliClient, str], tmp_path: Path, artifact_path: str, message: str
) -> None:
    client, run_id = run
    (tmp_path / "f.txt").write_text("x")
    before = _files(client, run_id)
    result = mlcli_on(
        client.store.root,
        "log",
        "artifact",
        "f.txt",
        "--artifact-path",
        artifact_path,
        "--run",
        run_id,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stderr) == (2, f"mlcli: error: {message}\n")
    assert _files(client, run_id) == before


def test_a_folder_where_the_file_would_go(run: tuple[MlcliClient, str], tmp_path: Path) -> None:
    client, run_id = run
    (tmp_path / "folder").write_text("a file named like the stored folder")
    before = _files(client, run_id)
    result = mlcli_on(client.store.root, "log", "artifact", "folder", "--run", run_id, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "mlcli: error: cannot write artifact 'folder': it is a folder\n",
    )
    assert _files(client, run_id) == before


def test_a_folder_copy_checks_every_name_before_the_first_write(
    run: tuple[MlcliClient, str], tmp_path: Path
) -> None:
    client, run_id = run
    source = tmp_path / "src"
    (source / "notes.txt").mkdir(parents=True)  # a folder where the run has a file
    (source / "a-first.txt").write_text("would be copied first")
    (source / "notes.txt" / "x").write_text("x")
    before = _files(client, run_id)
    result = mlcli_on(client.store.root, "log", "artifact", "src", "--run", run_id, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "mlcli: error: cannot write artifact 'notes.txt/x': 'notes.txt' is a file\n",
    )
    assert _files(client, run_id) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x\x00y", "artifact path 'x\\x00y' holds a NUL byte"),
        ("q\ud800", "artifact path 'q\\ud800' is not valid text"),
        ("notes.txt/a.json", "cannot write artifact 'notes.txt/a.json': 'notes.txt' is a file"),
        ("folder", "cannot write artifact 'folder': it is a folder"),
        ("c" * 242, "longer than the 241 an artifact name may have"),
    ],
    ids=["nul", "surrogate", "beneath-a-file", "a-folder", "name-too-long"],
)
def test_the_python_api_raises_invalid_input(
    run: tuple[MlcliClient, str], name: str, message: str
) -> None:
    client, run_id = run
    before = _files(client, run_id)
    with pytest.raises(InvalidInputError) as raised:
        client.log_text(run_id, "text", name)
    assert str(raised.value).endswith(message)
    assert _files(client, run_id) == before


def test_the_longest_name_allowed_is_written(run: tuple[MlcliClient, str]) -> None:
    client, run_id = run
    name = "é" * 120 + "c"  # 241 bytes in UTF-8
    assert client.log_text(run_id, "fits", name) == name
    assert (client.artifact_path(run_id) / name).read_text() == "fits"
