"""Evaluation data: a table read from CSV or Parquet, split into features and targets."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass
class EvaluationData:
    """The features (a DataFrame), the targets and given predictions (arrays, or None)
    and the names of their columns (None when given as arrays)."""

    features: Any
    targets: Any
    predictions: Any = None
    targets_name: str | None = None
    predictions_name: str | None = None


def split_data(
    data: Any,
    targets: Any,
    feature_names: Sequence[str] | None = None,
    predictions: str | None = None,
    *,
    targets_required: bool = True,
) -> EvaluationData:
    """Split ``data`` as MLflow's ``evaluate`` does: ``targets`` names a column of a
    DataFrame, or is the array of targets for an array of features; ``predictions``
    names the column holding the model's outputs when there is no model. A path is read
    as a table first; an MLflow dataset (``mlflow.data.from_pandas(df, targets=...)``)
    brings its own column names."""
    pd = require("pandas", "evaluating a model")
    np = require("numpy", "evaluating a model")
    if isinstance(data, str | os.PathLike):
        data = read_table(data)
    if hasattr(data, "df") and hasattr(data, "targets") and not isinstance(data, pd.DataFrame):
        targets = targets if targets is not None else data.targets
        predictions = predictions or getattr(data, "predictions", None)
        data = data.df
    if data is None:
        raise InvalidInputError("evaluation needs data: a DataFrame, an array or a file")
    if targets is None and targets_required:
        raise InvalidInputError("evaluation needs targets: a column name or an array of labels")
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        array = np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        if array.ndim != 2:
            raise InvalidInputError(
                f"evaluation data of shape {array.shape}: expected rows of features"
            )
        frame = pd.DataFrame(array, columns=feature_names or _feature_names(array.shape[1]))
        feature_names = None
    targets_name = predictions_name = None
    labels = given = None
    dropped = []
    if isinstance(targets, str):
        _require_column(frame, targets, "target")
        targets_name, labels = targets, frame[targets].to_numpy()
        dropped.append(targets)
    elif targets is not None:
        labels = np.asarray(targets)
    if predictions is not None:
        if not isinstance(predictions, str):
            raise InvalidInputError("predictions names a column of the data")
        _require_column(frame, predictions, "predictions")
        predictions_name, given = predictions, frame[predictions].to_numpy()
        dropped.append(predictions)
    features = frame.drop(columns=dropped)
    if feature_names is not None:
        missing = [n for n in feature_names if n not in features.columns]
        if missing:
            raise InvalidInputError(f"feature columns not in the data: {', '.join(missing)}")
        features = features[list(feature_names)]
    if labels is not None and len(features) != len(labels):
        raise InvalidInputError(f"{len(features)} rows of data but {len(labels)} targets")
    if len(features) == 0:
        raise InvalidInputError("the evaluation data is empty")
    return EvaluationData(features, labels, given, targets_name, predictions_name)


def _require_column(frame: Any, name: str, what: str) -> None:
    if name not in frame.columns:
        raise InvalidInputError(
            f"no column {name!r} in the data (the {what}); its columns are: "
            + ", ".join(str(c) for c in frame.columns)
        )


def _feature_names(count: int) -> list[str]:
    """MLflow's names of an array's columns: feature_1, feature_2... zero-padded."""
    width = math.ceil(math.log10(count + 1))
    return [f"feature_{str(i + 1).zfill(width)}" for i in range(count)]


def infer_model_type(labels: Any) -> str:
    """regressor for float targets, classifier for integer, text or boolean ones."""
    kind = getattr(getattr(labels, "dtype", None), "kind", "O")
    return "regressor" if kind == "f" else "classifier"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
