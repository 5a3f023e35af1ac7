"""Moving a run's buffered lines from PostgreSQL into the bucket, and reading a run's
metric history back from both.

A flush of one run, by whichever server process gets there first (an advisory lock
per run keeps the others out):

1. read the run's buffered lines (a prefix of its log: writes to a run commit in turn);
2. write them as one immutable segment, named by the byte ranges it holds, in the
   layout of a remote (``mlcli.store.sync.keys``);
3. name it in the run's manifest by compare-and-swap, with the run's document, tags,
   artifacts and logged models, and journal the run;
4. in PostgreSQL, drop those lines from the buffer, record the segment and advance
   the flushed offsets.

A process killed anywhere leaves a consistent store: before 4, the lines are still in
the buffer and the next flush writes them again from the same offsets (the same name
when nothing was added; else a longer segment, and readers skip the bytes they have,
as ``mlcli pull`` does). Readers take the list of segments and the buffer from one
snapshot, so no point is missed or seen twice while a flush is under way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlcli.errors import MlcliError, NotFoundError, StoreError
from mlcli.store.entities import Metric
from mlcli.store.layout import METRICS_LOG, PARAMS_LOG, TAGS_LOG
from mlcli.store.records import decode_metric_log
from mlcli.store.sync import keys
from mlcli.store.sync.cas import Found, swap_object
from mlcli.store.sync.files import encode_document

if TYPE_CHECKING:
    from mlcli.store.team.store import TeamStore

LOGS = (PARAMS_LOG, TAGS_LOG, METRICS_LOG)
MAX_LINES_PER_SEGMENT = 200_000
FLUSH_IDLE_SECONDS = 30.0  # a run not written for this long has its buffer flushed
SWEEP_SECONDS = 10.0
_log = logging.getLogger("mlcli")


def flush_run(store: TeamStore, run_id: str) -> bool:
    """Flush one run; False when another process holds it (it will do the work)."""
    with store.database.transaction() as connection:
        locked = _scalar(
            connection, "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 1))", run_id
        )
        if not locked:
            return False
        row = connection.execute(
            "SELECT doc, flushed, revision FROM runs WHERE run_id = %s", (run_id,)
        ).fetchone()
        if row is None:
            return True
        doc, flushed, revision = dict(row[0]), dict(row[1] or {}), row[2]
        lines = connection.execute(
            "SELECT seq, log, line FROM buffer WHERE run_id = %s ORDER BY seq LIMIT %s",
            (run_id, MAX_LINES_PER_SEGMENT),
        ).fetchall()
        segment, offsets = _segment(store.writer, lines, flushed)
        if segment is not None:
            name, body = segment
            store.objects.put(keys.run_segment_key(run_id, name["name"]), body)
        etag = _write_manifest(store, connection, run_id, doc, segment[0] if segment else None)
        if lines:
            connection.execute(
                "DELETE FROM buffer WHERE run_id = %s AND seq <= %s", (run_id, lines[-1][0])
            )
            position = _scalar(
                connection,
                "SELECT coalesce(max(position), -1) + 1 FROM segments WHERE run_id = %s",
                run_id,
            )
            assert segment is not None
            connection.execute(
                "INSERT INTO segments (run_id, position, entry) VALUES (%s, %s, %s)",
                (run_id, position, json.dumps(segment[0])),
            )
        # dirty stays set when a write came in meanwhile (the revision moved): flush again
        connection.execute(
            "UPDATE runs SET flushed = %s, buffered = buffered - %s, manifest_etag = %s, "
            "dirty = (buffered - %s > 0 OR revision > %s) WHERE run_id = %s",
            (json.dumps(offsets), len(lines), etag, len(lines), revision, run_id),
        )
    store.journal(runs=[run_id])
    return True


def _scalar(connection: Any, sql: str, *args: Any) -> Any:
    row = connection.execute(sql, args).fetchone()
    assert row is not None
    return row[0]


def _segment(
    writer: str, lines: list[tuple[Any, ...]], flushed: dict[str, int]
) -> tuple[tuple[dict[str, Any], bytes] | None, dict[str, int]]:
    """The segment holding ``lines`` (its manifest entry and bytes) and the offsets of
    each log after it."""
    offsets = dict(flushed)
    if not lines:
        return None, offsets
    by_log: dict[str, list[bytes]] = {log: [] for log in LOGS}
    for _, log, line in lines:
        by_log.setdefault(log, []).append(bytes(line))
    ranges: list[list[Any]] = []
    data: list[bytes] = []
    for log, parts in by_log.items():
        if not parts:
            continue
        chunk = b"".join(parts)
        start = int(offsets.get(log, 0))
        ranges.append([log, start, start + len(chunk)])
        data.append(chunk)
        offsets[log] = start + len(chunk)
    name = keys.segment_name_of(writer, ranges)
    body = json.dumps({"parts": ranges}).encode() + b"\n" + b"".join(data)
    return ({"name": name, "writer": writer, "parts": ranges}, body), offsets


def _write_manifest(
    store: TeamStore,
    connection: Any,
    run_id: str,
    doc: dict[str, Any],
    segment: dict[str, Any] | None,
) -> str:
    """The run's manifest, with the run as PostgreSQL has it now; its new ETag."""
    remote = {k: v for k, v in doc.items() if k != "experiment_id"}
    found = connection.execute(
        "SELECT name FROM experiments WHERE experiment_id = %s", (str(doc["experiment_id"]),)
    ).fetchone()
    remote["experiment_name"] = found[0] if found else "Default"
    remote["tags"] = dict(
        connection.execute("SELECT key, value FROM tags WHERE run_id = %s", (run_id,)).fetchall()
    )
    models = [
        r[0]
        for r in connection.execute(
            "SELECT model_id FROM logged_models WHERE run_id = %s ORDER BY model_id", (run_id,)
        ).fetchall()
    ]
    prefix = keys.run_artifact_key(run_id, "")
    artifacts = {
        info.key[len(prefix) :]: {"size": info.size} for info in store.objects.list(prefix)
    }
    key = keys.run_manifest_key(run_id)

    def build(found: Found) -> tuple[bytes, None]:
        manifest: dict[str, Any] = {"segments": []} if found is None else _parse(found[0], key)
        manifest["run"] = remote
        listed = {entry["name"] for entry in manifest["segments"]}
        if segment is not None and segment["name"] not in listed:
            manifest["segments"].append(segment)
        manifest["artifacts"] = artifacts
        manifest["logged_models"] = models
        return encode_document(manifest), None

    _, etag, _, _ = swap_object(store.objects, key, f"run {run_id[:8]}", build)
    return etag


