"""A real PostgreSQL server for tests, started once a session: Debian's ``initdb`` and
``pg_ctl`` (package ``postgresql``) on 127.0.0.1, a free port, trust authentication,
its data and socket in a temporary folder.

A conftest imports the fixture ``postgres`` (session); a test takes a database of its
own with :meth:`Postgres.new_database`, so that no test sees another's data. ``initdb``
refuses to run as root: the tests of a root user run the server as the ``postgres``
Unix user (which the package creates). :meth:`Postgres.stopped` stops the server for a
moment (what a client sees when PostgreSQL goes down) and starts it again after.

Missing binaries skip the tests that need PostgreSQL, unless
MLCLI_POSTGRES_TESTS_REQUIRED=1 (``.ci/run`` exports it): then they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from s3servers import free_ports

REQUIRED_VARIABLE = "MLCLI_POSTGRES_TESTS_REQUIRED"
START_SECONDS = 60


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's
    /usr/lib/postgresql/<version>/bin (the newest), which is not on PATH."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(part) for part in Path(p).parts[-3].split(".") if part.isdigit()],
    )
    return Path(candidates[-1]).parent if candidates else None


@dataclass
class Postgres:
    """A running PostgreSQL server (superuser ``postgres``, no password)."""

    bin: Path
    data: Path
    port: int
    run_as: str | None  # the Unix user that owns the data (when the tests run as root)
    started_in: float = 0.0  # seconds the first start took
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data.parent / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
        self._pg_ctl("-o", options, "-l", str(self.log), "-w", "-t", str(START_SECONDS), "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The server stopped for the ``with`` block, started again after it."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def _pg_ctl(self, *args: str) -> None:
        _run([str(self.bin / "pg_ctl"), "-D", str(self.data), *args], self.run_as, self.log)


def _run(command: list[str], run_as: str | None, log: Path | None = None) -> None:
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=START_SECONDS + 30,
        user=run_as,
        group=run_as,
        cwd="/",  # a folder the postgres user may enter
    )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:] if log and log.is_file() else ""
        pytest.fail(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
            f"{result.stderr}\n{tail}"
        )


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRED_VARIABLE) == "1":
        pytest.fail(f"{REQUIRED_VARIABLE}=1, but {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def postgres_running() -> Iterator[Postgres]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        _missing("no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql")
    assert bin_dir is not None
    try:
        import psycopg  # noqa: F401 - the tests' client, and mlcli's
    except ImportError:
        _missing("no psycopg: pip install -e '.[dev]'")
    run_as = "postgres" if os.geteuid() == 0 else None
    # not under pytest's temporary folders: those are private to root, and the server
    # runs as the postgres user when the tests run as root
    top = Path(tempfile.mkdtemp(prefix="mlcli-postgres-"))
    data = top / "data"
    data.mkdir()
    if run_as is not None:
        shutil.chown(top, run_as, run_as)
        shutil.chown(data, run_as, run_as)
    try:
        began = time.monotonic()
        _run(
            [str(bin_dir / "initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8",
             "--no-sync", "-D", str(data)],
            run_as,
        )  # fmt: skip
        server = Postgres(bin_dir, data, free_ports(1)[0], run_as)
        server.start()
        server.started_in = time.monotonic() - began
        try:
            yield server
        finally:
            with contextlib.suppress(BaseException):
                server.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)


# --- fixtures (a conftest imports them)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server on 127.0.0.1 for the whole session; each test takes its own
    database (``postgres.new_database()``)."""
    with postgres_running() as server:
        yield server
