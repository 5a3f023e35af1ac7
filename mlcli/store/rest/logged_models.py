"""MLflow 3's logged models on a team server, through its ``/logged-models`` endpoints.

The server keeps a model with the run that logged it, as the local store does. What
the REST API cannot say is left out: the server chooses a new model's id and creation
time (``create`` refuses a given ``model_id``), a deleted model is no longer found by
its run (``of_run`` lists the models the server still shows), and a model's step is
only written (``update(step=...)`` links it to its run's outputs). Metrics given to
``update`` are logged with the model's id, so the run gets them too, as MLflow does.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.store.entities import json_number
from mlcli.store.logged_models import LoggedModel, LoggedModelStatus, validate_model_id
from mlcli.store.rest.connection import ServerConnection
from mlcli.system_tags import to_mlflow, to_store

_STATUS = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_FROM_STATUS = {v: k for k, v in _STATUS.items()}
_ARTIFACTS_MARK = "/artifacts/"
_PAGE = 100


class ServerLoggedModels:
    """The logged models of the server of ``connection``."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    def create(
        self,
        *,
        run_id: str,
        experiment_id: str,
        name: str,
        model_type: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_id: str | None = None,
        status: str = LoggedModelStatus.PENDING,
        creation_timestamp: int | None = None,
    ) -> LoggedModel:
        """A new logged model of ``run_id`` (its files go under the run's artifacts, in
        the folder the server names: ``artifact_path``)."""
        if model_id is not None:
            raise InvalidInputError(
                f"cannot create logged model {model_id} on a server: the server chooses "
                "the ids of new logged models"
            )
        wanted = _status(status)
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "name": name,
            "source_run_id": run_id,
            "tags": _pairs(tags or {}, rename=True),
            "params": _pairs(params or {}, rename=False),
        }
        if model_type:
            body["model_type"] = model_type
        model = from_shape(self.connection.post("/logged-models", body)["model"])
        if wanted != model.status:
            model = self._set_status(model.model_id, wanted)
        return model

    def get(self, model_id: str) -> LoggedModel:
        reply = self.connection.get(f"/logged-models/{_id(model_id)}")
        return from_shape(reply["model"])

    def of_run(self, run_id: str) -> list[LoggedModel]:
        """The run's logged models, oldest first."""
        models: list[LoggedModel] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {
                "filter": f"source_run_id = '{_quoted(run_id)}'",
                "order_by": [{"field_name": "creation_timestamp", "ascending": True}],
                "max_results": _PAGE,
            }
            if token:
                body["page_token"] = token
            reply = self.connection.post("/logged-models/search", body)
            models.extend(from_shape(shape) for shape in reply.get("models") or [])
            token = reply.get("next_page_token")
            if not token:
                break
        return sorted(models, key=lambda m: (m.creation_timestamp, m.model_id))

    def update(self, model_id: str, **changes: Any) -> LoggedModel:
        """Apply ``changes``: ``status``, ``tags`` (merged; a tag set to None is removed),
        ``params`` (merged), ``metrics`` (appended), ``step``, ``deleted=True``."""
        model = self.get(model_id)
        unknown = set(changes) - {"status", "tags", "params", "metrics", "step", "deleted"}
        if unknown:
            raise InvalidInputError(
                f"a server's logged model cannot change {', '.join(sorted(unknown))}"
            )
        path = f"/logged-models/{_id(model.model_id)}"
        tags = dict(changes.get("tags") or {})
        kept = {k: v for k, v in tags.items() if v is not None}
        if kept:
            self.connection.call("PATCH", f"{path}/tags", {"tags": _pairs(kept, rename=True)})
        for key in (k for k, v in tags.items() if v is None):
            if key in model.tags:
                self.connection.call("DELETE", f"{path}/tags/{quote(to_mlflow(key), safe='')}", {})
        if changes.get("params"):
            self.connection.post(
                f"{path}/params", {"params": _pairs(changes["params"], rename=False)}
            )
        if changes.get("metrics"):
            self._log_metrics(model, list(changes["metrics"]))
        if "step" in changes:
            self.connection.post(
                "/runs/outputs",
                {
                    "run_id": model.run_id,
                    "models": [{"model_id": model.model_id, "step": int(changes["step"])}],
                },
            )
        if "status" in changes:
            self._set_status(model.model_id, _status(changes["status"]))
        if changes.get("deleted"):
            self.connection.call("DELETE", path, {})
            try:
                return _deleted(self.get(model.model_id))
            except NotFoundError:
                return _deleted(model)
        return self.get(model.model_id)

    def find_run(self, model_id: str) -> str | None:
        """The run that logged the model, or None when the server has no such model."""
        try:
            return self.get(model_id).run_id
        except NotFoundError:
            return None

    # -- internals ---------------------------------------------------------------------------

    def _set_status(self, model_id: str, status: str) -> LoggedModel:
        reply = self.connection.call(
            "PATCH", f"/logged-models/{_id(model_id)}", {"status": _STATUS[status]}
        )
        return from_shape(reply["model"])

    def _log_metrics(self, model: LoggedModel, metrics: list[dict[str, Any]]) -> None:
        shaped = [
            {
                "key": m["key"],
                "value": json_number(float(m["value"])),
                "timestamp": int(m.get("timestamp") or 0),
                "step": int(m.get("step") or 0),
                "model_id": model.model_id,
            }
            for m in metrics
        ]
        for start in range(0, len(shaped), 1000):
            self.connection.post(
                "/runs/log-batch", {"run_id": model.run_id, "metrics": shaped[start : start + 1000]}
            )


