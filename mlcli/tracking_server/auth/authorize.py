"""A signed-in user's request against the rules (``rules.py``): refused with MLflow's
403 ``PERMISSION_DENIED``, cut down to what the user can read (searches), or followed
by the creator's MANAGE grant (a new experiment or registered model). Admins pass.

A target that does not exist (an unknown run id...) is let through, so that the
handler answers its usual 404. Runs and logged-model searches that name an
experiment the user cannot read are refused, as MLflow does; what a search returns is
filtered in any case.
"""

from __future__ import annotations

import contextlib
from typing import Any

from mlcli.errors import MlcliError, NotFoundError
from mlcli.store import ViewType
from mlcli.tracking_server.artifacts import RunArtifact, parse_artifact_path
from mlcli.tracking_server.auth.database import AuthDatabase, User
from mlcli.tracking_server.auth.levels import Level
from mlcli.tracking_server.auth.rules import Rule
from mlcli.tracking_server.backend import Backend, run_id_of
from mlcli.tracking_server.fields import Fields


class PermissionDeniedError(MlcliError):
    http_status = 403
    error_code = "PERMISSION_DENIED"


class Authorizer:
    def __init__(self, database: AuthDatabase, backend: Backend) -> None:
        self.database = database
        self.backend = backend

    # -- before ----------------------------------------------------------------------------------

    def check(self, user: User, rule: Rule, fields: Fields) -> None:
        """Raise PermissionDeniedError unless ``user`` may make this request."""
        if user.is_admin or rule.target in ("signed_in", "create_experiment", "create_model"):
            return
        if rule.target == "experiment_id":
            self._need_experiment(user, fields.required("experiment_id"), rule.level)
        elif rule.target == "experiment_ids":
            for experiment_id in fields.strings("experiment_ids"):
                self._need_experiment(user, experiment_id, rule.level)
        elif rule.target == "experiment_name":
            self._need_experiment_named(user, fields.required("experiment_name"), rule.level)
        elif rule.target == "run_id":
            self._need_run(user, run_id_of(fields), rule.level)
        elif rule.target == "source_run_id":
            self._need_run(user, fields.required("source_run_id"), rule.level)
        elif rule.target == "model_id":
            try:
                model = self.backend.logged_models.get(fields.required("model_id"))
            except NotFoundError:
                return
            self._need_experiment(user, model.experiment_id, rule.level)
        elif rule.target in ("name", "rename_model"):
            self._need_model(user, fields.required("name"), rule.level)
        else:
            raise AssertionError(f"a rule with an unknown target {rule.target!r}")

    def check_artifact(self, user: User, path: str, level: Level) -> None:
        if user.is_admin:
            return
        try:
            target = parse_artifact_path(path)
        except MlcliError:
            return  # the handler explains
        if isinstance(target, RunArtifact):
            self._need_run(user, target.run_id, level)
        else:
            self._need_model(user, target.name, level)

    # -- after -----------------------------------------------------------------------------------

    def after(
        self, user: User, rule: Rule, fields: Fields, reply: dict[str, Any]
    ) -> dict[str, Any]:
        """The reply as ``user`` may see it; a creator's grant."""
        if rule.target == "create_experiment":
            self.database.grant(user.name, "experiment", str(reply["experiment_id"]), Level.MANAGE)
        elif rule.target == "create_model":
            self.database.grant(user.name, "model", fields.required("name"), Level.MANAGE)
        elif rule.target == "rename_model":  # a model's grants follow it to its new name
            old, new = fields.required("name"), fields.required("new_name")
            self.database.rename_target("model", old, new)
        if user.is_admin or rule.filter is None:
            return reply
        readable = _Readable(self, user)
        if rule.filter == "experiments":
            key, keep = "experiments", lambda e: readable.experiment(e["experiment_id"])
        elif rule.filter in ("runs", "logged_models"):
            key = "runs" if rule.filter == "runs" else "models"
            keep = lambda item: readable.experiment(item["info"]["experiment_id"])  # noqa: E731
        else:
            key = "registered_models" if rule.filter == "models" else "model_versions"
            keep = lambda item: readable.model(item["name"])  # noqa: E731
        if key in reply:
            reply = {**reply, key: [item for item in reply[key] if keep(item)]}
        return reply

    # -- levels ----------------------------------------------------------------------------------

    def experiment_level(self, user: User, experiment_id: str) -> Level:
        names = [experiment_id]
        with contextlib.suppress(MlcliError):  # unknown: the handler says so
            names.append(self.backend.client.get_experiment(experiment_id).name)
        return self.database.level(user.name, "experiment", tuple(names))

    def model_level(self, user: User, name: str) -> Level:
        return self.database.level(user.name, "model", (name,))

    def _need_experiment(self, user: User, experiment_id: str, level: Level) -> None:
        if self.experiment_level(user, experiment_id) < level:
            raise _denied(user, level, f"experiment {experiment_id}")

    def _need_experiment_named(self, user: User, name: str, level: Level) -> None:
        experiments = self.backend.store.experiments
        found = experiments.find_by_name(name) or experiments.find_by_name(name, ViewType.ALL)
        names = (name,) if found is None else (found.experiment_id, name)
        if self.database.level(user.name, "experiment", names) < level:
            raise _denied(user, level, f"experiment {name!r}")

    def _need_run(self, user: User, run_id: str, level: Level) -> None:
        try:
            full_id = self.backend.client.resolve_run_id(run_id)
            experiment_id = self.backend.store.runs.info(full_id).experiment_id
        except NotFoundError:
            return
        self._need_experiment(user, experiment_id, level)

    def _need_model(self, user: User, name: str, level: Level) -> None:
        if self.model_level(user, name) < level:
            raise _denied(user, level, f"registered model {name!r}")


class _Readable:
    """Which experiments and models one user can read, each looked up once."""

    def __init__(self, authorizer: Authorizer, user: User) -> None:
        self.authorizer = authorizer
        self.user = user
        self.seen: dict[tuple[str, str], bool] = {}

    def experiment(self, experiment_id: str) -> bool:
        key = ("experiment", experiment_id)
        if key not in self.seen:
            level = self.authorizer.experiment_level(self.user, experiment_id)
            self.seen[key] = level >= Level.READ
        return self.seen[key]

    def model(self, name: str) -> bool:
        key = ("model", name)
        if key not in self.seen:
            self.seen[key] = self.authorizer.model_level(self.user, name) >= Level.READ
        return self.seen[key]


def _denied(user: User, level: Level, what: str) -> PermissionDeniedError:
    return PermissionDeniedError(f"user {user.name!r} needs {level.name} on {what}")
