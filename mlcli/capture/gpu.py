"""NVIDIA GPUs: their models, utilisation and memory, through NVML or ``nvidia-smi``.

NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``) is asked first: it
answers in microseconds. Without it, ``nvidia-smi`` on PATH is run once per sample.
The figures are the devices' own, whoever uses them: NVIDIA tools have no
per-process utilisation.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

SMI_QUERY = "index,name,utilization.gpu,memory.used,memory.total"
_SMI_TIMEOUT = 10


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    utilization_percent: float | None
    memory_used_mb: float | None
    memory_total_mb: float | None


class GpuReader(Protocol):
    def sample(self) -> list[GpuSample]: ...

    def close(self) -> None: ...


class NvmlReader:
    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        nvml.nvmlInit()
        self.handles = [
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        ]

    def sample(self) -> list[GpuSample]:
        samples = []
        for index, handle in enumerate(self.handles):
            name = self.nvml.nvmlDeviceGetName(handle)
            memory = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                utilization = float(self.nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except self.nvml.NVMLError:
                utilization = None
            samples.append(
                GpuSample(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    utilization_percent=utilization,
                    memory_used_mb=memory.used / 1e6,
                    memory_total_mb=memory.total / 1e6,
                )
            )
        return samples

    def close(self) -> None:
        self.nvml.nvmlShutdown()


class SmiReader:
    def __init__(self, executable: str) -> None:
        self.executable = executable

    def sample(self) -> list[GpuSample]:
        try:
            result = subprocess.run(
                [self.executable, f"--query-gpu={SMI_QUERY}", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=_SMI_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        return parse_smi_csv(result.stdout) if result.returncode == 0 else []

    def close(self) -> None:
        pass


def parse_smi_csv(text: str) -> list[GpuSample]:
    """The lines of ``nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,
    memory.total --format=csv,noheader,nounits`` (memory in MiB)."""
    samples = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 5 or not fields[0].isdigit():
            continue
        used, total = _number(fields[3]), _number(fields[4])
        samples.append(
            GpuSample(
                index=int(fields[0]),
                name=fields[1],
                utilization_percent=_number(fields[2]),
                memory_used_mb=None if used is None else used * 1.048576,
                memory_total_mb=None if total is None else total * 1.048576,
            )
        )
    return samples


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # "[N/A]", "[Not Supported]"
        return None


def open_gpu_reader() -> GpuReader | None:
    """NVML if it loads and sees a device, else ``nvidia-smi`` if it is on PATH and
    lists one; None on a machine without NVIDIA GPUs."""
    nvml = _nvml_reader()
    if nvml is not None:
        return nvml
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    smi = SmiReader(executable)
    return smi if smi.sample() else None


def _nvml_reader() -> NvmlReader | None:
    try:
        import pynvml

        reader = NvmlReader(pynvml)
    except Exception:  # not installed, no driver, no device: NVML cannot answer
        return None
    if reader.handles:
        return reader
    reader.close()
    return None


def describe_gpus(samples: list[GpuSample]) -> str:
    """``NVIDIA A100-SXM4-40GB (40 GB)``, one entry per model, with a count when
    there are several: ``2 x NVIDIA L4 (24 GB)``."""
    counts: dict[str, int] = {}
    for sample in samples:
        memory = f" ({sample.memory_total_mb / 1000:.0f} GB)" if sample.memory_total_mb else ""
        label = f"{sample.name}{memory}"
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} x {label}" if n > 1 else label for label, n in counts.items())
