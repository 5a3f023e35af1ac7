"""System metrics: a daemon thread that samples a process tree every N seconds and
logs ``system/...`` metrics to a run, step 0, 1, 2... for the samples.

Per sample: ``system/cpu_percent`` (the tree's CPU time over the interval, in percent
of one core: 250 is two and a half cores busy), ``system/memory_used_megabytes`` (the
members' resident memory), ``system/disk_read_megabytes`` and
``system/disk_write_megabytes`` (storage I/O since the start),
``system/network_receive_megabytes`` and ``system/network_transmit_megabytes`` (since
the start, of the network namespace), and per NVIDIA GPU ``system/gpu_<i>_
utilization_percentage``, ``..._memory_usage_megabytes`` and
``..._memory_usage_percentage`` (MLflow's names). A megabyte is 10^6 bytes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlcli.capture.gpu import GpuReader, GpuSample, open_gpu_reader
from mlcli.capture.process_tree import TreeCounters, TreeReader
from mlcli.clock import now_ms
from mlcli.errors import InvalidInputError
from mlcli.store import Metric

if TYPE_CHECKING:
    from mlcli.tracking.client import TrackingClient

DEFAULT_INTERVAL = 10.0
MIN_INTERVAL = 0.1
PREFIX = "system/"
_MB = 1e6
_CUMULATIVE = {
    "disk_read_megabytes": "read_bytes",
    "disk_write_megabytes": "write_bytes",
    "network_receive_megabytes": "net_rx_bytes",
    "network_transmit_megabytes": "net_tx_bytes",
}

MetricSink = Callable[[list[Metric]], None]
_log = logging.getLogger("mlcli")


def check_interval(seconds: float) -> float:
    if not seconds >= MIN_INTERVAL:  # also refuses NaN
        raise InvalidInputError(
            f"the system metrics interval must be at least {MIN_INTERVAL} s, not {seconds}; "
            "turn them off with --no-system-metrics"
        )
    return float(seconds)


class SystemMetricsSampler:
    """Samples ``tree`` every ``interval`` seconds into ``sink`` until ``stop``."""

    def __init__(
        self,
        tree: TreeReader,
        sink: MetricSink,
        interval: float = DEFAULT_INTERVAL,
        *,
        gpus: Callable[[], GpuReader | None] | None = open_gpu_reader,
    ) -> None:
        self.tree = tree
        self.sink = sink
        self.interval = check_interval(interval)
        self.samples = 0
        self._open_gpus = gpus
        self._stop = threading.Event()
        self._final = True
        self._thread: threading.Thread | None = None
        self._previous: tuple[float, TreeCounters] | None = None
        self._totals = dict.fromkeys(_CUMULATIVE, 0.0)

    def start(self) -> SystemMetricsSampler:
        self._thread = threading.Thread(target=self._run, name="mlcli-system-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self, final_sample: bool = True) -> int:
        """Stop, taking a last sample if the tree is still there and a useful part of
        an interval has passed; the number of samples logged."""
        self._final = final_sample
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.samples

    def _run(self) -> None:
        counters = self.tree.read()  # the baseline, off the caller's thread
        if counters is not None:
            self._previous = (time.monotonic(), counters)
        gpus = self._open_gpus() if self._open_gpus is not None else None
        try:
            while not self._stop.wait(self.interval):
                if not self._sample(gpus):
                    return
            if self._final and self._worth_a_last_sample():
                self._sample(gpus)
        finally:
            if gpus is not None:
                gpus.close()

    def _worth_a_last_sample(self) -> bool:
        previous = self._previous
        return previous is not None and time.monotonic() - previous[0] >= min(
            0.5, self.interval / 2
        )

    def _sample(self, gpus: GpuReader | None) -> bool:
        """Log one sample; False when the tree is gone."""
        counters = self.tree.read()
        now = time.monotonic()  # after the reading, which may wait for the GIL
        if counters is None:
            return False
        values = self._tree_values(now, counters)
        if gpus is not None:
            for gpu in gpus.sample():
                values.update(_gpu_values(gpu))
        self._previous = (now, counters)
        if values:
            timestamp = now_ms()
            metrics = [Metric(PREFIX + k, v, self.samples, timestamp) for k, v in values.items()]
            try:
                self.sink(metrics)
            except Exception as exc:  # a store hiccup loses one sample, not the sampler
                _log.warning("mlcli: could not log system metrics: %s", exc)
                return True
            self.samples += 1
        return True

    def _tree_values(self, now: float, counters: TreeCounters) -> dict[str, float]:
        values = {"memory_used_megabytes": counters.rss_bytes / _MB}
        if self._previous is None:
            self._previous = (now, counters)
            return values
        then, before = self._previous
        seconds = now - then
        if seconds > 0:
            values["cpu_percent"] = (
                max(0.0, counters.cpu_seconds - before.cpu_seconds) / seconds * 100
            )
        for name, field_name in _CUMULATIVE.items():
            old, new = getattr(before, field_name), getattr(counters, field_name)
            if old is None or new is None:
                continue
            # Counters only grow; a member leaving the tree must not make them shrink.
            self._totals[name] += max(0, new - old) / _MB
            values[name] = self._totals[name]
        return values


def _gpu_values(gpu: GpuSample) -> dict[str, float]:
    prefix = f"gpu_{gpu.index}_"
    values = {}
    if gpu.utilization_percent is not None:
        values[prefix + "utilization_percentage"] = gpu.utilization_percent
    if gpu.memory_used_mb is not None:
        values[prefix + "memory_usage_megabytes"] = gpu.memory_used_mb
        if gpu.memory_total_mb:
            values[prefix + "memory_usage_percentage"] = (
                gpu.memory_used_mb / gpu.memory_total_mb * 100
            )
    return values


def sample_this_process(client: TrackingClient, run_id: str) -> SystemMetricsSampler | None:
    """A started sampler of this process and its children for the Python API, every
    ``MLCLI_SYSTEM_METRICS_INTERVAL`` seconds (else MLflow's
    ``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL``); None (with a warning) where the tree
    cannot be read."""
    from mlcli.capture.process_tree import open_tree

    names = ("MLCLI_SYSTEM_METRICS_INTERVAL", "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL")
    name = next((n for n in names if os.environ.get(n)), names[0])
    try:
        interval = float(os.environ.get(name) or DEFAULT_INTERVAL)
    except ValueError:
        raise InvalidInputError(f"{name} must be a number of seconds") from None
    tree = open_tree(os.getpid())
    if tree is None:
        _log.warning("mlcli: no system metrics here: install psutil to sample them")
        return None

    def sink(metrics: list[Metric]) -> None:
        client.log_batch(run_id, metrics=metrics)

    return SystemMetricsSampler(tree, sink, interval).start()
