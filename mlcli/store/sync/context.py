"""What one push, pull or clone works with: the local file store, the remote's
objects, the state between the two, and the report of what happened."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcli.store.entities import ViewType
from mlcli.store.sync.merge import Conflict
from mlcli.store.sync.state import SyncState, writer_id

if TYPE_CHECKING:
    from mlcli.objects.base import ObjectStore
    from mlcli.store.store import Store


@dataclass
class Report:
    """What a transfer did, for the command's summary and ``--json``."""

    direction: str  # "push" or "pull"
    url: str
    runs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    dry_run: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def moved(self, size: int) -> None:
        with self._lock:
            self.objects += 1
            self.bytes += size

    def add(self, kind: str, name: str) -> None:
        with self._lock:
            getattr(self, kind).append(name)

    def conflict(self, conflicts: list[Conflict]) -> None:
        with self._lock:
            self.conflicts.extend(conflicts)

    def notice(self, text: str) -> None:
        with self._lock:
            self.notices.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "remote": self.url,
            "dry_run": self.dry_run,
            "runs": sorted(self.runs),
            "experiments": sorted(self.experiments),
            "models": sorted(self.models),
            "objects": self.objects,
            "bytes": self.bytes,
            "conflicts": [c.describe() for c in self.conflicts],
            "notices": self.notices,
        }


class SyncContext:
    def __init__(
        self, store: Store, objects: ObjectStore, report: Report, workers: int = 16
    ) -> None:
        self.store = store
        self.workers = workers
        self.layout = store.layout
        self.objects = objects
        self.state = SyncState(store.root, objects.url)
        self.writer = writer_id(store.root)
        self.report = report
        self._names: dict[str, str] = {}
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.state.close()

    def experiment_name(self, experiment_id: str) -> str:
        with self._lock:
            if experiment_id not in self._names:
                self._names[experiment_id] = self.store.experiments.get(experiment_id).name
            return self._names[experiment_id]

    def experiment_id(self, name: str) -> str:
        """The local id of the experiment named ``name``, created when there is none."""
        with self._lock:
            if name not in self._ids:
                found = self.store.experiments.find_by_name(name) or (
                    self.store.experiments.find_by_name(name, ViewType.ALL)
                )
                if found is None:
                    found = self.store.experiments.get_or_create(name)
                self._ids[name] = found.experiment_id
            return self._ids[name]
