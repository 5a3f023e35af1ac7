"""The team store's runs: a row per run in PostgreSQL (its document and index columns),
its params, tags and latest metrics in the index tables, and every line it logs in the
buffer until ``flush.py`` moves the lines into a segment in the bucket.

A write is one transaction: lock the run's row, check, append the lines to the buffer,
update the index rows. So a batch is seen whole or not at all, two writers of one run
commit in turn (the buffer's order is the log's order), and a named batch
(``batch_id``) that the run already committed is not applied twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlcli import system_tags
from mlcli.clock import now_ms
from mlcli.errors import ConflictError, NotFoundError
from mlcli.store.batches import validate_batch_id
from mlcli.store.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    ModelInput,
    RunInfo,
    RunInputs,
    RunStatus,
)
from mlcli.store.inputs import fold_inputs, input_lines, new_inputs, validate_inputs
from mlcli.store.layout import INPUTS_LOG, METRICS_LOG, PARAMS_LOG, TAGS_LOG
from mlcli.store.ownership import Claim, RunOwner, live_claim, owner_recorded
from mlcli.store.records import (
    decode_metric_log,
    fold_latest_metrics,
    key_value_line,
    metric_line,
)
from mlcli.store.runs import (
    check_param_conflicts,
    creation_tags,
    lifecycle_change,
    new_run_document,
    run_info_from_doc,
    status_change,
)
from mlcli.store.validation import validate_run_id, validate_run_id_prefix, validate_run_name

if TYPE_CHECKING:
    from mlcli.store.team.store import TeamStore

FLUSH_AT_LINES = 50_000  # a run with this many buffered lines is flushed at once
_INDEXED = ("run_name", "status", "start_time", "end_time", "lifecycle_stage", "deleted_time")


class TeamRuns:
    def __init__(self, store: TeamStore) -> None:
        self.store = store
        self.database = store.database

    # -- identity --------------------------------------------------------------------------

    def list_ids(self) -> list[str]:
        return [row[0] for row in self.database.query("SELECT run_id FROM runs")]

    def exists(self, run_id: str) -> bool:
        return bool(self.database.query("SELECT 1 FROM runs WHERE run_id = %s", (run_id,)))

    def resolve(self, ref: str) -> str:
        """The full id of the run whose id is or starts with ``ref`` (like git)."""
        prefix = validate_run_id_prefix(ref)
        if len(prefix) == 32:
            if self.exists(prefix):
                return prefix
            raise NotFoundError(f"no run with id {ref!r}")
        matches = [
            row[0]
            for row in self.database.query(
                "SELECT run_id FROM runs WHERE run_id >= %s AND run_id < %s ORDER BY run_id "
                "LIMIT 6",
                (prefix, prefix + "\U0010ffff"),
            )
        ]
        if not matches:
            raise NotFoundError(f"no run with an id starting with {ref!r}")
        if len(matches) > 1:
            count = self.database.query(
                "SELECT count(*) FROM runs WHERE run_id >= %s AND run_id < %s",
                (prefix, prefix + "\U0010ffff"),
            )[0][0]
            shown = ", ".join(matches[:5]) + (", ..." if count > 5 else "")
            raise NotFoundError(
                f"run id prefix {ref!r} is ambiguous: it matches {count} runs ({shown})"
            )
        return matches[0]

    # -- the run's document ----------------------------------------------------------------

    def create(
        self,
        *,
        experiment_id: str,
        run_name: str,
        user_id: str,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        start_time: int | None = None,
        status: str = RunStatus.RUNNING,
        run_id: str | None = None,
        owner: RunOwner | None = None,
    ) -> RunInfo:
        from psycopg import errors

        run_id = uuid.uuid4().hex if run_id is None else validate_run_id(run_id)
        validate_run_name(run_name)
        doc = new_run_document(
            run_id, run_name, experiment_id, user_id, parent_run_id, start_time, status, owner
        )
        all_tags = creation_tags(run_name, user_id, tags, parent_run_id)

        def work(connection: Any) -> None:
            connection.execute(
                "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, "
                "end_time, lifecycle_stage, deleted_time, user_id, parent_run_id, doc, "
                "changed_at) VALUES (%s, %s, %s, %s, %s, NULL, %s, NULL, %s, %s, %s, %s)",
                (
                    run_id,
                    experiment_id,
                    run_name,
                    status,
                    doc["start_time"],
                    LifecycleStage.ACTIVE,
                    user_id,
                    parent_run_id,
                    json.dumps(doc),
                    now_ms(),
                ),
            )
            _append(connection, run_id, tags=dict(all_tags))

        try:
            self.database.run(work)
        except errors.UniqueViolation:
            raise ConflictError(f"a run with id {run_id} already exists") from None
        owner_recorded(self, run_id, status, owner)
        return self._info(doc)

    def read_doc(self, run_id: str) -> dict[str, Any]:
        rows = self.database.query("SELECT doc FROM runs WHERE run_id = %s", (run_id,))
        if not rows:
            raise NotFoundError(f"no run with id {run_id!r}")
        return dict(rows[0][0])

    def info(self, run_id: str) -> RunInfo:
        return self._info(self.read_doc(run_id))

    def update(self, run_id: str, **changes: Any) -> RunInfo:
        def work(connection: Any) -> dict[str, Any]:
            doc = _locked_doc(connection, run_id)
            doc.update(changes)
            _save_doc(connection, run_id, doc)
            return doc

        doc = self.database.run(work)
        if doc.get("status") in RunStatus.TERMINAL:
            self.store.flusher.soon(run_id)
        return self._info(doc)

    def set_status(
        self, run_id: str, status: str, end_time: int | None = None, owner: RunOwner | None = None
    ) -> RunInfo:
        info = self.update(run_id, **status_change(status, end_time, owner))
        owner_recorded(self, run_id, status, owner)
        return info

    def end_orphaned(self, run_id: str, claim: Claim, status: str, tags: dict[str, str]) -> bool:
        """End a live run whose owner is gone (``orphans.py``), if its document still
        records ``claim``: under its row's lock, so that readers racing end it once, and a
        run that ended, got another owner or beat meanwhile is left alone. Its end time is
        its last write or heartbeat, whichever is later. True if ended here."""

        def work(connection: Any) -> bool:
            row = connection.execute(
                "SELECT doc, changed_at FROM runs WHERE run_id = %s FOR NO KEY UPDATE", (run_id,)
            ).fetchone()
            if row is None:
                return False
            doc = dict(row[0])
            if live_claim(doc) != claim:
                return False
            beat = claim.heartbeat[0] if claim.heartbeat else 0
            end_time = max(int(row[1] or 0), beat, int(doc.get("start_time") or 0))
            _append(connection, run_id, tags=dict(tags))
            doc.update(status=status, end_time=end_time)
            _save_doc(connection, run_id, doc)
            return True

        ended = bool(self.database.run(work))
        if ended:
            self.store.flusher.soon(run_id)  # as every end: the bucket has it soon
        return ended

    def set_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        return self.update(run_id, **lifecycle_change(stage))

    def purge(self, run_id: str) -> None:
        """Remove a run for good: its rows, then its objects in the bucket."""

        def work(connection: Any) -> None:
            tables = ("params", "tags", "latest_metrics", "run_inputs", "buffer", "segments")
            for table in (*tables, "batches"):
                connection.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
            connection.execute("DELETE FROM runs WHERE run_id = %s", (run_id,))

        self.database.run(work)
        from mlcli.store.sync import keys

        for info in list(self.store.objects.list(f"{keys.RUNS}{run_id}/")):
            self.store.objects.delete(info.key)
        self.store.journal(runs=[run_id])

    # -- logs ------------------------------------------------------------------------------

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        self.log_batch(run_id, tags=tags)

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str | None] | None = None,
        metrics: list[Metric] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """As the local store's ``log_batch``: one transaction, seen whole or not at all;
        params never change; ``mlcli.runName`` renames the run; a ``batch_id`` the run
        already committed is not applied again."""
        params, tags, metrics = params or {}, tags or {}, metrics or []
        name = tags.get(system_tags.RUN_NAME)
        if name is not None:
            validate_run_name(name)
        if batch_id is not None:
            validate_batch_id(batch_id)

        def work(connection: Any) -> int:
            doc = _locked_doc(connection, run_id)
            if batch_id is not None:
                claimed = connection.execute(
                    "INSERT INTO batches (run_id, batch_id, at) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (run_id, batch_id, now_ms()),
                ).rowcount
                if not claimed:
                    return 0
            existing: dict[str, str] = {}
            if params:
                existing = dict(
                    connection.execute(
                        "SELECT key, value FROM params WHERE run_id = %s AND key = ANY(%s)",
                        (run_id, list(params)),
                    ).fetchall()
                )
            conflict = check_param_conflicts(run_id, existing, params)
            if conflict:
                raise conflict
            new_params = {k: v for k, v in params.items() if k not in existing}
            buffered = _append(connection, run_id, new_params, tags, metrics)
            if name and name != doc.get("run_name"):
                doc["run_name"] = name
                _save_doc(connection, run_id, doc)
            return buffered

        if self.database.run(work) >= FLUSH_AT_LINES:
            self.store.flusher.soon(run_id)

    def append_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        self.log_batch(run_id, metrics=metrics)

    def append_metric_lines(self, run_id: str, data: bytes) -> None:
        """Already-encoded metric lines (the fluent API's batched flush)."""
        self.log_batch(run_id, metrics=decode_metric_log(data))

    def log_inputs(
        self,
        run_id: str,
        datasets: list[DatasetInput] | None = None,
        models: list[ModelInput] | None = None,
    ) -> None:
        """As the local store's: the inputs the run does not have yet, in one
        transaction; their lines go to the bucket's ``inputs.jsonl`` with the run's
        other logs, and to ``run_inputs`` for reading."""
        datasets, models = datasets or [], models or []
        validate_inputs(datasets, models)
        if not datasets and not models:
            return

        def work(connection: Any) -> None:
            _locked_doc(connection, run_id)
            existing = _inputs(connection, run_id)
            lines = input_lines(*new_inputs(existing, datasets, models))
            if not lines:
                return
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO buffer (run_id, log, metric_key, line) VALUES (%s, %s, NULL, %s)",
                    [(run_id, INPUTS_LOG, line.encode()) for line in lines],
                )
                cursor.executemany(
                    "INSERT INTO run_inputs (run_id, entry) VALUES (%s, %s)",
                    [(run_id, line) for line in lines],
                )
                cursor.execute(
                    "UPDATE runs SET buffered = buffered + %s, changed_at = %s, dirty = TRUE, "
                    "revision = revision + 1 WHERE run_id = %s",
                    (len(lines), now_ms(), run_id),
                )

        self.database.run(work)

    def read_inputs(self, run_id: str) -> RunInputs:
        def work(connection: Any) -> RunInputs:
            if connection.execute("SELECT 1 FROM runs WHERE run_id = %s", (run_id,)).fetchone():
                return _inputs(connection, run_id)
            raise NotFoundError(f"no run with id {run_id!r}")

        return self.database.run(work)

    def read_params(self, run_id: str) -> dict[str, str]:
        return self._key_values("params", run_id)

    def read_tags(self, run_id: str) -> dict[str, str]:
        return self._key_values("tags", run_id)

    def read_latest_metrics(self, run_id: str) -> dict[str, Metric]:
        self.read_doc(run_id)  # NotFoundError
        return self.store.latest_metrics([run_id]).get(run_id, {})

    def read_metric_history(self, run_id: str, key: str | None = None) -> list[Metric]:
        return list(self.iter_metric_history(run_id, key))

    def iter_metric_history(
        self, run_id: str, key: str | None = None, chunk_size: int = 0
    ) -> Iterator[Metric]:
        """The run's points (``key``'s only, when given) in the order they were logged:
        the flushed segments, then the buffer. NotFoundError at once for no such run."""
        from mlcli.store.team.flush import metric_history

        return metric_history(self.store, run_id, key)

    # -- internals -------------------------------------------------------------------------

    def _key_values(self, table: str, run_id: str) -> dict[str, str]:
        def work(connection: Any) -> dict[str, str]:
            if connection.execute("SELECT 1 FROM runs WHERE run_id = %s", (run_id,)).fetchone():
                rows = connection.execute(
                    f"SELECT key, value FROM {table} WHERE run_id = %s", (run_id,)
                ).fetchall()
                return dict(rows)
            raise NotFoundError(f"no run with id {run_id!r}")

        return self.database.run(work)

    def _info(self, doc: dict[str, Any]) -> RunInfo:
        return run_info_from_doc(doc, self.store.artifact_uri(doc["run_id"]))


