"""What ``mlcli run`` captures beside the entry point's output logs, for one run:
output scalars, system metrics and the environment.

The runner calls four hooks: ``start_environment`` once the environment is ready
(the package listing then runs beside the entry point, off the critical path),
``stdout_listener`` for the output sink, ``attach`` with the entry point's process
id once it started (the sampler's root), and ``finish`` when it ended, before the
run is ended: every point and tag is written by then.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli import system_tags
from mlcli.capture.environment import (
    REQUIREMENTS_ARTIFACT,
    PythonEnvironment,
    current_environment,
    freeze_command,
    machine_tags,
    parse_freeze_output,
)
from mlcli.capture.scalars import (
    Scalar,
    ScalarPatterns,
    outputs_section,
    parse_output,
    resolve_patterns,
)
from mlcli.capture.system_metrics import DEFAULT_INTERVAL, check_interval
from mlcli.errors import InvalidInputError, MlcliError
from mlcli.store import Metric

if TYPE_CHECKING:
    from mlcli.capture.scalar_stream import ScalarStream
    from mlcli.capture.system_metrics import SystemMetricsSampler
    from mlcli.projects.envs.base import Environment, RunContext
    from mlcli.projects.spec import Project
    from mlcli.tracking.client import TrackingClient

#: How long a run waits, after its entry point ended, for the package listing.
ENVIRONMENT_TIMEOUT = 30.0
_log = logging.getLogger("mlcli")


@dataclass(frozen=True)
class CaptureOptions:
    """The command line's choices (the defaults capture everything)."""

    #: Custom output-scalar patterns; empty: the MLproject's, else the default.
    output_scalars: tuple[str, ...] = ()
    output_scalars_enabled: bool = True
    #: Seconds between system-metric samples; None: no sampling.
    system_metrics_interval: float | None = DEFAULT_INTERVAL

    def arguments(self) -> list[str]:
        """The ``mlcli run`` options that ask for these choices (a sweep's trials)."""
        arguments = [a for p in self.output_scalars for a in ("--output-scalars", p)]
        if not self.output_scalars_enabled:
            arguments.append("--no-output-scalars")
        if self.system_metrics_interval is None:
            arguments.append("--no-system-metrics")
        elif self.system_metrics_interval != DEFAULT_INTERVAL:
            arguments += ["--system-metrics-interval", f"{self.system_metrics_interval:g}"]
        return arguments


@dataclass(frozen=True)
class CapturePlan:
    """The options resolved against the project; checked before any run exists."""

    scalars: ScalarPatterns | None
    system_metrics_interval: float | None


def plan_capture(options: CaptureOptions, project: Project | None = None) -> CapturePlan:
    interval = options.system_metrics_interval
    project_scalars = project_patterns(project) if project is not None else None
    return CapturePlan(
        scalars=resolve_patterns(
            options.output_scalars, options.output_scalars_enabled, project_scalars
        ),
        system_metrics_interval=None if interval is None else check_interval(interval),
    )


def project_patterns(project: Project) -> ScalarPatterns | bool | None:
    """The MLproject's ``outputs: {scalars: [...]}`` (False: ``scalars: false``)."""
    if project.spec_file is None:
        return None
    from mlcli.projects.yamlfile import load_yaml_file

    document = load_yaml_file(project.spec_file, "the MLproject file")
    section = document.get("outputs") if isinstance(document, dict) else None
    return outputs_section(section, str(project.spec_file))


