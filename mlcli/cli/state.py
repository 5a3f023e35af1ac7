"""What the global options decide for every command: which store, whether to debug."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mlcli.client import MlcliClient
    from mlcli.tracking import TrackingClient


#: A first query that reads at least this many runs into the index shows a progress bar.
INDEX_PROGRESS_RUNS = 2_000


@dataclass
class CliState:
    store: str | None = None
    debug: bool = False
    _client: TrackingClient | None = field(default=None, repr=False)

    def client(self) -> TrackingClient:
        if self._client is None:
            from mlcli.cli.output import BackgroundProgress
            from mlcli.tracking import TrackingClient

            progress = BackgroundProgress("Indexing runs", at_least=INDEX_PROGRESS_RUNS)
            self._client = TrackingClient(
                self.store, announce=announce_new_store, index_progress=progress
            )
        return self._client

    def mlcli_client(self) -> MlcliClient:
        """A client with the registry too (imported only by the commands that need it)."""
        from mlcli.client import MlcliClient

        return MlcliClient(self.store, announce=announce_new_store)


def cli_state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def client(ctx: typer.Context) -> TrackingClient:
    return cli_state(ctx).client()


def announce_new_store(root: Path) -> None:
    sys.stderr.write(f"mlcli: created a new store at {root}\n")
