"""A real single-node Slurm cluster for tests, started once a session: Debian's
``munged``, ``slurmctld`` and ``slurmd`` (packages ``munge slurmctld slurmd
slurm-client``, 22.05) on 127.0.0.1, free ports, everything in a temporary folder.

Nothing of the system's Slurm or MUNGE is used: ``munged`` runs with a key, socket,
pid, seed and log file of its own (``AuthInfo=socket=...`` points Slurm at it), and
``slurm.conf`` names private state, spool, pid and log files. Clients reach this
cluster through :attr:`SlurmCluster.env` (``SLURM_CONF``); a job inherits it, so
``sbatch`` from inside a job reaches the same cluster. Several such clusters (other
sessions) can run on one machine at once.

What the configuration gives a backend (see tests/test_slurm_cluster.py):
- no slurmdbd: ``sacct`` answers "Slurm accounting storage is disabled". Final states
  and exit codes come from ``scontrol -o show job ID`` / ``squeue -t all``, kept for
  ``MinJobAge`` (an hour); ``jobcomp/filetxt`` also appends one line per ended job
  to :attr:`SlurmCluster.jobcomp_log`.
- ``proctrack/linuxproc`` and ``task/none``, no cgroups (their paths are shared by
  every cluster of a machine): a job over ``--mem`` is killed by the polling
  ``OverMemoryKill`` and ends FAILED (by SIGKILL), not OUT_OF_MEMORY.
- two partitions: ``debug`` (default) and ``urgent``, whose jobs preempt ``debug``
  jobs (``PreemptMode=CANCEL``: the victim ends PREEMPTED).
- a dead ``slurmd`` is noticed after ``SlurmdTimeout`` (5 s) plus the ping interval;
  ``ReturnToService=2`` takes the node back when its ``slurmd`` registers again.

Tests run as root here; Slurm runs as root too and runs jobs as their submitter.
Missing binaries skip the tests that need Slurm, unless MLCLI_SLURM_TESTS_REQUIRED=1
(``.ci/run`` exports it): then they fail.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from s3servers import free_ports

REQUIRED_VARIABLE = "MLCLI_SLURM_TESTS_REQUIRED"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
START_SECONDS = 60
STOP_SECONDS = 10

_SLURM_CONF = """\
ClusterName=mlcli-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={top}/munge/munge.socket
StateSaveLocation={top}/state
SlurmdSpoolDir={top}/spool
SlurmctldPidFile={top}/slurmctld.pid
SlurmdPidFile={top}/slurmd.pid
SlurmctldLogFile={top}/log/slurmctld.log
SlurmdLogFile={top}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={top}/jobcomp.log
MinJobAge=3600
KillWait=2
OverTimeLimit=0
SlurmdTimeout=5
ReturnToService=2
SchedulerType=sched/backfill
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes={node} MaxTime=INFINITE State=UP PriorityTier=2
"""


@dataclass
class SlurmCluster:
    """A running one-node cluster: node :attr:`node` with :attr:`cpus` CPUs and
    :attr:`memory` MB, partitions ``debug`` (default) and ``urgent`` (preempts)."""

    top: Path
    node: str
    cpus: int
    memory: int
    started_in: float = 0.0  # seconds from the first daemon's start to an idle node

    @property
    def conf_dir(self) -> Path:
        return self.top / "etc"

    @property
    def env(self) -> dict[str, str]:
        """What Slurm's client tools need (on top of os.environ) to talk to this cluster."""
        return {"SLURM_CONF": str(self.conf_dir / "slurm.conf")}

    @property
    def jobcomp_log(self) -> Path:
        """One ``JobId=... JobState=... ExitCode=...`` line per ended job."""
        return self.top / "jobcomp.log"

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A client command (``sbatch``, ``squeue``...) against this cluster."""
        result = subprocess.run(
            command,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}")
        return result

    def kill_node(self) -> None:
        """The node dies: SIGKILL to its ``slurmd``, its ``slurmstepd``s and their jobs'
        processes. ``slurmctld`` finds out by itself (SlurmdTimeout)."""
        doomed = _descendants(self._stepds())
        with contextlib.suppress(FileNotFoundError, ValueError):
            doomed.add(int((self.top / "slurmd.pid").read_text()))
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def restart_node(self) -> None:
        """Start ``slurmd`` again and wait until the node is idle."""
        self._daemon("slurmd")
        self.wait_idle()

    def wait_idle(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            state = self.run("sinfo", "-h", "-n", self.node, "-o", "%t", check=False)
            if state.stdout.split() == ["idle"]:
                return
            time.sleep(0.1)
        pytest.fail(f"the Slurm node is not idle after {START_SECONDS} s:\n{self.logs()}")

    def logs(self) -> str:
        """The end of every daemon's log, for failure messages."""
        parts = []
        for log in sorted((self.top / "log").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def _daemon(self, name: str) -> None:
        """Start a Slurm daemon (it forks into the background)."""
        result = subprocess.run(
            [name], env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            pytest.fail(f"{name} failed ({result.returncode}): {result.stderr}\n{self.logs()}")

    def _stepds(self) -> set[int]:
        """This cluster's ``slurmstepd`` processes (their environment names our conf)."""
        marker = f"SLURM_CONF={self.env['SLURM_CONF']}".encode()
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() != "slurmstepd":
                    continue
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
        return found

    def stop(self) -> None:
        """Everything down: jobs first (slurmd leaves them running), then the daemons."""
        self.kill_node()
        for pid_file in ("slurmctld.pid", "munge/munged.pid"):
            with contextlib.suppress(FileNotFoundError, ValueError):
                _terminate(int((self.top / pid_file).read_text()))


def _descendants(roots: set[int]) -> set[int]:
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.name.isdigit():
                # the fields after the command's closing parenthesis: state, ppid...
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, set()).add(int(entry.name))
    found, todo = set(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _terminate(pid: int) -> None:
    """SIGTERM, and SIGKILL after STOP_SECONDS."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and not _gone(pid):
            time.sleep(0.05)
        if _gone(pid):
            return
        os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: nobody may reap a daemon's corpse in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRED_VARIABLE) == "1":
        pytest.fail(f"{REQUIRED_VARIABLE}=1, but {reason}")
    pytest.skip(reason)


def _start_munged(top: Path) -> None:
    """munged with a key, socket and files of its own. It insists that the socket's
    folder be enterable by all, and that no folder on the way be writable by others."""
    folder = top / "munge"
    folder.mkdir(mode=0o755)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    result = subprocess.run(
        ["munged", f"--key-file={key}", f"--socket={folder}/munge.socket",
         f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log",
         f"--seed-file={folder}/munged.seed"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"munged failed ({result.returncode}): {result.stderr}")


def _memory_mb() -> int:
    """Half the machine's memory (at most 8 GB): what the node offers to jobs."""
    total_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return min(total_kb // 2048, 8192)


@contextlib.contextmanager
def slurm_running() -> Iterator[SlurmCluster]:
    absent = [name for name in BINARIES if shutil.which(name) is None]
    if absent:
        _missing(f"no {', '.join(absent)}: apt-get install slurmctld slurmd slurm-client munge")
    top = Path(tempfile.mkdtemp(prefix="mlcli-slurm-"))
    top.chmod(0o755)  # munged's socket folder must be reachable by all
    for folder in ("etc", "state", "spool", "log"):
        (top / folder).mkdir()
    node = socket.gethostname().split(".")[0]  # slurmd finds its NodeName by hostname -s
    cluster = SlurmCluster(top, node, os.cpu_count() or 1, _memory_mb())
    ctld_port, slurmd_port = free_ports(2)
    (cluster.conf_dir / "slurm.conf").write_text(
        _SLURM_CONF.format(
            top=top, node=node, cpus=cluster.cpus, memory=cluster.memory,
            ctld_port=ctld_port, slurmd_port=slurmd_port, user=getpass.getuser(),
        )
    )  # fmt: skip
    try:
        began = time.monotonic()
        _start_munged(top)
        cluster._daemon("slurmctld")
        cluster._daemon("slurmd")
        cluster.wait_idle()
        cluster.started_in = time.monotonic() - began
        yield cluster
    finally:
        with contextlib.suppress(BaseException):
            cluster.stop()
        shutil.rmtree(top, ignore_errors=True)


# --- fixtures (a conftest imports them)


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """A one-node Slurm cluster for the whole session; clients use ``slurm.env``."""
    with slurm_running() as cluster:
        yield cluster