class RunCapture:
    def __init__(self, plan: CapturePlan, client: TrackingClient, run_id: str) -> None:
        self.plan = plan
        self.client = client
        self.run_id = run_id
        self.scalars: ScalarStream | None = None
        self.sampler: SystemMetricsSampler | None = None
        self._environment: threading.Thread | None = None
        self._kill_probe: Callable[[], None] | None = None

    def start_environment(self, environment: Environment, cwd: Path, context: RunContext) -> None:
        self._environment = threading.Thread(
            target=self._capture_environment,
            args=(environment, cwd, context),
            name="mlcli-environment",
            daemon=True,
        )
        self._environment.start()

    def stdout_listener(self) -> Callable[[bytes], None] | None:
        if self.plan.scalars is None:
            return None
        from mlcli.capture.scalar_stream import ScalarStream

        self.scalars = ScalarStream(self.client.store.runs, self.run_id, self.plan.scalars)
        return self.scalars.feed

    def attach(self, pid: int | None) -> None:
        """Start sampling the entry point's process tree (a container is not sampled)."""
        if self.plan.system_metrics_interval is None or pid is None:
            return
        from mlcli.capture.process_tree import open_tree
        from mlcli.capture.system_metrics import SystemMetricsSampler

        tree = open_tree(pid)
        if tree is None:
            _log.warning("mlcli: no system metrics here: install psutil to sample them")
            return

        def sink(metrics: list[Metric]) -> None:
            self.client.log_batch(self.run_id, metrics=metrics)

        self.sampler = SystemMetricsSampler(tree, sink, self.plan.system_metrics_interval)
        self.sampler.start()

    def finish(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        if self.scalars is not None:
            self.scalars.close()
        if self._environment is not None:
            self._environment.join(ENVIRONMENT_TIMEOUT)
            if self._environment.is_alive() and self._kill_probe is not None:
                self._kill_probe()
                self._environment.join(5.0)

    # -- the environment ------------------------------------------------------------------

    def _capture_environment(
        self, environment: Environment, cwd: Path, context: RunContext
    ) -> None:
        from mlcli.capture.gpu import open_gpu_reader

        tags: dict[str, str] = {}
        try:
            gpus = open_gpu_reader()
            samples = gpus.sample() if gpus is not None else []
            if gpus is not None:
                gpus.close()
            tags.update(machine_tags(samples))
            if environment.name == "docker":
                tags[system_tags.CAPTURE_ERROR] = "packages are not listed inside containers"
            elif environment.name == "local":  # mlcli's own environment: no process needed
                tags.update(self._record(current_environment()))
            else:
                tags.update(self._record_packages(environment, cwd, context))
            self.client.log_batch(self.run_id, tags=tags)
        except (MlcliError, OSError, ValueError) as exc:
            _log.warning("mlcli: the environment could not be captured: %s", exc)

    def _record_packages(
        self, environment: Environment, cwd: Path, context: RunContext
    ) -> dict[str, str]:
        from mlcli.projects.execution import OutputSink

        with tempfile.TemporaryDirectory(prefix="mlcli-freeze-") as folder:
            out, err = Path(folder) / "stdout", Path(folder) / "stderr"
            sink = OutputSink(out, err)
            try:
                execution = environment.start(freeze_command(), cwd=cwd, context=context, sink=sink)
                self._kill_probe = execution.kill
                try:
                    code = execution.wait()
                finally:
                    execution.close()
            finally:
                sink.close()
            if code != 0:
                lines = err.read_text(errors="replace").strip().splitlines() or ["no output"]
                return {
                    system_tags.CAPTURE_ERROR: f"listing the packages failed: {lines[-1][:500]}"
                }
            try:
                listed = parse_freeze_output(out.read_text(errors="replace"))
            except (ValueError, KeyError, TypeError) as exc:
                return {system_tags.CAPTURE_ERROR: f"could not read the package listing: {exc}"}
        return self._record(listed)

    def _record(self, listed: PythonEnvironment) -> dict[str, str]:
        self.client.log_text(self.run_id, listed.requirements_text(), REQUIREMENTS_ARTIFACT)
        return {system_tags.PYTHON_VERSION: listed.python_version}


def scalars_of_output(text: str, options: CaptureOptions, project_dir: Path | None) -> list[Scalar]:
    """What ``text`` (an entry point's output) would log under ``options`` and the
    patterns of the project in ``project_dir`` (``--test-output-scalars``)."""
    project = None
    if project_dir is not None and project_dir.is_dir():
        from mlcli.projects.spec import load_project

        project = load_project(project_dir)
    patterns = plan_capture(options, project).scalars
    if patterns is None:
        raise InvalidInputError(
            "output scalars are off (--no-output-scalars, or 'scalars: false' in the MLproject)"
        )
    return parse_output(text, patterns)