def mark_dirty(connection: Any, run_id: str) -> None:
    """Mark the run as ahead of its manifest in the bucket (an artifact written, a logged
    model changed), so that the next flush names what changed there."""
    connection.execute(
        "UPDATE runs SET changed_at = %s, dirty = TRUE, revision = revision + 1 WHERE run_id = %s",
        (now_ms(), run_id),
    )


def _inputs(connection: Any, run_id: str) -> RunInputs:
    rows = connection.execute(
        "SELECT entry FROM run_inputs WHERE run_id = %s ORDER BY position", (run_id,)
    ).fetchall()
    return fold_inputs(dict(row[0]) for row in rows)


def _locked_doc(connection: Any, run_id: str) -> dict[str, Any]:
    """The run's document, its row locked until the transaction ends."""
    row = connection.execute(
        "SELECT doc FROM runs WHERE run_id = %s FOR NO KEY UPDATE", (run_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    return dict(row[0])


def _save_doc(connection: Any, run_id: str, doc: dict[str, Any]) -> None:
    connection.execute(
        "UPDATE runs SET doc = %s, run_name = %s, status = %s, start_time = %s, "
        "end_time = %s, lifecycle_stage = %s, deleted_time = %s, changed_at = %s, "
        "dirty = TRUE, revision = revision + 1 WHERE run_id = %s",
        (json.dumps(doc), *(doc.get(k) for k in _INDEXED), now_ms(), run_id),
    )


def _append(
    connection: Any,
    run_id: str,
    params: dict[str, str] | None = None,
    tags: dict[str, str | None] | None = None,
    metrics: list[Metric] | None = None,
) -> int:
    """Buffer the lines and update the index rows, in the caller's transaction (which
    holds the run's row); the run's buffered line count after."""
    params, tags, metrics = params or {}, tags or {}, metrics or []
    rows: list[tuple[str, str, str | None, bytes]] = []
    rows += [(run_id, PARAMS_LOG, None, key_value_line(k, v).encode()) for k, v in params.items()]
    rows += [(run_id, TAGS_LOG, None, key_value_line(k, v).encode()) for k, v in tags.items()]
    rows += [
        (run_id, METRICS_LOG, m.key, metric_line(m.key, m.value, m.step, m.timestamp).encode())
        for m in metrics
    ]
    if not rows:
        return 0
    with connection.cursor() as cursor:
        with cursor.copy("COPY buffer (run_id, log, metric_key, line) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if params:
            cursor.executemany(
                "INSERT INTO params (run_id, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(run_id, k, v) for k, v in params.items()],
            )
        kept = [(run_id, k, v) for k, v in tags.items() if v is not None]
        if kept:
            cursor.executemany(
                "INSERT INTO tags (run_id, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
                kept,
            )
        gone = [k for k, v in tags.items() if v is None]
        if gone:
            cursor.execute("DELETE FROM tags WHERE run_id = %s AND key = ANY(%s)", (run_id, gone))
        if metrics:
            latest: dict[str, Metric] = {}
            fold_latest_metrics(
                (
                    {"key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp}
                    for m in metrics
                ),
                latest,
            )
            cursor.executemany(_UPSERT_LATEST, [_latest_row(run_id, m) for m in latest.values()])
        found = cursor.execute(
            "UPDATE runs SET buffered = buffered + %s, changed_at = %s, dirty = TRUE, "
            "revision = revision + 1 "
            "WHERE run_id = %s "
            "RETURNING buffered",
            (len(rows), now_ms(), run_id),
        ).fetchone()
    return int(found[0])


# The greatest (step, timestamp, value) wins, NaN lowest, a later point a tie: as
# ``records.fold_latest_metrics`` folds a log.
_SORT_VALUE = "CASE WHEN {t}.is_nan = 1 THEN '-Infinity'::float8 ELSE {t}.value END"
_UPSERT_LATEST = (
    "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, key) DO UPDATE SET "
    "value = EXCLUDED.value, is_nan = EXCLUDED.is_nan, step = EXCLUDED.step, "
    "timestamp = EXCLUDED.timestamp WHERE "
    f"(EXCLUDED.step, EXCLUDED.timestamp, {_SORT_VALUE.format(t='EXCLUDED')}) >= "
    f"(latest_metrics.step, latest_metrics.timestamp, {_SORT_VALUE.format(t='latest_metrics')})"
)


def _latest_row(run_id: str, metric: Metric) -> tuple[Any, ...]:
    is_nan = metric.value != metric.value
    return (
        run_id,
        metric.key,
        None if is_nan else metric.value,
        int(is_nan),
        metric.step,
        metric.timestamp,
    )
