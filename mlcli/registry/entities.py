"""Registry entities: registered models, model versions, stages, events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mlcli.errors import InvalidInputError
from mlcli.system_tags import Tags


class Stage:
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    ALL = (NONE, STAGING, PRODUCTION, ARCHIVED)

    @classmethod
    def canonical(cls, text: str) -> str:
        """``production`` → ``Production``; anything else is an InvalidInputError."""
        for stage in cls.ALL:
            if text.strip().lower() == stage.lower():
                return stage
        raise InvalidInputError(f"invalid stage {text!r}: expected one of {', '.join(cls.ALL)}")

    @classmethod
    def transition_target(cls, text: str, archive_existing: bool) -> str:
        """The stage a transition goes to; ``archive_existing`` makes sense only for
        Staging and Production, which hold one version each."""
        stage = cls.canonical(text)
        if archive_existing and stage not in (cls.STAGING, cls.PRODUCTION):
            raise InvalidInputError(
                "--archive-existing only applies to a transition to Staging or Production"
            )
        return stage


class _MlflowShape:
    """What registry entities share with MLflow's: tags that answer ``mlflow.X`` from
    the stored ``mlcli.X``, and MLflow's names of the two times."""

    tags: Any
    creation_time: int
    last_update_time: int

    def __post_init__(self) -> None:
        if type(self.tags) is not Tags:
            object.__setattr__(self, "tags", Tags(self.tags))

    @property
    def creation_timestamp(self) -> int:
        return self.creation_time

    @property
    def last_updated_timestamp(self) -> int:
        return self.last_update_time


@dataclass(frozen=True)
class ModelVersion(_MlflowShape):
    name: str
    version: int
    source: str
    run_id: str | None
    stage: str
    status: str
    description: str
    tags: dict[str, str]
    user_id: str
    creation_time: int
    last_update_time: int
    aliases: tuple[str, ...] = ()
    git_commit: str | None = None
    deleted: bool = False

    # MLflow's attribute names (``mlflow.entities.model_registry.ModelVersion``)

    @property
    def current_stage(self) -> str:
        return self.stage

    @property
    def status_message(self) -> str:
        return ""

    @property
    def run_link(self) -> str:
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "run_id": self.run_id,
            "stage": self.stage,
            "status": self.status,
            "aliases": list(self.aliases),
            "description": self.description,
            "tags": dict(self.tags),
            "user_id": self.user_id,
            "git_commit": self.git_commit,
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
        }


@dataclass(frozen=True)
class RegisteredModel(_MlflowShape):
    name: str
    description: str
    tags: dict[str, str]
    creation_time: int
    last_update_time: int
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    # MLflow's ``latest_versions``: the newest version in each stage, filled in by
    # ``MlcliClient`` (get, create, search); empty where a registry lists models alone
    latest_versions: list[ModelVersion] = field(default_factory=list, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_version": self.latest_version,
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
        }


@dataclass(frozen=True)
class RegistryEvent:
    """One line of ``events.jsonl``: who did what to which version, from what to what."""

    time: int
    user: str
    action: str
    version: int | None = None
    from_value: str | None = None
    to_value: str | None = None
    comment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "user": self.user,
            "action": self.action,
            "version": self.version,
            "from": self.from_value,
            "to": self.to_value,
            "comment": self.comment,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> RegistryEvent:
        return cls(
            time=int(record.get("time", 0)),
            user=str(record.get("user", "")),
            action=str(record.get("action", "")),
            version=record.get("version"),
            from_value=record.get("from"),
            to_value=record.get("to"),
            comment=record.get("comment"),
        )


def model_last_update(
    document_time: int, versions: Iterable[ModelVersion], events: Iterable[RegistryEvent]
) -> int:
    """When a registered model last changed, the one definition every view shows (``models
    list`` UPDATED, the UI, the server's ``last_updated_timestamp``): the newest of its own
    document (description, tags), its versions, and its audit trail (promotions, stage
    transitions, aliases set or removed, versions added or deleted)."""
    return max([document_time, *(v.last_update_time for v in versions), *(e.time for e in events)])
