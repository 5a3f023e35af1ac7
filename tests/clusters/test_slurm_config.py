"""The Slurm config (``--backend-config``) and the job script it makes, without Slurm."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcli.clusters.slurm_config import SlurmConfig, load_slurm_config
from mlcli.clusters.slurm_script import JobSpec, array_ranges, job_script, shell_command
from mlcli.errors import InvalidInputError


def test_a_yaml_file_then_key_values_override_and_add(tmp_path: Path) -> None:
    path = tmp_path / "slurm.yaml"
    path.write_text(
        "partition: gpu\ntime: '1:00:00'\ngpus: a100:2\ncpus-per-task: 4\n"
        "sbatch_args: [--constraint=a100]\nsetup: module load python\nrequeue: yes\n"
    )
    config = load_slurm_config([str(path), "partition=debug", "extra=exclusive"])
    assert config == SlurmConfig(
        partition="debug",
        time="1:00:00",
        gpus="a100:2",
        cpus_per_task=4,
        sbatch_args=("--constraint=a100", "exclusive"),
        setup=("module load python",),
        requeue=True,
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("gpus=lots", "gpus must be a count or TYPE:COUNT"),
        ("cpus_per_task=0", "cpus_per_task must be a positive integer"),
        ("signal=TERM now", "signal must be Slurm's"),
        ("requeue=maybe", "requeue must be true or false"),
        ("time=1h", "time must be Slurm's"),
        ("partitoin=gpu", "unknown Slurm config key 'partitoin'"),
    ],
)
def test_a_wrong_key_or_value_is_one_error(item: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        load_slurm_config([item])


def test_a_file_that_is_not_a_mapping_or_has_a_line_break(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- partition\n")
    with pytest.raises(InvalidInputError, match="must be a mapping"):
        load_slurm_config([str(listed)])
    broken = tmp_path / "broken.yaml"
    broken.write_text('account: "a\\nb"\n')
    with pytest.raises(InvalidInputError, match="account must be one line"):
        load_slurm_config([str(broken)])


def test_signal_none_writes_no_signal_line() -> None:
    spec = JobSpec("n", load_slurm_config(["signal=none"]), "o", "e", "true")
    assert "--signal" not in job_script(spec)


def test_the_script_of_a_job_array_execs_its_command() -> None:
    spec = JobSpec(
        name="sweep",
        config=SlurmConfig(partition="gpu", sbatch_args=("exclusive",)),
        output="/logs/%A_%a.out",
        error="/logs/%A_%a.err",
        command=shell_command(["python", "-m", "mlcli", "x y"]) + " $SLURM_ARRAY_TASK_ID",
        environment={"MLCLI_STORE": "/shared/store dir", "MLCLI_RUN_ID": None},
        array=[0, 1, 2, 3, 7],
        array_parallel=2,
    )
    assert job_script(spec) == (
        "#!/bin/bash\n"
        "#SBATCH --job-name=sweep\n"
        "#SBATCH --output=/logs/%A_%a.out\n"
        "#SBATCH --error=/logs/%A_%a.err\n"
        "#SBATCH --partition=gpu\n"
        "#SBATCH --signal=B:TERM@60\n"
        "#SBATCH --no-requeue\n"
        "#SBATCH --array=0-3,7%2\n"
        "#SBATCH --exclusive\n"
        "\n"
        "export MLCLI_STORE='/shared/store dir'\n"
        "unset MLCLI_RUN_ID\n"
        "exec python -m mlcli 'x y' $SLURM_ARRAY_TASK_ID\n"
    )


def test_array_ranges() -> None:
    assert array_ranges([5]) == "5"
    assert array_ranges([3, 1, 2, 2, 9, 10]) == "1-3,9-10"
    assert array_ranges(range(100), 8) == "0-99%8"
