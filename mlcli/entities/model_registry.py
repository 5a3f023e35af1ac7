"""MLflow's ``mlflow.entities.model_registry`` under mlcli's name: registered models
and model versions are mlcli's registry entities (``mlcli.registry.entities``), which
answer MLflow's attribute names (``current_stage``, ``creation_timestamp``,
``last_updated_timestamp``, ``latest_versions``); tags and aliases are MLflow's
key-value pairs."""

from __future__ import annotations

from dataclasses import dataclass

from mlcli.registry.entities import ModelVersion, RegisteredModel, Stage


@dataclass(frozen=True)
class RegisteredModelTag:
    key: str
    value: str


@dataclass(frozen=True)
class ModelVersionTag:
    key: str
    value: str


@dataclass(frozen=True)
class RegisteredModelAlias:
    alias: str
    version: str


__all__ = [
    "ModelVersion",
    "ModelVersionTag",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
    "Stage",
]
