"""MLflow's ``mlflow.types.schema``: ``from mlcli.types.schema import Schema, ColSpec,
TensorSpec`` as MLflow's documented examples write it (the same classes as
``mlcli.types``)."""

from __future__ import annotations

from mlcli.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema, TensorSpec

__all__ = ["ColSpec", "DataType", "ParamSchema", "ParamSpec", "Schema", "TensorSpec"]
