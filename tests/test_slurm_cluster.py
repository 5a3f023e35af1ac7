"""The test cluster (tests/slurmcluster.py) does what the Slurm backend needs: jobs, job
arrays, cancelling, time limits, memory limits, preemption, a dead node; and each final
state and exit code is read the way a backend reads it: ``scontrol -o show job ID``
(``JobState=``, ``Reason=``, ``ExitCode=code:signal``), since ``sacct`` has no
accounting storage here."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurmcluster import SlurmCluster

FINAL_STATES = {
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
    "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT",
}  # fmt: skip
# A job that Slurm ends with a signal (scancel, time limit, preemption: SIGTERM; memory:
# SIGKILL) gets ExitCode 0:<signal> when the batch shell dies of it, or <128+signal>:0
# when the shell outlives its child by a moment and exits with the child's status: which
# one is a race between processes, so a backend accepts both.
BY_SIGTERM = {"0:15", "143:0"}
BY_SIGKILL = {"0:9", "137:0"}
WAIT_SECONDS = 240  # a --time=1 job ends within two of slurmctld's 30-second checks


class Jobs:
    """Submits jobs to the session's cluster and cancels the test's leftovers after it."""

    def __init__(self, cluster: SlurmCluster, folder: Path) -> None:
        self.cluster = cluster
        self.folder = folder
        self.submitted: list[str] = []

    def submit(self, *options: str, wrap: str) -> str:
        """``sbatch --wrap``; the job id. Output goes to ``<folder>/<id>.out``."""
        result = self.cluster.run(
            "sbatch", "--parsable", f"--chdir={self.folder}",
            f"--output={self.folder}/%j.out", *options, f"--wrap={wrap}",
        )  # fmt: skip
        job_id = result.stdout.strip().split(";")[0]
        self.submitted.append(job_id)
        return job_id

    def fields(self, job_id: str) -> dict[str, str]:
        """``scontrol -o show job``: one line of ``Key=value`` (several for an array)."""
        line = self.cluster.run("scontrol", "-o", "show", "job", job_id).stdout
        return dict(re.findall(r"(?:^|\s)(\w+)=(\S*)", line.splitlines()[0]))

    def wait(self, job_id: str, states: set[str]) -> dict[str, str]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            fields = self.fields(job_id)
            if fields["JobState"] in states:
                return fields
            time.sleep(0.2)
        pytest.fail(f"job {job_id} not in {states} after {WAIT_SECONDS} s: {fields}")

    def final(self, job_id: str) -> dict[str, str]:
        return self.wait(job_id, FINAL_STATES)

    def output(self, job_id: str) -> str:
        return (self.folder / f"{job_id}.out").read_text()

    def squeue(self, job_id: str) -> str:
        """``squeue``'s view of an ended job: ``state|reason``."""
        return self.cluster.run(
            "squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%r"
        ).stdout.strip()


@pytest.fixture
def jobs(slurm: SlurmCluster, tmp_path: Path) -> Iterator[Jobs]:
    submitted = Jobs(slurm, tmp_path)
    yield submitted
    if submitted.submitted:
        slurm.run("scancel", *submitted.submitted, check=False)


def test_the_cluster_starts_with_an_idle_node(slurm: SlurmCluster) -> None:
    info = slurm.run("sinfo", "-h", "-o", "%P %t %c").stdout.split()
    assert info == ["debug*", "idle", str(slurm.cpus), "urgent", "idle", str(slurm.cpus)]
    assert "accounting storage is disabled" in slurm.run("sacct", check=False).stderr


def test_a_job_completes_and_a_failing_one_keeps_its_exit_code(jobs: Jobs) -> None:
    done = jobs.submit(wrap="echo hello from $SLURM_JOB_ID")
    failed = jobs.submit(wrap="exit 3")

    assert jobs.final(done)["JobState"] == "COMPLETED"
    assert jobs.fields(done)["ExitCode"] == "0:0"
    assert jobs.output(done).strip() == f"hello from {done}"
    assert jobs.squeue(done) == "COMPLETED|None"

    fields = jobs.final(failed)
    assert (fields["JobState"], fields["Reason"], fields["ExitCode"]) == (
        "FAILED", "NonZeroExitCode", "3:0",
    )  # fmt: skip
    assert jobs.squeue(failed) == "FAILED|NonZeroExitCode"
    # the job completion log keeps the same record after MinJobAge
    records = jobs.cluster.jobcomp_log.read_text()
    assert f"JobId={failed} " in records
    assert re.search(rf"JobId={failed} .*JobState=FAILED .*ExitCode=3:0", records)


