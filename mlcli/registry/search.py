"""Searches of the registry, with MLflow's filters and orderings: the one definition
``MlcliClient.search_registered_models``/``search_model_versions`` and the tracking
server's ``registered-models/search`` and ``model-versions/search`` share.

    name = 'iris' AND tags.team = 'vision'           registered models
    name = 'iris' AND run_id = '...' AND current_stage = 'Production'    versions

Prompts (registered models tagged ``mlflow.prompt.is_prompt`` = ``'true'``) are left
out unless the filter asks for them, as in MLflow (``mlcli.search.entity_filter``).
"""

from __future__ import annotations

from collections.abc import Sequence

from mlcli.registry.entities import ModelVersion, RegisteredModel
from mlcli.registry.protocol import Registry
from mlcli.search.entity_filter import EntityFilter, Record, sort_records
from mlcli.system_tags import PROMPT_IS_PROMPT

MODEL_ATTRIBUTES = {
    "name": "text",
    "creation_timestamp": "number",
    "last_updated_timestamp": "number",
}
VERSION_ATTRIBUTES = {
    "name": "text", "version_number": "number", "run_id": "text", "source_path": "text",
    "current_stage": "text", "creation_timestamp": "number", "last_updated_timestamp": "number",
}  # fmt: skip
MODEL_ORDER = {
    "name": lambda m: m.name,
    "creation_timestamp": lambda m: m.creation_time,
    "last_updated_timestamp": lambda m: m.last_update_time,
}
VERSION_ORDER = {
    "name": lambda v: v.name,
    "version_number": lambda v: v.version,
    "creation_timestamp": lambda v: v.creation_time,
    "last_updated_timestamp": lambda v: v.last_update_time,
}
_TIME_ALIASES = {"timestamp": "creation_timestamp"}


def order_clauses(order_by: Sequence[str] | None) -> list[str]:
    """MLflow's clauses, with its alias ``timestamp`` for ``creation_timestamp``."""
    clauses = []
    for clause in order_by or ():
        first, *rest = clause.split() or [""]
        clauses.append(" ".join([_TIME_ALIASES.get(first, first), *rest]))
    return clauses


def search_models(
    registry: Registry, filter_string: str | None, order_by: Sequence[str] | None
) -> list[RegisteredModel]:
    """The registered models ``filter_string`` matches, by ``order_by`` (name first)."""
    condition = EntityFilter(
        filter_string, MODEL_ATTRIBUTES, what="registered model filter", prompts=True
    )
    found = [
        m
        for m in registry.list_models()
        if condition.matches(
            Record(
                {
                    "name": m.name,
                    "creation_timestamp": m.creation_time,
                    "last_updated_timestamp": m.last_update_time,
                },
                m.tags,
            )
        )
    ]
    return sort_records(
        found, order_clauses(order_by), MODEL_ORDER, default=("name ASC",), what="order_by"
    )


def search_versions(
    registry: Registry, filter_string: str | None, order_by: Sequence[str] | None
) -> list[ModelVersion]:
    """The model versions ``filter_string`` matches, by ``order_by`` (name, then the
    newest version first)."""
    condition = EntityFilter(
        filter_string,
        VERSION_ATTRIBUTES,
        aliases={"source": "source_path", "version": "version_number"},
        what="model version filter",
        prompts=True,
    )
    models = registry.list_models()
    name = condition.equality("name")
    if name is not None:
        names = [name] if any(m.name == name for m in models) else []
    else:
        names = [m.name for m in models]
    found = []
    for n in names:
        versions = registry.list_versions(n)
        # as in MLflow, one version marked as a prompt makes every version of it one
        prompt = any(v.tags.get(PROMPT_IS_PROMPT) == "true" for v in versions)
        found += [v for v in versions if condition.matches(version_record(v, prompt))]
    return sort_records(
        found,
        order_clauses(order_by),
        VERSION_ORDER,
        default=("name ASC", "version_number DESC"),
    )


def version_record(version: ModelVersion, prompt: bool | None = None) -> Record:
    return Record(
        {
            "name": version.name,
            "version_number": version.version,
            "run_id": version.run_id,
            "source_path": version.source,
            "current_stage": version.stage,
            "creation_timestamp": version.creation_time,
            "last_updated_timestamp": version.last_update_time,
        },
        version.tags,
        prompt=prompt,
    )
