"""Choosing the store from Python and the environment as MLflow's users do:
``mlcli.set_tracking_uri``, ``mlcli.get_tracking_uri`` and ``MLCLI_TRACKING_URI``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from s3servers import S3Server

import mlcli
from mlcli.errors import InvalidInputError
from mlcli.store import Store
from mlcli.tracking import TrackingClient


def test_runs_go_to_the_store_set_and_get_tracking_uri_says_which(workdir: Path) -> None:
    assert mlcli.get_tracking_uri() == str(workdir / ".mlruns")  # where a run would go
    chosen = workdir / "elsewhere" / ".mlruns"
    mlcli.set_tracking_uri(chosen)
    assert mlcli.get_tracking_uri() == str(chosen)
    with mlcli.start_run(run_name="there") as run:
        mlcli.log_metric("loss", 0.5)
    assert TrackingClient(chosen).get_run(run.info.run_id).info.run_name == "there"
    assert not (workdir / ".mlruns").exists()


def test_an_empty_tracking_uri_is_refused(workdir: Path) -> None:
    with pytest.raises(InvalidInputError, match="set_tracking_uri needs a store"):
        mlcli.set_tracking_uri(" ")


def test_the_cli_takes_mlcli_tracking_uri_and_mlcli_store_comes_first(
    workdir: Path, mlcli_process
) -> None:
    one, two = workdir / "one" / ".mlruns", workdir / "two" / ".mlruns"
    Store.initialize(one)
    Store.initialize(two)
    run_id = TrackingClient(one).create_run("0", run_name="in-one").info.run_id
    env = {**os.environ, "MLCLI_TRACKING_URI": str(one)}
    listed = mlcli_process("runs", "list", "-q", env=env).stdout.split()
    assert listed == [run_id]
    both = {**env, "MLCLI_STORE": str(two)}
    assert mlcli_process("runs", "list", "-q", env=both).stdout.split() == []


def test_a_script_logs_to_a_bucket_set_as_its_tracking_uri(
    tmp_path: Path, moto_server: S3Server, s3_env, mlcli_process
) -> None:
    """The script's run reaches the bucket when it exits; a teammate's clone has it."""
    env = {**os.environ, **s3_env(moto_server), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    url = f"s3://{moto_server.new_bucket()}/team"
    script = (
        "import mlcli\n"
        f"mlcli.set_tracking_uri({url!r})\n"
        "with mlcli.start_run(run_name='from-a-script') as run:\n"
        "    mlcli.log_param('lr', '0.1')\n"
        "print(run.info.run_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    mlcli_process("clone", url, str(tmp_path / "teammate"), env=env, cwd=tmp_path)
    run = TrackingClient(tmp_path / "teammate" / ".mlruns").get_run(done.stdout.strip())
    assert (run.info.run_name, run.data.params) == ("from-a-script", {"lr": "0.1"})
