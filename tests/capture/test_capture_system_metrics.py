"""System metrics: the process-tree counters read from real processes, the sampler on a
busy loop, the Python API, and a 5-second ``mlcli run`` sampled every second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from capturehelpers import history, only_run

from mlcli.capture.gpu import describe_gpus, parse_smi_csv
from mlcli.capture.process_tree import ProcTree, PsutilTree, TreeCounters, open_tree
from mlcli.capture.system_metrics import SystemMetricsSampler, check_interval
from mlcli.errors import InvalidInputError
from mlcli.store import Metric
from mlcli.tracking import TrackingClient

linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# A shell that starts two Python children: one spins for a while, one writes 5 MB to
# disk and sleeps; the shell waits for both.
TREE = """
python -c "import time; t = time.time() + {seconds}
while time.time() < t: pass" &
python -c "import os, time
with open('{blob}', 'wb') as f:
    f.write(os.urandom(5_000_000)); f.flush(); os.fsync(f.fileno())
time.sleep({seconds})" &
wait
"""


@pytest.fixture
def busy_tree(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    script = TREE.format(seconds=60, blob=tmp_path / "blob")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    process = subprocess.Popen(["bash", "-c", script], start_new_session=True, env=env)
    try:
        # both children started, and the writer's 5 MB reached the disk (polled: a
        # loaded machine only makes this wait longer)
        _read_until(
            ProcTree(process.pid),
            lambda tree: tree.processes == 3 and (tree.write_bytes or 0) >= 5_000_000,
        )
        yield process
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the shell and both children
        process.wait()


def _read_until(tree: ProcTree, condition, timeout: float = 30.0) -> TreeCounters:
    """The tree's counters once ``condition`` holds: polled, so that a loaded machine
    only makes the test wait longer, never fail."""
    deadline = time.monotonic() + timeout
    while True:
        counters = tree.read()
        assert counters is not None, "the tree ended early"
        if condition(counters) or time.monotonic() > deadline:
            return counters
        time.sleep(0.05)


@linux_only
def test_the_proc_reader_sees_the_whole_tree(busy_tree: subprocess.Popen[bytes]) -> None:
    tree = ProcTree(busy_tree.pid)
    started = time.monotonic()
    first = tree.read()
    second = _read_until(tree, lambda counters: counters.cpu_seconds > first.cpu_seconds)
    elapsed = time.monotonic() - started
    assert first is not None and second is not None
    assert second.processes == 3  # the shell and its two children
    assert second.rss_bytes > 10_000_000  # two Python interpreters
    # The spinner's CPU time shows up; however busy the machine, a tree cannot have
    # used more CPU than every core for the time between the reads (plus a tick).
    busy = second.cpu_seconds - first.cpu_seconds
    assert 0 < busy <= elapsed * (os.cpu_count() or 1) + 0.02
    assert second.write_bytes is not None and second.write_bytes >= 5_000_000
    assert second.net_rx_bytes is not None


@linux_only
def test_reaped_children_still_count(tmp_path: Path) -> None:
    # The child spins, writes down its own CPU time and exits; the shell reaps it.
    spent = tmp_path / "spent"
    child = (
        f'python -c "import time; t = time.time() + 0.6\nwhile time.time() < t: pass\n'
        f"open('{spent}', 'w').write(str(time.process_time()))\""
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    process = subprocess.Popen(["bash", "-c", f"{child}; sleep 5"], start_new_session=True, env=env)
    try:
        deadline = time.time() + 10
        while not spent.exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        counters = ProcTree(process.pid).read()
        assert counters is not None  # the shell (now exec-ed into sleep) is still there
        assert counters.cpu_seconds >= float(spent.read_text()) - 0.05
    finally:
        process.kill()
        process.wait()


@linux_only
def test_the_reader_says_when_the_root_is_gone() -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    assert ProcTree(process.pid).read() is None


@linux_only
@pytest.mark.parametrize("reader", [ProcTree, PsutilTree])
def test_an_exited_root_not_yet_reaped_is_an_ended_tree(reader) -> None:
    """Between its exit and its parent's wait, a process is a zombie holding no memory:
    a sample then would log a final 0 MB, so the tree counts as ended."""
    if reader is PsutilTree:
        pytest.importorskip("psutil")
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{process.pid}/stat")
        deadline = time.monotonic() + 60
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.02)
        assert reader(process.pid).read() is None
    finally:
        process.wait()


def test_psutil_agrees_with_proc(busy_tree: subprocess.Popen[bytes]) -> None:
    pytest.importorskip("psutil")
    started = time.monotonic()
    by_psutil = PsutilTree(busy_tree.pid).read()
    by_proc = open_tree(busy_tree.pid).read()  # type: ignore[union-attr]
    elapsed = time.monotonic() - started
    assert by_psutil is not None and by_proc is not None
    assert by_psutil.processes == by_proc.processes == 3
    # read one after the other: the second can be ahead by what the tree ran meanwhile
    ran = by_proc.cpu_seconds - by_psutil.cpu_seconds
    assert -0.02 <= ran <= elapsed * (os.cpu_count() or 1) + 0.02
    assert abs(by_psutil.rss_bytes - by_proc.rss_bytes) < 0.2 * by_proc.rss_bytes


class ScriptedTree:
    """A tree reader over a scripted list of counters (the sampler's own logic)."""

    def __init__(self, counters: list[TreeCounters | None]) -> None:
        self.counters = counters

    def read(self) -> TreeCounters | None:
        return self.counters.pop(0) if self.counters else None


def test_counters_never_go_backwards() -> None:
    def counters(cpu: float, written: int) -> TreeCounters:
        return TreeCounters(cpu, 1_000_000, 0, written, 0, 0, 1)

    logged: list[Metric] = []
    tree = ScriptedTree([counters(0, 0), counters(0.1, 2_000_000), counters(0.2, 1_000_000)])
    sampler = SystemMetricsSampler(tree, logged.extend, 0.1, gpus=None).start()
    time.sleep(0.35)
    sampler.stop()
    written = [m.value for m in logged if m.key == "system/disk_write_megabytes"]
    assert written == [2.0, 2.0]  # a member leaving the tree does not undo its writes
    assert [m.step for m in logged if m.key == "system/memory_used_megabytes"] == [0, 1]


@linux_only
def test_the_sampler_on_a_busy_loop() -> None:
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nt = time.time() + 120\nwhile time.time() < t: pass"]
    )
    try:
        logged: list[Metric] = []
        sampler = SystemMetricsSampler(ProcTree(spinner.pid), logged.extend, 0.5).start()
        deadline = time.monotonic() + 60
        while _count(logged, "system/cpu_percent") < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sampler.stop() >= 4
    finally:
        spinner.kill()
        spinner.wait()
    cpu = [m.value for m in logged if m.key == "system/cpu_percent"]
    # One core spinning: how much of it the spinner gets depends on the machine's load,
    # but it is seen, and never more than one core (with the sampling's own jitter).
    assert len(cpu) >= 4 and all(0 <= value < 130 for value in cpu), cpu
    assert max(cpu) > 0, cpu
    keys = {m.key for m in logged}
    assert {"system/memory_used_megabytes", "system/disk_read_megabytes"} <= keys
    assert {"system/network_receive_megabytes", "system/network_transmit_megabytes"} <= keys


