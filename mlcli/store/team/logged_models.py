"""MLflow 3's logged models in a team store: one row each in PostgreSQL's
``logged_models`` (``doc`` is the document a local store keeps in
``runs/<run_id>/logged_models/<id>.json``), and that document in the bucket at the
key of a remote (:func:`mlcli.store.sync.keys.logged_model_key`), so that the bucket
alone stays a complete remote.

The semantics are the local store's (:mod:`mlcli.store.logged_models`). A model is
created under the lock of its run's row, which serialises the choice of its folder
(``<name>``, else ``<name>-<8 hex>``: a folder no other model of the run claims and
where the bucket holds nothing); a change locks the model's row. The bucket's copy is
written inside that transaction, after its statements, so that the copies are written
in the order the changes commit (a copy written by a transaction that then fails to
commit is replaced by the next change).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlcli.errors import ConflictError, InvalidInputError, NotFoundError
from mlcli.store.logged_models import (
    LoggedModel,
    LoggedModelStatus,
    apply_changes,
    folder_candidates,
    new_model,
    new_model_id,
    oldest_first,
    validate_model_id,
)
from mlcli.store.sync import keys
from mlcli.store.team.artifacts import ArtifactObjects
from mlcli.store.team.runs import mark_dirty

if TYPE_CHECKING:
    import psycopg

    from mlcli.objects.base import ObjectStore
    from mlcli.store.team.database import Database


class TeamLoggedModels:
    """The logged models of the team store in ``database`` and ``objects``."""

    def __init__(self, database: Database, objects: ObjectStore) -> None:
        self.database = database
        self.objects = objects

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
        """A new logged model of ``run_id``, with a folder of its own under the run's
        artifacts: ``<name>``, or ``<name>-<id>`` when that is taken."""
        model_id = new_model_id(model_id)
        candidates = folder_candidates(name, model_id)

        def work(connection: psycopg.Connection[Any]) -> LoggedModel:
            run = "SELECT 1 FROM runs WHERE run_id = %s FOR NO KEY UPDATE"
            if connection.execute(run, (run_id,)).fetchone() is None:
                raise NotFoundError(f"no run with id {run_id!r}")
            if _find(connection, model_id) is not None:
                raise ConflictError(f"a logged model with id {model_id} already exists")
            model = new_model(
                model_id=model_id,
                name=name,
                experiment_id=experiment_id,
                run_id=run_id,
                artifact_path=self._free_folder(connection, run_id, candidates),
                status=status,
                model_type=model_type,
                creation_timestamp=creation_timestamp,
                tags=tags,
                params=params,
            )
            text = _encoded(model.to_dict())
            inserted = connection.execute(
                "INSERT INTO logged_models (model_id, run_id, experiment_id, doc) "
                "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (model_id) DO NOTHING "
                "RETURNING model_id",
                (model_id, run_id, model.experiment_id, text),
            ).fetchone()
            if inserted is None:  # created meanwhile, for another run
                raise ConflictError(f"a logged model with id {model_id} already exists")
            mark_dirty(connection, run_id)
            self._mirror(model.run_id, model_id, text)
            return model

        return self.database.run(work)

    def get(self, model_id: str) -> LoggedModel:
        validate_model_id(model_id)
        doc = self.database.run(lambda connection: _find(connection, model_id))
        if doc is None:
            raise NotFoundError(f"no logged model with id {model_id!r}")
        return LoggedModel.from_dict(doc)

    def of_run(self, run_id: str) -> list[LoggedModel]:
        """The run's logged models, oldest first (deleted ones included)."""
        rows = self.database.query("SELECT doc FROM logged_models WHERE run_id = %s", (run_id,))
        return oldest_first([LoggedModel.from_dict(doc) for (doc,) in rows])

    def update(self, model_id: str, **changes: Any) -> LoggedModel:
        """Apply ``changes`` to the document; ``tags``/``params`` are merged (a tag set to
        None is removed), ``metrics`` appended."""
        validate_model_id(model_id)

        def work(connection: psycopg.Connection[Any]) -> LoggedModel:
            doc = _find(connection, model_id, lock=True)
            if doc is None:
                raise NotFoundError(f"no logged model with id {model_id!r}")
            model = LoggedModel.from_dict(apply_changes(doc, changes))
            text = _encoded(doc)
            connection.execute(
                "UPDATE logged_models SET doc = %s::jsonb, run_id = %s, experiment_id = %s "
                "WHERE model_id = %s",
                (text, model.run_id, model.experiment_id, model_id),
            )
            mark_dirty(connection, model.run_id)
            self._mirror(model.run_id, model_id, text)
            return model

        return self.database.run(work)

    def find_run(self, model_id: str) -> str | None:
        """The run that logged the model, or None."""
        rows = self.database.query(
            "SELECT run_id FROM logged_models WHERE model_id = %s", (model_id,)
        )
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- internals ---------------------------------------------------------------------------

    def _free_folder(
        self, connection: psycopg.Connection[Any], run_id: str, candidates: list[str]
    ) -> str:
        """The first candidate that no model of the run claims and where the bucket
        holds nothing (the caller holds the run's lock)."""
        claimed = {
            path
            for (path,) in connection.execute(
                "SELECT doc->>'artifact_path' FROM logged_models WHERE run_id = %s", (run_id,)
            )
        }
        bucket = ArtifactObjects(self.objects, run_id)
        for candidate in candidates:
            if candidate not in claimed and not bucket.in_the_way(candidate):
                return candidate
        raise ConflictError(f"run {run_id[:8]} already has artifacts at {candidates[0]!r}")

    def _mirror(self, run_id: str, model_id: str, text: str) -> None:
        """The document in the bucket, where a remote keeps it."""
        self.objects.put(keys.logged_model_key(run_id, model_id), text.encode())


def _find(
    connection: psycopg.Connection[Any], model_id: str, lock: bool = False
) -> dict[str, Any] | None:
    sql = "SELECT doc FROM logged_models WHERE model_id = %s" + (" FOR UPDATE" if lock else "")
    row = connection.execute(sql, (model_id,)).fetchone()
    return None if row is None else dict(row[0])


def _encoded(doc: dict[str, Any]) -> str:
    """The document as JSON, as the local store writes it; what neither JSON nor
    PostgreSQL's JSONB can hold is a one-line InvalidInputError."""
    try:
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except ValueError:
        raise InvalidInputError(
            f"logged model {doc.get('model_id')}: a value is not a finite number "
            "(NaN and infinities cannot be stored in its document)"
        ) from None
    bad = next((t for t in _texts(doc) if not _storable(t)), None)
    if bad is not None:
        raise InvalidInputError(
            f"logged model {doc.get('model_id')}: {bad[:100]!r} holds a NUL character or "
            "is not valid text"
        )
    return text


def _texts(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _storable(text: str) -> bool:
    """Whether JSONB takes the string (no NUL, no lone surrogate)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
