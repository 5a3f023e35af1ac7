"""A run's name is checked where every path ends, the store (issue 15, finding 10):
an import writes runs through ``RunFiles.create`` without the client's checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlcli.errors import InvalidInputError
from mlcli.store import Store


@pytest.mark.parametrize(
    "name",
    ["evil\nrow", "tab\there", "nel\x85row", "sep\u2028row", " ", "x" * 501, "bad\udcff"],
)
def test_the_store_refuses_a_run_name_no_listing_can_show(store_root: Path, name: str) -> None:
    store = Store.open(store_root)
    with pytest.raises(InvalidInputError, match="run name"):
        store.runs.create(experiment_id="0", run_name=name, user_id="me", tags={})
    assert os.listdir(store_root / "runs") == []


def test_a_run_name_tag_given_with_a_name_does_not_contradict_it(store_root: Path) -> None:
    store = Store.open(store_root)
    info = store.runs.create(
        experiment_id="0", run_name="chosen", user_id="me", tags={"mlcli.runName": "other"}
    )
    assert store.runs.read_tags(info.run_id)["mlcli.runName"] == "chosen"
    assert store.get_run(info.run_id).info.run_name == "chosen"