def _count(logged: list[Metric], key: str) -> int:
    return sum(1 for metric in logged if metric.key == key)


def test_the_interval_is_checked() -> None:
    assert check_interval(1) == 1.0
    for bad in (0, -1, float("nan")):
        with pytest.raises(InvalidInputError, match="--no-system-metrics"):
            check_interval(bad)


def test_nvidia_smi_output_is_read() -> None:
    text = (
        "0, NVIDIA A100-SXM4-40GB, 35, 1024, 40960\n"
        "1, NVIDIA A100-SXM4-40GB, [N/A], 0, 40960\n"
        "garbage line\n"
    )
    first, second = parse_smi_csv(text)
    assert (first.index, first.utilization_percent) == (0, 35.0)
    assert first.memory_used_mb == pytest.approx(1073.7, abs=0.1)
    assert second.utilization_percent is None
    assert describe_gpus([first, second]) == "2 x NVIDIA A100-SXM4-40GB (43 GB)"


PYTHON_API = """
import time
import mlcli
with mlcli.start_run(log_system_metrics=True) as run:
    # a second of this process's own CPU time (more wall time on a loaded machine)
    spent = time.process_time() + 1.0
    while time.process_time() < spent:
        pass
with mlcli.start_run() as quiet:
    pass
print(run.run_id, quiet.run_id)
"""


@linux_only
def test_the_python_api_samples_its_own_process(store_root: Path) -> None:
    """In a process of its own, as a training script is (the test runner's process tree
    holds whatever other tests left running)."""
    env = {**os.environ, "MLCLI_STORE": str(store_root), "MLCLI_SYSTEM_METRICS_INTERVAL": "0.2"}
    done = subprocess.run(
        [sys.executable, "-c", PYTHON_API], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    sampled, quiet = done.stdout.split()
    client = TrackingClient(store_root)
    cpu = history(store_root, client.get_run(sampled), "system/cpu_percent")
    # Not 7: a pure-Python busy loop holds the GIL, so each of the sampler's /proc reads
    # waits up to a switch interval (5 ms) for it. Real training loops release it often.
    assert len(cpu) >= 2
    assert [step for step, _ in cpu] == list(range(len(cpu)))
    assert max(value for _, value in cpu) > 0  # a busy loop, however loaded the machine
    assert client.get_run(quiet).data.metrics == {}


@pytest.mark.slow
@linux_only
def test_a_five_second_run_sampled_every_second(cli, store_root: Path, make_project) -> None:
    project = make_project(
        {"work.py": "import time\nt = time.time() + 5\nwhile time.time() < t: pass\n"}
    )
    result = cli(
        "run", str(project), "-e", "work.py", "--env-manager", "local",
        "--system-metrics-interval", "1", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = only_run(store_root)
    cpu = history(store_root, run, "system/cpu_percent")
    # one sample a second for 5 seconds of work, more if a loaded machine slows the
    # run's start and end; steps count up from 0 without a gap
    assert len(cpu) >= 4 and [step for step, _ in cpu] == list(range(len(cpu))), cpu
    assert max(value for _, value in cpu) > 0  # the busy loop is seen
    memory = history(store_root, run, "system/memory_used_megabytes")
    assert len(memory) == len(cpu) and all(value > 5 for _, value in memory)


@pytest.mark.slow
def test_no_system_metrics(cli, store_root: Path, make_project) -> None:
    project = make_project({"work.py": "import time\ntime.sleep(1.5)\n"})
    result = cli(
        "run", str(project), "-e", "work.py", "--env-manager", "local",
        "--system-metrics-interval", "0.2", "--no-system-metrics", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert only_run(store_root).data.metrics == {}
