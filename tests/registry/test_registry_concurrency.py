"""Several processes registering and promoting one model at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlcli.client import MlcliClient

REGISTER_AND_MOVE = """
import sys
from mlcli.client import MlcliClient
client = MlcliClient()
version = client.register_model(sys.argv[1], "shared").version
for _ in range(20):
    client.set_registered_model_alias("shared", "champion", version)
print(version)
"""


@pytest.mark.slow
def test_eight_registrations_get_eight_consecutive_versions(
    client: MlcliClient, model_run, store_root: Path, tmp_path: Path
) -> None:
    runs = [model_run(0.5 + i / 100) for i in range(8)]
    script = tmp_path / "register.py"
    script.write_text(textwrap.dedent(REGISTER_AND_MOVE))
    env = {**os.environ, "MLCLI_STORE": str(store_root)}
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), f"runs:/{run_id}/model"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id in runs
    ]
    versions = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        versions.append(int(out))
    assert sorted(versions) == list(range(1, 9))
    stored = client.search_model_versions("shared")
    assert [v.version for v in stored] == list(range(1, 9))
    assert sorted(v.run_id for v in stored) == sorted(runs)
    for version in stored:  # each version holds the files of its own run
        copy = client.registry().artifacts_path("shared", version.version)
        assert (copy / "weights.bin").read_bytes() == version.run_id.encode()
    aliases = json.loads((store_root / "models" / "shared" / "aliases.json").read_text())
    assert list(aliases) == ["champion"] and aliases["champion"] in versions
    moves = [e for e in client.get_model_history("shared") if e.action == "set_alias"]
    assert moves[-1].version == aliases["champion"]
    assert sum(e.action == "register" for e in client.get_model_history("shared")) == 8