def _parse(data: bytes, key: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError:
        raise StoreError(f"{key} in the bucket is damaged (not JSON)") from None
    if not isinstance(document, dict):
        raise StoreError(f"{key} in the bucket is damaged (not a manifest)")
    document.setdefault("segments", [])
    return document


# -- reading ------------------------------------------------------------------------------


def metric_history(store: TeamStore, run_id: str, key: str | None) -> Iterator[Metric]:
    """The run's points in log order (see the module doc); NotFoundError at once."""

    def snapshot(connection: Any) -> tuple[list[Any], list[Any]]:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        if connection.execute("SELECT 1 FROM runs WHERE run_id = %s", (run_id,)).fetchone() is None:
            raise NotFoundError(f"no run with id {run_id!r}")
        entries = connection.execute(
            "SELECT entry FROM segments WHERE run_id = %s ORDER BY position", (run_id,)
        ).fetchall()
        if key is None:
            lines = connection.execute(
                "SELECT line FROM buffer WHERE run_id = %s AND log = %s ORDER BY seq",
                (run_id, METRICS_LOG),
            ).fetchall()
        else:
            lines = connection.execute(
                "SELECT line FROM buffer WHERE run_id = %s AND log = %s AND metric_key = %s "
                "ORDER BY seq",
                (run_id, METRICS_LOG, key),
            ).fetchall()
        return [e[0] for e in entries], lines

    entries, lines = store.database.run(snapshot)
    return _points(store, run_id, key, entries, lines)


def _points(
    store: TeamStore, run_id: str, key: str | None, entries: list[Any], lines: list[Any]
) -> Iterator[Metric]:
    applied = 0  # bytes of the metrics log already read (segments may overlap)
    for entry in entries:
        for log, start, end in entry["parts"]:
            if log != METRICS_LOG or end <= applied:
                continue
            data = store.segments.part(keys.run_segment_key(run_id, entry["name"]), entry, log)
            yield from decode_metric_log(data[max(0, applied - start) :], key)
            applied = end
    yield from decode_metric_log(b"".join(bytes(line[0]) for line in lines), key)


class SegmentCache:
    """Segments are immutable: a few recent ones are kept in memory, by key."""

    def __init__(self, store: TeamStore, max_bytes: int = 64 << 20) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._held: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def part(self, key: str, entry: dict[str, Any], log: str) -> bytes:
        body = self._body(key)
        data = body.partition(b"\n")[2]
        position = 0
        for name, start, end in entry["parts"]:
            if name == log:
                return data[position : position + end - start]
            position += end - start
        return b""

    def _body(self, key: str) -> bytes:
        with self._lock:
            body = self._held.get(key)
            if body is not None:
                self._held.move_to_end(key)
                return body
        body, _ = self._store.objects.get(key)
        with self._lock:
            if key not in self._held and len(body) <= self._max_bytes // 4:
                self._held[key] = body
                self._size += len(body)
                while self._size > self._max_bytes:
                    _, dropped = self._held.popitem(last=False)
                    self._size -= len(dropped)
        return body


# -- when ---------------------------------------------------------------------------------


class Flusher:
    """Flushes runs in a background thread: at once when asked (:meth:`soon`: a run
    ended, or its buffer grew large), and every ``SWEEP_SECONDS`` the runs not written
    for ``FLUSH_IDLE_SECONDS``. :meth:`close` flushes what is left (graceful shutdown)."""

    def __init__(self, store: TeamStore) -> None:
        self._store = store
        self._wanted: set[str] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def soon(self, run_id: str) -> None:
        with self._wake:
            self._wanted.add(run_id)
            self._start()
            self._wake.notify()

    def start(self) -> None:
        with self._wake:
            self._start()

    def _start(self) -> None:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._loop, name="mlcli-flush", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 60.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self.flush_all(idle_seconds=0.0)

    def flush_all(self, idle_seconds: float = FLUSH_IDLE_SECONDS) -> int:
        """Flush every run with something the bucket lacks and not written for
        ``idle_seconds``; how many were flushed."""
        from mlcli.clock import now_ms

        before = now_ms() - int(idle_seconds * 1000)
        rows = self._store.database.query(
            "SELECT run_id FROM runs WHERE dirty AND changed_at <= %s ORDER BY changed_at "
            "LIMIT 1000",
            (before,),
        )
        done = 0
        for (run_id,) in rows:
            if self._flush(run_id):
                done += 1
        return done

    def _loop(self) -> None:
        while True:
            with self._wake:
                if not self._wanted and not self._stopping:
                    self._wake.wait(SWEEP_SECONDS)
                if self._stopping:
                    return
                wanted, self._wanted = self._wanted, set()
            for run_id in wanted:
                self._flush(run_id)
            try:
                self.flush_all()
            except MlcliError as exc:
                _log.warning("flushing runs to the bucket: %s", exc)

    def _flush(self, run_id: str) -> bool:
        try:
            return flush_run(self._store, run_id)
        except MlcliError as exc:  # PostgreSQL or the bucket down: the next sweep retries
            _log.warning("flushing run %s to the bucket: %s", run_id[:8], exc)
            return False
