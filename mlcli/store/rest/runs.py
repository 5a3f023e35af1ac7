"""A team server's runs: documents, params, tags and metrics through MLflow's runs
endpoints, in log-batch requests of MLflow's sizes, each named so that sending it again
after a lost answer writes it once (see ``ServerRuns.append_metric_lines``)."""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError, MlcliError, NotFoundError, PartlyWritten
from mlcli.store.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    ModelInput,
    RunInfo,
    RunInputs,
    RunStatus,
    ViewType,
)
from mlcli.store.heartbeat import HEARTBEAT_FIELD, period_seconds
from mlcli.store.ownership import Owner, owner_recorded
from mlcli.store.records import decode_metric_log
from mlcli.store.rest import convert
from mlcli.store.rest.experiments import refused
from mlcli.system_tags import PARENT_RUN_ID, to_mlflow

if TYPE_CHECKING:
    from mlcli.store.ownership import RunOwner
    from mlcli.store.rest.store import ServerStore

# mlcli's own fields of runs/create and runs/update (MLflow's clients never send them):
# who owns a live run, and its heartbeat, which the server stamps with its own clock.
OWNER_FIELD = "mlcli_owner"
HEARTBEAT_PERIOD_FIELD = "mlcli_heartbeat"

_log = logging.getLogger("mlcli")
# MLflow's limits on one log-batch request, which the server enforces.
BATCH_METRICS = 1000
BATCH_PARAMS = 100
BATCH_TAGS = 100


