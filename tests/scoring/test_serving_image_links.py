"""``mlcli build-docker --no-build`` of a model folder holding a link to a file outside
it (issue 15, finding 4): the link is left out of the build context, with a warning,
so the secret never reaches an image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SECRET = "TOP-SECRET-e40c"


def test_a_link_out_of_the_model_stays_out_of_the_build_context(
    tmp_path: Path, serving_store: Path
) -> None:
    (tmp_path / "secret.txt").write_text(SECRET)
    model = tmp_path / "model"
    shutil.copytree(serving_store / "models" / "iris" / "versions" / "1" / "artifacts", model)
    os.symlink(tmp_path / "secret.txt", model / "notes.txt")
    os.symlink(tmp_path, model / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCLI_")}
    if "MLCLI_DATA_DIR" in os.environ:  # the session's trust records (tests/conftest.py)
        env["MLCLI_DATA_DIR"] = os.environ["MLCLI_DATA_DIR"]
    env["MLCLI_STORE"] = str(serving_store)
    context = tmp_path / "ctx"
    result = subprocess.run(
        [sys.executable, "-m", "mlcli", "build-docker", "-m", str(model), "-o", str(context),
         "--no-build"],
        capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        f"mlcli: warning: skipped home -> {tmp_path}: a symbolic link leading outside {model}",
        f"mlcli: warning: skipped notes.txt -> {tmp_path / 'secret.txt'}: a symbolic link "
        f"leading outside {model}",
    ]
    assert (context / "model" / "MLmodel").is_file()
    assert not (context / "model" / "notes.txt").exists()
    for directory, folders, files in os.walk(context):
        for name in folders + files:
            path = Path(directory, name)
            assert not path.is_symlink(), path
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path
