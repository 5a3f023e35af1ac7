"""Symbolic links never carry a file across the store's edge (issue 15, finding 4).

Real folders with real links (to a file outside, to a folder outside, dangling, inside
the folder, a loop, a FIFO), copied in with ``mlcli log artifact`` and ``mlcli
register`` run as subprocesses, and links planted in the store, listed, downloaded,
registered and resolved as models. The secret's content must never reach the store or
a copy out of it.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import pytest
from store_commands import mlcli_on

from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError
from mlcli.files.trees import SkippedFileWarning, walk_tree
from mlcli.models.uri import resolve_model_uri

SECRET = "TOP-SECRET-7f3a"


def _hostile_folder(base: Path) -> Path:
    """``base/model``: a model folder with every kind of link, and secrets beside it."""
    (base / "secret.txt").write_text(SECRET)
    (base / "secret-dir").mkdir()
    (base / "secret-dir" / "key").write_text(SECRET)
    model = base / "model"
    (model / "sub").mkdir(parents=True)
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "sub" / "weights.bin").write_text("weights")
    os.symlink("../secret.txt", model / "secret")  # a file outside
    os.symlink("../secret-dir", model / "keys")  # a folder outside, relative
    os.symlink("nowhere", model / "dangling")
    os.symlink("sub/weights.bin", model / "alias.bin")  # a file inside
    os.symlink("sub", model / "same")  # a folder inside
    os.symlink("..", model / "sub" / "up")  # a loop
    os.mkfifo(model / "pipe")
    return model


def _skipped_lines(label: str) -> list[str]:
    """The warnings for what ``_hostile_folder`` holds, copied as ``label``."""
    return [
        "mlcli: warning: skipped dangling -> nowhere: a symbolic link that leads nowhere",
        f"mlcli: warning: skipped keys -> ../secret-dir: a symbolic link leading outside {label}",
        "mlcli: warning: skipped pipe: not a regular file or folder",
        "mlcli: warning: skipped same/up -> ..: a symbolic link to a folder that holds it (a loop)",
        f"mlcli: warning: skipped secret -> ../secret.txt: a symbolic link leading outside {label}",
        "mlcli: warning: skipped sub/up -> ..: a symbolic link to a folder that holds it (a loop)",
    ]


def _assert_no_secret_and_no_link(root: Path) -> None:
    for directory, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(directory, name)
            assert not path.is_symlink(), path
            if path.is_file():
                assert SECRET not in path.read_text(errors="replace"), path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / ".mlruns"
    MlcliClient(root).create_run()  # initialises the store
    return root


def test_log_artifact_of_a_folder_skips_links_leading_out(store: Path, tmp_path: Path) -> None:
    _hostile_folder(tmp_path)
    run = mlcli_on(store, "runs", "create", "-q", cwd=tmp_path).stdout.strip()
    result = mlcli_on(store, "log", "artifact", "model", "--run", run, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == _skipped_lines("model")
    artifacts = store / "runs" / run / "artifacts"
    _assert_no_secret_and_no_link(store)
    # links inside the folder are copied as the plain files they lead to
    assert (artifacts / "alias.bin").read_text() == "weights"
    assert (artifacts / "same" / "weights.bin").read_text() == "weights"
    assert sorted(p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*")) == [
        "MLmodel",
        "alias.bin",
        "same",
        "same/weights.bin",
        "sub",
        "sub/weights.bin",
    ]


def test_register_of_a_folder_skips_links_leading_out(store: Path, tmp_path: Path) -> None:
    model = _hostile_folder(tmp_path)
    result = mlcli_on(store, "register", str(model), "--name", "m", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1\n"
    assert result.stderr.splitlines() == _skipped_lines(str(model))
    copy = store / "models" / "m" / "versions" / "1" / "artifacts"
    assert (copy / "alias.bin").read_text() == "weights"
    assert not (copy / "secret").exists() and not (copy / "keys").exists()
    _assert_no_secret_and_no_link(store)


def test_the_python_api_warns_for_each_link_it_skips(store: Path, tmp_path: Path) -> None:
    model = _hostile_folder(tmp_path)
    client = MlcliClient(store)
    run = client.create_run().run_id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logged = client.log_artifacts(run, model, "m")
    assert logged == ["m/MLmodel", "m/alias.bin", "m/same/weights.bin", "m/sub/weights.bin"]
    assert [w.category for w in caught] == [SkippedFileWarning] * 6
    assert str(caught[4].message) == (
        f"skipped secret -> ../secret.txt: a symbolic link leading outside {model}"
    )
    _assert_no_secret_and_no_link(store)


def _planted(store: Path, tmp_path: Path) -> tuple[MlcliClient, str, Path]:
    """A run whose model folder someone planted links in: a file and a folder outside,
    and a link to a file inside."""
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "secret-dir").mkdir()
    (tmp_path / "secret-dir" / "key").write_text(SECRET)
    client = MlcliClient(store)
    run = client.create_run().run_id
    source = tmp_path / "clean"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run, source, "model")
    model = store / "runs" / run / "artifacts" / "model"
    os.symlink(tmp_path / "secret.txt", model / "secret")
    os.symlink(tmp_path / "secret-dir", model / "keys")
    os.symlink("MLmodel", model / "MLmodel.link")
    return client, run, model


def test_listings_show_a_planted_link_not_its_target(store: Path, tmp_path: Path) -> None:
    _, run, _ = _planted(store, tmp_path)
    table = mlcli_on(store, "runs", "artifacts", run, "model", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()[1:]]
    assert rows == [
        ["model/MLmodel", "12", "B"],
        ["model/MLmodel.link", "->", "MLmodel"],
        ["model/keys", "->", str(tmp_path / "secret-dir")],
        ["model/secret", "->", str(tmp_path / "secret.txt")],
    ]
    listed = listed_json(mlcli_on(store, "runs", "artifacts", run, "model", "--json", cwd=tmp_path))
    assert {e["path"]: (e["is_dir"], e["file_size"], e.get("symlink")) for e in listed} == {
        "model/MLmodel": (False, 12, None),
        "model/MLmodel.link": (False, None, "MLmodel"),
        "model/keys": (False, None, str(tmp_path / "secret-dir")),
        "model/secret": (False, None, str(tmp_path / "secret.txt")),
    }
    # naming a link lists the link; looking through it is refused
    for name, target in (("secret", "secret.txt"), ("keys", "secret-dir")):
        named = mlcli_on(store, "runs", "artifacts", run, f"model/{name}", "--json", cwd=tmp_path)
        assert listed_json(named) == [
            {
                "path": f"model/{name}",
                "is_dir": False,
                "file_size": None,
                "symlink": str(tmp_path / target),
            }
        ]
    inside = mlcli_on(store, "runs", "artifacts", run, "model/keys/key", cwd=tmp_path)
    assert inside.returncode == 2
    assert inside.stderr == (
        "mlcli: error: artifact path 'model/keys/key' escapes the run's artifacts through a "
        "symbolic link\n"
    )


def listed_json(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    import json

    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_downloads_skip_planted_links(store: Path, tmp_path: Path) -> None:
    client, run, _ = _planted(store, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        copy = client.download_artifacts(run, "model", tmp_path / "out")
    assert sorted(str(w.message).split(":")[0] for w in caught) == [
        f"skipped keys -> {tmp_path / 'secret-dir'}",
        f"skipped secret -> {tmp_path / 'secret.txt'}",
    ]
    assert sorted(os.listdir(copy)) == ["MLmodel", "MLmodel.link"]
    _assert_no_secret_and_no_link(tmp_path / "out")
    with pytest.raises(InvalidInputError, match="escapes the run's artifacts through a symbolic"):
        client.download_artifacts(run, "model/secret", tmp_path / "out")


def test_a_model_holding_a_planted_link_is_refused(store: Path, tmp_path: Path) -> None:
    client, run, model = _planted(store, tmp_path)
    refused = mlcli_on(store, "register", f"runs:/{run}/model", "--name", "m", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"mlcli: error: the model at runs:/{run}/model holds a ")
    assert refused.stderr.endswith("mlcli does not follow it\n")
    assert len(refused.stderr.splitlines()) == 1
    assert not (store / "models" / "m" / "versions" / "1").exists()
    # a registered version in which a link was planted later is refused as well
    os.unlink(model / "secret")
    os.unlink(model / "keys")
    assert (
        mlcli_on(store, "register", f"runs:/{run}/model", "--name", "m", cwd=tmp_path).returncode
        == 0
    )
    version = store / "models" / "m" / "versions" / "1" / "artifacts"
    os.symlink(tmp_path / "secret.txt", version / "model.pkl")
    with pytest.raises(
        InvalidInputError, match=r"holds a symbolic link leading outside it \(model"
    ):
        resolve_model_uri("models:/m/1", client=client)
    # a link to a file inside the model is fine
    os.unlink(version / "model.pkl")
    assert resolve_model_uri("models:/m/1", client=client).directory == version.resolve()


def test_a_loop_of_links_is_skipped_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    os.symlink("b", folder / "a")
    os.symlink("a", folder / "b")
    os.symlink(".", folder / "self")
    tree = walk_tree(folder)
    assert tree.files == []
    assert [(e.relative, e.kind) for e in tree.skipped] == [
        ("a", "dangling"),
        ("b", "dangling"),
        ("self", "loop"),
    ]


def test_a_custom_models_artifact_folder_leaves_links_out(tmp_path: Path) -> None:
    pytest.importorskip("cloudpickle")
    import mlcli.pyfunc

    class Constant(mlcli.pyfunc.PythonModel):
        def predict(self, context: object, model_input: object) -> list[int]:
            return [1]

    model = _hostile_folder(tmp_path)
    target = tmp_path / "saved"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mlcli.pyfunc.save_model(target, Constant(), artifacts={"data": str(model)})
    skipped = [str(w.message) for w in caught if w.category is SkippedFileWarning]
    assert len(skipped) == 6 and skipped[4].startswith("skipped secret -> ../secret.txt")
    copied = target / "artifacts" / "model"
    assert (copied / "alias.bin").read_text() == "weights"
    _assert_no_secret_and_no_link(target)
