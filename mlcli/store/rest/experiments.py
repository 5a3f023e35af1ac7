"""A team server's experiments, through MLflow's experiments endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcli.errors import InvalidInputError, NotFoundError, StoreError
from mlcli.store.entities import Experiment, LifecycleStage, ViewType
from mlcli.store.experiments import id_order, in_view
from mlcli.store.rest import convert
from mlcli.store.validation import validate_experiment_name
from mlcli.system_tags import to_mlflow

if TYPE_CHECKING:
    from mlcli.store.rest.store import ServerStore

PAGE = 1000


def refused(what: str) -> StoreError:
    """A file-only operation asked of a team server."""
    return StoreError(f"{what} works on the server's own store: run it on the server's host")


class ServerExperiments:
    def __init__(self, store: ServerStore) -> None:
        self._store = store
        self._call = store.connection

    def get(self, experiment_id: str) -> Experiment:
        doc = self._call.get("/experiments/get", experiment_id=experiment_id)["experiment"]
        return self._store._remember(convert.experiment(doc))

    def list(self, view: str = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        found: list[Experiment] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"view_type": convert.view_type(view), "max_results": PAGE}
            if token:
                body["page_token"] = token
            page = self._call.post("/experiments/search", body)
            found.extend(
                self._store._remember(convert.experiment(e)) for e in page.get("experiments", [])
            )
            token = page.get("next_page_token")
            if not token:
                return sorted(found, key=lambda e: id_order(e.experiment_id))

    def find_by_name(self, name: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment | None:
        try:
            doc = self._call.get("/experiments/get-by-name", experiment_name=name)["experiment"]
        except NotFoundError:
            return None
        experiment = self._store._remember(convert.experiment(doc))
        return experiment if in_view(experiment.lifecycle_stage, view) else None

    def resolve(self, ref: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment:
        experiment = self.find_by_name(ref, view)
        if experiment is not None:
            return experiment
        try:
            experiment = self.get(ref)
        except (NotFoundError, InvalidInputError):
            experiment = None
        if experiment is not None and in_view(experiment.lifecycle_stage, view):
            return experiment
        state = {ViewType.DELETED_ONLY: "deleted ", ViewType.ACTIVE_ONLY: ""}.get(view, "")
        raise NotFoundError(f"no {state}experiment named {ref!r} (see 'mlcli experiments list')")

    def ensure_default(self) -> None:
        """The server keeps its own Default experiment."""

    def create(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        *,
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> Experiment:
        if creation_time is not None or last_update_time is not None:
            raise refused("creating an experiment with given times ('mlcli import-mlflow')")
        body: dict[str, Any] = {"name": validate_experiment_name(name)}  # a local store's words
        if tags:
            body["tags"] = convert.tags_to(tags)
        reply = self._call.post("/experiments/create", body)
        return self.get(str(reply["experiment_id"]))

    def get_or_create(self, name: str) -> Experiment:
        found = self.find_by_name(name, ViewType.ALL)
        if found is not None:
            return found
        try:
            return self.create(name)
        except InvalidInputError:  # another client created it meanwhile
            found = self.find_by_name(name, ViewType.ALL)
            if found is None:
                raise
            return found

    def rename(self, experiment_id: str, new_name: str) -> Experiment:
        new_name = validate_experiment_name(new_name)
        self._call.post(
            "/experiments/update", {"experiment_id": experiment_id, "new_name": new_name}
        )
        return self.get(experiment_id)

    def delete(self, experiment_id: str) -> Experiment:
        self._call.post("/experiments/delete", {"experiment_id": experiment_id})
        return self.get(experiment_id)

    def restore(self, experiment_id: str) -> Experiment:
        self._call.post("/experiments/restore", {"experiment_id": experiment_id})
        return self.get(experiment_id)

    def set_tag(self, experiment_id: str, key: str, value: str) -> Experiment:
        body = {"experiment_id": experiment_id, "key": to_mlflow(key), "value": value}
        self._call.post("/experiments/set-experiment-tag", body)
        return self.get(experiment_id)

    def delete_tag(self, experiment_id: str, key: str) -> Experiment:
        body = {"experiment_id": experiment_id, "key": to_mlflow(key)}
        self._call.post("/experiments/delete-experiment-tag", body)
        return self.get(experiment_id)

    def purge(self, experiment_id: str) -> None:
        raise refused("purging an experiment ('mlcli gc')")

    def deleted_time(self, experiment_id: str) -> int | None:
        experiment = self.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.DELETED:
            return None
        return experiment.last_update_time
