"""A team store for each test: a fresh bucket on moto's S3 server and a fresh
PostgreSQL database (both real servers, started once a session)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class TeamUrls:
    store: str  # s3://bucket/prefix
    index: str  # postgresql://...
    env: dict[str, str]  # what points boto3 (and child processes) at the S3 server


@pytest.fixture
def team_urls(moto_server: Any, postgres: Any, s3_env: Any) -> TeamUrls:
    env = s3_env(moto_server)
    return TeamUrls(f"s3://{moto_server.new_bucket()}/team", postgres.new_database(), env)


@pytest.fixture
def team_store(team_urls: TeamUrls) -> Iterator[Any]:
    from mlcli.store import TeamStore

    store = TeamStore.open(team_urls.store, team_urls.index)
    try:
        yield store
    finally:
        store.close()
