"""MLflow's ``mlflow.`` system tags and mlcli's ``mlcli.`` ones, one for one.

mlcli names its system tags like MLflow's with its own prefix (``mlcli.runName``,
``mlcli.user``, ``mlcli.parentRunId``, ``mlcli.source.git.commit``, ...). What an MLflow
client sends as ``mlflow.X`` is stored as ``mlcli.X``, so that mlcli's own commands see
run names, users, parents and lineage; what the store holds as ``mlcli.X`` is shown to
MLflow clients as ``mlflow.X``. The same rule applies to every tag the server stores
(runs, experiments, registered models, versions, logged models), to tag keys in
filters and order-by clauses, and to what ``mlcli import-mlflow`` copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from mlcli.search.nodes import And, Compare, Field, Node, Not, Or, OrderKey
from mlcli.system_tags import tags_to_store, to_mlflow, to_store

__all__ = ["filter_to_store", "order_by_to_store", "tags_to_mlflow", "tags_to_store", "to_mlflow",
           "to_store"]  # fmt: skip


def tags_to_mlflow(tags: Mapping[str, str]) -> dict[str, str]:
    return {to_mlflow(k): v for k, v in tags.items()}


def filter_to_store(text: str | None) -> str | None:
    """A run filter with its tag keys renamed for the store (``tags.mlflow.parentRunId =
    '...'`` finds runs by their parent)."""
    from mlcli.search import parse_filter

    if not text or not text.strip():
        return None
    node = parse_filter(text)
    return None if node is None else str(_rename(node))


def order_by_to_store(items: Sequence[str] | None) -> list[str] | None:
    from mlcli.search import parse_order_by

    if not items:
        return None
    return [str(_rename_key(key)) for key in parse_order_by(list(items))]


def _rename(node: Node) -> Node:
    if isinstance(node, Compare):
        return replace(node, field=_rename_field(node.field))
    if isinstance(node, (And, Or)):
        return type(node)(tuple(_rename(item) for item in node.items))
    if isinstance(node, Not):
        return Not(_rename(node.item))
    return node


def _rename_key(key: OrderKey) -> OrderKey:
    return replace(key, field=_rename_field(key.field))


def _rename_field(field: Field) -> Field:
    return Field("tag", to_store(field.key)) if field.kind == "tag" else field