class ServerRuns:
    def __init__(self, store: ServerStore) -> None:
        self._store = store
        self._call = store.connection
        self._in_doubt: dict[str, list[tuple[str, bytes]]] = {}  # run -> (name, body)

    def list_ids(self) -> list[str]:
        return [run.info.run_id for run in self._store.search_runs(None, view=ViewType.ALL)]

    def exists(self, run_id: str) -> bool:
        try:
            self._call.get("/runs/get", run_id=run_id)
        except NotFoundError:
            return False
        return True

    def resolve(self, ref: str) -> str:
        """The full id of the run ``ref`` names (an id or a unique prefix, as the
        server resolves it)."""
        from mlcli.store.validation import validate_run_id_prefix

        prefix = validate_run_id_prefix(ref)
        if len(prefix) == 32:  # a full id: the call that uses it finds out if it exists
            return prefix
        doc = self._call.get("/runs/get", run_id=prefix)["run"]
        return str(doc["info"]["run_id"])

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
        if run_id is not None:
            raise InvalidInputError(
                "a team server chooses run ids itself: a run with a given id "
                "('mlcli import-mlflow') is imported on the server's host"
            )
        tags = dict(tags)
        if parent_run_id is not None:
            tags[PARENT_RUN_ID] = parent_run_id
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "user_id": user_id,
            "tags": convert.tags_to(tags),
        }
        if start_time is not None:
            body["start_time"] = start_time
        body.update(_claim(owner))
        doc = self._call.post("/runs/create", body)["run"]
        info = self._store._run(doc).info
        if status != RunStatus.RUNNING:
            return self.set_status(info.run_id, status, owner=owner)
        owner_recorded(self, info.run_id, status, owner)
        return info

    def read_doc(self, run_id: str) -> dict[str, Any]:
        raise refused("reading a run's document")

    def info(self, run_id: str) -> RunInfo:
        return self._store.get_run(run_id).info

    def update(self, run_id: str, **changes: Any) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id}
        parent = changes.pop("parent_run_id", None)
        if "run_name" in changes:
            body["run_name"] = changes.pop("run_name")
        if "status" in changes:
            body["status"] = changes.pop("status")
        if "end_time" in changes:
            body["end_time"] = changes.pop("end_time")
        beat = changes.pop(HEARTBEAT_FIELD, None)
        if isinstance(beat, dict):  # the server stamps the time: only the period goes
            body[HEARTBEAT_PERIOD_FIELD] = {"every": beat["every"]}
        if changes:
            raise InvalidInputError(
                f"a team server cannot change {', '.join(sorted(changes))} of a run"
            )
        if parent is not None:
            self.set_tags(run_id, {PARENT_RUN_ID: parent})
        if set(body) == {"run_id", HEARTBEAT_PERIOD_FIELD}:
            # a beat (the heartbeat thread): sent twice, it does what it does once; the
            # run read back as it is, without sending this process's points in doubt
            self._call.post("/runs/update", body, idempotent=True)
            return self._store._run(self._call.get("/runs/get", run_id=run_id)["run"]).info
        if len(body) > 1:
            self._call.post("/runs/update", body)
        return self.info(run_id)

    def set_status(
        self, run_id: str, status: str, end_time: int | None = None, owner: RunOwner | None = None
    ) -> RunInfo:
        self._try_resend(run_id)  # a run that ends has every point on the server
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        if status in RunStatus.LIVE:
            body.update(_claim(owner))
        doc = self._call.post("/runs/update", body)["run_info"]
        owner_recorded(self, run_id, status, owner)
        return convert.run_info(doc, self.read_tags(run_id))

    def set_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        action = "/runs/delete" if stage == LifecycleStage.DELETED else "/runs/restore"
        self._call.post(action, {"run_id": run_id})
        return self.info(run_id)

    def purge(self, run_id: str) -> None:
        raise refused("purging a run ('mlcli gc')")

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        self.log_batch(run_id, params=params)

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        kept = {k: v for k, v in tags.items() if v is not None}
        if kept:
            self.log_batch(run_id, tags=dict(kept))
        for key in (k for k, v in tags.items() if v is None):
            self._call.post("/runs/delete-tag", {"run_id": run_id, "key": to_mlflow(key)})

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str | None] | None = None,
        metrics: list[Metric] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """One log-batch request per MLflow-sized slice (1,000 metrics, 100 params, 100
        tags); a batch within those limits is one request, seen whole or not at all.
        Each request is named (``batch_id``, else from its content, and uniquely when it
        sets tags, whose last value wins), so that a request whose answer was lost is sent
        again and written once."""
        param_items = list((params or {}).items())
        tag_items = [(k, v) for k, v in (tags or {}).items() if v is not None]
        metric_items = list(metrics or ())
        for key in (k for k, v in (tags or {}).items() if v is None):
            self._call.post("/runs/delete-tag", {"run_id": run_id, "key": to_mlflow(key)})
        part = 0
        while True:
            chunk_params, param_items = param_items[:BATCH_PARAMS], param_items[BATCH_PARAMS:]
            room = BATCH_METRICS - len(chunk_params)
            take = min(BATCH_TAGS, room)
            chunk_tags, tag_items = tag_items[:take], tag_items[take:]
            take = room - len(chunk_tags)
            chunk_metrics, metric_items = metric_items[:take], metric_items[take:]
            body = json.dumps(
                {
                    "run_id": run_id,
                    "params": convert.params_to(dict(chunk_params)),
                    "tags": convert.tags_to(dict(chunk_tags)),
                    "metrics": [convert.metric_to(m) for m in chunk_metrics],
                }
            ).encode()
            if batch_id:
                name = f"{batch_id}-{part}"
            elif chunk_tags:  # a tag set again (a, b, then a) is a new write, not a resend
                name = _content_id(run_id, body + os.urandom(16))
            else:
                name = _content_id(run_id, body)
            self._send_batch(body, name)
            part += 1
            if not (param_items or tag_items or metric_items):
                return

    def append_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        self.log_batch(run_id, metrics=metrics)

    def append_metric_lines(self, run_id: str, data: bytes) -> None:
        """Buffered points (``metrics.jsonl`` lines, which are MLflow's metric objects
        already) sent as log-batch requests of 1,000 without decoding them.

        A request that fails after the first ones raises ``PartlyWritten`` with the
        number of lines before it, so that the caller keeps only the rest. One whose
        answer was lost (the server may have written it) is kept here, whole and under
        its name, and sent again before anything else of the run: the server writes a
        named batch once, and the points are neither lost nor doubled."""
        self._resend_in_doubt(run_id)
        lines = data.splitlines()
        if any(b'"batch":' in line for line in lines):  # batch markers: not plain points
            self.log_batch(run_id, metrics=decode_metric_log(data))
            return
        head = b'{"run_id":' + json.dumps(run_id).encode() + b',"metrics":['
        for start in range(0, len(lines), BATCH_METRICS):
            chunk = lines[start : start + BATCH_METRICS]
            body = head + b",".join(chunk) + b"]"
            name = _content_id(run_id, body)
            try:
                self._send_batch(body + b"}", name)
            except MlcliError as error:
                written = start
                if getattr(error, "maybe_applied", False):
                    with self._store._lock:
                        if not self._in_doubt:
                            atexit.register(self._resend_at_exit)
                        self._in_doubt.setdefault(run_id, []).append((name, body + b"}"))
                    written += len(chunk)
                if not written:
                    raise
                raise PartlyWritten(str(error), written) from error

    def resend_in_doubt(self) -> None:
        """Send again every batch whose answer was lost (when the store closes)."""
        with self._store._lock:
            runs = list(self._in_doubt)
        for run_id in runs:
            self._resend_in_doubt(run_id)

    def _resend_at_exit(self) -> None:
        try:
            self.resend_in_doubt()
        except MlcliError as error:
            _log.warning(
                "mlcli: metric points sent to %s could not be confirmed: %s", self._store.url, error
            )

    def _try_resend(self, run_id: str) -> None:
        """Send again what is in doubt for the run if it can be now; if not, it stays in
        doubt (and is sent again later, at the latest at exit), and the caller goes on."""
        if run_id not in self._in_doubt:
            return
        try:
            self._resend_in_doubt(run_id)
        except MlcliError as error:
            _log.warning("mlcli: could not write metrics yet (%s); will retry", error)

    def _resend_in_doubt(self, run_id: str) -> None:
        with self._store._lock:
            waiting = self._in_doubt.pop(run_id, [])
        while waiting:
            name, body = waiting[0]
            try:
                self._send_batch(body, name)
            except MlcliError:
                with self._store._lock:
                    self._in_doubt[run_id] = waiting + self._in_doubt.get(run_id, [])
                raise
            waiting.pop(0)

    def _send_batch(self, body: bytes, name: str) -> None:
        named = body[:-1] + b',"mlcli_batch_id":' + json.dumps(name).encode() + b"}"
        self._call.post("/runs/log-batch", named, idempotent=True)

    def log_inputs(
        self,
        run_id: str,
        datasets: list[DatasetInput] | None = None,
        models: list[ModelInput] | None = None,
    ) -> None:
        if not datasets and not models:
            return
        body = {
            "run_id": run_id,
            "datasets": [convert.dataset_input_to(item) for item in datasets or []],
            "models": [{"model_id": model.model_id} for model in models or []],
        }
        self._call.post("/runs/log-inputs", body, idempotent=True)  # the server dedups

    def read_inputs(self, run_id: str) -> RunInputs:
        return self._store.get_run(run_id).inputs

    def read_params(self, run_id: str) -> dict[str, str]:
        return self._store.get_run(run_id).data.params

    def read_tags(self, run_id: str) -> dict[str, str]:
        return self._store.get_run(run_id).data.tags

    def read_latest_metrics(self, run_id: str) -> dict[str, Metric]:
        return self._store.get_run(run_id).data.latest_metrics

    def read_metric_history(self, run_id: str, key: str | None = None) -> list[Metric]:
        return list(self.iter_metric_history(run_id, key))

    def iter_metric_history(
        self, run_id: str, key: str | None = None, chunk_size: int = 25_000
    ) -> Iterator[Metric]:
        """The points of ``key`` (of every metric, key by key, for None) a page at a time."""
        keys: Iterable[str] = [key] if key is not None else sorted(self.read_latest_metrics(run_id))
        for name in keys:
            token: str | None = None
            while True:
                page = self._call.get(
                    "/metrics/get-history",
                    run_id=run_id,
                    metric_key=name,
                    max_results=chunk_size,
                    page_token=token,
                )
                for doc in page.get("metrics", []):
                    yield convert.metric(doc)
                token = page.get("next_page_token")
                if not token:
                    break


def _claim(owner: RunOwner | None) -> dict[str, Any]:
    """The fields that record ``owner`` on the server (none: the run has no owner); a
    process owner beats every ``MLCLI_HEARTBEAT_SECONDS`` (``owner_recorded``)."""
    if owner is None:
        return {}
    fields: dict[str, Any] = {OWNER_FIELD: owner.to_doc()}
    if isinstance(owner, Owner):
        fields[HEARTBEAT_PERIOD_FIELD] = {"every": period_seconds()}
    return fields


def _content_id(run_id: str, body: bytes) -> str:
    """A batch's name from what it holds: the same points sent again, the same name."""
    return hashlib.sha256(run_id.encode() + b"\0" + body).hexdigest()[:32]
