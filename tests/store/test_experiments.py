"""Experiments: Default, unique names, rename, soft delete and restore, concurrent creation."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.store import Store, ViewType


def test_default_experiment_exists(store_root: Path) -> None:
    store = Store.open(store_root)
    [default] = store.experiments.list()
    assert (default.experiment_id, default.name, default.lifecycle_stage) == (
        "0",
        "Default",
        "active",
    )


def test_names_are_unique_among_active_experiments(store_root: Path) -> None:
    experiments = Store.open(store_root).experiments
    first = experiments.create("demo")
    with pytest.raises(ConflictError, match="already exists"):
        experiments.create("demo")
    experiments.delete(first.experiment_id)
    second = experiments.create("demo")  # a deleted experiment's name is free again
    assert second.experiment_id != first.experiment_id
    with pytest.raises(ConflictError, match="rename one of them first"):
        experiments.restore(first.experiment_id)


def test_rename_delete_restore(store_root: Path) -> None:
    experiments = Store.open(store_root).experiments
    created = experiments.create("a", tags={"team": "x"})
    experiments.rename(created.experiment_id, "b")
    assert experiments.resolve("b").tags == {"team": "x"}
    experiments.delete(created.experiment_id)
    assert experiments.find_by_name("b") is None
    assert [e.name for e in experiments.list(ViewType.DELETED_ONLY)] == ["b"]
    experiments.restore(created.experiment_id)
    assert experiments.resolve("b").lifecycle_stage == "active"


def test_default_cannot_be_deleted(store_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="Default experiment cannot be deleted"):
        Store.open(store_root).experiments.delete("0")


def test_resolve_by_name_then_id(store_root: Path) -> None:
    experiments = Store.open(store_root).experiments
    created = experiments.create("demo")
    assert experiments.resolve(created.experiment_id).name == "demo"
    with pytest.raises(NotFoundError, match="no experiment named 'nope'"):
        experiments.resolve("nope")
    with pytest.raises(NotFoundError):
        experiments.get("../0")


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 501])
def test_invalid_names_are_refused(store_root: Path, name: str) -> None:
    with pytest.raises(InvalidInputError):
        Store.open(store_root).experiments.create(name)


def _create_same_name(root: str) -> str:
    return Store.open(Path(root)).experiments.get_or_create("shared").experiment_id


def test_concurrent_get_or_create_makes_one_experiment(store_root: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        ids = pool.map(_create_same_name, [str(store_root)] * 12)
    assert len(set(ids)) == 1
    names = [e.name for e in Store.open(store_root).experiments.list()]
    assert names.count("shared") == 1