def test_an_array_runs_each_task_once(jobs: Jobs) -> None:
    array = jobs.submit(
        "--array=0-7%4", wrap="echo $SLURM_ARRAY_TASK_ID > task-$SLURM_ARRAY_TASK_ID"
    )

    tasks = [f"{array}_{index}" for index in range(8)]
    assert {jobs.final(task)["JobState"] for task in tasks} == {"COMPLETED"}
    written = {path.name: path.read_text().strip() for path in jobs.folder.glob("task-*")}
    assert written == {f"task-{index}": str(index) for index in range(8)}
    states = jobs.cluster.run("squeue", "-h", "-t", "all", "-r", "-j", array, "-o", "%i %T")
    assert sorted(states.stdout.splitlines()) == sorted(f"{task} COMPLETED" for task in tasks)


def test_scancel_ends_a_running_job_cancelled(jobs: Jobs) -> None:
    job = jobs.submit(wrap="sleep 300")
    jobs.wait(job, {"RUNNING"})

    jobs.cluster.run("scancel", job)

    fields = jobs.final(job)
    assert fields["JobState"] == "CANCELLED"
    assert fields["ExitCode"] in BY_SIGTERM
    assert f"*** JOB {job} ON {jobs.cluster.node} CANCELLED AT" in jobs.output(job)


@pytest.mark.slow
def test_a_job_past_its_time_limit_ends_timeout(jobs: Jobs) -> None:
    job = jobs.submit("--time=1", wrap="sleep 600")

    fields = jobs.final(job)
    assert (fields["JobState"], fields["Reason"]) == ("TIMEOUT", "TimeLimit")
    assert fields["ExitCode"] in BY_SIGTERM
    assert "DUE TO TIME LIMIT" in jobs.output(job)


def test_a_job_over_its_memory_limit_is_killed_but_not_out_of_memory(jobs: Jobs) -> None:
    """Without cgroups Slurm polls the job's memory (OverMemoryKill) and kills it:
    FAILED by SIGKILL (Reason=JobLaunchFailure); OUT_OF_MEMORY needs task/cgroup's OOM events."""
    hog = f"{sys.executable} -c 'import time; x = bytearray(300 << 20); time.sleep(60)'"
    job = jobs.submit("--mem=50M", wrap=hog)

    fields = jobs.final(job)
    assert (fields["JobState"], fields["Reason"]) == ("FAILED", "JobLaunchFailure")
    assert fields["ExitCode"] in BY_SIGKILL
    assert "Exceeded job memory limit" in jobs.output(job)


def test_an_urgent_job_preempts_a_running_one(jobs: Jobs) -> None:
    cpus = f"--cpus-per-task={jobs.cluster.cpus}"
    victim = jobs.submit(cpus, wrap="sleep 300")
    jobs.wait(victim, {"RUNNING"})

    urgent = jobs.submit("--partition=urgent", cpus, wrap="true")

    fields = jobs.final(victim)
    assert fields["JobState"] == "PREEMPTED"
    assert fields["ExitCode"] in BY_SIGTERM
    assert "DUE TO PREEMPTION" in jobs.output(victim)
    assert jobs.final(urgent)["JobState"] == "COMPLETED"


@pytest.mark.slow
def test_a_job_on_a_dead_node_ends_node_fail(jobs: Jobs) -> None:
    """Slurm requeues a batch job whose node died unless it was submitted with
    ``--no-requeue``: only then is NODE_FAIL its final state."""
    final = jobs.submit("--no-requeue", wrap="sleep 300")
    requeued = jobs.submit(wrap="sleep 300")
    jobs.wait(final, {"RUNNING"})
    jobs.wait(requeued, {"RUNNING"})

    jobs.cluster.kill_node()
    try:
        fields = jobs.final(final)
        assert (fields["JobState"], fields["Reason"], fields["ExitCode"]) == (
            "NODE_FAIL", "NodeDown", "0:0",
        )  # fmt: skip
        fields = jobs.fields(requeued)
        assert (fields["JobState"], fields["Restarts"]) == ("PENDING", "1")
        assert re.search(
            rf"JobId={requeued} .*JobState=NODE_FAIL", jobs.cluster.jobcomp_log.read_text()
        )
    finally:
        jobs.cluster.restart_node()

    assert jobs.final(jobs.submit(wrap="true"))["JobState"] == "COMPLETED"
