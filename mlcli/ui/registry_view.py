"""The registry pages: registered models, their versions with stage, aliases and source
run, the event history, and promotion — the one write the dashboard makes, through
the same gated ``promote`` (and so the same checks and audit trail) as ``mlcli promote``.
"""

from __future__ import annotations

from typing import Any

from mlcli.client import MlcliClient
from mlcli.errors import InvalidInputError, MlcliError
from mlcli.registry import Promotion, Stage
from mlcli.registry.names import parse_version
from mlcli.registry.promotion import promote

# The fields a promotion request may carry (those of ``mlcli promote``'s options).
PROMOTION_FIELDS = {
    "stage": str,
    "alias": str,
    "archive_existing": bool,
    "require": str,
    "better_than": str,
    "metric": str,
    "higher_is_better": bool,
    "comment": str,
}


def models_list(client: MlcliClient) -> dict[str, Any]:
    registry = client.registry()
    models = []
    for model in registry.list_models():
        versions = registry.list_versions(model.name)
        stages: dict[str, int] = {}
        for version in versions:  # the highest version in each stage holds it
            if version.stage != Stage.NONE:
                stages[version.stage] = version.version
        models.append(
            {
                **model.to_dict(),
                "version_count": len(versions),
                "stages": stages,
            }
        )
    return {"models": models}


def model_detail(client: MlcliClient, name: str) -> dict[str, Any]:
    registry = client.registry()
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    run_names = _run_names(client, [v.run_id for v in versions if v.run_id])
    return {
        "model": model.to_dict(),
        "versions": [
            {**v.to_dict(), "run_name": run_names.get(v.run_id or "")}
            for v in sorted(versions, key=lambda v: -v.version)
        ],
        "events": [e.to_dict() for e in reversed(registry.events(name))],
        "stages": list(Stage.ALL),
    }


def promotion_request(name: str, version: str, body: Any) -> Promotion:
    """A Promotion from a JSON request body; InvalidInputError names what is wrong."""
    if not isinstance(body, dict):
        raise InvalidInputError("the request body must be a JSON object")
    unknown = sorted(set(body) - set(PROMOTION_FIELDS))
    if unknown:
        raise InvalidInputError(
            f"unknown field {unknown[0]!r}: expected {', '.join(sorted(PROMOTION_FIELDS))}"
        )
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if value is None or value == "":
            continue
        if not isinstance(value, PROMOTION_FIELDS[key]):
            kind = "true or false" if PROMOTION_FIELDS[key] is bool else "a string"
            raise InvalidInputError(f"invalid {key}: expected {kind}")
        fields[key] = value.strip() if isinstance(value, str) else value
    return Promotion(name=name, version=parse_version(version), **fields)


def promote_version(client: MlcliClient, request: Promotion) -> dict[str, Any]:
    result = promote(client.registry(), client, request)
    return {
        "version": result.version.to_dict(),
        "changed": result.changed,
        "checks": list(result.checks),
    }


def _run_names(client: MlcliClient, run_ids: list[str]) -> dict[str, str]:
    """Names of the versions' source runs that still exist (from the index)."""
    names = {}
    for run_id in dict.fromkeys(run_ids):
        try:
            names[run_id] = client.get_run(run_id).info.run_name
        except MlcliError:
            continue
    return names