def from_shape(shape: dict[str, Any]) -> LoggedModel:
    """A logged model from the server's JSON (MLflow's ``LoggedModel`` message), with
    its system tags renamed back ``mlflow.X`` -> ``mlcli.X``."""
    info = shape.get("info") or {}
    data = shape.get("data") or {}
    run_id = str(info.get("source_run_id") or "")
    return LoggedModel(
        model_id=str(info["model_id"]),
        name=str(info.get("name") or ""),
        experiment_id=str(info.get("experiment_id") or "0"),
        run_id=run_id,
        artifact_path=_artifact_path(str(info.get("artifact_uri") or ""), run_id),
        status=_FROM_STATUS.get(str(info.get("status")), LoggedModelStatus.PENDING),
        creation_timestamp=int(info.get("creation_timestamp_ms") or 0),
        last_updated_timestamp=int(info.get("last_updated_timestamp_ms") or 0),
        model_type=info.get("model_type") or None,
        status_message=info.get("status_message") or None,
        tags={to_store(t["key"]): str(t.get("value", "")) for t in info.get("tags") or []},
        params={p["key"]: str(p.get("value", "")) for p in data.get("params") or []},
        metrics=[_metric(m, run_id) for m in data.get("metrics") or []],
    )


def _artifact_path(uri: str, run_id: str) -> str:
    """``mlflow-artifacts:/<exp>/<run>/artifacts/<path>`` -> ``<path>``."""
    mark = f"/{run_id}{_ARTIFACTS_MARK}" if run_id else _ARTIFACTS_MARK
    _, found, path = uri.partition(mark)
    return path if found else ""


def _metric(shape: dict[str, Any], run_id: str) -> dict[str, Any]:
    return {
        "key": shape.get("key"),
        "value": float(shape.get("value", math.nan)),
        "timestamp": int(shape.get("timestamp") or 0),
        "step": int(shape.get("step") or 0),
        "run_id": shape.get("run_id") or run_id,
    }


def _deleted(model: LoggedModel) -> LoggedModel:
    from dataclasses import replace

    return replace(model, deleted=True)


def _pairs(items: dict[str, str], *, rename: bool) -> list[dict[str, str]]:
    return [{"key": to_mlflow(k) if rename else k, "value": v} for k, v in items.items()]


def _status(status: str) -> str:
    text = str(status).upper()
    if text not in LoggedModelStatus.ALL:
        raise InvalidInputError(
            f"invalid logged model status {status!r}: expected one of "
            f"{', '.join(LoggedModelStatus.ALL)}"
        )
    return text


def _id(model_id: str) -> str:
    return quote(validate_model_id(model_id), safe="")


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
