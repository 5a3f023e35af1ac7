"""Evaluation data: a table read from CSV or Parquet, split into features and targets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlcli.errors import InvalidInputError, NotFoundError
from mlcli.models.packages import require

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def read_table(path: str | os.PathLike[str]) -> Any:
    """A DataFrame from a .csv or .parquet file."""
    pd = require("pandas", "reading evaluation data")
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"no such file: {source}")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        try:
            return pd.read_csv(source)
        except (ValueError, pd.errors.ParserError) as exc:
            raise InvalidInputError(f"{source} is not valid CSV: {_first_line(exc)}") from None
    if suffix in (".parquet", ".pq"):
        require("pyarrow", "reading Parquet files")
        return pd.read_parquet(source)
    raise InvalidInputError(f"cannot read {source}: expected a .csv or .parquet file")


def split_data(
    data: Any, targets: Any, feature_names: Sequence[str] | None = None
) -> tuple[Any, Any]:
    """``(features, targets)``: ``targets`` names a column of ``data``, or is the array
    of targets itself. A path is read as a table first."""
    pd = require("pandas", "evaluating a model")
    np = require("numpy", "evaluating a model")
    if isinstance(data, str | os.PathLike):
        data = read_table(data)
    if targets is None:
        raise InvalidInputError("evaluation needs targets: a column name or an array of labels")
    if isinstance(targets, str):
        if not isinstance(data, pd.DataFrame):
            raise InvalidInputError("a target column name needs the data as a DataFrame")
        if targets not in data.columns:
            raise InvalidInputError(
                f"no column {targets!r} in the data; its columns are: "
                + ", ".join(str(c) for c in data.columns)
            )
        features, labels = data.drop(columns=[targets]), data[targets].to_numpy()
    else:
        features, labels = data, np.asarray(targets)
    if feature_names is not None:
        missing = [n for n in feature_names if n not in getattr(features, "columns", [])]
        if missing:
            raise InvalidInputError(f"feature columns not in the data: {', '.join(missing)}")
        features = features[list(feature_names)]
    if len(features) != len(labels):
        raise InvalidInputError(f"{len(features)} rows of data but {len(labels)} targets")
    if len(labels) == 0:
        raise InvalidInputError("the evaluation data is empty")
    return features, labels


def infer_model_type(labels: Any) -> str:
    """regressor for float targets, classifier for integer, text or boolean ones."""
    kind = getattr(getattr(labels, "dtype", None), "kind", "O")
    return "regressor" if kind == "f" else "classifier"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
