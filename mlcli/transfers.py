"""``mlcli push``, ``pull`` and ``clone``, each as one call: resolve the remote and
what to move (a filter needs the search language, which the store does not know),
then let the store's sync engine move it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlcli.errors import InvalidInputError, StoreError

if TYPE_CHECKING:
    from mlcli.objects import ObjectStore
    from mlcli.store import Store
    from mlcli.store.sync import Report, Selection
    from mlcli.tracking import TrackingClient

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Wanted:
    """What the user asked to move; empty: everything."""

    experiments: Sequence[str] = ()
    filter_string: str | None = None
    run_ids: Sequence[str] = ()
    models: Sequence[str] | None = None  # None: no --models; (): --models alone (all)


def push(
    client: TrackingClient,
    remote: str | None,
    wanted: Wanted = Wanted(),
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Report:
    from mlcli.store.sync import push as push_store

    store, objects = _endpoints(client, remote, "mlcli push")
    selection = _selection(store, wanted, for_push=True)
    return push_store(store, objects, selection, dry_run, progress)


def pull(
    client: TrackingClient,
    remote: str | None,
    wanted: Wanted = Wanted(),
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Report:
    from mlcli.store.sync import pull as pull_store

    if wanted.filter_string:
        raise InvalidInputError(
            "--filter selects what to push; to pull part of a remote use --experiment, "
            "run ids or --models"
        )
    store, objects = _endpoints(client, remote, "mlcli pull", create=True)
    selection = _selection(store, wanted, for_push=False)
    return pull_store(store, objects, selection, dry_run, progress)


def clone(
    url: str, directory: Path | None = None, progress: Progress | None = None
) -> tuple[Path, Report]:
    """A new store in ``directory`` (default: the remote's last path part) with the
    remote as ``origin``, holding all it holds."""
    from mlcli.objects import open_objects
    from mlcli.store import Remotes, Store, normalize_url
    from mlcli.store.sync import pull as pull_store

    url = normalize_url(url)
    objects = open_objects(url)
    target = (directory or Path(_default_directory(url))).resolve()
    root = target / ".mlruns"
    if root.exists():
        raise InvalidInputError(f"{root} already exists: clone into a new directory")
    store, _ = Store.initialize(root)
    Remotes(root).add("origin", url, default=True)
    try:
        return root, pull_store(store, objects, progress=progress)
    finally:
        store.close()


def _endpoints(
    client: TrackingClient, remote: str | None, command: str, create: bool = False
) -> tuple[Store, ObjectStore]:
    """The local store (created first for a pull into nothing) and the remote."""
    from mlcli.objects import open_objects
    from mlcli.store import Remotes, file_store

    store = file_store(client.writable_store() if create else client.store, command)
    return store, open_objects(Remotes(store.root).resolve(remote).url)


def _selection(store: Store, wanted: Wanted, for_push: bool) -> Selection:
    from mlcli.store.sync import Selection

    run_ids: set[str] | None = None
    if wanted.run_ids:
        run_ids = {store.runs.resolve(r) if for_push else _full_id(r) for r in wanted.run_ids}
    if wanted.filter_string:
        from mlcli.search.runs import search_runs

        matching = {
            r.info.run_id for r in search_runs(store, None, wanted.filter_string, view="ALL")
        }
        run_ids = matching if run_ids is None else run_ids & matching
    experiments = frozenset(wanted.experiments) if wanted.experiments else None
    models_flag = wanted.models is not None
    models = frozenset(wanted.models) if wanted.models else None  # None: every model
    if run_ids is None and experiments is None:
        return Selection(models=models, runs_wanted=False) if models_flag else Selection()
    return Selection(
        run_ids=None if run_ids is None else frozenset(run_ids),
        experiments=experiments,
        models=models if models_flag else frozenset(),
    )


def _full_id(run_id: str) -> str:
    from mlcli.store import validate_run_id

    if len(run_id) != 32:
        raise InvalidInputError(f"pull needs full run ids (32 characters), not {run_id!r}")
    return validate_run_id(run_id)


def _default_directory(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not name or name.startswith("."):
        raise StoreError(f"cannot tell a directory name from {url}: give one")
    return name
