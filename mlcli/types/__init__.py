"""MLflow's ``mlflow.types`` under mlcli's name: the schema classes of a model
signature (``Schema``, ``ColSpec``, ``TensorSpec``, ``ParamSchema``, ``ParamSpec``)
and ``DataType``, so that ``from mlflow.types import Schema, ColSpec`` works with only
the import changed. The classes are mlcli's (``mlcli.models.signature``); they take
MLflow's arguments (``Schema([ColSpec(DataType.double, "x")])``,
``TensorSpec(np.dtype(np.float32), (-1, 4))``). Nothing here imports numpy or pandas.
"""

from __future__ import annotations

from enum import Enum

from mlcli.models.signature import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec


class DataType(str, Enum):
    """MLflow's column types; each member is its name (``DataType.double == "double"``)."""

    boolean = "boolean"
    integer = "integer"
    long = "long"
    float = "float"
    double = "double"
    string = "string"
    binary = "binary"
    datetime = "datetime"

    def __str__(self) -> str:
        return self.value


__all__ = ["ColSpec", "DataType", "ParamSchema", "ParamSpec", "Schema", "TensorSpec"]
