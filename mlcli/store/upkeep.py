"""Store upkeep, each command's whole job as one call: ``mlcli init`` (create, share,
keep out of git), ``mlcli index rebuild``, and the runs a listing left out because
their files are damaged. (``mlcli gc`` and ``mlcli fsck`` have ``gc.py`` and
``fsck.py``.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError
from mlcli.store.layout import STORE_DIRNAME

if TYPE_CHECKING:
    from mlcli.store.index import ProgressCallback
    from mlcli.store.store import Store

SHARING = ("umask", "group")


@dataclass(frozen=True)
class StoreSetup:
    """What ``init_store`` did: the store's root, whether it was new, the group it was
    shared with, and whether the ``.gitignore`` beside it changed."""

    root: Path
    created: bool
    group: str | None
    gitignored: bool


@dataclass(frozen=True)
class RebuiltIndex:
    runs: int
    path: Path


@dataclass(frozen=True)
class LeftOut:
    """A run or an experiment (with its runs) that listings leave out: its document
    at ``path`` is damaged."""

    kind: str  # "run" or "experiment"
    id: str
    path: Path
    problem: str


def init_store(directory: Path, shared: str = "umask", root: Path | None = None) -> StoreSetup:
    """Create the store at ``root`` (default: ``.mlruns`` in ``directory``) if needed;
    with ``shared="group"`` make it writable by its folder's group; add it to the
    ``.gitignore`` beside it inside a git work tree. Idempotent."""
    from mlcli.store.locate import ensure_gitignored
    from mlcli.store.store import Store

    if shared not in SHARING:
        raise InvalidInputError(f"invalid --shared {shared!r}: expected umask or group")
    root = (root or directory / STORE_DIRNAME).resolve()
    _, created = Store.initialize(root)
    group = None
    if shared == "group":
        from mlcli.files.sharing import share_with_group

        group = share_with_group(root)
    return StoreSetup(root, created, group, ensure_gitignored(root))


def rebuild_index(store: Store, progress: ProgressCallback | None = None) -> RebuiltIndex:
    """Read every run again into a new index (never needed for correctness)."""
    return RebuiltIndex(store.index.rebuild(progress), store.index.path)


def left_out(store: Store) -> list[LeftOut]:
    """The experiments, then the runs, that the index's last refresh left out."""
    layout = store.layout
    experiments = [
        LeftOut("experiment", key, layout.experiment_doc(key), problem)
        for key, problem in store.index.damaged_experiments().items()
    ]
    runs = [
        LeftOut("run", key, layout.run_doc(key), problem)
        for key, problem in store.index.damaged_runs().items()
    ]
    return experiments + runs
