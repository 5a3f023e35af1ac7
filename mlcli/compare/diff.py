"""What changed from one run to another: params, metrics, tags, the environment the
runs recorded (``mlcli.*`` system tags), the packages they ran with (the
``environment/requirements.txt`` that ``mlcli run`` records) and, through git, the
code."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlcli import system_tags
from mlcli.compare.code import UNCOMMITTED_DIFF, CodeDiff, diff_code
from mlcli.compare.direction import Directions
from mlcli.compare.packages import REQUIREMENTS_ARTIFACT, read_packages
from mlcli.errors import NotFoundError
from mlcli.store import Run, json_number
from mlcli.tracking import TrackingClient

Status = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class MappingDiff:
    """Keys only in B (added), only in A (removed), and in both with other values."""

    added: dict[str, str]
    removed: dict[str, str]
    changed: dict[str, tuple[str, str]]
    unchanged: int

    @classmethod
    def between(cls, a: Mapping[str, str], b: Mapping[str, str]) -> MappingDiff:
        return cls(
            added={k: b[k] for k in sorted(b.keys() - a.keys())},
            removed={k: a[k] for k in sorted(a.keys() - b.keys())},
            changed={k: (a[k], b[k]) for k in sorted(a.keys() & b.keys()) if a[k] != b[k]},
            unchanged=sum(1 for k in a.keys() & b.keys() if a[k] == b[k]),
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {k: {"a": a, "b": b} for k, (a, b) in self.changed.items()},
        }


@dataclass(frozen=True)
class MetricChange:
    key: str
    a: float | None
    b: float | None
    lower_is_better: bool

    @property
    def status(self) -> Status:
        if self.a is None:
            return "added"
        if self.b is None:
            return "removed"
        same = self.a == self.b or (math.isnan(self.a) and math.isnan(self.b))
        return "unchanged" if same else "changed"

    @property
    def change(self) -> float | None:
        """B minus A, when both are numbers."""
        if self.a is None or self.b is None or math.isnan(self.a) or math.isnan(self.b):
            return None
        if math.isinf(self.a) and self.a == self.b:
            return 0.0
        return self.b - self.a

    @property
    def relative_change(self) -> float | None:
        """The change as a fraction of |A| (None when A is 0 or not finite)."""
        change = self.change
        if change is None or self.a is None or not math.isfinite(self.a) or self.a == 0:
            return None
        return change / abs(self.a)

    @property
    def better(self) -> bool | None:
        """Whether B is better than A (None when they are equal or not comparable)."""
        change = self.change
        if not change or math.isnan(change):
            return None
        return (change < 0) == self.lower_is_better

    def to_dict(self) -> dict[str, Any]:
        def number(value: float | None) -> float | str | None:
            return None if value is None else json_number(value)

        return {
            "key": self.key,
            "a": number(self.a),
            "b": number(self.b),
            "change": number(self.change),
            "relative_change": number(self.relative_change),
            "status": self.status,
            "better": self.better,
        }


@dataclass(frozen=True)
class RunDiff:
    run_a: Run
    run_b: Run
    params: MappingDiff
    metrics: tuple[MetricChange, ...]
    tags: MappingDiff
    environment: MappingDiff
    code: CodeDiff
    #: Package versions, when both runs recorded their packages (else None).
    packages: MappingDiff | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``mlcli diff --json`` shape (docs/compare.md)."""
        return {
            "run_a": _run_summary(self.run_a),
            "run_b": _run_summary(self.run_b),
            "params": self.params.to_dict(),
            "metrics": [m.to_dict() for m in self.metrics],
            "tags": self.tags.to_dict(),
            "environment": self.environment.to_dict(),
            "packages": None if self.packages is None else self.packages.to_dict(),
            "code": self.code.to_dict(),
        }


def diff_runs(
    run_a: Run,
    run_b: Run,
    *,
    artifacts_a: Path,
    artifacts_b: Path,
    cwd: Path,
    repository: Path | None = None,
    directions: Directions | None = None,
) -> RunDiff:
    """Compare two runs. ``artifacts_*`` are the runs' artifact folders (for the
    uncommitted diffs they recorded); the git repository is ``repository``, else found
    from ``cwd`` or the runs' ``mlcli.source.name``."""
    directions = directions or Directions()
    metrics_a, metrics_b = run_a.data.metrics, run_b.data.metrics
    metrics = tuple(
        MetricChange(key, metrics_a.get(key), metrics_b.get(key), directions.lower_is_better(key))
        for key in sorted(metrics_a.keys() | metrics_b.keys())
    )
    user_a, system_a = _split_tags(run_a.data.tags)
    user_b, system_b = _split_tags(run_b.data.tags)
    code = diff_code(
        run_a.data.tags,
        run_b.data.tags,
        artifacts_a=artifacts_a,
        artifacts_b=artifacts_b,
        cwd=cwd,
        repository=repository,
    )
    packages_a, packages_b = read_packages(artifacts_a), read_packages(artifacts_b)
    return RunDiff(
        run_a=run_a,
        run_b=run_b,
        params=MappingDiff.between(run_a.data.params, run_b.data.params),
        metrics=metrics,
        tags=MappingDiff.between(user_a, user_b),
        environment=MappingDiff.between(system_a, system_b),
        code=code,
        packages=(
            None
            if packages_a is None or packages_b is None
            else MappingDiff.between(packages_a, packages_b)
        ),
    )


def _split_tags(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    user = {k: v for k, v in tags.items() if not k.startswith(system_tags.PREFIX)}
    system = {k: v for k, v in tags.items() if k.startswith(system_tags.PREFIX)}
    return user, system


def _run_summary(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "git_commit": run.data.tags.get(system_tags.GIT_COMMIT),
    }


def diff_tracked_runs(
    client: TrackingClient,
    ref_a: str,
    ref_b: str,
    *,
    cwd: Path,
    repository: Path | None = None,
    directions: Directions | None = None,
) -> RunDiff:
    """:func:`diff_runs` of two runs of the client's store, named by id or prefix."""
    run_a, run_b = client.get_run(ref_a), client.get_run(ref_b)
    return diff_runs(
        run_a,
        run_b,
        artifacts_a=_recorded_files(client, run_a.run_id),
        artifacts_b=_recorded_files(client, run_b.run_id),
        cwd=cwd,
        repository=repository,
        directions=directions,
    )


def _recorded_files(client: TrackingClient, run_id: str) -> Path:
    """The folder of the run's artifacts with the two files a diff reads in it (for a
    team server's run, fetched into the local cache first; one it lacks stays absent)."""
    repository = client.store.artifacts(run_id)
    for name in (UNCOMMITTED_DIFF, REQUIREMENTS_ARTIFACT):
        try:
            repository.resolve(name)
        except NotFoundError:
            continue
    return repository.root
