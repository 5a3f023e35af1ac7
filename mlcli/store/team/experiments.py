"""The team store's experiments: rows in PostgreSQL, and each one's document in the
bucket under its name (``experiments/<name>.json``, the layout of a remote), written in
the same request, so that ``mlcli clone`` of the bucket finds them.

Ids are numbers from a PostgreSQL sequence; ``0`` is the Default experiment. Names are
unique among active experiments (a partial unique index: two servers creating "demo"
at once make one experiment, the other request gets a ConflictError).
"""

from __future__ import annotations

import builtins
import json
from typing import TYPE_CHECKING, Any

from mlcli.clock import now_ms
from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.store.entities import Experiment, LifecycleStage, ViewType
from mlcli.store.experiments import (
    check_tag_deletable,
    experiment_times,
    get_or_create,
    id_order,
    in_view,
    validate_experiment_tags,
)
from mlcli.store.layout import DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME
from mlcli.store.sync import keys
from mlcli.store.validation import validate_experiment_name

if TYPE_CHECKING:
    from mlcli.store.team.store import TeamStore

_COLUMNS = (
    "experiment_id, name, lifecycle_stage, creation_time, last_update_time, deleted_time, tags"
)


class TeamExperiments:
    def __init__(self, store: TeamStore) -> None:
        self.store = store
        self.database = store.database

    # -- reading -------------------------------------------------------------------------

    def get(self, experiment_id: str) -> Experiment:
        rows = self.database.query(
            f"SELECT {_COLUMNS} FROM experiments WHERE experiment_id = %s", (str(experiment_id),)
        )
        if not rows:
            raise NotFoundError(f"no experiment with id {experiment_id!r}")
        return self._from_row(rows[0])

    def list(self, view: str = ViewType.ACTIVE_ONLY) -> builtins.list[Experiment]:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM experiments")
        found = [self._from_row(row) for row in rows]
        found = [e for e in found if in_view(e.lifecycle_stage, view)]
        return sorted(found, key=lambda e: id_order(e.experiment_id))

    def find_by_name(self, name: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment | None:
        rows = self.database.query(f"SELECT {_COLUMNS} FROM experiments WHERE name = %s", (name,))
        found = sorted(
            (self._from_row(row) for row in rows), key=lambda e: id_order(e.experiment_id)
        )
        return next((e for e in found if in_view(e.lifecycle_stage, view)), None)

    def resolve(self, ref: str, view: str = ViewType.ACTIVE_ONLY) -> Experiment:
        """An experiment named ``ref``, or else with id ``ref``."""
        experiment = self.find_by_name(ref, view)
        if experiment is not None:
            return experiment
        try:
            experiment = self.get(ref)
        except NotFoundError:
            experiment = None
        if experiment is not None and in_view(experiment.lifecycle_stage, view):
            return experiment
        state = {ViewType.DELETED_ONLY: "deleted ", ViewType.ACTIVE_ONLY: ""}.get(view, "")
        raise NotFoundError(f"no {state}experiment named {ref!r} (see 'mlcli experiments list')")

    def deleted_time(self, experiment_id: str) -> int | None:
        rows = self.database.query(
            "SELECT deleted_time FROM experiments WHERE experiment_id = %s", (experiment_id,)
        )
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    # -- writing -------------------------------------------------------------------------

    def ensure_default(self) -> None:
        now = now_ms()

        def work(connection: Any) -> bool:
            cursor = connection.execute(
                "INSERT INTO experiments (experiment_id, name, lifecycle_stage, creation_time, "
                "last_update_time, artifact_location) VALUES (%s, %s, 'active', %s, %s, %s) "
                "ON CONFLICT (experiment_id) DO NOTHING",
                (DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, now, now, self._location()),
            )
            return bool(cursor.rowcount)

        if self.database.run(work):
            self._publish(self.get(DEFAULT_EXPERIMENT_ID))

    def create(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        *,
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> Experiment:
        from psycopg import errors

        validate_experiment_name(name)
        clean = validate_experiment_tags(tags or {})
        times = experiment_times(now_ms(), creation_time, last_update_time)

        def work(connection: Any) -> tuple[Any, ...]:
            number = connection.execute("SELECT nextval('experiment_numbers')").fetchone()[0]
            return connection.execute(
                "INSERT INTO experiments (experiment_id, name, lifecycle_stage, creation_time, "
                "last_update_time, artifact_location, tags) VALUES (%s, %s, 'active', %s, %s, "
                f"%s, %s) RETURNING {_COLUMNS}",
                (
                    str(number),
                    name,
                    times["creation_time"],
                    times["last_update_time"],
                    self._location(),
                    json.dumps(clean),
                ),
            ).fetchone()

        try:
            experiment = self._from_row(self.database.run(work))
        except errors.UniqueViolation:
            raise ConflictError(f"an experiment named {name!r} already exists") from None
        self._publish(experiment)
        return experiment

    def get_or_create(self, name: str) -> Experiment:
        return get_or_create(self, name)

    def rename(self, experiment_id: str, new_name: str) -> Experiment:
        from psycopg import errors

        validate_experiment_name(new_name)
        old_name = self.get(experiment_id).name
        try:
            renamed = self._update(experiment_id, "name = %s", new_name)
        except errors.UniqueViolation:
            raise ConflictError(f"an experiment named {new_name!r} already exists") from None
        if old_name != new_name:
            # the bucket keys experiments by name: the old document goes, and the runs'
            # manifests, which name their experiment, are rewritten by the next flushes
            self.store.objects.delete(keys.experiment_key(old_name))
            self.database.run(
                lambda connection: connection.execute(
                    "UPDATE runs SET dirty = TRUE, revision = revision + 1 "
                    "WHERE experiment_id = %s",
                    (str(experiment_id),),
                )
            )
        return renamed

    def delete(self, experiment_id: str) -> Experiment:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise InvalidInputError("the Default experiment cannot be deleted")
        return self._update(
            experiment_id, "lifecycle_stage = 'deleted', deleted_time = %s", now_ms()
        )

    def restore(self, experiment_id: str) -> Experiment:
        from psycopg import errors

        experiment = self.get(experiment_id)
        try:
            return self._update(experiment_id, "lifecycle_stage = 'active', deleted_time = NULL")
        except errors.UniqueViolation:
            raise ConflictError(
                f"cannot restore experiment {experiment_id}: an active experiment is named "
                f"{experiment.name!r}; rename one of them first"
            ) from None

    def set_tag(self, experiment_id: str, key: str, value: str) -> Experiment:
        clean = validate_experiment_tags({key: value})
        return self._update(experiment_id, "tags = tags || %s::jsonb", json.dumps(clean))

    def delete_tag(self, experiment_id: str, key: str) -> Experiment:
        check_tag_deletable(self.get(experiment_id), key)
        return self._update(experiment_id, "tags = tags - %s", key)

    def purge(self, experiment_id: str) -> None:
        self.database.run(
            lambda c: c.execute(
                "DELETE FROM experiments WHERE experiment_id = %s", (experiment_id,)
            )
        )

    # -- internals -----------------------------------------------------------------------

    def _update(self, experiment_id: str, assignments: str, *args: Any) -> Experiment:
        def work(connection: Any) -> tuple[Any, ...] | None:
            return connection.execute(
                f"UPDATE experiments SET {assignments}, last_update_time = %s "
                f"WHERE experiment_id = %s RETURNING {_COLUMNS}",
                (*args, now_ms(), str(experiment_id)),
            ).fetchone()

        row = self.database.run(work)
        if row is None:
            raise NotFoundError(f"no experiment with id {experiment_id!r}")
        experiment = self._from_row(row)
        self._publish(experiment)
        return experiment

    def _publish(self, experiment: Experiment) -> None:
        """The experiment's document in the bucket, as a push would write it."""
        doc = {
            "name": experiment.name,
            "lifecycle_stage": experiment.lifecycle_stage,
            "deleted_time": self.deleted_time(experiment.experiment_id),
            "creation_time": experiment.creation_time,
            "tags": experiment.tags,
        }
        self.store.objects.put(
            keys.experiment_key(experiment.name), json.dumps(doc, sort_keys=True).encode()
        )
        self.store.journal(experiments=[experiment.name])

    def _location(self) -> str:
        return self.store.objects.url.rstrip("/") + "/" + keys.RUNS.rstrip("/")

    def _from_row(self, row: tuple[Any, ...]) -> Experiment:
        experiment_id, name, stage, created, updated, _deleted, tags = row
        return Experiment(
            experiment_id=str(experiment_id),
            name=name,
            lifecycle_stage=stage or LifecycleStage.ACTIVE,
            creation_time=int(created or 0),
            last_update_time=int(updated or 0),
            artifact_location=self._location(),
            tags=dict(tags or {}),
        )
